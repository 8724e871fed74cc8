"""The simulator accepts requests signed by the official Python SDK (sim/tests/python_sdk_sign.py)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, SIM_BIN

CHECK = ROOT / "sim" / "tests" / "python_sdk_sign.py"


def test_sim_accepts_python_sdk_signatures(tmp_path, provider_installed):
    assert CHECK.is_file(), f"{CHECK} is missing"
    proc = subprocess.run(
        [sys.executable, str(CHECK), str(SIM_BIN)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
