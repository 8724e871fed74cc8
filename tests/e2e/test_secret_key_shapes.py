"""The private key in the shapes users paste it in (issue 9 item 2), through real Terraform at
TF_LOG=TRACE: one-line PEM is accepted, the rest is rejected with a diagnostic on `secretkey`, and
no 16-character window of the key's base64 body appears anywhere in Terraform's stdout or stderr
(the provider's TRACE log included), whether the key comes from INTERSIGHT_SECRET_KEY or from a
sensitive variable. Also the `~/` paths of docs/index.md (issue 10 item 4)."""

from __future__ import annotations

import pathlib
import shutil

import pytest

from conftest import hcl_string

DS = "intersight_iam_o_auth_token"
WINDOW = 16


def key_shapes(pem: str) -> list[tuple[str, str, bool]]:
    """(name, value, accepted) for a handful of the shapes of tests/it/secret_key_shapes.rs."""
    text = pem.strip()
    lines = text.splitlines()
    body = "".join(lines[1:-1])
    begin, end = lines[0], lines[-1]
    return [
        ("newlines as spaces", text.replace("\n", " "), True),
        ("newlines removed", text.replace("\n", ""), True),
        ("body only", body, False),
        ("BEGIN dashes lost", f"{begin.rstrip('-')} {body}{end}", False),
        ("truncated one line", text.replace("\n", " ")[: len(text) // 2], False),
        ("body cut, END kept", f"{begin}\n{body[: len(body) // 2 + 3]}\n{end}\n", False),
    ]


def leaked(body: str, output: str) -> list[str]:
    squeezed = "".join(output.split()).replace("\\n", "")
    return [body[i : i + WINDOW] for i in range(len(body) - WINDOW + 1) if body[i : i + WINDOW] in squeezed]


@pytest.mark.parametrize("source", ["env", "sensitive_variable"])
def test_mangled_keys_never_reach_the_output(sim_factory, workdir_factory, source):
    small = sim_factory(tokens=5)
    pem = pathlib.Path(small.rsa_key_path).read_text()
    body = "".join(l.strip() for l in pem.splitlines() if l and not l.startswith("-----"))
    assert len(body) > 1000
    data = f'data "{DS}" "x" {{}}\n'
    if source == "env":
        text = small.config(data).replace(f"  secretkey = {hcl_string(small.rsa_key_path)}\n", "")
    else:
        text = small.config(
            'variable "key" {\n  type = string\n  sensitive = true\n}\n\n' + data,
            secretkey="var.key",
        )
    assert "secretkey" not in text or "var.key" in text
    wd = workdir_factory("1.15", "6", text)
    wd.init()
    for name, value, accepted in key_shapes(pem):
        env = {"TF_LOG": "TRACE"}
        env["INTERSIGHT_SECRET_KEY" if source == "env" else "TF_VAR_key"] = value
        rc, out, err = wd.tf("plan", "-no-color", "-input=false", env=env)
        assert "provider.terraform-provider-intersight" in err, "expected the provider's TRACE lines"
        found = leaked(body, out + err)
        assert not found, f"{name}: {len(found)} windows of the key in the output, e.g. {found[0]!r}"
        if accepted:
            assert rc == 0, f"{name}: expected the one-line key to be accepted\n{out}\n{err[-3000:]}"
        else:
            assert rc != 0, f"{name}: expected a rejection"
            assert "Invalid Intersight secret key" in out + err, f"{name}:\n{out}\n{err[-3000:]}"


def test_tilde_paths_expand_from_home(sim_factory, workdir_factory, tmp_path):
    """secretkey = "~/intersight/SecretKey.txt" (the docs/index.md example) and a `~/` CA path."""
    small = sim_factory(tokens=5)
    home = tmp_path / "home"
    (home / "intersight").mkdir(parents=True)
    shutil.copy(small.rsa_key_path, home / "intersight" / "SecretKey.txt")
    shutil.copy(small.ca_path, home / "intersight" / "ca.pem")
    text = small.config(
        f'data "{DS}" "x" {{}}\noutput "n" {{\n  value = length(data.{DS}.x.results)\n}}\n',
        secretkey=hcl_string("~/intersight/SecretKey.txt"),
        ca_certificate=hcl_string("~/intersight/ca.pem"),
    )
    wd = workdir_factory("1.15", "6", text, env={"HOME": str(home)})
    assert wd.apply()["n"] == 5
    (home / "intersight" / "SecretKey.txt").unlink()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false")
    assert rc != 0
    assert '"~/intersight/SecretKey.txt"' in out + err and str(home / "intersight" / "SecretKey.txt") in out + err, out + err
