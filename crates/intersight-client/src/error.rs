//! Typed errors of the Intersight client. Every `Display` is one line and none ever contains key
//! material (keys are only ever described by kind and size).

use std::time::Duration;

/// Why a secret key could not be loaded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The setting is empty.
    #[error("the secret key is empty: give PEM text or the path to a PEM file")]
    Empty,
    /// Not PEM text, and no readable file at that path.
    #[error("the secret key is not PEM text (no \"-----BEGIN\" line) and {location}")]
    NotFound {
        /// Why the value names no file; quotes the value only when it cannot be key material.
        location: String,
    },
    /// The base64 body of a key without its `-----BEGIN`/`-----END` lines.
    #[error(
        "the secret key looks like the base64 body of a key without its -----BEGIN and -----END \
         lines ({chars} characters, not shown): give the whole PEM text, those lines included, \
         or the path of the key file"
    )]
    BareBase64 {
        /// Its length in characters (the body itself is never shown).
        chars: usize,
    },
    /// The key file exists but could not be read.
    #[error("could not read the secret key file {path}: {reason}")]
    Unreadable {
        /// The file's path, after `~` expansion.
        path: String,
        /// The operating system's error.
        reason: String,
    },
    /// The key file is larger than a key file can be; nothing past the limit was read.
    #[error(
        "the secret key file {path} is larger than {}, the most a key file may be (a PEM key \
         is a few kilobytes): check that the path names the key file",
        super::pem_source::MAX_PEM_FILE_TEXT
    )]
    TooLarge {
        /// The file's path, after `~` expansion.
        path: String,
    },
    /// PEM text that is truncated or does not parse; the text says what is wrong.
    #[error("the secret key PEM is truncated or malformed: {0}")]
    Malformed(String),
    /// A passphrase-protected or PKCS#8-encrypted private key.
    #[error(
        "the secret key is encrypted ({found}); only unencrypted keys are accepted: {ACCEPTED}"
    )]
    Encrypted {
        /// What was found, e.g. `an ENCRYPTED PRIVATE KEY (PKCS#8)`.
        found: String,
    },
    /// PEM text without a private key (a public key or a certificate, say).
    #[error("the secret key PEM holds only a {found}, not a private key; accepted: {ACCEPTED}")]
    PublicOnly {
        /// What the PEM holds instead.
        found: String,
    },
    /// A private key the API cannot be signed with (RSA under 2048 bits, another curve, …).
    #[error("unsupported secret key: found {found}; accepted: {ACCEPTED}")]
    Unsupported {
        /// What was found, e.g. `an EC key on curve P-384`.
        found: String,
    },
}

/// What [`KeyError`] messages list as accepted.
pub(crate) const ACCEPTED: &str =
    "RSA (PKCS#1 \"RSA PRIVATE KEY\" or PKCS#8 \"PRIVATE KEY\") or EC P-256 \
(SEC1 or PKCS#8, labelled \"EC PRIVATE KEY\" or \"PRIVATE KEY\")";

