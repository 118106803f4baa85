#!/usr/bin/env python3
"""proxmox_k8s_node scaling benchmarks, each against a baseline from the same run.

  bench/node_scaling.py BUILD_DIR [--plan-sizes 1,10,50] [--create-sizes 1,10]
                        [--repeat N] [--json FILE]

plan:   `terraform plan` of N existing proxmox_k8s_node (pvesim fast profile)
        against `terraform plan` of N terraform_data resources (Terraform's
        built-in provider: the floor any provider can reach). Goal: ratio <= 2
        at N=50 (issue 4), <= 1.5 at N=200 (issue 8).
create: `terraform apply` of N nodes at parallelism 10 (pvesim realistic
        profile) against the ideal ceil(N/10) x one node's time, measured in
        the same run. Goal: 10 nodes within 1.5x one node (issue 4).
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

VERSION = "0.1.0"
TOKEN_ID = "terraform@pam!bench"
TOKEN_SECRET = "6f1c2f0e-2b6c-4a77-9d0e-5b3c2a1f0e9d"


class Pvesim:
    def __init__(self, binary, root, profile, extra=()):
        self.data = tempfile.mkdtemp(prefix="pvesim-", dir=root)
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--data", self.data, "--profile", profile,
             "--token", f"{TOKEN_ID}={TOKEN_SECRET}", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready = json.loads(self.proc.stdout.readline())
        self.url, self.fp = ready["url"], ready["fingerprint_sha256"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def provider_block(sim):
    return f'''
terraform {{
  required_providers {{
    proxmox = {{ source = "gcid/proxmox", version = "{VERSION}" }}
  }}
}}
provider "proxmox" {{
  endpoint         = "{sim.url}"
  api_token_id     = "{TOKEN_ID}"
  api_token_secret = "{TOKEN_SECRET}"
  tls {{ fingerprint_sha256 = "{sim.fp}" }}
}}
'''


def nodes_config(sim, n):
    return provider_block(sim) + f'''
resource "proxmox_k8s_node" "n" {{
  count        = {n}
  name         = "bench${{count.index}}"
  target_nodes = ["pve1", "pve2", "pve3"]
  template     = "ubuntu-2204-template"
  memory       = 2048
  network {{}}
  ip {{
    address = "10.50.${{floor(count.index / 250)}}.${{count.index % 250 + 2}}/16"
    gateway = "10.50.0.1"
  }}
}}
'''


def floor_config(n):
    return f'''
resource "terraform_data" "n" {{
  count = {n}
  input = {{ name = "bench${{count.index}}", memory = 2048 }}
}}
'''


class Terraform:
    def __init__(self, root, binary):
        self.root = root
        mirror = os.path.join(root, "mirror/registry.terraform.io/gcid/proxmox", VERSION,
                              "linux_amd64")
        os.makedirs(mirror)
        shutil.copy(binary, os.path.join(mirror, f"terraform-provider-proxmox_v{VERSION}"))
        cli = os.path.join(root, "cli.tfrc")
        with open(cli, "w") as f:
            f.write(f'''provider_installation {{
  filesystem_mirror {{
    path    = "{root}/mirror"
    include = ["registry.terraform.io/gcid/*"]
  }}
  direct {{ exclude = ["registry.terraform.io/gcid/*"] }}
}}
''')
        self.env = dict(os.environ, TF_CLI_CONFIG_FILE=cli, CHECKPOINT_DISABLE="1",
                        TF_IN_AUTOMATION="1")
        self.env.pop("TF_LOG", None)

    def workdir(self, name, config):
        d = os.path.join(self.root, name)
        os.makedirs(d)
        with open(os.path.join(d, "main.tf"), "w") as f:
            f.write(config)
        self.run(d, "init")
        return d

    def run(self, d, *args):
        t0 = time.perf_counter()
        r = subprocess.run(["terraform", *args, "-no-color", "-input=false"], cwd=d, env=self.env,
                           capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if r.returncode not in (0, 2):
            raise RuntimeError(f"terraform {' '.join(args)} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        return dt


def med(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--plan-sizes", default="1,10,50")
    ap.add_argument("--create-sizes", default="1,10")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    provider = os.path.join(args.build_dir, "provider/terraform-provider-proxmox")
    pvesim = os.path.join(args.build_dir, "acceptance-tests/pvesim/pvesim")
    root = tempfile.mkdtemp(prefix="pvek8s-bench-")
    results = {"plan": [], "create": []}
    try:
        tf = Terraform(root, provider)
        print(f"{'benchmark':<34}{'ours s':>10}{'baseline s':>12}{'ratio':>8}  goal")
        for n in [int(x) for x in args.plan_sizes.split(",") if x]:
            sim = Pvesim(pvesim, root, "fast")
            try:
                ours = tf.workdir(f"plan-{n}", nodes_config(sim, n))
                tf.run(ours, "apply", "-auto-approve", "-parallelism=10")
                base = tf.workdir(f"floor-{n}", floor_config(n))
                tf.run(base, "apply", "-auto-approve")
                o = [tf.run(ours, "plan") for _ in range(args.repeat)]
                b = [tf.run(base, "plan") for _ in range(args.repeat)]
                tf.run(ours, "destroy", "-auto-approve", "-parallelism=10")
            finally:
                sim.stop()
            ratio = med(o) / med(b)
            goal = 1.5 if n >= 200 else 2.0
            results["plan"].append({"n": n, "ours_s": o, "baseline_s": b, "ratio": ratio,
                                    "goal": goal})
            print(f"{'plan, ' + str(n) + ' nodes vs terraform_data':<34}{med(o):>10.2f}{med(b):>12.2f}"
                  f"{ratio:>8.2f}  <= {goal} {'met' if ratio <= goal else 'NOT met'}")
        sizes = [int(x) for x in args.create_sizes.split(",") if x]
        one = None
        for n in sizes:
            times = []
            for r in range(args.repeat if n == 1 else 1):
                sim = Pvesim(pvesim, root, "realistic")
                try:
                    d = tf.workdir(f"create-{n}-{r}", nodes_config(sim, n))
                    times.append(tf.run(d, "apply", "-auto-approve", "-parallelism=10"))
                    tf.run(d, "destroy", "-auto-approve", "-parallelism=10")
                finally:
                    sim.stop()
            t = med(times)
            if n == 1:
                one = t
            ideal = math.ceil(n / 10) * one if one else t
            ratio = t / ideal
            results["create"].append({"n": n, "seconds": times, "ideal_s": ideal, "ratio": ratio})
            print(f"{'create ' + str(n) + ' at parallelism 10':<34}{t:>10.2f}{ideal:>12.2f}"
                  f"{ratio:>8.2f}  <= 1.5 vs ideal {'met' if ratio <= 1.5 else 'NOT met'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
