"""The release layout (`scripts/release.py`): the zip, manifest and SHA256SUMS a registry
publishes, and a packed filesystem mirror (the `terraform providers mirror` layout) from which
both Terraform versions install the provider, verify the archive's hash and load its schema.
The debug binary is packaged here (`--binary`) so the test needs no second, release build.

The version policy (README.md, docs/guides/migration.md): major 1 is the official provider's
line, so the constraints written for it select this build; minor 1 and up keep clear of its
1.0.x numbers (the last is 1.0.77)."""

import base64
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import PROVIDER_BIN, run_tf

ROOT = Path(__file__).resolve().parents[2]
NAME = "terraform-provider-intersight"


def version() -> str:
    return re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)


@pytest.fixture(scope="module")
def packed(tmp_path_factory, provider_installed):
    out = tmp_path_factory.mktemp("release")
    binary = PROVIDER_BIN
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "release.py"), "--binary", str(binary),
         "--dist", str(out / "dist"), "--mirror", str(out / "mirror")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, binary


def test_archive_manifest_and_checksums(packed):
    out, binary = packed
    ver = version()
    dist = out / "dist"
    archive = dist / f"{NAME}_{ver}_linux_amd64.zip"
    manifest = dist / f"{NAME}_{ver}_manifest.json"
    sums = dist / f"{NAME}_{ver}_SHA256SUMS"
    with zipfile.ZipFile(archive) as zf:
        [entry] = zf.infolist()
        assert entry.filename == f"{NAME}_v{ver}"
        assert (entry.external_attr >> 16) & 0o777 == 0o755, "the binary must be executable"
        assert zf.read(entry) == binary.read_bytes()
    assert json.loads(manifest.read_text()) == {
        "version": 1,
        "metadata": {"protocol_versions": ["5.0", "6.0"]},
    }
    lines = sums.read_text().splitlines()
    expected = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (archive, manifest)}
    assert sorted(lines) == sorted(f"{h}  {n}" for n, h in expected.items())


#: The newest official release (CiscoDevNet/terraform-provider-intersight v1.0.77).
LAST_OFFICIAL = (1, 0, 77)


def test_version_policy_is_the_official_major_above_every_official_release():
    major, minor, patch = (int(x) for x in version().split("."))
    assert major == 1, "major 1: the official provider's compatibility line"
    assert (major, minor, patch) > LAST_OFFICIAL and minor >= 1, "never an official 1.0.x number"


def mirror_rc(out: Path, tmp_path: Path) -> Path:
    rc_file = tmp_path / "terraformrc"
    rc_file.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path = "{out / "mirror"}"\n'
        '    include = ["registry.terraform.io/ciscodevnet/intersight"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/ciscodevnet/intersight"]\n  }\n}\n'
    )
    return rc_file


def pinned_workdir(tmp_path: Path, constraint: str) -> Path:
    work = tmp_path / "wd"
    work.mkdir()
    (work / "main.tf").write_text(
        'terraform {\n  required_providers {\n    intersight = {\n'
        f'      source  = "CiscoDevNet/intersight"\n      version = "{constraint}"\n    }}\n  }}\n}}\n'
    )
    return work


def locked_version(work: Path) -> str:
    lock = (work / ".terraform.lock.hcl").read_text()
    return re.search(r'^\s*version\s*=\s*"([^"]+)"', lock, re.M).group(1)


