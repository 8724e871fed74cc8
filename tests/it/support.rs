//! Shared test support: starting the simulator (`intersight-sim`) and building provider
//! configurations.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use serde::Deserialize;
use terraform_provider_intersight::cty::{Diagnostic, Diagnostics, Severity, Value};
use terraform_provider_intersight::intersight::HasMoid;
use terraform_provider_intersight::provider::api::ConfigureProviderRequest;
use terraform_provider_intersight::provider::schema::{Block, Nesting};
use terraform_provider_intersight::provider::Provider;

/// The data source under test.
pub(crate) const DS: &str = "intersight_iam_o_auth_token";

/// An object with every property the server sent, for tests that look at the shape of pages or
/// only count objects (listed with `tokens::ListTyped`).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct RawObject(pub(crate) serde_json::Map<String, serde_json::Value>);

impl HasMoid for RawObject {
    fn moid(&self) -> &str {
        self.0.get("Moid").and_then(|m| m.as_str()).unwrap_or("")
    }
}

/// The one error diagnostic of a read that failed: it gave no state (no partial list) and
/// exactly one error.
pub(crate) fn the_one_error<'a>(
    state: &Option<Value>,
    diagnostics: &'a Diagnostics,
) -> &'a Diagnostic {
    assert!(
        state.is_none(),
        "an error must come without state (no partial list)"
    );
    let errors: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one error diagnostic, got {diagnostics:?}"
    );
    errors[0]
}

/// A provider configured with `config`; the configuration itself must not fail.
pub(crate) fn configure_ok(config: Value) -> (Provider, Diagnostics) {
    configure_provider_ok(Provider::new(), config)
}

/// `provider` configured with `config`; the configuration itself must not fail.
pub(crate) fn configure_provider_ok(provider: Provider, config: Value) -> (Provider, Diagnostics) {
    let response = provider.configure_provider(ConfigureProviderRequest {
        terraform_version: "1.15.5".into(),
        config,
    });
    assert!(
        !response.diagnostics.has_errors(),
        "{:?}",
        response.diagnostics
    );
    (provider, response.diagnostics)
}

/// The data source's configuration with every argument and block unset.
pub(crate) fn ds_config() -> Value {
    let schema = Provider::new().data_source_schema(DS).expect("schema");
    empty_config(&schema.block)
}

/// The `moid` of each result, in order.
pub(crate) fn moids(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| {
            r.get_attr("moid")
                .and_then(Value::as_str)
                .expect("moid")
                .to_string()
        })
        .collect()
}

/// A read's state with its pre-encoded `results` decoded, so tests can look inside.
pub(crate) fn expanded_state(state: &Value) -> Value {
    let ty = Provider::new()
        .data_source_schema(DS)
        .expect("schema")
        .block
        .value_type();
    state.expanded(&ty).expect("results decode as their type")
}

/// A running simulator, killed on drop.
pub(crate) struct Sim {
    child: Child,
    pub(crate) ready: serde_json::Value,
    pub(crate) endpoint: String,
    _dir: tempfile::TempDir,
}

static BUILD: Mutex<bool> = Mutex::new(false);

/// The simulator binary next to this test binary's target dir, built (or found up to date) on
/// first use. It is built with the same package and target selection as `scripts/test`'s build
/// step, so cargo's feature unification matches and no second copy of the dependency tree is
/// compiled (that copy once filled a CI machine's disk).
pub(crate) fn sim_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/intersight-sim
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir");
    let bin = profile_dir.join("intersight-sim");
    let mut built = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !*built {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "--workspace", "--all-targets"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build for intersight-sim");
        assert!(status.success(), "building intersight-sim failed");
        *built = true;
    }
    bin
}

