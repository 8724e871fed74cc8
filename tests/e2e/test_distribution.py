"""Installing the provider the ways teams do (docs/guides/installing.md):

- a provider network mirror (`scripts/release.py --network-mirror`): served over HTTPS on
  127.0.0.1, Terraform 1.15 and 1.0.3 `init` from it through `provider_installation {
  network_mirror { ... } }`, and `terraform providers lock -net-mirror=... -platform=...` records
  a hash for each of the five platforms;
- the registry's signed checksums (`--gpg-key`): a detached SHA256SUMS.sig that verifies with the
  exported public key alone (a throwaway key made here, in a private GNUPGHOME);
- beside the official provider (docs/guides/migration.md): ours under its own source address
  (`intersight-rs = { source = "example.com/acme/intersight" }`, `provider = intersight-rs`: a local
  name may hold letters, digits and dashes, not `_`), a
  second copy of ours standing in for the official `CiscoDevNet/intersight`.

The linux_amd64 archive holds the installed debug build; the other four platforms hold small
stand-in files (the five real builds come from `scripts/release.py --all-platforms`; Terraform
only hashes the archives it does not run)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import http.server
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from conftest import PROVIDER_BIN, ROOT, run_tf

NAME = "terraform-provider-intersight"
PLATFORMS = ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64")
OFFICIAL = "registry.terraform.io/ciscodevnet/intersight"
OURS = "example.com/acme/intersight"
#: A version an earlier release put in the network mirror (below this build's).
EARLIER = "1.0.99"


def version() -> str:
    return re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)


def release(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "release.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def stand_ins(directory: Path) -> list[str]:
    """--binary arguments: the debug build for linux_amd64, stand-ins for the rest."""
    directory.mkdir(parents=True, exist_ok=True)
    args = [f"--binary=linux_amd64={PROVIDER_BIN}"]
    for platform in PLATFORMS[1:]:
        path = directory / platform
        path.write_bytes(f"stand-in provider binary for {platform}\n".encode())
        args.append(f"--binary={platform}={path}")
    return args


# ---------------------------------------------------------------------------------------------
# HTTPS on 127.0.0.1 with a CA made for the test (Terraform trusts it through SSL_CERT_FILE)


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    ext = directory / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
            "-days", "2", "-subj", "/CN=intersight-e2e mirror CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


class Server:
    def __init__(self, root: Path, cert: Path, key: Path):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(root), **kw)

            def log_message(self, fmt, *a):
                outer.requests.append(self.path)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def network_mirror(tmp_path_factory, provider_installed):
    out = tmp_path_factory.mktemp("netmirror")
    # An earlier release already in the mirror: its version stays listed.
    earlier = out / "www" / OFFICIAL
    earlier.mkdir(parents=True)
    (earlier / "index.json").write_text(json.dumps({"versions": {EARLIER: {}}}))
    release(*stand_ins(out / "bins"), "--dist", str(out / "dist"), "--network-mirror", str(out / "www"))
    ca, cert, key = make_tls(out / "tls")
    server = Server(out / "www", cert, key)
    yield out, server, ca
    server.stop()


def mirror_env(tmp_path: Path, url: str, ca: Path) -> dict[str, str]:
    rc = tmp_path / "terraformrc"
    rc.write_text(
        "provider_installation {\n"
        f'  network_mirror {{\n    url     = "{url}"\n    include = ["{OFFICIAL}"]\n  }}\n'
        f'  direct {{\n    exclude = ["{OFFICIAL}"]\n  }}\n}}\n'
    )
    return {"TF_CLI_CONFIG_FILE": str(rc), "SSL_CERT_FILE": str(ca)}


def workdir(tmp_path: Path) -> Path:
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "main.tf").write_text(
        'terraform {\n  required_providers {\n    intersight = {\n      source  = "CiscoDevNet/intersight"\n'
        '      version = "~> 1.0"\n    }\n  }\n}\n'
    )
    return wd


def lock_hashes(wd: Path) -> list[str]:
    return re.findall(r'"((?:h1|zh):[^"]+)"', (wd / ".terraform.lock.hcl").read_text())


def h1(archive: Path) -> str:
    """Terraform's "h1:" package hash: base64 SHA-256 of the sorted "<sha256>  <name>" lines."""
    with zipfile.ZipFile(archive) as zf:
        lines = sorted(f"{hashlib.sha256(zf.read(i)).hexdigest()}  {i.filename}\n" for i in zf.infolist())
    return "h1:" + base64.b64encode(hashlib.sha256("".join(lines).encode()).digest()).decode()


