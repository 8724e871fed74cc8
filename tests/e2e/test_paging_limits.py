"""Paging limits through real Terraform: what a hostile or broken server can make a read cost.

- a page of millions of tiny objects fails with a diagnostic naming `$top`, and the provider's
  peak RSS stays under 300 MiB at the default `parallelism` (four such pages at once: about four
  page bodies);
- a `Count` the pages cannot add up to ends in an error after one request;
- `parallelism` bounds the page requests of all data sources of one provider together, and each
  read logs its `page plan` at DEBUG.
"""

from __future__ import annotations

import os
import pathlib
import re
import threading
import time
import uuid

import pytest

DS = "intersight_iam_o_auth_token"
#: Just under the provider's 64 MiB body cap, so the page reaches the decoder.
FLOOD_BYTES = 64 * 1024 * 1024 - 4096


def flat(text: str) -> str:
    """Terraform wraps diagnostic text to its idea of the terminal width."""
    return " ".join(text.split())


class ProviderPeakRss:
    """Polls the peak RSS (VmHWM) of the provider processes that carry `marker` in their
    environment (Terraform passes its environment on to the plugins it starts)."""

    def __init__(self, marker: str):
        self.marker = f"E2E_RSS_MARKER={marker}".encode()
        self.peak_kib = 0
        self.seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if not (entry / "comm").read_text().startswith("terraform-provi"):
                    continue
                if self.marker not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
                status = (entry / "status").read_text()
            except OSError:
                continue  # gone meanwhile, or not ours to read
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
            if match:
                self.seen += 1
                self.peak_kib = max(self.peak_kib, int(match.group(1)))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(0.01)

    def __enter__(self) -> "ProviderPeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize(
    "tokens,after",
    [
        pytest.param(50, 0, id="first-page"),
        # The first page real, then four hostile pages requested together (parallelism 4).
        pytest.param(5000, 1, id="four-in-flight"),
    ],
)
def test_a_page_of_millions_of_tiny_objects_fails_naming_top_within_300_mib(sim_factory, workdir_factory, tokens, after):
    small = sim_factory(tokens=tokens)
    small.faults({"flood_page": {"bytes": FLOOD_BYTES, "after": after}})
    marker = uuid.uuid4().hex
    wd = workdir_factory("1.15", "6", small.config(f'data "{DS}" "x" {{}}\n'), env={"E2E_RSS_MARKER": marker})
    wd.init()
    with ProviderPeakRss(marker) as rss:
        rc, _, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0
    text = flat(err)
    assert f"data.{DS}.x" in text, err
    assert "Failed to read Intersight iam/OAuthTokens" in text, err
    assert "could not decode the response: the page holds more than the 1000 objects asked for ($top)" in text, err
    assert rss.seen > 0, "the provider process was never seen"
    peak_mib = rss.peak_kib / 1024
    print(f"provider peak RSS with {FLOOD_BYTES >> 20} MiB pages of tiny objects after {after} real: {peak_mib:.0f} MiB")
    # The target for its hostile page; with four such pages in flight at once each costs
    # about its bytes (the body buffer). A body that has arrived is decoded under a decode permit
    # while the next request goes out (at most 2 × parallelism bodies by construction), but a
    # hostile one fails at its 1001st object and is freed at once: four bodies plus the process.
    limit = 300 if after == 0 else 4 * 64 + 100
    assert peak_mib < limit, f"provider peak RSS {peak_mib:.0f} MiB"
    # Refused, not retried: the first page, and at most the 2 × `parallelism` (8) pages a read
    # keeps started ahead of the one it checks.
    assert small.stats()["list_requests"] <= 1 + 8 * after


@pytest.mark.parametrize("version,proto", [("1.15", "6"), ("1.0", "5")])
def test_a_count_the_pages_cannot_add_up_to_fails_after_one_request(sim_factory, workdir_factory, version, proto):
    """The trust issue's attack: Count 10^12 while pages (the service's own limit of 2) add one
    object each. Before: 11,181 requests in 80 s and no end."""
    small = sim_factory(tokens=300)
    small.faults({"count_delta": 10**12, "page_cap": 2})
    wd = workdir_factory(version, proto, small.config(f'data "{DS}" "x" {{}}\n'))
    wd.init()
    rc, _, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0
    text = flat(err)
    assert "Failed to read Intersight iam/OAuthTokens" in text, err
    assert "the iam/OAuthTokens collection reports 1000000000300 objects" in text, err
    assert "more than the 10000 one read may make" in text, err
    assert "no partial list" in text, err
    assert small.stats()["list_requests"] == 1


def test_two_data_sources_share_the_providers_parallelism(sim_factory, workdir_factory):
    """Two data sources read at once with parallelism 2: at most 2 page requests in flight in
    all (the issue: two data sources at parallelism 16 made 32). Each read logs its page plan."""
    small = sim_factory(tokens=300)
    small.faults({"latency_ms": 50})
    body = (
        f'data "{DS}" "a" {{}}\n'
        f'data "{DS}" "b" {{\n  filter = "Moid ne \'x\'"\n}}\n'
        f'output "n" {{\n  value = [length(data.{DS}.a.results), length(data.{DS}.b.results)]\n}}\n'
    )
    wd = workdir_factory("1.15", "6", small.config(body, page_size="20", parallelism="2"))
    wd.init()
    rc, out, err = wd.tf("apply", "-no-color", "-input=false", "-auto-approve", log_provider="DEBUG")
    assert rc == 0, err
    assert wd.outputs()["n"] == [300, 300]
    stats = small.stats()
    print(f"two data sources, parallelism 2: max in flight {stats['max_in_flight']}")
    assert stats["max_in_flight"] == 2, stats
    # 300 objects in pages of 20 overlapping by one: 16 pages each.
    assert stats["list_requests"] == 32, stats
    plans = [line for line in err.splitlines() if "page plan" in line]
    assert len(plans) == 2, err[-4000:]
    for line in plans:
        for field in ("read_id=", "count=300", "page_size=20", "pages=16", "parallelism=2"):
            assert field in line, line
