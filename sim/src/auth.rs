//! HTTP signature verification (draft-cavage, `hs2019`) as the service applies it.
//!
//! The string to sign is rebuilt from the request exactly as received: the raw
//! request target (never a re-encoding of parsed parameters), the `created` and
//! `expires` parameters as written in the Authorization header, and header values.

use crate::keys::{KeyStore, PublicKey};
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hyper::header::HeaderMap;

/// Items every signature must cover.
pub const REQUIRED_ITEMS: &[&str] = &["(request-target)", "(created)", "host", "date", "digest"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header")]
    MissingAuthorization,
    #[error("Authorization header is not a valid HTTP signature: {0}")]
    Malformed(String),
    #[error("unsupported signature algorithm '{0}' (expected hs2019)")]
    UnsupportedAlgorithm(String),
    #[error("signed headers list is missing required item '{0}'")]
    MissingSignedItem(&'static str),
    #[error("unknown key id '{0}'")]
    UnknownKeyId(String),
    #[error("signed header '{0}' is missing from the request")]
    MissingHeader(String),
    #[error("digest header is missing or not SHA-256 (got '{0}')")]
    DigestUnsupported(String),
    #[error("digest header does not match the SHA-256 of the request body")]
    DigestMismatch,
    #[error("date header '{0}' is not an RFC 7231 date")]
    BadDate(String),
    #[error("date header is {0} s away from server time (max {1} s)")]
    DateSkew(i64, u64),
    #[error("(created) '{0}' is not an integer Unix time")]
    BadCreated(String),
    #[error("(created) is {0} s away from server time (max {1} s)")]
    CreatedSkew(i64, u64),
    #[error("(expires) '{0}' is not a Unix time")]
    BadExpires(String),
    #[error("signature expired {0} s ago")]
    Expired(i64),
    #[error("signature is not valid base64")]
    BadBase64,
    #[error("signature verification failed for key id {0}")]
    BadSignature(String),
}

/// The parameters of a `Signature ...` Authorization header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureParams {
    pub key_id: String,
    pub algorithm: Option<String>,
    pub created: Option<String>,
    pub expires: Option<String>,
    pub headers: Vec<String>,
    pub signature: String,
}

