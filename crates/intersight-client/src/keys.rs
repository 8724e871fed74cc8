//! Loading the API secret key: PEM text or a path to a PEM file, RSA or EC P-256.
//!
//! Accepted (see `ACCEPTED`):
//! - `RSA PRIVATE KEY` holding PKCS#1 (v2 API keys), or PKCS#8 mislabelled so;
//! - `PRIVATE KEY` holding PKCS#8 RSA or PKCS#8 EC P-256;
//! - `EC PRIVATE KEY` holding SEC1 or PKCS#8 (Intersight v3 key files say `EC PRIVATE KEY`
//!   but hold PKCS#8 bytes), P-256 only.
//!
//! The structure of a key (which PEM label, PKCS#1, PKCS#8 or SEC1, which algorithm and curve,
//! how many bits) is read here, so that every rejection says why; the key itself is parsed and
//! held by the crypto backend (`super::crypto`).
//!
//! Key material lives only in the backend's key objects (which free and clear it on drop) and in
//! `Zeroizing` buffers while parsing; nothing here formats it.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::crypto::{der, Refusal, SigningKey};
use super::error::KeyError;
use super::pem_source;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";

/// A parsed private key used to sign requests. `Debug` shows only the kind.
pub struct SecretKey {
    inner: SigningKey,
}

/// The kind of a [`SecretKey`], safe to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with its modulus size in bits.
    Rsa {
        /// The modulus size in bits.
        bits: usize,
    },
    /// ECDSA on the NIST P-256 curve.
    EcP256,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Rsa { bits } => write!(f, "RSA-{bits}"),
            KeyKind::EcP256 => f.write_str("EC P-256"),
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.kind())
    }
}

impl SecretKey {
    /// Parses PEM text, or reads the PEM file at the given path when the text holds no PEM
    /// marker (the official provider's rule for `secretkey`). A leading `~/` in a path is
    /// expanded from the process's `HOME`.
    pub fn from_pem_or_path(value: &str) -> Result<SecretKey, KeyError> {
        Self::from_pem_or_path_with_home(value, pem_source::home_from_process().as_deref())
    }

    /// [`SecretKey::from_pem_or_path`] with `~/` expanded from `home` (`None`: not set).
    ///
    /// No error quotes the value unless it is the path of an existing file or has a shape no
    /// part of a key can have (see `pem_source::describe_missing`).
    pub fn from_pem_or_path_with_home(
        value: &str,
        home: Option<&Path>,
    ) -> Result<SecretKey, KeyError> {
        if value.trim().is_empty() {
            return Err(KeyError::Empty);
        }
        if pem_source::has_pem_marker(value) {
            return Self::from_pem(value);
        }
        match pem_source::read_path(value, home) {
            pem_source::PathRead::Read { bytes, .. } => {
                let bytes = Zeroizing::new(bytes);
                let text = std::str::from_utf8(&bytes).map_err(|_| {
                    KeyError::Malformed("the key file is not text (a PEM file is ASCII)".into())
                })?;
                Self::from_pem(text)
            }
            pem_source::PathRead::Unreadable { path, reason } => Err(KeyError::Unreadable {
                path: path.display().to_string(),
                reason,
            }),
            pem_source::PathRead::TooLarge { path } => Err(KeyError::TooLarge {
                path: path.display().to_string(),
            }),
            pem_source::PathRead::NotAFile { path } => Err(KeyError::NotFound {
                location: format!("{:?} is not a file", path.display()),
            }),
            pem_source::PathRead::Missing if pem_source::looks_like_bare_base64(value) => {
                Err(KeyError::BareBase64 {
                    chars: value.trim().chars().count(),
                })
            }
            pem_source::PathRead::Missing => Err(KeyError::NotFound {
                location: pem_source::describe_missing(value, home),
            }),
        }
    }