/// Why an endpoint string was rejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EndpointError {
    /// The setting is empty.
    #[error("the endpoint is empty: give a host such as \"intersight.com\" or a URL such as \"https://host:443\"")]
    Empty,
    /// A URL scheme other than `https` or `http`.
    #[error("the endpoint {given:?} has unsupported scheme {scheme:?}: only https:// and http:// are accepted")]
    Scheme {
        /// The endpoint as configured.
        given: String,
        /// The scheme found.
        scheme: String,
    },
    /// A path, query or fragment after the host and port.
    #[error("the endpoint {given:?} must be a host with an optional port, without {what}: the client adds /api/v1 itself")]
    Extra {
        /// The endpoint as configured.
        given: String,
        /// Which part was found: `a path`, `a query` or `a fragment`.
        what: &'static str,
    },
    /// Not a valid `host[:port]`.
    #[error("the endpoint {given:?} is not a valid host[:port]: {reason}")]
    Invalid {
        /// The endpoint as configured.
        given: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Why a [`super::Client`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `ca_certificate` holds no usable certificate; the text says why.
    #[error("invalid ca_certificate: {0}")]
    CaCertificate(String),
    /// A client setting outside its range (`page_size`, `parallelism`, `request_timeout`,
    /// `key_id`).
    #[error("invalid client setting {name}: {reason}")]
    Setting {
        /// The setting's name.
        name: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The TLS configuration could not be built.
    #[error("could not set up TLS: {0}")]
    Tls(String),
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {0}")]
    Http(String),
    /// A proxy environment variable that applies to the endpoint is not a usable proxy URL.
    /// `reason` never quotes the value (a proxy URL may carry a password).
    #[error("invalid proxy setting in the environment variable {var}: {reason}")]
    Proxy {
        /// The environment variable's name, e.g. `HTTPS_PROXY`.
        var: String,
        /// What is wrong with its value.
        reason: String,
    },
}

/// Why a request failed below the API level: what a caller needs to choose its advice and
/// whether to retry, without reading message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// No TCP connection: refused, host or network unreachable.
    Connect,
    /// The endpoint's host name could not be resolved.
    Dns,
    /// TLS refused the server (or the handshake failed); `custom_ca`: `ca_certificate` was given.
    Tls {
        /// What TLS objected to.
        problem: TlsProblem,
        /// True when `ca_certificate` replaced the system's trust roots.
        custom_ca: bool,
    },
    /// The server answered with a redirect, which is never followed.
    Redirect {
        /// The redirect status (3xx).
        status: u16,
        /// `scheme://host[:port]` of the `Location` (never its path or query); `None` when the
        /// answer had no usable `Location`.
        location: Option<String>,
    },
    /// The answer was not HTTP; `plain_http`: the endpoint is `http://` (likely an HTTPS server).
    Protocol {
        /// True when the endpoint is `http://`.
        plain_http: bool,
    },
    /// The response head (status line and headers) exceeded the client's limit.
    HeadTooLarge,
    /// The proxy could not be reached or refused to carry the request.
    Proxy {
        /// `host:port` of the proxy, never its credentials.
        proxy: String,
    },
    /// The connection closed or was reset before the response was complete.
    Reset,
    /// The connection to an `http://` endpoint was reset or closed before any answer: what
    /// some HTTPS servers do with a plain-HTTP request instead of answering it.
    ResetOnPlainHttp,
    /// The request could not be built (an invalid path, a header value).
    InvalidRequest,
}

/// What TLS objected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate chain does not lead to a trusted CA.
    UnknownIssuer,
    /// The certificate is not valid for the endpoint's host name.
    WrongName,
    /// The certificate has expired or is not valid yet.
    Validity,
    /// Another certificate problem (revoked, bad signature, bad encoding, …).
    OtherCertificate,
    /// The server refused HTTP/1.1, the only protocol the client offers (ALPN): a server
    /// that speaks HTTP/2 alone.
    NoHttp11,
    /// A handshake message of the server's was larger than the 64 KiB the client accepts
    /// (rustls's limit): in practice a very large certificate chain.
    HandshakeTooLarge,
    /// The handshake failed for a reason other than the certificate (no common protocol, …).
    Handshake,
}

impl TransportErrorKind {
    /// A short name for log lines and messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Dns => "dns",
            TransportErrorKind::Tls { .. } => "tls",
            TransportErrorKind::Redirect { .. } => "redirect",
            TransportErrorKind::Protocol { .. } => "protocol",
            TransportErrorKind::HeadTooLarge => "head_too_large",
            TransportErrorKind::Proxy { .. } => "proxy",
            TransportErrorKind::Reset => "reset",
            TransportErrorKind::ResetOnPlainHttp => "reset_plain_http",
            TransportErrorKind::InvalidRequest => "invalid_request",
        }
    }
}

/// How many requests one answer took, and over how long (first send to the final failure).
/// Milliseconds in a `u32` (49 days) keep [`Error`] small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attempts {
    /// Requests sent.
    pub count: u32,
    pub(crate) elapsed_ms: u32,
}

impl Attempts {
    /// `count` attempts over `elapsed` (tests and callers that build errors of their own).
    pub fn new(count: u32, elapsed: Duration) -> Attempts {
        Attempts {
            count,
            elapsed_ms: u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX),
        }
    }

    /// Time from the first send to the final failure (millisecond precision).
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(u64::from(self.elapsed_ms))
    }
}

