//! Secret key loading: every accepted form, every rejected form with a clear message, and no
//! key material in any message.

use std::path::PathBuf;

use intersight_client::{KeyError, KeyKind, SecretKey};
use pkcs8::der::asn1::ObjectIdentifier;
use pkcs8::der::pem::LineEnding;
use pkcs8::der::{AnyRef, Encode};
use pkcs8::{EncodePrivateKey, EncodePublicKey};
use rsa::pkcs1::EncodeRsaPrivateKey;

fn pem(label: &str, der: &[u8]) -> String {
    pkcs8::der::pem::encode_string(label, LineEnding::LF, der).unwrap()
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/signing")
        .join(name)
}

fn rsa_key() -> rsa::RsaPrivateKey {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    rsa::RsaPrivateKey::from_pkcs1_pem(&std::fs::read_to_string(fixture("rsa_pkcs1.pem")).unwrap())
        .unwrap()
}

fn ec_key() -> p256::SecretKey {
    p256::SecretKey::from_slice(&[7u8; 32]).unwrap()
}

/// The base64 body lines of a PEM text (what must never show up in an error).
fn body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
        .map(str::to_string)
        .collect()
}

fn reject(text: &str) -> KeyError {
    let err = SecretKey::from_pem_or_path(text).unwrap_err();
    let msg = err.to_string();
    for line in body_lines(text) {
        assert!(
            !msg.contains(&line[..16]),
            "error leaks key material: {msg}"
        );
    }
    assert!(!msg.contains('\n'), "error is not one line: {msg}");
    err
}

#[test]
fn accepts_rsa_pkcs1_and_pkcs8() {
    let key = rsa_key();
    let pkcs1 = key.to_pkcs1_pem(LineEnding::LF).unwrap();
    let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    for text in [pkcs1.as_str(), pkcs8.as_str()] {
        let k = SecretKey::from_pem_or_path(text).unwrap();
        assert_eq!(k.kind(), KeyKind::Rsa { bits: 2048 });
    }
    // PKCS#8 bytes under the PKCS#1 label are accepted too.
    let der = key.to_pkcs8_der().unwrap();
    let k = SecretKey::from_pem_or_path(&pem("RSA PRIVATE KEY", der.as_bytes())).unwrap();
    assert_eq!(k.kind(), KeyKind::Rsa { bits: 2048 });
}

#[test]
fn accepts_ec_p256_sec1_and_pkcs8_under_either_label() {
    let key = ec_key();
    let sec1_der = key.to_sec1_der().unwrap();
    let pkcs8_der = key.to_pkcs8_der().unwrap();
    let forms = [
        pem("EC PRIVATE KEY", &sec1_der),
        pem("EC PRIVATE KEY", pkcs8_der.as_bytes()),
        pem("PRIVATE KEY", pkcs8_der.as_bytes()),
        pem("PRIVATE KEY", &sec1_der),
    ];
    for text in &forms {
        let k = SecretKey::from_pem_or_path(text).unwrap();
        assert_eq!(k.kind(), KeyKind::EcP256, "{text}");
    }
}

#[test]
fn all_ec_forms_sign_identically() {
    // Same key, four encodings: the deterministic signatures must agree.
    use intersight_client::signing::{sign, RequestToSign};
    let key = ec_key();
    let sec1_der = key.to_sec1_der().unwrap();
    let pkcs8_der = key.to_pkcs8_der().unwrap();
    let req = RequestToSign {
        method: "GET",
        path_and_query: "/x",
        host: "h",
        body: b"",
    };
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1);
    let sigs: std::collections::BTreeSet<String> = [
        pem("EC PRIVATE KEY", &sec1_der),
        pem("EC PRIVATE KEY", pkcs8_der.as_bytes()),
        pem("PRIVATE KEY", pkcs8_der.as_bytes()),
    ]
    .iter()
    .map(|t| sign(&req, &SecretKey::from_pem(t).unwrap(), "k", now).authorization)
    .collect();
    assert_eq!(sigs.len(), 1);
}