/// Parses `Signature keyId="..",algorithm="..",created=..,expires=..,headers="..",signature=".."`.
pub fn parse_authorization(value: &str) -> Result<SignatureParams, AuthError> {
    let malformed = |why: &str| AuthError::Malformed(why.to_string());
    let value = value.trim();
    let (scheme, rest) = value
        .split_once(char::is_whitespace)
        .ok_or_else(|| malformed("no parameters"))?;
    if !scheme.eq_ignore_ascii_case("signature") {
        return Err(malformed(&format!(
            "scheme is '{scheme}', expected 'Signature'"
        )));
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    let mut seen: Vec<String> = Vec::new();
    let mut params = SignatureParams::default();
    let mut key_id = None;
    let mut signature = None;
    let mut headers = None;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && chars[i] != '=' {
            i += 1;
        }
        if i >= chars.len() {
            return Err(malformed("parameter without '='"));
        }
        let name: String = chars[start..i]
            .iter()
            .collect::<String>()
            .trim()
            .to_string();
        i += 1;
        let param_value = if chars.get(i) == Some(&'"') {
            i += 1;
            let mut text = String::new();
            loop {
                match chars.get(i) {
                    None => {
                        return Err(malformed(&format!(
                            "unterminated quoted value for '{name}'"
                        )))
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') if i + 1 < chars.len() => {
                        text.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(c) => {
                        text.push(*c);
                        i += 1;
                    }
                }
            }
            text
        } else {
            let start = i;
            while i < chars.len() && chars[i] != ',' {
                i += 1;
            }
            chars[start..i]
                .iter()
                .collect::<String>()
                .trim()
                .to_string()
        };
        if seen.contains(&name) {
            return Err(malformed(&format!("parameter '{name}' appears twice")));
        }
        seen.push(name.clone());
        match name.as_str() {
            "keyId" => key_id = Some(param_value),
            "algorithm" => params.algorithm = Some(param_value),
            "created" => params.created = Some(param_value),
            "expires" => params.expires = Some(param_value),
            "headers" => headers = Some(param_value),
            "signature" => signature = Some(param_value),
            // Unknown parameters are ignored, as the draft says.
            _ => {}
        }
    }
    params.key_id = key_id.ok_or_else(|| malformed("missing keyId"))?;
    params.signature = signature.ok_or_else(|| malformed("missing signature"))?;
    // The draft's default when `headers` is absent is `(created)` alone.
    params.headers = headers
        .unwrap_or_else(|| "(created)".to_string())
        .split_whitespace()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    Ok(params)
}

/// The parts of a received request the verifier needs.
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// Path and query exactly as received.
    pub raw_target: &'a str,
    /// The authority of an HTTP/2 request (`:authority`), used when there is no Host header.
    pub authority: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

fn header_value(parts: &RequestParts<'_>, name: &str) -> Option<String> {
    let values: Vec<&str> = parts
        .headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .collect();
    if values.is_empty() {
        if name == "host" {
            return parts.authority.map(str::to_string);
        }
        return None;
    }
    Some(values.join(", "))
}

/// Rebuilds the signing string for the signed items, as the client must have built it.
pub fn signing_string(
    parts: &RequestParts<'_>,
    params: &SignatureParams,
) -> Result<String, AuthError> {
    let mut lines = Vec::with_capacity(params.headers.len());
    for item in &params.headers {
        let value = match item.as_str() {
            "(request-target)" => {
                format!("{} {}", parts.method.to_ascii_lowercase(), parts.raw_target)
            }
            "(created)" => params.created.clone().ok_or_else(|| {
                AuthError::Malformed(
                    "(created) is signed but the created parameter is missing".into(),
                )
            })?,
            "(expires)" => params.expires.clone().ok_or_else(|| {
                AuthError::Malformed(
                    "(expires) is signed but the expires parameter is missing".into(),
                )
            })?,
            name => header_value(parts, name)
                .ok_or_else(|| AuthError::MissingHeader(name.to_string()))?,
        };
        lines.push(format!("{item}: {value}"));
    }
    Ok(lines.join("\n"))
}

fn check_digest(parts: &RequestParts<'_>) -> Result<(), AuthError> {
    let header =
        header_value(parts, "digest").ok_or_else(|| AuthError::MissingHeader("digest".into()))?;
    // RFC 3230 allows several `algo=value` entries separated by commas.
    let sha256 = header
        .split(',')
        .map(str::trim)
        .find_map(|entry| {
            let (algo, value) = entry.split_once('=')?;
            algo.eq_ignore_ascii_case("SHA-256").then_some(value)
        })
        .ok_or_else(|| AuthError::DigestUnsupported(header.clone()))?;
    let expected = B64.encode(sha256_digest(parts.body));
    if sha256 == expected {
        Ok(())
    } else {
        Err(AuthError::DigestMismatch)
    }
}

fn check_time(
    parts: &RequestParts<'_>,
    params: &SignatureParams,
    now: i64,
    max_skew: u64,
) -> Result<(), AuthError> {
    let date =
        header_value(parts, "date").ok_or_else(|| AuthError::MissingHeader("date".into()))?;
    let date_time =
        httpdate::parse_http_date(&date).map_err(|_| AuthError::BadDate(date.clone()))?;
    let date_secs = match date_time.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let skew = date_secs - now;
    if skew.unsigned_abs() > max_skew {
        return Err(AuthError::DateSkew(skew.abs(), max_skew));
    }
    let created_text = params.created.clone().unwrap_or_default();
    let created: i64 = created_text
        .trim()
        .parse()
        .map_err(|_| AuthError::BadCreated(created_text.clone()))?;
    let skew = created - now;
    if skew.unsigned_abs() > max_skew {
        return Err(AuthError::CreatedSkew(skew.abs(), max_skew));
    }
    if let Some(expires_text) = &params.expires {
        let expires: f64 = expires_text
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| AuthError::BadExpires(expires_text.clone()))?;
        if expires < now as f64 {
            return Err(AuthError::Expired(now - expires.floor() as i64));
        }
    }
    Ok(())
}

/// SHA-256 of `data`.
fn sha256_digest(data: &[u8]) -> aws_lc_rs::digest::Digest {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
}