def test_network_mirror_layout(network_mirror):
    out, _, _ = network_mirror
    ver = version()
    base = out / "www" / OFFICIAL
    assert json.loads((base / "index.json").read_text()) == {"versions": {EARLIER: {}, ver: {}}}
    meta = json.loads((base / f"{ver}.json").read_text())
    assert sorted(meta["archives"]) == sorted(PLATFORMS)
    for platform, entry in meta["archives"].items():
        archive = base / entry["url"]
        assert entry["url"] == f"{NAME}_{ver}_{platform}.zip"
        assert entry["hashes"] == [f"zh:{hashlib.sha256(archive.read_bytes()).hexdigest()}"]
        assert archive.read_bytes() == (out / "dist" / entry["url"]).read_bytes()
    with zipfile.ZipFile(base / f"{NAME}_{ver}_windows_amd64.zip") as zf:
        assert zf.namelist() == [f"{NAME}_v{ver}.exe"], "a Windows package holds an .exe"
    sums = (out / "dist" / f"{NAME}_{ver}_SHA256SUMS").read_text().splitlines()
    assert sorted(line.split("  ")[1] for line in sums) == sorted(
        [f"{NAME}_{ver}_{p}.zip" for p in PLATFORMS] + [f"{NAME}_{ver}_manifest.json"]
    )


@pytest.mark.parametrize("tf", ["1.15", "1.0"])
def test_init_from_the_network_mirror_over_https(network_mirror, tmp_path, tf):
    out, server, ca = network_mirror
    ver = version()
    env = mirror_env(tmp_path, server.url, ca)
    wd = workdir(tmp_path)
    rc, stdout, stderr = run_tf(tf, None, wd, "init", "-no-color", "-input=false", env=env)
    assert rc == 0, stdout + stderr
    assert f"Installed ciscodevnet/intersight v{ver}" in stdout, stdout
    assert f"/{OFFICIAL}/index.json" in server.requests and f"/{OFFICIAL}/{ver}.json" in server.requests
    # Terraform checks the archive against the mirror's zh: hash, then records the h1: hash
    # of the unpacked package (the mirror is not a signed source, so its zh: hashes are not).
    assert h1(out / "www" / OFFICIAL / f"{NAME}_{ver}_linux_amd64.zip") in lock_hashes(wd)
    rc, stdout, stderr = run_tf(tf, None, wd, "providers", "schema", "-json", env=env)
    assert rc == 0, stderr
    assert "intersight_iam_o_auth_token" in json.loads(stdout)["provider_schemas"][OFFICIAL]["data_source_schemas"]


@pytest.mark.parametrize("tf", ["1.15", "1.0"])
def test_providers_lock_records_every_platform(network_mirror, tmp_path, tf):
    """A lock file made on Linux that also works on a Mac or Windows: one h1: hash per platform
    (Terraform hashes each package it downloads) besides the mirror's zh: hashes."""
    out, server, ca = network_mirror
    ver = version()
    env = mirror_env(tmp_path, server.url, ca)
    wd = workdir(tmp_path)
    platforms = [f"-platform={p}" for p in PLATFORMS]
    rc, stdout, stderr = run_tf(tf, None, wd, "providers", "lock", f"-net-mirror={server.url}", *platforms, env=env)
    assert rc == 0, stdout + stderr
    hashes = lock_hashes(wd)
    for platform in PLATFORMS:
        assert h1(out / "www" / OFFICIAL / f"{NAME}_{ver}_{platform}.zip") in hashes, (platform, hashes)
    assert len([h for h in hashes if h.startswith("h1:")]) == len(PLATFORMS), hashes


def test_a_wrong_zh_hash_in_the_mirror_fails_init(network_mirror, tmp_path):
    """The zh: hashes are what Terraform checks a downloaded archive against: a wrong one fails."""
    out, _, ca = network_mirror
    ver = version()
    www = tmp_path / "www"
    shutil.copytree(out / "www", www)
    meta_path = www / OFFICIAL / f"{ver}.json"
    meta = json.loads(meta_path.read_text())
    meta["archives"]["linux_amd64"]["hashes"] = ["zh:" + "0" * 64]
    meta_path.write_text(json.dumps(meta))
    server = Server(www, out / "tls" / "server.pem", out / "tls" / "server.key")
    try:
        env = mirror_env(tmp_path, server.url, ca)
        rc, stdout, stderr = run_tf("1.15", None, workdir(tmp_path), "init", "-no-color", "-input=false", env=env)
    finally:
        server.stop()
    assert rc != 0
    assert "checksum" in " ".join((stdout + stderr).split()).lower(), stdout + stderr


