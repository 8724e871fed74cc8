#!/usr/bin/env python3
"""The read's timeline, and read/bound, of two builds measured interleaved (issue 18, item 2).

    scripts/bench_read.py --before DIR --after DIR [--tokens 10000 50000] [--runs 5]
                          [--latency-ms 50] [--json FILE]

DIR holds a release `terraform-provider-intersight` (and, for --before, the `intersight-sim`
that serves both). Each round plans once with each build (`ours`: page_size 1000,
parallelism 4), in the order before/after on odd rounds and after/before on even ones, through
Terraform 1.15 as `scripts/bench.py` does, with TF_LOG_PROVIDER=TRACE.

From each plan's provider log it takes the read's timeline:
- `read start` (DEBUG) opens the read: every time below is from it;
- each TRACE `request` line ends an attempt and says how long it took (`ms`), so it gives the
  request's start too; its path gives `$skip`;
- each TRACE `page decoded` line (builds since issue 18 item 2) ends a page's decoding and says
  how long that took (`decode_us`): the decoding's start is when the body had arrived;
- `page plan` (DEBUG): the first page is in and the further requests start;
- `list read done` (DEBUG, `elapsed_ms`: the read time bench.py reports);
- `read response encoded` (DEBUG): the state is encoded and handed to gRPC.
The bound is bench.py's: rounds × L, rounds = 1 + ceil((ceil(N/P) − 1) / C). The simulator's
own CPU per plan (user + system, from /proc) is reported beside it: it serves the pages on the
cores the read decodes on.
Medians over the rounds; the load average (1 min) is sampled before each plan.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (scripts/bench.py)

STAMP = re.compile(r"\btimestamp=\"?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z")
PROVIDER = "provider.terraform-provider-intersight: "
NUMBER = re.compile(r'\b(\w+)="?(-?[0-9]+)"?(?=[\s"]|$)')
SKIP = re.compile(r"(?:%24|\$)skip=([0-9]+)")


def provider_lines(path):
    """(message, ms of its timestamp, numeric fields, the whole line) of each provider line."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            at = line.find(PROVIDER)
            stamp = STAMP.search(line)
            if at < 0 or not stamp:
                continue
            message = line[at + len(PROVIDER):].split(":", 1)[0].strip()
            fields = {k: int(v) for k, v in NUMBER.findall(line)}
            out.append((message, bench._stamp_ms(stamp.group(1)), fields, line))
    return out


