#!/usr/bin/env python3
"""Issue 15's figures: reads of hostile and huge answers through real Terraform.

Runs one scenario against a provider binary (any build, e.g. one from before the issue's fixes)
and the simulator, and prints one JSON line of figures. The provider is started by this script
with `--debug` and Terraform attaches to it (TF_REATTACH_PROVIDERS), so the provider outlives
Terraform and its peak RSS (VmHWM) and CPU time can be read from /proc at any moment, after
Terraform has exited included.

Scenarios:
  deep       one read of a token whose unknown member is arrays SIZE deep around "a\\nb"
  wide       one read of one page whose first token has SIZE distinct unknown members
  heavy      two reads with `timeouts { read = "10s" }`, every page (50 tokens) carrying a token
             of SIZE members; with --interrupt-after S, SIGINT to Terraform's process group
             (Ctrl-C) S seconds after every read made its first request
  honest     DATA_SOURCES reads of TOKENS tokens each, default settings (with --pad BYTES each
             token carries that much padding, and --page-size sets `page_size`)

Usage: scripts/bench_limits.py --provider BIN --sim BIN SCENARIO [options]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

DS = "intersight_iam_o_auth_token"
TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError):
        return None


def proc_hwm_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Sim:
    def __init__(self, binary: str, workdir: str, tokens: int, faults: dict):
        self.ready = os.path.join(workdir, "sim-ready.json")
        self.log = open(os.path.join(workdir, "sim.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--tokens", str(tokens), "--ready-file", self.ready, "--json-ready",
             "--state-dir", os.path.join(workdir, "sim-state"), "--faults", json.dumps(faults)],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("the simulator did not start")
            time.sleep(0.1)
        with open(self.ready) as f:
            self.info = json.load(f)
        self.endpoint = self.info["endpoint"]

    def stats(self) -> dict:
        import ssl
        ctx = ssl.create_default_context(cafile=self.info["ca_path"])
        with urllib.request.urlopen(self.endpoint + "/_sim/stats", context=ctx, timeout=10) as r:
            return json.load(r)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Provider:
    """The provider in debug mode; Terraform attaches to it."""

    def __init__(self, binary: str, workdir: str):
        self.err_path = os.path.join(workdir, "provider.log")
        env = dict(os.environ, TF_LOG_PROVIDER="DEBUG")
        for k in ("TF_PLUGIN_MAGIC_COOKIE", "PLUGIN_PROTOCOL_VERSIONS", "PLUGIN_CLIENT_CERT"):
            env.pop(k, None)
        self.proc = subprocess.Popen([binary, "--debug"], stdout=subprocess.PIPE,
                                     stderr=open(self.err_path, "w"), env=env, text=True)
        line = ""
        while "TF_REATTACH_PROVIDERS=" not in line:
            line = self.proc.stdout.readline()
            if not line:
                sys.exit("the provider printed no TF_REATTACH_PROVIDERS line")
        self.reattach = line.strip().split("=", 1)[1].strip("'")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._poll = threading.Thread(target=self._run, daemon=True)
        self._poll.start()

    def _run(self):
        while not self._stop.is_set():
            hwm = proc_hwm_mib(self.proc.pid)
            if hwm is not None:
                self.peak_mib = max(self.peak_mib, hwm)
            self._stop.wait(0.05)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu(self) -> float | None:
        return proc_cpu_s(self.proc.pid)

    def stop(self):
        self._stop.set()
        self._poll.join()
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, n=4000) -> str:
        with open(self.err_path, errors="replace") as f:
            return f.read()[-n:]

    def read_times_ms(self) -> list[int]:
        with open(self.err_path, errors="replace") as f:
            text = f.read()
        return [int(m) for m in re.findall(r'list read done.*?elapsed_ms"?[=:]"?(\d+)', text)]


def write_tf(workdir: str, sim: Sim, data_sources: int, timeout: str | None, provider_extra: str = ""):
    key = sim.info["rsa"]
    timeouts = f'  timeouts {{ read = "{timeout}" }}\n' if timeout else ""
    blocks = "".join(f'data "{DS}" "r{i}" {{\n{timeouts}}}\n' for i in range(data_sources))
    outputs = "".join(f'output "n{i}" {{ value = length(data.{DS}.r{i}.results) }}\n'
                      for i in range(data_sources))
    with open(os.path.join(workdir, "main.tf"), "w") as f:
        f.write(f"""terraform {{
  required_providers {{
    intersight = {{ source = "ciscodevnet/intersight" }}
  }}
}}
provider "intersight" {{
  endpoint       = "{sim.endpoint}"
  apikey         = "{key['key_id']}"
  secretkey      = "{key['key_path']}"
  ca_certificate = "{sim.info['ca_path']}"
{provider_extra}}}
{blocks}{outputs}""")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=["deep", "wide", "heavy", "honest"])
    ap.add_argument("--provider", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--terraform", default=".venv/bin/terraform-1.15")
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--tokens", type=int, default=100)
    ap.add_argument("--data-sources", type=int, default=1)
    ap.add_argument("--interrupt-after", type=float)
    ap.add_argument("--pad", type=int, default=0)
    ap.add_argument("--page-size", type=int)
    ap.add_argument("--limit", type=float, default=300, help="seconds before Terraform is interrupted")
    ap.add_argument("--settle", type=float, default=10, help="seconds of provider CPU watched after Terraform ends")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix=f"bench-limits-{args.scenario}-")
    timeout = None
    extra = ""
    if args.scenario == "deep":
        faults = {"hostile_member": {"shape": "deep_array", "size": args.size}}
    elif args.scenario == "wide":
        faults = {"hostile_member": {"shape": "wide_object", "size": args.size}}
    elif args.scenario == "heavy":
        faults = {"hostile_member": {"shape": "wide_object", "size": args.size}}
        timeout = "10s"
        extra = "  page_size      = 50\n"
    else:
        faults = {"pad_object_bytes": args.pad} if args.pad else {}
        if args.page_size:
            extra = f"  page_size      = {args.page_size}\n"
    sim = Sim(args.sim, workdir, args.tokens, faults)
    provider = Provider(args.provider, workdir)
    result = {"scenario": args.scenario, "size": args.size, "tokens": args.tokens,
              "data_sources": args.data_sources, "pad": args.pad, "provider": args.provider,
              "load_before": os.getloadavg()[0]}
    try:
        write_tf(workdir, sim, args.data_sources, timeout, extra)
        cli = os.path.join(workdir, "terraformrc")
        with open(cli, "w") as f:
            f.write('provider_installation {\n  dev_overrides { "ciscodevnet/intersight" = "%s" }\n'
                    '  direct {}\n}\n' % os.path.dirname(os.path.abspath(args.provider)))
        env = dict(os.environ, TF_CLI_CONFIG_FILE=cli, TF_REATTACH_PROVIDERS=provider.reattach,
                   TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
        out_path = os.path.join(workdir, "terraform.out")
        cpu0 = provider.cpu()
        started = time.monotonic()
        with open(out_path, "w") as out:
            tf = subprocess.Popen([os.path.abspath(args.terraform), "plan", "-no-color", "-input=false"],
                                  cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
            interrupted_at = None
            if args.interrupt_after is not None:
                # Every read has made its first request (a read whose pages are being decoded
                # may make no other for minutes), or the time limit has passed.
                while (sim.stats().get("list_requests", 0) < args.data_sources and tf.poll() is None
                       and time.monotonic() - started < args.limit):
                    time.sleep(0.05)
                time.sleep(args.interrupt_after)
                if tf.poll() is None:
                    interrupted_at = time.monotonic()
                    os.killpg(tf.pid, signal.SIGINT)
            try:
                tf.wait(timeout=args.limit if interrupted_at is None else 60)
            except subprocess.TimeoutExpired:
                if interrupted_at is None:
                    result["not_answered_within_s"] = args.limit
                    interrupted_at = time.monotonic()
                    os.killpg(tf.pid, signal.SIGINT)
                    try:
                        tf.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        pass
            ended = time.monotonic()
            if tf.poll() is None:
                result["terraform_still_running_60s_after_sigint"] = True
                os.killpg(tf.pid, signal.SIGKILL)
                tf.wait()
        result["terraform_rc"] = tf.returncode
        result["plan_s"] = round(ended - started, 2)
        if interrupted_at is not None:
            result["sigint_to_exit_s"] = round(ended - interrupted_at, 2)
        cpu_end = provider.cpu()
        time.sleep(args.settle)
        cpu_later = provider.cpu()
        result["provider_alive_after"] = provider.alive()
        result["provider_exit"] = provider.proc.returncode
        if cpu0 is not None and cpu_end is not None:
            result["provider_cpu_during_s"] = round(cpu_end - cpu0, 2)
        if cpu_end is not None and cpu_later is not None:
            result[f"provider_cpu_in_{args.settle:g}s_after_s"] = round(cpu_later - cpu_end, 2)
        result["provider_peak_rss_mib"] = round(provider.peak_mib, 1)
        result["read_elapsed_ms"] = provider.read_times_ms()
        try:
            result["sim_list_requests"] = sim.stats().get("list_requests")
        except OSError:
            pass
        text = " ".join(open(out_path, errors="replace").read().split())
        result["diagnostics"] = re.findall(r"Error: ([^│]{0,300})", text)[:4]
        result["outputs"] = re.findall(r"n\d+\s*=\s*\d+", text)
        if not provider.alive():
            result["provider_log_tail"] = provider.log_tail(600)
        result["workdir"] = workdir
    finally:
        provider.stop()
        sim.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
