//! The client against the `intersight-sim` simulator (workspace member `sim/`): both key types
//! over HTTPS with the simulator's CA, filters evaluated by its OData engine, and every fault it
//! can inject. The binary is `$INTERSIGHT_SIM_BIN`, else `intersight-sim` beside this test's
//! target dir, built on first use (`support::sim_binary`).

use crate::support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::tokens;
use serde::Deserialize;
use support::RawObject;
use terraform_provider_intersight::intersight::{
    Cancellation, Client, ClientConfig, Endpoint, Error, Filter, HasMoid, ListQuery, Listing,
    Literal, SecretKey,
};
use tokens::{IamOAuthToken, ListTyped as _};

/// A token with its owner and tags, which the simulator's filters are checked against.
#[derive(Debug, Deserialize)]
struct OwnedToken {
    #[serde(flatten)]
    token: IamOAuthToken,
    #[serde(rename = "User", default)]
    user: Option<MoRef>,
    #[serde(rename = "Tags", default)]
    tags: Option<Vec<Tag>>,
}

impl HasMoid for OwnedToken {
    fn moid(&self) -> &str {
        self.token.moid()
    }
}

/// A reference to another object.
#[derive(Debug, Deserialize)]
struct MoRef {
    #[serde(rename = "Moid", default)]
    moid: Option<String>,
}

/// A key/value tag.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Tag {
    #[serde(rename = "Key", default)]
    key: Option<String>,
    #[serde(rename = "Value", default)]
    value: Option<String>,
}

fn sim_binary() -> PathBuf {
    match std::env::var("INTERSIGHT_SIM_BIN") {
        Ok(path) => PathBuf::from(path),
        Err(_) => support::sim_binary(),
    }
}

