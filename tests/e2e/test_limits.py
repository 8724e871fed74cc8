"""Limits as a user meets them through real Terraform (docs/index.md, "Limits"): a query too long
for a URL, found by `terraform validate` and, when its value is known only at apply, by the read;
a key file over 1 MiB. Each is one clear error on the argument at fault, nothing is sent, and the
diagnostic quotes a few hundred characters at most."""

from __future__ import annotations

import json
import pathlib

import pytest

from conftest import REQUIRED_PROVIDERS, hcl_string

DS = "intersight_iam_o_auth_token"
#: One Terraform version with each protocol: the checks are the provider's, not Terraform's.
PAIRS = [pytest.param("1.15", "6", id="tf1.15-proto6"), pytest.param("1.0", "5", id="tf1.0-proto5")]
#: 3,000 Moids: about 100 KB once encoded, over the 60 KiB a request target may take.
MOIDS = [f"{i:024x}" for i in range(3000)]
LONG_FILTER = "Moid in (" + ",".join(f"'{m}'" for m in MOIDS) + ")"


def line_of(text: str, prefix: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.strip().startswith(prefix))


def assert_short_and_clear(text: str) -> None:
    assert "bug in the provider" not in text, text
    # The 100 KB filter is not quoted: its start only.
    assert MOIDS[0] in text and MOIDS[100] not in text, text


@pytest.mark.parametrize("version,proto", PAIRS)
def test_a_filter_too_long_for_a_url_is_an_error_on_filter_at_validate(sim_factory, workdir_factory, version, proto):
    sim = sim_factory(tokens=20)
    text = sim.config(f'data "{DS}" "x" {{\n  filter = {hcl_string(LONG_FILTER)}\n}}\n')
    wd = workdir_factory(version, proto, text)
    wd.init()
    rc, out, err = wd.tf("validate", "-json", "-no-color")
    result = json.loads(out)
    assert rc != 0 and not result["valid"], (rc, out, err)
    errors = [d for d in result["diagnostics"] if d["severity"] == "error"]
    assert len(errors) == 1, errors
    (d,) = errors
    assert d["summary"] == "Query too long", d
    assert d["range"]["start"]["line"] == line_of(text, "filter ="), d
    assert "more than the 61440 bytes" in d["detail"] and "`filter` takes 99027 bytes" in d["detail"], d
    assert len(d["detail"]) < 800, len(d["detail"])
    assert_short_and_clear(d["detail"])
    assert sim.stats()["requests"] == 0


@pytest.mark.parametrize("version,proto", PAIRS)
def test_a_filter_known_only_at_apply_that_is_too_long_fails_the_read_the_same_way(
    sim_factory, workdir_factory, version, proto
):
    # timestamp() is unknown until apply: validation sees no filter, the read gets all of it.
    sim = sim_factory(tokens=20)
    filter_expr = f'timestamp() == "" ? "" : {hcl_string(LONG_FILTER)}'
    text = sim.config(f'data "{DS}" "x" {{\n  filter = {filter_expr}\n}}\n')
    wd = workdir_factory(version, proto, text)
    wd.init()
    wd.tf_ok("validate", "-no-color")
    rc, out, err = wd.tf("apply", "-no-color", "-input=false", "-auto-approve")
    assert rc != 0, out
    assert "Error: Query too long" in err, err
    assert f"main.tf line {line_of(text, 'filter =')}" in err, err
    # Terraform quotes the configuration line itself (the whole literal); the provider's
    # detail follows it.
    detail = "The page requests" + err.split("The page requests", 1)[1]
    assert "`filter` takes 99027 bytes" in detail, detail
    assert_short_and_clear(detail)
    assert len(detail) < 1000, len(detail)
    assert sim.stats()["requests"] == 0


@pytest.mark.parametrize("version,proto", PAIRS)
def test_a_secret_key_file_over_one_mebibyte_is_refused(sim_factory, workdir_factory, tmp_path, version, proto):
    # A valid key followed by 2 MiB of zeros was accepted (a 3 GiB file was read whole).
    sim = sim_factory(tokens=20)
    key = tmp_path / "SecretKey.txt"
    key.write_bytes(pathlib.Path(sim.rsa_key_path).read_bytes() + b"\0" * (2 << 20))
    text = sim.config(f'data "{DS}" "x" {{}}\n', secretkey=hcl_string(str(key)))
    wd = workdir_factory(version, proto, text)
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0, out
    assert "Error: Invalid Intersight secret key" in err, err
    assert f"the secret key file {key} is larger than 1 MiB" in " ".join(err.split()), err
    assert f"main.tf line {line_of(text, 'secretkey =')}" in err, err
    assert sim.stats()["requests"] == 0
    # The same key without the zeros reads.
    key.write_bytes(pathlib.Path(sim.rsa_key_path).read_bytes())
    wd.tf_ok("plan", "-no-color", "-input=false")