impl std::fmt::Display for Attempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.count == 1 { "" } else { "s" };
        write!(
            f,
            "{} attempt{plural} over {}",
            self.count,
            fmt_elapsed(self.elapsed())
        )
    }
}

/// `350 ms`, `4.8 s`.
pub fn fmt_elapsed(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Why a request or listing failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The API answered with an error status (after any retries).
    #[error(
        "{method} {}: HTTP {status}{}{}{}{}",
        path_excerpt(path),
        code_part(code),
        message_part(message),
        trace_part(trace_id),
        attempts_part(attempts)
    )]
    Api {
        /// The HTTP status.
        status: u16,
        /// The `code` of the API's error body, when it had one.
        code: Option<String>,
        /// The `message` of the API's error body, when it had one.
        message: Option<String>,
        /// The API's trace id (`traceId` of the body or the `x-starship-traceid` header) for Cisco support.
        trace_id: Option<String>,
        /// The HTTP method.
        method: &'static str,
        /// Path and query of the request.
        path: String,
        /// Requests sent for this answer (1, or 1 + the retries when retries ran out) and the
        /// time they took.
        attempts: Attempts,
    },
    /// Connecting, sending or receiving failed (after any retries); `kind` says why.
    #[error("{method} {}: {detail} ({attempts})", path_excerpt(path))]
    Network {
        /// What failed, for advice and retry decisions.
        kind: TransportErrorKind,
        /// The HTTP method.
        method: &'static str,
        /// Path and query of the request.
        path: String,
        /// The underlying error chain, one line.
        detail: String,
        /// Requests sent (1 + retries) and the time they took.
        attempts: Attempts,
    },
    /// A failure inside the client while carrying out a request (a page task that ended
    /// abnormally); not a network condition.
    #[error("{method} {}: {}", path_excerpt(path), server_excerpt(detail))]
    Transport {
        /// The HTTP method.
        method: String,
        /// Path and query of the request.
        path: String,
        /// What went wrong inside the client.
        detail: String,
    },
    /// The request did not complete within the per-request timeout, or no connection (TCP and
    /// TLS) was made within the connection timeout when `connecting` (after any retries).
    #[error(
        "{method} {}: {} within {timeout:?} ({attempts})",
        path_excerpt(path),
        if *connecting { "no connection" } else { "no complete response" }
    )]
    Timeout {
        /// The HTTP method.
        method: &'static str,
        /// Path and query of the request.
        path: String,
        /// The timeout that ran out (per request, or for connecting when `connecting`).
        timeout: Duration,
        /// The time ran out while connecting (TCP or the TLS handshake).
        connecting: bool,
        /// Requests sent (1 + retries) and the time they took.
        attempts: Attempts,
    },
    /// The response body is not the JSON this client expects.
    #[error(
        "{method} {}: could not decode the response: {}",
        path_excerpt(path),
        server_excerpt(detail)
    )]
    Decode {
        /// The HTTP method.
        method: String,
        /// Path and query of the request.
        path: String,
        /// What the decoder rejected.
        detail: String,
    },
    /// The response body exceeded the size cap.
    #[error(
        "{method} {}: response body larger than {limit} bytes",
        path_excerpt(path)
    )]
    BodyTooLarge {
        /// The HTTP method.
        method: String,
        /// Path and query of the request.
        path: String,
        /// The cap in bytes.
        limit: usize,
    },
    /// The collection kept changing while it was being read.
    #[error(
        "the {resource} collection changed while it was being read ({attempts} attempts): {}",
        server_excerpt(detail)
    )]
    Inconsistent {
        /// The collection, e.g. `iam/OAuthTokens`.
        resource: String,
        /// Reads made, each from the first page.
        attempts: u32,
        /// Why the last read was inconsistent.
        detail: String,
    },
    /// The read did not finish within [`super::ListQuery::timeout`]; says how far it got.
    #[error(
        "reading {resource} did not finish within {}: {pages} {} received in {requests} {} \
         ({retries} {}) after {}",
        seconds(*timeout),
        plural(*pages, "page", "pages"),
        plural(*requests, "request", "requests"),
        plural(*retries, "retry", "retries"),
        seconds(*elapsed)
    )]
    ReadTimeout {
        /// The collection, e.g. `iam/OAuthTokens`.
        resource: String,
        /// The bound that ran out.
        timeout: Duration,
        /// Time the read took before it was stopped.
        elapsed: Duration,
        /// Pages received and decoded.
        pages: u64,
        /// HTTP requests sent, retries included.
        requests: u64,
        /// Retries among those requests.
        retries: u64,
    },
    /// Reading the collection would take more page requests than one read may make
    /// (10,000): a `Count` the pages cannot add up to, or a server that pages without end.
    #[error(
        "{}: reading it would take {pages} page requests of {page_len} objects, more than the \
         {limit} one read may make",
        too_many_pages_cause(resource, *count, *pages)
    )]
    TooManyPages {
        /// The collection, e.g. `iam/OAuthTokens`.
        resource: String,
        /// The `Count` the first page reported (`None`: the server sent no count).
        count: Option<u64>,
        /// Objects per page (the server's own limit when it is below `$top`).
        page_len: u64,
        /// Pages the read planned, or made so far without reaching the end.
        pages: u64,
        /// Page requests one read may make.
        limit: u64,
    },
    /// The page requests of a read would be longer than a request may be
    /// ([`super::MAX_REQUEST_TARGET_BYTES`]); nothing was sent.
    #[error(
        "reading {resource} would send page requests of {length} bytes (path and query), more \
         than the {limit} bytes a request may be; the $filter takes {filter_length} bytes of \
         them once encoded"
    )]
    RequestTooLong {
        /// The collection, e.g. `iam/OAuthTokens`.
        resource: String,
        /// The longest request target (path and query) the read would send, in bytes.
        length: usize,
        /// The most a request target may take, in bytes.
        limit: usize,
        /// The bytes the encoded `$filter` parameter takes of `length`.
        filter_length: usize,
    },
    /// The OAuth token endpoint refused the client credentials (HTTP 400, 401 or 403, with or
    /// without an RFC 6749 error document). Not retried; the client makes no further token
    /// request.
    #[error(
        "POST {}: HTTP {status}: the token endpoint refused the client credentials of client_id \
         {client_id:?}{}{}",
        super::oauth::TOKEN_PATH,
        code_part(error).replacen(' ', ": ", 1),
        description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    TokenRefused {
        /// 400, 401 or 403.
        status: u16,
        /// The document's `error` (`invalid_client`, `unauthorized_client`, …), cut.
        error: Option<String>,
        /// The document's `error_description` (or a non-JSON body's excerpt), cut.
        description: Option<String>,
        /// The client id sent (not a secret).
        client_id: String,
    },
    /// The token endpoint's answer cannot be used (no access token, a token type other than
    /// Bearer, a lifetime that is not one, not JSON, …). Never quotes the token.
    #[error(
        "POST {}: the token endpoint's answer cannot be used: {}",
        super::oauth::TOKEN_PATH,
        server_excerpt(detail)
    )]
    TokenResponse {
        /// What is wrong with the answer.
        detail: String,
    },
    /// No access token could be had: the token request failed (after its retries).
    #[error("could not get an OAuth access token: {0}")]
    TokenRequest(Box<Error>),
    /// The caller's cancellation token fired.
    #[error("the request was cancelled")]
    Cancelled,
    /// The query could not be built (for example an invalid resource name).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
}

