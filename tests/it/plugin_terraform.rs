//! The binary under real Terraform (dev_overrides), for both protocol versions.
//!
//! Runs the Terraform CLIs `scripts/bootstrap` installs (`.venv/bin/terraform-1.15` and
//! `.venv/bin/terraform-1.0` at the workspace root; `scripts/test` bootstraps before
//! `cargo test`). `INTERSIGHT_TEST_TERRAFORM` names other executables instead
//! (colon-separated); `INTERSIGHT_TEST_TERRAFORM=none` is the only way to skip. Without any
//! Terraform the test fails, saying how to get one.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-intersight");

/// The CLIs `scripts/bootstrap` installs, relative to the workspace root.
const BOOTSTRAPPED: [&str; 2] = [".venv/bin/terraform-1.15", ".venv/bin/terraform-1.0"];

/// What the test runs: `Ok(None)` to skip, or the executables, or why there are none.
fn terraform_clis(setting: Option<&str>, root: &Path) -> Result<Option<Vec<PathBuf>>, String> {
    match setting {
        Some("none") => Ok(None),
        Some(list) => {
            let clis: Vec<PathBuf> = list
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect();
            if clis.is_empty() {
                Err("INTERSIGHT_TEST_TERRAFORM names no executable (set it to `none` to skip the real-Terraform check)".into())
            } else {
                Ok(Some(clis))
            }
        }
        None => {
            let found: Vec<PathBuf> = BOOTSTRAPPED
                .iter()
                .map(|cli| root.join(cli))
                .filter(|cli| cli.is_file())
                .collect();
            if found.is_empty() {
                Err(format!(
                    "no Terraform CLI at {} or {}: run scripts/bootstrap (it installs Terraform 1.15 and \
                     1.0.3 into .venv), name executables in INTERSIGHT_TEST_TERRAFORM (colon-separated), \
                     or set INTERSIGHT_TEST_TERRAFORM=none to skip this check",
                    root.join(BOOTSTRAPPED[0]).display(),
                    root.join(BOOTSTRAPPED[1]).display()
                ))
            } else {
                Ok(Some(found))
            }
        }
    }
}

#[test]
fn without_a_setting_the_bootstrapped_clis_are_used_or_the_test_fails_saying_how_to_get_them() {
    let empty = tempfile::tempdir().unwrap();
    let err = terraform_clis(None, empty.path()).unwrap_err();
    assert!(err.contains("scripts/bootstrap"), "{err}");
    assert!(err.contains("INTERSIGHT_TEST_TERRAFORM=none"), "{err}");
    assert_eq!(terraform_clis(Some("none"), empty.path()), Ok(None));
    assert!(terraform_clis(Some(":"), empty.path()).is_err());
    let bin = empty.path().join(".venv/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("terraform-1.0"), "").unwrap();
    assert_eq!(
        terraform_clis(None, empty.path()),
        Ok(Some(vec![bin.join("terraform-1.0")]))
    );
    assert_eq!(
        terraform_clis(Some("/a/tf:/b/tf"), empty.path()),
        Ok(Some(vec![PathBuf::from("/a/tf"), PathBuf::from("/b/tf")]))
    );
}

#[test]
fn terraform_reads_the_schema_over_protocol_5_and_6() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let setting = std::env::var("INTERSIGHT_TEST_TERRAFORM").ok();
    let clis = match terraform_clis(setting.as_deref(), root) {
        Ok(Some(clis)) => clis,
        Ok(None) => {
            eprintln!("INTERSIGHT_TEST_TERRAFORM=none: skipping the real-Terraform check");
            return;
        }
        Err(advice) => panic!("{advice}"),
    };
    let work = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let cli_config = work.path().join("dev.tfrc");
    std::fs::write(
        &cli_config,
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"ciscodevnet/intersight\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            bin_dir.display()
        ),
    )
    .unwrap();
    std::fs::write(
        work.path().join("main.tf"),
        "terraform {\n  required_providers {\n    intersight = { source = \"ciscodevnet/intersight\" }\n  }\n}\n",
    )
    .unwrap();
    for terraform in &clis {
        let terraform = terraform.display();
        for version in ["5", "6"] {
            let output = Command::new(terraform.to_string())
                .args(["providers", "schema", "-json"])
                .current_dir(work.path())
                .env("TF_CLI_CONFIG_FILE", &cli_config)
                .env("INTERSIGHT_PLUGIN_PROTOCOL", version)
                .env("CHECKPOINT_DISABLE", "1")
                .env_remove("TF_LOG")
                .output()
                .unwrap_or_else(|e| panic!("{terraform} could not be run: {e}"));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "{terraform} (protocol {version}) failed: {stderr}"
            );
            let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            let provider =
                &schema["provider_schemas"]["registry.terraform.io/ciscodevnet/intersight"];
            assert!(
                provider["data_source_schemas"]["intersight_iam_o_auth_token"].is_object(),
                "{terraform} (protocol {version}): {schema}"
            );
            eprintln!("{terraform}: protocol {version} ok");
        }
    }
}
