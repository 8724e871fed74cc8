"""Values as Terraform receives them from a read: `"Ancestors": [null, …]` from the API never
becomes a null block in `ancestors` (issue 9 item 9), so a `for` expression over the references
works in the user's configuration."""

from __future__ import annotations

from conftest import MATRIX

import pytest

DS = "intersight_iam_o_auth_token"


@pytest.mark.parametrize("version,proto", [MATRIX[0], MATRIX[3]])
def test_null_reference_elements_are_left_out(sim_factory, workdir_factory, version, proto):
    small = sim_factory(tokens=5)
    small.faults({"null_in_ancestors": True})
    expected = {t["Moid"]: [a["Moid"] for a in t.get("Ancestors") or []] for t in small.dataset()}
    assert any(expected.values()), "the dataset should have ancestors"
    text = small.config(
        f'data "{DS}" "x" {{}}\n'
        'output "ancestors" {\n'
        f"  value = {{ for r in data.{DS}.x.results : r.moid => [for a in r.ancestors : a.moid] }}\n"
        "}\n"
    )
    wd = workdir_factory(version, proto, text)
    assert wd.apply()["ancestors"] == expected
    assert small.stats()["list_requests"] > 0
