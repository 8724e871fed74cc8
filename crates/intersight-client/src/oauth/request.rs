//! One token request: its headers, the POST with the transport's retry policy, and the answer
//! (a grant, a refusal with its RFC 6749 error document, or an error answer) with its checks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::{
    mask_error, mask_text, ClientCredentials, Grant, DEFAULT_EXPIRES_IN, MAX_ACCESS_TOKEN_BYTES,
    MAX_ERROR_CODE_CHARS, MAX_EXPIRES_IN, MAX_MASKED_TOKENS, MAX_TOKEN_RESPONSE_BYTES,
    MIN_EXPIRES_IN, TOKEN_PATH,
};
use crate::error::Error;
use crate::transport::{
    server_text, AttemptLog, Counters, Failure, RetryRule, Transport, MAX_SERVER_MESSAGE_CHARS,
};

/// What a token request needs, shared with the task that sends it.
pub(super) struct Requester {
    pub(super) credentials: ClientCredentials,
    /// Token requests sent (attempts, retries included).
    pub(super) requests: AtomicU64,
    /// The access tokens this client holds or has held (the newest last, at most
    /// [`MAX_MASKED_TOKENS`]): masked in every server text, the token endpoint's included.
    pub(super) held: std::sync::Mutex<Vec<Arc<Zeroizing<String>>>>,
}

impl Requester {
    /// See [`TokenSource::masks`].
    pub(super) fn masks(&self) -> Vec<Zeroizing<String>> {
        let mut masks = self.credentials.secret_forms();
        if let Ok(held) = self.held.lock() {
            masks.extend(held.iter().map(|t| Zeroizing::new(t.as_str().to_string())));
        }
        masks
    }

    /// Remembers a token for masking.
    pub(super) fn hold(&self, token: &Arc<Zeroizing<String>>) {
        if let Ok(mut held) = self.held.lock() {
            if held.len() >= MAX_MASKED_TOKENS {
                held.remove(0);
            }
            held.push(token.clone());
        }
    }

    /// One token request, with the transport's retry policy.
    pub(super) async fn fetch(&self, transport: &Transport, read_id: &str) -> Result<Grant, Error> {
        let counters = Counters {
            read_id: read_id.to_string(),
            ..Counters::default()
        };
        // No caller's cancellation ends it (see `InFlight`); the transport's timeout and
        // retries bound it.
        let cancel = CancellationToken::new();
        let outcome = transport
            .with_retries("POST", TOKEN_PATH, "basic", &cancel, &counters, || async {
                self.requests.fetch_add(1, Ordering::Relaxed);
                let mut seen = AttemptLog::default();
                let result = self.attempt(transport, &mut seen).await;
                (seen, result)
            })
            .await;
        outcome.map_err(|e| self.mask(as_post(e)))
    }

    /// The headers of a token request: the client credentials as Basic authorization.
    fn token_request_headers(&self) -> Result<HeaderMap, reqwest::header::InvalidHeaderValue> {
        let mut basic = HeaderValue::from_str(&self.credentials.basic_authorization())?;
        basic.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, basic);
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        Ok(headers)
    }

    /// One POST to the token endpoint.
    async fn attempt(
        &self,
        transport: &Transport,
        seen: &mut AttemptLog,
    ) -> Result<Grant, Failure> {
        let url = transport
            .url_for(TOKEN_PATH)
            .map_err(|e| Failure::fatal(as_post(e)))?;
        let headers = self.token_request_headers().map_err(|_| {
            Failure::fatal(Error::TokenResponse {
                detail: "the client credentials do not make a valid header".into(),
            })
        })?;
        let response = transport
            .http()
            .post(url.clone())
            .headers(headers)
            .body("grant_type=client_credentials")
            .timeout(transport.timeout())
            .send()
            .await
            .map_err(|e| transport.classify(&e, TOKEN_PATH))?;
        let status = response.status().as_u16();
        seen.status = Some(status);
        if response.status().is_redirection() {
            return Err(transport.redirect(&response, &url, TOKEN_PATH));
        }
        // 403 too: some servers refuse a client that may not use the grant so, with the same
        // RFC 6749 error document.
        if status == 400 || status == 401 || status == 403 {
            return Err(self.refusal(transport, response, seen).await);
        }
        if !response.status().is_success() {
            let forms = self.masks();
            let forms: Vec<&str> = forms.iter().map(|s| s.as_str()).collect();
            return Err(transport
                .error_answer(response, TOKEN_PATH, seen, &forms)
                .await);
        }
        let body = transport
            .read_body(response, TOKEN_PATH, MAX_TOKEN_RESPONSE_BYTES)
            .await?;
        seen.bytes = body.len();
        parse_grant(&body).map_err(|detail| {
            // Cut short while arriving is worth another try, as for pages.
            let truncated = detail.starts_with(TRUNCATED);
            Failure {
                error: Error::TokenResponse { detail },
                rule: if truncated {
                    RetryRule::UpToMax
                } else {
                    RetryRule::Never
                },
                retry_after: None,
            }
        })
    }

    /// The token endpoint's refusal (400, 401 or 403) with its RFC 6749 error document.
    async fn refusal(
        &self,
        transport: &Transport,
        response: reqwest::Response,
        seen: &mut AttemptLog,
    ) -> Failure {
        let status = response.status().as_u16();
        let body = transport
            .read_body(response, TOKEN_PATH, MAX_TOKEN_RESPONSE_BYTES)
            .await
            .unwrap_or_default();
        seen.bytes = body.len();
        let forms = self.masks();
        let forms: Vec<&str> = forms.iter().map(|s| s.as_str()).collect();
        let document = ErrorDocument::parse(&body, &forms);
        Failure::fatal(Error::TokenRefused {
            status,
            error: document.error,
            description: document.description,
            client_id: self.credentials.shown_client_id(),
        })
    }

    /// `error` with every form of the secret and every token held replaced by `***`.
    pub(super) fn mask(&self, error: Error) -> Error {
        let forms = self.masks();
        let forms: Vec<&str> = forms.iter().map(|s| s.as_str()).collect();
        mask_error(error, &forms)
    }
}

