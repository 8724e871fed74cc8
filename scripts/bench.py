#!/usr/bin/env python3
"""End-to-end benchmark: `terraform plan` of `intersight_iam_o_auth_token` against intersight-sim.

For each token count N it starts the simulator with `--latency-ms L`, then runs `terraform plan`
R times for each configuration, interleaved: ours (page_size 1000, parallelism 4), ours with
`select = ["client_name", "user"]`, and the official provider's algorithm (page_size 100,
parallelism 1). It prints medians and ranges of:
  - plan wall time (the whole Terraform process);
  - the provider's own read time (the `list read done` DEBUG log line, `elapsed_ms`);
  - requests issued and max in flight (simulator `GET /_sim/stats`, reset before each run);
  - bytes received (the provider's TRACE `request` lines);
  - peak RSS of the provider process (VmHWM polled from /proc every 10 ms);
plus the lower bound rounds × L, rounds = 1 + ceil((ceil(N/P) - 1) / C), the select/plain
ratios, and the launch → handshake time of the bare provider binary. `--breakdown` adds one
TRACE plan per configuration, split into phases at marks of Terraform's log.

Only the standard library is used. Terraform: $TERRAFORM, else .venv/bin/terraform-1.15 (made by
scripts/bootstrap), else /tmp/tfshim/terraform115.

  scripts/bench.py                 # N = 1000, 10000, 50000; L = 50 ms; R = 5
  scripts/bench.py --tokens 1000 10000 --runs 3
  scripts/bench.py --tokens 10000 --breakdown
  scripts/bench.py --quick         # N = 200, L = 5 ms, R = 2 (CI)
"""

