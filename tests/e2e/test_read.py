"""Reading tokens through Terraform from the simulator over TLS, for Terraform 1.15 and 1.0.3 with
plugin protocols 5 and 6. Expected answers come from the simulator's dataset (see expect.py).

Most queries share one configuration per (version, protocol) so that one `apply` answers them all;
if that combined apply fails, each query is retried alone so every case still reports its own result.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import pathlib
import re
from typing import Callable

import pytest

import expect
from conftest import MATRIX, MATRIX_PAIRS, ROOT, Workdir, copy_tree, hcl_string, new_workdir

DS = "intersight_iam_o_auth_token"


@dataclasses.dataclass(frozen=True)
class Query:
    name: str
    #: body of the data block (HCL), given the context values
    body: Callable[[dict], str]
    #: expected sorted moids, given the dataset and the context
    expected: Callable[[list, dict], list]


def q(name, body, expected):
    return Query(name, body, expected)


QUERIES = [
    # (a) no arguments: every token, through three pages of 1000
    q("all", lambda c: "", lambda d, c: expect.moids(d)),
    # (b) scalar arguments
    q("by_client_name", lambda c: 'client_name = "Terraform Automation"',
      lambda d, c: expect.select(d, lambda t: t.get("ClientName") == "Terraform Automation")),
    q("by_client_name_unicode", lambda c: 'client_name = "Zürich-Ops"',
      lambda d, c: expect.select(d, lambda t: t.get("ClientName") == "Zürich-Ops")),
    q("by_two_scalars", lambda c: 'client_name = "isctl"\n  client_ip_address = "192.0.2.44"',
      lambda d, c: expect.select(d, lambda t: t.get("ClientName") == "isctl" and t.get("ClientIpAddress") == "192.0.2.44")),
    q("by_owners", lambda c: f"owners = [{hcl_string(c['account_moid'])}, {hcl_string(c['user_moid'])}]",
      lambda d, c: expect.select(d, lambda t: expect.has_owners(t, [c["account_moid"], c["user_moid"]]))),
    q("by_moid", lambda c: f"moid = {hcl_string(c['detail_moid'])}", lambda d, c: [c["detail_moid"]]),
    # (c) nested reference blocks
    q("by_user", lambda c: f"user {{\n    moid = {hcl_string(c['user_moid'])}\n  }}",
      lambda d, c: expect.select(d, lambda t: expect.ref_moid(t, "User") == c["user_moid"])),
    q("by_ancestor", lambda c: f"ancestors {{\n    moid = {hcl_string(c['user_moid'])}\n  }}",
      lambda d, c: expect.select(d, lambda t: expect.has_ancestor(t, c["user_moid"]))),
    q("by_version_type", lambda c: 'version_context {\n    version_type = "Deployed"\n  }',
      lambda d, c: expect.select(d, lambda t: (t.get("VersionContext") or {}).get("VersionType") == "Deployed")),
    # (d) tags
    q("by_tag", lambda c: 'tags {\n    key   = "Site"\n    value = "London"\n  }',
      lambda d, c: expect.select(d, lambda t: expect.has_tag(t, "Site", "London"))),
    q("by_two_tags", lambda c: 'tags {\n    key   = "Site"\n    value = "London"\n  }\n  tags {\n    key   = "Env"\n    value = "prod"\n  }',
      lambda d, c: expect.select(d, lambda t: expect.has_tag(t, "Site", "London") and expect.has_tag(t, "Env", "prod"))),
    # (e) raw filter, alone and ANDed with arguments
    q("by_filter", lambda c: hcl_filter("ClientIpAddress eq '192.0.2.44' or LastLoginClient eq '2001:db8::7'"),
      lambda d, c: expect.select(d, lambda t: t.get("ClientIpAddress") == "192.0.2.44" or t.get("LastLoginClient") == "2001:db8::7")),
    q("by_filter_and_arg", lambda c: 'client_name = "isctl"\n  ' + hcl_filter("startswith(LastLoginClient,'10.') or ClientName eq 'Zürich-Ops'"),
      lambda d, c: expect.select(d, lambda t: t.get("ClientName") == "isctl" and (t.get("LastLoginClient", "").startswith("10.") or t.get("ClientName") == "Zürich-Ops"))),
    q("by_filter_time", lambda c: hcl_filter(f"ExpirationTime lt {c['threshold']}"),
      lambda d, c: expect.select(d, lambda t: expect.expires_before(t, expect.parse_time(c["threshold"])))),
    # (f) values containing quotes
    q("by_single_quote", lambda c: "client_name = \"O'Brien's app\"",
      lambda d, c: expect.select(d, lambda t: t.get("ClientName") == "O'Brien's app")),
    q("by_double_quote", lambda c: 'client_name = "Grafana \\"Exporter\\""',
      lambda d, c: expect.select(d, lambda t: t.get("ClientName") == 'Grafana "Exporter"')),
    q("by_tag_quote", lambda c: "tags {\n    key   = \"Owner\"\n    value = \"O'Brien\"\n  }",
      lambda d, c: expect.select(d, lambda t: expect.has_tag(t, "Owner", "O'Brien"))),
    # an injection attempt must match nothing rather than widen the query
    q("by_injection", lambda c: "client_name = \"x' or ClientName ne 'x\"", lambda d, c: []),
    # (g) no match: success with empty results
    q("none", lambda c: 'client_name = "no such application"', lambda d, c: []),
]
QUERY_NAMES = [x.name for x in QUERIES]


def hcl_filter(odata: str) -> str:
    return f"filter = {hcl_string(odata)}"


def context_for(dataset: list) -> dict:
    detail = expect.pick_detail_token(dataset)
    first = dataset[0]
    expirations = sorted(expect.parse_time(t["ExpirationTime"]) for t in dataset if t.get("ExpirationTime"))
    # A whole-second instant between two expiration times, so rounding cannot move a token across it.
    median = expirations[len(expirations) // 2].replace(microsecond=0) + dt.timedelta(milliseconds=500)
    return {
        "user_moid": expect.ref_moid(first, "User"),
        "account_moid": first["AccountMoid"],
        "detail_moid": detail["Moid"],
        "threshold": expect.format_time(median),
    }


def config_for(sim, queries: list[Query], ctx: dict, detail: bool) -> str:
    parts = []
    for query in queries:
        body = query.body(ctx)
        parts.append(f'data "{DS}" "{query.name}" {{\n  {body}\n}}\n')
        parts.append(
            f'output "{query.name}" {{\n  value = [for r in data.{DS}.{query.name}.results : r.moid]\n}}\n'
        )
    if detail:
        parts.append(f'output "detail" {{\n  value = data.{DS}.by_moid.results\n}}\n')
        parts.append(f'output "detail_id" {{\n  value = data.{DS}.by_moid.id\n}}\n')
    return sim.config("\n".join(parts))


class ReadMatrix:
    """One combined apply per (version, protocol); single-query fallbacks when it fails."""

    def __init__(self, sim, base: pathlib.Path, version: str, proto: str):
        self.sim = sim
        self.base = base
        self.version = version
        self.proto = proto
        self.dataset = sim.dataset()
        self.ctx = context_for(self.dataset)
        self.combined_error = None
        self.outputs = {}
        wd = new_workdir(base, version, proto, config_for(sim, QUERIES, self.ctx, detail=True))
        try:
            self.outputs = wd.apply()
        except AssertionError as err:
            self.combined_error = str(err)

    def result(self, name: str):
        if self.combined_error is None:
            return self.outputs[name]
        query = next(x for x in QUERIES if x.name == name)
        wd = new_workdir(self.base, self.version, self.proto, config_for(self.sim, [query], self.ctx, detail=False))
        return wd.apply()[name]

    def detail(self):
        if self.combined_error is None:
            return self.outputs["detail"], self.outputs["detail_id"]
        by_moid = next(x for x in QUERIES if x.name == "by_moid")
        wd = new_workdir(self.base, self.version, self.proto, config_for(self.sim, [by_moid], self.ctx, detail=True))
        out = wd.apply()
        return out["detail"], out["detail_id"]


@pytest.fixture(scope="module", params=MATRIX_PAIRS)
def matrix(request, sim, tmp_path_factory):
    version, proto = request.param
    return ReadMatrix(sim, tmp_path_factory.mktemp(f"read-tf{version}-p{proto}"), version, proto)


def test_dataset_is_interesting(sim):
    """Guards the other tests: each query must select a proper, non-empty subset where intended."""
    dataset = sim.dataset()
    assert len(dataset) > 2000
    ctx = context_for(dataset)
    for query in QUERIES:
        got = query.expected(dataset, ctx)
        if query.name in ("none", "by_injection"):
            assert got == []
        elif query.name == "all":
            assert len(got) == len(dataset)
        else:
            assert 0 < len(got) < len(dataset), f"{query.name} selects {len(got)} of {len(dataset)}"


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_query(matrix, name):
    query = next(x for x in QUERIES if x.name == name)
    assert matrix.result(name) == query.expected(matrix.dataset, matrix.ctx)


def test_result_object(matrix):
    """One token read back in full: every attribute as documented."""
    results, ident = matrix.detail()
    assert len(results) == 1
    got = results[0]
    want = next(t for t in matrix.dataset if t["Moid"] == matrix.ctx["detail_moid"])
    assert ident, "id must be set after the read"
    scalars = {
        "moid": "Moid", "class_id": "ClassId", "object_type": "ObjectType", "account_moid": "AccountMoid",
        "domain_group_moid": "DomainGroupMoid", "shared_scope": "SharedScope", "client_id": "ClientId",
        "client_ip_address": "ClientIpAddress", "client_name": "ClientName", "last_login_client": "LastLoginClient",
        "token_id": "TokenId",
        # date-times exactly as the API gives them
        "create_time": "CreateTime", "mod_time": "ModTime", "expiration_time": "ExpirationTime",
        "access_expiration_time": "AccessExpirationTime", "last_login_time": "LastLoginTime",
    }
    for attr, key in scalars.items():
        assert got[attr] == want[key], attr
    assert got["owners"] == want["Owners"]
    for ref in ("user", "parent", "permission", "app_registration"):
        assert len(got[ref]) == 1, ref
        assert got[ref][0]["moid"] == want[_pascal(ref)]["Moid"], ref
        assert got[ref][0]["object_type"] == want[_pascal(ref)]["ObjectType"], ref
        assert got[ref][0]["class_id"] == "mo.MoRef", ref
    assert [a["moid"] for a in got["ancestors"]] == [a["Moid"] for a in want["Ancestors"]]
    assert [p["moid"] for p in got["permission_resources"]] == [p["Moid"] for p in want["PermissionResources"]]
    assert [(t["key"], t["value"], t["type"], t["sys_tag"], t["propagated"]) for t in got["tags"]] == [
        (t["Key"], t["Value"], t["Type"], t["SysTag"], t["Propagated"]) for t in want["Tags"]
    ]
    for tag_got, tag_want in zip(got["tags"], want["Tags"]):
        if "Definition" in tag_want:
            assert tag_got["definition"][0]["moid"] == tag_want["Definition"]["Moid"]
            assert [a["moid"] for a in tag_got["ancestor_definitions"]] == [
                a["Moid"] for a in tag_want["AncestorDefinitions"]
            ]
        else:
            assert tag_got["definition"] == []
    meta = want["UserMeta"]
    assert got["user_meta"][0]["device_model"] == meta["DeviceModel"]
    assert got["user_meta"][0]["user_agent"] == meta["UserAgent"]
    vc_got, vc_want = got["version_context"][0], want["VersionContext"]
    assert vc_got["version_type"] == vc_want["VersionType"]
    assert vc_got["nr_version"] == vc_want["Version"]
    assert vc_got["timestamp"] == vc_want["Timestamp"]
    assert vc_got["marked_for_deletion"] == vc_want["MarkedForDeletion"]
    assert [m["moid"] for m in vc_got["interested_mos"]] == [m["Moid"] for m in vc_want["InterestedMos"]]
    assert [m["moid"] for m in vc_got["ref_mo"]] == ([vc_want["RefMo"]["Moid"]] if vc_want["RefMo"] else [])
    assert got["display_names"] == want["DisplayNames"]
    # properties without an attribute are kept as JSON text
    assert json.loads(got["additional_properties"]) == {"ExtraFeature": want["ExtraFeature"]}


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


@pytest.mark.parametrize("version,proto", MATRIX)
def test_all_pages_requested(sim, workdir_factory, version, proto):
    """No arguments over 2,500 tokens: three pages of 1000, every moid once, in moid order."""
    wd = workdir_factory(version, proto, sim.config(f'data "{DS}" "all" {{}}\n'))
    wd.init()
    before = sim.stats()
    wd.tf_ok("plan", "-no-color", "-input=false")
    after = sim.stats()
    assert after["list_requests"] - before["list_requests"] == 3
    assert after["auth_failures"] == before["auth_failures"]


@pytest.mark.parametrize("version,proto", MATRIX)
def test_ec_key(sim, workdir_factory, version, proto):
    """v3 (EC P-256) API keys sign as well as v2 (RSA) ones."""
    body = f'data "{DS}" "x" {{\n  client_name = "isctl"\n}}\noutput "moids" {{\n  value = [for r in data.{DS}.x.results : r.moid]\n}}\n'
    wd = workdir_factory(version, proto, sim.config(body, apikey=hcl_string(sim.ec_key_id), secretkey=hcl_string(sim.ec_key_path)))
    assert wd.apply()["moids"] == expect.select(sim.dataset(), lambda t: t.get("ClientName") == "isctl")


@pytest.mark.parametrize("version,proto", MATRIX)
def test_wrong_key_is_an_error(sim, workdir_factory, version, proto):
    """(h) An unknown key id: an error diagnostic on the data source and a non-zero exit."""
    body = f'data "{DS}" "x" {{}}\n'
    wd = workdir_factory(version, proto, sim.config(body, apikey=hcl_string("000000000000000000000000/000000000000000000000000/000000000000000000000000")))
    wd.init()
    before = sim.stats()["auth_failures"]
    rc, out, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0
    assert "Error:" in err
    assert f"data.{DS}.x" in err
    assert sim.stats()["auth_failures"] > before


@pytest.mark.parametrize("version,proto", MATRIX)
def test_mismatched_secret_key_is_an_error(sim, workdir_factory, version, proto):
    """The RSA key id with the EC private key: the signature does not verify."""
    wd = workdir_factory(version, proto, sim.config(f'data "{DS}" "x" {{}}\n', secretkey=hcl_string(sim.ec_key_path)))
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0
    assert "Error:" in err


def test_tls_without_ca_fails(sim, workdir_factory):
    """The simulator's certificate is not publicly trusted: without its CA the read must fail."""
    wd = workdir_factory("1.15", "6", sim.config(f'data "{DS}" "x" {{\n  client_name = "isctl"\n}}\n', ca_certificate="null"))
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0
    assert "certificate" in err.lower()


