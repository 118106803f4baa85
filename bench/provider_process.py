#!/usr/bin/env python3
"""Provider process benchmark: handshake latency and resident memory.

Baseline, measured in the same run: `terraform version` (the CLI's own start-up
cost). Prints a table and, with --json FILE, writes machine-readable results.
Goals are figures only. Correctness is the exit status (1, each problem printed
as "CORRECTNESS: ..."): every start answers the go-plugin handshake with
protocol 6, the quickstart's plan, apply and second plan succeed, that second
plan shows no change (no drift), and the provider serving them is still
running afterwards.

  bench/provider_process.py BUILD_DIR [--runs N] [--json FILE]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from correctness import check, finish  # noqa: E402

COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"

def handshake_ms(binary, tls):
    env = {"TF_PLUGIN_MAGIC_COOKIE": COOKIE, "PLUGIN_PROTOCOL_VERSIONS": "5,6",
           "PATH": os.environ.get("PATH", "/usr/bin")}
    if tls:
        env["PLUGIN_CLIENT_CERT"] = tls
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    dt = (time.perf_counter() - t0) * 1000
    check(line.startswith(b"1|6|"), f"handshake line {line[:80]!r} is not protocol 6 (1|6|...)")
    with open(f"/proc/{p.pid}/status") as f:
        rss = [int(l.split()[1]) for l in f if l.startswith("VmRSS")][0]
    p.terminate()
    p.wait()
    return dt, rss / 1024


def terraform_version_ms():
    t0 = time.perf_counter()
    subprocess.run(["terraform", "version"], stdout=subprocess.DEVNULL, check=True,
                   env=dict(os.environ, CHECKPOINT_DISABLE="1"))
    return (time.perf_counter() - t0) * 1000


def serving_peak_rss_mib(binary, root):
    """Peak RSS of one provider process serving a real terraform plan+apply."""
    work = tempfile.mkdtemp(prefix="pvek8s-bench-")
    try:
        p = subprocess.Popen([binary, "--debug"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        reattach = None
        while reattach is None:
            line = p.stdout.readline()
            if not line:
                raise RuntimeError("provider exited")
            if "TF_REATTACH_PROVIDERS=" in line:
                reattach = line.split("TF_REATTACH_PROVIDERS=", 1)[1].strip().strip("'")
        shutil.copy(os.path.join(root, "examples/quickstart/main.tf"), work)
        # An empty CLI configuration: reattached providers need no installation.
        open(os.path.join(work, "cli.tfrc"), "w").close()
        env = dict(os.environ, TF_REATTACH_PROVIDERS=reattach, CHECKPOINT_DISABLE="1",
                   TF_CLI_CONFIG_FILE=os.path.join(work, "cli.tfrc"))
        # -detailed-exitcode: the last plan, after the apply, must find nothing
        # to change (exit 0, not 2).
        for cmd, want in ((["plan"], 0), (["apply", "-auto-approve"], 0),
                          (["plan", "-detailed-exitcode"], 0)):
            r = subprocess.run(["terraform", *cmd, "-input=false", "-no-color"], cwd=work,
                               env=env, capture_output=True, text=True)
            check(r.returncode == want, f"terraform {' '.join(cmd)} exited {r.returncode},"
                  f" expected {want}: {(r.stdout + r.stderr)[-1500:]}")
        if not check(p.poll() is None, f"the provider serving plan+apply exited ({p.returncode})"):
            return float("nan")
        with open(f"/proc/{p.pid}/status") as f:
            hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM")][0]
        p.terminate()
        p.wait()
        return hwm / 1024
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summary(xs):
    xs = sorted(xs)
    return {"median": statistics.median(xs), "min": xs[0], "max": xs[-1]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = os.path.join(args.build_dir, "provider/terraform-provider-proxmox")
    client_cert = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", "/dev/null", "-subj", "/CN=localhost", "-days", "1"],
        capture_output=True, text=True, check=True).stdout

    plain, tls, rss, tfv = [], [], [], []
    for _ in range(args.runs):
        ms, mib = handshake_ms(binary, None)
        plain.append(ms)
        rss.append(mib)
        tls.append(handshake_ms(binary, client_cert)[0])
        tfv.append(terraform_version_ms())
    peak = serving_peak_rss_mib(binary, root)

    res = {
        "handshake_plaintext_ms": summary(plain),
        "handshake_mtls_ms": summary(tls),
        "rss_after_handshake_mib": summary(rss),
        "peak_rss_serving_plan_apply_mib": peak,
        "baseline_terraform_version_ms": summary(tfv),
    }
    res["ratio_mtls_handshake_vs_terraform_version"] = (
        res["handshake_mtls_ms"]["median"] / res["baseline_terraform_version_ms"]["median"])
    print(f"{'figure':<42}{'median':>10}{'min':>10}{'max':>10}")
    for k in ("handshake_plaintext_ms", "handshake_mtls_ms", "baseline_terraform_version_ms",
              "rss_after_handshake_mib"):
        s = res[k]
        print(f"{k:<42}{s['median']:>10.2f}{s['min']:>10.2f}{s['max']:>10.2f}")
    print(f"{'peak_rss_serving_plan_apply_mib':<42}{peak:>10.2f}")
    print(f"{'ratio mTLS handshake / terraform version':<42}"
          f"{res['ratio_mtls_handshake_vs_terraform_version']:>10.3f}")
    goals = {"handshake under 20 ms": res["handshake_mtls_ms"]["median"] < 20,
             "serving under 20 MiB resident": peak < 20}
    for g, ok in goals.items():
        print(f"goal: {g}: {'met' if ok else 'NOT met'}")
    res["goals"] = goals
    status = finish(res, "handshake, plan/apply/plan without drift, provider alive")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return status


if __name__ == "__main__":
    sys.exit(main())
