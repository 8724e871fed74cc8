"""The provider binary as a person meets it: `--version`, `--help`, a start that fails before the
handshake (what Terraform shows), and `--debug` mode, where the provider reads the INTERSIGHT_*
and TF_LOG_PROVIDER variables from its own shell, not from Terraform's."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import MATRIX, PROVIDER_BIN, ROOT
DS = "intersight_iam_o_auth_token"


def cargo_version() -> str:
    return re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)


def run_provider(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    if not PROVIDER_BIN.exists():
        pytest.fail(f"{PROVIDER_BIN} is missing: run scripts/install-provider")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "INTERSIGHT_", "PLUGIN_"))}
    clean.update(env or {})
    return subprocess.run([str(PROVIDER_BIN), *args], env=clean, capture_output=True, text=True, timeout=30)


def test_version_prints_the_version_and_the_protocols(provider_installed):
    proc = run_provider("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"terraform-provider-intersight {cargo_version()}\n"
        "provider: registry.terraform.io/ciscodevnet/intersight\n"
        "plugin protocols: 5, 6\n"
    )
    restricted = run_provider("--version", env={"INTERSIGHT_PLUGIN_PROTOCOL": "5"})
    assert "plugin protocols: 5 (restricted by INTERSIGHT_PLUGIN_PROTOCOL; supported: 5, 6)" in restricted.stdout


def test_help_lists_the_flags_and_the_variables(provider_installed):
    proc = run_provider("--help")
    assert proc.returncode == 0, proc.stderr
    for needle in ("--debug", "--version", "--help", "INTERSIGHT_PLUGIN_PROTOCOL", "TF_LOG_PROVIDER",
                   "TF_LOG ", "INTERSIGHT_API_KEY", "INTERSIGHT_SECRET_KEY", "INTERSIGHT_ENDPOINT_URL"):
        assert needle in proc.stdout, needle
    unknown = run_provider("--verbose")
    assert unknown.returncode == 2
    assert 'unknown argument "--verbose"' in unknown.stderr


@pytest.mark.parametrize("version,proto", [p for p in MATRIX if p.values[1] == "6"])
def test_a_bad_protocol_restriction_is_shown_by_terraform(sim, workdir_factory, version, proto):
    """INTERSIGHT_PLUGIN_PROTOCOL=7: Terraform's error carries the provider's reason (it shows the
    plugin's first stdout line; Terraform 1.0 adds "Plugin reinitialization required")."""
    wd = workdir_factory(version, proto, sim.config(f'data "{DS}" "x" {{\n  client_name = "isctl"\n}}\n'))
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", env={"INTERSIGHT_PLUGIN_PROTOCOL": "7"})
    assert rc != 0
    text = " ".join((out + err).split())
    assert (
        f"terraform-provider-intersight {cargo_version()} cannot start: INTERSIGHT_PLUGIN_PROTOCOL=\"7\" "
        "is not a protocol version this provider serves: set it to 5 or 6, or unset it to offer both"
    ) in text, err


class DebugProvider:
    """`terraform-provider-intersight --debug` started by hand, with its own environment."""

    def __init__(self, env: dict[str, str]):
        if not PROVIDER_BIN.exists():
            pytest.fail(f"{PROVIDER_BIN} is missing: run scripts/install-provider")
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "INTERSIGHT_", "PLUGIN_"))}
        clean.update(env)
        self.proc = subprocess.Popen(
            [str(PROVIDER_BIN), "--debug"], env=clean, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.stderr_lines: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        line = self.proc.stdout.readline()
        match = re.fullmatch(r"TF_REATTACH_PROVIDERS='(.*)'\n", line)
        if not match:
            self.stop()
            pytest.fail(f"no reattach line: {line!r}\n{''.join(self.stderr_lines)}")
        self.reattach = match.group(1)
        json.loads(self.reattach)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        return "".join(self.stderr_lines)


def debug_body() -> str:
    return (
        f'data "{DS}" "x" {{\n  client_name = "isctl"\n}}\n'
        f'output "n" {{\n  value = length(data.{DS}.x.results)\n}}\n'
    )


def provider_without_credentials(sim) -> str:
    """A provider block with only the CA: the credentials must come from the environment."""
    return sim.config(debug_body(), apikey="null", secretkey="null", endpoint="null")


@pytest.mark.parametrize("version", ["1.15", "1.0"])
def test_debug_mode_reads_credentials_and_log_level_from_its_own_shell(sim, workdir_factory, version):
    provider = DebugProvider({
        "INTERSIGHT_API_KEY": sim.rsa_key_id,
        "INTERSIGHT_SECRET_KEY": sim.rsa_key_path,
        "INTERSIGHT_ENDPOINT_URL": sim.endpoint,
        "TF_LOG_PROVIDER": "DEBUG",
    })
    try:
        wd = workdir_factory(version, None, provider_without_credentials(sim))
        wd.init()
        # Terraform's own shell has no INTERSIGHT_* variables (base_env drops them) and no log level.
        out = wd.tf_ok("apply", "-no-color", "-input=false", "-auto-approve",
                       env={"TF_REATTACH_PROVIDERS": provider.reattach})
        assert "Apply complete" in out
        want = sum(1 for t in sim.dataset() if t.get("ClientName") == "isctl")
        assert wd.outputs() == {"n": want}
    finally:
        logs = provider.stop()
    records = [json.loads(l) for l in logs.splitlines() if l.startswith("{")]
    assert any(r["@message"] == "list read done" for r in records), logs[-3000:]


def test_debug_mode_ignores_terraforms_environment(sim, workdir_factory):
    """The converse: credentials exported only where Terraform runs do not reach the provider."""
    provider = DebugProvider({})
    try:
        wd = workdir_factory("1.15", None, provider_without_credentials(sim))
        wd.init()
        rc, out, err = wd.tf("plan", "-no-color", "-input=false", env={
            "TF_REATTACH_PROVIDERS": provider.reattach,
            "INTERSIGHT_API_KEY": sim.rsa_key_id,
            "INTERSIGHT_SECRET_KEY": sim.rsa_key_path,
            "INTERSIGHT_ENDPOINT_URL": sim.endpoint,
        })
    finally:
        provider.stop()
    assert rc != 0
    assert "INTERSIGHT_API_KEY" in " ".join(err.split()), err
