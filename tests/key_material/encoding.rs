//! The part of the test key material the root package's tests use too: PEM and DER
//! building blocks, the RSA fixture key in PKCS#1 and PKCS#8, a request signed with a key, and
//! the check of a signature. `tests/it` includes this file alone; `key_material/mod.rs` (for
//! the client crate's tests) includes it and adds the other encodings.

use std::time::{Duration, UNIX_EPOCH};

use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use base64::Engine as _;
use intersight_client::signing::{sign, RequestToSign, SignatureHeaders};
use intersight_client::SecretKey;

// Relative to this file however it is included (`#[path]` on a file-backed module).
#[path = "fixture.rs"]
mod fixture;
pub(crate) use fixture::fixture;

pub(crate) const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

pub(crate) fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// The DER of the (first) block of a PEM text.
pub(crate) fn pem_der(text: &str) -> Vec<u8> {
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .unwrap()
}

/// PEM text: 64-character lines, LF.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// One DER element.
pub(crate) fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A PKCS#8 `PrivateKeyInfo` around `private_key` (algorithm OID, optional parameters OID).
pub(crate) fn pkcs8(algorithm: &[u8], parameters: Option<&[u8]>, private_key: &[u8]) -> Vec<u8> {
    let algorithm = match parameters {
        Some(p) => seq(&[&tlv(0x06, algorithm), &tlv(0x06, p)]),
        None if algorithm == OID_RSA => seq(&[&tlv(0x06, algorithm), &[0x05, 0x00]]),
        None => seq(&[&tlv(0x06, algorithm)]),
    };
    seq(&[&[0x02, 0x01, 0x00], &algorithm, &tlv(0x04, private_key)])
}

/// The RSA-2048 fixture key as PKCS#1 DER.
pub(crate) fn rsa_pkcs1() -> Vec<u8> {
    pem_der(&fixture_text("rsa_pkcs1.pem"))
}

/// A PKCS#1 RSA key wrapped in PKCS#8.
pub(crate) fn rsa_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    pkcs8(OID_RSA, None, pkcs1)
}

pub(crate) fn ec_pair(der: &[u8]) -> EcdsaKeyPair {
    EcdsaKeyPair::from_private_key_der(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der).unwrap()
}

/// The base64-decoded `signature` parameter of an `Authorization: Signature ...` header.
pub(crate) fn signature_of(authorization: &str) -> Vec<u8> {
    let b64 = authorization
        .split("signature=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"');
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// Whether `signature` over `message` verifies with the public key of the private key in
/// `key_pem` (RSA PKCS#1 v1.5/SHA-256 or ECDSA P-256/SHA-256 DER, any accepted encoding).
pub(crate) fn verifies(key_pem: &str, message: &[u8], signature: &[u8]) -> bool {
    let der = pem_der(key_pem);
    let (algorithm, public): (&dyn signature::VerificationAlgorithm, Vec<u8>) =
        match RsaKeyPair::from_der(&der).or_else(|_| RsaKeyPair::from_pkcs8(&der)) {
            Ok(rsa) => (
                &signature::RSA_PKCS1_2048_8192_SHA256,
                rsa.public_key().as_ref().to_vec(),
            ),
            Err(_) => (
                &signature::ECDSA_P256_SHA256_ASN1,
                ec_pair(&der).public_key().as_ref().to_vec(),
            ),
        };
    UnparsedPublicKey::new(algorithm, public)
        .verify(message, signature)
        .is_ok()
}

/// The signature headers of one request (`GET /x` to host `h`, 1 s after the epoch) signed by
/// the client with the key in `key_pem` under the key id `k`.
pub(crate) fn sign_one_request(key_pem: &str) -> SignatureHeaders {
    let request = RequestToSign {
        method: "GET",
        path_and_query: "/x",
        host: "h",
        body: b"",
    };
    let now = UNIX_EPOCH + Duration::from_secs(1);
    sign(&request, &SecretKey::from_pem(key_pem).unwrap(), "k", now).unwrap()
}

/// Whether the signature of `headers` verifies over their string to sign with the public key
/// of the private key in `key_pem`.
pub(crate) fn headers_verify(key_pem: &str, headers: &SignatureHeaders) -> bool {
    let signature = signature_of(&headers.authorization);
    verifies(key_pem, headers.string_to_sign.as_bytes(), &signature)
}
