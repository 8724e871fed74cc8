//! Proxies come from the environment map given in `ClientConfig::proxy` (HTTP_PROXY,
//! HTTPS_PROXY, ALL_PROXY, NO_PROXY and their lower-case forms), never from the process
//! environment behind the caller's back, so these tests need not touch the process environment.

use crate::client_common::*;
use intersight_client::{Client, ConfigError, Endpoint, ProxyConfig, TransportErrorKind};

fn vars(pairs: &[(&str, String)]) -> ProxyConfig {
    ProxyConfig::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())))
}

#[tokio::test]
async fn proxy_from_the_environment_map_and_no_proxy_bypass() {
    let proxy = TestServer::start(|req, _| page(req, 2, Some(2))).await;
    let direct = TestServer::start(|req, _| page(req, 1, Some(1))).await;
    let env = vars(&[
        ("HTTP_PROXY", format!("http://{}", proxy.addr)),
        ("NO_PROXY", "127.0.0.1,localhost".into()),
    ]);

    // A host nobody can resolve: only reachable through the proxy.
    let mut config = proxy.config();
    config.proxy = env.clone();
    config.endpoint = Endpoint::parse("http://intersight.invalid:8080").unwrap();
    let listing = list_from(config).await.unwrap();
    assert_eq!(listing.items.len(), 2);
    let seen = &proxy.stats.requests()[0];
    assert!(
        seen.target
            .starts_with("http://intersight.invalid:8080/api/v1/iam/OAuthTokens?"),
        "{}",
        seen.target
    );
    assert_eq!(seen.header("host"), Some("intersight.invalid:8080"));

    // NO_PROXY hosts are reached directly.
    let mut config = direct.config();
    config.proxy = env;
    let listing = list_from(config).await.unwrap();
    assert_eq!(listing.items.len(), 1);
    assert_eq!(direct.stats.count(), 1);
    assert_eq!(proxy.stats.count(), 1);
}

#[tokio::test]
async fn no_proxy_star_bypasses_the_proxy_for_ip_endpoints_too() {
    let proxy = TestServer::start(|req, _| page(req, 2, Some(2))).await;
    let direct = TestServer::start(|req, _| page(req, 1, Some(1))).await;
    for no_proxy in ["NO_PROXY", "no_proxy"] {
        let mut config = direct.config();
        config.proxy = vars(&[
            ("HTTP_PROXY", format!("http://{}", proxy.addr)),
            ("ALL_PROXY", format!("http://{}", proxy.addr)),
            (no_proxy, "*".into()),
        ]);
        assert_eq!(list_from(config).await.unwrap().items.len(), 1);
    }
    assert_eq!(direct.stats.count(), 2);
    assert_eq!(proxy.stats.count(), 0);
    assert_eq!(
        proxy
            .stats
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn an_unreachable_proxy_is_named_without_its_credentials() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = TestServer::start(|req, _| page(req, 1, Some(1))).await;
    let mut config = server.config();
    config.proxy = vars(&[("http_proxy", format!("http://alice:s3cr3t@{dead}"))]);
    config.endpoint = Endpoint::parse("http://intersight.invalid:8080").unwrap();
    config.max_retries = 4;
    let err = list_from(config).await.unwrap_err();
    assert_eq!(
        err.transport_kind(),
        Some(&TransportErrorKind::Proxy {
            proxy: dead.to_string()
        }),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    assert!(
        text.contains(&format!("through the proxy {dead}")),
        "{text}"
    );
    assert!(
        !text.contains("s3cr3t") && !text.contains("alice"),
        "{text}"
    );
    assert_eq!(err.attempts().unwrap().count, 2, "{err}");
}

#[tokio::test]
async fn a_malformed_https_proxy_is_a_configuration_error_naming_the_variable() {
    let mut config = TestServer::start(|req, _| page(req, 1, Some(1)))
        .await
        .config();
    config.endpoint = Endpoint::parse("intersight.com").unwrap();
    config.proxy = vars(&[("HTTPS_PROXY", "http://alice:s3cr3t@proxy:port".into())]);
    let err = Client::new(config).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Proxy { var, .. } if var == "HTTPS_PROXY"),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    assert!(text.contains("HTTPS_PROXY"), "{text}");
    assert!(
        !text.contains("s3cr3t") && !text.contains("alice"),
        "{text}"
    );
}
