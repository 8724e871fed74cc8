"""What a server can put in one page to make decoding it costly or a crash, through real
Terraform (issue 15):

- a member nested 15,000 levels deep (arrays or objects around an escaped string, as an
  unknown property or where `ClientName`'s string is expected) fails the read with the usual
  "could not decode the response" diagnostic, not "Plugin did not respond" (the provider used
  to overflow its stack); the provider keeps serving: the plan's other data source is read,
  and the next plan succeeds;
- a token with 80,000 distinct unknown members is read (decoding is linear in the members:
  9.1 s for 80,000 before), all of them in `additional_properties`;
- an object without `ObjectType` fails the read with a diagnostic naming its Moid.
"""

from __future__ import annotations

import json
import re
import time

import pytest

DS = "intersight_iam_o_auth_token"
TOKENS = 5


def flat(text: str) -> str:
    """Terraform wraps diagnostic text to its idea of the terminal width."""
    return " ".join(text.split())


#: Two data sources (read one after the other with -parallelism=1) and how many results each got.
TWO_READS = (
    f'data "{DS}" "a" {{}}\n'
    f'data "{DS}" "b" {{\n  filter = "Moid ne \'x\'"\n}}\n'
    f'output "n" {{\n  value = [length(data.{DS}.a.results), length(data.{DS}.b.results)]\n}}\n'
)


@pytest.mark.parametrize(
    "version,proto,hostile",
    [
        pytest.param("1.15", "6", {"shape": "deep_array", "size": 15000}, id="tf1.15-p6-deep_array"),
        pytest.param("1.15", "6", {"shape": "deep_object", "size": 15000}, id="tf1.15-p6-deep_object"),
        pytest.param(
            "1.15", "6", {"shape": "deep_array", "size": 15000, "property": "ClientName"},
            id="tf1.15-p6-deep_array-ClientName",
        ),
        pytest.param(
            "1.0", "5", {"shape": "deep_object", "size": 15000, "property": "ClientName"},
            id="tf1.0-p5-deep_object-ClientName",
        ),
    ],
)
def test_a_deeply_nested_member_is_a_decode_error_and_the_provider_keeps_serving(
    sim_factory, workdir_factory, version, proto, hostile
):
    small = sim_factory(tokens=TOKENS)
    # Once: the first page request of the plan gets the hostile member.
    small.faults({"hostile_member": {"count": 1, **hostile}})
    wd = workdir_factory(version, proto, small.config(TWO_READS))
    wd.init()
    rc, _, err = wd.tf("plan", "-no-color", "-input=false", "-parallelism=1")
    assert rc != 0
    text = flat(err)
    assert "Plugin did not respond" not in text, err
    assert text.count("Error:") == 1, err
    assert "Failed to read Intersight iam/OAuthTokens" in text, err
    assert "could not decode the response: a value nested more than 128 levels deep" in text, err
    # The other data source was read after the failure: the provider was still serving.
    assert small.stats()["list_requests"] == 2, small.stats()
    # And the next plan (a new provider process) reads both.
    assert wd.apply()["n"] == [TOKENS, TOKENS]


@pytest.mark.parametrize("version,proto", [("1.15", "6"), ("1.0", "5")])
def test_a_token_with_80000_unknown_members_is_read_with_all_of_them(sim_factory, workdir_factory, version, proto):
    small = sim_factory(tokens=TOKENS)
    small.faults({"hostile_member": {"count": 1, "shape": "wide_object", "size": 80000}})
    body = (
        f'data "{DS}" "x" {{}}\n'
        'output "widest" {\n'
        "  value = max([for r in data.intersight_iam_o_auth_token.x.results :\n"
        "    r.additional_properties == null ? 0 : length(keys(jsondecode(r.additional_properties)))]...)\n"
        "}\n"
    )
    wd = workdir_factory(version, proto, small.config(body))
    wd.init()
    started = time.monotonic()
    rc, _, err = wd.tf("plan", "-no-color", "-input=false", log_provider="DEBUG")
    elapsed = time.monotonic() - started
    assert rc == 0, err
    # The provider's own read time (`list read done`): request, decoding and flattening.
    read_ms = [int(ms) for ms in re.findall(r"list read done:.*?elapsed_ms=(\d+)", err)]
    assert len(read_ms) == 1, err[-2000:]
    print(f"a token of 80,000 unknown members ({version}/p{proto}): read {read_ms[0]} ms, plan {elapsed:.1f} s")
    # About 0.2-0.5 s in a debug build; 7 s and more when each member was a linear search.
    assert read_ms[0] < 4000
    # The first token has the 80,000 members, plus `ExtraFeature` on some tokens.
    small.faults({"hostile_member": {"count": 1, "shape": "wide_object", "size": 80000}})
    assert wd.apply()["widest"] in (80000, 80001)


@pytest.mark.parametrize("version,proto", [("1.15", "6"), ("1.0", "5")])
def test_an_object_without_object_type_fails_the_read_naming_it(sim_factory, workdir_factory, version, proto):
    small = sim_factory(tokens=TOKENS)
    small.faults({"drop_object_type": {"count": 1}})
    # Pages are read in Moid order: the page's first object has the smallest Moid.
    first = min(t["Moid"] for t in small.dataset())
    wd = workdir_factory(version, proto, small.config(f'data "{DS}" "x" {{}}\n'))
    wd.init()
    rc, _, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0
    text = flat(err)
    assert text.count("Error:") == 1, err
    assert "Failed to read Intersight iam/OAuthTokens" in text, err
    assert (
        f'could not decode the response: object {first} has no ObjectType (missing or null) '
        f'where "iam.OAuthToken" was expected' in text
    ), err
    # Not retried: the answer is well-formed JSON, just not a token.
    assert small.stats()["list_requests"] == 1, json.dumps(small.stats())
