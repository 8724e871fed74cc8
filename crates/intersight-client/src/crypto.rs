//! The one crypto backend: aws-lc-rs, the library rustls (TLS, AutoMTLS) and rcgen (the plugin's
//! certificate) use, so request signing adds no second implementation of SHA-256, RSA or ECDSA.
//! Everything in the API client that touches a primitive goes through this module.
//!
//! Also here: a minimal DER reader, only for what key loading must look at before it hands a
//! key to the backend (the PKCS#8 algorithm and curve, the SEC1 curve, the RSA modulus size), so
//! that a key the backend cannot use is rejected with a message that says why.

use aws_lc_rs::rand::SecureRandom as _;
use aws_lc_rs::signature::{self, EcdsaKeyPair, RsaKeyPair};

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A uniformly random number in `0..=max` from the backend's system RNG, or `None` if the
/// RNG failed (the operating system refused randomness).
pub(crate) fn random_up_to(max: u64) -> Option<u64> {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes).ok()?;
    let value = u64::from_le_bytes(bytes);
    // Modulo bias is below 2^-40 for the ranges used here (microseconds up to minutes).
    Some(match max.checked_add(1) {
        Some(span) => value % span,
        None => value,
    })
}

/// Signing failed inside the backend (an internal error: keys are checked when loaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the crypto library could not sign the request")]
pub struct SignError;

/// A private key the backend signs with.
pub(crate) enum SigningKey {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rsa(RsaKeyPair),
    /// ECDSA on P-256 with SHA-256, ASN.1 DER signatures.
    EcP256(EcdsaKeyPair),
}

/// Why the backend refused a key whose structure parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The RSA modulus is over what the backend supports (8192 bits).
    TooLarge,
    /// Anything else: inconsistent components, a scalar out of range, ...
    Invalid,
}

fn refusal(e: aws_lc_rs::error::KeyRejected) -> Refusal {
    if e.description_() == "TooLarge" {
        Refusal::TooLarge
    } else {
        Refusal::Invalid
    }
}

impl SigningKey {
    /// An RSA key from PKCS#1 `RSAPrivateKey` DER.
    pub(crate) fn rsa_pkcs1(der: &[u8]) -> Result<SigningKey, Refusal> {
        RsaKeyPair::from_der(der)
            .map(SigningKey::Rsa)
            .map_err(refusal)
    }

    /// An RSA key from PKCS#8 `PrivateKeyInfo` DER.
    pub(crate) fn rsa_pkcs8(der: &[u8]) -> Result<SigningKey, Refusal> {
        RsaKeyPair::from_pkcs8(der)
            .map(SigningKey::Rsa)
            .map_err(refusal)
    }

    /// A P-256 key from PKCS#8 `PrivateKeyInfo` DER.
    pub(crate) fn ec_pkcs8(der: &[u8]) -> Result<SigningKey, Refusal> {
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map(SigningKey::EcP256)
            .map_err(refusal)
    }

    /// A P-256 key from SEC1 (RFC 5915) `ECPrivateKey` DER; the curve parameters and the
    /// public key may be absent.
    pub(crate) fn ec_sec1(der: &[u8]) -> Result<SigningKey, Refusal> {
        EcdsaKeyPair::from_private_key_der(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map(SigningKey::EcP256)
            .map_err(refusal)
    }

    /// The RSA modulus size in bits (`None` for an EC key).
    pub(crate) fn rsa_bits(&self) -> Option<usize> {
        match self {
            SigningKey::Rsa(k) => Some(k.public_modulus_len() * 8),
            SigningKey::EcP256(_) => None,
        }
    }

    /// The public key: PKCS#1 `RSAPublicKey` DER, or the uncompressed P-256 point.
    #[cfg(test)]
    pub(crate) fn public_key(&self) -> &[u8] {
        use aws_lc_rs::signature::KeyPair as _;
        match self {
            SigningKey::Rsa(k) => k.public_key().as_ref(),
            SigningKey::EcP256(k) => k.public_key().as_ref(),
        }
    }

    /// Signs `message` (hashed with SHA-256 here): the PKCS#1 v1.5 signature, or the ECDSA
    /// signature as ASN.1 DER.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self {
            SigningKey::Rsa(k) => {
                let mut signature = vec![0u8; k.public_modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| SignError)?;
                Ok(signature)
            }
            SigningKey::EcP256(k) => k
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifies(key: &SigningKey, message: &[u8], signature: &[u8]) -> bool {
        let algorithm: &dyn signature::VerificationAlgorithm = match key {
            SigningKey::Rsa(_) => &signature::RSA_PKCS1_2048_8192_SHA256,
            SigningKey::EcP256(_) => &signature::ECDSA_P256_SHA256_ASN1,
        };
        signature::UnparsedPublicKey::new(algorithm, key.public_key())
            .verify(message, signature)
            .is_ok()
    }

    #[test]
    fn both_kinds_sign_what_their_public_key_verifies() {
        let rsa = SigningKey::Rsa(
            RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key generation"),
        );
        let ec = SigningKey::EcP256(
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING)
                .expect("EC key generation"),
        );
        assert_eq!(rsa.rsa_bits(), Some(2048));
        assert_eq!(ec.rsa_bits(), None);
        for key in [&rsa, &ec] {
            let signature = key.sign(b"message").expect("signs");
            assert!(verifies(key, b"message", &signature));
            assert!(!verifies(key, b"messagf", &signature));
        }
        // RSA PKCS#1 v1.5 is deterministic; ECDSA here is not (random nonces).
        assert_eq!(rsa.sign(b"m"), rsa.sign(b"m"));
    }

