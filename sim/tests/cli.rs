//! Tests of the `intersight-sim` binary: dataset dump, ready JSON, key files.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_intersight-sim");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "intersight-sim-cli-{}-{name}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn dump(dir: &PathBuf, seed: &str, file: &str) -> Value {
    let path = dir.join(file);
    let status = Command::new(BIN)
        .args([
            "--tokens",
            "25",
            "--seed",
            seed,
            "--anchor-time",
            "2024-05-01T10:20:30Z",
            "--no-serve",
            "--state-dir",
        ])
        .arg(dir)
        .arg("--dump")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn dump_is_deterministic_for_seed_and_anchor() {
    let dir = temp_dir("dump");
    let a = dump(&dir, "9", "a.json");
    let b = dump(&dir, "9", "b.json");
    let c = dump(&dir, "10", "c.json");
    assert_eq!(a.as_array().unwrap().len(), 25);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn key_files_and_reuse() {
    let dir = temp_dir("keys");
    let run = |reuse: bool| {
        let mut command = Command::new(BIN);
        command
            .args(["--tokens", "1", "--no-serve", "--state-dir"])
            .arg(&dir);
        if reuse {
            command.arg("--reuse-keys");
        }
        assert!(command.status().unwrap().success());
        let keys: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("keys.json")).unwrap()).unwrap();
        let rsa = std::fs::read_to_string(dir.join("rsa_key.pem")).unwrap();
        (keys, rsa)
    };
    let (first, first_rsa) = run(false);
    let key_id = first["rsa"]["key_id"].as_str().unwrap();
    let parts: Vec<&str> = key_id.split('/').collect();
    assert_eq!(parts.len(), 3);
    assert!(parts
        .iter()
        .all(|p| p.len() == 24 && p.chars().all(|c| c.is_ascii_hexdigit())));
    assert!(first_rsa.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let ec = std::fs::read_to_string(dir.join("ec_key.pem")).unwrap();
    assert!(ec.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let (reused, reused_rsa) = run(true);
    assert_eq!((reused, reused_rsa), (first.clone(), first_rsa.clone()));
    let (fresh, fresh_rsa) = run(false);
    assert_ne!(fresh, first);
    assert_ne!(fresh_rsa, first_rsa);
}

#[test]
fn json_ready_line_ready_file_and_stop_after() {
    let dir = temp_dir("ready");
    let ready_file = dir.join("ready.json");
    let output = Command::new(BIN)
        .args([
            "--tokens",
            "7",
            "--json-ready",
            "--stop-after",
            "1",
            "--state-dir",
        ])
        .arg(&dir)
        .arg("--ready-file")
        .arg(&ready_file)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let ready: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(ready["endpoint"]
        .as_str()
        .unwrap()
        .starts_with("https://127.0.0.1:"));
    assert_eq!(ready["tokens"], 7);
    assert!(ready["rsa"]["key_id"].is_string() && ready["ec"]["key_path"].is_string());
    assert!(std::fs::read_to_string(ready["ca_path"].as_str().unwrap())
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    let from_file: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    assert_eq!(from_file, ready);
}

#[test]
fn bad_flags_fail_with_a_message() {
    let output = Command::new(BIN)
        .args(["--faults", "{\"nope\":1}", "--no-serve"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("--faults is not a valid fault configuration"));
}
