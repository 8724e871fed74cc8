"""The end-to-end benchmark's quick mode (`scripts/bench --quick`) runs in CI so it cannot rot: it
must plan through real Terraform against the simulator for every configuration (ours, ours with
`select`, the official algorithm) and report figures that agree with what each one sends, and its
TRACE breakdown must find the marks BENCHMARKS.md's breakdown is read from. Timings are not
asserted (speed goals live in BENCHMARKS.md, measured by hand)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bench  # noqa: E402  (scripts/bench.py: its mark list is what the breakdown must find)


def test_quick_benchmark_runs_and_reports_every_configuration(tmp_path, provider_installed):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--no-build",
         "--profile", "debug", "--breakdown", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "speed-up" in proc.stdout
    assert "select/plain" in proc.stdout
    assert "launch → handshake" in proc.stdout
    raw = json.loads(out.read_text())
    cases = {c["algo"]: c for c in raw["cases"]}
    assert set(cases) == {"ours", "ours+select", "official"}
    n = 200
    for case in cases.values():
        assert case["tokens"] == n
        assert len(case["samples"]) == raw["runs"] == 2
        for s in case["samples"]:
            assert s["read_ms"] is not None and s["read_ms"] >= 0
            assert s["rss_mib"] > 0, "the provider's peak RSS was not sampled"
            assert s["body_mib"] > 0, "the bytes received were not summed from the TRACE lines"
            assert s["retries"] == 0
    # Ours: one page of up to 1000 objects. Official: a $count request, then 2 pages of 100,
    # one at a time.
    for name in ("ours", "ours+select"):
        for s in cases[name]["samples"]:
            assert (s["requests"], s["max_in_flight"]) == (1, 1)
    for s in cases["official"]["samples"]:
        assert (s["requests"], s["max_in_flight"]) == (3, 1)
    assert cases["ours"]["lower_bound_ms"] == 5
    assert cases["official"]["lower_bound_ms"] == 3 * 5

    # select: every request sent $select, the first result holds exactly the selected
    # attributes (the docs' promise; bench.py itself exits when it does not), and the server
    # sent far less. Without it: no $select, and every attribute is there.
    for s in cases["ours+select"]["samples"]:
        assert s["requests_with_select"] == s["requests"] == 1
        assert sorted(s["non_null"]) == sorted(bench.SELECT_ATTRIBUTES)
    for s in cases["ours"]["samples"]:
        assert s["requests_with_select"] == 0
        assert {"moid", "token_id", "tags", "client_name", "user"} <= set(s["non_null"])
    ratios = raw["select_ratios"][str(n)]
    assert ratios["body"] < 0.25, ratios
    assert ratios["wall"] > 0 and ratios["rss"] > 0

    # The breakdown: one TRACE plan per configuration, with the marks in the order of a plan.
    breakdowns = {b["algo"]: b["phases"] for b in raw["breakdowns"]}
    assert set(breakdowns) == {"ours", "ours+select"}
    expected_order = [
        "plan walk starts",
        "provider launched (to plan)",
        "ConfigureProvider called",
        "ReadDataSource called",
        "read start (the provider's line)",
        "read end: list read done",
        "response encoded, handed to gRPC",
        "refresh state write starts",
        "working state write starts",
        "plan complete",
    ]
    for name, phases in breakdowns.items():
        found = [m["mark"] for m in phases["marks"]]
        assert [m for m in found if m in expected_order] == expected_order, (name, found)
        assert 0 < phases["provider_ms"] < phases["wall_ms"], phases
        # The memory phases BENCHMARKS.md reads the peaks from (issue 18, item 1): the
        # provider's RSS is sampled while it reads, and while its response is sent and decoded.
        rss = {m["mark"]: m["provider_rss_mib"] for m in phases["marks"]}
        assert rss["read start (the provider's line)"], (name, rss)
        assert rss["response encoded, handed to gRPC"], (name, rss)


def test_bin_dir_measures_the_binaries_of_another_build(tmp_path):
    """`--bin-dir` (before/after comparisons) points every binary at that directory."""
    saved = (bench.RELEASE, bench.PROVIDER_BIN, bench.SIM_BIN)
    try:
        bench.use_profile("release", str(tmp_path))
        assert bench.PROVIDER_BIN == str(tmp_path / "terraform-provider-intersight")
        assert bench.SIM_BIN == str(tmp_path / "intersight-sim")
        bench.use_profile("debug")
        assert bench.PROVIDER_BIN == str(ROOT / "target" / "debug" / "terraform-provider-intersight")
    finally:
        bench.RELEASE, bench.PROVIDER_BIN, bench.SIM_BIN = saved


def test_trace_parsing_orders_marks_and_prefers_the_providers_own_timestamp(tmp_path):
    """Pure parsing: the provider's `timestamp=` wins over the time Terraform copied its line,
    marks after the plan walk are looked for after it, and missing marks are left out."""
    log = tmp_path / "trace.log"
    log.write_text(
        "2026-12-02T12:00:00.000Z [INFO]  Terraform version: 1.15.5\n"
        "2026-12-02T12:00:00.100Z [TRACE] GRPCProvider.v6: Close\n"
        "2026-12-02T12:00:01.000Z [DEBUG] Starting graph walk: walkPlan\n"
        "2026-12-02T12:00:01.500Z [TRACE] GRPCProvider.v6: ReadDataSource\n"
        "2026-12-02T12:00:02.900Z [DEBUG] provider.terraform-provider-intersight: list read done:"
        " read_id=r1 elapsed_ms=1000 timestamp=2026-12-02T12:00:02.500Z\n"
        "2026-12-02T12:00:03.000Z [TRACE] GRPCProvider.v6: Close\n"
    )
    marks = bench.parse_trace(str(log))
    assert [(label, round(at)) for label, at, _ in marks] == [
        ("terraform's first log line", 0),
        ("plan walk starts", 1000),
        ("ReadDataSource called", 1500),
        ("read end: list read done", 2500),
        ("provider closed", 3000),
        ("last log line", 3000),
    ]
