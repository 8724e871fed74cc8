//! The harness of the fault matrix: a simulator started with faults, provider settings,
//! one read and its outcome, and the two outcome checks (complete or failed).

use crate::support;
use serde_json::Value as Json;
use std::time::{Duration, Instant};
use support::{configure_ok, ds_config, empty_config, expanded_state, moids, with, Sim, DS};
use terraform_provider_intersight::cty::{Diagnostic, Diagnostics, Number, Value};
use terraform_provider_intersight::provider::api::ReadDataSourceRequest;
use terraform_provider_intersight::provider::Provider;

pub(super) const RESOURCE: &str = "iam/OAuthTokens";

/// The simulator, over TLS (`tls`) or plain HTTP, with `faults` set from the start.
pub(super) fn start(tokens: usize, tls: bool, faults: Json) -> Sim {
    start_seeded(tokens, 4242, tls, faults)
}

pub(super) fn start_seeded(tokens: usize, seed: u64, tls: bool, faults: Json) -> Sim {
    let tokens = tokens.to_string();
    let seed = seed.to_string();
    let faults = faults.to_string();
    let mut args = vec!["--tokens", &tokens, "--seed", &seed, "--faults", &faults];
    if !tls {
        args.push("--plain-http");
    }
    Sim::start(&args)
}

pub(super) fn int(n: i64) -> Value {
    Value::Number(Number::Int(n))
}

/// Provider settings on top of the defaults used here (`page_size` 100, `request_timeout` 2).
#[derive(Clone)]
pub(super) struct Settings(Vec<(&'static str, Value)>);

impl Settings {
    pub(super) fn small() -> Settings {
        Settings(vec![("page_size", int(100)), ("request_timeout", int(2))])
    }

    pub(super) fn set(mut self, name: &'static str, value: Value) -> Settings {
        self.0.retain(|(n, _)| *n != name);
        self.0.push((name, value));
        self
    }
}

pub(super) fn provider_config(provider: &Provider, sim: &Sim, settings: &Settings) -> Value {
    let schema = provider.get_provider_schema().provider;
    let mut config = empty_config(&schema.block);
    config = with(config, "apikey", Value::string(sim.key_id("rsa")));
    config = with(config, "secretkey", Value::string(sim.key_path("rsa")));
    config = with(config, "endpoint", Value::string(&sim.endpoint));
    if let Some(ca) = sim.ca_path() {
        config = with(config, "ca_certificate", Value::string(ca));
    }
    for (name, value) in &settings.0 {
        config = with(config, name, value.clone());
    }
    config
}

/// A provider configured for `sim`; the configuration itself must not fail.
pub(super) fn configured(sim: &Sim, settings: &Settings) -> (Provider, Diagnostics) {
    configure_ok(provider_config(&Provider::new(), sim, settings))
}

pub(super) struct Outcome {
    pub(super) state: Option<Value>,
    pub(super) diagnostics: Diagnostics,
    pub(super) elapsed: Duration,
}

pub(super) async fn read_with(provider: &Provider, config: Value) -> Outcome {
    let started = Instant::now();
    let response = provider
        .read_data_source(ReadDataSourceRequest {
            type_name: DS.into(),
            config,
        })
        .await;
    Outcome {
        state: response.state.as_ref().map(expanded_state),
        diagnostics: response.diagnostics,
        elapsed: started.elapsed(),
    }
}

/// Configures a provider with `settings` and reads the data source without arguments.
pub(super) async fn read(sim: &Sim, settings: &Settings) -> Outcome {
    let (provider, _) = configured(sim, settings);
    read_with(&provider, ds_config()).await
}

pub(super) fn result_moids(state: &Value) -> Vec<String> {
    moids(
        state
            .get_attr("results")
            .and_then(Value::as_elements)
            .expect("results"),
    )
}

/// The simulator's dataset now, as the Moid-ordered list a complete read returns.
pub(super) async fn dataset_moids(sim: &Sim) -> Vec<String> {
    let mut m: Vec<String> = sim
        .dataset()
        .await
        .iter()
        .map(|o| o["Moid"].as_str().expect("Moid").to_string())
        .collect();
    m.sort();
    m
}

/// The read succeeded with every object of the simulator's current dataset, in Moid order.
pub(super) async fn assert_complete(sim: &Sim, outcome: &Outcome) -> Vec<String> {
    assert!(
        !outcome.diagnostics.has_errors(),
        "expected complete results, got {:?}",
        outcome.diagnostics
    );
    let state = outcome.state.as_ref().expect("a state without errors");
    assert!(state.is_wholly_known());
    let got = result_moids(state);
    let want = dataset_moids(sim).await;
    assert_eq!(got.len(), want.len(), "count");
    assert_eq!(got, want, "Moids, in Moid order");
    got
}

/// The read failed: no state, exactly one error diagnostic, and its summary plus detail contain
/// every word of `words` (case-insensitive). Returns the diagnostic.
pub(super) fn assert_failed<'a>(outcome: &'a Outcome, words: &[&str]) -> &'a Diagnostic {
    let error = support::the_one_error(&outcome.state, &outcome.diagnostics);
    let text = format!("{}\n{}", error.summary, error.detail).to_lowercase();
    for word in words {
        assert!(
            text.contains(&word.to_lowercase()),
            "the diagnostic does not mention {word:?}:\n{}\n{}",
            error.summary,
            error.detail
        );
    }
    error
}

/// `by_status` of `GET /_sim/stats`: how many API answers had `status` ("reset" for resets).
pub(super) async fn answered(sim: &Sim, status: &str) -> u64 {
    sim.stats().await["by_status"][status].as_u64().unwrap_or(0)
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outcome")
            .field(
                "results",
                &self.state.as_ref().map(|s| result_moids(s).len()),
            )
            .field("diagnostics", &self.diagnostics)
            .field("elapsed", &self.elapsed)
            .finish()
    }
}