#[test]
fn accepts_paths_indentation_crlf_escaped_newlines_and_ec_parameters() {
    let text = std::fs::read_to_string(fixture("ec_sec1.pem")).unwrap();
    let path = fixture("ec_sec1.pem");
    assert_eq!(
        SecretKey::from_pem_or_path(path.to_str().unwrap())
            .unwrap()
            .kind(),
        KeyKind::EcP256
    );
    assert_eq!(
        SecretKey::from_pem_or_path(&format!("  {}\n", path.display()))
            .unwrap()
            .kind(),
        KeyKind::EcP256
    );
    let indented: String = text.lines().map(|l| format!("    {l}\n")).collect();
    let crlf = text.replace('\n', "\r\n");
    let escaped = text.trim_end().replace('\n', "\\n");
    let with_params = format!(
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{text}"
    );
    for t in [indented, crlf, escaped, with_params] {
        assert_eq!(
            SecretKey::from_pem_or_path(&t).unwrap().kind(),
            KeyKind::EcP256,
            "{t}"
        );
    }
}

#[test]
fn debug_shows_only_the_kind() {
    let k = SecretKey::from_pem_or_path(fixture("rsa_pkcs1.pem").to_str().unwrap()).unwrap();
    assert_eq!(format!("{k:?}"), "SecretKey(RSA-2048)");
    let k = SecretKey::from_pem(&pem(
        "PRIVATE KEY",
        ec_key().to_pkcs8_der().unwrap().as_bytes(),
    ))
    .unwrap();
    assert_eq!(format!("{k:?}"), "SecretKey(EC P-256)");
}

#[test]
fn rejects_empty_and_missing_files() {
    assert_eq!(reject("   "), KeyError::Empty);
    let msg = reject("/no/such/key.pem").to_string();
    assert!(
        msg.contains("/no/such/key.pem") && msg.contains("no file"),
        "{msg}"
    );
    // Something that is neither PEM nor a plausible path is not echoed.
    let blob = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUtta3D2G575ER6Vj";
    let msg = reject(blob).to_string();
    assert!(!msg.contains("MIGH") && msg.contains("not shown"), "{msg}");
    let dir = tempfile::tempdir().unwrap();
    let msg = SecretKey::from_pem_or_path(dir.path().to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("is not a file"), "{msg}");
}

#[test]
fn rejects_encrypted_keys() {
    let msg = reject(&pem(
        "ENCRYPTED PRIVATE KEY",
        &[0x30, 0x03, 0x02, 0x01, 0x00],
    ))
    .to_string();
    assert!(
        msg.contains("encrypted") && msg.contains("PKCS#8") && msg.contains("accepted"),
        "{msg}"
    );
    let der = rsa_key().to_pkcs1_der().unwrap();
    let body = pem("RSA PRIVATE KEY", der.as_bytes());
    let legacy = body.replacen(
        "-----\n",
        "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\n",
        1,
    );
    let msg = reject(&legacy).to_string();
    assert!(
        msg.contains("passphrase-protected RSA PRIVATE KEY"),
        "{msg}"
    );
}

