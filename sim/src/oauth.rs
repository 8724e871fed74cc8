//! OAuth 2.0 client credentials (RFC 6749 section 4.4) as Intersight offers them: `POST
//! /iam/token` issues Bearer tokens to one registered client, and the API accepts those tokens
//! next to HTTP signatures.
//!
//! - Client authentication by HTTP Basic (`base64(urlencode(id):urlencode(secret))`, RFC 6749
//!   section 2.3.1) or by the form parameters `client_id` and `client_secret`; both at once is
//!   `invalid_request`.
//! - Errors are RFC 6749 section 5.2 documents (`invalid_client` with 401, and with
//!   `WWW-Authenticate: Basic` when Basic was used; `invalid_request`,
//!   `unsupported_grant_type` with 400).
//! - Tokens live `token_lifetime_secs` (fractions allowed) and, with `revoke_after_uses`, are
//!   revoked after that many API requests.
//! - Faults for the token endpoint: a burst of statuses (with `Retry-After`), a raw answer
//!   (any status, body, `Location`), latency.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use hyper::{HeaderMap, Response, StatusCode};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Where the token endpoint is (on the API's origin, as on intersight.com).
pub const TOKEN_PATH: &str = "/iam/token";

/// A counted fault: let `after` token requests pass, then hit the next `count` (absent: all).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenStatusBurst {
    #[serde(default)]
    pub after: u64,
    pub count: Option<u64>,
    /// The status answered (default 503), with an RFC 6749-ish body for 400/401.
    #[serde(default = "default_status")]
    pub status: u16,
    /// `Retry-After` in seconds, sent as is.
    pub retry_after: Option<u64>,
}

fn default_status() -> u16 {
    503
}

/// A raw answer instead of a token: any status, body text, content type and `Location`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenRawAnswer {
    #[serde(default)]
    pub after: u64,
    pub count: Option<u64>,
    #[serde(default = "default_ok")]
    pub status: u16,
    /// The body, verbatim.
    #[serde(default)]
    pub body: String,
    /// Repeat `body` this many times (for huge answers); default 1.
    pub repeat: Option<usize>,
    pub location: Option<String>,
    /// Wait this long before answering.
    #[serde(default)]
    pub delay_ms: u64,
}

fn default_ok() -> u16 {
    200
}

/// The token endpoint's settings (`PUT /_sim/oauth`; every field optional).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// The lifetime of issued tokens, in seconds (fractions allowed); also their `expires_in`.
    pub token_lifetime_secs: f64,
    /// Leave `expires_in` out of token answers (the token still lives `token_lifetime_secs`).
    pub omit_expires_in: bool,
    /// Revoke a token after this many API requests made with it (the next one gets 401).
    pub revoke_after_uses: Option<u64>,
    /// Latency added to every token request, in milliseconds.
    pub latency_ms: u64,
    pub status_burst: Option<TokenStatusBurst>,
    pub raw_answer: Option<TokenRawAnswer>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            token_lifetime_secs: 3600.0,
            omit_expires_in: false,
            revoke_after_uses: None,
            latency_ms: 0,
            status_burst: None,
            raw_answer: None,
        }
    }
}

