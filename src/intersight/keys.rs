//! Loading the API secret key: PEM text or a path to a PEM file, RSA or EC P-256.
//!
//! Accepted (see [`ACCEPTED`](super::error::ACCEPTED)):
//! - `RSA PRIVATE KEY` holding PKCS#1 (v2 API keys), or PKCS#8 mislabelled so;
//! - `PRIVATE KEY` holding PKCS#8 RSA or PKCS#8 EC P-256;
//! - `EC PRIVATE KEY` holding SEC1 or PKCS#8 (Intersight v3 key files say `EC PRIVATE KEY`
//!   but hold PKCS#8 bytes), P-256 only.
//!
//! Key material lives only in the parsed key objects (which zeroize on drop) and in
//! `Zeroizing` buffers while parsing; nothing here formats it.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use zeroize::Zeroizing;

use super::error::KeyError;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";

/// A parsed private key used to sign requests. `Debug` shows only the kind.
pub struct SecretKey {
    inner: KeyInner,
}

pub(crate) enum KeyInner {
    // Boxed: an RSA key is large and this enum is moved around.
    Rsa(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>, usize),
    EcP256(Box<p256::ecdsa::SigningKey>),
}

/// The kind of a [`SecretKey`], safe to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with its modulus size in bits.
    Rsa {
        bits: usize,
    },
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
    /// Parses PEM text, or reads the PEM file at the given path when the text holds no
    /// `-----BEGIN` line (the same rule as the official provider's `secretkey`).
    pub fn from_pem_or_path(value: &str) -> Result<SecretKey, KeyError> {
        if value.trim().is_empty() {
            return Err(KeyError::Empty);
        }
        if value.contains("-----BEGIN") || value.contains("-----END") {
            return Self::from_pem(value);
        }
        let path = value.trim();
        if Path::new(path).is_file() {
            let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                KeyError::Unreadable {
                    path: path.to_string(),
                    reason: e.to_string(),
                }
            })?);
            return Self::from_pem(&text);
        }
        Err(KeyError::NotFound {
            location: describe_missing_path(path),
        })
    }

    /// Parses PEM text (the first private-key block; `EC PARAMETERS` blocks are skipped).
    pub fn from_pem(text: &str) -> Result<SecretKey, KeyError> {
        // Environment variables often carry PEM with literal "\n" sequences.
        let unescaped;
        let text = if !text.contains('\n') && text.contains("\\n") {
            unescaped = Zeroizing::new(text.replace("\\n", "\n"));
            unescaped.as_str()
        } else {
            text
        };
        let block = first_key_block(text)?;
        parse_block(&block.label, &block.der)
    }

    /// What kind of key this is.
    pub fn kind(&self) -> KeyKind {
        match &self.inner {
            KeyInner::Rsa(_, bits) => KeyKind::Rsa { bits: *bits },
            KeyInner::EcP256(_) => KeyKind::EcP256,
        }
    }

    pub(crate) fn inner(&self) -> &KeyInner {
        &self.inner
    }

    fn rsa(key: rsa::RsaPrivateKey) -> Result<SecretKey, KeyError> {
        use rsa::traits::PublicKeyParts;
        let bits = key.size() * 8;
        if bits < 2048 {
            return Err(KeyError::Unsupported {
                found: format!("an RSA key of {bits} bits (at least 2048 are required)"),
            });
        }
        Ok(SecretKey {
            inner: KeyInner::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(key)), bits),
        })
    }

    fn ec(key: p256::SecretKey) -> SecretKey {
        SecretKey {
            inner: KeyInner::EcP256(Box::new(p256::ecdsa::SigningKey::from(key))),
        }
    }
}

/// Describes a missing key file without echoing something that may be a mangled key.
fn describe_missing_path(path: &str) -> String {
    let looks_like_path = path.len() <= 1024
        && !path.contains('\n')
        && (path.contains('/')
            || path.contains('\\')
            || path.ends_with(".pem")
            || path.ends_with(".key")
            || path.ends_with(".txt"));
    if looks_like_path {
        format!("no file exists at {path:?}")
    } else {
        format!(
            "is not the path of an existing file ({} characters, not shown)",
            path.chars().count()
        )
    }
}

struct PemBlock {
    label: String,
    der: Zeroizing<Vec<u8>>,
}