    /// Parses PEM text (the first private-key block; `EC PARAMETERS` blocks are skipped).
    ///
    /// Besides ordinary PEM (indented, CRLF), the forms keys take when pasted into CI
    /// variables are accepted: literal `\n` sequences for newlines, the whole text on one line
    /// (newlines turned into spaces, or removed), and one pair of quotes around it.
    pub fn from_pem(text: &str) -> Result<SecretKey, KeyError> {
        let text = pem_source::strip_quotes(text.trim());
        let unescaped;
        let text = if text.contains("\\n") {
            unescaped = Zeroizing::new(text.replace("\\r\\n", "\n").replace("\\n", "\n"));
            unescaped.as_str()
        } else {
            text
        };
        let block = first_key_block(text)?;
        parse_block(&block.label, &block.der)
    }

    /// What kind of key this is.
    pub fn kind(&self) -> KeyKind {
        match self.inner.rsa_bits() {
            Some(bits) => KeyKind::Rsa { bits },
            None => KeyKind::EcP256,
        }
    }

    pub(crate) fn inner(&self) -> &SigningKey {
        &self.inner
    }

    /// An RSA key from PKCS#1 DER (`pkcs1`), or from the PKCS#8 DER `pkcs8` that wraps it.
    fn rsa(pkcs1: &[u8], pkcs8: Option<&[u8]>, invalid: &str) -> Result<SecretKey, KeyError> {
        let bits = der::rsa_pkcs1_bits(pkcs1).ok_or_else(|| KeyError::Malformed(invalid.into()))?;
        if bits < 2048 {
            return Err(KeyError::Unsupported {
                found: format!("an RSA key of {bits} bits (at least 2048 are required)"),
            });
        }
        let parsed = match pkcs8 {
            Some(pkcs8) => SigningKey::rsa_pkcs8(pkcs8),
            None => SigningKey::rsa_pkcs1(pkcs1),
        };
        match parsed {
            Ok(inner) => Ok(SecretKey { inner }),
            Err(Refusal::TooLarge) => Err(KeyError::Unsupported {
                found: format!("an RSA key of {bits} bits (at most 8192 are supported)"),
            }),
            Err(Refusal::Invalid) => Err(KeyError::Malformed(invalid.into())),
        }
    }

    /// A P-256 key from the backend's parse of PKCS#8 or SEC1 DER.
    fn ec(parsed: Result<SigningKey, Refusal>, invalid: &str) -> Result<SecretKey, KeyError> {
        parsed
            .map(|inner| SecretKey { inner })
            .map_err(|_| KeyError::Malformed(invalid.into()))
    }
}

/// PEM labels that messages may name. Any other label text is user input that may be a
/// piece of a mangled key (a BEGIN line whose dashes were lost runs into the body), so it is
/// never shown.
const KNOWN_LABELS: &[&str] = &[
    "RSA PRIVATE KEY",
    "PRIVATE KEY",
    "EC PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "EC PARAMETERS",
    "PUBLIC KEY",
    "RSA PUBLIC KEY",
    "EC PUBLIC KEY",
    "CERTIFICATE",
    "CERTIFICATE REQUEST",
    "NEW CERTIFICATE REQUEST",
    "X509 CRL",
    "OPENSSH PRIVATE KEY",
    "DSA PRIVATE KEY",
    "PGP PRIVATE KEY BLOCK",
];

/// A PEM label, safe to show: one of [`KNOWN_LABELS`] or a placeholder.
struct Label(String);

impl Label {
    fn as_str(&self) -> &str {
        &self.0
    }

    fn is(&self, label: &str) -> bool {
        self.0 == label
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if KNOWN_LABELS.contains(&self.0.as_str()) {
            f.write_str(&self.0)
        } else {
            f.write_str("PEM block with an unrecognised label (not shown)")
        }
    }
}

struct PemBlock {
    label: Label,
    der: Zeroizing<Vec<u8>>,
}

const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";