def test_signed_checksums_verify_with_the_exported_public_key(tmp_path, provider_installed):
    signer = tmp_path / "signer-gnupg"
    signer.mkdir(mode=0o700)
    env = dict(os.environ, GNUPGHOME=str(signer))
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-generate-key",
                    "Release Test <release-test@example.com>", "rsa3072", "sign", "1d"],
                   env=env, check=True, capture_output=True, timeout=120)
    dist = tmp_path / "dist"
    release(*stand_ins(tmp_path / "bins"), "--dist", str(dist), "--gpg-key", "release-test@example.com", env=env)
    ver = version()
    sums = dist / f"{NAME}_{ver}_SHA256SUMS"
    sig = dist / f"{NAME}_{ver}_SHA256SUMS.sig"
    public = dist / f"{NAME}_{ver}_signing_key.asc"
    assert public.read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert not sig.read_bytes().startswith(b"-----"), "a binary detached signature, as registries serve"

    # A verifier that has only the exported public key.
    verifier = tmp_path / "verifier-gnupg"
    verifier.mkdir(mode=0o700)
    venv = dict(os.environ, GNUPGHOME=str(verifier))
    subprocess.run(["gpg", "--batch", "--import", str(public)], env=venv, check=True, capture_output=True)
    ok = subprocess.run(["gpg", "--batch", "--verify", str(sig), str(sums)], env=venv, capture_output=True, text=True)
    assert ok.returncode == 0 and "Good signature" in ok.stderr, ok.stderr
    sums.write_text(sums.read_text().replace("linux_amd64", "linux_amd65"))
    bad = subprocess.run(["gpg", "--batch", "--verify", str(sig), str(sums)], env=venv, capture_output=True, text=True)
    assert bad.returncode != 0, "a changed SHA256SUMS must not verify"


# ---------------------------------------------------------------------------------------------
# Beside the official provider


@pytest.fixture(scope="module")
def two_providers(tmp_path_factory, provider_installed):
    """One filesystem mirror with ours at example.com/acme/intersight and a different copy of
    ours at the official address (as the official provider would be installed)."""
    out = tmp_path_factory.mktemp("two")
    stand_in = out / "official-stand-in"
    stand_in.write_bytes(PROVIDER_BIN.read_bytes() + b"\0official stand-in\0")
    stand_in.chmod(0o755)
    release(f"--binary={PROVIDER_BIN}", "--dist", str(out / "dist-ours"), "--mirror", str(out / "mirror"),
            "--source", OURS)
    release(f"--binary={stand_in}", "--dist", str(out / "dist-official"), "--mirror", str(out / "mirror"))
    rc = out / "terraformrc"
    rc.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{out / "mirror"}"\n    include = ["{OURS}", "{OFFICIAL}"]\n  }}\n'
        f'  direct {{\n    exclude = ["{OURS}", "{OFFICIAL}"]\n  }}\n}}\n'
    )
    return rc


@pytest.mark.parametrize("tf", ["1.15", "1.0"])
def test_beside_the_official_provider(two_providers, sim_factory, tmp_path, tf):
    sim = sim_factory(tokens=30)
    block = sim.provider_block()
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "main.tf").write_text(
        "terraform {\n  required_providers {\n"
        '    intersight    = { source = "CiscoDevNet/intersight" }\n'
        f'    intersight-rs = {{ source = "{OURS}" }}\n'
        "  }\n}\n\n"
        + block
        + "\n"
        + block.replace('provider "intersight"', 'provider "intersight-rs"')
        + '\ndata "intersight_iam_o_auth_token" "ours" {\n  provider = intersight-rs\n}\n'
        'data "intersight_iam_o_auth_token" "official" {}\n'
        'output "ours" {\n  value = length(data.intersight_iam_o_auth_token.ours.results)\n}\n'
        'output "official" {\n  value = length(data.intersight_iam_o_auth_token.official.results)\n}\n'
    )
    env = {"TF_CLI_CONFIG_FILE": str(two_providers)}
    ver = version()
    rc, out, err = run_tf(tf, None, wd, "init", "-no-color", "-input=false", env=env)
    assert rc == 0, out + err
    assert f"Installed example.com/acme/intersight v{ver}" in out, out
    assert f"Installed ciscodevnet/intersight v{ver}" in out, out
    rc, out, err = run_tf(tf, None, wd, "apply", "-no-color", "-input=false", "-auto-approve", env=env)
    assert rc == 0, out + err
    rc, out, err = run_tf(tf, None, wd, "show", "-json", env=env)
    assert rc == 0, err
    resources = json.loads(out)["values"]["root_module"]["resources"]
    providers = {r["name"]: r["provider_name"] for r in resources}
    assert providers == {"ours": OURS, "official": OFFICIAL}, providers
    rc, out, err = run_tf(tf, None, wd, "output", "-json", env=env)
    values = {k: v["value"] for k, v in json.loads(out).items()}
    assert values == {"ours": 30, "official": 30}, values