def test_ca_certificate_as_pem_text(sim, workdir_factory):
    pem = pathlib.Path(sim.ca_path).read_text().rstrip("\n") + "\n"
    body = f'data "{DS}" "x" {{\n  client_name = "isctl"\n}}\noutput "n" {{\n  value = length(data.{DS}.x.results)\n}}\n'
    wd = workdir_factory("1.15", "6", sim.config(body, ca_certificate=f"<<-EOT\n{pem}EOT"))
    assert wd.apply()["n"] == len(expect.select(sim.dataset(), lambda t: t.get("ClientName") == "isctl"))


def test_credentials_from_environment(sim, workdir_factory):
    """apikey, secretkey and endpoint default to INTERSIGHT_API_KEY / _SECRET_KEY / _ENDPOINT_URL."""
    body = f'data "{DS}" "x" {{\n  client_name = "isctl"\n}}\noutput "n" {{\n  value = length(data.{DS}.x.results)\n}}\n'
    text = sim.config(body).replace(f"  apikey = {hcl_string(sim.rsa_key_id)}\n", "")
    text = text.replace(f"  secretkey = {hcl_string(sim.rsa_key_path)}\n", "")
    text = text.replace(f"  endpoint = {hcl_string(sim.endpoint)}\n", "")
    assert "apikey" not in text
    env = {
        "INTERSIGHT_API_KEY": sim.rsa_key_id,
        "INTERSIGHT_SECRET_KEY": pathlib.Path(sim.rsa_key_path).read_text(),
        "INTERSIGHT_ENDPOINT_URL": sim.endpoint.removeprefix("https://"),
    }
    wd = workdir_factory("1.15", "5", text, env=env)
    assert wd.apply()["n"] == len(expect.select(sim.dataset(), lambda t: t.get("ClientName") == "isctl"))


