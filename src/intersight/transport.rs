//! HTTP transport: a reqwest client on our own rustls configuration, request signing, the
//! per-request timeout, bounded retries with backoff, body size caps and cancellation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::Rng as _;
use reqwest::header::{HeaderMap, HeaderValue};
use tokio_util::sync::CancellationToken;

use super::endpoint::Endpoint;
use super::error::{ConfigError, Error};
use super::keys::SecretKey;
use super::signing::{self, RequestToSign};

/// Turns a response body into a value (a page, for listings).
pub(crate) type DecodeFn<'a, T> = dyn Fn(&[u8]) -> serde_json::Result<T> + Sync + 'a;
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
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// A delay drawn uniformly from `[0, ceiling(retry)]` ("full jitter").
    pub fn jittered(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry).as_micros().min(u64::MAX as u128) as u64;
        Duration::from_micros(rand::rng().random_range(0..=ceiling))
    }

    /// The delay before retry number `retry`, honouring a server-given `Retry-After`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(d) => d.min(self.max_retry_after),
            None => self.jittered(retry),
        }
    }
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
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
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    /// [`super::ListQuery::read_id`] of the read these requests belong to ("" for none).
    #[allow(dead_code)] // for the request log lines (being written)
    pub read_id: String,
}

pub(crate) struct Transport {
    http: reqwest::Client,
    endpoint: Endpoint,
    key_id: String,
    key: Arc<SecretKey>,
    timeout: Duration,
    max_retries: u32,
    backoff: Backoff,
    body_limit: usize,
}

/// One attempt's failure, and whether it is worth retrying.
enum Failure {
    Retry(Error, Option<Duration>),
    Fatal(Error),
}

pub(crate) struct TransportSettings {
    pub endpoint: Endpoint,
    pub key_id: String,
    pub key: SecretKey,
    pub tls: TlsOptions,
    pub timeout: Duration,
    pub max_retries: u32,
    pub backoff: Backoff,
    pub body_limit: usize,
    pub max_connections: usize,
}