/// Finds the first PEM block that is not `EC PARAMETERS`. Markers are found anywhere, not only
/// at line starts, so a PEM text collapsed onto one line parses too; whitespace inside the body
/// is ignored. No error message contains text from `text` other than a known label.
fn first_key_block(text: &str) -> Result<PemBlock, KeyError> {
    let mut rest = text;
    let mut seen_any = false;
    while let Some(at) = rest.find(BEGIN) {
        seen_any = true;
        let after_begin = &rest[at + BEGIN.len()..];
        let Some(label_len) = after_begin.find(DASHES) else {
            return Err(KeyError::Malformed(
                "a BEGIN line is not of the form -----BEGIN <label>-----".into(),
            ));
        };
        let label_text = after_begin[..label_len].trim();
        if !is_label_shape(label_text) {
            return Err(KeyError::Malformed(
                "a BEGIN line is not of the form -----BEGIN <label>----- (its text is not shown)"
                    .into(),
            ));
        }
        let label = Label(label_text.to_string());
        let after_label = &after_begin[label_len + DASHES.len()..];
        let end_marker = format!("-----END {label_text}-----");
        let (body, next) = match after_label.find(DASHES) {
            Some(i) if after_label[i..].starts_with(&end_marker) => {
                (&after_label[..i], &after_label[i + end_marker.len()..])
            }
            Some(i) if after_label[i..].starts_with("-----END ") => {
                return Err(KeyError::Malformed(format!(
                    "the {label} block ends with a different END label"
                )))
            }
            Some(_) => {
                return Err(KeyError::Malformed(format!(
                    "the {label} block has no matching END line"
                )))
            }
            None => {
                return Err(KeyError::Malformed(format!(
                    "the {label} block has no END line (truncated?)"
                )))
            }
        };
        rest = next;
        if label.is("EC PARAMETERS") {
            continue;
        }
        let (encrypted, body) = strip_headers(body);
        if encrypted || label.is("ENCRYPTED PRIVATE KEY") {
            return Err(KeyError::Encrypted {
                found: if encrypted {
                    format!("a passphrase-protected {label}")
                } else {
                    "an ENCRYPTED PRIVATE KEY (PKCS#8)".into()
                },
            });
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| {
                KeyError::Malformed(format!(
                    "the {label} block is not valid base64 (truncated?)"
                ))
            })?;
        return Ok(PemBlock {
            label,
            der: Zeroizing::new(der),
        });
    }
    if seen_any {
        Err(KeyError::Unsupported {
            found: "only EC PARAMETERS, no key".into(),
        })
    } else {
        Err(KeyError::Malformed("no -----BEGIN line found".into()))
    }
}

/// RFC 7468 labels: printable ASCII without `-` runs; here letters, digits and single spaces.
fn is_label_shape(label: &str) -> bool {
    (1..=64).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
        && !label.contains("  ")
}

/// The base64 of a block body with RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`)
/// and all whitespace removed; `true` when a header says the key is encrypted (also when the
/// headers were collapsed onto one line with the body, which then fails as invalid base64).
fn strip_headers(body: &str) -> (bool, Zeroizing<String>) {
    let encrypted = body.contains("Proc-Type") && body.contains("ENCRYPTED");
    let mut base64 = Zeroizing::new(String::with_capacity(body.len()));
    for line in body.lines() {
        if line.contains(':') {
            continue;
        }
        base64.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
    }
    (encrypted, base64)
}