@pytest.mark.parametrize("version,proto", MATRIX)
def test_429_bursts_are_retried(sim_factory, workdir_factory, version, proto):
    """(i) A burst of 429s during paging is absorbed by retries; the answer is still complete."""
    small = sim_factory(tokens=300)
    small.faults({"status_burst": {"count": 3, "after": 1, "status": 429, "retry_after": 0}})
    body = f'data "{DS}" "all" {{}}\noutput "moids" {{\n  value = [for r in data.{DS}.all.results : r.moid]\n}}\n'
    wd = workdir_factory(version, proto, small.config(body, page_size="100"))
    assert wd.apply()["moids"] == expect.moids(small.dataset())
    by_status = {str(k): v for k, v in small.stats()["by_status"].items()}
    assert by_status.get("429") == 3


@pytest.mark.parametrize("version,proto", MATRIX)
def test_retries_exhausted_is_an_error(sim_factory, workdir_factory, version, proto):
    """Every request answered 503 and max_retries = 1: the plan fails after exactly two requests,
    and the error names the status and the attempts."""
    small = sim_factory(tokens=50)
    small.faults({"status_burst": {"status": 503}})
    wd = workdir_factory(version, proto, small.config(f'data "{DS}" "x" {{}}\n', max_retries="1"))
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0
    # Terraform wraps diagnostic text to its idea of the terminal width.
    text = " ".join(err.split())
    assert f"data.{DS}.x" in text, err
    assert "Failed to read Intersight iam/OAuthTokens" in text, err
    assert "answered HTTP 503 to all 2 attempts (the request and 1 retry;" in text, err
    assert "max_retries" in text, err
    by_status = {str(k): v for k, v in small.stats()["by_status"].items()}
    assert by_status == {"503": 2}


