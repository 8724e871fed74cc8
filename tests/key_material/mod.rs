//! Test keys in every encoding the client accepts, made from the checked-in fixtures with the
//! crypto backend (aws-lc-rs) and a few lines of DER, and a verifier for our signatures: the
//! client crate's integration tests (`crates/intersight-client/tests/it`) include this file.

mod encoding;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};

pub(crate) use encoding::*;

pub(crate) const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
pub(crate) const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
pub(crate) const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
pub(crate) const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// The PKCS#1 `RSAPublicKey` DER of a PKCS#1 private key.
pub(crate) fn rsa_public_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    RsaKeyPair::from_der(pkcs1)
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec()
}

/// The P-256 fixture key as PKCS#8 DER (its ECPrivateKey holds the public key).
pub(crate) fn ec_pkcs8() -> Vec<u8> {
    pem_der(&fixture_text("ec_pkcs8.pem"))
}

/// The same P-256 key as SEC1 (RFC 5915) DER, with its curve and public key.
pub(crate) fn ec_sec1(pkcs8: &[u8]) -> Vec<u8> {
    ec_pair(pkcs8)
        .private_key()
        .as_der()
        .unwrap()
        .as_ref()
        .to_vec()
}

/// The same P-256 key as SEC1 DER with neither the curve nor the public key (RFC 5915 makes
/// both optional): version 1 and the 32-byte private scalar only.
pub(crate) fn ec_sec1_minimal(pkcs8: &[u8]) -> Vec<u8> {
    use aws_lc_rs::encoding::AsBigEndian as _;
    let scalar = ec_pair(pkcs8).private_key().as_be_bytes().unwrap();
    seq(&[&[0x02, 0x01, 0x01], &tlv(0x04, scalar.as_ref())])
}

/// The X.509 `SubjectPublicKeyInfo` DER of a P-256 private key.
pub(crate) fn ec_public_spki(pkcs8: &[u8]) -> Vec<u8> {
    ec_pair(pkcs8)
        .public_key()
        .as_der()
        .unwrap()
        .as_ref()
        .to_vec()
}

/// The `Authorization` header without its signature value.
pub(crate) fn without_signature(authorization: &str) -> &str {
    authorization.split("signature=\"").next().unwrap()
}
