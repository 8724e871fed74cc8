//! HTTP transport: a reqwest client on our own rustls configuration, request signing, the
//! per-request timeout, bounded retries with backoff (how often depends on the failure's kind),
//! body size caps, cancellation, no redirects, proxies from [`ProxyConfig`], and a TRACE
//! `request` / WARN `retry` log line per attempt / retry.
//!
//! - [`retry`]: the retry policy (backoff, `Retry-After`, which failures are retried how often)
//!   and the loop that applies it;
//! - [`request`]: one request (signed or with a Bearer token), its answer and its body;
//! - [`classify`]: a library error turned into a typed failure;
//! - [`dns`]: host name resolution with typed failures;
//! - [`tls`]: the rustls configuration.

mod classify;
mod dns;
mod permits;
mod request;
mod retry;
#[cfg(test)]
mod tests;
mod tls;

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::endpoint::Endpoint;
use super::error::{Attempts, ConfigError, Error, TransportErrorKind};
use super::keys::SecretKey;
use super::oauth::TokenSource;
use super::proxy::{ProxyConfig, ProxyUrl};
use crate::log::Level;

use classify::error_chain;
use dns::SystemResolver;
pub(crate) use permits::{Permits, RequestPermit};
pub(crate) use request::{server_text, MAX_SERVER_MESSAGE_CHARS};
pub use retry::{Backoff, RETRIED_STATUSES};
pub(crate) use retry::{Failure, RetryRule};
use tls::build_tls;
pub use tls::TlsOptions;

/// Turns a response body into a value (a page, for listings). It runs on tokio's blocking pool
/// (decoding a page is CPU work that scales with what the server sends, and must not hold an
/// async worker that other RPCs need), hence owned and `'static`; it should return soon after
/// the token it is given is cancelled (the attempt it belongs to has ended).
pub(crate) type DecodeFn<T> =
    Arc<dyn Fn(&[u8], &CancellationToken) -> serde_json::Result<T> + Send + Sync + 'static>;

/// Sees a success's body once it has arrived and before it is decoded (on the async runtime:
/// it must do only small, bounded work, such as reading a few hundred bytes).
pub(crate) type BodyFn = Arc<dyn Fn(&[u8]) + Send + Sync + 'static>;

/// One GET whose body is decoded: what [`Transport::get_decoded`] needs besides the transport.
pub(crate) struct DecodedGet<'a, T> {
    /// The path and query, already percent-encoded (signed exactly as given).
    pub(crate) path_and_query: &'a str,
    pub(crate) cancel: &'a CancellationToken,
    pub(crate) counters: &'a Counters,
    pub(crate) decode: &'a DecodeFn<T>,
    /// The request's hold on the client's permits (see [`permits`]).
    pub(crate) permit: &'a RequestPermit,
    /// Called with each success's body before its decode (a read plans its further pages
    /// from the first page's `Count` this way).
    pub(crate) on_body: Option<&'a BodyFn>,
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
#[derive(Clone)]
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

/// Cheap to clone (the HTTP client and the credentials are shared): a token request runs in a
/// task of its own with a clone.
#[derive(Clone)]
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

    /// GETs `get.path_and_query` and decodes the JSON body with `get.decode`, retrying
    /// transient failures (a body that ends early included). Each attempt holds a request
    /// permit until its body has been read, then a decode permit while the body is decoded (see
    /// [`permits`]). With OAuth, a 401 drops the token the request carried and repeats it once
    /// with a new one. Logs a TRACE `request` line per attempt and a WARN `retry` line per retry.
    pub(crate) async fn get_decoded<T: Send + 'static>(
        &self,
        get: &DecodedGet<'_, T>,
    ) -> Result<T, Error> {
        let (path_and_query, counters) = (get.path_and_query, get.counters);
        // Set once this request met a 401 and is repeated with a new token.
        let repeating = std::sync::atomic::AtomicBool::new(false);
        self.with_retries(
            "GET",
            path_and_query,
            self.auth.scheme(),
            get.cancel,
            counters,
            || async {
                let mut seen = AttemptLog::default();
                // A repeat after a body that was decoded (one cut short) waits for a request
                // permit again; the others still hold theirs.
                if let Err(error) = get.permit.before_sending().await {
                    return (seen, Err(Failure::fatal(error)));
                }
                counters.requests.fetch_add(1, Ordering::Relaxed);
                let mut bearer = None;
                let mut outcome = self.attempt::<T>(get, &mut seen, &mut bearer).await;
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
}