def test_parallelism_bounds_requests_in_flight(sim_factory, workdir_factory):
    small = sim_factory(tokens=300)
    small.faults({"latency_ms": 50})
    body = f'data "{DS}" "all" {{}}\noutput "n" {{\n  value = length(data.{DS}.all.results)\n}}\n'
    wd = workdir_factory("1.15", "6", small.config(body, page_size="20", parallelism="3"))
    assert wd.apply()["n"] == 300
    stats = small.stats()
    assert 2 <= stats["max_in_flight"] <= 3, stats


@pytest.mark.parametrize("proto", ["5", "6"])
def test_quickstart_example(sim, workdir_factory, proto):
    """(j) examples/quickstart applies against the simulator and its outputs are right."""
    wd = workdir_factory("1.15", proto)
    copy_tree(ROOT / "examples" / "quickstart", wd.path)
    dataset = sim.dataset()
    env = {
        "INTERSIGHT_API_KEY": sim.rsa_key_id,
        "INTERSIGHT_SECRET_KEY": sim.rsa_key_path,
        "INTERSIGHT_ENDPOINT_URL": sim.endpoint,
        "TF_VAR_ca_certificate": sim.ca_path,
    }
    wd.env.update(env)
    out = wd.apply()
    per_app: dict[str, int] = {}
    for t in dataset:
        per_app[t["ClientName"]] = per_app.get(t["ClientName"], 0) + 1
    assert out["token_count"] == len(dataset)
    assert out["tokens_per_application"] == per_app
    address = "10.10.1.15"
    assert sorted(out["logins_from_address"]) == expect.select(dataset, lambda t: t.get("LastLoginClient") == address)
    first_user = expect.ref_moid(sorted(dataset, key=lambda t: t["Moid"])[0], "User")
    assert out["tokens_of_first_user"] == len(expect.select(dataset, lambda t: expect.ref_moid(t, "User") == first_user))
    now = dt.datetime.now(dt.timezone.utc)
    soon = {t["Moid"] for t in dataset if now <= expect.parse_time(t["ExpirationTime"]) < now + dt.timedelta(hours=24)}
    got = set(out["expiring_within_24h"])
    # The plan's clock and ours differ by the seconds the apply took: allow tokens right at the edges.
    edge = {
        t["Moid"] for t in dataset
        if any(abs((expect.parse_time(t["ExpirationTime"]) - b).total_seconds()) < 600 for b in (now, now + dt.timedelta(hours=24)))
    }
    assert got - edge == soon - edge