    #[test]
    fn sha256_and_random_numbers() {
        assert_eq!(
            sha256(b"abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "FIPS 180-2 test vector"
        );
        assert_eq!(random_up_to(0), Some(0));
        assert!((0..100).all(|_| random_up_to(9).is_some_and(|v| v <= 9)));
        assert!(random_up_to(u64::MAX).is_some());
        // Not constant: 100 draws from 0..=1_000_000 are not all equal.
        let draws: std::collections::BTreeSet<_> =
            (0..100).filter_map(|_| random_up_to(1_000_000)).collect();
        assert!(draws.len() > 1);
    }
}

/// Reading DER: just enough to classify a private key (X.690 definite-length encoding).
pub(crate) mod der {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    const BIT_STRING: u8 = 0x03;
    const OID: u8 = 0x06;
    const CONTEXT_0: u8 = 0xa0;
    const CONTEXT_1: u8 = 0xa1;

    /// A reader over DER bytes; every method consumes one element or fails.
    struct Reader<'a>(&'a [u8]);

    impl<'a> Reader<'a> {
        fn peek(&self) -> Option<u8> {
            self.0.first().copied()
        }

        /// The contents of the next element, which must have tag `tag`.
        fn element(&mut self, tag: u8) -> Option<&'a [u8]> {
            let (&found, rest) = self.0.split_first()?;
            if found != tag {
                return None;
            }
            let (&first, mut rest) = rest.split_first()?;
            let len = if first < 0x80 {
                usize::from(first)
            } else {
                let count = usize::from(first & 0x7f);
                if count == 0 || count > 4 || rest.len() < count {
                    return None;
                }
                let (bytes, after) = rest.split_at(count);
                rest = after;
                bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
            };
            if rest.len() < len {
                return None;
            }
            let (contents, after) = rest.split_at(len);
            self.0 = after;
            Some(contents)
        }