impl OAuthConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.token_lifetime_secs.is_finite() && self.token_lifetime_secs > 0.0) {
            return Err("token_lifetime_secs must be a positive number".into());
        }
        if self
            .raw_answer
            .as_ref()
            .is_some_and(|r| r.body.len().saturating_mul(r.repeat.unwrap_or(1)) > 128 << 20)
        {
            return Err("raw_answer: at most 128 MiB".into());
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Issued {
    expires_at: Instant,
    uses: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    token_requests: u64,
    tokens_issued: u64,
    token_refusals: u64,
    bearer_requests: u64,
    bearer_failures: u64,
    revoked: u64,
    /// Token requests being answered right now, and the most at once.
    in_flight: u64,
    max_in_flight: u64,
}

struct Inner {
    config: OAuthConfig,
    tokens: HashMap<String, Issued>,
    /// Tokens revoked or found expired.
    retired: Vec<String>,
    counters: Counters,
    burst_seen: u64,
    raw_seen: u64,
}

/// The registered client and the tokens issued to it.
pub struct OAuthState {
    pub client_id: String,
    pub client_secret: String,
    initial: OAuthConfig,
    inner: Mutex<Inner>,
}

fn random_text(prefix: &str, bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rng().fill(&mut raw[..]);
    let body: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{body}")
}

impl OAuthState {
    /// A client with a fresh id and secret.
    pub fn generate(config: OAuthConfig) -> OAuthState {
        OAuthState {
            client_id: random_text("sim-client-", 8),
            // A secret with characters that Basic authentication must form-encode.
            client_secret: format!("{}+/:=%", random_text("", 20)),
            initial: config.clone(),
            inner: Mutex::new(Inner {
                config,
                tokens: HashMap::new(),
                retired: Vec::new(),
                counters: Counters::default(),
                burst_seen: 0,
                raw_seen: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn config(&self) -> OAuthConfig {
        self.lock().config.clone()
    }

    /// Replaces the settings; restarts the fault counters.
    pub fn set_config(&self, config: OAuthConfig) {
        let mut inner = self.lock();
        inner.config = config;
        inner.burst_seen = 0;
        inner.raw_seen = 0;
    }

    /// Settings back to the start, tokens dropped, counters zeroed.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.config = self.initial.clone();
        inner.tokens.clear();
        inner.retired.clear();
        inner.counters = Counters::default();
        inner.burst_seen = 0;
        inner.raw_seen = 0;
    }

    /// The counters for `GET /_sim/stats`.
    pub fn stats_json(&self) -> Value {
        let c = self.lock().counters;
        json!({
            "token_requests": c.token_requests,
            "tokens_issued": c.tokens_issued,
            "token_refusals": c.token_refusals,
            "bearer_requests": c.bearer_requests,
            "bearer_failures": c.bearer_failures,
            "tokens_revoked": c.revoked,
            "max_token_requests_in_flight": c.max_in_flight,
        })
    }

    /// Every token issued since the start or the last reset (`GET /_sim/oauth/tokens`), so
    /// that tests can look for them where they must not be (logs, diagnostics).
    pub fn issued_tokens(&self) -> Vec<String> {
        let mut tokens: Vec<String> = self.lock().tokens.keys().cloned().collect();
        tokens.extend(self.lock().retired.iter().cloned());
        tokens.sort();
        tokens
    }

    /// The ready JSON's `oauth` member.
    pub fn ready_json(&self, endpoint: &str) -> Value {
        json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "token_url": format!("{endpoint}{TOKEN_PATH}"),
        })
    }

    /// Checks `Authorization: Bearer …` of an API request: a token issued here, not expired,
    /// not revoked. Counts a use.
    pub fn verify_bearer(&self, token: &str) -> Result<(), String> {
        let mut inner = self.lock();
        inner.counters.bearer_requests += 1;
        let limit = inner.config.revoke_after_uses;
        let now = Instant::now();
        let outcome = match inner.tokens.get_mut(token) {
            None => Err("unknown or revoked bearer token".to_string()),
            Some(issued) if now >= issued.expires_at => Err("the bearer token has expired".into()),
            Some(issued) => {
                issued.uses += 1;
                match limit {
                    Some(limit) if issued.uses > limit => {
                        Err(format!("the bearer token was revoked after {limit} uses"))
                    }
                    _ => Ok(()),
                }
            }
        };
        if let Err(reason) = &outcome {
            inner.counters.bearer_failures += 1;
            if reason.contains("revoked after") || reason.contains("expired") {
                inner.tokens.remove(token);
                inner.retired.push(token.to_string());
                if reason.contains("revoked after") {
                    inner.counters.revoked += 1;
                }
            }
        }
        outcome
    }

    /// `POST /iam/token`.
    pub async fn token_endpoint(&self, headers: &HeaderMap, body: &[u8]) -> Response<Bytes> {
        let (latency, raw, burst) = {
            let mut inner = self.lock();
            inner.counters.token_requests += 1;
            inner.counters.in_flight += 1;
            inner.counters.max_in_flight =
                inner.counters.max_in_flight.max(inner.counters.in_flight);
            let raw = inner.config.raw_answer.clone().filter(|r| {
                let n = inner.raw_seen;
                n >= r.after && r.count.is_none_or(|c| n < r.after + c)
            });
            inner.raw_seen += 1;
            let burst = inner.config.status_burst.clone().filter(|b| {
                let n = inner.burst_seen;
                n >= b.after && b.count.is_none_or(|c| n < b.after + c)
            });
            inner.burst_seen += 1;
            (inner.config.latency_ms, raw, burst)
        };
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        let response = self.answer(headers, body, raw, burst).await;
        let mut inner = self.lock();
        inner.counters.in_flight -= 1;
        if response.status() == StatusCode::BAD_REQUEST
            || response.status() == StatusCode::UNAUTHORIZED
        {
            inner.counters.token_refusals += 1;
        }
        response
    }

    async fn answer(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        raw: Option<TokenRawAnswer>,
        burst: Option<TokenStatusBurst>,
    ) -> Response<Bytes> {
        if let Some(raw) = raw {
            if raw.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(raw.delay_ms)).await;
            }
            let mut response = Response::new(Bytes::from(raw.body.repeat(raw.repeat.unwrap_or(1))));
            *response.status_mut() =
                StatusCode::from_u16(raw.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Some(location) = raw.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                response
                    .headers_mut()
                    .insert(hyper::header::LOCATION, location);
            }
            return response;
        }
        if let Some(burst) = burst {
            let status =
                StatusCode::from_u16(burst.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut response =
                error_document(status, "temporarily_unavailable", "injected failure", false);
            if let Some(seconds) = burst.retry_after {
                if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(RETRY_AFTER, value);
                }
            }
            return response;
        }
        let form: Vec<(String, String)> = url_form(body);
        let field = |name: &str| -> Vec<&str> {
            form.iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let basic = match headers.get(AUTHORIZATION).map(|v| v.to_str()) {
            None => None,
            Some(Ok(value)) => match parse_basic(value) {
                Some(pair) => Some(pair),
                None => {
                    return error_document(
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        "the Authorization header is not HTTP Basic client authentication",
                        true,
                    )
                }
            },
            Some(Err(_)) => {
                return error_document(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "unreadable Authorization header",
                    false,
                )
            }
        };
        let (ids, secrets) = (field("client_id"), field("client_secret"));
        if ids.len() > 1 || secrets.len() > 1 || field("grant_type").len() > 1 {
            return error_document(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "a parameter is repeated",
                false,
            );
        }
        let in_form = !ids.is_empty() || !secrets.is_empty();
        let (id, secret, used_basic) = match (basic, in_form) {
            (Some(_), true) => {
                return error_document(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "more than one client authentication method (Basic and form parameters)",
                    false,
                )
            }
            (Some((id, secret)), false) => (id, secret, true),
            (None, true) => (
                ids.first().map(|s| s.to_string()).unwrap_or_default(),
                secrets.first().map(|s| s.to_string()).unwrap_or_default(),
                false,
            ),
            (None, false) => {
                return error_document(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "no client authentication",
                    true,
                )
            }
        };
        match field("grant_type").first() {
            Some(&"client_credentials") => {}
            Some(_) => {
                return error_document(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "only client_credentials is supported",
                    false,
                )
            }
            None => {
                return error_document(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "grant_type is missing",
                    false,
                )
            }
        }
        if id != self.client_id || secret != self.client_secret {
            return error_document(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed (unknown client or wrong secret)",
                used_basic,
            );
        }
        let token = random_text("", 32);
        let mut inner = self.lock();
        let lifetime = inner.config.token_lifetime_secs;
        let omit = inner.config.omit_expires_in;
        inner.tokens.insert(
            token.clone(),
            Issued {
                expires_at: Instant::now() + Duration::from_secs_f64(lifetime),
                uses: 0,
            },
        );
        inner.counters.tokens_issued += 1;
        let mut document = json!({"access_token": token, "token_type": "Bearer"});
        if !omit {
            document["expires_in"] = if lifetime.fract() == 0.0 && lifetime < 1e15 {
                json!(lifetime as u64)
            } else {
                json!(lifetime)
            };
        }
        json_answer(StatusCode::OK, &document)
    }
}

fn json_answer(status: StatusCode, body: &Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

/// An RFC 6749 section 5.2 error document.
fn error_document(
    status: StatusCode,
    error: &str,
    description: &str,
    basic: bool,
) -> Response<Bytes> {
    let mut response = json_answer(
        status,
        &json!({"error": error, "error_description": description}),
    );
    if basic && status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"intersight-sim\""),
        );
    }
    response
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space).
fn url_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// `Basic base64(urlencode(id):urlencode(secret))` → (id, secret), decoded.
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

