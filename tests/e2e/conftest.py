"""Fixtures for the end-to-end tests: the Terraform CLIs, the installed provider, the simulator.

Prerequisites (scripts/test does all of them):
  scripts/bootstrap               .venv/bin/terraform-1.15 and .venv/bin/terraform-1.0
  scripts/install-provider debug  .work/test/terraformrc (a filesystem mirror of the debug build),
                                  .work/dev/terraform-provider-intersight and .work/bin/intersight-sim

Every test works in its own directory under tmp_path, and every simulator is started with its
own state directory and port, so the suite is safe to run with pytest-xdist.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
WORK = ROOT / ".work"
#: The debug build in a filesystem mirror: the suite exercises `init` and lock files. (The
#: release mirror, .work/terraformrc, is the user's and the suite never touches it.)
TERRAFORMRC = WORK / "test" / "terraformrc"
SIM_BIN = WORK / "bin" / "intersight-sim"
#: The debug provider binary (the dev_overrides directory of .work/dev/terraformrc).
PROVIDER_BIN = WORK / "dev" / "terraform-provider-intersight"
PROVIDER_SOURCE = "registry.terraform.io/ciscodevnet/intersight"

TF_VERSIONS = ("1.15", "1.0")
PROTOCOLS = ("5", "6")
#: Every (Terraform version, plugin protocol) pair the provider must serve.
MATRIX = [pytest.param(v, p, id=f"tf{v}-proto{p}") for v in TF_VERSIONS for p in PROTOCOLS]
#: The same pairs for parametrized fixtures (one value each).
MATRIX_PAIRS = [pytest.param((v, p), id=f"tf{v}-proto{p}") for v in TF_VERSIONS for p in PROTOCOLS]

#: Big enough that the default page size (1000) needs three pages.
BIG_DATASET = 2500
SIM_SEED = 20261123
#: Generous: a debug-build provider reading 2,500 objects on a loaded 2-core machine.
TF_TIMEOUT = 300

REQUIRED_PROVIDERS = """terraform {
  required_providers {
    intersight = {
      source = "CiscoDevNet/intersight"
    }
  }
}
"""


def terraform_binary(version: str) -> pathlib.Path:
    override = os.environ.get(f"TERRAFORM_{version.replace('.', '_')}")
    path = pathlib.Path(override) if override else VENV_BIN / f"terraform-{version}"
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/bootstrap")
    return path


def base_env() -> dict[str, str]:
    """The environment for a Terraform run: nothing inherited that could change its behaviour."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TF_", "INTERSIGHT_", "CHECKPOINT_"))
    }
    env.update(
        TF_CLI_CONFIG_FILE=str(TERRAFORMRC),
        TF_IN_AUTOMATION="1",
        CHECKPOINT_DISABLE="1",
        TF_INPUT="0",
    )
    return env


def run_tf(
    version: str,
    proto: str | None,
    workdir: pathlib.Path,
    *args: str,
    env: dict[str, str] | None = None,
    log_provider: str | None = None,
    timeout: float = TF_TIMEOUT,
) -> tuple[int, str, str]:
    """Runs one Terraform command in workdir; returns (exit code, stdout, stderr)."""
    full_env = base_env()
    if proto is not None:
        full_env["INTERSIGHT_PLUGIN_PROTOCOL"] = proto
    if log_provider is not None:
        full_env["TF_LOG_PROVIDER"] = log_provider
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [str(terraform_binary(version)), *args],
        cwd=workdir,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout, proc.stderr


def hcl_string(value: str) -> str:
    """A Terraform string literal for value (json escapes are valid HCL escapes; `${` and `%{` are not)."""
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


@dataclass
class Workdir:
    """A Terraform working directory for one (version, protocol) pair."""

    path: pathlib.Path
    version: str
    proto: str | None
    env: dict[str, str] = field(default_factory=dict)
    initialized: bool = False

    def write(self, text: str, name: str = "main.tf") -> None:
        (self.path / name).write_text(text, encoding="utf-8")

    def tf(self, *args: str, **kwargs) -> tuple[int, str, str]:
        env = dict(self.env)
        env.update(kwargs.pop("env", {}) or {})
        return run_tf(self.version, self.proto, self.path, *args, env=env, **kwargs)

    def tf_ok(self, *args: str, **kwargs) -> str:
        rc, out, err = self.tf(*args, **kwargs)
        assert rc == 0, f"terraform {' '.join(args)} failed (rc={rc})\n--- stdout\n{out}\n--- stderr\n{err}"
        return out

    def init(self) -> None:
        """`terraform init` once per working directory, from the project-local mirror."""
        if not self.initialized:
            self.tf_ok("init", "-no-color", "-input=false")
            self.initialized = True

    def apply(self, *extra: str) -> dict:
        """init + apply; returns the outputs as {name: value}."""
        self.init()
        self.tf_ok("apply", "-no-color", "-input=false", "-auto-approve", *extra)
        return self.outputs()

    def outputs(self) -> dict:
        out = self.tf_ok("output", "-json")
        return {name: item["value"] for name, item in json.loads(out or "{}").items()}


@pytest.fixture(scope="session")
def provider_installed() -> pathlib.Path:
    if not TERRAFORMRC.exists():
        pytest.fail(f"{TERRAFORMRC} is missing: run scripts/install-provider")
    return TERRAFORMRC


