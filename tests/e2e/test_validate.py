"""`terraform validate` (no API access): configurations that use everything are accepted; wrongly
typed and malformed ones are rejected with the diagnostic on the offending attribute."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import pytest

import schema_util
from conftest import MATRIX, MATRIX_PAIRS, REQUIRED_PROVIDERS, hcl_string, new_workdir

DS = schema_util.DS
SYSTEM_CA_BUNDLE = pathlib.Path("/etc/ssl/certs/ca-certificates.crt")


def rsa_pem() -> str:
    """A throwaway RSA key (PKCS#1 PEM), made with the SDK's own dependency (pycryptodome)."""
    from Crypto.PublicKey import RSA

    return RSA.generate(2048).export_key(format="PEM", pkcs=1).decode()


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("keys") / "key.pem"
    path.write_text(rsa_pem())
    return path


def full_provider_block(key_file: pathlib.Path, **overrides: str) -> str:
    attrs = {
        "apikey": hcl_string("596cc79e5d91b400010d15ad/59b856cb16267c0001286496/5dbb09b27564612d30b68668"),
        "secretkey": hcl_string(str(key_file)),
        "endpoint": hcl_string("https://intersight.example.com"),
        "ca_certificate": hcl_string(str(SYSTEM_CA_BUNDLE)),
        "insecure": "false",
        "request_timeout": "60",
        "max_retries": "5",
        "page_size": "1000",
        "parallelism": "4",
        "max_results_mib": "512",
    }
    assert set(attrs) == set(schema_util.PROVIDER_ATTRIBUTES)
    attrs.update(overrides)
    return 'provider "intersight" {\n' + "".join(f"  {k} = {v}\n" for k, v in attrs.items()) + "}\n"


def validate_json(wd) -> dict:
    wd.init()
    rc, out, err = wd.tf("validate", "-json", "-no-color")
    result = json.loads(out)
    assert (rc == 0) == result["valid"], (rc, out, err)
    return result


def errors(result: dict) -> list[dict]:
    return [d for d in result.get("diagnostics", []) if d["severity"] == "error"]


def describe(result: dict) -> str:
    return "\n".join(
        f"{d['severity']}: {d['summary']} | {d.get('detail', '')} @ {d.get('range')}" for d in result.get("diagnostics", [])
    )


@pytest.mark.parametrize("version,proto", MATRIX)
def test_every_argument_and_block_is_accepted(tmp_path, key_file, version, proto):
    text = REQUIRED_PROVIDERS + full_provider_block(key_file) + schema_util.all_arguments_data_block()
    wd = new_workdir(tmp_path, version, proto, text)
    result = validate_json(wd)
    assert result["valid"], describe(result)
    # sanity: the generated block really contains every official argument and block
    for name in list(schema_util.official_schema()["data_source"]["block"]["attributes"]) + ["filter"]:
        if name != "results":
            assert f"\n  {name} = " in text, name
    for name in schema_util.official_schema()["data_source"]["block"]["block_types"]:
        assert f"\n  {name} {{" in text, name


@pytest.mark.parametrize("version,proto", MATRIX)
def test_secretkey_as_pem_text_and_endpoint_forms(tmp_path, key_file, version, proto):
    blocks = []
    for i, endpoint in enumerate(["intersight.com", "intersight.example.com:8443", "https://intersight.com", "http://127.0.0.1:8080"]):
        pem = key_file.read_text().rstrip("\n") + "\n"  # the heredoc's EOT must start a line
        blocks.append(
            full_provider_block(key_file, secretkey=f"<<-EOT\n{pem}EOT", endpoint=hcl_string(endpoint)).replace(
                'provider "intersight" {', f'provider "intersight" {{\n  alias = "p{i}"'
            )
        )
        blocks.append(f'data "{DS}" "d{i}" {{\n  provider = intersight.p{i}\n}}\n')
    wd = new_workdir(tmp_path, version, proto, REQUIRED_PROVIDERS + "\n".join(blocks))
    result = validate_json(wd)
    assert result["valid"], describe(result)


@dataclasses.dataclass(frozen=True)
class Bad:
    name: str
    #: lines of the data block body; the one marked with `# <-` is where the error must point
    body: str
    #: words the diagnostic (summary + detail) must contain, any case
    words: tuple = ()


BAD_DATA = [
    Bad("owners_not_a_list", 'owners = "x" # <-', ()),
    Bad("ref_moid_not_a_string", 'user {\n    moid = ["a"] # <-\n  }', ()),
    Bad("time_not_rfc3339", 'create_time = "yesterday" # <-', ("create_time",)),
    Bad("nested_time_not_rfc3339", 'version_context {\n    timestamp = "2024-13-01T00:00:00Z" # <-\n  }', ()),
    Bad("additional_properties_not_json", 'additional_properties = "{not json" # <-', ("json",)),
    Bad("empty_filter", 'filter = "" # <-', ("filter",)),
    Bad("too_many_user_blocks", 'user {\n    moid = "a"\n  }\n  user { # <-\n    moid = "b"\n  }', ()),
    Bad("unknown_argument", 'client = "x" # <-', ()),
    # a space for the `T` and no zone: say RFC 3339 with an example, not the parser's words
    Bad("time_with_a_space", 'mod_time = "2024-05-01 10:20:30" # <-', ("rfc 3339, e.g. `2024-05-01t10:20:30z`", "not a space")),
    # a syntax error in `filter` itself is not "use the filter argument"
    Bad("filter_syntax", "filter = \"ClientName eq 'isctl\" # <-", ("invalid filter expression", "`filter` is not a valid odata")),
    Bad("read_timeout_not_a_duration", 'timeouts {\n    read = "ten minutes" # <-\n  }', ("timeouts.read", "duration", '"90s"')),
    Bad("select_typo", 'select = ["client_nmae", "user"] # <-', ('"client_nmae" (did you mean "client_name"?)', "select")),
    Bad("read_timeout_zero", 'timeouts {\n    read = "0s" # <-\n  }', ("timeouts.read", "zero")),
]

#: Words no data source diagnostic may contain: the date parser's jargon, and advice to use the
#: `filter` argument given for a mistake in `filter` itself.
NEVER = ("component could not be parsed", "offset hour")


def bad_data_config() -> tuple[str, dict[str, int]]:
    """One file with every bad data block; returns it and the line each error must point at."""
    lines = REQUIRED_PROVIDERS.splitlines() + ['provider "intersight" {}', ""]
    where = {}
    for bad in BAD_DATA:
        lines.append(f'data "{DS}" "{bad.name}" {{')
        for line in ("  " + bad.body).splitlines():
            if line.rstrip().endswith("# <-"):
                where[bad.name] = len(lines) + 1
                line = line.rstrip()[: -len("# <-")].rstrip()
            lines.append(line)
        lines.append("}")
        lines.append("")
    return "\n".join(lines) + "\n", where


@pytest.fixture(scope="module", params=MATRIX_PAIRS)
def bad_data_result(request, tmp_path_factory, provider_installed):
    version, proto = request.param
    text, where = bad_data_config()
    wd = new_workdir(tmp_path_factory.mktemp("bad"), version, proto, text)
    return validate_json(wd), where


@pytest.mark.parametrize("bad", BAD_DATA, ids=[b.name for b in BAD_DATA])
def test_bad_argument_is_rejected_at_its_line(bad_data_result, bad):
    result, where = bad_data_result
    assert not result["valid"]
    line = where[bad.name]
    hits = [d for d in errors(result) if (d.get("range") or {}).get("start", {}).get("line") == line]
    assert hits, f"no error at main.tf:{line} for {bad.name}\n{describe(result)}"
    text = " ".join(f"{d['summary']} {d.get('detail', '')}" for d in hits).lower()
    for word in bad.words:
        assert word in text, f"{bad.name}: {word!r} not in {text!r}"
    assert all(d["range"]["filename"] == "main.tf" for d in hits)


def test_bad_data_diagnostics_avoid_parser_jargon_and_wrong_advice(bad_data_result):
    result, where = bad_data_result
    for d in errors(result):
        text = f"{d['summary']} {d.get('detail', '')}".lower()
        for word in NEVER:
            assert word not in text, describe(result)
        if d["range"]["start"]["line"] == where["filter_syntax"]:
            assert "cannot be used as a filter" not in text and "with the `filter` argument" not in text, text


@pytest.mark.parametrize("version,proto", [MATRIX[0], MATRIX[3]])
def test_every_invalid_argument_is_reported_in_one_run(tmp_path, version, proto):
    """Four mistakes in one data block (and one in another): one `terraform validate` reports all
    of them, each on its own line, including the filter syntax error the read would meet."""
    body = [
        f'data "{DS}" "many" {{',
        '  create_time = "yesterday"',
        "  filter = \"ClientName eq 'isctl\"",
        '  additional_properties = "[1]"',
        "  timeouts {",
        '    read = "10 minutes"',
        "  }",
        "}",
        f'data "{DS}" "other" {{',
        '  mod_time = "2024-05-01 10:20:30"',
        "}",
    ]
    text = REQUIRED_PROVIDERS + 'provider "intersight" {}\n\n' + "\n".join(body) + "\n"
    lines = text.splitlines()
    expected = {
        i
        for i, l in enumerate(lines, 1)
        if l.strip().startswith(("create_time", "filter", "additional_properties", "read", "mod_time"))
    }
    assert len(expected) == 5
    wd = new_workdir(tmp_path, version, proto, text)
    result = validate_json(wd)
    got = {d["range"]["start"]["line"] for d in errors(result) if d.get("range")}
    assert got == expected, describe(result)


def test_bad_data_errors_are_only_where_expected(bad_data_result):
    result, where = bad_data_result
    lines = set(where.values())
    stray = [d for d in errors(result) if (d.get("range") or {}).get("start", {}).get("line") not in lines]
    assert stray == [], describe(result)


BAD_PROVIDER = {
    "page_size": "5000",
    "parallelism": "0",
    "max_retries": "21",
    "request_timeout": "0",
    "endpoint": hcl_string(""),
}


@pytest.mark.parametrize("version,proto", MATRIX)
@pytest.mark.parametrize("attribute", sorted(BAD_PROVIDER))
def test_bad_provider_attribute_is_rejected_at_its_line(tmp_path, key_file, version, proto, attribute):
    provider = full_provider_block(key_file, **{attribute: BAD_PROVIDER[attribute]})
    text = REQUIRED_PROVIDERS + provider + f'\ndata "{DS}" "x" {{}}\n'
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith(f"  {attribute} = "))
    wd = new_workdir(tmp_path, version, proto, text)
    result = validate_json(wd)
    assert not result["valid"]
    hits = [d for d in errors(result) if (d.get("range") or {}).get("start", {}).get("line") == line]
    assert hits, f"no error at main.tf:{line}\n{describe(result)}"
    assert attribute in " ".join(f"{d['summary']} {d.get('detail', '')}" for d in hits) or hits[0].get("snippet", {}).get(
        "code", ""
    ).strip().startswith(attribute)


@pytest.mark.parametrize("version,proto", MATRIX)
def test_bad_endpoint_scheme_is_reported_on_endpoint(tmp_path, key_file, version, proto):
    """An unusable endpoint is caught when the provider is configured (before any request), and
    the diagnostic points at `endpoint`."""
    provider = full_provider_block(key_file, endpoint=hcl_string("ftp://intersight.com"))
    text = REQUIRED_PROVIDERS + provider + f'\ndata "{DS}" "x" {{}}\n'
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("  endpoint = "))
    wd = new_workdir(tmp_path, version, proto, text)
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0
    assert f"main.tf line {line}" in err, err
    assert "ftp" in err
