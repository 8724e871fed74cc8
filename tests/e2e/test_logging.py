"""The provider's log lines, read from real `terraform plan` runs of two data sources, against the
contract in docs/index.md ("Logging"):

  DEBUG `read start`      data_source, read_id, endpoint (host[:port]), resource, filter (rendered OData, or empty)
  DEBUG `page plan`       read_id, count, page_size, pages, parallelism, from
  DEBUG `list read done`  read_id, data_source, resource, elapsed_ms, objects, requests, pages, retries
  TRACE `request`         read_id, method, path, status (or error), bytes, ms, attempt
  WARN  `retry`           read_id, path, attempt, cause, delay_ms

Terraform runs with TF_LOG=JSON, so it re-logs the provider's hclog records as JSON objects with
their fields intact (no key=value quoting to undo); TF_LOG_PROVIDER sets the provider's level,
which Terraform applies to the provider's records and the provider to itself. No line at any
level holds the private key, an Authorization header or a signature."""

from __future__ import annotations

import json
import math
import pathlib
from collections import Counter

import pytest

from conftest import hcl_string

DS = "intersight_iam_o_auth_token"
MODULE = "provider.terraform-provider-intersight"
TOKENS = 300
PAGE_SIZE = 100
PARALLELISM = 2
#: (Terraform version, plugin protocol) pairs: the newest and the oldest CLI, one per protocol.
RUNS = [pytest.param("1.15", "6", id="tf1.15-proto6"), pytest.param("1.0", "5", id="tf1.0-proto5")]

BODY = f"""
data "{DS}" "by_name" {{
  client_name = "isctl"
}}

data "{DS}" "all" {{}}
"""

RANK = {"trace": 1, "debug": 2, "info": 3, "warn": 4, "error": 5}


class Run:
    """One `terraform plan`: exit code, whole output, and the provider's records."""

    def __init__(self, rc: int, out: str, err: str):
        self.rc, self.out, self.err = rc, out, err
        self.records = []
        for line in err.splitlines():
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if str(record.get("@module", "")).startswith(MODULE):
                self.records.append(record)

    def messages(self, message: str) -> list[dict]:
        return [r for r in self.records if r.get("@message") == message]


def plan(sim, workdir_factory, version: str, proto: str, level: str) -> Run:
    pem = pathlib.Path(sim.rsa_key_path).read_text()
    # The key's PEM text comes through the environment, so it is in the provider's hands only.
    text = sim.config(BODY, page_size=str(PAGE_SIZE), parallelism=str(PARALLELISM)).replace(
        f"  secretkey = {hcl_string(sim.rsa_key_path)}\n", ""
    )
    wd = workdir_factory(version, proto, text, env={"INTERSIGHT_SECRET_KEY": pem})
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", env={"TF_LOG": "JSON", "TF_LOG_PROVIDER": level})
    run = Run(rc, out, err)
    assert rc == 0, f"plan failed\n{out}\n{err[-4000:]}"
    assert_no_secret(run, pem)
    return run


def assert_no_secret(run: Run, pem: str) -> None:
    body_lines = [l for l in pem.splitlines() if l and not l.startswith("-----")]
    assert len(body_lines) > 5
    everything = run.out + run.err
    for line in body_lines:
        assert line not in everything, "a line of the private key was logged"
    provider_text = "\n".join(json.dumps(r) for r in run.records)
    for needle in ("Authorization", "authorization", "Signature keyId", "signature=", "keyId="):
        assert needle not in provider_text, f"{needle!r} in the provider's logs"


def expected_moids(sim) -> dict[str, int]:
    dataset = sim.dataset()
    return {"by_name": sum(1 for t in dataset if t.get("ClientName") == "isctl"), "all": len(dataset)}


def assert_only_levels_from(run: Run, lowest: str) -> None:
    below = [r for r in run.records if RANK.get(r.get("@level"), 0) < RANK[lowest]]
    assert not below, f"records below {lowest}: {below[:3]}"


def is_count(value) -> bool:
    return isinstance(value, str) and value.isdigit()


def reads(run: Run) -> dict[str, dict]:
    """read_id -> {"start", "plan", "done"}: each read's three DEBUG records, exactly one of each."""
    starts = run.messages("read start")
    by_id: dict[str, dict] = {}
    for start in starts:
        assert start.get("read_id"), start
        assert start["read_id"] not in by_id, f"read id {start['read_id']} used twice"
        by_id[start["read_id"]] = {"start": start}
    for message, key in (("page plan", "plan"), ("list read done", "done")):
        records = run.messages(message)
        assert Counter(r.get("read_id") for r in records) == Counter(list(by_id)), (message, records, list(by_id))
        for record in records:
            by_id[record["read_id"]][key] = record
    return by_id


