//! The binary under real Terraform (dev_overrides), for both protocol versions.
//!
//! Runs only when `INTERSIGHT_TEST_TERRAFORM` names one or more Terraform executables
//! (colon-separated), e.g. a 1.0.x binary and a 1.15 one; otherwise it says so and passes.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-intersight");

#[test]
fn terraform_reads_the_schema_over_protocol_5_and_6() {
    let Ok(list) = std::env::var("INTERSIGHT_TEST_TERRAFORM") else {
        eprintln!("INTERSIGHT_TEST_TERRAFORM not set: skipping the real-Terraform check");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let bin_dir = std::path::Path::new(BIN).parent().unwrap();
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
    for terraform in list.split(':').filter(|s| !s.is_empty()) {
        for version in ["5", "6"] {
            let output = Command::new(terraform)
                .args(["providers", "schema", "-json"])
                .current_dir(work.path())
                .env("TF_CLI_CONFIG_FILE", &cli_config)
                .env("INTERSIGHT_PLUGIN_PROTOCOL", version)
                .env("CHECKPOINT_DISABLE", "1")
                .env_remove("TF_LOG")
                .output()
                .unwrap();
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
