#!/usr/bin/env python3
"""proxmox_k8s_node scaling benchmarks, each against a baseline from the same run.

  bench/node_scaling.py BUILD_DIR [--plan-sizes 1,10,50] [--create-sizes 1,10]
                        [--repeat N] [--json FILE] [--perf DIR]

plan:   `terraform plan` of N existing proxmox_k8s_node (pvesim fast profile)
        against `terraform plan` of N terraform_data resources (Terraform's
        built-in provider: the floor any provider can reach). Goal: ratio <= 2
        at N=50 (issue 4), <= 1.5 at N=200 (issue 8). Also, in the same run:
        - CPU: terraform's total CPU time (its rusage, children included) for
          both, and the provider processes' share of it, from plans run through
          a dev_overrides wrapper that records each provider process's CPU;
        - the external-provider floor: `terraform plan` of N proxmox_k8s_cluster
          (same provider, local-only resource: no Proxmox call, tiny Read)
          against the same N terraform_data: what Terraform itself costs per
          resource of any gRPC provider;
        - apply: the `terraform apply` that creates the N nodes (wall, CPU,
          provider share) against the apply of N terraform_data.
create: `terraform apply` of N nodes at parallelism 10 (pvesim realistic
        profile) against the ideal ceil(N/10) x one node's time, measured in
        the same run. Goal: 10 nodes within 1.5x one node (issue 4).

Goals are figures only. Correctness is the exit status (1, each problem
printed as "CORRECTNESS: ..."): every apply makes N distinct vmids and exactly
those VMs in pvesim (no duplicate, no orphan, also with injected faults), every
plan after an apply shows no change (no drift), and every destroy leaves
pvesim's VMs as they were before the apply (nothing leaked).
"""
import argparse
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from correctness import check, finish  # noqa: E402

VERSION = "0.1.0"
TOKEN_ID = "terraform@pam!bench"
TOKEN_SECRET = "6f1c2f0e-2b6c-4a77-9d0e-5b3c2a1f0e9d"

class Pvesim:
    """One pvesim process; `data` reuses a data directory (a restart keeps every VM)."""

    def __init__(self, binary, root, profile, extra=(), data=None):
        self.data = data or tempfile.mkdtemp(prefix="pvesim-", dir=root)
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--data", self.data, "--profile", profile,
             "--token", f"{TOKEN_ID}={TOKEN_SECRET}", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError(f"pvesim exited with {self.proc.returncode} before it was ready")
        ready = json.loads(line)
        self.url, self.fp = ready["url"], ready["fingerprint_sha256"]

    def vm_ids(self):
        """The VMs pvesim holds: it keeps one file per VM in its data directory."""
        vms = os.path.join(self.data, "vms")
        return sorted(int(f[:-5]) for f in os.listdir(vms) if f.endswith(".json"))

    def stop(self):
        # SIGTERM to this process only (its PID); it finishes the current requests.
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


def nodes_config(sim, n, prefix="bench"):
    return provider_block(sim) + f'''
resource "proxmox_k8s_node" "n" {{
  count        = {n}
  name         = "{prefix}${{count.index}}"
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


def cluster_config(n):
    """N proxmox_k8s_cluster: made locally, no Proxmox call at plan or apply.
    The endpoint is a closed port, so any call would fail the run."""
    return f'''
terraform {{
  required_providers {{
    proxmox = {{ source = "gcid/proxmox", version = "{VERSION}" }}
  }}
}}
provider "proxmox" {{
  endpoint         = "https://127.0.0.1:9"
  api_token_id     = "{TOKEN_ID}"
  api_token_secret = "{TOKEN_SECRET}"
}}
resource "proxmox_k8s_cluster" "c" {{
  count                  = {n}
  name                   = "bench${{count.index}}"
  control_plane_endpoint = "10.50.0.${{count.index % 250 + 2}}:6443"
}}
'''


def floor_config(n):
    return f'''
