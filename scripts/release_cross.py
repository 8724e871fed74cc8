"""Cross-platform pieces of scripts/release.py that need no Apple or Microsoft files:

- macOS framework stubs. The darwin builds link Apple's Security and CoreFoundation frameworks
  (the system trust store, through rustls-platform-verifier and rustls-native-certs), and zig
  ships stubs for libSystem only. Off a Mac and without an SDK, the link is given text-based
  stubs (`.tbd`: the framework's install name and a list of symbol NAMES, the same kind of file
  zig's own libSystem stubs are) holding exactly the symbols the link reported undefined: no
  Apple code or header is used, and the binary binds those names to the real frameworks at run
  time on a Mac.
- a Mach-O reader: the architecture, the dylibs loaded (LC_LOAD_DYLIB), the minimum macOS
  version, and which library each undefined symbol binds to (two-level namespace ordinals).
- a `bcryptprimitives.dll` shim for running the Windows binary under wine older than 9, which
  lacks that DLL (Rust's std takes random numbers from its `ProcessPrng`). Used for the smoke
  run only, never packaged.
"""
from __future__ import annotations

import hashlib
import pathlib
import re
import struct
import subprocess

#: Framework -> the symbol names it exports that our dependencies use (Apple's naming: Security's
#: `SecTrust...`, `kSecClass...`, SecureTransport's `SSL...`; CoreFoundation's `CF...`, `kCF...`
#: and `__CFConstantStringClassReference`).
FRAMEWORKS = {
    "Security": re.compile(r"_(Sec|kSec|SSL|kSSL)[A-Z]\w*"),
    "CoreFoundation": re.compile(r"_(CF|kCF|__CF)[A-Z]\w*"),
}
#: Rust's target arch -> the tbd target names (the stubs list both Mac architectures).
TBD_TARGETS = "[ x86_64-macos, arm64-macos ]"


def install_name(framework: str) -> str:
    return f"/System/Library/Frameworks/{framework}.framework/Versions/A/{framework}"


class CrossError(Exception):
    pass


def framework_of(symbol: str) -> str | None:
    """The framework a symbol name belongs to, or None when it is not one of theirs."""
    for framework, pattern in FRAMEWORKS.items():
        if pattern.fullmatch(symbol):
            return framework
    return None


def tbd_text(framework: str, symbols: set[str]) -> str:
    """A text-based stub (tbd v4): the install name and the exported symbol names, nothing else."""
    names = "".join(f"\n                       {s}," for s in sorted(symbols)).rstrip(",")
    listing = f"[{names} ]" if symbols else "[ ]"
    return (
        "--- !tapi-tbd\n"
        "tbd-version:     4\n"
        f"targets:         {TBD_TARGETS}\n"
        f"install-name:    '{install_name(framework)}'\n"
        "exports:\n"
        f"  - targets:         {TBD_TARGETS}\n"
        f"    symbols:         {listing}\n"
        "...\n"
    )


def stub_path(root: pathlib.Path, framework: str) -> pathlib.Path:
    """Where the linker's `-F root -framework NAME` looks: root/NAME.framework/NAME.tbd."""
    return root / f"{framework}.framework" / f"{framework}.tbd"


def read_stubs(root: pathlib.Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for framework in FRAMEWORKS:
        path = stub_path(root, framework)
        text = path.read_text() if path.is_file() else ""
        out[framework] = set(re.findall(r"\b_\w+", text.split("symbols:", 1)[1])) if "symbols:" in text else set()
    return out


def write_stubs(root: pathlib.Path, symbols: dict[str, set[str]]) -> None:
    for framework in FRAMEWORKS:
        path = stub_path(root, framework)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tbd_text(framework, symbols.get(framework, set())))


def undefined_symbols(linker_output: str) -> set[str]:
    """The symbols zig's linker reports as undefined (`error: undefined symbol: _CFRelease`)."""
    return set(re.findall(r"undefined symbol: (\S+)", linker_output))


def classify(symbols: set[str]) -> tuple[dict[str, set[str]], set[str]]:
    """Splits undefined symbols into framework -> names, and the ones no framework exports."""
    by_framework: dict[str, set[str]] = {f: set() for f in FRAMEWORKS}
    other = set()
    for symbol in symbols:
        framework = framework_of(symbol)
        if framework:
            by_framework[framework].add(symbol)
        else:
            other.add(symbol)
    return by_framework, other


# ---------------------------------------------------------------------------------------------
# Mach-O

MH_MAGIC_64 = 0xFEEDFACF
CPU_TYPES = {0x01000007: "x86_64", 0x0100000C: "arm64"}
LC_SYMTAB = 0x2
LC_BUILD_VERSION = 0x32
#: The older form of the minimum macOS, which linkers write for targets before 10.14.
LC_VERSION_MIN_MACOSX = 0x24
#: Load commands that add a dylib to the ordinal list (LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB,
#: LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB).
DYLIB_COMMANDS = {0xC: "LC_LOAD_DYLIB", 0x80000018: "LC_LOAD_WEAK_DYLIB", 0x8000001F: "LC_REEXPORT_DYLIB",
                  0x20: "LC_LAZY_LOAD_DYLIB", 0x80000023: "LC_LOAD_UPWARD_DYLIB"}


