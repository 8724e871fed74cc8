"""The project's own files a newcomer reads first: LICENSE matches Cargo.toml's licence (the
official MPL 2.0 text, byte for byte), CHANGELOG.md has a dated entry per version with the
current version on top, the README's prerequisites match Cargo.toml and its links resolve."""

from __future__ import annotations

import hashlib
import re
import tomllib

from conftest import ROOT

#: SHA-256 of the Mozilla Public License 2.0 text as Mozilla publishes it (MPL/2.0/index.txt).
MPL_2_0_SHA256 = "fab3dd6bdab226f1c08630b1dd917e11fcb4ec5e1e020e2c16f83a0a13863e85"


def cargo() -> dict:
    return tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]


def test_license_is_the_full_mpl_2_0_text_cargo_toml_names():
    assert cargo()["license"] == "MPL-2.0"
    text = (ROOT / "LICENSE").read_bytes()
    assert text.startswith(b"Mozilla Public License Version 2.0\n")
    assert hashlib.sha256(text).hexdigest() == MPL_2_0_SHA256, "LICENSE differs from the official MPL 2.0 text"


def test_changelog_dates_every_version_newest_first():
    headings = re.findall(r"^## (.*)$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert headings, "CHANGELOG.md has version headings"
    # Work not yet released sits under one `## Unreleased` heading, first if present.
    if headings[0] == "Unreleased":
        headings = headings[1:]
    assert "Unreleased" not in headings, "'## Unreleased' only as the first heading"
    parsed = []
    for heading in headings:
        m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+) \((\d{4}-\d{2}-\d{2})\)", heading)
        assert m, f"'## {heading}': expected '## X.Y.Z (YYYY-MM-DD)'"
        parsed.append(((int(m[1]), int(m[2]), int(m[3])), m[4]))
    assert ".".join(map(str, parsed[0][0])) == cargo()["version"], "the newest entry is Cargo.toml's version"
    assert parsed == sorted(parsed, reverse=True), "newest first, dates not going backwards"


def test_readme_prerequisites_and_links():
    readme = (ROOT / "README.md").read_text()
    assert f"Rust | {cargo()['rust-version']} or newer" in readme
    # Exactly two set-up commands for a new machine.
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    assert blocks[:2] == ["scripts/quickstart\n", "scripts/test\n"], blocks[:2]
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to a missing {target}"
    for name in ("LICENSE", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md", "docs/guides/installing.md"):
        assert f"]({name}" in readme, f"README links {name}"
    assert ".work/bin/intersight-sim" in readme, "the README points at the simulator binary already built"
