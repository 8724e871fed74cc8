"""Every example and every Terraform code block in the docs is a valid configuration for the
provider; the data-source example also plans against the simulator."""

from __future__ import annotations

import pathlib
import re

import pytest

from conftest import REQUIRED_PROVIDERS, ROOT, copy_tree, hcl_string

EXAMPLES = ROOT / "examples"
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(hcl|terraform|tf)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def example_dirs() -> list[pathlib.Path]:
    return sorted({p.parent for p in EXAMPLES.rglob("*.tf")}) if EXAMPLES.exists() else []


def doc_blocks() -> list[tuple[str, str]]:
    blocks = []
    for md in sorted(DOCS.rglob("*.md")) if DOCS.exists() else []:
        text = md.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((f"{md.relative_to(ROOT)}:{line}", match.group(2)))
    return blocks


def with_required_providers(text: str) -> str:
    return text if "required_providers" in text else REQUIRED_PROVIDERS + "\n" + text


def validate(wd) -> None:
    wd.init()
    rc, out, err = wd.tf("validate", "-no-color")
    assert rc == 0, f"validate failed\n{out}\n{err}"


def test_there_is_something_to_check():
    assert example_dirs(), "no examples found"
    assert doc_blocks(), "no code blocks found in docs/"


@pytest.mark.parametrize("example", example_dirs(), ids=lambda p: str(p.relative_to(EXAMPLES)))
@pytest.mark.parametrize("version", ["1.15", "1.0"])
def test_example_validates(workdir_factory, example, version):
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(example.glob("*.tf")))
    if version == "1.0" and "plantimestamp()" in text:
        pytest.skip("uses plantimestamp(), which needs Terraform >= 1.5 (declared in required_version)")
    wd = workdir_factory(version, "6")
    copy_tree(example, wd.path)
    if "required_providers" not in text:
        wd.write(REQUIRED_PROVIDERS, "versions_test.tf")
    validate(wd)


@pytest.mark.parametrize("where,block", doc_blocks(), ids=[w for w, _ in doc_blocks()])
def test_doc_block_validates(workdir_factory, where, block):
    wd = workdir_factory("1.15", "6", with_required_providers(block))
    validate(wd)


def test_data_source_example_plans_against_simulator(sim, workdir_factory):
    example = EXAMPLES / "data-sources" / "intersight_iam_o_auth_token"
    wd = workdir_factory("1.15", "6")
    copy_tree(example, wd.path)
    text = "\n".join(p.read_text(encoding="utf-8") for p in example.glob("*.tf"))
    if "required_providers" not in text:
        wd.write(REQUIRED_PROVIDERS, "versions_test.tf")
    ca = f"ca_certificate = {hcl_string(sim.ca_path)}"
    if 'provider "intersight"' in text:
        wd.write(f'provider "intersight" {{\n  {ca}\n}}\n', "sim_override.tf")
    else:
        wd.write(f'provider "intersight" {{\n  {ca}\n}}\n', "sim_provider.tf")
    wd.env.update(
        INTERSIGHT_API_KEY=sim.rsa_key_id,
        INTERSIGHT_SECRET_KEY=sim.rsa_key_path,
        INTERSIGHT_ENDPOINT_URL=sim.endpoint,
    )
    wd.init()
    out = wd.tf_ok("plan", "-no-color", "-input=false")
    assert "token_count" in out


MIGRATION = DOCS / "guides" / "migration.md"
AFTER_BLOCK = re.compile(r"^After:\s*\n\s*```(?:hcl|terraform|tf)[ \t]*\n(.*?)^```", re.M | re.S)


def migration_after_blocks() -> list[str]:
    """The guide's "After" examples that need only a provider block to run."""
    blocks = AFTER_BLOCK.findall(MIGRATION.read_text(encoding="utf-8"))
    return [b for b in blocks if 'provider "intersight"' not in b and "required_providers" not in b]


def test_migration_guide_has_runnable_after_examples():
    assert len(migration_after_blocks()) >= 3


@pytest.mark.parametrize("index", range(len(migration_after_blocks())))
def test_migration_guide_after_snippets_apply(sim, workdir_factory, index):
    """Each runnable "After" example applies against the simulator (times pass formatdate(),
    filter expressions are accepted by the API); the no-match example also with a name that
    matches nothing, where `results` is an empty list and the plan goes on."""
    block = migration_after_blocks()[index]
    wd = workdir_factory("1.15", "6", sim.config(block))
    outputs = wd.apply()
    assert outputs, "every example has outputs or reads"
    if 'client_name = "isctl"' in block:
        isctl = [t for t in sim.dataset() if t.get("ClientName") == "isctl"]
        assert outputs["isctl_token_count"] == len(isctl) > 0
        none = workdir_factory("1.15", "6", sim.config(block.replace('client_name = "isctl"', 'client_name = "no such client"')))
        # a null output is left out of `terraform output`
        assert none.apply() == {"isctl_token_count": 0}
    if "terraform_client_count" in block:
        want = [t for t in sim.dataset() if t.get("ClientName", "").startswith("Terra") or t.get("ClientName") == "isctl"]
        assert outputs["terraform_client_count"] == len(want) > 0
    if "created_dates" in block:
        assert len(outputs["created_dates"]) == len(sim.dataset())
        assert all(len(d) == 10 and d[4] == "-" for d in outputs["created_dates"])