struct Sim {
    child: Child,
    ready: serde_json::Value,
    _dir: tempfile::TempDir,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(args: &[&str]) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let ready_file = dir.path().join("ready.json");
    let state = dir.path().join("state");
    let child = Command::new(sim_binary())
        .args([
            "--ready-file",
            ready_file.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ])
        .args(["--stop-after", "120"])
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Owned by `Sim` at once, so the process is killed and reaped on every path.
    let mut sim = Sim {
        child,
        ready: serde_json::Value::Null,
        _dir: dir,
    };
    for _ in 0..400 {
        if let Ok(text) = std::fs::read_to_string(&ready_file) {
            if text.ends_with('\n') {
                sim.ready = serde_json::from_str(&text).unwrap();
                return sim;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the simulator did not become ready");
}

impl Sim {
    fn config(&self, kind: &str) -> ClientConfig {
        let r = &self.ready;
        let mut config = ClientConfig::new(
            Endpoint::parse(r["endpoint"].as_str().unwrap()).unwrap(),
            r[kind]["key_id"].as_str().unwrap().into(),
            SecretKey::from_pem_or_path(r[kind]["key_path"].as_str().unwrap()).unwrap(),
        );
        config.tls.ca_certificate = r["ca_path"].as_str().map(str::to_string);
        config
    }
}

async fn list(client: &Client, filter: Option<Filter>) -> Result<Listing<OwnedToken>, Error> {
    let q = ListQuery {
        filter,
        ..ListQuery::new("iam/OAuthTokens")
    };
    client.list(&q, &Cancellation::new()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn both_key_types_over_https_with_filters() {
    let sim = start(&["--tokens", "2345"]).await;
    for kind in ["rsa", "ec"] {
        let mut config = sim.config(kind);
        config.page_size = 100;
        let client = Client::new(config).unwrap();
        let all = list(&client, None).await.unwrap();
        assert_eq!(all.items.len(), 2345, "{kind}");
        assert_eq!(all.stats.requests, 24);
        let moids: Vec<&str> = all
            .items
            .iter()
            .map(|t| t.token.moid.as_deref().unwrap())
            .collect();
        assert!(
            moids.windows(2).all(|w| w[0] < w[1]),
            "ordered by Moid, unique"
        );

        let user = all.items[0].user.as_ref().unwrap().moid.clone().unwrap();
        let owned_by_user =
            |t: &OwnedToken| t.user.as_ref().and_then(|u| u.moid.as_deref()) == Some(&*user);
        let by_user = Filter::eq("User.Moid", Literal::string(user.as_str())).unwrap();
        assert_finds(&client, &all.items, by_user, owned_by_user).await;

        // The user's own client name finds its tokens, so the hostile name's empty answer is
        // its quote kept inside the string, not a filter on `ClientName` that never matches.
        let by_user_and_name = |name: &str| {
            Filter::and([
                Filter::eq("User.Moid", Literal::string(user.as_str())).unwrap(),
                Filter::eq("ClientName", Literal::string(name)).unwrap(),
            ])
        };
        let name = all.items[0].token.client_name.clone().unwrap();
        assert_finds(&client, &all.items, by_user_and_name(&name), |t| {
            owned_by_user(t) && t.token.client_name.as_deref() == Some(&*name)
        })
        .await;
        let hostile = by_user_and_name("x') or (1 eq 1");
        assert_eq!(list(&client, Some(hostile)).await.unwrap().items.len(), 0);

        let tag = all
            .items
            .iter()
            .find_map(|t| t.tags.as_ref().and_then(|t| t.first()).cloned())
            .unwrap();
        let by_tag = Filter::any(
            "Tags",
            Filter::and([
                Filter::eq("Key", Literal::string(tag.key.as_deref().unwrap())).unwrap(),
                Filter::eq("Value", Literal::string(tag.value.as_deref().unwrap())).unwrap(),
            ]),
        )
        .unwrap();
        assert_finds(&client, &all.items, by_tag, |t| {
            t.tags.iter().flatten().any(|x| *x == tag)
        })
        .await;
    }
}

/// `filter` lists exactly the tokens of `all` that `wanted` picks, and at least one.
async fn assert_finds(
    client: &Client,
    all: &[OwnedToken],
    filter: Filter,
    wanted: impl Fn(&OwnedToken) -> bool,
) {
    let expected: Vec<&str> = all.iter().filter(|t| wanted(t)).map(|t| t.moid()).collect();
    let found = list(client, Some(filter)).await.unwrap();
    let found: Vec<&str> = found.items.iter().map(|t| t.moid()).collect();
    assert!(!expected.is_empty());
    assert_eq!(found, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_injected_fault() {
    async fn run(faults: &str) -> Result<Listing<OwnedToken>, Error> {
        let sim = start(&["--tokens", "950", "--plain-http", "--faults", faults]).await;
        let mut config = sim.config("ec");
        config.page_size = 100;
        config.request_timeout = Duration::from_secs(2);
        config.backoff.max_retry_after = Duration::from_millis(1500);
        list(&Client::new(config).unwrap(), None).await
    }
    for faults in [
        r#"{"status_burst":{"count":2,"status":429,"retry_after":1}}"#,
        r#"{"status_burst":{"count":2,"status":503,"retry_after":1,"retry_after_http_date":true}}"#,
        r#"{"reset_before_headers":{"count":2,"after":3}}"#,
        r#"{"reset_mid_body":{"count":2,"after":3}}"#,
        r#"{"truncated_body":{"count":2,"after":3}}"#,
    ] {
        let l = run(faults).await.unwrap();
        assert_eq!((l.items.len(), l.stats.retries), (950, 2), "{faults}");
    }
    let l = run(r#"{"slow":{"count":1,"after":2,"delay_ms":5000}}"#)
        .await
        .unwrap();
    assert_eq!((l.items.len(), l.stats.retries), (950, 1));
    let l = run(r#"{"mutate_between_pages":{"insert":3}}"#)
        .await
        .unwrap();
    assert_eq!((l.items.len(), l.stats.rereads), (953, 1));
    let l = run(r#"{"mutate_between_pages":{"delete":2}}"#)
        .await
        .unwrap();
    assert_eq!((l.items.len(), l.stats.rereads), (948, 1));
    for faults in [r#"{"duplicate_across_pages":true}"#, r#"{"count_delta":1}"#] {
        let err = run(faults).await.unwrap_err();
        assert!(
            matches!(err, Error::Inconsistent { attempts: 3, .. }),
            "{faults}: {err}"
        );
    }
    assert!(matches!(
        run(r#"{"invalid_json":{"count":1}}"#).await.unwrap_err(),
        Error::Decode { .. }
    ));
    assert_eq!(
        run(r#"{"status_burst":{"count":1,"status":400}}"#)
            .await
            .unwrap_err()
            .status(),
        Some(400)
    );
}

/// `$select` end to end: the client sends the names and `Moid`; the simulator, like the service,
/// returns only those plus `ClassId` and `ObjectType`; paging still checks and orders by Moid.
#[tokio::test(flavor = "multi_thread")]
async fn select_returns_only_the_named_properties() {
    let sim = start(&["--tokens", "250", "--plain-http"]).await;
    let mut config = sim.config("ec");
    config.page_size = 100;
    let client = Client::new(config).unwrap();
    let query = ListQuery {
        select: Some(vec!["ClientName".into(), "User".into()]),
        ..ListQuery::new("iam/OAuthTokens")
    };
    let selected = client
        .list::<RawObject>(&query, &Cancellation::new())
        .await
        .unwrap();
    let all = client
        .list::<RawObject>(&ListQuery::new("iam/OAuthTokens"), &Cancellation::new())
        .await
        .unwrap();
    assert_eq!(selected.items.len(), 250);
    assert_eq!(selected.stats.pages, all.stats.pages);
    let allowed = ["ClassId", "ObjectType", "Moid", "ClientName", "User"];
    for (object, full) in selected.items.iter().zip(&all.items) {
        assert!(
            object.0.keys().all(|k| allowed.contains(&k.as_str())),
            "{:?}",
            object.0.keys()
        );
        assert_eq!(object.0.get("Moid"), full.0.get("Moid"));
        assert_eq!(object.0.get("ClientName"), full.0.get("ClientName"));
        assert_eq!(object.0.get("User"), full.0.get("User"));
    }
    assert!(all.items[0].0.len() > allowed.len());
}

/// A `Count` the pages cannot add up to (10^12, with the service's page limit at 2 objects):
/// one request, then an error; and a page of millions of tiny objects is refused at `$top`.
#[tokio::test(flavor = "multi_thread")]
async fn a_lying_count_and_a_flood_page_end_in_errors() {
    let sim = start(&[
        "--tokens",
        "50",
        "--plain-http",
        "--faults",
        r#"{"count_delta":1000000000000,"page_cap":2}"#,
    ])
    .await;
    let err = client_list(&sim).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooManyPages {
                count: Some(1_000_000_000_050),
                page_len: 2,
                ..
            }
        ),
        "{err}"
    );
    let sim = start(&[
        "--tokens",
        "50",
        "--plain-http",
        "--faults",
        r#"{"flood_page":{"bytes":1000000}}"#,
    ])
    .await;
    let err = client_list(&sim).await.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { detail, .. } if detail.contains("more than the 100 objects")),
        "{err}"
    );
}

async fn client_list(sim: &Sim) -> Result<Listing<OwnedToken>, Error> {
    let mut config = sim.config("ec");
    config.page_size = 100;
    config.max_retries = 0;
    list(&Client::new(config).unwrap(), None).await
}
