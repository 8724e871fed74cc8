#!/usr/bin/env python3
"""Builds the release archive in the layout the Terraform Registry and `terraform providers
mirror` use:

  dist/terraform-provider-intersight_<version>_linux_amd64.zip   (holds terraform-provider-intersight_v<version>)
  dist/terraform-provider-intersight_<version>_manifest.json     (protocol versions 5.0 and 6.0)
  dist/terraform-provider-intersight_<version>_SHA256SUMS

With --mirror DIR the zip is also placed in a packed filesystem mirror:
  DIR/registry.terraform.io/ciscodevnet/intersight/terraform-provider-intersight_<version>_linux_amd64.zip

Usage: scripts/release.py [--skip-build] [--binary PATH] [--dist DIR] [--mirror DIR]
"""
import argparse
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAME = "terraform-provider-intersight"


def version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        sys.exit("release: no version in Cargo.toml")
    return match.group(1)


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-build", action="store_true", help="use the existing release binary")
    parser.add_argument("--binary", help="the provider binary to package (default: target/release)")
    parser.add_argument("--dist", default=str(ROOT / "dist"))
    parser.add_argument("--mirror", help="also install into this packed filesystem mirror")
    args = parser.parse_args()

    ver = version()
    binary = pathlib.Path(args.binary) if args.binary else ROOT / "target" / "release" / NAME
    if not args.skip_build and not args.binary:
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", NAME, "--bin", NAME], cwd=ROOT, check=True)
    if not binary.is_file():
        sys.exit(f"release: {binary} does not exist; build it first")

    dist = pathlib.Path(args.dist)
    dist.mkdir(parents=True, exist_ok=True)
    archive = dist / f"{NAME}_{ver}_linux_amd64.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(f"{NAME}_v{ver}", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, binary.read_bytes())
    manifest = dist / f"{NAME}_{ver}_manifest.json"
    shutil.copyfile(ROOT / "terraform-registry-manifest.json", manifest)
    sums = dist / f"{NAME}_{ver}_SHA256SUMS"
    sums.write_text("".join(f"{sha256(p)}  {p.name}\n" for p in (archive, manifest)))
    print(f"release: {archive}")
    print(f"release: {sums}")

    if args.mirror:
        target = pathlib.Path(args.mirror) / "registry.terraform.io" / "ciscodevnet" / "intersight"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archive, target / archive.name)
        print(f"release: mirrored into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