impl Sim {
    /// Starts the simulator with `args` (e.g. `["--tokens", "50", "--plain-http"]`).
    pub(crate) fn start(args: &[&str]) -> Sim {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(sim_binary())
            .args(args)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(["--json-ready", "--stop-after", "600"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start intersight-sim");
        let stdout = child.stdout.take().expect("sim stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("read sim ready line");
        // Keep draining stdout so the simulator never blocks or fails writing to it.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("sim ready line {line:?} is not JSON: {e}"));
        let endpoint = ready["endpoint"].as_str().expect("endpoint").to_string();
        Sim {
            child,
            ready,
            endpoint,
            _dir: dir,
        }
    }

    pub(crate) fn key_id(&self, kind: &str) -> String {
        self.ready[kind]["key_id"]
            .as_str()
            .expect("key id")
            .to_string()
    }

    pub(crate) fn key_path(&self, kind: &str) -> String {
        self.ready[kind]["key_path"]
            .as_str()
            .expect("key path")
            .to_string()
    }

    pub(crate) fn ca_path(&self) -> Option<String> {
        self.ready["ca_path"].as_str().map(str::to_string)
    }

    fn control_url(&self, path: &str) -> String {
        format!("{}/_sim/{path}", self.endpoint)
    }

    /// The simulator's control endpoints are unsigned; its certificate is self-signed.
    fn control_client() -> reqwest::Client {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .no_proxy()
            .build()
            .expect("control client")
    }

    /// `GET /_sim/dataset`: every object the simulator holds.
    pub(crate) async fn dataset(&self) -> Vec<serde_json::Value> {
        let body = Self::control_client()
            .get(self.control_url("dataset"))
            .send()
            .await
            .expect("GET /_sim/dataset")
            .text()
            .await
            .expect("dataset body");
        serde_json::from_str(&body).expect("dataset JSON")
    }

    /// `GET /_sim/stats`.
    pub(crate) async fn stats(&self) -> serde_json::Value {
        let body = Self::control_client()
            .get(self.control_url("stats"))
            .send()
            .await
            .expect("GET /_sim/stats")
            .text()
            .await
            .expect("stats body");
        serde_json::from_str(&body).expect("stats JSON")
    }

    /// `PUT /_sim/faults` with `faults`.
    pub(crate) async fn set_faults(&self, faults: serde_json::Value) {
        let response = Self::control_client()
            .put(self.control_url("faults"))
            .body(faults.to_string())
            .send()
            .await
            .expect("PUT /_sim/faults");
        assert!(
            response.status().is_success(),
            "PUT /_sim/faults: {}",
            response.status()
        );
    }

    /// `PUT /_sim/oauth` with `config` (the token endpoint's settings).
    pub(crate) async fn set_oauth(&self, config: serde_json::Value) {
        let response = Self::control_client()
            .put(self.control_url("oauth"))
            .body(config.to_string())
            .send()
            .await
            .expect("PUT /_sim/oauth");
        assert!(
            response.status().is_success(),
            "PUT /_sim/oauth: {}",
            response.status()
        );
    }

    /// The OAuth client id and secret the simulator registered.
    pub(crate) fn oauth(&self) -> (String, String) {
        let o = &self.ready["oauth"];
        (
            o["client_id"].as_str().expect("client_id").to_string(),
            o["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_string(),
        )
    }

    /// `POST /_sim/reset`: stats and faults back to their start.
    pub(crate) async fn reset(&self) {
        Self::control_client()
            .post(self.control_url("reset"))
            .send()
            .await
            .expect("POST /_sim/reset");
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An object value of `block`'s type with every attribute null and every nested block empty:
/// what Terraform sends for an empty block. Tests then set what they need.
pub(crate) fn empty_config(block: &Block) -> Value {
    let mut attrs = BTreeMap::new();
    for a in &block.attributes {
        attrs.insert(a.name.clone(), Value::Null);
    }
    for b in &block.block_types {
        let empty = match b.nesting {
            Nesting::Single | Nesting::Group => Value::Null,
            _ => Value::List(Vec::new()),
        };
        attrs.insert(b.type_name.clone(), empty);
    }
    Value::Object(attrs)
}

/// Sets `name` on an object value.
pub(crate) fn with(mut value: Value, name: &str, v: Value) -> Value {
    if let Value::Object(m) = &mut value {
        m.insert(name.to_string(), v);
    }
    value
}