resource "terraform_data" "n" {{
  count = {n}
  input = {{ name = "bench${{count.index}}", memory = 2048 }}
}}
'''


class Sample(dict):
    """One terraform run: wall seconds, CPU seconds of terraform and every
    process it waited for (providers included), and with the wrapper the
    provider processes' own CPU seconds and how many there were."""


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# The wrapper terraform starts instead of the provider (dev_overrides): it runs
# the real provider as its child and writes the CPU time of its children (the
# provider) to a file of its own (`times`: the shell's line, then the
# children's). bash's `times` is exact to the millisecond; GNU time's %U/%S
# (1.9) truncate to 10 ms per process, which under-reads 3 short-lived
# processes per plan by ~30 ms on average (0.14 instead of 0.17 s at 50 nodes).
WRAPPER = """#!/bin/bash
"{real}" "$@"
rc=$?
times >"{cpu_dir}/$$"
exit $rc
"""


class Terraform:
    def __init__(self, root, binary):
        self.root = root
        mirror = os.path.join(root, "mirror/registry.terraform.io/gcid/proxmox", VERSION,
                              "linux_amd64")
        os.makedirs(mirror)
        self.provider = os.path.join(mirror, f"terraform-provider-proxmox_v{VERSION}")
        shutil.copy(binary, self.provider)
        installation = f'''  filesystem_mirror {{
    path    = "{root}/mirror"
    include = ["registry.terraform.io/gcid/*"]
  }}
  direct {{ exclude = ["registry.terraform.io/gcid/*"] }}