@pytest.mark.parametrize("proto", ["5", "6"])
def test_provider_logs_never_show_the_secret_key(sim, workdir_factory, proto):
    """TRACE logging of a whole read: no line of the private key's PEM body appears anywhere."""
    pem = pathlib.Path(sim.rsa_key_path).read_text()
    body_lines = [l for l in pem.splitlines() if l and not l.startswith("-----")]
    assert len(body_lines) > 5
    text = sim.config(f'data "{DS}" "x" {{\n  client_name = "isctl"\n}}\n').replace(
        f"  secretkey = {hcl_string(sim.rsa_key_path)}\n", ""
    )
    wd = workdir_factory("1.15", proto, text, env={"INTERSIGHT_SECRET_KEY": pem})
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", log_provider="TRACE")
    assert rc == 0, err
    assert "provider.terraform-provider-intersight" in err, "expected the provider's own log lines on stderr"
    for line in body_lines:
        assert line not in out and line not in err


@pytest.mark.parametrize("proto", ["5", "6"])
def test_interrupt_cancels_a_slow_read(sim_factory, workdir_factory, proto):
    """Interrupting Terraform during a read that the server keeps waiting: the provider gets
    StopProvider, cancels the request in flight, reports a "cancelled" diagnostic, and its process
    is gone well before the server would have answered. SIGTERM, because Terraform 1.0.3 started
    without a terminal does not act on SIGINT here; both lead to the same graceful stop
    (StopProvider).

    Measured on a shared 2-core machine (debug build, both protocols): StopProvider is logged
    1-2 ms after the signal, the provider process is gone after about 0.02 s and Terraform has
    exited after about 0.025 s. The bounds below (0.5 s, 0.5 s, 1 s) are the issue's 1 s target
    tightened, with room for a loaded machine; `pytest -s` prints the figures of each run."""
    import signal
    import subprocess
    import time

    from conftest import base_env, terraform_binary

    small = sim_factory(tokens=50)
    small.faults({"slow": {"delay_ms": 45_000}})
    wd = workdir_factory("1.0", proto, small.config(f'data "{DS}" "x" {{}}\n', request_timeout="300"))
    wd.init()
    env = base_env()
    env["INTERSIGHT_PLUGIN_PROTOCOL"] = proto
    env["TF_LOG_PROVIDER"] = "DEBUG"
    # Files, not pipes: a provider left running must not keep the test waiting for EOF.
    provider_gone = terraform_done = None
    with open(wd.path / "stdout.txt", "w") as out_file, open(wd.path / "stderr.txt", "w") as err_file:
        proc = subprocess.Popen(
            [str(terraform_binary("1.0")), "plan", "-no-color", "-input=false"],
            cwd=wd.path, env=env, stdout=out_file, stderr=err_file,
        )
        try:
            deadline = time.monotonic() + 60
            while small.stats()["list_requests"] == 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert small.stats()["list_requests"] > 0, "the read never reached the simulator"
            providers = _provider_processes(proc.pid)
            assert len(providers) == 1, f"expected one provider process under terraform: {providers}"
            provider_pid = providers[0]
            time.sleep(0.5)
            started = time.monotonic()
            wall_started = time.time()
            proc.send_signal(signal.SIGTERM)
            while time.monotonic() - started < 20:
                if provider_gone is None and not _alive(provider_pid):
                    provider_gone = time.monotonic() - started
                if provider_gone is not None and proc.poll() is not None:
                    break
                time.sleep(0.005)
            if proc.poll() is not None:
                terraform_done = time.monotonic() - started
        finally:
            if proc.poll() is None:
                # Only what this test started: Terraform and its provider, by pid.
                for pid in _provider_processes(proc.pid):
                    os.kill(pid, signal.SIGKILL)
                proc.kill()
                proc.wait()
    out = (wd.path / "stdout.txt").read_text()
    log = (wd.path / "stderr.txt").read_text()
    stop_logged = _log_time(log, "StopProvider: cancelling reads in flight")
    timing = (
        f"provider gone after {provider_gone} s, terraform done after {terraform_done} s, "
        f"StopProvider logged {None if stop_logged is None else round(stop_logged - wall_started, 3)} s "
        "after the signal"
    )
    print(timing)
    # No provider process is left (a zombie awaiting its parent counts as gone).
    assert provider_gone is not None, f"the provider was still running 20 s after SIGTERM\n{log[-3000:]}"
    assert terraform_done is not None, f"terraform was still running 20 s after SIGTERM\n{log[-3000:]}"
    assert stop_logged is not None, f"the provider did not log StopProvider\n{log[-3000:]}"
    assert stop_logged - wall_started < 0.5, timing
    assert provider_gone < 0.5, timing
    assert terraform_done < 1.0, timing
    assert proc.returncode != 0
    text = " ".join((out + log).split())
    assert "Cancelled reading Intersight iam/OAuthTokens" in text, f"{out}\n{log[-3000:]}"
    assert "No partial results were returned" in text


