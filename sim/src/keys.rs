//! API keys: generation, the files handed to clients, and the public keys the
//! signature verifier checks against. Private key material is never formatted.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use rand::RngExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot generate a key: {0}")]
    Generate(String),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} does not hold a usable {kind} private key: {reason}")]
    Parse {
        path: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error("{0} is not a valid keys.json: {1}")]
    KeysJson(PathBuf, String),
}

/// A public key the verifier accepts signatures from.
#[derive(Clone)]
pub enum PublicKey {
    /// PKCS#1 `RSAPublicKey` DER.
    Rsa(Vec<u8>),
    /// The uncompressed P-256 point.
    Ec(Vec<u8>),
}

impl PublicKey {
    pub fn kind(&self) -> &'static str {
        match self {
            PublicKey::Rsa(_) => "RSA",
            PublicKey::Ec(_) => "EC P-256",
        }
    }
}

/// Key ids and their public keys.
#[derive(Clone, Default)]
pub struct KeyStore {
    keys: HashMap<String, PublicKey>,
}

impl KeyStore {
    pub fn insert(&mut self, key_id: String, key: PublicKey) {
        self.keys.insert(key_id, key);
    }

    pub fn get(&self, key_id: &str) -> Option<&PublicKey> {
        self.keys.get(key_id)
    }
}

/// One key handed to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub key_id: String,
    pub key_path: PathBuf,
}

impl KeyInfo {
    pub fn to_json(&self) -> Value {
        json!({"key_id": self.key_id, "key_path": self.key_path.display().to_string()})
    }
}

pub struct ApiKeys {
    pub rsa: KeyInfo,
    pub ec: KeyInfo,
    pub store: KeyStore,
}

/// A key id shaped like Intersight's: account/user/key, each 24 hex digits.
pub fn new_key_id() -> String {
    let mut rng = rand::rng();
    let mut part = || {
        (0..24)
            .map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap_or('0'))
            .collect::<String>()
    };
    format!("{}/{}/{}", part(), part(), part())
}

fn write_private(path: &Path, contents: &str) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, contents).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// PEM text with LF line endings.
fn pem_text(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

/// The `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo` (short DER lengths up to 4 bytes).
fn pkcs8_private_key(der: &[u8]) -> Option<&[u8]> {
    fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (&found, rest) = input.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        if found != tag {
            return None;
        }
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (bytes, after) = rest.split_at(count);
            rest = after;
            bytes.iter().fold(0, |n, &b| (n << 8) | usize::from(b))
        };
        (rest.len() >= len).then(|| rest.split_at(len))
    }
    let (info, _) = element(der, 0x30)?;
    let (_, info) = element(info, 0x02)?;
    let (_, info) = element(info, 0x30)?;
    let (private_key, _) = element(info, 0x04)?;
    Some(private_key)
}

/// Generates an RSA 2048 key; returns the PKCS#1 PEM (`RSA PRIVATE KEY`, like v2 API
/// key files) and the public key.
pub fn generate_rsa() -> Result<(String, PublicKey), KeyError> {
    let generate = |e: &dyn std::fmt::Display| KeyError::Generate(e.to_string());
    let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|e| generate(&e))?;
    let pkcs8 = pair.as_der().map_err(|e| generate(&e))?;
    let pkcs1 = pkcs8_private_key(pkcs8.as_ref())
        .ok_or_else(|| generate(&"the generated key is not PKCS#8"))?;
    let public = PublicKey::Rsa(pair.public_key().as_ref().to_vec());
    Ok((pem_text("RSA PRIVATE KEY", pkcs1), public))
}

/// Generates a P-256 key; returns PKCS#8 bytes under the `EC PRIVATE KEY` label (as
/// Intersight v3 key files are written) and the public key.
pub fn generate_ec() -> Result<(String, PublicKey), KeyError> {
    let generate = |e: &dyn std::fmt::Display| KeyError::Generate(e.to_string());
    let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING)
        .map_err(|e| generate(&e))?;
    let pkcs8 = pair.to_pkcs8v1().map_err(|e| generate(&e))?;
    let public = PublicKey::Ec(pair.public_key().as_ref().to_vec());
    Ok((pem_text("EC PRIVATE KEY", pkcs8.as_ref()), public))
}

