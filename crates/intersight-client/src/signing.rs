//! HTTP request signing (draft-cavage HTTP signatures, scheme `hs2019`) as Intersight expects.
//!
//! Signing is a pure function of the request (method, path+query as sent, host, body), the key,
//! the key id and the clock time, so it can be tested against known answers.
//!
//! Signed items, in this order: `(request-target) (created) (expires) host date digest
//! content-type`; `(expires)` is `(created)` + 600 s written with three decimals (as the official
//! Go SDK does). RSA keys sign with RSASSA-PKCS1-v1_5/SHA-256 (deterministic), P-256 keys with
//! ECDSA/SHA-256 (random nonces from the system RNG, ASN.1 DER signature), both through the
//! crypto backend TLS uses (`super::crypto`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use super::crypto;
use super::keys::SecretKey;

pub use super::crypto::SignError;

/// How long a signature stays valid after it is created.
pub(crate) const SIGNATURE_VALIDITY: Duration = Duration::from_secs(600);

/// The signed header list, as it appears in the `Authorization` header.
pub(crate) const SIGNED_HEADERS: &str =
    "(request-target) (created) (expires) host date digest content-type";

/// The content type sent (and signed) on every request, GET included.
pub(crate) const CONTENT_TYPE: &str = "application/json";

/// What is signed about one request.
#[derive(Debug, Clone, Copy)]
pub struct RequestToSign<'a> {
    /// HTTP method, any case (it is lower-cased in the request target).
    pub method: &'a str,
    /// Path and query exactly as sent on the request line, e.g. `/api/v1/iam/OAuthTokens?%24top=1`.
    pub path_and_query: &'a str,
    /// `Host` header value as sent: host, plus `:port` when not the scheme default.
    pub host: &'a str,
    /// The request body (empty for a GET); the `Digest` header is its SHA-256.
    pub body: &'a [u8],
}

/// The headers to add to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// The `Authorization` header: the HTTP signature with the key id and signed header list.
    pub authorization: String,
    /// The `Date` header (RFC 7231 format), part of what is signed.
    pub date: String,
    /// The `Digest` header: `SHA-256=` and the base64 hash of the body.
    pub digest: String,
    /// The `Host` header, as signed.
    pub host: String,
    /// The `Content-Type` header, as signed.
    pub content_type: &'static str,
    /// The exact string that was signed (for diagnostics and tests; contains no secret).
    pub string_to_sign: String,
}

/// The `Digest` header value for a body: `SHA-256=` + base64(sha256(body)).
pub(crate) fn body_digest(body: &[u8]) -> String {
    format!(
        "SHA-256={}",
        base64::engine::general_purpose::STANDARD.encode(crypto::sha256(body))
    )
}

/// Builds the string to sign for a request at Unix time `created` (seconds).
pub(crate) fn string_to_sign(
    req: &RequestToSign<'_>,
    created: u64,
    date: &str,
    digest: &str,
) -> String {
    let expires = created + SIGNATURE_VALIDITY.as_secs();
    format!(
        "(request-target): {} {}\n(created): {created}\n(expires): {}\nhost: {}\ndate: {date}\ndigest: {digest}\ncontent-type: {CONTENT_TYPE}",
        req.method.to_ascii_lowercase(),
        req.path_and_query,
        format_expires(expires),
        req.host,
    )
}

fn format_expires(expires: u64) -> String {
    // `%.3f` of a whole number of seconds.
    format!("{expires}.000")
}

/// Signs a request at clock time `now`. Fails only on an internal error of the crypto library.
pub fn sign(
    req: &RequestToSign<'_>,
    key: &SecretKey,
    key_id: &str,
    now: SystemTime,
) -> Result<SignatureHeaders, SignError> {
    let created = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(created));
    let digest = body_digest(req.body);
    let string_to_sign = string_to_sign(req, created, &date, &digest);
    let signature = key.inner().sign(string_to_sign.as_bytes())?;
    let authorization = format!(
        "Signature keyId=\"{key_id}\",algorithm=\"hs2019\",created={created},expires={},headers=\"{SIGNED_HEADERS}\",signature=\"{}\"",
        format_expires(created + SIGNATURE_VALIDITY.as_secs()),
        base64::engine::general_purpose::STANDARD.encode(signature),
    );
    Ok(SignatureHeaders {
        authorization,
        date,
        digest,
        host: req.host.to_string(),
        content_type: CONTENT_TYPE,
        string_to_sign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_digest_matches_reference() {
        assert_eq!(
            body_digest(b""),
            "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn string_to_sign_layout() {
        let req = RequestToSign {
            method: "GET",
            path_and_query: "/api/v1/iam/OAuthTokens?%24top=1",
            host: "example.com:8443",
            body: b"",
        };
        let s = string_to_sign(&req, 1_700_000_000, "D", "G");
        assert_eq!(
            s,
            "(request-target): get /api/v1/iam/OAuthTokens?%24top=1\n(created): 1700000000\n(expires): 1700000600.000\nhost: example.com:8443\ndate: D\ndigest: G\ncontent-type: application/json"
        );
    }
}