@pytest.mark.parametrize("tf", ["1.15", "1.0"])
@pytest.mark.parametrize(
    "constraint",
    ["EXACT", "~> 1.0", ">= 1.0.32", ">= 1.0.77"],
    ids=["exact", "pessimistic-1.0", "at-least-1.0.32", "at-least-1.0.77"],
)
def test_terraform_installs_from_the_packed_mirror(packed, tmp_path, tf, constraint):
    """`init` from the packed mirror with this build's exact version and with the constraints
    configurations for the official provider carry."""
    out, _ = packed
    ver = version()
    archive = out / "mirror" / "registry.terraform.io" / "ciscodevnet" / "intersight" / f"{NAME}_{ver}_linux_amd64.zip"
    assert archive.is_file()
    env = {"TF_CLI_CONFIG_FILE": str(mirror_rc(out, tmp_path))}
    work = pinned_workdir(tmp_path, ver if constraint == "EXACT" else constraint)
    rc, stdout, stderr = run_tf(tf, None, work, "init", "-no-color", "-input=false", env=env)
    assert rc == 0, stdout + stderr
    assert f"Installed ciscodevnet/intersight v{ver}" in stdout, stdout
    assert locked_version(work) == ver
    lock = (work / ".terraform.lock.hcl").read_text()
    # From a mirror Terraform records the "h1:" hash of the unpacked package: base64 of the
    # SHA-256 of the sorted "<sha256 hex>  <file name>" lines of its files. It must be the hash
    # of exactly the binary we packed.
    with zipfile.ZipFile(archive) as zf:
        lines = sorted(f"{hashlib.sha256(zf.read(i)).hexdigest()}  {i.filename}\n" for i in zf.infolist())
    h1 = "h1:" + base64.b64encode(hashlib.sha256("".join(lines).encode()).digest()).decode()
    assert h1 in lock, f"the lock file does not record the package hash {h1}:\n{lock}"
    rc, stdout, stderr = run_tf(tf, None, work, "providers", "schema", "-json", env=env)
    assert rc == 0, stderr
    schemas = json.loads(stdout)["provider_schemas"]
    [(address, schema)] = schemas.items()
    assert address == "registry.terraform.io/ciscodevnet/intersight"
    assert "intersight_iam_o_auth_token" in schema["data_source_schemas"]


@pytest.mark.parametrize("tf", ["1.15", "1.0"])
def test_an_exact_official_pin_does_not_match(packed, tmp_path, tf):
    """An exact pin of an official release names a build this is not: `init` refuses it (the
    migration guide says to loosen it to `~> 1.0` or `>= 1.0.NN`)."""
    out, _ = packed
    env = {"TF_CLI_CONFIG_FILE": str(mirror_rc(out, tmp_path))}
    work = pinned_workdir(tmp_path, "1.0.77")
    rc, stdout, stderr = run_tf(tf, None, work, "init", "-no-color", "-input=false", env=env)
    assert rc != 0
    assert "no available releases match the given constraints" in " ".join((stdout + stderr).split())


@pytest.mark.parametrize("tf", ["1.15", "1.0"])
def test_a_lock_file_from_the_official_provider_needs_init_upgrade(packed, tmp_path, tf):
    """A directory initialised with the official provider has its version in the lock file:
    plain `init` refuses to change it, `init -upgrade` moves the lock to this build."""
    out, _ = packed
    ver = version()
    env = {"TF_CLI_CONFIG_FILE": str(mirror_rc(out, tmp_path))}
    work = pinned_workdir(tmp_path, "~> 1.0")
    (work / ".terraform.lock.hcl").write_text(
        'provider "registry.terraform.io/ciscodevnet/intersight" {\n'
        '  version     = "1.0.77"\n  constraints = "~> 1.0"\n'
        '  hashes = [\n    "h1:kT2WmO3xB3fmbWJrE5mxpYf6VEjkY4rH7jLztM4qOO0=",\n  ]\n}\n'
    )
    rc, stdout, stderr = run_tf(tf, None, work, "init", "-no-color", "-input=false", env=env)
    assert rc != 0
    assert "the previously-selected version 1.0.77 is no longer available" in " ".join((stdout + stderr).split())
    rc, stdout, stderr = run_tf(tf, None, work, "init", "-upgrade", "-no-color", "-input=false", env=env)
    assert rc == 0, stdout + stderr
    assert locked_version(work) == ver


def release_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("release_script", ROOT / "scripts" / "release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_glibc_floor_check_refuses_a_binary_linked_against_a_newer_glibc(provider_installed):
    """The debug build links against this machine's glibc (2.36 on Debian 12), above the 2.17
    floor: the release check must refuse it, naming the version (what CI's release-check step
    relies on to catch a regression of the zigbuild link)."""
    release = release_module()
    newest = release.glibc_versions(PROVIDER_BIN, "linux_amd64")[-1]
    assert newest > (2, 17), newest
    with pytest.raises(release.ReleaseError, match=r"needs GLIBC_2\.\d+, above the floor 2\.17"):
        release.check_glibc(PROVIDER_BIN, "linux_amd64")


def test_the_smoke_run_checks_version_and_handshake(provider_installed):
    release = release_module()
    note = release.smoke(PROVIDER_BIN, "linux_amd64", version())
    assert note == "--version and handshake (unix) ran natively", note
    with pytest.raises(release.ReleaseError, match="--version failed"):
        release.smoke(PROVIDER_BIN, "linux_amd64", "9.9.9")