def _provider_processes(root: int) -> list[int]:
    """Live terraform-provider-intersight processes below `root` (Terraform 1.0 runs itself as a
    child of a panic-catching parent, so the provider is a grandchild of the process we start)."""
    parents: dict[int, int] = {}
    states: dict[int, str] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry.name)] = int(fields[1])
        states[int(entry.name)] = fields[0]

    def below_root(pid: int) -> bool:
        seen = set()
        while pid not in seen and pid > 1:
            seen.add(pid)
            pid = parents.get(pid, 0)
            if pid == root:
                return True
        return False

    found = []
    for pid, state in states.items():
        if state == "Z" or not below_root(pid):
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if "terraform-provider-intersight" in exe:
            found.append(pid)
    return found


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def _log_time(log: str, needle: str) -> float | None:
    """The Unix time of the first log line containing `needle` (Terraform's RFC 3339 prefix)."""
    for line in log.splitlines():
        if needle in line:
            stamp = line.split(" ", 1)[0]
            try:
                return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
    return None


@pytest.mark.parametrize("version,proto", [MATRIX[0], MATRIX[3]])
def test_read_timeout_stops_a_stuck_read(sim_factory, workdir_factory, version, proto):
    """`timeouts { read = "2s" }` on a read whose pages after the first hang: the plan fails after
    about two seconds (not the minutes of retries the provider settings allow), saying how far the
    read got and which setting to raise; the same block with room to spare reads everything."""
    import time

    small = sim_factory(tokens=50)
    small.faults({"slow": {"after": 1, "delay_ms": 30_000}})
    body = f'data "{DS}" "x" {{\n  timeouts {{\n    read = "2s"\n  }}\n}}\n'
    wd = workdir_factory(version, proto, small.config(body, page_size="20", request_timeout="20"))
    wd.init()
    started = time.monotonic()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false")
    elapsed = time.monotonic() - started
    assert rc != 0
    text = " ".join(err.split())
    assert "Reading Intersight iam/OAuthTokens timed out" in text, err
    assert "within 2s (`timeouts.read`): 1 page with 20 objects had arrived" in text, err
    assert "no partial list was returned" in text, err
    assert 'timeouts { read = "4s" }' in text, err
    # Terraform's own start-up and the provider's launch come on top of the 2 s.
    assert elapsed < 15, elapsed

    small.faults({})
    body = (
        f'data "{DS}" "x" {{\n  timeouts {{\n    read = "10m"\n  }}\n}}\n'
        f'output "n" {{\n  value = length(data.{DS}.x.results)\n}}\n'
    )
    wd = workdir_factory(version, proto, small.config(body, page_size="20"))
    assert wd.apply()["n"] == 50


