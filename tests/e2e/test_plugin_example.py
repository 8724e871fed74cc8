"""The terraform-plugin crate serves a provider that is not this one: its documented example
(`crates/terraform-plugin/examples/echo_provider.rs`, built by `cargo build --workspace
--all-targets`) is served to real Terraform 1.15 and 1.0.3 over both plugin protocols, through a
`dev_overrides` CLI configuration, and its data source's value comes back through `apply`.
"""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from conftest import MATRIX, ROOT, run_tf

ADDRESS = "example.com/test/echo"


def example_binary() -> pathlib.Path:
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = target / "debug" / "examples" / "echo_provider"
    if not path.exists():
        pytest.fail(f"{path} is missing: run cargo build --workspace --all-targets")
    return path


@pytest.mark.parametrize("tf_version,proto", MATRIX)
def test_the_example_provider_serves_its_data_source(tmp_path, tf_version, proto):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "terraform-provider-echo").symlink_to(example_binary())
    rc = tmp_path / "terraformrc"
    rc.write_text(
        "provider_installation {\n"
        f'  dev_overrides {{\n    "{ADDRESS}" = "{plugins}"\n  }}\n'
        "  direct {}\n"
        "}\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / "main.tf").write_text(
        f'terraform {{\n  required_providers {{\n    echo = {{ source = "{ADDRESS}" }}\n  }}\n}}\n'
        'data "echo_text" "hello" {\n  input = "hello from Rust"\n}\n'
        'output "result" {\n  value = data.echo_text.hello.result\n}\n'
    )
    env = {"TF_CLI_CONFIG_FILE": str(rc), "ECHO_PLUGIN_PROTOCOL": proto}
    code, out, err = run_tf(tf_version, None, work, "apply", "-auto-approve", "-no-color", env=env)
    assert code == 0, out + err
    code, out, err = run_tf(tf_version, None, work, "output", "-json", env=env)
    assert code == 0, out + err
    assert json.loads(out)["result"]["value"] == "hello from Rust"

    # The provider's own errors reach Terraform as diagnostics.
    (work / "main.tf").write_text(
        f'terraform {{\n  required_providers {{\n    echo = {{ source = "{ADDRESS}" }}\n  }}\n}}\n'
        'data "echo_text" "empty" {}\n'
    )
    code, out, err = run_tf(tf_version, None, work, "plan", "-no-color", env=env)
    assert code != 0
    assert "Missing input" in out + err
