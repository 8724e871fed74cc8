//! OAuth client credentials against the simulator (`POST /iam/token`, Bearer tokens on the API):
//! tokens that expire mid-read with parallel pages, tokens revoked after N uses, a wrong secret,
//! the token endpoint failing then answering, 429 with `Retry-After`, and one token request per
//! provider instance for two data sources read at once. Counts come from the simulator's stats.

use crate::support;

use crate::tokens;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{configure_ok, ds_config, empty_config, with, RawObject, Sim};
use terraform_provider_intersight::cty::{Number, Value};
use terraform_provider_intersight::intersight::{
    Cancellation, Client, ClientConfig, ClientCredentials, Credentials, Endpoint, Error, ListQuery,
};
use terraform_provider_intersight::provider::api::ReadDataSourceRequest;
use terraform_provider_intersight::provider::Provider;
use tokens::ListTyped as _;

fn oauth_config(sim: &Sim, secret: Option<&str>) -> ClientConfig {
    let (id, real) = sim.oauth();
    let mut config = ClientConfig::with_credentials(
        Endpoint::parse(&sim.endpoint).unwrap(),
        Credentials::OAuth(ClientCredentials::new(id, secret.unwrap_or(&real))),
    );
    config.tls.ca_certificate = sim.ca_path();
    config
}

async fn read_all(client: &Client) -> Result<usize, Error> {
    client
        .list::<RawObject>(&ListQuery::new("iam/OAuthTokens"), &Cancellation::new())
        .await
        .map(|l| l.items.len())
}

