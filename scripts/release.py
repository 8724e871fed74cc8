#!/usr/bin/env python3
"""Builds release archives in the layout the Terraform Registry and `terraform providers mirror`
use, for one or more platforms:

  dist/terraform-provider-intersight_<version>_<os>_<arch>.zip  (holds terraform-provider-intersight_v<version>[.exe])
  dist/terraform-provider-intersight_<version>_manifest.json    (protocol versions 5.0 and 6.0)
  dist/terraform-provider-intersight_<version>_SHA256SUMS       (every zip and the manifest)

Platforms (--target, repeatable; --all-platforms for all; default linux_amd64):
  linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64
Every platform is built with cargo-zigbuild (zig as the linker and C compiler), the Linux ones
against glibc 2.17 (RHEL/CentOS 7 and later); each Linux binary's glibc floor is checked with
`objdump -T` and the build fails above GLIBC_MAX. Off a Mac and without SDKROOT, the macOS ones
link against text-based stubs of Security and CoreFoundation that this script writes from the
link's undefined symbols (scripts/release_cross.py), and each Mach-O is checked (CPU, framework
load commands, imported names, minimum macOS). ziglang and cargo-zigbuild come from PyPI into
.work/release-tools (pinned in scripts/release-requirements.txt); missing Rust targets are added
with rustup. Binaries that run here are smoke-tested: `--version` and the plugin handshake
(linux_arm64 under qemu-aarch64, windows_amd64 under wine when installed, with a
bcryptprimitives.dll shim for wine < 9 that is never packaged); macOS binaries are not run.

Outputs besides dist/:
  --mirror DIR          packed filesystem mirror: DIR/<host>/<namespace>/<type>/<zip>
  --network-mirror DIR  provider network mirror protocol (static files):
                        DIR/<host>/<namespace>/<type>/index.json, <version>.json (zh: hashes), zips
  --gpg-key ID          dist/..._SHA256SUMS.sig (detached, binary) and dist/..._signing_key.asc
                        (the ASCII-armoured public key a registry serves)
  --source ADDRESS      the provider address the mirrors use (default
                        registry.terraform.io/ciscodevnet/intersight)

--binary [PLATFORM=]PATH packages an existing binary instead of building (repeatable; PLATFORM
defaults to linux_amd64). --skip-build packages what an earlier build left in target/.

Usage: scripts/release.py [--target P ... | --all-platforms] [--binary [P=]PATH ...] [--skip-build]
                          [--dist DIR] [--mirror DIR] [--network-mirror DIR] [--gpg-key ID]
                          [--source ADDRESS] [--no-smoke]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import tempfile
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import release_cross  # noqa: E402  (scripts/release_cross.py)

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAME = "terraform-provider-intersight"
DEFAULT_SOURCE = "registry.terraform.io/ciscodevnet/intersight"
TOOLS = ROOT / ".work" / "release-tools"
REQUIREMENTS = ROOT / "scripts" / "release-requirements.txt"
#: The newest glibc symbol version a Linux binary may need (RHEL/CentOS 7's glibc).
GLIBC_MAX = (2, 17)

#: Terraform platform -> (Rust target, zigbuild target with the glibc suffix, binary suffix).
PLATFORMS = {
    "linux_amd64": ("x86_64-unknown-linux-gnu", "x86_64-unknown-linux-gnu.2.17", ""),
    "linux_arm64": ("aarch64-unknown-linux-gnu", "aarch64-unknown-linux-gnu.2.17", ""),
    "darwin_amd64": ("x86_64-apple-darwin", "x86_64-apple-darwin", ""),
    "darwin_arm64": ("aarch64-apple-darwin", "aarch64-apple-darwin", ""),
    "windows_amd64": ("x86_64-pc-windows-gnu", "x86_64-pc-windows-gnu", ".exe"),
}
#: The oldest macOS each darwin build supports (Rust's own minimum for the target), passed to
#: zig and the C builds as MACOSX_DEPLOYMENT_TARGET unless that is set; without it zig's default
#: is the newest macOS it knows (15.0), and dyld would refuse the binary on anything older.
DARWIN_DEPLOYMENT = {"darwin_arm64": "11.0", "darwin_amd64": "10.12"}
MAGIC_COOKIE = ("TF_PLUGIN_MAGIC_COOKIE", "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2")


class ReleaseError(Exception):
    pass


def log(msg: str) -> None:
    print(f"release: {msg}", flush=True)


def version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        raise ReleaseError("no version in Cargo.toml")
    return match.group(1)


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Tools


def ensure_tools(platforms: list[str]) -> dict[str, str]:
    """ziglang + cargo-zigbuild in .work/release-tools, the Rust targets; returns the environment."""
    want = REQUIREMENTS.read_text()
    stamp = TOOLS / ".requirements"
    if not (TOOLS / "bin" / "cargo-zigbuild").exists() or not stamp.exists() or stamp.read_text() != want:
        log(f"installing {', '.join(l.split('#')[0].strip() for l in want.splitlines() if l.strip() and not l.startswith('#'))} into {TOOLS}")
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        subprocess.run([str(TOOLS / "bin" / "python3"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "-r", str(REQUIREMENTS)], check=True)
        stamp.write_text(want)
    env = dict(os.environ)
    # cargo-zigbuild finds zig as `python3 -m ziglang` in this venv.
    env["PATH"] = f"{TOOLS / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    installed = subprocess.run(["rustup", "target", "list", "--installed"], capture_output=True, text=True,
                               check=True).stdout.split()
    missing = [PLATFORMS[p][0] for p in platforms if PLATFORMS[p][0] not in installed]
    if missing:
        log(f"rustup target add {' '.join(missing)}")
        subprocess.run(["rustup", "target", "add", *missing], check=True)
    return env


def macos_sdk() -> pathlib.Path | None:
    """The macOS SDK the darwin links may use: on a Mac cargo-zigbuild asks xcrun; elsewhere
    SDKROOT when it holds the frameworks; else None (the link gets framework stubs)."""
    sdk = os.environ.get("SDKROOT")
    if sdk and (pathlib.Path(sdk) / "System" / "Library" / "Frameworks" / "Security.framework").is_dir():
        return pathlib.Path(sdk)
    return None


def zig() -> list[str]:
    return [str(TOOLS / "bin" / "python3"), "-m", "ziglang"]


def target_dir() -> pathlib.Path:
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return pathlib.Path(json.loads(out)["target_directory"])


def cargo_zigbuild(args: list[str], env: dict[str, str], capture: bool) -> tuple[int, str]:
    """Runs cargo-zigbuild, passing its output through; returns the exit code and, with
    `capture`, the output (to read the linker's errors from)."""
    if not capture:
        return subprocess.run(["cargo-zigbuild", *args], cwd=ROOT, env=env).returncode, ""
    proc = subprocess.Popen(["cargo-zigbuild", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    return proc.wait(), "".join(lines)


def build(platform: str, env: dict[str, str]) -> tuple[pathlib.Path, list[str]]:
    """Builds one platform; returns the binary and notes for the log."""
    rust_target, zig_target, suffix = PLATFORMS[platform]
    log(f"building {platform} ({zig_target})")
    t0 = time.monotonic()
    cpu0 = os.times()
    args = ["--release", "--locked", "-p", NAME, "--bin", NAME, "--target", zig_target]
    binary = target_dir() / rust_target / "release" / f"{NAME}{suffix}"
    notes = []
    if platform.startswith("darwin_"):
        env = {**env, "MACOSX_DEPLOYMENT_TARGET": env.get("MACOSX_DEPLOYMENT_TARGET", DARWIN_DEPLOYMENT[platform])}
    if platform.startswith("darwin_") and sys.platform != "darwin" and macos_sdk() is None:
        notes.append(build_darwin_with_stubs(platform, args, env, binary))
    else:
        code, _ = cargo_zigbuild(["zigbuild", *args], env, capture=False)
        if code != 0:
            raise ReleaseError(f"{platform}: cargo zigbuild failed (exit {code})")
    cpu1 = os.times()
    cpu = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)
    log(f"built {platform} in {time.monotonic() - t0:.0f} s ({cpu:.0f} s CPU)")
    return binary, notes


def build_darwin_with_stubs(platform: str, args: list[str], env: dict[str, str], binary: pathlib.Path) -> str:
    """Links a darwin binary against text-based stubs of Security and CoreFoundation
    (scripts/release_cross.py): the stubs a previous build left, else empty ones; when the link
    reports undefined symbols of those frameworks, they are added and the link runs once more.
    The linker gets the stub directory as `-F` through `cargo rustc`, so only the final crate's
    flags change (dependencies keep their build). Returns what the Mach-O check found."""
    stubs_dir = TOOLS / "macos-framework-stubs" / platform
    stubs = release_cross.read_stubs(stubs_dir)
    rustc_args = ["rustc", *args, "--", "-C", f"link-arg=-F{stubs_dir}"]
    for attempt in (1, 2):
        release_cross.write_stubs(stubs_dir, stubs)
        log(f"{platform}: no macOS SDK; linking against framework stubs in {stubs_dir} "
            f"({', '.join(f'{f} {len(s)} symbols' for f, s in stubs.items())})")
        code, output = cargo_zigbuild(rustc_args, env, capture=True)
        if code == 0:
            break
        missing = release_cross.undefined_symbols(output)
        by_framework, other = release_cross.classify(missing)
        if other:
            raise ReleaseError(f"{platform}: the link needs symbols no stubbed framework exports: {', '.join(sorted(other))}")
        added = {f: s - stubs[f] for f, s in by_framework.items()}
        if attempt == 2 or not any(added.values()):
            raise ReleaseError(f"{platform}: cargo zigbuild failed (exit {code})")
        log(f"{platform}: the link needs {', '.join(f'{len(s)} {f}' for f, s in added.items())} symbols "
            "more; writing them into the stubs and linking again")
        for framework, symbols in added.items():
            stubs[framework] |= symbols
    arch = "arm64" if platform.endswith("arm64") else "x86_64"
    try:
        return release_cross.check_darwin_binary(binary, arch, stubs, env["MACOSX_DEPLOYMENT_TARGET"])
    except release_cross.CrossError as err:
        raise ReleaseError(f"{platform}: {err}") from err


# ---------------------------------------------------------------------------------------------
# Checks


def glibc_versions(binary: pathlib.Path, platform: str) -> list[tuple[int, ...]]:
    """The GLIBC_x.y symbol versions the binary's dynamic symbols need (`objdump -T`)."""
    objdump = "objdump"
    if platform == "linux_arm64":
        objdump = shutil.which("aarch64-linux-gnu-objdump") or "objdump"
    proc = subprocess.run([objdump, "-T", str(binary)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReleaseError(f"{objdump} -T {binary} failed: {proc.stderr.strip()}"
                           + (" (Debian: apt-get install binutils-aarch64-linux-gnu)" if platform == "linux_arm64" else ""))
    return sorted({tuple(int(x) for x in m.split(".")) for m in re.findall(r"\bGLIBC_(\d+(?:\.\d+)+)\b", proc.stdout)})


def check_glibc(binary: pathlib.Path, platform: str) -> str:
    versions = glibc_versions(binary, platform)
    if not versions:
        return "static (no GLIBC symbol versions)"
    floor = versions[-1]
    text = ".".join(map(str, floor))
    if floor[:2] > GLIBC_MAX:
        raise ReleaseError(f"{platform}: {binary.name} needs GLIBC_{text}, above the floor "
                           f"{'.'.join(map(str, GLIBC_MAX))} (objdump -T {binary})")
    return f"GLIBC_{text}"


def runner(platform: str) -> list[str] | None:
    """How to run this platform's binary here, or None."""
    if platform == "linux_amd64":
        return []
    if platform == "linux_arm64":
        qemu = shutil.which("qemu-aarch64") or shutil.which("qemu-aarch64-static")
        if qemu and pathlib.Path("/usr/aarch64-linux-gnu/lib").is_dir():
            return [qemu, "-L", "/usr/aarch64-linux-gnu"]
        if qemu:
            return [qemu]
        return None
    if platform == "windows_amd64":
        wine = shutil.which("wine") or shutil.which("wine64")
        return [wine] if wine else None
    return None


def smoke(binary: pathlib.Path, platform: str, ver: str) -> str:
    """`--version`, then the plugin handshake line; returns what ran."""
    prefix = runner(platform)
    if prefix is None:
        if platform == "windows_amd64":
            return "not run (wine is not installed: Debian `apt-get install wine wine64`)"
        if platform.startswith("darwin_"):
            return "not run (macOS binaries cannot run here)"
        return "not run (no way to run it on this machine)"
    how = " ".join(pathlib.Path(p).name for p in prefix[:1])
    how = f"under {how}" if prefix else "natively"
    with tempfile.TemporaryDirectory(prefix="release-smoke-") as tmp:
        if platform == "windows_amd64":
            major = release_cross.wine_major(prefix[0])
            if major is not None and major < 9:
                # wine < 9 has no bcryptprimitives.dll; a shim beside a copy of the exe, for this run only.
                try:
                    shim = release_cross.build_wine_shim(zig(), TOOLS / "wine-shim")
                except release_cross.CrossError as err:
                    raise ReleaseError(f"{platform}: {err}") from err
                shutil.copyfile(shim, pathlib.Path(tmp) / shim.name)
                copy = pathlib.Path(tmp) / binary.name
                shutil.copyfile(binary, copy)
                binary = copy
                how = f"under wine {major} with a ProcessPrng shim (bcryptprimitives.dll, not packaged)"
        return f"--version and handshake ({smoke_run(prefix, binary, platform, ver)}) ran {how}"


def smoke_run(prefix: list[str], binary: pathlib.Path, platform: str, ver: str) -> str:
    """Runs `--version` and reads the handshake line; returns the handshake's transport."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_", "INTERSIGHT_"))}
    env.setdefault("WINEDEBUG", "-all")
    proc = subprocess.run([*prefix, str(binary), "--version"], capture_output=True, text=True, timeout=300, env=env,
                          cwd=binary.parent)
    if proc.returncode != 0 or ver not in proc.stdout:
        raise ReleaseError(f"{platform}: --version failed (exit {proc.returncode}): {proc.stdout}{proc.stderr}")
    env.update({MAGIC_COOKIE[0]: MAGIC_COOKIE[1], "PLUGIN_PROTOCOL_VERSIONS": "5,6"})
    child = subprocess.Popen([*prefix, str(binary)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env, stdin=subprocess.DEVNULL, cwd=binary.parent)
    try:
        line = child.stdout.readline().strip() if child.stdout else ""
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if not re.fullmatch(r"1\|6\|(unix|tcp)\|[^|]+\|grpc\|.*", line):
        err = child.stderr.read() if child.stderr else ""
        raise ReleaseError(f"{platform}: no plugin handshake line, got {line!r}; stderr: {err[-2000:]}")
    return line.split("|")[2]


# ---------------------------------------------------------------------------------------------
# Packaging


def archive_name(ver: str, platform: str) -> str:
    return f"{NAME}_{ver}_{platform}.zip"


def pack(binary: pathlib.Path, dist: pathlib.Path, ver: str, platform: str) -> pathlib.Path:
    suffix = PLATFORMS[platform][2]
    archive = dist / archive_name(ver, platform)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(f"{NAME}_v{ver}{suffix}", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, binary.read_bytes())
    return archive


def write_network_mirror(root: pathlib.Path, source: str, ver: str, archives: dict[str, pathlib.Path]) -> pathlib.Path:
    """The provider network mirror protocol as static files: index.json lists the versions,
    <version>.json each platform's archive (a URL relative to that file) with its zh: hash."""
    base = root / source
    base.mkdir(parents=True, exist_ok=True)
    index = base / "index.json"
    versions = {}
    if index.exists():
        versions = json.loads(index.read_text()).get("versions", {})
    versions[ver] = {}
    index.write_text(json.dumps({"versions": dict(sorted(versions.items()))}, indent=2) + "\n")
    meta = {"archives": {}}
    for platform, archive in sorted(archives.items()):
        shutil.copyfile(archive, base / archive.name)
        meta["archives"][platform] = {"url": archive.name, "hashes": [f"zh:{sha256(archive)}"]}
    (base / f"{ver}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return base


def sign(sums: pathlib.Path, key: str, dist: pathlib.Path, ver: str) -> tuple[pathlib.Path, pathlib.Path]:
    sig = sums.with_name(sums.name + ".sig")
    subprocess.run(["gpg", "--batch", "--yes", "--local-user", key, "--output", str(sig), "--detach-sign", str(sums)],
                   check=True)
    public = dist / f"{NAME}_{ver}_signing_key.asc"
    exported = subprocess.run(["gpg", "--batch", "--armor", "--export", key], capture_output=True, check=True).stdout
    if not exported.strip():
        raise ReleaseError(f"gpg exported no public key for {key!r}")
    public.write_bytes(exported)
    return sig, public


def parse_binaries(values: list[str]) -> dict[str, pathlib.Path]:
    out = {}
    for value in values:
        platform, sep, path = value.partition("=")
        if not sep:
            platform, path = "linux_amd64", value
        if platform not in PLATFORMS:
            raise ReleaseError(f"--binary {value}: unknown platform {platform!r} (one of {', '.join(PLATFORMS)})")
        out[platform] = pathlib.Path(path)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", action="append", choices=sorted(PLATFORMS), help="a platform to build (repeatable)")
    parser.add_argument("--all-platforms", action="store_true", help="build every platform")
    parser.add_argument("--binary", action="append", default=[], help="[PLATFORM=]PATH: package this binary, no build")
    parser.add_argument("--skip-build", action="store_true", help="package what an earlier build left in target/")
    parser.add_argument("--dist", default=str(ROOT / "dist"))
    parser.add_argument("--mirror", help="also install into this packed filesystem mirror")
    parser.add_argument("--network-mirror", help="also write a provider network mirror into this directory")
    parser.add_argument("--gpg-key", help="sign SHA256SUMS with this GPG key and export its public key")
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="provider address for the mirrors")
    parser.add_argument("--no-smoke", action="store_true", help="do not run the built binaries")
    args = parser.parse_args()

    if len(args.source.split("/")) != 3:
        raise ReleaseError(f"--source {args.source!r}: expected HOST/NAMESPACE/TYPE")
    ver = version()
    given = parse_binaries(args.binary)
    if args.all_platforms:
        platforms = list(PLATFORMS)
    elif args.target:
        platforms = list(dict.fromkeys(args.target))
    elif given:
        platforms = list(given)
    else:
        platforms = ["linux_amd64"]
    for p in given:
        if p not in platforms:
            platforms.append(p)

    dist = pathlib.Path(args.dist)
    dist.mkdir(parents=True, exist_ok=True)
    to_build = [p for p in platforms if p not in given]
    env = ensure_tools(to_build) if to_build and not args.skip_build else dict(os.environ)
    binaries: dict[str, pathlib.Path] = dict(given)
    build_notes: dict[str, list[str]] = {}
    started = time.monotonic()
    for platform in to_build:
        if args.skip_build:
            rust_target, _, suffix = PLATFORMS[platform]
            binaries[platform] = target_dir() / rust_target / "release" / f"{NAME}{suffix}"
        else:
            binaries[platform], build_notes[platform] = build(platform, env)
    if to_build and not args.skip_build:
        log(f"built {len(to_build)} platform(s) in {time.monotonic() - started:.0f} s")

    archives: dict[str, pathlib.Path] = {}
    for platform in platforms:
        binary = binaries[platform]
        if not binary.is_file():
            raise ReleaseError(f"{binary} does not exist; build it first")
        notes = [f"{binary.stat().st_size / 2**20:.1f} MiB", *build_notes.get(platform, [])]
        # Binaries given by path are packaged as they are (tests package a debug build).
        if platform.startswith("linux_") and platform not in given:
            notes.append(check_glibc(binary, platform))
        if not args.no_smoke and platform not in given:
            notes.append(smoke(binary, platform, ver))
        archives[platform] = pack(binary, dist, ver, platform)
        notes.append(f"zip {archives[platform].stat().st_size / 2**20:.1f} MiB")
        log(f"{platform}: {archives[platform]} ({'; '.join(notes)})")

    manifest = dist / f"{NAME}_{ver}_manifest.json"
    shutil.copyfile(ROOT / "terraform-registry-manifest.json", manifest)
    sums = dist / f"{NAME}_{ver}_SHA256SUMS"
    # Every archive in dist/ for this version (a later run for another platform adds to it).
    listed = sorted(dist.glob(f"{NAME}_{ver}_*.zip")) + [manifest]
    sums.write_text("".join(f"{sha256(p)}  {p.name}\n" for p in listed))
    log(f"{sums}")
    if args.gpg_key:
        sig, public = sign(sums, args.gpg_key, dist, ver)
        log(f"{sig} (public key {public})")

    if args.mirror:
        target = pathlib.Path(args.mirror) / args.source
        target.mkdir(parents=True, exist_ok=True)
        for archive in archives.values():
            shutil.copyfile(archive, target / archive.name)
        log(f"mirrored into {target}")
    if args.network_mirror:
        base = write_network_mirror(pathlib.Path(args.network_mirror), args.source, ver, archives)
        log(f"network mirror in {base}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ReleaseError as err:
        sys.exit(f"release: {err}")
    except subprocess.CalledProcessError as err:
        sys.exit(f"release: {' '.join(map(str, err.cmd))} failed (exit {err.returncode})")