/// Finds the first PEM block that is not `EC PARAMETERS`, tolerating indentation and CRLF.
fn first_key_block(text: &str) -> Result<PemBlock, KeyError> {
    let mut lines = text.lines().map(str::trim);
    let mut seen_any = false;
    while let Some(line) = lines.by_ref().find(|l| l.starts_with("-----BEGIN ")) {
        seen_any = true;
        let label = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
            .ok_or_else(|| {
                KeyError::Malformed(
                    "a BEGIN line is not of the form -----BEGIN <label>-----".into(),
                )
            })?
            .to_string();
        let end = format!("-----END {label}-----");
        let mut body = Zeroizing::new(String::new());
        let mut encrypted = false;
        let mut ended = false;
        for l in lines.by_ref() {
            if l == end {
                ended = true;
                break;
            }
            if l.starts_with("-----") {
                return Err(KeyError::Malformed(format!(
                    "the {label} block has no matching END line"
                )));
            }
            if let Some((name, value)) = l.split_once(':') {
                // RFC 1421 encapsulated headers: only legacy encrypted keys use them.
                if name.trim().eq_ignore_ascii_case("Proc-Type") && value.contains("ENCRYPTED") {
                    encrypted = true;
                }
                continue;
            }
            body.push_str(l);
        }
        if !ended {
            return Err(KeyError::Malformed(format!(
                "the {label} block has no END line (truncated?)"
            )));
        }
        if label == "EC PARAMETERS" {
            continue;
        }
        if encrypted || label == "ENCRYPTED PRIVATE KEY" {
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

fn parse_block(label: &str, der: &[u8]) -> Result<SecretKey, KeyError> {
    match label {
        "RSA PRIVATE KEY" => match rsa::RsaPrivateKey::from_pkcs1_der(der) {
            Ok(k) => SecretKey::rsa(k),
            Err(_) => parse_pkcs8(der, label).map_err(|_| {
                KeyError::Malformed(
                    "the RSA PRIVATE KEY block is neither PKCS#1 nor PKCS#8 (truncated?)".into(),
                )
            }),
        },
        "EC PRIVATE KEY" => parse_sec1(der).or_else(|sec1_err| {
            if pkcs8::PrivateKeyInfo::try_from(der).is_ok() {
                parse_pkcs8(der, label)
            } else {
                Err(sec1_err)
            }
        }),
        "PRIVATE KEY" => {
            if pkcs8::PrivateKeyInfo::try_from(der).is_ok() {
                parse_pkcs8(der, label)
            } else if sec1::EcPrivateKey::try_from(der).is_ok() {
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
        other => Err(KeyError::Unsupported {
            found: format!("a PEM block labelled {other:?}"),
        }),
    }
}

fn parse_sec1(der: &[u8]) -> Result<SecretKey, KeyError> {
    let parsed = sec1::EcPrivateKey::try_from(der).map_err(|_| {
        KeyError::Malformed(
            "the EC PRIVATE KEY block is neither SEC1 nor PKCS#8 (truncated?)".into(),
        )
    })?;
    if let Some(curve) = parsed.parameters.and_then(|p| p.named_curve()) {
        let curve = curve.to_string();
        if curve != OID_P256 {
            return Err(KeyError::Unsupported {
                found: format!("an EC key on curve {}", curve_name(&curve)),
            });
        }
    }
    p256::SecretKey::from_sec1_der(der)
        .map(SecretKey::ec)
        .map_err(|_| KeyError::Malformed("the SEC1 EC key is invalid for P-256".into()))
}

fn parse_pkcs8(der: &[u8], label: &str) -> Result<SecretKey, KeyError> {
    let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(|_| {
        KeyError::Malformed(format!("the {label} block is not PKCS#8 (truncated?)"))
    })?;
    let algorithm = info.algorithm.oid.to_string();
    match algorithm.as_str() {
        OID_RSA => rsa::RsaPrivateKey::from_pkcs8_der(der)
            .map_err(|_| KeyError::Malformed("the PKCS#8 RSA key is invalid".into()))
            .and_then(SecretKey::rsa),
        OID_EC => {
            let curve = info
                .algorithm
                .parameters_oid()
                .map(|o| o.to_string())
                .unwrap_or_else(|_| "unnamed parameters".into());
            if curve != OID_P256 {
                return Err(KeyError::Unsupported {
                    found: format!("an EC key on curve {}", curve_name(&curve)),
                });
            }
            p256::SecretKey::from_pkcs8_der(der)
                .map(SecretKey::ec)
                .map_err(|_| KeyError::Malformed("the PKCS#8 P-256 key is invalid".into()))
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
