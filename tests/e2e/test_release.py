"""The release layout (`scripts/release.py`): the zip, manifest and SHA256SUMS a registry
publishes, and a packed filesystem mirror (the `terraform providers mirror` layout) from which
both Terraform versions install the provider, verify the archive's hash and load its schema.
The debug binary is packaged here (`--binary`) so the test needs no second, release build."""

import base64
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import run_tf

ROOT = Path(__file__).resolve().parents[2]
NAME = "terraform-provider-intersight"


def version() -> str:
    return re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)


@pytest.fixture(scope="module")
def packed(tmp_path_factory, provider_installed):
    out = tmp_path_factory.mktemp("release")
    binary = ROOT / ".work" / "bin" / NAME
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


@pytest.mark.parametrize("tf", ["1.15", "1.0"])
def test_terraform_installs_from_the_packed_mirror(packed, tmp_path, tf):
    out, _ = packed
    ver = version()
    archive = out / "mirror" / "registry.terraform.io" / "ciscodevnet" / "intersight" / f"{NAME}_{ver}_linux_amd64.zip"
    assert archive.is_file()
    rc_file = tmp_path / "terraformrc"
    rc_file.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path = "{out / "mirror"}"\n'
        '    include = ["registry.terraform.io/ciscodevnet/intersight"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/ciscodevnet/intersight"]\n  }\n}\n'
    )
    work = tmp_path / "wd"
    work.mkdir()
    (work / "main.tf").write_text(
        'terraform {\n  required_providers {\n    intersight = {\n'
        f'      source  = "CiscoDevNet/intersight"\n      version = "{ver}"\n    }}\n  }}\n}}\n'
    )
    env = {"TF_CLI_CONFIG_FILE": str(rc_file)}
    rc, stdout, stderr = run_tf(tf, None, work, "init", "-no-color", "-input=false", env=env)
    assert rc == 0, stdout + stderr
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