/// The transport's errors name `GET`; the token request is a POST.
fn as_post(mut error: Error) -> Error {
    match &mut error {
        Error::Api { method, .. }
        | Error::Network { method, .. }
        | Error::Timeout { method, .. } => *method = "POST",
        Error::Decode { method, .. }
        | Error::BodyTooLarge { method, .. }
        | Error::Transport { method, .. } => *method = "POST".into(),
        _ => {}
    }
    error
}

/// The start of the detail of an answer that ends early.
pub(super) const TRUNCATED: &str = "the answer ends early";

/// The token answer (RFC 6749 section 5.1): a Bearer `access_token` with the RFC 6750 token
/// syntax, and its lifetime. The error text never quotes the token.
pub(super) fn parse_grant(body: &[u8]) -> Result<Grant, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() {
            format!("{TRUNCATED} (truncated?)")
        } else {
            format!(
                "the answer is not JSON ({} at line {} column {})",
                match e.classify() {
                    serde_json::error::Category::Syntax => "a syntax error",
                    serde_json::error::Category::Data => "unexpected data",
                    _ => "unreadable",
                },
                e.line(),
                e.column()
            )
        }
    })?;
    let object = value
        .as_object()
        .ok_or_else(|| "the answer is not a JSON object".to_string())?;
    let token = match object.get("access_token") {
        None | Some(serde_json::Value::Null) => return Err("the answer has no access_token".into()),
        Some(serde_json::Value::String(s)) => Zeroizing::new(s.clone()),
        Some(_) => return Err("the access_token is not a string".into()),
    };
    check_token_syntax(&token)?;
    match object.get("token_type") {
        Some(serde_json::Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
        Some(serde_json::Value::String(t)) => {
            return Err(format!(
                "the token_type is {:?}, not Bearer (the only type this provider can use)",
                server_text(t, MAX_ERROR_CODE_CHARS)
            ))
        }
        None | Some(serde_json::Value::Null) => {
            return Err("the answer has no token_type (Bearer expected)".into())
        }
        Some(_) => return Err("the token_type is not a string".into()),
    }
    let lifetime = lifetime(object.get("expires_in"))?;
    Ok(Grant { token, lifetime })
}

/// RFC 6750 section 2.1: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn check_token_syntax(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("the access_token is empty".into());
    }
    if token.len() > MAX_ACCESS_TOKEN_BYTES {
        return Err(format!(
            "the access_token is {} bytes long, more than the {MAX_ACCESS_TOKEN_BYTES} accepted",
            token.len()
        ));
    }
    let body = token.trim_end_matches('=');
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~+/".contains(c);
    if body.is_empty() {
        return Err("the access_token has no characters before its `=` padding".into());
    }
    if let Some(position) = body.chars().position(|c| !allowed(c)) {
        return Err(format!(
            "the access_token ({} characters, not shown) has a character that a Bearer token \
             cannot hold (RFC 6750 section 2.1) at position {}",
            token.chars().count(),
            position + 1
        ));
    }
    Ok(())
}

/// `expires_in`: seconds as a number (or a string of digits, as some servers send), at least
/// [`MIN_EXPIRES_IN`], cut to [`MAX_EXPIRES_IN`]; absent or null: [`DEFAULT_EXPIRES_IN`].
fn lifetime(value: Option<&serde_json::Value>) -> Result<Duration, String> {
    let seconds = match value {
        None | Some(serde_json::Value::Null) => return Ok(DEFAULT_EXPIRES_IN),
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s))
            if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse::<f64>().ok()
        }
        Some(_) => None,
    };
    let Some(seconds) = seconds.filter(|s| s.is_finite()) else {
        return Err("the expires_in is not a number of seconds".into());
    };
    if seconds < MIN_EXPIRES_IN.as_secs_f64() {
        return Err(format!(
            "the expires_in is {seconds} s: a token must live at least {} s to be used",
            MIN_EXPIRES_IN.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(
        seconds.min(MAX_EXPIRES_IN.as_secs_f64()),
    ))
}

/// An RFC 6749 section 5.2 error document's `error` and `error_description`, cut like all
/// server text; for a body that is not one, a short excerpt as the description.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ErrorDocument {
    pub(super) error: Option<String>,
    pub(super) description: Option<String>,
}

impl ErrorDocument {
    /// The document, with each of `secrets` masked before the text is cut.
    pub(super) fn parse(body: &[u8], secrets: &[&str]) -> ErrorDocument {
        let text = |v: &serde_json::Value, k: &str, max: usize| {
            v.get(k)
                .and_then(|x| x.as_str())
                .map(|s| server_text(&mask_text(s, secrets), max))
                .filter(|s| !s.is_empty())
        };
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) if v.is_object() => ErrorDocument {
                error: text(&v, "error", MAX_ERROR_CODE_CHARS),
                // Intersight's own error shape, when the endpoint answers like the API.
                description: text(&v, "error_description", MAX_SERVER_MESSAGE_CHARS)
                    .or_else(|| text(&v, "message", MAX_SERVER_MESSAGE_CHARS)),
            },
            _ => {
                let s = server_text(&mask_text(&String::from_utf8_lossy(body), secrets), 200);
                ErrorDocument {
                    error: None,
                    description: (!s.is_empty()).then_some(s),
                }
            }
        }
    }
}
