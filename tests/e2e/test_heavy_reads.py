"""Reads under CPU-heavy load and reads past the memory budget, through real Terraform.

- Two data sources with `timeouts { read = "10s" }` whose pages are costly to decode (every page
  some 15 MB, its first object with 400,000 members) answer on time, with their timeout
  diagnostics, and Terraform exits. Before, decoding held both async workers: no read was
  answered after 165 s.
- Terraform 1.0.3 interrupted mid-read as Ctrl-C does (SIGINT to its process group) sends
  StopProvider, the reads end "Cancelled" and Terraform exits within moments. Before, it printed
  "Gracefully shutting down..." and was still running 30 s later.
- A read past `max_results_mib` fails at once with a diagnostic naming the setting, `filter`
  and `select`; narrowing it with `select` makes it fit.

The load stays heavy however fast decoding gets (15 MB pages, four in flight per read); with
the decoding of its day (quadratic in an object's members) it is much heavier still.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from conftest import base_env, terraform_binary

DS = "intersight_iam_o_auth_token"
#: Pages costly to decode: 10 KB of padding per object, and from the third request on (after
#: each read's first page) 400,000 members in a page's first object. Each read then asks for four
#: pages at once, more than the two async workers of a 2-core machine.
HEAVY = {
    "pad_object_bytes": 10_000,
    "hostile_member": {"after": 2, "shape": "wide_object", "size": 400_000},
}
TWO_READS_OF_10S = "".join(f'data "{DS}" "{name}" {{\n  timeouts {{ read = "10s" }}\n}}\n' for name in ("a", "b"))


def flat(text: str) -> str:
    """Terraform wraps diagnostic text to its idea of the terminal width."""
    return " ".join(text.split())


@pytest.mark.parametrize("version,proto", [("1.15", "6"), ("1.0", "5")])
def test_two_reads_with_10s_timeouts_answer_on_time_under_cpu_load(sim_factory, workdir_factory, version, proto):
    heavy = sim_factory(tokens=5000)
    heavy.faults(HEAVY)
    wd = workdir_factory(version, proto, heavy.config(TWO_READS_OF_10S))
    wd.init()
    started = time.monotonic()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", timeout=120)
    took = time.monotonic() - started
    print(f"terraform {version}: plan returned after {took:.1f} s (rc {rc})")
    text = flat(out + err)
    # Each read ends on time with its timeout diagnostic (or, if decoding ever gets fast
    # enough, with its results): never later than the timeout and Terraform's own work.
    assert took < 25, f"the plan took {took:.1f} s\n{err[-3000:]}"
    if rc != 0:
        # Under load one read may finish inside its 10 s while the other times out; every
        # error there is must be a read's timeout, at most one per read, each naming its read.
        timeouts = text.count("Reading Intersight iam/OAuthTokens timed out")
        assert 1 <= timeouts <= 2, err
        assert text.count("Error: ") == timeouts, err
        named = [name for name in ("a", "b") if f"data.{DS}.{name}" in text]
        assert len(named) == timeouts, err
        assert "The read did not finish within 10s (`timeouts.read`)" in text, err


@pytest.mark.parametrize("proto", ["5", "6"])
def test_terraform_1_0_interrupted_mid_read_exits_at_once(sim_factory, workdir_factory, proto):
    """Ctrl-C in a terminal sends SIGINT to the whole foreground process group (Terraform, its
    panic-catching parent and the provider, which ignores it as go-plugin providers do), so the
    test does the same. Measured (debug build, shared 2-core machine): Terraform exits 0.06 s
    after the signal; the bound is 3 s."""
    # Ten pages per read, each answered after 1 s: still reading when interrupted, whatever
    # the speed of decoding.
    heavy = sim_factory(tokens=10_000)
    heavy.faults({**HEAVY, "latency_ms": 1000})
    wd = workdir_factory("1.0", proto, heavy.config(TWO_READS_OF_10S.replace('"10s"', '"10m"')))
    wd.init()
    env = base_env()
    env["INTERSIGHT_PLUGIN_PROTOCOL"] = proto
    with open(wd.path / "out.txt", "w") as out_file:
        proc = subprocess.Popen(
            [str(terraform_binary("1.0")), "plan", "-no-color", "-input=false"],
            cwd=wd.path, env=env, stdout=out_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
        exited = None
        try:
            deadline = time.monotonic() + 60
            # Both reads have their first page and asked for the next (costly) ones, which
            # arrive after 1 s and are then decoded.
            while heavy.stats()["list_requests"] < 4 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert heavy.stats()["list_requests"] >= 4, "the reads never got going"
            time.sleep(1.5)
            signalled = time.monotonic()
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
                exited = time.monotonic() - signalled
            except subprocess.TimeoutExpired:
                pass
        finally:
            # Only what this test started: its own process group.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    out = (wd.path / "out.txt").read_text()
    print(f"terraform 1.0.3 exited {exited} s after SIGINT")
    assert exited is not None, f"Terraform was still running 30 s after SIGINT\n{out[-3000:]}"
    assert exited < 3, f"{exited:.2f} s\n{out[-3000:]}"
    assert proc.returncode != 0
    text = flat(out)
    assert text.count("Cancelled reading Intersight iam/OAuthTokens") == 2, out[-3000:]


@pytest.mark.parametrize("version,proto", [("1.15", "6"), ("1.0", "5")])
def test_a_read_past_max_results_mib_fails_at_once_naming_it(sim_factory, workdir_factory, version, proto):
    """1,500 tokens hold some 3.6 MiB of results; with `select` about a quarter of that."""
    small = sim_factory(tokens=1500)
    body = (
        f'data "{DS}" "all" {{}}\n'
        f'data "{DS}" "names" {{\n  select = ["client_name"]\n}}\n'
    )
    wd = workdir_factory(version, proto, small.config(body, max_results_mib="2", parallelism="1"))
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", "-target", f"data.{DS}.all")
    assert rc != 0
    text = flat(err)
    for words in (
        f"data.{DS}.all",
        "Too many results in Intersight iam/OAuthTokens",
        "all reads of this provider together may hold at most `max_results_mib` = 2 MiB at once",
        "Narrow the read with `filter`, fetch fewer attributes with `select`, or raise `max_results_mib`",
        "No partial list was returned",
    ):
        assert words in text, f"{words!r} not in\n{err}"
    # At once: the first page (1000 tokens) is already too much, and the read stops there. The
    # one further page the first body's `Count` may have started while that page was decoded
    # (parallelism 1: one page ahead) is dropped; no other page was asked for.
    assert small.stats()["list_requests"] in (1, 2), small.stats()
    # The advice works: the selected attributes of the same 1,500 tokens fit.
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", "-target", f"data.{DS}.names")
    assert rc == 0, err