/// The token of `Authorization: Bearer …`, if the header uses that scheme.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        let enc = |s: &str| -> String {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                enc(id),
                enc(secret)
            ))
        )
    }

    async fn call(state: &OAuthState, authorization: Option<String>, body: &str) -> (u16, Value) {
        let mut headers = HeaderMap::new();
        if let Some(a) = authorization {
            headers.insert(AUTHORIZATION, HeaderValue::from_str(&a).unwrap());
        }
        let response = state.token_endpoint(&headers, body.as_bytes()).await;
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_slice(response.body()).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn basic_and_form_client_authentication_issue_tokens_and_errors_are_rfc6749() {
        let state = OAuthState::generate(OAuthConfig::default());
        let (id, secret) = (state.client_id.clone(), state.client_secret.clone());
        let (status, doc) = call(
            &state,
            Some(basic(&id, &secret)),
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["token_type"], "Bearer");
        assert_eq!(doc["expires_in"], 3600);
        let token = doc["access_token"].as_str().unwrap().to_string();
        assert!(state.verify_bearer(&token).is_ok());
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC),
            percent_encoding::utf8_percent_encode(&secret, percent_encoding::NON_ALPHANUMERIC)
        );
        assert_eq!(call(&state, None, &form).await.0, 200);
        let (status, doc) = call(
            &state,
            Some(basic(&id, "wrong")),
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(
            (status, doc["error"].as_str()),
            (401, Some("invalid_client"))
        );
        let (status, doc) = call(&state, Some(basic(&id, &secret)), &form).await;
        assert_eq!(
            (status, doc["error"].as_str()),
            (400, Some("invalid_request"))
        );
        let (status, doc) = call(&state, Some(basic(&id, &secret)), "grant_type=password").await;
        assert_eq!(
            (status, doc["error"].as_str()),
            (400, Some("unsupported_grant_type"))
        );
        assert!(state.verify_bearer("nope").is_err());
    }

    #[tokio::test]
    async fn tokens_expire_and_are_revoked_after_n_uses() {
        let state = OAuthState::generate(OAuthConfig {
            token_lifetime_secs: 0.2,
            revoke_after_uses: Some(2),
            ..OAuthConfig::default()
        });
        let auth = Some(basic(&state.client_id, &state.client_secret));
        let (_, doc) = call(&state, auth.clone(), "grant_type=client_credentials").await;
        let token = doc["access_token"].as_str().unwrap().to_string();
        assert!(state.verify_bearer(&token).is_ok());
        assert!(state.verify_bearer(&token).is_ok());
        assert!(state
            .verify_bearer(&token)
            .unwrap_err()
            .contains("revoked after 2"));
        assert!(state.verify_bearer(&token).is_err());
        let (_, doc) = call(&state, auth, "grant_type=client_credentials").await;
        let token = doc["access_token"].as_str().unwrap().to_string();
        std::thread::sleep(Duration::from_millis(250));
        assert!(state.verify_bearer(&token).unwrap_err().contains("expired"));
    }
}
