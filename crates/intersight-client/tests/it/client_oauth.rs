//! The client with OAuth client credentials against a test server: the token request that
//! concurrent reads share.

use std::time::Duration;

use crate::client_common::*;
use crate::tokens::{IamOAuthToken, ListTyped as _};
use intersight_client::{Cancellation, Client, ClientCredentials, Credentials, Error, ListQuery};

/// A server whose token endpoint answers after `token_delay`, and whose collection holds one
/// object.
async fn oauth_server(token_delay: Duration) -> TestServer {
    TestServer::start(move |req, _| {
        if req.target.starts_with("/iam/token") {
            Response::json(
                200,
                r#"{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}"#,
            )
            .delayed(token_delay)
        } else {
            page(req, 1, Some(1))
        }
    })
    .await
}

fn oauth_client(server: &TestServer) -> Client {
    let mut config = server.config();
    config.credentials = Credentials::OAuth(ClientCredentials::new("client-1", "pw"));
    Client::new(config).unwrap()
}

fn token_requests(server: &TestServer) -> usize {
    server
        .stats
        .requests()
        .iter()
        .filter(|r| r.target.starts_with("/iam/token"))
        .count()
}

#[tokio::test]
async fn a_read_that_times_out_does_not_cancel_the_token_request_other_reads_wait_for() {
    let server = oauth_server(Duration::from_millis(600)).await;
    let client = oauth_client(&server);
    let mut impatient = ListQuery::new("iam/OAuthTokens");
    impatient.timeout = Some(Duration::from_millis(150));
    let patient = ListQuery::new("iam/OAuthTokens");
    let never = Cancellation::new();
    let (timed_out, listed) =
        tokio::join!(client.list::<IamOAuthToken>(&impatient, &never), async {
            // Arrives while the impatient read's token request is in flight.
            tokio::time::sleep(Duration::from_millis(50)).await;
            client.list::<IamOAuthToken>(&patient, &never).await
        });
    assert!(
        matches!(timed_out, Err(Error::ReadTimeout { .. })),
        "{timed_out:?}"
    );
    assert_eq!(listed.unwrap().items.len(), 1);
    // The patient read waited for the one token request; it was not sent again.
    assert_eq!(token_requests(&server), 1);
}

#[tokio::test]
async fn a_cancelled_read_does_not_cancel_the_token_request_other_reads_wait_for() {
    let server = oauth_server(Duration::from_millis(600)).await;
    let client = oauth_client(&server);
    let query = ListQuery::new("iam/OAuthTokens");
    let (cancel, never) = (Cancellation::new(), Cancellation::new());
    let (cancelled, listed, ()) = tokio::join!(
        client.list::<IamOAuthToken>(&query, &cancel),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            client.list::<IamOAuthToken>(&query, &never).await
        },
        async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            cancel.cancel();
        }
    );
    assert!(matches!(cancelled, Err(Error::Cancelled)), "{cancelled:?}");
    assert_eq!(listed.unwrap().items.len(), 1);
    assert_eq!(token_requests(&server), 1);
}