def new_workdir(parent: pathlib.Path, version: str, proto: str | None = None, text: str | None = None, env=None) -> Workdir:
    """A fresh Terraform directory under parent (its own name, so several can share a parent)."""
    parent.mkdir(parents=True, exist_ok=True)
    index = len(list(parent.iterdir()))
    path = parent / f"wd{index}-tf{version}-p{proto}"
    path.mkdir()
    wd = Workdir(path=path, version=version, proto=proto, env=dict(env or {}))
    if text is not None:
        wd.write(text)
    return wd


@pytest.fixture
def workdir_factory(tmp_path, provider_installed):
    def make(version: str, proto: str | None = None, text: str | None = None, env=None) -> Workdir:
        return new_workdir(tmp_path, version, proto, text, env)

    return make


# ---------------------------------------------------------------------------------------------
# The simulator


class Sim:
    """A running intersight-sim (TLS) and its control API."""

    def __init__(self, state_dir: pathlib.Path, tokens: int, seed: int, extra_args=()):
        if not SIM_BIN.exists():
            pytest.fail(f"{SIM_BIN} is missing: run scripts/install-provider")
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        ready = state_dir / "ready.json"
        self.log_path = state_dir / "sim.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                str(SIM_BIN),
                "--tokens", str(tokens),
                "--seed", str(seed),
                "--state-dir", str(state_dir),
                "--listen", "127.0.0.1:0",
                "--ready-file", str(ready),
                # a safety net: a simulator orphaned by a killed test run stops by itself
                "--stop-after", "3600",
                *extra_args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        info = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if ready.exists():
                try:
                    info = json.loads(ready.read_text())
                    break
                except json.JSONDecodeError:
                    pass  # written but not complete yet
            time.sleep(0.05)
        if info is None:
            self.stop()
            pytest.fail(f"intersight-sim did not become ready:\n{self.log_path.read_text(errors='replace')}")
        self.info = info
        self.endpoint: str = info["endpoint"]
        self.ca_path: str = info["ca_path"]
        self.rsa_key_id: str = info["rsa"]["key_id"]
        self.rsa_key_path: str = info["rsa"]["key_path"]
        self.ec_key_id: str = info["ec"]["key_id"]
        self.ec_key_path: str = info["ec"]["key_path"]
        self.client_id: str = info["oauth"]["client_id"]
        self.client_secret: str = info["oauth"]["client_secret"]
        self.ssl = ssl.create_default_context(cafile=self.ca_path)
        self._dataset = None

    # -- control API (unsigned) --
    def _call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.endpoint + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, context=self.ssl, timeout=30) as resp:
            text = resp.read().decode()
        return json.loads(text) if text.strip() else None

    def dataset(self) -> list[dict]:
        """The simulator's tokens (PascalCase Intersight JSON): the ground truth for expectations."""
        if self._dataset is None:
            self._dataset = self._call("GET", "/_sim/dataset")
        return self._dataset

    def stats(self) -> dict:
        return self._call("GET", "/_sim/stats")

    def faults(self, config: dict) -> None:
        self._call("PUT", "/_sim/faults", config)

    def oauth(self, config: dict) -> None:
        """`PUT /_sim/oauth`: the token endpoint's settings and faults."""
        self._call("PUT", "/_sim/oauth", config)

    def issued_tokens(self) -> list[str]:
        """Every access token the simulator issued since its start (or last reset)."""
        return self._call("GET", "/_sim/oauth/tokens")

    def reset(self) -> None:
        self._call("POST", "/_sim/reset")
        self._dataset = None

    # -- the provider's view --
    def provider_block(self, **overrides) -> str:
        """A provider block for this simulator (RSA key); overrides replace/add attributes (HCL text)."""
        attrs = {
            "apikey": hcl_string(self.rsa_key_id),
            "secretkey": hcl_string(self.rsa_key_path),
            "endpoint": hcl_string(self.endpoint),
            "ca_certificate": hcl_string(self.ca_path),
        }
        attrs.update(overrides)
        # An override of None removes the attribute.
        attrs = {k: v for k, v in attrs.items() if v is not None}
        body = "\n".join(f"  {k} = {v}" for k, v in attrs.items())
        return f'provider "intersight" {{\n{body}\n}}\n'

    def config(self, body: str, **provider_overrides) -> str:
        return REQUIRED_PROVIDERS + "\n" + self.provider_block(**provider_overrides) + "\n" + body

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def sim(tmp_path_factory, provider_installed):
    """One simulator per session (per xdist worker) with BIG_DATASET tokens; tests must not change its faults."""
    s = Sim(tmp_path_factory.mktemp("sim-big"), BIG_DATASET, SIM_SEED)
    yield s
    s.stop()


@pytest.fixture
def sim_factory(tmp_path_factory, provider_installed):
    """Private simulators for tests that inject faults or need a small dataset."""
    started: list[Sim] = []

    def start(tokens: int = 300, seed: int = SIM_SEED + 1, extra_args=()) -> Sim:
        s = Sim(tmp_path_factory.mktemp("sim"), tokens, seed, extra_args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def copy_tree(src: pathlib.Path, dst: pathlib.Path) -> None:
    shutil.copytree(
        src,
        dst,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "terraform.tfstate*"),
        dirs_exist_ok=True,
    )