fn stat(stats: &serde_json::Value, name: &str) -> u64 {
    stats[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in {stats}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_that_expire_mid_read_are_renewed_a_handful_of_times_not_per_request() {
    // 4000 objects in pages of 100, four at a time, 500 ms each: a read of about 5 s, with
    // tokens that live 2 s.
    let sim = Sim::start(&["--tokens", "4000", "--plain-http", "--token-lifetime", "2"]);
    let mut config = oauth_config(&sim, None);
    config.page_size = 100;
    config.parallelism = 4;
    let client = Client::new(config).unwrap();
    sim.set_faults(json!({"latency_ms": 500})).await;
    let started = Instant::now();
    assert_eq!(read_all(&client).await.unwrap(), 4000);
    let elapsed = started.elapsed();
    let stats = sim.stats().await;
    let issued = stat(&stats, "tokens_issued");
    println!(
        "5 s read with 2 s tokens: {:.1} s, {} API requests, {issued} tokens, {} token requests, \
         {} bearer 401s",
        elapsed.as_secs_f64(),
        stat(&stats, "requests"),
        stat(&stats, "token_requests"),
        stat(&stats, "bearer_failures")
    );
    assert!(elapsed >= Duration::from_secs(4), "{elapsed:?}");
    // Renewed at 1.6 s: about one token per 1.6 s of reading, never one per request.
    assert!((2..=6).contains(&issued), "{issued} tokens: {stats}");
    assert_eq!(stat(&stats, "max_token_requests_in_flight"), 1, "{stats}");
    assert_eq!(client.token_counts(), Some((issued, issued)));
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_revoked_mid_read_are_replaced_and_the_read_completes() {
    let sim = Sim::start(&[
        "--tokens",
        "2500",
        "--plain-http",
        "--revoke-after-uses",
        "20",
    ]);
    // About 105 pages, so five or more revocations. A request meeting a revoked token repeats
    // once with the new one; the new token must outlive every request already in flight (at
    // most `parallelism`), or a request starved of CPU could meet a second revocation and fail
    // as the API refusing it: 20 uses leave a wide margin over 4 in flight.
    let mut config = oauth_config(&sim, None);
    config.page_size = 25;
    config.parallelism = 4;
    config.max_retries = 0;
    let client = Client::new(config).unwrap();
    sim.set_faults(json!({"latency_ms": 20})).await;
    assert_eq!(read_all(&client).await.unwrap(), 2500);
    let stats = sim.stats().await;
    assert!(stat(&stats, "tokens_revoked") >= 3, "{stats}");
    assert!(stat(&stats, "tokens_issued") >= 4, "{stats}");
    // Parallel pages that meet the same revoked token share one new token.
    assert_eq!(stat(&stats, "max_token_requests_in_flight"), 1, "{stats}");
    assert!(
        stat(&stats, "token_requests") <= stat(&stats, "tokens_revoked") + 1,
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_one_refusal_never_retried_nor_repeated() {
    let sim = Sim::start(&["--tokens", "10", "--plain-http"]);
    let client = Client::new(oauth_config(&sim, Some("wrong secret"))).unwrap();
    for _ in 0..3 {
        let err = read_all(&client).await.unwrap_err();
        assert!(
            matches!(&err, Error::TokenRefused { status: 401, error: Some(error), client_id, .. }
                if error == "invalid_client" && *client_id == sim.oauth().0),
            "{err:?}"
        );
        assert!(!err.to_string().contains(&sim.oauth().1));
    }
    let stats = sim.stats().await;
    assert_eq!(stat(&stats, "token_requests"), 1, "{stats}");
    assert_eq!(stat(&stats, "requests"), 0, "no API request: {stats}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_failing_with_500_then_answering_is_retried() {
    let sim = Sim::start(&["--tokens", "10", "--plain-http"]);
    sim.set_oauth(json!({"status_burst": {"count": 2, "status": 500}}))
        .await;
    let mut config = oauth_config(&sim, None);
    config.backoff.base = Duration::from_millis(10);
    let client = Client::new(config).unwrap();
    assert_eq!(read_all(&client).await.unwrap(), 10);
    let stats = sim.stats().await;
    assert_eq!(stat(&stats, "token_requests"), 3, "{stats}");
    assert_eq!(stat(&stats, "tokens_issued"), 1, "{stats}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_with_retry_after_is_honoured() {
    let sim = Sim::start(&["--tokens", "10", "--plain-http"]);
    sim.set_oauth(json!({"status_burst": {"count": 1, "status": 429, "retry_after": 1}}))
        .await;
    let mut config = oauth_config(&sim, None);
    config.backoff.base = Duration::from_millis(1);
    let client = Client::new(config).unwrap();
    let started = Instant::now();
    assert_eq!(read_all(&client).await.unwrap(), 10);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stat(&sim.stats().await, "token_requests"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn over_https_and_by_the_provider_two_data_sources_share_one_token_request() {
    let sim = Sim::start(&["--tokens", "1500"]);
    let (id, secret) = sim.oauth();
    let mut config = empty_config(&Provider::new().get_provider_schema().provider.block);
    config = with(config, "client_id", Value::string(&id));
    // Spaces and line breaks around the secret are ignored (docs/index.md).
    config = with(
        config,
        "client_secret",
        Value::string(format!(" {secret}\n")),
    );
    config = with(config, "endpoint", Value::string(&sim.endpoint));
    config = with(
        config,
        "ca_certificate",
        Value::string(sim.ca_path().expect("https")),
    );
    config = with(config, "page_size", Value::Number(Number::Int(100)));
    let (provider, diags) = configure_ok(config);
    assert!(diags.is_empty(), "{diags:?}");
    let read = || {
        provider.read_data_source(ReadDataSourceRequest {
            type_name: support::DS.into(),
            config: ds_config(),
        })
    };
    let (a, b) = tokio::join!(read(), read());
    for r in [&a, &b] {
        assert!(!r.diagnostics.has_errors(), "{:?}", r.diagnostics);
    }
    let stats = sim.stats().await;
    assert_eq!(stat(&stats, "token_requests"), 1, "{stats}");
    assert_eq!(stat(&stats, "auth_failures"), 0, "{stats}");
    println!(
        "token requests for two data sources: {}",
        stat(&stats, "token_requests")
    );
}

/// BENCHMARKS.md, "Bearer tokens against request signing": a 10,000-token read with each, in
/// one run, interleaved; prints the medians. `cargo test --test it -- --ignored --nocapture
/// oauth_sim::bearer_against_signing` (add `--release` for release numbers).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run by hand, see BENCHMARKS.md"]
async fn bearer_against_signing() {
    let sim = Sim::start(&["--tokens", "10000", "--plain-http"]);
    let mut signed = ClientConfig::new(
        Endpoint::parse(&sim.endpoint).unwrap(),
        sim.key_id("rsa"),
        terraform_provider_intersight::intersight::SecretKey::from_pem_or_path(
            &sim.key_path("rsa"),
        )
        .unwrap(),
    );
    signed.tls.ca_certificate = sim.ca_path();
    let kinds = [
        ("signature (RSA)", Client::new(signed).unwrap()),
        ("bearer", Client::new(oauth_config(&sim, None)).unwrap()),
    ];
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    for round in 0..=rounds {
        for (i, (_, client)) in kinds.iter().enumerate() {
            let started = Instant::now();
            assert_eq!(read_all(client).await.unwrap(), 10_000);
            // Round 0 warms connections and the token up.
            if round > 0 {
                times[i].push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    for ((name, _), t) in kinds.iter().zip(&mut times) {
        t.sort_by(f64::total_cmp);
        println!(
            "{name}: median {:.0} ms over {} reads (min {:.0}, max {:.0})",
            t[t.len() / 2],
            t.len(),
            t[0],
            t[t.len() - 1]
        );
    }
    let stats = sim.stats().await;
    println!("token requests: {}", stat(&stats, "token_requests"));
}

/// A hostile token endpoint (the simulator's `raw_answer`): every answer ends in one clear
/// error after one token request, without a request to the API, and the token it sent is never
/// quoted.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_token_answers_fail_once_and_never_quote_the_token() {
    let sim = Sim::start(&["--tokens", "10", "--plain-http"]);
    let huge = format!(
        r#"{{"access_token":"{}","token_type":"Bearer"}}"#,
        "A".repeat(70_000)
    );
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({"body": "{", "repeat": 1_000_000}), "larger than"),
        // Cut short: retried like a cut page (1 + max_retries 5 requests), then final.
        (
            json!({"body": "{\"access_token\": [1,2"}),
            "ends early (truncated?)",
        ),
        (json!({"body": huge}), "larger than"),
        (
            json!({"body": r#"{"access_token":"HOSTILE\u001b]8;;x\u0007","token_type":"Bearer"}"#}),
            "cannot hold",
        ),
        (
            json!({"body": r#"{"access_token":"HOSTILETOKEN","token_type":"Bearer","expires_in":-1}"#}),
            "at least 1 s",
        ),
        (
            json!({"body": r#"{"access_token":"HOSTILETOKEN","token_type":"Bearer","expires_in":0}"#}),
            "at least 1 s",
        ),
        (
            json!({"body": r#"{"access_token":"HOSTILETOKEN","token_type":"N_A"}"#}),
            "not Bearer",
        ),
        (
            json!({"status": 302, "location": "http://127.0.0.1:9/steal"}),
            "which is not followed",
        ),
        (
            json!({"status": 307, "location": "https://evil.invalid/iam/token"}),
            "which is not followed",
        ),
    ];
    for (answer, expected) in cases {
        sim.reset().await;
        sim.set_oauth(json!({ "raw_answer": answer })).await;
        let client = Client::new(oauth_config(&sim, None)).unwrap();
        for _ in 0..2 {
            let err = read_all(&client).await.unwrap_err().to_string();
            assert!(err.contains(expected), "{answer}: {err}");
            assert!(!err.contains("HOSTILE"), "{answer}: {err}");
            assert!(err.len() < 1000, "{answer}: {err}");
        }
        let stats = sim.stats().await;
        let sent = if expected.contains("truncated") { 6 } else { 1 };
        assert_eq!(stat(&stats, "token_requests"), sent, "{answer}: {stats}");
        assert_eq!(stat(&stats, "requests"), 0, "{answer}: {stats}");
    }
    // An endless lifetime is a day; a slow answer is within request_timeout.
    sim.reset().await;
    sim.set_oauth(json!({"raw_answer": {"delay_ms": 1500, "body": "{\"access_token\":\"t0k\",\"token_type\":\"bearer\",\"expires_in\":1e308}"}}))
        .await;
    let mut config = oauth_config(&sim, None);
    config.request_timeout = Duration::from_secs(1);
    config.max_retries = 1;
    let client = Client::new(config).unwrap();
    let err = read_all(&client).await.unwrap_err();
    assert!(
        matches!(&err, Error::TokenRequest(inner) if matches!(**inner, Error::Timeout { .. })),
        "{err:?}"
    );
    assert_eq!(stat(&sim.stats().await, "token_requests"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_that_refuses_every_token_costs_one_new_token_and_no_request_once_known() {
    // Every Bearer token is refused at its first use; the token endpoint keeps issuing.
    let sim = Sim::start(&["--tokens", "10", "--plain-http", "--revoke-after-uses", "0"]);
    let client = Client::new(oauth_config(&sim, None)).unwrap();
    // Sixteen reads at once: token 1 refused, one new token shared, its refusal ends them all.
    let reads = futures::future::join_all((0..16).map(|_| read_all(&client))).await;
    for read in &reads {
        let err = read.as_ref().unwrap_err();
        assert_eq!(err.status(), Some(401), "{err}");
    }
    let stats = sim.stats().await;
    assert_eq!(stat(&stats, "token_requests"), 2, "{stats}");
    let api = stat(&stats, "requests");
    assert!(api <= 32, "{stats}");
    // Reads that start once the rejection is known send nothing.
    for _ in 0..4 {
        assert_eq!(read_all(&client).await.unwrap_err().status(), Some(401));
    }
    let stats = sim.stats().await;
    assert_eq!(stat(&stats, "token_requests"), 2, "{stats}");
    assert_eq!(stat(&stats, "requests"), api, "{stats}");
}