'''
        cli = os.path.join(root, "cli.tfrc")
        with open(cli, "w") as f:
            f.write(f"provider_installation {{\n{installation}}}\n")
        self.env = dict(os.environ, TF_CLI_CONFIG_FILE=cli, CHECKPOINT_DISABLE="1",
                        TF_IN_AUTOMATION="1")
        self.env.pop("TF_LOG", None)
        # dev_overrides skip the lock file's checksum, so the wrapper can stand
        # in for the provider in a working directory initialised from the mirror.
        self.wrap_dir = os.path.join(root, "wrapped")
        os.makedirs(self.wrap_dir)
        self.cpu_dir = os.path.join(root, "provider-cpu")
        self.set_wrapper()
        wrapped = os.path.join(root, "cli-wrapped.tfrc")
        with open(wrapped, "w") as f:
            f.write(f'''provider_installation {{
  dev_overrides {{ "gcid/proxmox" = "{self.wrap_dir}" }}
{installation}}}
''')
        self.env_wrapped = dict(self.env, TF_CLI_CONFIG_FILE=wrapped)

    def set_wrapper(self):
        path = os.path.join(self.wrap_dir, "terraform-provider-proxmox")
        with open(path, "w") as f:
            f.write(WRAPPER.format(real=self.provider, cpu_dir=self.cpu_dir))
        os.chmod(path, 0o755)

    def workdir(self, name, config):
        d = os.path.join(self.root, name)
        os.makedirs(d)
        self.write(d, config)
        self.run(d, "init")
        return d

    @staticmethod
    def write(d, config):
        with open(os.path.join(d, "main.tf"), "w") as f:
            f.write(config)

    def run(self, d, *args, wrapped=False, prefix=()):
        if wrapped:
            shutil.rmtree(self.cpu_dir, ignore_errors=True)
            os.makedirs(self.cpu_dir)
        cpu0 = children_cpu()
        t0 = time.perf_counter()
        r = subprocess.run([*prefix, "terraform", *args, "-no-color", "-input=false"], cwd=d,
                           env=self.env_wrapped if wrapped else self.env,
                           capture_output=True, text=True)
        dt = time.perf_counter() - t0
        cpu = children_cpu() - cpu0
        if r.returncode not in (0, 2):
            raise RuntimeError(f"terraform {' '.join(args)} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        sample = Sample(wall=dt, cpu=cpu, rc=r.returncode)
        if wrapped:
            # Per provider process, the children's line of `times`:
            # "XmY.YYYs XmY.YYYs" (user, system).
            procs = []
            for name in os.listdir(self.cpu_dir):
                with open(os.path.join(self.cpu_dir, name)) as f:
                    procs.append(f.read().splitlines()[1].split())
            sample["provider_cpu"] = sum(_seconds(u) + _seconds(s) for u, s in procs)
            sample["provider_procs"] = len(procs)
        return sample


def node_vmids(tf, d):
    """vmid of every proxmox_k8s_node in the working directory's state."""
    r = subprocess.run(["terraform", "show", "-json", "-no-color"], cwd=d, env=tf.env,
                       capture_output=True, text=True, check=True)
    values = json.loads(r.stdout).get("values") or {}
    return [x["values"]["vmid"] for x in values.get("root_module", {}).get("resources", [])
            if x["type"] == "proxmox_k8s_node"]


def check_created(tf, d, sim, before, n, what):
    """After an apply of n nodes: n distinct vmids, and pvesim holds exactly
    the VMs it held before plus those (no duplicate, no orphan)."""
    ids = node_vmids(tf, d)
    check(len(ids) == n and len(set(ids)) == n,
          f"{what}: state has vmids {sorted(ids)} for {n} nodes (duplicates or missing)")
    extra = sorted(set(sim.vm_ids()) - set(before))
    check(extra == sorted(ids), f"{what}: pvesim has new VMs {extra}, state has {sorted(ids)}")


def check_destroyed(sim, before, what):
    left = sorted(set(sim.vm_ids()) - set(before))
    check(not left, f"{what}: destroy left VMs {left} in pvesim")


def check_no_drift(sample, what):
    # Plans run with -detailed-exitcode: 2 means the plan has changes.
    check(sample["rc"] == 0, f"{what}: plan after apply shows changes (exit {sample['rc']})")


def _seconds(times_field):
    m, s = times_field.rstrip("s").split("m")
    return int(m) * 60 + float(s)


def med(xs):
    return statistics.median(xs)


def row(label, ours, base, ratio=None, goal=""):
    ratio = ours / base if ratio is None else ratio
    print(f"{label:<44}{ours:>8.2f}{base:>12.2f}{ratio:>8.2f}  {goal}")
    return ratio


def summarise(samples):
    """Medians of a list of Samples, the lists themselves kept for the JSON."""
    out = {"wall_s": [x["wall"] for x in samples], "cpu_s": [x["cpu"] for x in samples]}
    out["wall"], out["cpu"] = med(out["wall_s"]), med(out["cpu_s"])
    if samples and "provider_cpu" in samples[0]:
        out["provider_cpu_s"] = [x["provider_cpu"] for x in samples]
        out["provider_procs"] = [x["provider_procs"] for x in samples]
        out["provider_cpu"] = med(out["provider_cpu_s"])
        out["provider_share"] = med([x["provider_cpu"] / x["cpu"] for x in samples])
    return out


def plan_scaling(tf, pvesim, root, n, args):
    """Plan (and the apply before it) of N nodes, N terraform_data and N
    proxmox_k8s_cluster on one pvesim; the plans interleaved in a random order
    per round. Node plans run both plain (wall time, as users run them) and
    through the CPU wrapper (provider share)."""
    sim = Pvesim(pvesim, root, "fast")
    try:
        before = sim.vm_ids()
        dirs = {"nodes": tf.workdir(f"plan-{n}", nodes_config(sim, n)),
                "floor": tf.workdir(f"floor-{n}", floor_config(n)),
                "cluster": tf.workdir(f"cluster-{n}", cluster_config(n))}
        applies = {"nodes": tf.run(dirs["nodes"], "apply", "-auto-approve", "-parallelism=10",
                                   wrapped=True),
                   "floor": tf.run(dirs["floor"], "apply", "-auto-approve", "-parallelism=10"),
                   "cluster": tf.run(dirs["cluster"], "apply", "-auto-approve",
                                     "-parallelism=10", wrapped=True)}
        check_created(tf, dirs["nodes"], sim, before, n, f"plan {n}: apply")
        runs = {"nodes": [], "nodes_wrapped": [], "floor": [], "cluster": [],
                "cluster_wrapped": []}
        for _ in range(args.repeat):
            order = list(runs)
            random.shuffle(order)
            for k in order:
                runs[k].append(tf.run(dirs[k.split("_")[0]], "plan", "-detailed-exitcode",
                                      wrapped=k.endswith("_wrapped")))
                check_no_drift(runs[k][-1], f"plan {n}: {k}")
        if args.perf:
            perf_plan(tf, dirs["nodes"], n, args.perf)
        tf.run(dirs["nodes"], "destroy", "-auto-approve", "-parallelism=10")
        check_destroyed(sim, before, f"plan {n}")
    finally:
        sim.stop()
    plan = {k: summarise(v) for k, v in runs.items()}
    apply = {k: summarise([v]) for k, v in applies.items()}
    nodes, floor, cluster = plan["nodes"], plan["floor"], plan["cluster"]
    goal = 1.5 if n >= 200 else 2.0
    ratio = nodes["wall"] / floor["wall"]
    row(f"plan, {n} nodes vs terraform_data", nodes["wall"], floor["wall"], ratio,
        f"<= {goal} {'met' if ratio <= goal else 'NOT met'}")
    cpu_ratio = row("  CPU, terraform total", nodes["cpu"], floor["cpu"])
    w = plan["nodes_wrapped"]
    print(f"  provider CPU {w['provider_cpu']:.3f} s of {w['cpu']:.3f} s"
          f" ({100 * w['provider_share']:.0f}%, {max(w['provider_procs'])} processes)")
    cl_ratio = row(f"plan, {n} k8s_cluster vs terraform_data", cluster["wall"], floor["wall"],
                   goal="external-provider floor")
    cl_cpu_ratio = row("  CPU, terraform total", cluster["cpu"], floor["cpu"])
    w = plan["cluster_wrapped"]
    print(f"  provider CPU {w['provider_cpu']:.3f} s of {w['cpu']:.3f} s"
          f" ({100 * w['provider_share']:.0f}%)")
    a = apply["nodes"]
    ap_ratio = row(f"apply, {n} nodes vs terraform_data", a["wall"], apply["floor"]["wall"])
    ap_cpu_ratio = row("  CPU, terraform total", a["cpu"], apply["floor"]["cpu"])
    print(f"  provider CPU {a['provider_cpu']:.3f} s of {a['cpu']:.3f} s"
          f" ({100 * a['provider_share']:.0f}%)")
    return {"n": n, "ours_s": nodes["wall_s"], "baseline_s": floor["wall_s"], "ratio": ratio,
            "goal": goal, "cpu_ratio": cpu_ratio, "cluster_ratio": cl_ratio,
            "cluster_cpu_ratio": cl_cpu_ratio, "apply_ratio": ap_ratio,
            "apply_cpu_ratio": ap_cpu_ratio, "plans": plan, "applies": apply}


def perf_plan(tf, d, n, out):
    """One node plan under `perf record` (terraform and, inherited, every
    provider process it starts); flat profiles by command and DSO and by DSO
    and symbol written next to perf.data while the profiled binaries exist."""
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    data = os.path.join(out, f"plan-{n}.data")
    tf.run(d, "plan", prefix=("perf", "record", "-q", "-F", "4999", "-o", data, "--"))
    for sort in ("comm,dso", "dso,sym"):
        r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                            "--sort", sort], capture_output=True, text=True)
        with open(f"{data[:-5]}.{sort.replace(',', '-')}.txt", "w") as f:
            f.write(r.stdout)
    print(f"  perf profile of one {n}-node plan (terraform and its providers) in {out}")


def print_cpu_table(plans):
    print("\nwhere plan time goes (medians; ratios to N terraform_data; CPU = terraform's total"
          " with children;\nprovider = the provider processes, from the wrapped plans;"
          " tf side = total - provider)")
    print(f"{'N':>5}{'nodes wall':>11}{'cluster wall':>13}{'nodes CPU':>10}{'cluster CPU':>12}"
          f"{'provider s':>11}{'total s':>8}{'share':>6}{'tf side s':>10}{'tf side/floor':>14}"
          f"{'cl. share':>10}")
    for p in plans:
        w, c = p["plans"]["nodes_wrapped"], p["plans"]["cluster_wrapped"]
        side = w["cpu"] - w["provider_cpu"]
        p["terraform_side_cpu"] = side
        p["terraform_side_ratio"] = side / p["plans"]["floor"]["cpu"]
        print(f"{p['n']:>5}{p['ratio']:>11.2f}{p['cluster_ratio']:>13.2f}{p['cpu_ratio']:>10.2f}"
              f"{p['cluster_cpu_ratio']:>12.2f}{w['provider_cpu']:>11.3f}{w['cpu']:>8.3f}"
              f"{100 * w['provider_share']:>5.0f}%{side:>10.3f}{p['terraform_side_ratio']:>14.2f}"
              f"{100 * c['provider_share']:>9.0f}%")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--plan-sizes", default="1,10,50")
    ap.add_argument("--create-sizes", default="1,10")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--create-faults", action="store_true",
                    help="also create with pvesim injecting 20%% lock timeouts on clones")
    ap.add_argument("--json")
    ap.add_argument("--perf", metavar="DIR",
                    help="also profile one node plan per N with perf record (flat profiles into DIR)")
    args = ap.parse_args()
    provider = os.path.join(args.build_dir, "provider/terraform-provider-proxmox")
    pvesim = os.path.join(args.build_dir, "acceptance-tests/pvesim/pvesim")
    root = tempfile.mkdtemp(prefix="pvek8s-bench-")
    results = {"plan": [], "create": []}
    try:
        tf = Terraform(root, provider)
        print(f"{'benchmark':<44}{'ours s':>8}{'baseline s':>12}{'ratio':>8}  goal")
        for n in [int(x) for x in args.plan_sizes.split(",") if x]:
            results["plan"].append(plan_scaling(tf, pvesim, root, n, args))
        if results["plan"]:
            print_cpu_table(results["plan"])
        sizes = [int(x) for x in args.create_sizes.split(",") if x]
        variants = [("", [])]
        if args.create_faults:
            variants.append((", 20% lock timeouts",
                             ["--seed", "42", "--fault", "lock-timeout:clone:0.2"]))
        for label, extra in variants:
            one = None
            for n in sizes:
                times = []
                for r in range(args.repeat if n == 1 else 1):
                    sim = Pvesim(pvesim, root, "realistic", extra)
                    try:
                        what = f"create {n}{label} #{r}"
                        before = sim.vm_ids()
                        d = tf.workdir(f"create-{n}-{r}{'-faults' if extra else ''}",
                                       nodes_config(sim, n))
                        times.append(tf.run(d, "apply", "-auto-approve", "-parallelism=10")["wall"])
                        check_created(tf, d, sim, before, n, what)
                        check_no_drift(tf.run(d, "plan", "-detailed-exitcode"), what)
                        tf.run(d, "destroy", "-auto-approve", "-parallelism=10")
                        check_destroyed(sim, before, what)
                    finally:
                        sim.stop()
                t = med(times)
                if n == 1:
                    one = t
                ideal = math.ceil(n / 10) * one if one else t
                ratio = t / ideal
                results["create"].append({"n": n, "faults": bool(extra), "seconds": times,
                                          "ideal_s": ideal, "ratio": ratio})
                goal = (f"<= 1.3 vs ideal {'met' if ratio <= 1.3 else 'NOT met'}" if not extra
                        else "(no goal; the price of the faults)")
                row(f"create {n} at parallelism 10{label}", t, ideal, ratio, goal)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    status = finish(results, "no duplicate, no orphan, no drift, nothing leaked")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return status


if __name__ == "__main__":
    sys.exit(main())