# ---------------------------------------------------------------------------------------------
# Cross-platform pieces of scripts/release.py (scripts/release_cross.py): the macOS framework
# stubs and the Mach-O check, and the wine shim. Small C programs stand in for the provider
# (its darwin and Windows builds take minutes each; `scripts/release.py --all-platforms` runs them).

sys.path.insert(0, str(ROOT / "scripts"))
import release_cross  # noqa: E402

DARWIN_PROGRAM = r"""
typedef const void *CFTypeRef;
extern void CFRelease(CFTypeRef);
extern const void *kCFAllocatorDefault;
extern int SecRandomCopyBytes(const void *, unsigned long, void *);
extern const void *kSecRandomDefault;
int main(void) {
    char buf[8];
    CFRelease(kCFAllocatorDefault);
    return SecRandomCopyBytes(kSecRandomDefault, sizeof buf, buf);
}
"""
DARWIN_NEEDS = {"Security": {"_SecRandomCopyBytes", "_kSecRandomDefault"},
                "CoreFoundation": {"_CFRelease", "_kCFAllocatorDefault"}}


@pytest.fixture(scope="module")
def zig() -> list[str]:
    """zig from the release tools (installed from PyPI as scripts/release.py does)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import release
    release.ensure_tools([])
    return release.zig()


def link_darwin(zig: list[str], tmp: Path, arch: str, stubs: dict[str, set[str]],
                macos: str = "11.0") -> tuple[Path, str]:
    source = tmp / "main.c"
    source.write_text(DARWIN_PROGRAM)
    fw = tmp / f"fw-{arch}"
    release_cross.write_stubs(fw, stubs)
    out = tmp / f"main-{arch}"
    proc = subprocess.run([*zig, "cc", "-target", f"{arch}-macos.{macos}", "-F", str(fw), "-framework", "Security",
                           "-framework", "CoreFoundation", str(source), "-o", str(out)],
                          capture_output=True, text=True, timeout=600)
    return (out if proc.returncode == 0 else None), proc.stderr


def test_framework_symbols_are_classified_by_apples_names():
    output = ("error: undefined symbol: _SecTrustEvaluateWithError\n    note: referenced by x.o\n"
              "error: undefined symbol: ___CFConstantStringClassReference\n"
              "error: undefined symbol: _kCFAllocatorDefault\nerror: undefined symbol: _kSecClass\n"
              "error: undefined symbol: _SSLCreateContext\nerror: undefined symbol: _objc_msgSend\n")
    found = release_cross.undefined_symbols(output)
    by_framework, other = release_cross.classify(found)
    assert by_framework == {"Security": {"_SecTrustEvaluateWithError", "_kSecClass", "_SSLCreateContext"},
                            "CoreFoundation": {"___CFConstantStringClassReference", "_kCFAllocatorDefault"}}
    assert other == {"_objc_msgSend"}
    # Names that only look alike belong to neither.
    assert release_cross.framework_of("_SSL_new") is None
    assert release_cross.framework_of("_Second") is None


def test_framework_stubs_round_trip(tmp_path):
    release_cross.write_stubs(tmp_path, DARWIN_NEEDS)
    text = (tmp_path / "Security.framework" / "Security.tbd").read_text()
    assert "install-name:    '/System/Library/Frameworks/Security.framework/Versions/A/Security'" in text
    assert release_cross.read_stubs(tmp_path) == DARWIN_NEEDS
    release_cross.write_stubs(tmp_path, {})
    assert release_cross.read_stubs(tmp_path) == {"Security": set(), "CoreFoundation": set()}


def test_darwin_minimum_macos_is_read_from_either_load_command(zig, tmp_path):
    # x86_64 before 10.14 gets LC_VERSION_MIN_MACOSX, later ones LC_BUILD_VERSION.
    for macos in ("10.12", "10.15"):
        binary, errors = link_darwin(zig, tmp_path, "x86_64", DARWIN_NEEDS, macos=macos)
        assert binary is not None, errors
        assert release_cross.read_macho(binary)["minos"] == macos
        release_cross.check_darwin_binary(binary, "x86_64", DARWIN_NEEDS, "10.15")
    with pytest.raises(release_cross.CrossError, match="needs macOS 10.15, newer than 10.12"):
        release_cross.check_darwin_binary(binary, "x86_64", DARWIN_NEEDS, "10.12")


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_darwin_link_against_stubs_binds_each_symbol_to_its_framework(zig, tmp_path, arch):
    zig_arch = "aarch64" if arch == "arm64" else "x86_64"
    # Empty stubs: the link names exactly the symbols it needs (what release.py writes next).
    binary, errors = link_darwin(zig, tmp_path, zig_arch, {})
    assert binary is None
    assert release_cross.classify(release_cross.undefined_symbols(errors)) == (DARWIN_NEEDS, set())
    binary, errors = link_darwin(zig, tmp_path, zig_arch, DARWIN_NEEDS)
    assert binary is not None, errors
    info = release_cross.read_macho(binary)
    assert info["arch"] == arch
    assert ("LC_LOAD_DYLIB", release_cross.install_name("Security")) in info["dylibs"]
    assert ("LC_LOAD_DYLIB", release_cross.install_name("CoreFoundation")) in info["dylibs"]
    assert info["imports"][release_cross.install_name("Security")] == DARWIN_NEEDS["Security"]
    assert info["imports"][release_cross.install_name("CoreFoundation")] == DARWIN_NEEDS["CoreFoundation"]
    assert info["minos"] == "11.0"
    assert release_cross.check_darwin_binary(binary, arch, DARWIN_NEEDS, "11.0") == (
        f"Mach-O {arch}, macOS 11.0 or later, imports Security 2, CoreFoundation 2 symbols")
    with pytest.raises(release_cross.CrossError, match="not x86_64" if arch == "arm64" else "not arm64"):
        release_cross.check_darwin_binary(binary, "x86_64" if arch == "arm64" else "arm64", DARWIN_NEEDS, "11.0")
    # Linked for a newer macOS than the release promises: refused.
    binary, errors = link_darwin(zig, tmp_path, zig_arch, DARWIN_NEEDS, macos="13.0")
    assert binary is not None, errors
    with pytest.raises(release_cross.CrossError, match="needs macOS 13.0, newer than 11.0"):
        release_cross.check_darwin_binary(binary, arch, DARWIN_NEEDS, "11.0")
    # A CoreFoundation symbol the stubs put in Security binds to Security: the check refuses it.
    misplaced = {"Security": DARWIN_NEEDS["Security"] | {"_CFRelease"},
                 "CoreFoundation": DARWIN_NEEDS["CoreFoundation"] - {"_CFRelease"}}
    binary, errors = link_darwin(zig, tmp_path, zig_arch, misplaced)
    assert binary is not None, errors
    with pytest.raises(release_cross.CrossError, match="_CFRelease"):
        release_cross.check_darwin_binary(binary, arch, misplaced, "11.0")


WINDOWS_PROGRAM = r"""
typedef int BOOL;
typedef unsigned long long SIZE_T;
__declspec(dllimport) BOOL __stdcall ProcessPrng(unsigned char *data, SIZE_T len);
__declspec(dllimport) void __stdcall ExitProcess(unsigned int code);
void __stdcall mainCRTStartup(void) {
    unsigned char a[64] = {0}, b[64] = {0};
    int same = 0, zero = 0;
    if (!ProcessPrng(a, sizeof a) || !ProcessPrng(b, sizeof b)) ExitProcess(2);
    for (int i = 0; i < 64; i++) { same += a[i] == b[i]; zero += a[i] == 0; }
    ExitProcess(same > 16 || zero > 16 ? 3 : 0);
}
"""


@pytest.mark.skipif(not (shutil.which("wine") or shutil.which("wine64")), reason="wine is not installed")
def test_wine_shim_gives_random_bytes(zig, tmp_path):
    shim = release_cross.build_wine_shim(zig, tmp_path / "cache")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copyfile(shim, run_dir / shim.name)
    source = tmp_path / "prng.c"
    source.write_text(WINDOWS_PROGRAM)
    exe = run_dir / "prng.exe"
    subprocess.run([*zig, "cc", "-target", "x86_64-windows-gnu", "-nostdlib", "-O1", "-Wl,--entry=mainCRTStartup", "-o", str(exe), str(source),
                    str(shim.with_suffix(".lib")), "-lkernel32"], check=True, timeout=600)
    wine = shutil.which("wine") or shutil.which("wine64")
    proc = subprocess.run([wine, str(exe)], cwd=run_dir, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "WINEDEBUG": "-all"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