import argparse
import calendar
import json
import math
import os
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The binaries measured: target/release (default) or target/debug (--profile debug, which CI's
# quick run uses so the benchmark cannot rot without a second, release build of everything).
RELEASE = os.path.join(ROOT, "target", "release")
PROVIDER_BIN = os.path.join(RELEASE, "terraform-provider-intersight")
SIM_BIN = os.path.join(RELEASE, "intersight-sim")


def use_profile(profile, bin_dir=None):
    global RELEASE, PROVIDER_BIN, SIM_BIN
    RELEASE = os.path.abspath(bin_dir) if bin_dir else os.path.join(ROOT, "target", profile)
    PROVIDER_BIN = os.path.join(RELEASE, "terraform-provider-intersight")
    SIM_BIN = os.path.join(RELEASE, "intersight-sim")
MAGIC_COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
ANCHOR = "2026-11-23T10:00:00Z"

OURS = {"name": "ours", "page_size": 1000, "parallelism": 4, "env": {}, "select": None}
# Ours with the `select` argument: only these results attributes are requested and filled in.
SELECT_ATTRIBUTES = ["client_name", "user"]
OURS_SELECT = {"name": "ours+select", "page_size": 1000, "parallelism": 4, "env": {},
               "select": SELECT_ATTRIBUTES}
# The official provider's algorithm, request for request: a $count request, then sequential
# pages of 100 (no $orderby, no overlap), by our binary in its benchmark-only emulation mode,
# so everything else (HTTP client, decoding, Terraform) is equal.
OFFICIAL = {"name": "official", "page_size": 100, "parallelism": 1,
            "env": {"INTERSIGHT_BENCH_OFFICIAL_PAGING": "1"}, "select": None}


def find_terraform():
    env = os.environ.get("TERRAFORM")
    if env:
        return env
    for candidate in (
        os.path.join(ROOT, ".venv", "bin", "terraform-1.15"),
        "/tmp/tfshim/terraform115",
    ):
        if os.access(candidate, os.X_OK):
            return candidate
    sys.exit("bench: no Terraform 1.15 found; run scripts/bootstrap or set TERRAFORM")


def build(profile):
    subprocess.run(
        # The official algorithm case needs the benchmark-only paging (cargo feature).
        ["cargo", "build", *(["--release"] if profile == "release" else []),
         "-p", "terraform-provider-intersight", "-p", "intersight-sim",
         "--features", "terraform-provider-intersight/bench-official-paging"],
        cwd=ROOT,
        check=True,
    )


def rounds(n, page_size, parallelism):
    """Round trips a perfect client needs: the first page, then the rest C at a time."""
    pages = max(1, math.ceil(n / page_size))
    return 1 + math.ceil((pages - 1) / parallelism)


class Simulator:
    def __init__(self, tokens, latency_ms, workdir):
        self.state_dir = os.path.join(workdir, f"sim-{tokens}")
        ready = os.path.join(workdir, f"sim-{tokens}.ready.json")
        self.log = open(os.path.join(workdir, f"sim-{tokens}.log"), "wb")
        self.proc = subprocess.Popen(
            [
                SIM_BIN,
                "--tokens", str(tokens),
                "--latency-ms", str(latency_ms),
                "--anchor-time", ANCHOR,
                "--state-dir", self.state_dir,
                "--ready-file", ready,
                "--json-ready",
                "--stop-after", "7200",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"bench: the simulator did not start (see {self.log.name})")
            time.sleep(0.02)
        with open(ready) as f:
            self.info = json.load(f)
        self.endpoint = self.info["endpoint"]
        self.ssl = ssl.create_default_context(cafile=self.info["ca_path"]) if self.info.get("ca_path") else None

    def control(self, method, path):
        req = urllib.request.Request(self.endpoint + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, context=self.ssl, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class PeakRss:
    """Polls /proc for processes running our release binary and keeps the largest VmHWM (KiB),
    and a timeline of (wall-clock time, the largest VmRSS in KiB) for the TRACE breakdown."""

    def __init__(self, exe):
        self.exe = os.path.realpath(exe)
        self.peak_kib = 0
        self.timeline = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            rss_kib = 0
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    if os.readlink(f"/proc/{pid}/exe") != self.exe:
                        continue
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                self.peak_kib = max(self.peak_kib, int(line.split()[1]))
                            elif line.startswith("VmRSS:"):
                                rss_kib = max(rss_kib, int(line.split()[1]))
                except OSError:
                    continue  # not ours to read, or it just exited
            self.timeline.append((time.time(), rss_kib))
            self._stop.wait(0.01)


def write_config(workdir, sim, algo):
    key = sim.info["rsa"]
    ca = sim.info.get("ca_path")
    ca_line = f'  ca_certificate = "{ca}"\n' if ca else ""
    select_line = ""
    if algo["select"]:
        select_line = "\n  select = [" + ", ".join(f'"{a}"' for a in algo["select"]) + "]\n"
    main_tf = f"""
terraform {{
  required_providers {{
    intersight = {{ source = "ciscodevnet/intersight" }}
  }}
}}
provider "intersight" {{
  endpoint    = "{sim.endpoint}"
  apikey      = "{key['key_id']}"
  secretkey   = "{key['key_path']}"
{ca_line}  page_size   = {algo['page_size']}
  parallelism = {algo['parallelism']}
}}
data "intersight_iam_o_auth_token" "all" {{{select_line}}}
# One output, so Terraform evaluates one expression over the result (each one that references
# the data source costs a decode of the whole result): the count, and the attributes the first
# result has non-null (what `select` promises).
locals {{ r = data.intersight_iam_o_auth_token.all.results }}
output "check" {{
  value = "count=${{length(local.r)}} non_null=${{join(",", [for k, v in local.r[0] : k if v != null])}}"
}}
"""
    d = os.path.join(workdir, f"tf-{algo['name'].replace('+', '-')}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "main.tf"), "w") as f:
        f.write(main_tf)
    return d


READ_LINE = re.compile(r"list read done.*")
FIELD = re.compile(r'(\w+)="?([0-9]+)"?')
REQUEST_LINE = re.compile(r"provider\.terraform-provider-intersight: request: .*")
REQUEST_BYTES = re.compile(r"\bbytes=([0-9]+)")
NON_NULL = re.compile(r'non_null=([^"]*)"')


def parse_read_log(path):
    """From the log Terraform copied from the provider (TF_LOG_PROVIDER=TRACE): the fields of the
    last `list read done` line, plus the response bytes of its TRACE `request` lines and whether
    they sent `$select`."""
    found = None
    body_bytes = 0
    requests = 0
    with_select = 0
    with open(path, errors="replace") as f:
        for line in f:
            m = READ_LINE.search(line)
            if m:
                found = {k: int(v) for k, v in FIELD.findall(m.group(0))}
                continue
            r = REQUEST_LINE.search(line)
            if r:
                requests += 1
                b = REQUEST_BYTES.search(r.group(0))
                body_bytes += int(b.group(1)) if b else 0
                with_select += "%24select=" in r.group(0) or "$select=" in r.group(0)
    if found is not None:
        found["body_bytes"] = body_bytes
        found["logged_requests"] = requests
        found["requests_with_select"] = with_select
    return found


def run_plan(terraform, tfdir, cli_config, sim, expected, algo):
    log_path = os.path.join(tfdir, "tf.log")
    if os.path.exists(log_path):
        os.remove(log_path)
    env = dict(os.environ)
    env.update(
        TF_CLI_CONFIG_FILE=cli_config,
        TF_LOG_PROVIDER="TRACE",
        TF_LOG_PATH=log_path,
        TF_IN_AUTOMATION="1",
        CHECKPOINT_DISABLE="1",
    )
    env.pop("TF_LOG", None)
    env.pop("INTERSIGHT_BENCH_OFFICIAL_PAGING", None)
    env.update(algo["env"])
    sim.control("POST", "/_sim/reset")
    with PeakRss(PROVIDER_BIN) as rss:
        start = time.monotonic()
        proc = subprocess.run(
            [terraform, f"-chdir={tfdir}", "plan", "-no-color", "-input=false", "-refresh=true"],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"bench: terraform plan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    if not re.search(rf"\bcount={expected}\b", proc.stdout):
        sys.exit(f"bench: plan did not read {expected} tokens:\n{proc.stdout}")
    stats = sim.control("GET", "/_sim/stats")
    read = parse_read_log(log_path)
    if read is None:
        sys.exit(f"bench: no 'list read done' line in {log_path}")
    # What the docs promise for `select`: exactly the selected attributes are filled in (every
    # other one, `moid` included, is null) and every page request sends `$select`.
    shown = NON_NULL.search(proc.stdout)
    non_null = shown.group(1).split(",") if shown else None
    if algo["select"]:
        if non_null is None or sorted(non_null) != sorted(algo["select"]):
            sys.exit(f"bench: with select = {algo['select']} the first result has the non-null "
                     f"attributes {non_null}:\n{proc.stdout}")
        if read["requests_with_select"] != read["logged_requests"] or not read["logged_requests"]:
            sys.exit(f"bench: {read['requests_with_select']} of {read['logged_requests']} "
                     f"requests sent $select (see {log_path})")
    elif read["requests_with_select"]:
        sys.exit(f"bench: a plan without select sent $select (see {log_path})")
    return {
        "wall_ms": wall * 1000,
        "read_ms": read.get("elapsed_ms"),
        "requests": stats["requests"],
        "max_in_flight": stats["max_in_flight"],
        "retries": read.get("retries", 0),
        "rss_mib": rss.peak_kib / 1024,
        "body_mib": read["body_bytes"] / 2**20,
        "requests_with_select": read["requests_with_select"],
        "non_null": non_null,
    }


def select_ratios(plain, selected):
    """Ratios of medians (ours+select over ours) of one interleaved run, plus the median of the
    per-round wall-time ratios (round i of each ran back to back, so it cancels slow drifts)."""
    def med(samples, key):
        return statistics.median(s[key] for s in samples)
    return {
        "wall": med(selected, "wall_ms") / med(plain, "wall_ms"),
        "wall_paired": statistics.median(s["wall_ms"] / p["wall_ms"] for p, s in zip(plain, selected)),
        "read": med(selected, "read_ms") / max(med(plain, "read_ms"), 1),
        "body": med(selected, "body_mib") / med(plain, "body_mib"),
        "rss": med(selected, "rss_mib") / med(plain, "rss_mib"),
    }


# Where one plan's wall time goes: marks in Terraform's TRACE log (TF_LOG=TRACE). Each is (label,
# pattern, which occurrence, who works from this mark to the next); the marks listed after "plan
# walk starts" are looked for after it. Terraform starts the provider three times in a plan (for
# its schema, to validate, to plan), so start-up counts three times.
# Terraform stamps every line when it writes it; for the provider's own lines the provider's
# `timestamp=` field is used instead (a line copied from the provider's stderr can reach
# Terraform's log a little later). Marks are ordered by time.
PROVIDER_LINE = r"provider\.terraform-provider-intersight: "
TRACE_MARKS = [
    ("terraform's first log line", r"\[INFO\]  Terraform version", 1, "terraform"),
    ("provider launched (for the schema)", r"provider: starting plugin", 1, "provider"),
    ("handshake done (schema)", r"provider: using plugin", 1, "terraform"),
    ("provider launched (to validate)", r"provider: starting plugin", 2, "provider"),
    ("handshake done (validate)", r"provider: using plugin", 2, "terraform"),
    ("plan walk starts", r"Starting graph walk: walkPlan", 1, "terraform"),
    ("provider launched (to plan)", r"provider: starting plugin", 1, "provider"),
    ("handshake done (plan)", r"provider: using plugin", 1, "terraform"),
    ("ConfigureProvider called", r"GRPCProvider(\.v\d)?: ConfigureProvider", 1, "provider"),
    ("configured (the provider's line)", PROVIDER_LINE + r"configuring the provider", 1, "terraform"),
    ("ReadDataSource called", r"GRPCProvider(\.v\d)?: ReadDataSource", 1, "provider"),
    ("read start (the provider's line)", PROVIDER_LINE + r"read start:", 1, "provider"),
    ("read end: list read done", PROVIDER_LINE + r"list read done:", 1, "provider"),
    ("response encoded, handed to gRPC", PROVIDER_LINE + r"read response encoded:", 1, "terraform"),
    ("refresh state write starts", r"writeResourceInstanceState to refreshState", 1, "terraform"),
    ("working state write starts", r"writeResourceInstanceState to workingState", 1, "terraform"),
    ("outputs evaluated", r"Expanding output: adding output", 1, "terraform"),
    ("provider closed", r"GRPCProvider(\.v\d)?: Close", 1, "terraform"),
    ("plan complete", r"\[TRACE\] Plan is complete", 1, "terraform"),
    ("plan operation completed", r"backend/local: plan operation completed", 1, "terraform"),
    ("last log line", None, 1, "terraform"),
]
TF_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z ")
PROVIDER_STAMP = re.compile(r"\btimestamp=\"?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z")


def _stamp_ms(text):
    _, clock = text.split("T")
    h, m, sec = clock.split(":")
    return ((int(h) * 60 + int(m)) * 60 + float(sec)) * 1000.0


def parse_trace(path):
    """The marks of TRACE_MARKS found in one TRACE log, ordered by time:
    [(label, ms since the first line, who)]. A mark not in the log is left out."""
    stamps = []
    with open(path, errors="replace") as f:
        for line in f:
            m = TF_STAMP.match(line)
            if m:
                stamps.append((line, m.group(1)))
    if not stamps:
        return []
    t0 = _stamp_ms(stamps[0][1])
    walk = next((i for i, (l, _) in enumerate(stamps) if "Starting graph walk: walkPlan" in l), 0)
    walk_mark = next(i for i, m in enumerate(TRACE_MARKS) if m[0] == "plan walk starts")
    marks = []
    for index, (label, pattern, nth, who) in enumerate(TRACE_MARKS):
        if pattern is None:
            line, at = stamps[-1]
        else:
            rx = re.compile(pattern)
            scope = stamps[walk:] if index > walk_mark else stamps
            hits = [(l, s) for l, s in scope if rx.search(l)]
            if len(hits) < nth:
                continue
            line, at = hits[nth - 1]
        own = PROVIDER_STAMP.search(line) if "provider.terraform-provider-intersight" in line else None
        if own:
            at = own.group(1)
        marks.append((label, _stamp_ms(at) - t0, who))
    marks.sort(key=lambda m: m[1])
    return marks


def first_stamp_epoch(path):
    """The first line's timestamp of a TRACE log, in seconds since the epoch (UTC)."""
    with open(path, errors="replace") as f:
        for line in f:
            m = TF_STAMP.match(line)
            if m:
                return calendar.timegm(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) \
                    + float("0" + m.group(1)[19:])
    return 0.0


def trace_breakdown(terraform, tfdir, cli_config, sim, expected, algo):
    """One more plan with TF_LOG=TRACE: its marks, the process's wall time, and who spent it."""
    trace_path = os.path.join(tfdir, "trace.log")
    if os.path.exists(trace_path):
        os.remove(trace_path)
    env = dict(os.environ, TF_CLI_CONFIG_FILE=cli_config, TF_LOG="TRACE", TF_LOG_PATH=trace_path,
               TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    env.pop("TF_LOG_PROVIDER", None)
    env.pop("INTERSIGHT_BENCH_OFFICIAL_PAGING", None)
    env.update(algo["env"])
    sim.control("POST", "/_sim/reset")
    with PeakRss(PROVIDER_BIN) as rss:
        start = time.monotonic()
        proc = subprocess.run(
            [terraform, f"-chdir={tfdir}", "plan", "-no-color", "-input=false", "-refresh=true"],
            env=env, capture_output=True, text=True,
        )
        wall = (time.monotonic() - start) * 1000
    if proc.returncode != 0 or not re.search(rf"\bcount={expected}\b", proc.stdout):
        sys.exit(f"bench: the TRACE plan failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    marks = parse_trace(trace_path)
    t0 = first_stamp_epoch(trace_path)
    phases = []
    for (label, at, who), nxt in zip(marks, marks[1:] + [("", None, None)]):
        end = nxt[1]
        # The provider's largest RSS while this phase ran (the poller's clock is the same
        # wall clock Terraform stamps its lines with).
        lo, hi = t0 + at / 1000, t0 + (end if end is not None else at) / 1000 + 0.01
        window = [kib for t, kib in rss.timeline if lo <= t <= hi]
        phases.append({"mark": label, "at_ms": round(at, 1),
                       "until_next_ms": None if end is None else round(end - at, 1), "who": who,
                       "provider_rss_mib": round(max(window) / 1024, 1) if window else None})
    logged = marks[-1][1] if marks else 0.0
    provider_ms = sum(p["until_next_ms"] or 0 for p in phases if p["who"] == "provider")
    return {"wall_ms": round(wall, 1), "logged_ms": round(logged, 1),
            "provider_ms": round(provider_ms, 1), "marks": phases}


def print_breakdown(n, name, breakdown):
    print(f"\nN={n} {name}: one plan with TF_LOG=TRACE, wall {breakdown['wall_ms']:.0f} ms "
          f"(first to last log line {breakdown['logged_ms']:.0f} ms; the rest is the process "
          f"starting before its first line and exiting after its last)")
    print("| ms since the first line | mark | ms to the next mark | working | provider RSS MiB (max until the next mark) |")
    print("|---|---|---|---|---|")
    for p in breakdown["marks"]:
        step = "" if p["until_next_ms"] is None else f"{p['until_next_ms']:.0f}"
        rss = "" if not p["provider_rss_mib"] else f"{p['provider_rss_mib']:.1f}"
        print(f"| {p['at_ms']:.0f} | {p['mark']} | {step} | {p['who']} | {rss} |")
    rest = breakdown["wall_ms"] - breakdown["provider_ms"]
    print(f"provider {breakdown['provider_ms']:.0f} ms ({100 * breakdown['provider_ms'] / breakdown['wall_ms']:.0f}%), "
          f"Terraform and its start-up {rest:.0f} ms ({100 * rest / breakdown['wall_ms']:.0f}%) of the wall time", flush=True)


def handshake_ms(runs):
    """Launch → first stdout line (the go-plugin handshake) of the bare release binary."""
    env = dict(os.environ, TF_PLUGIN_MAGIC_COOKIE=MAGIC_COOKIE, PLUGIN_PROTOCOL_VERSIONS="5,6")
    times = []
    for _ in range(runs):
        start = time.monotonic()
        proc = subprocess.Popen([PROVIDER_BIN], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = proc.stdout.readline()
        times.append((time.monotonic() - start) * 1000)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if not line.startswith(b"1|"):
            sys.exit(f"bench: unexpected handshake line {line!r}")
    return times


def summary(values, fmt="{:.0f}"):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    med = statistics.median(values)
    return f"{fmt.format(med)} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, nargs="+", default=[1000, 10000, 50000])
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="N=200, L=5 ms, R=2 (for CI)")
    ap.add_argument("--no-build", action="store_true", help="use the release binaries as they are")
    ap.add_argument("--no-official", action="store_true", help="skip the official-algorithm runs")
    ap.add_argument("--no-select", action="store_true",
                    help=f"skip the runs with select = {SELECT_ATTRIBUTES}")
    ap.add_argument("--breakdown", action="store_true",
                    help="after the timed runs, one more plan of ours (and ours+select) with "
                         "TF_LOG=TRACE, and where its wall time went")
    ap.add_argument("--json", help="also write all raw samples to this file")
    ap.add_argument("--profile", choices=["release", "debug"], default="release",
                    help="which build to measure (debug: only to check the benchmark runs)")
    ap.add_argument("--bin-dir",
                    help="measure the provider and simulator binaries in this directory instead "
                         "(e.g. another build, to compare before and after); implies --no-build")
    args = ap.parse_args()
    use_profile(args.profile, args.bin_dir)
    if args.bin_dir:
        args.no_build = True
    if args.quick:
        args.tokens, args.latency_ms, args.runs = [200], 5, 2

    if not args.no_build:
        build(args.profile)
    for binary in (PROVIDER_BIN, SIM_BIN):
        if not os.access(binary, os.X_OK):
            sys.exit(f"bench: {binary} is missing (build it, or drop --no-build)")
    terraform = find_terraform()
    workdir = tempfile.mkdtemp(prefix="intersight-bench-")
    cli_config = os.path.join(workdir, "terraformrc")
    with open(cli_config, "w") as f:
        f.write(
            'provider_installation {\n'
            f'  dev_overrides {{ "ciscodevnet/intersight" = "{RELEASE}" }}\n'
            '  direct {}\n'
            '}\n'
        )

    L = args.latency_ms
    hs = handshake_ms(max(5, args.runs * 2))
    print(f"terraform: {terraform}")
    print(f"latency L = {L} ms, runs R = {args.runs}, ours: page_size 1000 parallelism 4; "
          f"official: a $count request, then sequential pages of 100 (INTERSIGHT_BENCH_OFFICIAL_PAGING=1)")
    print(f"launch → handshake: {summary(hs, '{:.1f}')} ms (median [min–max] of {len(hs)})")
    print()

    raw = {"latency_ms": L, "runs": args.runs, "handshake_ms": hs, "cases": []}
    header = ("N", "algo", "plan wall ms", "read ms", "lower bound ms", "read/bound",
              "requests", "max in flight", "received MiB", "peak RSS MiB")
    rows = []
    try:
        for n in args.tokens:
            sim = Simulator(n, L, workdir)
            try:
                results = {}
                algos = ([OURS] + ([] if args.no_select else [OURS_SELECT])
                         + ([] if args.no_official else [OFFICIAL]))
                tfdirs = {a["name"]: write_config(workdir, sim, a) for a in algos}
                # Interleave the configurations so machine noise hits them alike.
                for _ in range(args.runs):
                    for a in algos:
                        sample = run_plan(terraform, tfdirs[a["name"]], cli_config, sim, n, a)
                        results.setdefault(a["name"], []).append(sample)
                for a in algos:
                    samples = results[a["name"]]
                    r = rounds(n, a["page_size"], a["parallelism"])
                    if a is OFFICIAL:
                        r += 1  # the official provider first asks for $count
                    bound = r * L
                    reads = [s["read_ms"] for s in samples]
                    rows.append((
                        str(n), a["name"],
                        summary([s["wall_ms"] for s in samples]),
                        summary(reads),
                        str(bound),
                        f"{statistics.median(reads) / bound:.2f}" if bound else "n/a",
                        summary([s["requests"] for s in samples]),
                        summary([s["max_in_flight"] for s in samples]),
                        summary([s["body_mib"] for s in samples], "{:.2f}"),
                        summary([s["rss_mib"] for s in samples], "{:.1f}"),
                    ))
                    raw["cases"].append({"tokens": n, "algo": a["name"], "lower_bound_ms": bound,
                                         "page_size": a["page_size"],
                                         "parallelism": a["parallelism"], "samples": samples})
                if not args.no_official:
                    ours = statistics.median(s["read_ms"] for s in results["ours"])
                    official = statistics.median(s["read_ms"] for s in results["official"])
                    wall_ours = statistics.median(s["wall_ms"] for s in results["ours"])
                    wall_off = statistics.median(s["wall_ms"] for s in results["official"])
                    rows.append((str(n), "speed-up", f"{wall_off / wall_ours:.1f}×",
                                 f"{official / max(ours, 1):.1f}×", "", "", "", "", "", ""))
                if not args.no_select:
                    ratios = select_ratios(results["ours"], results["ours+select"])
                    raw.setdefault("select_ratios", {})[str(n)] = ratios
                    rows.append((str(n), "select/plain",
                                 f"{ratios['wall']:.2f} (paired {ratios['wall_paired']:.2f})",
                                 f"{ratios['read']:.2f}", "", "", "", "",
                                 f"{ratios['body']:.3f}", f"{ratios['rss']:.2f}"))
                if args.breakdown:
                    for a in [OURS] + ([] if args.no_select else [OURS_SELECT]):
                        phases = trace_breakdown(terraform, tfdirs[a["name"]], cli_config, sim, n, a)
                        raw.setdefault("breakdowns", []).append(
                            {"tokens": n, "algo": a["name"], "phases": phases})
                        print_breakdown(n, a["name"], phases)
            finally:
                sim.stop()
            # Partial results survive an interrupted long run.
            print(f"done N={n}: " + "; ".join(" ".join(r) for r in rows if r[0] == str(n)), flush=True)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(raw, f, indent=1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths))
    print(f"| {line} |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    print("\nvalues: median [min–max] of R runs; the official bound counts its $count request as a round")


if __name__ == "__main__":
    main()