LOG_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def _log_records(log: str, message: str) -> list[dict[str, str]]:
    """The fields of each provider log line with `message`, as Terraform prints them."""
    records = []
    for line in log.splitlines():
        if "provider.terraform-provider-intersight" in line and f": {message}:" in line:
            fields = {}
            for key, value in LOG_FIELD.findall(line.split(f": {message}:", 1)[1]):
                fields[key] = json.loads(value) if value.startswith('"') else value
            records.append(fields)
    return records


@pytest.mark.parametrize("proto", ["5", "6"])
def test_debug_log_names_each_read(sim, workdir_factory, proto):
    """At DEBUG every read logs `read start` (data source, read id, resource, rendered filter)
    and `list read done` (the same read id, counts and time): two reads in one plan are told
    apart by their ids."""
    body = (
        f'data "{DS}" "isctl" {{\n  client_name = "isctl"\n}}\n'
        f'data "{DS}" "raw" {{\n  filter = "startswith(ClientIpAddress,\'10.\')"\n}}\n'
    )
    wd = workdir_factory("1.15", proto, sim.config(body))
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", log_provider="DEBUG")
    assert rc == 0, err
    starts = _log_records(err, "read start")
    dones = _log_records(err, "list read done")
    assert len(starts) == 2 and len(dones) == 2, err
    assert {s["read_id"] for s in starts} == {d["read_id"] for d in dones}
    assert all(re.fullmatch(r"r\d+", s["read_id"]) for s in starts), starts
    assert len({s["read_id"] for s in starts}) == 2
    # the raw `filter` is sent in parentheses, so it ANDs safely with other terms
    assert {s["filter"] for s in starts} == {"ClientName eq 'isctl'", "(startswith(ClientIpAddress,'10.'))"}
    for record in starts + dones:
        assert record["data_source"] == DS and record["resource"] == "iam/OAuthTokens", record
    by_id = {s["read_id"]: s for s in starts}
    dataset = sim.dataset()
    for done in dones:
        start = by_id[done["read_id"]]
        if start["filter"] == "ClientName eq 'isctl'":
            want = len(expect.select(dataset, lambda t: t.get("ClientName") == "isctl"))
        else:
            want = len(expect.select(dataset, lambda t: (t.get("ClientIpAddress") or "").startswith("10.")))
        assert int(done["objects"]) == want, done
        for key in ("elapsed_ms", "requests", "pages", "retries"):
            assert int(done[key]) >= 0, done
        assert int(done["pages"]) >= 1 and int(done["requests"]) >= int(done["pages"]), done


@pytest.mark.parametrize("version,proto", [MATRIX[1], MATRIX[2]])
def test_select_returns_only_the_selected_attributes(sim, workdir_factory, version, proto):
    """`select = ["client_name", "user"]`: every matching token, with those two attributes as the
    API has them and every other attribute null."""
    body = (
        f'data "{DS}" "slim" {{\n  select = ["client_name", "user"]\n}}\n'
        'output "r" {\n'
        f"  value = [for r in data.{DS}.slim.results : {{\n"
        "    name = r.client_name, user = r.user[0].moid\n"
        "    moid = r.moid, tags = r.tags, created = r.create_time\n"
        "  }]\n"
        "}\n"
    )
    wd = workdir_factory(version, proto, sim.config(body))
    got = wd.apply()["r"]
    dataset = sorted(sim.dataset(), key=lambda t: t["Moid"])
    assert len(got) == len(dataset)
    for r, t in zip(got, dataset):
        assert r["name"] == t.get("ClientName")
        assert r["user"] == expect.ref_moid(t, "User")
        assert r["moid"] is None and r["tags"] is None and r["created"] is None, r
