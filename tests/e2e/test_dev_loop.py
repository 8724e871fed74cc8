"""The local development loop (scripts/install-provider, README "Developing"): a debug build is
used through `dev_overrides`, so a rebuild is picked up by the next `plan` in a directory that
already exists (no `init`, no lock file to break), and a debug install never touches the release
mirror; reinstalling a different release build of the same version says what it did and what a
directory initialised with the earlier build needs (`rm .terraform.lock.hcl && terraform init`).

Each test installs into its own scratch work directory (INSTALL_PROVIDER_WORK) from a scratch
target directory (CARGO_TARGET_DIR) holding copies of the installed binaries; a "rebuild" is a
copy with bytes appended (a different file, as after a real rebuild, that runs the same)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PROVIDER_BIN, REQUIRED_PROVIDERS, ROOT, SIM_BIN, run_tf

NAME = "terraform-provider-intersight"


def fake_build(target: Path, profile: str, generation: int) -> None:
    """target/<profile>/ as cargo leaves it; each generation is a different provider file."""
    out = target / profile
    out.mkdir(parents=True, exist_ok=True)
    data = PROVIDER_BIN.read_bytes() + (b"\0rebuild %d\0" % generation if generation else b"")
    dest = out / NAME
    dest.unlink(missing_ok=True)
    dest.write_bytes(data)
    dest.chmod(0o755)
    if not (out / "intersight-sim").exists():
        shutil.copy2(SIM_BIN, out / "intersight-sim")


def install(target: Path, work: Path, profile: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CARGO_TARGET_DIR=str(target), INSTALL_PROVIDER_WORK=str(work))
    proc = subprocess.run([str(ROOT / "scripts" / "install-provider"), profile, "--no-build"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def config(sim) -> str:
    return sim.config(
        'data "intersight_iam_o_auth_token" "t" {}\n'
        'output "n" {\n  value = length(data.intersight_iam_o_auth_token.t.results)\n}\n'
    )


@pytest.mark.parametrize("tf", ["1.15", "1.0"])
def test_a_rebuild_is_used_by_the_next_plan_without_init(tf, tmp_path, sim_factory, provider_installed):
    sim = sim_factory(tokens=20)
    target, work = tmp_path / "target", tmp_path / "work"
    fake_build(target, "debug", 0)
    install(target, work, "debug")
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "main.tf").write_text(config(sim))
    env = {"TF_CLI_CONFIG_FILE": str(work / "dev" / "terraformrc")}

    rc, out, err = run_tf(tf, None, wd, "plan", "-no-color", "-input=false", env=env)
    assert rc == 0, out + err
    assert "n = 20" in out, out
    assert not (wd / ".terraform.lock.hcl").exists(), "dev_overrides needs no lock file"

    fake_build(target, "debug", 1)
    install(target, work, "debug")
    assert (work / "dev" / NAME).read_bytes().endswith(b"\0rebuild 1\0"), "the rebuild was installed"
    rc, out, err = run_tf(tf, None, wd, "plan", "-no-color", "-input=false", env=env)
    assert rc == 0, f"plan after a rebuild failed:\n{out}{err}"
    assert "n = 20" in out, out
    assert not (work / "mirror").exists(), "a debug install never writes the release mirror"
    assert not (work / "terraformrc").exists(), "nor the release CLI configuration"


def test_a_debug_install_leaves_the_release_mirror_alone(tmp_path, provider_installed):
    target, work = tmp_path / "target", tmp_path / "work"
    fake_build(target, "release", 0)
    install(target, work, "release")
    files = sorted(p for p in (work / "mirror").rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    rc_before = (work / "terraformrc").read_text()
    fake_build(target, "debug", 1)
    install(target, work, "debug")
    assert sorted(p for p in (work / "mirror").rglob("*") if p.is_file()) == files
    assert all(p.read_bytes() == data for p, data in before.items())
    assert (work / "terraformrc").read_text() == rc_before


def test_reinstalling_a_different_release_build_says_what_to_do(tmp_path, provider_installed):
    """The documented recovery works: the old lock entry fails, `rm .terraform.lock.hcl` and
    `init` takes the new build."""
    target, work = tmp_path / "target", tmp_path / "work"
    fake_build(target, "release", 0)
    first = install(target, work, "release")
    assert "NOTE" not in first.stderr
    again = install(target, work, "release")
    assert "NOTE" not in again.stderr, "the same build reinstalled changes nothing and says nothing"

    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "main.tf").write_text(REQUIRED_PROVIDERS)
    env = {"TF_CLI_CONFIG_FILE": str(work / "terraformrc")}
    rc, out, err = run_tf("1.15", None, wd, "init", "-no-color", "-input=false", env=env)
    assert rc == 0, out + err

    fake_build(target, "release", 2)
    proc = install(target, work, "release")
    assert "replaced a different build" in proc.stderr, proc.stderr
    assert "rm .terraform.lock.hcl && terraform init" in proc.stderr
    shutil.rmtree(wd / ".terraform")
    rc, out, err = run_tf("1.15", None, wd, "init", "-no-color", "-input=false", env=env)
    assert rc != 0, "the earlier lock entry no longer matches"
    assert "checksums" in " ".join((out + err).split()), out + err
    (wd / ".terraform.lock.hcl").unlink()
    rc, out, err = run_tf("1.15", None, wd, "init", "-no-color", "-input=false", env=env)
    assert rc == 0, out + err

