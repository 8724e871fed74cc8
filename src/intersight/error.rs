//! Typed errors of the Intersight client. Every `Display` is one line and none ever contains key
//! material (keys are only ever described by kind and size).

use std::time::Duration;

/// Why a secret key could not be loaded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    #[error("the secret key is empty: give PEM text or the path to a PEM file")]
    Empty,
    #[error("the secret key is not PEM text (no \"-----BEGIN\" line) and {location}")]
    NotFound { location: String },
    #[error(
        "the secret key looks like the base64 body of a key without its -----BEGIN and -----END \
         lines ({chars} characters, not shown): give the whole PEM text, those lines included, \
         or the path of the key file"
    )]
    BareBase64 { chars: usize },
    #[error("could not read the secret key file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the secret key PEM is truncated or malformed: {0}")]
    Malformed(String),
    #[error(
        "the secret key is encrypted ({found}); only unencrypted keys are accepted: {ACCEPTED}"
    )]
    Encrypted { found: String },
    #[error("the secret key PEM holds only a {found}, not a private key; accepted: {ACCEPTED}")]
    PublicOnly { found: String },
    #[error("unsupported secret key: found {found}; accepted: {ACCEPTED}")]
    Unsupported { found: String },
}

/// What [`KeyError`] messages list as accepted.
pub const ACCEPTED: &str =
    "RSA (PKCS#1 \"RSA PRIVATE KEY\" or PKCS#8 \"PRIVATE KEY\") or EC P-256 \
(SEC1 or PKCS#8, labelled \"EC PRIVATE KEY\" or \"PRIVATE KEY\")";

/// Why an endpoint string was rejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EndpointError {
    #[error("the endpoint is empty: give a host such as \"intersight.com\" or a URL such as \"https://host:443\"")]
    Empty,
    #[error("the endpoint {given:?} has unsupported scheme {scheme:?}: only https:// and http:// are accepted")]
    Scheme { given: String, scheme: String },
    #[error("the endpoint {given:?} must be a host with an optional port, without {what}: the client adds /api/v1 itself")]
    Extra { given: String, what: &'static str },
    #[error("the endpoint {given:?} is not a valid host[:port]: {reason}")]
    Invalid { given: String, reason: String },
}

/// Why a [`super::Client`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid ca_certificate: {0}")]
    CaCertificate(String),
    #[error("invalid client setting {name}: {reason}")]
    Setting { name: &'static str, reason: String },
    #[error("could not set up TLS: {0}")]
    Tls(String),
    #[error("could not build the HTTP client: {0}")]
    Http(String),
}

/// Why a request or listing failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error status (after any retries).
    #[error(
        "{method} {path}: HTTP {status}{}{}{}{}",
        code_part(code),
        message_part(message),
        trace_part(trace_id),
        attempts_part(*attempts)
    )]
    Api {
        status: u16,
        code: Option<String>,
        message: Option<String>,
        trace_id: Option<String>,
        method: String,
        path: String,
        /// Requests sent for this answer: 1, or 1 + the retries when retries ran out.
        attempts: u32,
    },
    /// Connecting, sending or receiving failed (after any retries).
    #[error("{method} {path}: {detail}")]
    Transport {
        method: String,
        path: String,
        detail: String,
    },
    /// The request did not complete within the per-request timeout (after any retries).
    #[error("{method} {path}: no complete response within {timeout:?}")]
    Timeout {
        method: String,
        path: String,
        timeout: Duration,
    },
    /// The response body is not the JSON this client expects.
    #[error("{method} {path}: could not decode the response: {detail}")]
    Decode {
        method: String,
        path: String,
        detail: String,
    },
    /// The response body exceeded the size cap.
    #[error("{method} {path}: response body larger than {limit} bytes")]
    BodyTooLarge {
        method: String,
        path: String,
        limit: usize,
    },
    /// The collection kept changing while it was being read.
    #[error(
        "the {resource} collection changed while it was being read ({attempts} attempts): {detail}"
    )]
    Inconsistent {
        resource: String,
        attempts: u32,
        detail: String,
    },
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

fn attempts_part(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
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
            method: "GET".into(),
            path: "/api/v1/iam/OAuthTokens".into(),
            attempts: 1,
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
            method: "GET".into(),
            path: "/x".into(),
            attempts: 1,
        };
        assert_eq!(e.to_string(), "GET /x: HTTP 500");
    }

    #[test]
    fn api_error_display_names_the_attempts_after_retries() {
        let e = Error::Api {
            status: 503,
            code: Some("ServiceUnavailable".into()),
            message: None,
            trace_id: None,
            method: "GET".into(),
            path: "/x".into(),
            attempts: 3,
        };
        assert_eq!(
            e.to_string(),
            "GET /x: HTTP 503 ServiceUnavailable (after 3 attempts)"
        );
    }
}
