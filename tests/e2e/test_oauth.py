"""OAuth 2.0 client credentials through real Terraform (issue 16): the provider block with a
sensitive variable, the environment variables, a wrong secret with four data sources (one full
error), both kinds of credentials set (an error, no request sent), and a TF_LOG=TRACE run
scanned for the secret and every token the simulator issued. The token requests per plan come
from the simulator's counters."""

from __future__ import annotations

import json

import pytest

from conftest import MATRIX, REQUIRED_PROVIDERS, hcl_string

DS = "intersight_iam_o_auth_token"


def flat(text: str) -> str:
    """Text with Terraform's line wrapping and the diagnostic frame undone."""
    return " ".join(text.replace("│", " ").split())


def oauth_block(sim, **overrides) -> str:
    """The simulator's provider block with OAuth client credentials instead of the API key."""
    attrs = {
        "apikey": None,
        "secretkey": None,
        "client_id": hcl_string(sim.client_id),
        "client_secret": hcl_string(sim.client_secret),
    }
    attrs.update(overrides)
    return sim.provider_block(**attrs)


def reads(n: int) -> str:
    """n data sources: d0 filtered by client name, the others reading every token."""
    out = ""
    for i in range(n):
        arguments = '  client_name = "isctl"\n' if i == 0 else ""
        out += f'data "{DS}" "d{i}" {{\n{arguments}}}\n'
        out += f'output "n{i}" {{\n  value = length(data.{DS}.d{i}.results)\n}}\n'
    return out


def expected_count(sim, i: int) -> int:
    dataset = sim.dataset()
    return sum(1 for t in dataset if t.get("ClientName") == "isctl") if i == 0 else len(dataset)


def counters(sim) -> tuple[int, int]:
    s = sim.stats()
    return s["requests"], s["token_requests"]


@pytest.mark.parametrize("version,proto", MATRIX)
def test_the_block_with_a_sensitive_variable_reads_with_one_token_request_per_plan(
    sim, workdir_factory, version, proto
):
    text = (
        REQUIRED_PROVIDERS
        + 'variable "client_secret" {\n  type      = string\n  sensitive = true\n}\n'
        + oauth_block(sim, client_secret="var.client_secret")
        + reads(2)
    )
    wd = workdir_factory(version, proto, text)
    wd.init()
    env = {"TF_VAR_client_secret": sim.client_secret}
    before = counters(sim)
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", env=env)
    assert rc == 0, out + err
    after = counters(sim)
    token_requests = after[1] - before[1]
    print(f"token requests for a plan with two data sources: {token_requests}")
    assert token_requests == 1
    assert after[0] - before[0] >= 2
    assert sim.client_secret not in out + err
    wd.tf_ok("apply", "-auto-approve", "-no-color", "-input=false", env=env)
    outputs = json.loads(wd.tf_ok("output", "-json", env=env))
    for i in range(2):
        assert outputs[f"n{i}"]["value"] == expected_count(sim, i)


@pytest.mark.parametrize("version,proto", MATRIX)
def test_the_environment_variables_are_used_when_the_block_has_no_credentials(
    sim, workdir_factory, version, proto
):
    text = REQUIRED_PROVIDERS + oauth_block(sim, client_id=None, client_secret=None) + reads(1)
    wd = workdir_factory(version, proto, text)
    wd.init()
    env = {"INTERSIGHT_CLIENT_ID": sim.client_id, "INTERSIGHT_CLIENT_SECRET": sim.client_secret}
    before = counters(sim)
    wd.tf_ok("apply", "-auto-approve", "-no-color", "-input=false", env=env)
    assert counters(sim)[1] - before[1] == 1
    outputs = json.loads(wd.tf_ok("output", "-json", env=env))
    assert outputs["n0"]["value"] == expected_count(sim, 0)
    # The API key's variables beside them: two complete kinds is an error saying so, and
    # nothing is sent.
    both = dict(env, INTERSIGHT_API_KEY=sim.rsa_key_id, INTERSIGHT_SECRET_KEY=sim.rsa_key_path)
    before = counters(sim)
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", env=both)
    assert rc != 0
    assert "Two kinds of Intersight credentials in the environment" in flat(err), err
    assert counters(sim) == before


@pytest.mark.parametrize("version,proto", MATRIX)
def test_a_wrong_secret_with_four_data_sources_is_one_full_error(sim_factory, workdir_factory, version, proto):
    sim = sim_factory(tokens=50)
    wd = workdir_factory(version, proto, REQUIRED_PROVIDERS + oauth_block(sim, client_secret=hcl_string("not-the-secret")) + reads(4))
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0
    text = flat(err)
    assert text.count("Error: Authentication failed: Intersight rejected the credentials") == 1, err
    assert text.count("Error: Not read: Intersight rejected the credentials") == 3, err
    first = text.split("Error: Authentication failed", 1)[1].split("Error: ", 1)[0]
    for words in [sim.client_id, "invalid_client", "POST /iam/token", "HTTP 401", "`client_secret`"]:
        assert words in first, f"{words!r} not in {first!r}"
    assert "not-the-secret" not in out + err
    stats = sim.stats()
    assert (stats["token_requests"], stats["requests"]) == (1, 0), stats


@pytest.mark.parametrize("version,proto", MATRIX)
def test_both_kinds_in_the_block_is_an_error_and_nothing_is_sent(sim, workdir_factory, version, proto):
    text = REQUIRED_PROVIDERS + oauth_block(sim, apikey=hcl_string(sim.rsa_key_id), secretkey=hcl_string(sim.rsa_key_path)) + reads(1)
    wd = workdir_factory(version, proto, text)
    wd.init()
    before = counters(sim)
    rc, out, err = wd.tf("validate", "-no-color")
    assert rc != 0
    message = flat(err)
    assert "Two kinds of Intersight credentials" in message, err
    for name in ["`apikey`", "`secretkey`", "`client_id`", "`client_secret`"]:
        assert name in message, name
    rc, out, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0
    assert counters(sim) == before
    assert sim.client_secret not in out + err


@pytest.mark.parametrize("version,proto", MATRIX)
def test_trace_logs_never_show_the_secret_or_a_token(sim_factory, workdir_factory, version, proto):
    # Tokens of 2 s and pages of 10, 200 ms each: a read that renews its token and meets 401s.
    sim = sim_factory(tokens=120, extra_args=("--token-lifetime", "2", "--latency-ms", "200"))
    text = REQUIRED_PROVIDERS + oauth_block(sim, page_size="10", parallelism="2") + reads(2)
    wd = workdir_factory(version, proto, text)
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", env={"TF_LOG": "TRACE"})
    assert rc == 0, err[-3000:]
    # The same as JSON records, to read the request lines' fields.
    rc, json_out, json_err = wd.tf(
        "plan", "-no-color", "-input=false", env={"TF_LOG": "JSON", "TF_LOG_PROVIDER": "TRACE"}
    )
    assert rc == 0, json_err[-3000:]
    tokens = sim.issued_tokens()
    assert len(tokens) >= 2, tokens
    everything = out + err + json_out + json_err
    assert sim.client_secret not in everything
    for token in tokens:
        assert token not in everything, "an access token is in the TRACE output"
    # The request lines name the scheme only.
    lines = []
    for line in json_err.splitlines():
        if line.startswith("{") and '"@message":"request"' in line:
            lines.append(json.loads(line))
    schemes = {(l.get("method"), l.get("auth")) for l in lines}
    assert ("GET", "bearer") in schemes and ("POST", "basic") in schemes, schemes
    print(f"TRACE runs: {len(err.splitlines())} lines, {len(tokens)} tokens issued, none shown")