#[test]
fn rejects_truncated_and_malformed_pem() {
    let text = std::fs::read_to_string(fixture("rsa_pkcs1.pem")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // END line missing.
    let no_end = lines[..lines.len() - 1].join("\n");
    assert!(matches!(reject(&no_end), KeyError::Malformed(m) if m.contains("no END line")));
    // Body cut short (whole lines dropped): the DER is incomplete.
    let cut = format!("{}\n{}\n", lines[..10].join("\n"), lines[lines.len() - 1]);
    assert!(matches!(reject(&cut), KeyError::Malformed(m) if m.contains("RSA PRIVATE KEY")));
    // Body cut mid-line: not valid base64.
    let mid = format!(
        "{}\n{}\n{}\n",
        lines[..5].join("\n"),
        &lines[5][..7],
        lines[lines.len() - 1]
    );
    assert!(matches!(reject(&mid), KeyError::Malformed(_)));
    assert!(matches!(
        reject("-----BEGIN garbage"),
        KeyError::Malformed(_)
    ));
    let ec_cut = pem("EC PRIVATE KEY", &ec_key().to_sec1_der().unwrap()[..40]);
    assert!(matches!(reject(&ec_cut), KeyError::Malformed(_)));
    let mismatched = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert!(matches!(reject(mismatched), KeyError::Malformed(_)));
}

#[test]
fn rejects_public_only_material() {
    let public = ec_key()
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let msg = reject(&public).to_string();
    assert!(msg.contains("only a PUBLIC KEY"), "{msg}");
    let rsa_public =
        rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_pem(&rsa_key().to_public_key(), LineEnding::LF)
            .unwrap();
    assert!(
        matches!(reject(&rsa_public), KeyError::PublicOnly { found } if found == "RSA PUBLIC KEY")
    );
    let cert = rcgen::generate_simple_self_signed(vec!["x".into()])
        .unwrap()
        .cert
        .pem();
    assert!(matches!(reject(&cert), KeyError::PublicOnly { found } if found == "CERTIFICATE"));
}

#[test]
fn rejects_other_curves_and_algorithms() {
    let p384 = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    let sec1_p384 = sec1::EcPrivateKey {
        private_key: &[1u8; 48],
        parameters: Some(sec1::EcParameters::NamedCurve(p384)),
        public_key: None,
    }
    .to_der()
    .unwrap();
    for label in ["EC PRIVATE KEY", "PRIVATE KEY"] {
        let msg = reject(&pem(label, &sec1_p384)).to_string();
        assert!(
            msg.contains("P-384") && msg.contains("accepted"),
            "{label}: {msg}"
        );
    }
    let ec_oid = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    let pkcs8_p384 = pkcs8::PrivateKeyInfo::new(
        pkcs8::AlgorithmIdentifierRef {
            oid: ec_oid,
            parameters: Some(AnyRef::from(&p384)),
        },
        &sec1_p384,
    )
    .to_der()
    .unwrap();
    for label in ["EC PRIVATE KEY", "PRIVATE KEY"] {
        let msg = reject(&pem(label, &pkcs8_p384)).to_string();
        assert!(msg.contains("P-384"), "{label}: {msg}");
    }
    let ed25519 = pkcs8::PrivateKeyInfo::new(
        pkcs8::AlgorithmIdentifierRef {
            oid: ObjectIdentifier::new_unwrap("1.3.101.112"),
            parameters: None,
        },
        &[
            0x04, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
            22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
        ],
    )
    .to_der()
    .unwrap();
    let msg = reject(&pem("PRIVATE KEY", &ed25519)).to_string();
    assert!(
        msg.contains("Ed25519") && msg.contains("RSA") && msg.contains("P-256"),
        "{msg}"
    );
    let msg =
        reject("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
            .to_string();
    assert!(msg.contains("OPENSSH"), "{msg}");
    let msg = reject("-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n")
        .to_string();
    assert!(msg.contains("\"DSA PRIVATE KEY\""), "{msg}");
}

#[test]
fn rejects_small_rsa_keys() {
    let small = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
    let msg = reject(&small.to_pkcs1_pem(LineEnding::LF).unwrap()).to_string();
    assert!(msg.contains("1024 bits"), "{msg}");
}

#[test]
fn a_leading_tilde_expands_from_home() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("intersight")).unwrap();
    std::fs::copy(
        fixture("ec_sec1.pem"),
        home.path().join("intersight/SecretKey.txt"),
    )
    .unwrap();
    // The example in docs/index.md.
    let key =
        SecretKey::from_pem_or_path_with_home("~/intersight/SecretKey.txt", Some(home.path()))
            .unwrap();
    assert_eq!(key.kind(), KeyKind::EcP256);
    let msg = SecretKey::from_pem_or_path_with_home("~/intersight/Other.txt", Some(home.path()))
        .unwrap_err()
        .to_string();
    let expanded = home.path().join("intersight/Other.txt");
    assert!(
        msg.contains("\"~/intersight/Other.txt\"")
            && msg.contains(&format!("{:?}", expanded.display().to_string())),
        "{msg}"
    );
    let msg = SecretKey::from_pem_or_path_with_home("~/intersight/SecretKey.txt", None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("HOME is not set"), "{msg}");
}

#[test]
fn a_key_file_over_one_mebibyte_is_refused_even_when_it_starts_with_a_valid_key() {
    // A valid key followed by 2 MiB of zeros used to be accepted (and a 3 GiB file was read
    // whole before "no BEGIN line").
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("SecretKey.txt");
    let mut bytes = std::fs::read(fixture("rsa_pkcs1.pem")).unwrap();
    assert!(SecretKey::from_pem_or_path(path_of(&fixture("rsa_pkcs1.pem"))).is_ok());
    bytes.resize(bytes.len() + (2 << 20), 0);
    std::fs::write(&path, &bytes).unwrap();
    let err = SecretKey::from_pem_or_path(path_of(&path)).unwrap_err();
    assert!(matches!(err, KeyError::TooLarge { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(path_of(&path)) && msg.contains("1 MiB"),
        "{msg}"
    );
    for line in body_lines(&std::fs::read_to_string(fixture("rsa_pkcs1.pem")).unwrap()) {
        assert!(!msg.contains(&line[..16]), "{msg}");
    }
}

fn path_of(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
}
