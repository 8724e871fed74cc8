"""`terraform providers schema -json` for Terraform 1.15 and 1.0.3 over plugin protocols 5 and 6.

* the schema is the same under every (version, protocol) pair and equals the reviewed, checked-in
  tests/e2e/expected/provider-schema.json (regenerate with UPDATE_EXPECTED=1 after a deliberate
  change, and review the diff);
* independently of that file, everything in the official provider's schema
  (tests/fixtures/official-schema.json) is accepted the same way: same attribute types
  (objects may gain attributes), same nesting modes and max_items, nothing optional made required.
"""

from __future__ import annotations

import json
import os

import pytest

import schema_util
from conftest import MATRIX, REQUIRED_PROVIDERS

EXPECTED = schema_util.EXPECTED_DIR / "provider-schema.json"


@pytest.fixture(scope="module")
def schemas(tmp_path_factory, provider_installed):
    """Normalised schema per (version, protocol), computed lazily."""
    from conftest import new_workdir

    cache: dict = {}

    def get(version: str, proto: str) -> dict:
        if (version, proto) not in cache:
            wd = new_workdir(tmp_path_factory.mktemp("schema"), version, proto, REQUIRED_PROVIDERS)
            wd.init()
            out = wd.tf_ok("providers", "schema", "-json")
            cache[(version, proto)] = schema_util.normalise(json.loads(out))
        return cache[(version, proto)]

    return get


@pytest.mark.parametrize("version,proto", MATRIX)
def test_schema_matches_expected(schemas, version, proto):
    got = schemas(version, proto)
    if os.environ.get("UPDATE_EXPECTED") == "1" and (version, proto) == ("1.15", "6"):
        EXPECTED.write_text(json.dumps(got, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    assert EXPECTED.exists(), f"{EXPECTED} missing: run UPDATE_EXPECTED=1 pytest {__file__} and review it"
    assert got == json.loads(EXPECTED.read_text())


@pytest.mark.parametrize("version,proto", MATRIX)
def test_official_data_source_accepted(schemas, version, proto):
    ours = schemas(version, proto)["data_source_schemas"].get(schema_util.DS)
    assert ours is not None, f"{schema_util.DS} is not served"
    official = schema_util.official_schema()["data_source"]["block"]
    assert schema_util.compatibility_problems(ours["block"], official, schema_util.DS) == []


@pytest.mark.parametrize("version,proto", MATRIX)
def test_official_provider_block_accepted(schemas, version, proto):
    ours = schemas(version, proto)["provider"]["block"]
    official = schema_util.official_schema()["provider"]["block"]
    # The official attributes show as required only because its env vars were unset when the
    # schema was taken; here they are optional (env defaults), so `required` is not compared.
    assert schema_util.compatibility_problems(ours, official, "provider", strict_required=False) == []
    for name, attr in ours.get("attributes", {}).items():
        assert not attr.get("required"), f"provider.{name} must be optional (env defaults)"


@pytest.mark.parametrize("version,proto", MATRIX)
def test_documented_additions(schemas, version, proto):
    got = schemas(version, proto)
    provider_attrs = got["provider"]["block"].get("attributes", {})
    for name, type_ in schema_util.PROVIDER_ATTRIBUTES.items():
        assert provider_attrs.get(name, {}).get("type") == type_, f"provider.{name}"
    assert provider_attrs["secretkey"].get("sensitive"), "secretkey must be sensitive"
    ds = got["data_source_schemas"][schema_util.DS]["block"]["attributes"]
    assert ds["filter"]["type"] == "string" and ds["filter"].get("optional")
    result_type = ds["results"]["type"]
    assert result_type[0] == "list" and result_type[1][0] == "object"
    assert result_type[1][1]["display_names"] == ["map", ["list", "string"]]


def test_only_the_one_data_source(schemas):
    got = schemas("1.15", "6")
    assert list(got["data_source_schemas"]) == [schema_util.DS]
    assert got["resource_schemas"] == {}


def test_compatibility_check_can_fail():
    """The comparison itself: a missing attribute, a changed type, a lost max_items are reported."""
    official = schema_util.official_schema()["data_source"]["block"]
    ours = json.loads(json.dumps(official))
    assert schema_util.compatibility_problems(ours, official, "ds") == []
    del ours["attributes"]["client_name"]
    ours["attributes"]["owners"]["type"] = ["set", "string"]
    ours["block_types"]["user"].pop("max_items")
    ours["block_types"]["tags"]["block"]["attributes"]["sys_tag"]["type"] = "string"
    problems = schema_util.compatibility_problems(ours, official, "ds")
    assert len(problems) == 4, problems
    # Object types may gain attributes (results gains display_names) but not lose them.
    results = official["attributes"]["results"]["type"]
    wider = json.loads(json.dumps(results))
    wider[1][1]["display_names"] = ["map", ["list", "string"]]
    assert schema_util.type_accepts(wider, results)
    narrower = json.loads(json.dumps(results))
    del narrower[1][1]["moid"]
    assert not schema_util.type_accepts(narrower, results)
