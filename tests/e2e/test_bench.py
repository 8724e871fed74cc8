"""The end-to-end benchmark's quick mode (`scripts/bench --quick`) runs in CI so it cannot rot: it
must plan through real Terraform against the simulator for both algorithms and report figures
that agree with what each algorithm sends. Timings are not asserted (speed goals live in
BENCHMARKS.md, measured by hand)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_runs_and_reports_both_algorithms(tmp_path, provider_installed):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--no-build",
         "--profile", "debug", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "speed-up" in proc.stdout
    assert "launch → handshake" in proc.stdout
    raw = json.loads(out.read_text())
    cases = {c["algo"]: c for c in raw["cases"]}
    assert set(cases) == {"ours", "official"}
    n = 200
    for case in cases.values():
        assert case["tokens"] == n
        assert len(case["samples"]) == raw["runs"] == 2
        for s in case["samples"]:
            assert s["read_ms"] is not None and s["read_ms"] >= 0
            assert s["rss_mib"] > 0, "the provider's peak RSS was not sampled"
            assert s["retries"] == 0
    # Ours: one page of up to 1000 objects. Official: a $count request, then 2 pages of 100,
    # one at a time.
    for s in cases["ours"]["samples"]:
        assert (s["requests"], s["max_in_flight"]) == (1, 1)
    for s in cases["official"]["samples"]:
        assert (s["requests"], s["max_in_flight"]) == (3, 1)
    assert cases["ours"]["lower_bound_ms"] == 5
    assert cases["official"]["lower_bound_ms"] == 3 * 5