def read_macho(path: pathlib.Path) -> dict:
    """arch, dylibs [(load command, install name)], minos "x.y", imports {install name: {symbols}}."""
    data = path.read_bytes()
    if len(data) < 32 or struct.unpack_from("<I", data, 0)[0] != MH_MAGIC_64:
        raise CrossError(f"{path} is not a 64-bit little-endian Mach-O file")
    _, cputype, _, _, ncmds, _, _, _ = struct.unpack_from("<IiiIIIII", data, 0)
    offset = 32
    dylibs: list[tuple[str, str]] = []
    symtab = None
    minos = None
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, offset)
        if size < 8:
            raise CrossError(f"{path}: load command of {size} bytes")
        if cmd in DYLIB_COMMANDS:
            name_offset = struct.unpack_from("<I", data, offset + 8)[0]
            name = data[offset + name_offset:offset + size].split(b"\0", 1)[0].decode()
            dylibs.append((DYLIB_COMMANDS[cmd], name))
        elif cmd == LC_SYMTAB:
            symtab = struct.unpack_from("<IIII", data, offset + 8)
        elif cmd in (LC_BUILD_VERSION, LC_VERSION_MIN_MACOSX):
            # build_version_command: platform, minos; version_min_command: version, sdk
            version = struct.unpack_from("<I", data, offset + (12 if cmd == LC_BUILD_VERSION else 8))[0]
            minos = f"{version >> 16}.{(version >> 8) & 0xFF}"
        offset += size
    imports: dict[str, set[str]] = {name: set() for _, name in dylibs}
    if symtab:
        symoff, nsyms, stroff, _ = symtab
        for i in range(nsyms):
            strx, ntype, _, desc, _ = struct.unpack_from("<IBBHQ", data, symoff + 16 * i)
            # undefined (N_UNDF), external, not a debugging (stab) entry
            if ntype & 0xE0 or not ntype & 0x01 or ntype & 0x0E:
                continue
            ordinal = (desc >> 8) & 0xFF
            if 1 <= ordinal <= len(dylibs):
                symbol = data[stroff + strx:data.index(b"\0", stroff + strx)].decode()
                imports[dylibs[ordinal - 1][1]].add(symbol)
    return {"arch": CPU_TYPES.get(cputype, hex(cputype)), "dylibs": dylibs, "minos": minos, "imports": imports}


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def check_darwin_binary(path: pathlib.Path, arch: str, stubs: dict[str, set[str]], oldest_macos: str) -> str:
    """The binary is a Mach-O for `arch` that runs on macOS `oldest_macos` (its LC_BUILD_VERSION
    minimum is no newer) and loads Security and CoreFoundation, and each symbol it
    takes from them is one the stubs list for that framework (so binds by the right name to the
    right library on a Mac). Returns a summary."""
    info = read_macho(path)
    if info["arch"] != arch:
        raise CrossError(f"{path.name} is a Mach-O for {info['arch']}, not {arch}")
    if info["minos"] is None or version_tuple(info["minos"]) > version_tuple(oldest_macos):
        raise CrossError(f"{path.name} needs macOS {info['minos']}, newer than {oldest_macos} (MACOSX_DEPLOYMENT_TARGET)")
    loaded = {name for _, name in info["dylibs"]}
    counts = []
    for framework, listed in stubs.items():
        name = install_name(framework)
        if name not in loaded:
            raise CrossError(f"{path.name} has no LC_LOAD_DYLIB for {name}")
        used = info["imports"].get(name, set())
        unlisted = used - listed
        if unlisted:
            raise CrossError(f"{path.name} binds {', '.join(sorted(unlisted))} to {framework}, which the stubs do not list")
        counts.append(f"{framework} {len(used)}")
    for name, used in info["imports"].items():
        misplaced = {s for s in used if framework_of(s) and install_name(framework_of(s)) != name}
        if misplaced:
            raise CrossError(f"{path.name} binds {', '.join(sorted(misplaced))} to {name}")
    return f"Mach-O {info['arch']}, macOS {info['minos']} or later, imports {', '.join(counts)} symbols"


# ---------------------------------------------------------------------------------------------
# wine

#: Exports ProcessPrng(PBYTE, SIZE_T) -> BOOL on top of advapi32's RtlGenRandom
#: (SystemFunction036), which every wine has; no C runtime, so no headers and a 3 KiB DLL.
SHIM_SOURCE = r"""
typedef unsigned char BOOLEAN;
typedef int BOOL;
typedef unsigned long ULONG;
typedef unsigned long long SIZE_T;
__declspec(dllimport) BOOLEAN __stdcall SystemFunction036(void *buffer, ULONG length);

__declspec(dllexport) BOOL __stdcall ProcessPrng(unsigned char *data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return 0;
        data += chunk;
        len -= chunk;
    }
    return 1;
}

BOOL __stdcall DllMainCRTStartup(void *instance, ULONG reason, void *reserved) {
    (void)instance; (void)reason; (void)reserved;
    return 1;
}
"""


def wine_major(wine: str) -> int | None:
    proc = subprocess.run([wine, "--version"], capture_output=True, text=True)
    match = re.match(r"wine-(\d+)", proc.stdout.strip())
    return int(match.group(1)) if match else None


def build_wine_shim(zig: list[str], cache: pathlib.Path) -> pathlib.Path:
    """bcryptprimitives.dll for wine < 9, built once per source text into `cache`."""
    digest = hashlib.sha256(SHIM_SOURCE.encode()).hexdigest()[:16]
    out = cache / digest / "bcryptprimitives.dll"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    source = out.parent / "bcryptprimitives.c"
    source.write_text(SHIM_SOURCE)
    proc = subprocess.run([*zig, "cc", "-target", "x86_64-windows-gnu", "-shared", "-nostdlib", "-O2",
                           "-o", str(out), str(source), "-ladvapi32"], capture_output=True, text=True)
    if proc.returncode != 0 or not out.is_file():
        raise CrossError(f"building the wine shim bcryptprimitives.dll failed: {proc.stderr.strip()[-2000:]}")
    return out