@pytest.mark.parametrize("version,proto", RUNS)
def test_debug_logs_each_read_start_plan_and_summary(sim_factory, workdir_factory, version, proto):
    sim = sim_factory(tokens=TOKENS)
    run = plan(sim, workdir_factory, version, proto, "DEBUG")
    assert_only_levels_from(run, "debug")
    by_id = reads(run)
    assert len(by_id) == 2, f"two data sources, two reads with distinct ids: {list(by_id)}"

    want = expected_moids(sim)
    by_filter = {}
    for read_id, read in by_id.items():
        start, page_plan, done = read["start"], read["plan"], read["done"]
        assert start["data_source"] == DS and done["data_source"] == DS
        assert start["resource"] == "iam/OAuthTokens" == done["resource"]
        assert start["endpoint"] == sim.endpoint.removeprefix("https://"), (start, sim.endpoint)
        assert "filter" in start, start
        name = "by_name" if start["filter"] else "all"
        by_filter[name] = start["filter"]
        assert page_plan["count"] == str(want[name]), (name, page_plan)
        assert page_plan["page_size"] == str(PAGE_SIZE), page_plan
        assert page_plan["parallelism"] == str(PARALLELISM), page_plan
        assert is_count(page_plan["pages"]) and int(page_plan["pages"]) >= max(1, math.ceil(want[name] / PAGE_SIZE))
        # More than one page: planned from the `Count` at the start of the first page's body,
        # before that page was decoded; a single page has nothing to start early.
        early = int(page_plan["pages"]) > 1
        assert page_plan["from"] == ("count of the arrived first page" if early else "decoded first page"), page_plan
        assert done["objects"] == str(want[name]), (name, done)
        assert done["pages"] == page_plan["pages"], (page_plan, done)
        assert done["retries"] == "0", done
        assert is_count(done["requests"]) and int(done["requests"]) >= int(done["pages"]), done
        assert is_count(done["elapsed_ms"]), done
    assert set(by_filter) == {"by_name", "all"}, by_filter
    assert by_filter["all"] == ""
    assert "ClientName eq 'isctl'" in by_filter["by_name"], by_filter
    assert not run.messages("request"), "request lines are TRACE"


@pytest.mark.parametrize("version,proto", RUNS)
def test_trace_logs_every_request_of_each_read(sim_factory, workdir_factory, version, proto):
    sim = sim_factory(tokens=TOKENS)
    run = plan(sim, workdir_factory, version, proto, "TRACE")
    by_id = reads(run)
    requests = run.messages("request")
    assert requests, "no request lines at TRACE"
    for request in requests:
        for field in ("read_id", "method", "path", "bytes", "ms", "attempt"):
            assert field in request, (field, request)
        assert request["read_id"] in by_id, f"request of an unknown read: {request}"
        assert request["method"] == "GET", request
        assert request["path"].startswith("/api/v1/iam/OAuthTokens?"), request
        assert request.get("status") == "200", request
        assert all(is_count(request[f]) for f in ("bytes", "ms", "attempt")), request
        assert request["attempt"] == "1", "no retries in this run"
        assert int(request["bytes"]) > 0, request
    per_read = Counter(r["read_id"] for r in requests)
    assert per_read == {read_id: int(read["done"]["requests"]) for read_id, read in by_id.items()}
    # the filter of the filtered read is in its requests' query
    [named] = [i for i, read in by_id.items() if read["start"]["filter"]]
    assert all("isctl" in r["path"] for r in requests if r["read_id"] == named)
    stats = sim.stats()
    assert len(requests) == stats["list_requests"], (len(requests), stats)


@pytest.mark.parametrize("version,proto", RUNS)
def test_warn_logs_each_retry_with_cause_and_delay(sim_factory, workdir_factory, version, proto):
    sim = sim_factory(tokens=TOKENS)
    sim.faults({"status_burst": {"count": 2, "after": 1, "status": 503}})
    run = plan(sim, workdir_factory, version, proto, "WARN")
    assert_only_levels_from(run, "warn")
    retries = run.messages("retry")
    assert len(retries) == 2, retries
    for retry in retries:
        for field in ("read_id", "path", "attempt", "cause", "delay_ms"):
            assert retry.get(field), (field, retry)
        assert retry["@level"] == "warn"
        assert retry["path"].startswith("/api/v1/iam/OAuthTokens"), retry
        assert "503" in retry["cause"], retry
        assert is_count(retry["attempt"]) and is_count(retry["delay_ms"]), retry
        assert int(retry["delay_ms"]) <= 30_000, retry
    by_status = {str(k): v for k, v in sim.stats()["by_status"].items()}
    assert by_status.get("503") == 2