fn parse_block(label: &Label, der: &[u8]) -> Result<SecretKey, KeyError> {
    match label.as_str() {
        "RSA PRIVATE KEY" => {
            if der::rsa_pkcs1_bits(der).is_some() {
                SecretKey::rsa(der, None, "the PKCS#1 RSA key is invalid")
            } else if der::pkcs8(der).is_some() {
                parse_pkcs8(der, label.as_str())
            } else {
                Err(KeyError::Malformed(
                    "the RSA PRIVATE KEY block is neither PKCS#1 nor PKCS#8 (truncated?)".into(),
                ))
            }
        }
        "EC PRIVATE KEY" => {
            if der::sec1_curve(der).is_none() && der::pkcs8(der).is_some() {
                parse_pkcs8(der, label.as_str())
            } else {
                parse_sec1(der)
            }
        }
        "PRIVATE KEY" => {
            if der::pkcs8(der).is_some() {
                parse_pkcs8(der, label.as_str())
            } else if der::sec1_curve(der).is_some() {
                parse_sec1(der)
            } else {
                Err(KeyError::Malformed(
                    "the PRIVATE KEY block is not PKCS#8 (truncated?)".into(),
                ))
            }
        }
        "PUBLIC KEY" | "RSA PUBLIC KEY" | "EC PUBLIC KEY" => Err(KeyError::PublicOnly {
            found: label.to_string(),
        }),
        "CERTIFICATE" => Err(KeyError::PublicOnly {
            found: "CERTIFICATE".into(),
        }),
        "OPENSSH PRIVATE KEY" => Err(KeyError::Unsupported {
            found: "an OPENSSH PRIVATE KEY (convert it with ssh-keygen -p -m PEM)".into(),
        }),
        known if KNOWN_LABELS.contains(&known) => Err(KeyError::Unsupported {
            found: format!("a PEM block labelled {known:?}"),
        }),
        _ => Err(KeyError::Unsupported {
            found: "a PEM block with an unrecognised label (not shown)".into(),
        }),
    }
}

fn parse_sec1(der: &[u8]) -> Result<SecretKey, KeyError> {
    let curve = der::sec1_curve(der).ok_or_else(|| {
        KeyError::Malformed(
            "the EC PRIVATE KEY block is neither SEC1 nor PKCS#8 (truncated?)".into(),
        )
    })?;
    if let Some(curve) = curve {
        if curve != OID_P256 {
            return Err(KeyError::Unsupported {
                found: format!("an EC key on curve {}", curve_name(&curve)),
            });
        }
    }
    SecretKey::ec(
        SigningKey::ec_sec1(der),
        "the SEC1 EC key is invalid for P-256",
    )
}

fn parse_pkcs8(der: &[u8], label: &str) -> Result<SecretKey, KeyError> {
    let info = der::pkcs8(der).ok_or_else(|| {
        KeyError::Malformed(format!("the {label} block is not PKCS#8 (truncated?)"))
    })?;
    match info.algorithm.as_str() {
        OID_RSA => SecretKey::rsa(info.private_key, Some(der), "the PKCS#8 RSA key is invalid"),
        OID_EC => {
            let curve = info
                .parameters_oid
                .unwrap_or_else(|| "unnamed parameters".into());
            if curve != OID_P256 {
                return Err(KeyError::Unsupported {
                    found: format!("an EC key on curve {}", curve_name(&curve)),
                });
            }
            SecretKey::ec(SigningKey::ec_pkcs8(der), "the PKCS#8 P-256 key is invalid")
        }
        other => Err(KeyError::Unsupported {
            found: format!("a PKCS#8 key of algorithm {}", algorithm_name(other)),
        }),
    }
}

fn curve_name(oid: &str) -> String {
    let name = match oid {
        "1.3.132.0.34" => "P-384 (secp384r1)",
        "1.3.132.0.35" => "P-521 (secp521r1)",
        "1.3.132.0.10" => "secp256k1",
        "1.3.132.0.33" => "P-224 (secp224r1)",
        _ => return format!("OID {oid}"),
    };
    name.to_string()
}

fn algorithm_name(oid: &str) -> String {
    let name = match oid {
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.3.101.110" => "X25519",
        "1.2.840.10040.4.1" => "DSA",
        OID_RSA_PSS => "RSASSA-PSS",
        _ => return format!("OID {oid}"),
    };
    name.to_string()
}
