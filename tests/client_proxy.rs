//! Proxies come from the environment (HTTP_PROXY / HTTPS_PROXY / NO_PROXY). One test per
//! process, since it sets environment variables.

mod client_common;

use client_common::*;
#[path = "support/tokens.rs"]
mod tokens;
use terraform_provider_intersight::intersight::{Cancellation, Client, Endpoint, ListQuery};
use tokens::{IamOAuthToken, ListTyped as _};

#[tokio::test]
async fn proxy_from_environment_and_no_proxy_bypass() {
    let proxy = TestServer::start(|req, _| page(req, 2, Some(2))).await;
    let direct = TestServer::start(|req, _| page(req, 1, Some(1))).await;
    for k in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "ALL_PROXY",
        "HTTPS_PROXY",
        "no_proxy",
    ] {
        std::env::remove_var(k);
    }
    std::env::set_var("HTTP_PROXY", format!("http://{}", proxy.addr));
    std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
    let q = ListQuery {
        filter: None,
        ..ListQuery::new("iam/OAuthTokens")
    };

    // A host nobody can resolve: only reachable through the proxy.
    let mut config = proxy.config();
    config.endpoint = Endpoint::parse("http://intersight.invalid:8080").unwrap();
    let listing = Client::new(config)
        .unwrap()
        .list::<IamOAuthToken>(&q, &Cancellation::new())
        .await
        .unwrap();
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
    let listing = direct
        .client()
        .list::<IamOAuthToken>(&q, &Cancellation::new())
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 1);
    assert_eq!(direct.stats.count(), 1);
    assert_eq!(proxy.stats.count(), 1);
}
