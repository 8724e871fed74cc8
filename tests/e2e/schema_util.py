"""Schema helpers: normalising `terraform providers schema -json`, comparing with the official
provider's schema, and writing HCL that uses every argument and block of a schema."""

from __future__ import annotations

import json
import pathlib

from conftest import PROVIDER_SOURCE

#: The official provider's `terraform providers schema -json` for its provider block and this data
#: source: the one copy, shared with the Rust tests (src/provider/config_tests.rs and the data
#: source's schema tests read it too).
OFFICIAL_SCHEMA = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "official-schema.json"
EXPECTED_DIR = pathlib.Path(__file__).resolve().parent / "expected"
DS = "intersight_iam_o_auth_token"

#: Provider attributes this provider adds to the official three (see docs/index.md).
PROVIDER_ATTRIBUTES = {
    "apikey": "string",
    "secretkey": "string",
    "client_id": "string",
    "client_secret": "string",
    "endpoint": "string",
    "ca_certificate": "string",
    "insecure": "bool",
    "request_timeout": "number",
    "max_retries": "number",
    "page_size": "number",
    "parallelism": "number",
    "max_results_mib": "number",
}
#: Data source arguments this provider adds.
EXTRA_ARGUMENTS = {"filter": "string"}

ATTRIBUTE_KEYS = ("type", "description", "description_kind", "optional", "required", "computed", "sensitive", "deprecated")


def official_schema() -> dict:
    """{"provider": block schema, "data_source": block schema} as taken from the official provider."""
    return json.loads(OFFICIAL_SCHEMA.read_text())


def normalise_block(block: dict) -> dict:
    out: dict = {}
    attrs = {}
    for name, attr in sorted((block.get("attributes") or {}).items()):
        attrs[name] = {k: attr[k] for k in ATTRIBUTE_KEYS if attr.get(k) not in (None, False, "")}
    if attrs:
        out["attributes"] = attrs
    blocks = {}
    for name, nested in sorted((block.get("block_types") or {}).items()):
        item = {"nesting_mode": nested["nesting_mode"], "block": normalise_block(nested.get("block") or {})}
        for key in ("min_items", "max_items"):
            if nested.get(key):
                item[key] = nested[key]
        blocks[name] = item
    if blocks:
        out["block_types"] = blocks
    for key in ("description", "description_kind", "deprecated"):
        if block.get(key) not in (None, False, ""):
            out[key] = block[key]
    return out


def normalise(schema_json: dict) -> dict:
    """The parts of `providers schema -json` that both Terraform 1.0 and 1.15 print, normalised."""
    provider = schema_json["provider_schemas"][PROVIDER_SOURCE]

    def one(item: dict) -> dict:
        return {"version": item.get("version", 0), "block": normalise_block(item.get("block") or {})}

    return {
        "provider": one(provider["provider"]),
        "resource_schemas": {k: one(v) for k, v in sorted((provider.get("resource_schemas") or {}).items())},
        "data_source_schemas": {k: one(v) for k, v in sorted((provider.get("data_source_schemas") or {}).items())},
    }


def type_accepts(ours, official) -> bool:
    """Whether our attribute type is the official one, allowing extra attributes in object types."""
    if isinstance(official, str) or isinstance(ours, str):
        return ours == official
    if ours[0] != official[0]:
        return False
    if official[0] == "object":
        return all(k in ours[1] and type_accepts(ours[1][k], v) for k, v in official[1].items())
    if official[0] == "tuple":
        return len(ours[1]) == len(official[1]) and all(type_accepts(a, b) for a, b in zip(ours[1], official[1]))
    return type_accepts(ours[1], official[1])


def compatibility_problems(ours: dict, official: dict, where: str, strict_required: bool = True) -> list[str]:
    """Everything in the official block that ours does not accept in the same way."""
    problems = []
    our_attrs = ours.get("attributes") or {}
    for name, attr in (official.get("attributes") or {}).items():
        here = f"{where}.{name}"
        mine = our_attrs.get(name)
        if mine is None:
            problems.append(f"{here}: missing")
            continue
        if not type_accepts(mine.get("type"), attr.get("type")):
            problems.append(f"{here}: type {mine.get('type')} != official {attr.get('type')}")
        if mine.get("required") and not attr.get("required"):
            problems.append(f"{here}: required here, optional in the official provider")
        if strict_required and attr.get("required") and not mine.get("required"):
            problems.append(f"{here}: optional here, required in the official provider")
        if attr.get("optional") and not (mine.get("optional") or mine.get("required")):
            problems.append(f"{here}: cannot be set here")
        if attr.get("computed") and not mine.get("computed"):
            problems.append(f"{here}: not computed here")
    our_blocks = ours.get("block_types") or {}
    for name, nested in (official.get("block_types") or {}).items():
        here = f"{where}.{name}"
        mine = our_blocks.get(name)
        if mine is None:
            problems.append(f"{here}: block missing")
            continue
        for key in ("nesting_mode", "max_items", "min_items"):
            if (mine.get(key) or 0) != (nested.get(key) or 0):
                problems.append(f"{here}: {key} {mine.get(key)} != official {nested.get(key)}")
        problems += compatibility_problems(mine.get("block") or {}, nested.get("block") or {}, here, strict_required)
    return problems


# ---------------------------------------------------------------------------------------------
# HCL that uses everything

SAMPLE_TIME = "2024-05-01T10:20:30.123Z"


def sample_string(name: str) -> str:
    if name.endswith("_time") or name == "timestamp":
        return json.dumps(SAMPLE_TIME)
    if name == "additional_properties":
        return 'jsonencode({ Foo = "bar" })'
    if name.endswith("moid"):
        return json.dumps("5dbb09b27564612d30b68668")
    if name == "filter":
        return json.dumps("startswith(ClientName,'Terra')")
    return json.dumps(f"sample-{name}")


def sample_value(name: str, type_) -> str:
    if type_ == "string":
        return sample_string(name)
    if type_ == "bool":
        return "false"
    if type_ == "number":
        return "1"
    if type_ == ["list", "string"]:
        return '["5dbb09b27564612d30b68668", "596cc79e5d91b400010d15ad"]'
    raise ValueError(f"no sample for {name}: {type_}")


def block_body(block: dict, indent: int, skip=("results",)) -> list[str]:
    pad = " " * indent
    lines = []
    for name, attr in sorted((block.get("attributes") or {}).items()):
        if name in skip or not (attr.get("optional") or attr.get("required")):
            continue
        lines.append(f"{pad}{name} = {sample_value(name, attr['type'])}")
    for name, nested in sorted((block.get("block_types") or {}).items()):
        # Two instances where more than one is allowed, so list nesting is really exercised.
        count = 1 if nested.get("max_items") == 1 else 2
        for _ in range(count):
            lines.append(f"{pad}{name} {{")
            lines += block_body(nested.get("block") or {}, indent + 2, skip=())
            lines.append(f"{pad}}}")
    return lines


def all_arguments_data_block(label: str = "everything") -> str:
    block = json.loads(json.dumps(official_schema()["data_source"]["block"]))
    for name, type_ in EXTRA_ARGUMENTS.items():
        block["attributes"][name] = {"type": type_, "optional": True}
    return "\n".join([f'data "{DS}" "{label}" {{', *block_body(block, 2), "}"]) + "\n"
