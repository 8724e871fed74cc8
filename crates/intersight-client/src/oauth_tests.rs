//! Unit tests of the token path: the answer's checks, the refresh margin, masking, and the token
//! source against a small scripted HTTP server (single flight, renewal, the one repeat after a
//! Bearer 401, final refusals).

use super::*;
use crate::endpoint::Endpoint;
use crate::proxy::ProxyConfig;
use crate::transport::{
    Auth, Backoff, DecodeFn, DecodedGet, Permits, RequestPermit, TlsOptions, Transport,
    TransportSettings,
};
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::Instant;

#[test]
fn the_refresh_margin_scales_with_the_lifetime_and_is_capped() {
    assert_eq!(
        refresh_margin(Duration::from_secs(2)),
        Duration::from_millis(400)
    );
    assert_eq!(
        refresh_margin(Duration::from_secs(100)),
        Duration::from_secs(20)
    );
    assert_eq!(
        refresh_margin(Duration::from_secs(3600)),
        Duration::from_secs(60)
    );
    assert_eq!(refresh_margin(MAX_EXPIRES_IN), Duration::from_secs(60));
}

fn grant(body: &str) -> Result<Grant, String> {
    parse_grant(body.as_bytes())
}

#[test]
fn a_token_answer_is_checked_and_never_quoted() {
    let ok = grant(r#"{"access_token":"abc.DEF-_~+/==","token_type":"bearer","expires_in":120}"#)
        .unwrap();
    assert_eq!(ok.token.as_str(), "abc.DEF-_~+/==");
    assert_eq!(ok.lifetime, Duration::from_secs(120));
    // The token type in any case; expires_in as a string of digits or a fraction.
    for (expires, lifetime) in [
        ("\"90\"", Duration::from_secs(90)),
        ("1.5", Duration::from_millis(1500)),
        ("null", DEFAULT_EXPIRES_IN),
        ("1e300", MAX_EXPIRES_IN),
        ("18446744073709551615", MAX_EXPIRES_IN),
    ] {
        let g = grant(&format!(
            r#"{{"access_token":"t","token_type":"BEARER","expires_in":{expires}}}"#
        ))
        .unwrap();
        assert_eq!(g.lifetime, lifetime, "{expires}");
    }
    let g = grant(r#"{"access_token":"t","token_type":"Bearer"}"#).unwrap();
    assert_eq!(g.lifetime, DEFAULT_EXPIRES_IN);
    for (body, expected) in [
        (r#"{"token_type":"Bearer"}"#, "no access_token"),
        (r#"{"access_token":"","token_type":"Bearer"}"#, "empty"),
        (
            r#"{"access_token":7,"token_type":"Bearer"}"#,
            "not a string",
        ),
        (
            r#"{"access_token":"SECRETTOKEN","token_type":"mac"}"#,
            "not Bearer",
        ),
        (r#"{"access_token":"SECRETTOKEN"}"#, "no token_type"),
        (
            r#"{"access_token":"SECRETTOKEN","token_type":"Bearer","expires_in":0}"#,
            "at least 1 s",
        ),
        (
            r#"{"access_token":"SECRETTOKEN","token_type":"Bearer","expires_in":-5}"#,
            "at least 1 s",
        ),
        (
            r#"{"access_token":"SECRETTOKEN","token_type":"Bearer","expires_in":"soon"}"#,
            "not a number",
        ),
        (
            r#"{"access_token":"SECRET\u001b[2JTOKEN","token_type":"Bearer"}"#,
            "cannot hold",
        ),
        (
            r#"{"access_token":"SECRET TOKEN","token_type":"Bearer"}"#,
            "cannot hold",
        ),
        (
            r#"{"access_token":"SECRET\nTOKEN","token_type":"Bearer"}"#,
            "cannot hold",
        ),
        (r#"{"access_token":"==","token_type":"Bearer"}"#, "padding"),
        ("[1,2]", "not a JSON object"),
        ("<html>SECRETTOKEN</html>", "not JSON"),
        (r#"{"access_token":"SECRETTOKEN""#, TRUNCATED),
    ] {
        let err = grant(body).unwrap_err();
        assert!(err.contains(expected), "{body}: {err}");
        assert!(!err.contains("SECRET"), "{body}: {err}");
    }
    let huge = format!(
        r#"{{"access_token":"{}","token_type":"Bearer"}}"#,
        "a".repeat(MAX_ACCESS_TOKEN_BYTES + 1)
    );
    assert!(grant(&huge).unwrap_err().contains("bytes long"));
    let largest = format!(
        r#"{{"access_token":"{}","token_type":"Bearer"}}"#,
        "a".repeat(MAX_ACCESS_TOKEN_BYTES)
    );
    assert!(grant(&largest).is_ok());
}

#[test]
fn error_documents_are_parsed_and_cut() {
    let d = ErrorDocument::parse(
        br#"{"error":"invalid_client","error_description":"bad\nsecret\u001b[31m"}"#,
        &[],
    );
    assert_eq!(d.error.as_deref(), Some("invalid_client"));
    assert_eq!(d.description.as_deref(), Some("bad secret [31m"));
    let long = format!(r#"{{"error":"{}"}}"#, "e".repeat(5000));
    let d = ErrorDocument::parse(long.as_bytes(), &[]);
    assert_eq!(
        d.error.unwrap().chars().count(),
        MAX_ERROR_CODE_CHARS + 1,
        "cut, with an ellipsis"
    );
    let d = ErrorDocument::parse(b"<html>denied</html>", &[]);
    assert_eq!(
        (d.error, d.description.as_deref()),
        (None, Some("<html>denied</html>"))
    );
}

#[test]
fn secrets_are_masked_before_server_text_is_cut_or_folded() {
    let secret = "Sec ret\twith\nbreaks-and-a-long-tail-0123456789";
    // At the cut (500 characters), JSON-escaped, with control characters that folding would
    // turn into spaces: no part of it survives.
    let description = format!("{}{secret}", "x".repeat(490));
    let body = serde_json::json!({"error": "invalid_client", "error_description": description});
    let d = ErrorDocument::parse(body.to_string().as_bytes(), &[secret]);
    let shown = d.description.unwrap();
    assert!(shown.ends_with("***"), "{shown}");
    assert!(!shown.contains("Sec ret"), "{shown}");
    let d = ErrorDocument::parse(format!("<p>{secret}</p>").as_bytes(), &[secret]);
    assert_eq!(d.description.as_deref(), Some("<p>***</p>"));
}

#[test]
fn credentials_debug_and_basic_authorization_keep_the_secret() {
    let c = ClientCredentials::new("my id", "s3cr:t/+ é");
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cr"), "{debug}");
    assert!(debug.contains("my id"), "{debug}");
    let basic = c.basic_authorization();
    let b64 = basic.strip_prefix("Basic ").unwrap();
    let pair = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    // RFC 6749 section 2.3.1: both form-encoded before the pair is made.
    assert_eq!(
        String::from_utf8(pair).unwrap(),
        "my+id:s3cr%3At%2F%2B+%C3%A9"
    );
}

#[test]
fn a_client_id_that_holds_the_secret_is_not_shown() {
    let c = ClientCredentials::new("id-with-SeCrEt-inside", "SeCrEt");
    assert!(!c.shown_client_id().contains("SeCrEt"));
    assert_eq!(
        ClientCredentials::new("app\n1", "s").shown_client_id(),
        "app 1"
    );
}

#[test]
fn masking_replaces_every_echo_of_a_secret() {
    let e = Error::TokenRefused {
        status: 401,
        error: Some("invalid_client".into()),
        description: Some("secret hunter2 rejected, hunter2!".into()),
        client_id: "id".into(),
    };
    let masked = mask_error(e, &["hunter2", ""]);
    assert!(!masked.to_string().contains("hunter2"), "{masked}");
    assert!(masked.to_string().contains("*** rejected"), "{masked}");
    let inner = Error::Api {
        status: 500,
        code: Some("tok".into()),
        message: Some("token tok".into()),
        trace_id: None,
        method: "POST",
        path: TOKEN_PATH.into(),
        attempts: Default::default(),
    };
    let masked = mask_error(Error::TokenRequest(Box::new(inner)), &["tok"]);
    assert!(!masked.to_string().contains("tok "), "{masked}");
}

#[test]
fn echoes_with_control_characters_case_or_spaces_inside_are_masked() {
    let secret = "S3cr3t-ATTACK16-xyzzy";
    let with = |c: &str| format!("{}{c}{}", &secret[..4], &secret[4..]);
    for echo in [
        with("\u{7}"),
        with("\u{0}"),
        with(" "),
        with("\r\n"),
        with("\u{200b}"),
        with("\u{1b}"),
        secret.to_lowercase(),
        secret.to_uppercase(),
    ] {
        let text = format!("secret={echo}; again {echo}.");
        let masked = mask_text(&text, &[secret]);
        assert_eq!(masked, "secret=***; again ***.", "{echo:?}");
        // As a diagnostic shows it: nothing of the secret survives the cleaning.
        let shown = server_text(&masked, MAX_SERVER_MESSAGE_CHARS);
        assert!(!shown.to_lowercase().contains("3t-attack"), "{shown}");
        let d = ErrorDocument::parse(
            serde_json::json!({"error_description": text})
                .to_string()
                .as_bytes(),
            &[secret],
        );
        assert_eq!(d.description.as_deref(), Some("secret=***; again ***."));
    }
    // Overlapping and adjacent echoes of two secrets mask as one; other text stays as it is.
    assert_eq!(mask_text("xxabcdyy", &["abc", "bcd"]), "xx***yy");
    assert_eq!(mask_text("Ünïcode\u{7} ok", &["zz"]), "Ünïcode\u{7} ok");
    assert_eq!(mask_text("a STRASSE b", &["straße"]), "a STRASSE b");
    assert_eq!(mask_text("a İx b", &["i̇x"]), "a *** b");
}

// ---- the token source against a scripted server ----

/// What the scripted server saw and how it answers.
#[derive(Default)]
struct Script {
    token_requests: AtomicUsize,
    api_requests: AtomicUsize,
    /// Token answers in turn (status, body); the last one repeats.
    token_answers: Mutex<Vec<(u16, String)>>,
    /// Bearer tokens the API accepts.
    accepted: Mutex<Vec<String>>,
    /// Delay of each token answer.
    token_delay: Mutex<Duration>,
    issued: AtomicUsize,
    heads: Mutex<Vec<String>>,
    /// The API refuses every token.
    refuse_all: std::sync::atomic::AtomicBool,
}

impl Script {
    fn next_token_answer(&self) -> (u16, String) {
        let mut answers = self.token_answers.lock().unwrap();
        if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers
                .first()
                .cloned()
                .unwrap_or_else(|| (200, String::from("issue 60")))
        }
    }
}

/// A server for `/iam/token` (answers from the script; "issue N" issues a fresh token living N
/// seconds) and `/api/…` (200 `[1]` for an accepted Bearer token, else 401).
async fn scripted() -> (std::net::SocketAddr, Arc<Script>) {
    use intersight_sim::scripted::{serve, Answer, Request};
    let script = Arc::new(Script::default());
    let shared = script.clone();
    let addr = serve(move |request: Request| {
        let script = shared.clone();
        async move {
            script.heads.lock().unwrap().push(request.head.clone());
            if request.is("POST", "/iam/token") {
                script.token_requests.fetch_add(1, Ordering::SeqCst);
                let delay = *script.token_delay.lock().unwrap();
                tokio::time::sleep(delay).await;
                let (status, body) = script.next_token_answer();
                let Some(lifetime) = body.strip_prefix("issue ") else {
                    return Answer::new(status, body);
                };
                let n = script.issued.fetch_add(1, Ordering::SeqCst) + 1;
                let token = format!("tok{n}");
                script.accepted.lock().unwrap().push(token.clone());
                return Answer::new(
                    200,
                    format!(
                        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{lifetime}}}"#
                    ),
                );
            }
            script.api_requests.fetch_add(1, Ordering::SeqCst);
            let token = request
                .header("authorization")
                .strip_prefix("Bearer ")
                .unwrap_or_default()
                .to_string();
            if !script.refuse_all.load(Ordering::SeqCst)
                && script.accepted.lock().unwrap().contains(&token)
            {
                Answer::new(200, "[1]")
            } else {
                Answer::new(
                    401,
                    format!(r#"{{"code":"AuthenticationFailure","message":"token {token} refused"}}"#),
                )
            }
        }
    })
    .await
    .unwrap();
    (addr, script)
}

fn oauth_transport(addr: std::net::SocketAddr, secret: &str) -> Transport {
    Transport::new(TransportSettings {
        endpoint: Endpoint::parse(&format!("http://{addr}")).unwrap(),
        auth: Auth::OAuth(Arc::new(TokenSource::new(ClientCredentials::new(
            "client-1", secret,
        )))),
        tls: TlsOptions::default(),
        proxy: ProxyConfig::direct(),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        max_retries: 3,
        backoff: Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
            max_retry_after: Duration::from_millis(300),
        },
        body_limit: 1 << 20,
        max_connections: 8,
        user_agent: "test".into(),
    })
    .unwrap()
}

fn source(t: &Transport) -> &TokenSource {
    t.token_source().unwrap()
}

async fn get(t: &Transport) -> Result<Vec<u8>, Error> {
    let decode: DecodeFn<Vec<u8>> =
        Arc::new(|b: &[u8], _: &CancellationToken| serde_json::from_slice::<Vec<u8>>(b));
    let permit = RequestPermit::new(&Permits::new(8), None);
    t.get_decoded(&DecodedGet {
        path_and_query: "/api/v1/x",
        cancel: &CancellationToken::new(),
        counters: &Counters::default(),
        decode: &decode,
        permit: &permit,
        on_body: None,
    })
    .await
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let (addr, script) = scripted().await;
    *script.token_delay.lock().unwrap() = Duration::from_millis(200);
    let t = oauth_transport(addr, "pw");
    let cancel = CancellationToken::new();
    let tokens = futures::future::join_all((0..8).map(|_| source(&t).token(&t, &cancel, ""))).await;
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 1);
    let generations: Vec<u64> = tokens.into_iter().map(|t| t.unwrap().generation).collect();
    assert_eq!(generations, [1; 8]);
    // And reads: eight requests in parallel, one token.
    let reads = futures::future::join_all((0..8).map(|_| get(&t))).await;
    assert!(reads.iter().all(Result::is_ok));
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_is_renewed_a_fifth_of_its_lifetime_before_it_expires() {
    let (addr, script) = scripted().await;
    *script.token_answers.lock().unwrap() = vec![(200, "issue 2".into())];
    let t = oauth_transport(addr, "pw");
    let cancel = CancellationToken::new();
    assert_eq!(
        source(&t).token(&t, &cancel, "").await.unwrap().generation,
        1
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // 1.3 s into a 2 s token: still the same one (renewal is due at 1.6 s).
    assert_eq!(
        source(&t).token(&t, &cancel, "").await.unwrap().generation,
        1
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        source(&t).token(&t, &cancel, "").await.unwrap().generation,
        2
    );
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_401_gets_one_new_token_and_one_repeat_then_is_the_authentication_error() {
    let (addr, script) = scripted().await;
    let t = oauth_transport(addr, "pw");
    assert_eq!(get(&t).await.unwrap(), [1]);
    // The server revokes the token: the request is repeated once with a new one.
    script.accepted.lock().unwrap().clear();
    assert_eq!(get(&t).await.unwrap(), [1]);
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 2);
    assert_eq!(script.api_requests.load(Ordering::SeqCst), 3);
    // Tokens the API never accepts: one repeat, then the 401, with the token masked.
    *script.token_answers.lock().unwrap() = vec![(
        200,
        r#"{"access_token":"never","token_type":"Bearer","expires_in":60}"#.into(),
    )];
    script.accepted.lock().unwrap().clear();
    let err = get(&t).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert_eq!(err.attempts().map(|a| a.count), Some(2), "{err}");
    assert!(!err.to_string().contains("never"), "{err}");
    assert!(err.to_string().contains("token *** refused"), "{err}");
    // The cached token's 401, one new token ("never"), its 401: one token request more.
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 3);
    assert_eq!(script.api_requests.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_refusal_is_final_and_names_the_client_without_the_secret() {
    let (addr, script) = scripted().await;
    *script.token_answers.lock().unwrap() = vec![(
        401,
        r#"{"error":"invalid_client","error_description":"wrong secret pw-Zebra for client-1"}"#
            .into(),
    )];
    let t = oauth_transport(addr, "pw-Zebra");
    for _ in 0..3 {
        let err = get(&t).await.unwrap_err();
        assert!(
            matches!(&err, Error::TokenRefused { status: 401, error: Some(error), client_id, .. }
                if error == "invalid_client" && client_id == "client-1"),
            "{err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(!text.contains("pw-Zebra"), "{text}");
        assert!(text.contains("wrong secret ***"), "{text}");
    }
    // Not retried, and never asked again.
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(script.api_requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn token_endpoint_failures_follow_the_retry_policy_with_retry_after() {
    let (addr, script) = scripted().await;
    *script.token_answers.lock().unwrap() = vec![
        (500, "{}".into()),
        (429, "{}".into()),
        (200, "issue 60".into()),
    ];
    let t = oauth_transport(addr, "pw");
    assert_eq!(get(&t).await.unwrap(), [1]);
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 3);
    // Past max_retries (3): the token request's own error, wrapped, with its attempts.
    let (addr, script) = scripted().await;
    *script.token_answers.lock().unwrap() = vec![(503, r#"{"message":"down"}"#.into())];
    let t = oauth_transport(addr, "pw");
    let err = get(&t).await.unwrap_err();
    let Error::TokenRequest(inner) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(inner.status(), Some(503));
    assert_eq!(inner.attempts().map(|a| a.count), Some(4));
    assert!(
        err.to_string()
            .starts_with("could not get an OAuth access token: POST /iam/token"),
        "{err}"
    );
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 4);
    // A transient failure is not final: the next read asks again.
    *script.token_answers.lock().unwrap() = vec![(200, "issue 60".into())];
    assert!(get(&t).await.is_ok());
}

#[tokio::test]
async fn unusable_answers_and_redirects_are_final_and_not_followed() {
    for (status, body) in [
        (
            200,
            r#"{"access_token":"a b","token_type":"Bearer"}"#.to_string(),
        ),
        (
            200,
            r#"{"access_token":"ab","token_type":"MAC"}"#.to_string(),
        ),
        (302, String::new()),
        (404, "{}".to_string()),
        (
            200,
            format!(
                r#"{{"access_token":"{}"}}"#,
                "x".repeat(MAX_TOKEN_RESPONSE_BYTES)
            ),
        ),
    ] {
        let (addr, script) = scripted().await;
        *script.token_answers.lock().unwrap() = vec![(status, body.clone())];
        let t = oauth_transport(addr, "pw");
        let first = get(&t).await.unwrap_err();
        let second = get(&t).await.unwrap_err();
        assert_eq!(first.to_string(), second.to_string());
        // Not retried, and not asked again by the next read.
        assert_eq!(
            script.token_requests.load(Ordering::SeqCst),
            1,
            "{status}: {first}"
        );
        assert_eq!(script.api_requests.load(Ordering::SeqCst), 0);
        assert!(first.to_string().contains("/iam/token"), "{first}");
    }
}

#[tokio::test]
async fn request_lines_name_the_scheme_and_headers_are_never_logged() {
    let (addr, script) = scripted().await;
    let t = oauth_transport(addr, "pw-secret");
    assert!(get(&t).await.is_ok());
    let heads = script.heads.lock().unwrap().clone();
    assert!(heads[0].starts_with("POST /iam/token"), "{heads:?}");
    assert!(heads[0].contains("authorization: Basic "), "{heads:?}");
    assert!(heads[1].contains("authorization: Bearer tok1"), "{heads:?}");
    // Debug of the whole transport chain shows neither.
    let debug = format!("{:?}", source(&t));
    assert!(
        !debug.contains("pw-secret") && !debug.contains("tok1"),
        "{debug}"
    );
    let token = source(&t)
        .token(&t, &CancellationToken::new(), "")
        .await
        .unwrap();
    assert_eq!(format!("{token:?}"), "Token(#1)");
}

#[tokio::test]
async fn a_slow_token_endpoint_times_out_like_any_request_and_waiters_can_be_cancelled() {
    let (addr, script) = scripted().await;
    *script.token_delay.lock().unwrap() = Duration::from_secs(3);
    let mut t = oauth_transport(addr, "pw");
    t.set_timeout_for_tests(Duration::from_millis(300));
    let started = Instant::now();
    let err = get(&t).await.unwrap_err();
    let Error::TokenRequest(inner) = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(**inner, Error::Timeout { .. }), "{inner:?}");
    // A timeout is retried once.
    assert_eq!(inner.attempts().map(|a| a.count), Some(2), "{inner}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // A caller waiting for a token in flight ends at once when cancelled.
    let t = Arc::new(oauth_transport(addr, "pw"));
    let fetching = {
        let t = t.clone();
        tokio::spawn(async move {
            source(&t)
                .token(&t, &CancellationToken::new(), "")
                .await
                .map(|_| ())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cancel = CancellationToken::new();
    let waiter = source(&t).token(&t, &cancel, "");
    cancel.cancel();
    let started = Instant::now();
    assert!(matches!(waiter.await, Err(Error::Cancelled)));
    assert!(started.elapsed() < Duration::from_millis(100));
    fetching.abort();
}

#[tokio::test]
async fn a_failed_renewal_keeps_serving_the_token_until_it_expires() {
    let (addr, script) = scripted().await;
    *script.token_answers.lock().unwrap() = vec![(200, "issue 2".into())];
    let t = oauth_transport(addr, "pw");
    let cancel = CancellationToken::new();
    assert_eq!(
        source(&t).token(&t, &cancel, "").await.unwrap().generation,
        1
    );
    *script.token_answers.lock().unwrap() = vec![(503, "{}".into())];
    tokio::time::sleep(Duration::from_millis(1700)).await;
    // Due for renewal, the endpoint down: the old token still serves.
    assert_eq!(
        source(&t).token(&t, &cancel, "").await.unwrap().generation,
        1
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Expired: the failure.
    let err = source(&t).token(&t, &cancel, "").await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
}

#[tokio::test]
async fn a_refused_renewal_that_echoes_the_live_token_masks_it() {
    for refusal in [
        (
            401,
            r#"{"error":"invalid_client","error_description":"token tok1 is no longer renewable"}"#,
        ),
        (
            400,
            r#"{"error":"invalid_request","error_description":"tok1"}"#,
        ),
        (401, "<html>bearer tok1 refused</html>"),
    ] {
        let (addr, script) = scripted().await;
        *script.token_answers.lock().unwrap() =
            vec![(200, "issue 1".into()), (refusal.0, refusal.1.into())];
        let t = oauth_transport(addr, "pw-Zebra");
        let cancel = CancellationToken::new();
        let first = source(&t).token(&t, &cancel, "").await.unwrap();
        assert_eq!(first.secret(), "tok1");
        // Renewal is due at 0.8 s; the endpoint refuses it, echoing the token in use.
        tokio::time::sleep(Duration::from_millis(850)).await;
        let err = source(&t).token(&t, &cancel, "").await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("tok1"), "{text}");
        assert!(text.contains("***"), "{text}");
    }
    // A 500 quoting it, after the token has expired (a transient failure, retried).
    let (addr, script) = scripted().await;
    *script.token_answers.lock().unwrap() = vec![
        (200, "issue 1".into()),
        (500, r#"{"code":"x","message":"token tok1 broke"}"#.into()),
    ];
    let t = oauth_transport(addr, "pw");
    let cancel = CancellationToken::new();
    source(&t).token(&t, &cancel, "").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let err = source(&t).token(&t, &cancel, "").await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("tok1"), "{text}");
    assert!(text.contains("token *** broke"), "{text}");
}

#[tokio::test]
async fn an_api_that_refuses_every_token_gets_one_new_token_and_then_no_request() {
    let (addr, script) = scripted().await;
    script.refuse_all.store(true, Ordering::SeqCst);
    let t = oauth_transport(addr, "pw");
    // Eight reads at once: all meet token 1's refusal, share one new token, and its refusal
    // ends them all.
    let reads = futures::future::join_all((0..8).map(|_| get(&t))).await;
    for read in &reads {
        let err = read.as_ref().unwrap_err();
        assert_eq!(err.status(), Some(401), "{err}");
        assert!(!err.to_string().contains("tok1"), "{err}");
        assert!(!err.to_string().contains("tok2"), "{err}");
    }
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 2);
    let api = script.api_requests.load(Ordering::SeqCst);
    assert!(api <= 16, "{api} API requests");
    // Reads that start later (queued behind `parallelism`): the rejection is known, no request.
    for _ in 0..4 {
        let err = get(&t).await.unwrap_err();
        assert_eq!(err.status(), Some(401), "{err}");
    }
    let later = futures::future::join_all((0..4).map(|_| get(&t))).await;
    assert!(later
        .iter()
        .all(|r| r.as_ref().unwrap_err().status() == Some(401)));
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 2);
    assert_eq!(script.api_requests.load(Ordering::SeqCst), api);
}

#[tokio::test]
async fn a_new_token_refused_on_its_first_use_ends_reads_that_had_not_met_a_refusal() {
    let (addr, script) = scripted().await;
    let t = oauth_transport(addr, "pw");
    assert_eq!(get(&t).await.unwrap(), [1]);
    script.refuse_all.store(true, Ordering::SeqCst);
    // Token 1 is refused, token 2 is fetched for the repeat and refused: the error.
    assert_eq!(get(&t).await.unwrap_err().status(), Some(401));
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 2);
    assert_eq!(script.api_requests.load(Ordering::SeqCst), 3);
    // A later read does not start its own new-token cycle.
    assert_eq!(get(&t).await.unwrap_err().status(), Some(401));
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 2);
    assert_eq!(script.api_requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_token_stale_on_arrival_serves_everyone_who_waited_for_it() {
    let (addr, script) = scripted().await;
    *script.token_answers.lock().unwrap() = vec![(200, "issue 1".into())];
    // The answer takes longer than the token's renewal margin leaves (0.8 s of 1 s).
    *script.token_delay.lock().unwrap() = Duration::from_millis(900);
    let t = oauth_transport(addr, "pw");
    let cancel = CancellationToken::new();
    let tokens = futures::future::join_all((0..6).map(|_| source(&t).token(&t, &cancel, ""))).await;
    let generations: Vec<u64> = tokens.into_iter().map(|t| t.unwrap().generation).collect();
    assert_eq!(generations, [1; 6]);
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_403_from_the_token_endpoint_is_a_refusal_showing_its_error_document() {
    let (addr, script) = scripted().await;
    *script.token_answers.lock().unwrap() = vec![(
        403,
        r#"{"error":"unauthorized_client","error_description":"grant not allowed for pw-Zebra"}"#
            .into(),
    )];
    let t = oauth_transport(addr, "pw-Zebra");
    let err = get(&t).await.unwrap_err();
    let Error::TokenRefused {
        status,
        error,
        description,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*status, error.as_deref(), description.as_deref()),
        (
            403,
            Some("unauthorized_client"),
            Some("grant not allowed for ***")
        )
    );
    assert!(get(&t).await.is_err());
    assert_eq!(script.token_requests.load(Ordering::SeqCst), 1);
}