        fn optional(&mut self, tag: u8) -> Option<Option<&'a [u8]>> {
            if self.peek() == Some(tag) {
                self.element(tag).map(Some)
            } else {
                Some(None)
            }
        }

        fn done(&self) -> bool {
            self.0.is_empty()
        }
    }

    /// The contents of the one SEQUENCE that `der` must be, nothing after it.
    fn sequence(der: &[u8]) -> Option<Reader<'_>> {
        let mut outer = Reader(der);
        let contents = outer.element(SEQUENCE)?;
        outer.done().then_some(Reader(contents))
    }

    fn small_integer(contents: &[u8]) -> Option<u8> {
        match contents {
            [v] => Some(*v),
            _ => None,
        }
    }

    /// An OBJECT IDENTIFIER's contents in dotted form.
    pub(crate) fn oid_text(contents: &[u8]) -> Option<String> {
        let mut arcs: Vec<u64> = Vec::new();
        let mut value: u64 = 0;
        for (i, &b) in contents.iter().enumerate() {
            if value > u64::MAX >> 7 {
                return None;
            }
            value = (value << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                if arcs.is_empty() {
                    let first = (value / 40).min(2);
                    arcs.push(first);
                    arcs.push(value - first * 40);
                } else {
                    arcs.push(value);
                }
                value = 0;
            } else if i + 1 == contents.len() {
                return None;
            }
        }
        if arcs.is_empty() {
            return None;
        }
        Some(
            arcs.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join("."),
        )
    }

    /// What a PKCS#8 `PrivateKeyInfo` says about its key.
    #[derive(Debug, PartialEq, Eq)]
    pub(crate) struct Pkcs8<'a> {
        /// The algorithm OID, dotted.
        pub(crate) algorithm: String,
        /// The parameters when they are an OID (the named curve of an EC key), dotted.
        pub(crate) parameters_oid: Option<String>,
        /// The `privateKey` OCTET STRING's contents (PKCS#1 for RSA, SEC1 for EC).
        pub(crate) private_key: &'a [u8],
    }

    /// Parses a PKCS#8 `PrivateKeyInfo` (v1, or v2 with a public key after the private one).
    pub(crate) fn pkcs8(der: &[u8]) -> Option<Pkcs8<'_>> {
        let mut info = sequence(der)?;
        let version = small_integer(info.element(INTEGER)?)?;
        if version > 1 {
            return None;
        }
        let mut algorithm = Reader(info.element(SEQUENCE)?);
        let algorithm_oid = oid_text(algorithm.element(OID)?)?;
        let parameters_oid = match algorithm.peek() {
            Some(OID) => Some(oid_text(algorithm.element(OID)?)?),
            _ => None,
        };
        let private_key = info.element(OCTET_STRING)?;
        // [0] attributes and [1] public key (v2) may follow.
        info.optional(CONTEXT_0)?;
        info.optional(CONTEXT_1)?;
        info.done().then_some(Pkcs8 {
            algorithm: algorithm_oid,
            parameters_oid,
            private_key,
        })
    }

    /// What a SEC1 `ECPrivateKey` says about its key: the named curve (dotted), if given.
    pub(crate) fn sec1_curve(der: &[u8]) -> Option<Option<String>> {
        let mut key = sequence(der)?;
        if small_integer(key.element(INTEGER)?)? != 1 {
            return None;
        }
        key.element(OCTET_STRING)?;
        let curve = match key.optional(CONTEXT_0)? {
            Some(parameters) => {
                let mut parameters = Reader(parameters);
                let oid = parameters.element(OID)?;
                Some(oid_text(oid)?)
            }
            None => None,
        };
        if let Some(public) = key.optional(CONTEXT_1)? {
            Reader(public).element(BIT_STRING)?;
        }
        key.done().then_some(curve)
    }

    /// The modulus size in bits of a PKCS#1 `RSAPrivateKey`, if `der` is one.
    pub(crate) fn rsa_pkcs1_bits(der: &[u8]) -> Option<usize> {
        let mut key = sequence(der)?;
        small_integer(key.element(INTEGER)?)?;
        let modulus = key.element(INTEGER)?;
        // The rest: e, d, p, q, dP, dQ, qInv (and other prime infos in a multi-prime key).
        for _ in 0..7 {
            key.element(INTEGER)?;
        }
        let _ = key.optional(SEQUENCE)?;
        if !key.done() {
            return None;
        }
        let significant: &[u8] = match modulus.iter().position(|&b| b != 0) {
            Some(i) => &modulus[i..],
            None => return None,
        };
        Some(significant.len() * 8 - significant[0].leading_zeros() as usize)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn oids_read_in_dotted_form() {
            assert_eq!(
                oid_text(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]).as_deref(),
                Some("1.2.840.10045.3.1.7")
            );
            assert_eq!(
                oid_text(&[0x2b, 0x65, 0x70]).as_deref(),
                Some("1.3.101.112")
            );
            assert_eq!(oid_text(&[0x2b, 0x81]), None);
            assert_eq!(oid_text(&[]), None);
        }

        #[test]
        fn lengths_are_checked() {
            // Long-form lengths, a length past the end, trailing bytes after the SEQUENCE.
            assert!(Reader(&[0x04, 0x81, 0x01, 0xff]).element(0x04).is_some());
            assert!(Reader(&[0x04, 0x05, 0x00]).element(0x04).is_none());
            assert!(Reader(&[0x04, 0x80]).element(0x04).is_none());
            assert!(sequence(&[0x30, 0x00, 0x00]).is_none());
            assert!(sequence(&[0x30, 0x00]).is_some());
        }

        #[test]
        fn a_modulus_bit_length_ignores_the_sign_byte() {
            let mut der = vec![0x30, 0x00, 0x02, 0x01, 0x00, 0x02, 0x03, 0x00, 0x80, 0x01];
            for _ in 0..7 {
                der.extend([0x02, 0x01, 0x01]);
            }
            der[1] = (der.len() - 2) as u8;
            assert_eq!(rsa_pkcs1_bits(&der), Some(16));
            der.push(0);
            assert_eq!(rsa_pkcs1_bits(&der), None);
        }
    }
}