fn check_signature(
    key: &PublicKey,
    key_id: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), AuthError> {
    let bad = || AuthError::BadSignature(key_id.to_string());
    let verifies = |algorithm: &'static dyn signature::VerificationAlgorithm, public: &[u8]| {
        UnparsedPublicKey::new(algorithm, public)
            .verify(message, signature)
            .is_ok()
    };
    let ok = match key {
        PublicKey::Rsa(public) => {
            verifies(&signature::RSA_PKCS1_2048_8192_SHA256, public.as_slice())
        }
        // DER is what clients send; raw r||s (64 bytes) is accepted as well.
        PublicKey::Ec(public) => {
            verifies(&signature::ECDSA_P256_SHA256_ASN1, public.as_slice())
                || (signature.len() == 64
                    && verifies(&signature::ECDSA_P256_SHA256_FIXED, public.as_slice()))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Verifies the request's signature; returns the key id on success. `now` is the
/// server's Unix time in seconds.
pub fn verify(
    keys: &KeyStore,
    parts: &RequestParts<'_>,
    now: i64,
    max_skew: u64,
) -> Result<String, AuthError> {
    let header = header_value(parts, "authorization").ok_or(AuthError::MissingAuthorization)?;
    let params = parse_authorization(&header)?;
    if let Some(algorithm) = &params.algorithm {
        // `rsa-sha256` is what the Python SDK writes for v2 keys.
        if !matches!(algorithm.as_str(), "hs2019" | "rsa-sha256") {
            return Err(AuthError::UnsupportedAlgorithm(algorithm.clone()));
        }
    }
    for item in REQUIRED_ITEMS {
        if !params.headers.iter().any(|h| h == item) {
            return Err(AuthError::MissingSignedItem(item));
        }
    }
    let key = keys
        .get(&params.key_id)
        .ok_or_else(|| AuthError::UnknownKeyId(params.key_id.clone()))?;
    if params.algorithm.as_deref() == Some("rsa-sha256") && !matches!(key, PublicKey::Rsa(_)) {
        return Err(AuthError::UnsupportedAlgorithm(format!(
            "rsa-sha256 with a {} key",
            key.kind()
        )));
    }
    check_digest(parts)?;
    check_time(parts, &params, now, max_skew)?;
    let message = signing_string(parts, &params)?;
    let signature = B64
        .decode(params.signature.trim())
        .map_err(|_| AuthError::BadBase64)?;
    check_signature(key, &params.key_id, message.as_bytes(), &signature)?;
    Ok(params.key_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{generate_ec, generate_rsa, KeyStore, PublicKey};
    use aws_lc_rs::signature::{EcdsaKeyPair, RsaKeyPair};
    use hyper::header::HeaderValue;

    const RSA_ID: &str =
        "596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668";
    const EC_ID: &str =
        "596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68669";
    const NOW: i64 = 1_700_000_000;
    const TARGET: &str =
        "/api/v1/iam/OAuthTokens?$filter=ClientName%20eq%20%27O%27%27Brien%27&$top=10";

    enum TestSigner {
        Rsa(RsaKeyPair),
        // DER signatures, and raw r||s ones from the same key.
        Ec(EcdsaKeyPair, EcdsaKeyPair),
    }

    struct Fixture {
        store: KeyStore,
        rsa: TestSigner,
        ec: TestSigner,
    }

    fn fixture() -> Fixture {
        let (rsa_pem, rsa_public) = generate_rsa().unwrap();
        let (ec_pem, ec_public) = generate_ec().unwrap();
        assert!(ec_pem.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        assert!(rsa_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(matches!(rsa_public, PublicKey::Rsa(_)));
        assert!(matches!(ec_public, PublicKey::Ec(_)));
        let rsa_der = pem::parse(rsa_pem.as_bytes()).unwrap().into_contents();
        let ec_der = pem::parse(ec_pem.as_bytes()).unwrap().into_contents();
        let ec = |alg| EcdsaKeyPair::from_pkcs8(alg, &ec_der).unwrap();
        let mut store = KeyStore::default();
        store.insert(RSA_ID.into(), rsa_public);
        store.insert(EC_ID.into(), ec_public);
        Fixture {
            store,
            rsa: TestSigner::Rsa(RsaKeyPair::from_der(&rsa_der).unwrap()),
            ec: TestSigner::Ec(
                ec(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
                ec(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
            ),
        }
    }

    struct Req {
        items: Vec<&'static str>,
        created: i64,
        expires: Option<String>,
        date: i64,
        body: Vec<u8>,
        digest_body: Vec<u8>,
        key_id: &'static str,
        algorithm: &'static str,
        sign_target: &'static str,
        raw_ec: bool,
    }

    impl Default for Req {
        fn default() -> Self {
            Req {
                items: vec![
                    "(request-target)",
                    "(created)",
                    "(expires)",
                    "host",
                    "date",
                    "digest",
                    "content-type",
                ],
                created: NOW,
                expires: Some(format!("{:.3}", NOW as f64 + 600.0)),
                date: NOW,
                body: Vec::new(),
                digest_body: Vec::new(),
                key_id: RSA_ID,
                algorithm: "hs2019",
                sign_target: TARGET,
                raw_ec: false,
            }
        }
    }

    fn build(signer: &TestSigner, req: &Req) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let date = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(req.date as u64),
        );
        let digest = format!("SHA-256={}", B64.encode(sha256_digest(&req.digest_body)));
        headers.insert("host", HeaderValue::from_static("127.0.0.1:8443"));
        headers.insert("date", HeaderValue::from_str(&date).unwrap());
        headers.insert("digest", HeaderValue::from_str(&digest).unwrap());
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let mut lines = Vec::new();
        for item in &req.items {
            let value = match *item {
                "(request-target)" => format!("get {}", req.sign_target),
                "(created)" => req.created.to_string(),
                "(expires)" => req.expires.clone().unwrap(),
                name => headers.get(name).unwrap().to_str().unwrap().to_string(),
            };
            lines.push(format!("{item}: {value}"));
        }
        let message = lines.join("\n");
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let signature = match signer {
            TestSigner::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    message.as_bytes(),
                    &mut signature,
                )
                .unwrap();
                signature
            }
            TestSigner::Ec(der, raw) => {
                let key = if req.raw_ec { raw } else { der };
                key.sign(&rng, message.as_bytes())
                    .unwrap()
                    .as_ref()
                    .to_vec()
            }
        };
        let mut auth = format!(
            "Signature keyId=\"{}\",algorithm=\"{}\",created={},",
            req.key_id, req.algorithm, req.created
        );
        if let Some(expires) = &req.expires {
            auth.push_str(&format!("expires={expires},"));
        }
        auth.push_str(&format!(
            "headers=\"{}\",signature=\"{}\"",
            req.items.join(" "),
            B64.encode(signature)
        ));
        headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        headers
    }

    fn run(fixture: &Fixture, signer: &TestSigner, req: &Req) -> Result<String, AuthError> {
        let headers = build(signer, req);
        let parts = RequestParts {
            method: "GET",
            raw_target: TARGET,
            authority: None,
            headers: &headers,
            body: &req.body,
        };
        verify(&fixture.store, &parts, NOW, 300)
    }

    #[test]
    fn valid_signatures_pass_for_both_key_types() {
        let f = fixture();
        assert_eq!(run(&f, &f.rsa, &Req::default()), Ok(RSA_ID.to_string()));
        assert_eq!(
            run(
                &f,
                &f.rsa,
                &Req {
                    algorithm: "rsa-sha256",
                    ..Req::default()
                }
            ),
            Ok(RSA_ID.to_string())
        );
        assert_eq!(
            run(
                &f,
                &f.ec,
                &Req {
                    key_id: EC_ID,
                    ..Req::default()
                }
            ),
            Ok(EC_ID.to_string())
        );
        assert_eq!(
            run(
                &f,
                &f.ec,
                &Req {
                    key_id: EC_ID,
                    raw_ec: true,
                    ..Req::default()
                }
            ),
            Ok(EC_ID.to_string())
        );
        // Without (expires) and content-type: only the required items.
        let minimal = Req {
            items: vec!["(request-target)", "(created)", "host", "date", "digest"],
            expires: None,
            ..Req::default()
        };
        assert_eq!(run(&f, &f.rsa, &minimal), Ok(RSA_ID.to_string()));
        // Skew inside the window is fine.
        assert!(run(
            &f,
            &f.rsa,
            &Req {
                date: NOW - 299,
                created: NOW + 299,
                ..Req::default()
            }
        )
        .is_ok());
    }

    #[test]
    fn each_failed_check_is_named() {
        let f = fixture();
        let msg = |req: Req| run(&f, &f.rsa, &req).unwrap_err().to_string();
        assert_eq!(
            msg(Req {
                date: NOW - 612,
                ..Req::default()
            }),
            "date header is 612 s away from server time (max 300 s)"
        );
        assert_eq!(
            msg(Req {
                created: NOW + 400,
                ..Req::default()
            }),
            "(created) is 400 s away from server time (max 300 s)"
        );
        assert_eq!(
            msg(Req {
                expires: Some(format!("{:.3}", NOW as f64 - 5.5)),
                ..Req::default()
            }),
            "signature expired 6 s ago"
        );
        assert_eq!(
            msg(Req {
                key_id: "nope",
                ..Req::default()
            }),
            "unknown key id 'nope'"
        );
        assert_eq!(
            msg(Req {
                items: vec!["(request-target)", "(created)", "host", "date"],
                ..Req::default()
            }),
            "signed headers list is missing required item 'digest'"
        );
        assert_eq!(
            msg(Req {
                body: b"{}".to_vec(),
                ..Req::default()
            }),
            "digest header does not match the SHA-256 of the request body"
        );
        // Signing a re-encoded target instead of the raw one breaks the signature.
        assert_eq!(
            msg(Req {
                sign_target:
                    "/api/v1/iam/OAuthTokens?%24filter=ClientName+eq+%27O%27%27Brien%27&%24top=10",
                ..Req::default()
            }),
            format!("signature verification failed for key id {RSA_ID}")
        );
        // An RSA signature presented under the EC key id.
        assert_eq!(
            msg(Req {
                key_id: EC_ID,
                ..Req::default()
            }),
            format!("signature verification failed for key id {EC_ID}")
        );
        assert_eq!(
            msg(Req {
                algorithm: "rsa-sha512",
                ..Req::default()
            }),
            "unsupported signature algorithm 'rsa-sha512' (expected hs2019)"
        );
        let ec_err = run(
            &f,
            &f.ec,
            &Req {
                key_id: RSA_ID,
                ..Req::default()
            },
        )
        .unwrap_err();
        assert_eq!(ec_err, AuthError::BadSignature(RSA_ID.into()));
    }

    #[test]
    fn missing_and_malformed_headers() {
        let f = fixture();
        let mut headers = build(&f.rsa, &Req::default());
        let parts = |headers: &HeaderMap| {
            verify(
                &f.store,
                &RequestParts {
                    method: "GET",
                    raw_target: TARGET,
                    authority: None,
                    headers,
                    body: b"",
                },
                NOW,
                300,
            )
        };
        headers.remove("date");
        assert_eq!(
            parts(&headers).unwrap_err().to_string(),
            "signed header 'date' is missing from the request"
        );
        headers.remove("authorization");
        assert_eq!(
            parts(&headers).unwrap_err(),
            AuthError::MissingAuthorization
        );
        headers.insert("authorization", HeaderValue::from_static("Bearer abc"));
        assert!(matches!(
            parts(&headers).unwrap_err(),
            AuthError::Malformed(_)
        ));
        // Host falls back to the HTTP/2 authority.
        let mut h2 = build(&f.rsa, &Req::default());
        h2.remove("host");
        let result = verify(
            &f.store,
            &RequestParts {
                method: "GET",
                raw_target: TARGET,
                authority: Some("127.0.0.1:8443"),
                headers: &h2,
                body: b"",
            },
            NOW,
            300,
        );
        assert_eq!(result, Ok(RSA_ID.to_string()));
    }

    #[test]
    fn authorization_header_parsing() {
        let params = parse_authorization(
            r#"Signature keyId="a/b/c",algorithm="hs2019",created=1700000000,expires=1700000600.000,headers="(request-target) (created) Host",signature="c2ln""#,
        )
        .unwrap();
        assert_eq!(params.key_id, "a/b/c");
        assert_eq!(params.created.as_deref(), Some("1700000000"));
        assert_eq!(params.expires.as_deref(), Some("1700000600.000"));
        assert_eq!(
            params.headers,
            vec!["(request-target)", "(created)", "host"]
        );
        assert!(parse_authorization(r#"Signature keyId="a",keyId="b",signature="x""#).is_err());
        assert!(parse_authorization(r#"Signature signature="x""#).is_err());
        assert!(parse_authorization(r#"Signature keyId="a,signature="x""#).is_err());
        let defaulted = parse_authorization(r#"Signature keyId="a",signature="x""#).unwrap();
        assert_eq!(defaulted.headers, vec!["(created)"]);
    }
}