/// The DER of the first PEM block in the file at `path`.
fn read_der(path: &Path, kind: &'static str) -> Result<Vec<u8>, KeyError> {
    let text = read(path)?;
    pem::parse(text.as_bytes())
        .map(pem::Pem::into_contents)
        .map_err(|e| KeyError::Parse {
            path: path.to_path_buf(),
            kind,
            reason: e.to_string(),
        })
}

/// Reads an RSA private key in PKCS#1 or PKCS#8 form, whatever the PEM label.
pub fn load_rsa(path: &Path) -> Result<PublicKey, KeyError> {
    let der = read_der(path, "RSA")?;
    let pair = RsaKeyPair::from_der(&der)
        .or_else(|_| RsaKeyPair::from_pkcs8(&der))
        .map_err(|e| KeyError::Parse {
            path: path.to_path_buf(),
            kind: "RSA",
            reason: e.to_string(),
        })?;
    Ok(PublicKey::Rsa(pair.public_key().as_ref().to_vec()))
}

/// Reads a P-256 private key in PKCS#8 or SEC1 form, whatever the PEM label.
pub fn load_ec(path: &Path) -> Result<PublicKey, KeyError> {
    let der = read_der(path, "EC P-256")?;
    let pair = EcdsaKeyPair::from_private_key_der(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &der)
        .map_err(|e| KeyError::Parse {
            path: path.to_path_buf(),
            kind: "EC P-256",
            reason: e.to_string(),
        })?;
    Ok(PublicKey::Ec(pair.public_key().as_ref().to_vec()))
}

fn read_keys_json(path: &Path) -> Result<(String, String), KeyError> {
    let text = read(path)?;
    let bad = |why: &str| KeyError::KeysJson(path.to_path_buf(), why.to_string());
    let value: Value = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
    let id = |kind: &str| {
        value
            .get(kind)
            .and_then(|k| k.get("key_id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(&format!("missing {kind}.key_id")))
    };
    Ok((id("rsa")?, id("ec")?))
}

/// Sets up the two API keys in `state_dir`: fresh ones, or the existing files when
/// `reuse` is set and all of them exist.
pub fn prepare_keys(state_dir: &Path, reuse: bool) -> Result<ApiKeys, KeyError> {
    let rsa_path = state_dir.join("rsa_key.pem");
    let ec_path = state_dir.join("ec_key.pem");
    let json_path = state_dir.join("keys.json");
    let have_all = rsa_path.exists() && ec_path.exists() && json_path.exists();
    let (rsa_id, ec_id, rsa_public, ec_public) = if reuse && have_all {
        let (rsa_id, ec_id) = read_keys_json(&json_path)?;
        (rsa_id, ec_id, load_rsa(&rsa_path)?, load_ec(&ec_path)?)
    } else {
        let (rsa_pem, rsa_public) = generate_rsa()?;
        let (ec_pem, ec_public) = generate_ec()?;
        write_private(&rsa_path, &rsa_pem)?;
        write_private(&ec_path, &ec_pem)?;
        (new_key_id(), new_key_id(), rsa_public, ec_public)
    };
    let rsa = KeyInfo {
        key_id: rsa_id,
        key_path: rsa_path,
    };
    let ec = KeyInfo {
        key_id: ec_id,
        key_path: ec_path,
    };
    let keys_json = json!({"rsa": rsa.to_json(), "ec": ec.to_json()});
    let text = serde_json::to_string_pretty(&keys_json).unwrap_or_default();
    std::fs::write(&json_path, text + "\n").map_err(|source| KeyError::Io {
        path: json_path.clone(),
        source,
    })?;
    let mut store = KeyStore::default();
    store.insert(rsa.key_id.clone(), rsa_public);
    store.insert(ec.key_id.clone(), ec_public);
    Ok(ApiKeys { rsa, ec, store })
}