def timeline(path):
    """The phases of the last read in one plan's log, in ms from its `read start`."""
    lines = provider_lines(path)
    starts = [i for i, l in enumerate(lines) if l[0] == "read start"]
    if not starts:
        return None
    lines = lines[starts[-1]:]
    t0 = lines[0][1]
    requests, decodes = [], []
    marks = {}
    for message, at, fields, line in lines:
        t = at - t0
        if message == "request":
            skip = SKIP.search(line)
            requests.append({"skip": int(skip.group(1)) if skip else 0, "end": t,
                             "start": t - fields.get("ms", 0), "bytes": fields.get("bytes", 0)})
        elif message == "page decoded":
            us = fields.get("decode_us", 0)
            decodes.append({"end": t, "start": t - us / 1000, "bytes": fields.get("bytes", 0),
                            "exact": "scalars=Exact" in line})
        elif message in ("page plan", "list read done", "read response encoded"):
            marks.setdefault(message, (t, fields))
    # Each decode belongs to the request of the same size that ended next after it.
    for d in decodes:
        match = [r for r in requests if "decode" not in r and r["bytes"] == d["bytes"]
                 and r["start"] <= d["start"] + 1 and r["end"] >= d["end"] - 1]
        if match:
            min(match, key=lambda r: r["end"])["decode"] = d
    requests.sort(key=lambda r: r["start"])
    if not requests or "list read done" not in marks:
        return None
    first, further = requests[0], requests[1:]
    done = marks["list read done"][0]
    encoded = marks.get("read response encoded", (None,))[0]
    arrived = lambda r: r["decode"]["start"] if "decode" in r else None  # noqa: E731
    decode_ms = lambda r: r["decode"]["end"] - r["decode"]["start"] if "decode" in r else None  # noqa: E731
    phases = {
        "read_ms": marks["list read done"][1].get("elapsed_ms"),
        "first request sent": first["start"],
        "first page arrived": arrived(first),
        "first page decode ms": decode_ms(first),
        "first request done": first["end"],
        "page plan": marks.get("page plan", (None,))[0],
        "further requests sent (first)": min((r["start"] for r in further), default=None),
        "last page arrived": max((arrived(r) for r in further if arrived(r) is not None),
                                 default=None),
        "last request done": max((r["end"] for r in requests), default=None),
        "list read done": done,
        "response encoded": encoded,
        "encode ms": None if encoded is None else encoded - done,
        "pages decoded again": sum(1 for r in requests if r.get("decode", {}).get("exact")),
        "decode ms total": sum(decode_ms(r) or 0 for r in requests),
        "pages": [{"skip": r["skip"], "sent": round(r["start"], 1),
                   "arrived": None if arrived(r) is None else round(arrived(r), 1),
                   "decode_ms": None if decode_ms(r) is None else round(decode_ms(r), 1),
                   "done": round(r["end"], 1)} for r in requests],
    }
    return phases


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def process_cpu_ms(pid):
    """User + system CPU a process has used so far, in ms (Linux /proc, clock ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v):
    return "" if v is None else f"{v:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--tokens", type=int, nargs="+", default=[10000])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--json")
    args = ap.parse_args()
    builds = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    for d in builds.values():
        if not os.access(os.path.join(d, "terraform-provider-intersight"), os.X_OK):
            sys.exit(f"bench_read: no provider binary in {d}")
    terraform = bench.find_terraform()
    workdir = tempfile.mkdtemp(prefix="intersight-bench-read-")
    configs = {}
    for name, d in builds.items():
        configs[name] = os.path.join(workdir, f"terraformrc-{name}")
        with open(configs[name], "w") as f:
            f.write('provider_installation {\n'
                    f'  dev_overrides {{ "ciscodevnet/intersight" = "{d}" }}\n'
                    '  direct {}\n}\n')
    raw = {"latency_ms": args.latency_ms, "runs": args.runs, "cases": []}
    try:
        for n in args.tokens:
            bench.use_profile("release", builds["before"])
            sim = bench.Simulator(n, args.latency_ms, workdir)
            samples = {name: [] for name in builds}
            try:
                tfdir = bench.write_config(workdir, sim, bench.OURS)
                for i in range(args.runs):
                    order = ["before", "after"] if i % 2 == 0 else ["after", "before"]
                    for name in order:
                        bench.use_profile("release", builds[name])
                        load = loadavg()
                        cpu = process_cpu_ms(sim.proc.pid)
                        s = bench.run_plan(terraform, tfdir, configs[name], sim, n, bench.OURS)
                        s["sim_cpu_ms"] = process_cpu_ms(sim.proc.pid) - cpu
                        s["load1"] = load
                        s["timeline"] = timeline(os.path.join(tfdir, "tf.log"))
                        samples[name].append(s)
                        print(f"N={n} round {i + 1} {name}: read {s['read_ms']} ms, "
                              f"load {load:.2f}", flush=True)
            finally:
                sim.stop()
            bound = bench.rounds(n, 1000, 4) * args.latency_ms
            raw["cases"].append({"tokens": n, "bound_ms": bound, "samples": samples})
            report(n, bound, samples)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(raw, f, indent=1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(n, bound, samples):
    print(f"\nN={n}, bound {bound} ms (medians of {len(samples['before'])} interleaved rounds)")
    keys = ["first request sent", "first page arrived", "first page decode ms",
            "first request done", "page plan", "further requests sent (first)",
            "last page arrived", "last request done", "list read done", "response encoded",
            "encode ms", "decode ms total", "pages decoded again"]
    print("| ms from `read start` | before | after |")
    print("|---|---|---|")
    for k in keys:
        row = [med(t.get(k) for t in (s["timeline"] or {} for s in samples[b]) if t)
               for b in ("before", "after")]
        print(f"| {k} | {fmt(row[0])} | {fmt(row[1])} |")
    for b in ("before", "after"):
        reads = [s["read_ms"] for s in samples[b]]
        loads = [s["load1"] for s in samples[b]]
        print(f"{b}: read {statistics.median(reads)} ms [{min(reads)}–{max(reads)}], "
              f"read/bound {statistics.median(reads) / bound:.2f}, load {statistics.median(loads):.2f} "
              f"[{min(loads):.2f}–{max(loads):.2f}], peak RSS "
              f"{statistics.median(s['rss_mib'] for s in samples[b]):.1f} MiB")
        # The simulator serves the pages on the cores the read decodes on: its CPU per plan
        # (most of it while the read waits out L) says how much of them it takes.
        sim_cpu = statistics.median(s["sim_cpu_ms"] for s in samples[b])
        print(f"{b}: simulator CPU per plan {sim_cpu:.0f} ms (user + system)")
    paired = [a["read_ms"] / b["read_ms"] for a, b in zip(samples["after"], samples["before"])]
    print(f"after/before read, paired by round: median {statistics.median(paired):.3f} "
          f"({', '.join(f'{p:.2f}' for p in paired)})")
    last = next((s["timeline"] for s in reversed(samples["after"]) if s["timeline"]), None)
    if last:
        print("\nthe pages of the last `after` read (ms from `read start`):")
        print("| $skip | sent | arrived (decoding starts) | decode ms | done |")
        print("|---|---|---|---|---|")
        for p in last["pages"]:
            print(f"| {p['skip']} | {p['sent']} | {fmt(p['arrived'])} | {fmt(p['decode_ms'])} "
                  f"| {p['done']} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