impl Transport {
    pub(crate) fn new(s: TransportSettings) -> Result<Transport, ConfigError> {
        let tls = build_tls(&s.tls)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(format!("terraform-provider-intersight/{}", crate::VERSION))
            .connect_timeout(s.timeout.min(Duration::from_secs(30)))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(s.max_connections.max(1))
            .build()
            .map_err(|e| ConfigError::Http(error_chain(&e)))?;
        Ok(Transport {
            http,
            endpoint: s.endpoint,
            key_id: s.key_id,
            key: Arc::new(s.key),
            timeout: s.timeout,
            max_retries: s.max_retries,
            backoff: s.backoff,
            body_limit: s.body_limit,
        })
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// GETs `path_and_query` (already percent-encoded; signed exactly as given) and decodes the
    /// JSON body with `decode`, retrying transient failures (a body that ends early included).
    pub(crate) async fn get_decoded<T>(
        &self,
        path_and_query: &str,
        cancel: &CancellationToken,
        counters: &Counters,
        decode: &DecodeFn<'_, T>,
    ) -> Result<T, Error> {
        let mut retry = 0u32;
        loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            counters.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Error::Cancelled),
                r = self.attempt::<T>(path_and_query, decode) => r,
            };
            let (mut error, retry_after) = match outcome {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(e, after)) => (e, after),
            };
            if retry >= self.max_retries {
                if let Error::Api { attempts, .. } = &mut error {
                    *attempts = retry + 1;
                }
                return Err(error);
            }
            let delay = self.backoff.delay(retry, retry_after);
            retry += 1;
            counters.retries.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(Error::Cancelled),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn attempt<T>(
        &self,
        path_and_query: &str,
        decode: &DecodeFn<'_, T>,
    ) -> Result<T, Failure> {
        let method = "GET";
        let fatal = |detail: String| {
            Failure::Fatal(Error::Transport {
                method: method.into(),
                path: path_and_query.into(),
                detail,
            })
        };
        let url = reqwest::Url::parse(&format!("{}{}", self.endpoint.base_url(), path_and_query))
            .map_err(|e| fatal(format!("invalid URL: {e}")))?;
        // What we sign must be byte-for-byte the request target that goes on the wire.
        let sent = match url.query() {
            Some(q) => format!("{}?{}", url.path(), q),
            None => url.path().to_string(),
        };
        if sent != path_and_query {
            return Err(fatal(format!(
                "the request target would be re-encoded as {sent:?}"
            )));
        }
        let host = self.endpoint.host_header();
        let signed = signing::sign(
            &RequestToSign {
                method,
                path_and_query,
                host: &host,
                body: b"",
            },
            &self.key,
            &self.key_id,
            SystemTime::now(),
        );
        // No explicit Host: hyper derives it (HTTP/1) or `:authority` (HTTP/2) from the URL,
        // which is exactly `host_header()` (the URL parser drops a default port, as we do).
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
                .map_err(|_| fatal(format!("the {name} header value is not valid")))?;
            // Keeps the signature out of any header debug output.
            value.set_sensitive(name == reqwest::header::AUTHORIZATION);
            headers.insert(name, value);
        }
        let digest = HeaderValue::from_str(&signed.digest)
            .map_err(|_| fatal("the digest header value is not valid".into()))?;
        headers.insert("digest", digest);

        let response = self
            .http
            .get(url)
            .headers(headers)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| self.classify(&e, path_and_query))?;
        let status = response.status();
        if status.is_success() {
            let body = self
                .read_body(response, path_and_query, self.body_limit)
                .await?;
            return decode(&body).map_err(|e| {
                let truncated = e.is_eof();
                let error = Error::Decode {
                    method: method.into(),
                    path: path_and_query.into(),
                    detail: if truncated {
                        format!("the body ends early (truncated?): {e}")
                    } else {
                        e.to_string()
                    },
                };
                // JSON that stops mid-value is a body cut short (even when its length header
                // agrees): worth another try. Well-formed but wrong JSON is not.
                if truncated {
                    Failure::Retry(error, None)
                } else {
                    Failure::Fatal(error)
                }
            });
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let header_trace = response
            .headers()
            .get("x-starship-traceid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Error bodies are small; a huge one is cut rather than failing the diagnosis.
        let body = self
            .read_body(response, path_and_query, 64 * 1024)
            .await
            .unwrap_or_default();
        let parsed = ErrorBody::parse(&body);
        let error = Error::Api {
            status: status.as_u16(),
            code: parsed.code,
            message: parsed.message,
            trace_id: parsed.trace_id.or(header_trace),
            method: method.into(),
            path: path_and_query.into(),
            attempts: 1,
        };
        match status.as_u16() {
            429 | 502 | 503 | 504 => Err(Failure::Retry(error, retry_after)),
            _ => Err(Failure::Fatal(error)),
        }
    }

    /// Reads the body in chunks, refusing more than `limit` bytes.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        path: &str,
        limit: usize,
    ) -> Result<Vec<u8>, Failure> {
        let too_large = || {
            Failure::Fatal(Error::BodyTooLarge {
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

    fn classify(&self, e: &reqwest::Error, path: &str) -> Failure {
        if e.is_timeout() {
            return Failure::Retry(
                Error::Timeout {
                    method: "GET".into(),
                    path: path.into(),
                    timeout: self.timeout,
                },
                None,
            );
        }
        // reqwest's own text repeats the URL; say what failed, then the underlying causes.
        let what = if e.is_connect() {
            format!("cannot connect to {}", self.endpoint)
        } else if e.is_body() || e.is_decode() {
            "the response was cut off".to_string()
        } else {
            format!("the request to {} failed", self.endpoint)
        };
        let causes = std::error::Error::source(e).map(error_chain);
        let error = Error::Transport {
            method: "GET".into(),
            path: path.into(),
            detail: match causes {
                Some(c) => format!("{what}: {c}"),
                None => what,
            },
        };
        if e.is_builder() || is_tls_rejection(e) {
            Failure::Fatal(error)
        } else {
            // Connect failures, resets and truncated bodies are transient.
            Failure::Retry(error, None)
        }
    }
}

/// True when TLS refused the server (bad certificate, no common protocol): retrying cannot help.
/// The rustls error sits inside `io::Error`s (sometimes nested) somewhere in the source chain.
fn is_tls_rejection(e: &(dyn std::error::Error + 'static)) -> bool {
    if e.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        if is_tls_rejection(inner) {
            return true;
        }
    }
    e.source().is_some_and(is_tls_rejection)
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
    fn parse(body: &[u8]) -> ErrorBody {
        let text = |v: &serde_json::Value, k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) if v.is_object() => ErrorBody {
                code: text(&v, "code"),
                message: text(&v, "message"),
                trace_id: text(&v, "traceId"),
            },
            _ => {
                // Not the API's JSON (a proxy's HTML page, say): keep a short excerpt.
                let s = String::from_utf8_lossy(body);
                let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
                let s: String = s.chars().take(200).collect();
                ErrorBody {
                    message: (!s.is_empty()).then_some(s),
                    ..ErrorBody::default()
                }
            }
        }
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
    // A preconfigured rustls config must announce ALPN itself.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
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
        assert_eq!(cfg.alpn_protocols[1], b"http/1.1");
        assert!(build_tls(&TlsOptions {
            insecure: true,
            ca_certificate: None
        })
        .is_ok());
    }
}
