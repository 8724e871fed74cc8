"""The client's signing known-answer fixture (tests/fixtures/signing/cases.json) is what the
official Python SDK (`intersight.signing`) produces: regenerate it into a scratch copy and compare."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "signing"
GENERATOR = FIXTURES / "generate.py"
CASES = FIXTURES / "cases.json"


def test_signing_fixture_regenerates_identically(tmp_path):
    assert GENERATOR.is_file(), f"{GENERATOR} is missing"
    assert CASES.is_file(), f"{CASES} is missing"
    scratch = tmp_path / "signing"
    shutil.copytree(FIXTURES, scratch)
    (scratch / "cases.json").unlink()
    proc = subprocess.run(
        [sys.executable, str(scratch / "generate.py")],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    regenerated = scratch / "cases.json"
    if regenerated.exists():
        got = json.loads(regenerated.read_text())
    else:
        got = json.loads(proc.stdout)
    want = json.loads(CASES.read_text())
    assert got == want
    assert want, "the fixture has no cases"