impl Error {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Why a request failed below the API level, for [`Error::Network`].
    pub fn transport_kind(&self) -> Option<&TransportErrorKind> {
        match self {
            Error::Network { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// The requests made and the time taken, for errors of one request (after its retries).
    pub fn attempts(&self) -> Option<Attempts> {
        match self {
            Error::Api { attempts, .. }
            | Error::Network { attempts, .. }
            | Error::Timeout { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }
}

/// The most of a request's path and query an error quotes: a long `filter` makes the path
/// long, and a diagnostic of tens of kilobytes helps nobody.
pub const MAX_QUOTED_PATH_CHARS: usize = 300;

/// `path` as errors quote it: the query decoded, at most [`MAX_QUOTED_PATH_CHARS`] characters.
pub fn path_excerpt(path: &str) -> String {
    super::transport::server_text(&readable_target(path), MAX_QUOTED_PATH_CHARS)
}

/// The request target as a person reads it: the query's `+` and `%XX` escapes decoded
/// (`?$filter=Name eq 'a b'`, not `?%24filter=Name+eq+%27a+b%27`). A literal `+` is sent as
/// `%2B`, so it comes back as `+`. Only for messages: what is sent and signed stays encoded.
pub(crate) fn readable_target(path: &str) -> String {
    match path.split_once('?') {
        Some((before, query)) => {
            let spaced = query.replace('+', " ");
            let decoded = percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy();
            format!("{before}?{decoded}")
        }
        None => path.to_owned(),
    }
}

/// Text the server chose, or a library's quote of it (a decoder naming a value, an object's
/// Moid), as errors show it: the one cut every server text gets.
fn server_excerpt(text: &str) -> String {
    super::transport::server_text(text, super::transport::MAX_SERVER_MESSAGE_CHARS)
}

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// A duration as seconds with one decimal ("2.5 s").
fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn too_many_pages_cause(resource: &str, count: Option<u64>, pages: u64) -> String {
    match count {
        Some(count) => format!("the {resource} collection reports {count} objects"),
        None => format!("the {resource} collection sent {pages} full pages without a Count"),
    }
}

fn code_part(code: &Option<String>) -> String {
    code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
}

fn message_part(message: &Option<String>) -> String {
    // One line, whatever the server sent.
    message
        .as_deref()
        .map(|m| format!(": {}", m.split_whitespace().collect::<Vec<_>>().join(" ")))
        .unwrap_or_default()
}

fn attempts_part(attempts: &Attempts) -> String {
    if attempts.count > 1 {
        format!(
            " (after {} attempts over {})",
            attempts.count,
            fmt_elapsed(attempts.elapsed())
        )
    } else {
        String::new()
    }
}

fn trace_part(trace: &Option<String>) -> String {
    trace
        .as_deref()
        .map(|t| format!(" (trace id {t})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_display_is_one_line_with_all_parts() {
        let e = Error::Api {
            status: 401,
            code: Some("AuthenticationFailure".into()),
            message: Some("bad\nsignature".into()),
            trace_id: Some("abc".into()),
            method: "GET",
            path: "/api/v1/iam/OAuthTokens".into(),
            attempts: Attempts::new(1, Duration::from_millis(20)),
        };
        assert_eq!(
            e.to_string(),
            "GET /api/v1/iam/OAuthTokens: HTTP 401 AuthenticationFailure: bad signature (trace id abc)"
        );
        assert_eq!(e.status(), Some(401));
    }

    #[test]
    fn api_error_display_without_optional_parts() {
        let e = Error::Api {
            status: 500,
            code: None,
            message: None,
            trace_id: None,
            method: "GET",
            path: "/x".into(),
            attempts: Attempts::default(),
        };
        assert_eq!(e.to_string(), "GET /x: HTTP 500");
    }

    #[test]
    fn read_timeout_says_how_far_the_read_got() {
        let e = Error::ReadTimeout {
            resource: "iam/OAuthTokens".into(),
            timeout: Duration::from_secs(2),
            elapsed: Duration::from_millis(2004),
            pages: 1,
            requests: 3,
            retries: 2,
        };
        assert_eq!(
            e.to_string(),
            "reading iam/OAuthTokens did not finish within 2.0 s: 1 page received in 3 requests \
             (2 retries) after 2.0 s"
        );
    }

    #[test]
    fn too_many_pages_names_the_count_and_the_limit() {
        let e = Error::TooManyPages {
            resource: "iam/OAuthTokens".into(),
            count: Some(1_000_000_000_000),
            page_len: 2,
            pages: 999_999_999_999,
            limit: 10_000,
        };
        assert_eq!(
            e.to_string(),
            "the iam/OAuthTokens collection reports 1000000000000 objects: reading it would take \
             999999999999 page requests of 2 objects, more than the 10000 one read may make"
        );
        let e = Error::TooManyPages {
            resource: "x/Y".into(),
            count: None,
            page_len: 10,
            pages: 10_000,
            limit: 10_000,
        };
        assert!(e
            .to_string()
            .starts_with("the x/Y collection sent 10000 full pages without a Count"));
    }

    #[test]
    fn request_lines_quote_the_query_decoded() {
        let e = Error::Api {
            status: 400,
            code: None,
            message: None,
            trace_id: None,
            method: "GET",
            path: "/api/v1/iam/OAuthTokens?%24filter=Name+eq+%27a+b%27+and+X+eq+%27%C3%BC%2B%25%27&%24top=100".into(),
            attempts: Attempts::default(),
        };
        assert!(
            e.to_string().starts_with(
                "GET /api/v1/iam/OAuthTokens?$filter=Name eq 'a b' and X eq 'ü+%'&$top=100: HTTP 400"
            ),
            "{e}"
        );
        assert_eq!(readable_target("/x"), "/x");
        // A decoded control character is still shown as a space.
        assert_eq!(path_excerpt("/x?a=%0Ab"), "/x?a= b");
    }

    #[test]
    fn long_paths_and_server_chosen_details_are_cut() {
        // A decoder quotes the value it rejected; an object's Moid is the server's choice; a
        // long `filter` makes the path long.
        let path = format!("/api/v1/iam/OAuthTokens?$filter={}", "x".repeat(100_000));
        let quoted = format!(
            "invalid type: string \"{}\", expected u64",
            "v".repeat(60_000)
        );
        for e in [
            Error::Decode {
                method: "GET".into(),
                path: path.clone(),
                detail: quoted.clone(),
            },
            Error::Inconsistent {
                resource: "iam/OAuthTokens".into(),
                attempts: 3,
                detail: quoted.clone(),
            },
            Error::Transport {
                method: "GET".into(),
                path: path.clone(),
                detail: quoted.clone(),
            },
            Error::Api {
                status: 500,
                code: None,
                message: None,
                trace_id: None,
                method: "GET",
                path: path.clone(),
                attempts: Attempts::default(),
            },
            Error::BodyTooLarge {
                method: "GET".into(),
                path: path.clone(),
                limit: 1,
            },
        ] {
            let text = e.to_string();
            assert!(text.chars().count() < 1000, "{} characters", text.len());
            assert!(text.contains('…'), "{text}");
        }
        let e = Error::Decode {
            method: "GET".into(),
            path: "/x".into(),
            detail: quoted,
        };
        assert!(
            e.to_string()
                .starts_with("GET /x: could not decode the response: invalid type: string \"vvv"),
            "{e}"
        );
        assert_eq!(
            path_excerpt(&path).chars().count(),
            MAX_QUOTED_PATH_CHARS + 1
        );
    }

    #[test]
    fn api_error_display_names_the_attempts_after_retries() {
        let e = Error::Api {
            status: 503,
            code: Some("ServiceUnavailable".into()),
            message: None,
            trace_id: None,
            method: "GET",
            path: "/x".into(),
            attempts: Attempts::new(3, Duration::from_millis(4_840)),
        };
        assert_eq!(
            e.to_string(),
            "GET /x: HTTP 503 ServiceUnavailable (after 3 attempts over 4.8 s)"
        );
    }

    #[test]
    fn network_and_timeout_errors_always_give_attempts_and_elapsed() {
        let e = Error::Network {
            kind: TransportErrorKind::Dns,
            method: "GET",
            path: "/x".into(),
            detail: "cannot resolve h.invalid".into(),
            attempts: Attempts::new(1, Duration::from_millis(3)),
        };
        assert_eq!(
            e.to_string(),
            "GET /x: cannot resolve h.invalid (1 attempt over 3 ms)"
        );
        assert_eq!(e.transport_kind(), Some(&TransportErrorKind::Dns));
        let e = Error::Timeout {
            method: "GET",
            path: "/x".into(),
            timeout: Duration::from_secs(2),
            connecting: false,
            attempts: Attempts::new(2, Duration::from_millis(4_020)),
        };
        assert_eq!(
            e.to_string(),
            "GET /x: no complete response within 2s (2 attempts over 4.0 s)"
        );
        assert_eq!(e.attempts().map(|a| a.count), Some(2));
    }
}
