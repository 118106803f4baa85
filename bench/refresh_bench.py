#!/usr/bin/env python3
"""Refresh of running nodes whose guest agents stop answering (issue 8, item 4).

  bench/refresh_bench.py BUILD_DIR [--nodes 50] [--repeat 3] [--json FILE]

N running proxmox_k8s_node with `ip { address = "dhcp" }` and N with static
addresses are applied once on pvesim `fast`. Each round then times
`terraform plan -refresh-only` of both sets (in a random order) in two phases
(in a random order), each on a freshly started pvesim:

  answering  pvesim as it was: every guest agent answers at once (baseline);
  silent     pvesim stopped (by its PID) and started again on the same data
             directory with `--fault latency:60s:1:/agent/`: every guest agent
             hangs for a minute, as a frozen guest makes Proxmox wait.

Both phases start on a freshly started pvesim (the restart is how the bench
switches the fault, not what it measures). The certificate stays (same data
directory, same fingerprint); only the URL changes, so the provider block is
rewritten on every restart. Goal: silent / answering <= 1.2 (refresh never
waits on an agent: a DHCP address is read once per boot of the VM). Every
refresh-only plan must show no drift and keep the applied addresses, every
DHCP node must have its lease (else exit 1). As pvesim's SIGTERM waits for
requests in flight, a silent pvesim that takes seconds to stop shows that a
refresh asked a hanging agent: that fails the run too. The ratios are figures.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from node_scaling import Pvesim, Terraform, nodes_config, provider_block  # noqa: E402

SILENT_AGENTS = "latency:60s:1:/agent/"


def dhcp_config(sim, n):
    return provider_block(sim) + f'''
resource "proxmox_k8s_node" "n" {{
  count        = {n}
  name         = "dhcp${{count.index}}"
  target_nodes = ["pve1", "pve2", "pve3"]
  template     = "ubuntu-2204-template"
  memory       = 2048
  network {{}}
  ip {{
    address = "dhcp"
  }}
}}
'''


CONFIGS = {"dhcp": dhcp_config, "static": lambda sim, n: nodes_config(sim, n, prefix="static")}


def show(tf, d, *plan_file):
    r = subprocess.run(["terraform", "show", "-json", *plan_file], cwd=d, env=tf.env,
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def addresses(values):
    resources = values["root_module"].get("resources", [])
    return sorted(str(x["values"].get("ipv4_address")) for x in resources)


def drift(tf, d, plan_file):
    """What a saved refresh-only plan found changed, and the refreshed addresses."""
    plan = show(tf, d, plan_file)
    changed = [c["address"] for c in plan.get("resource_drift", [])]
    changed += [c["address"] for c in plan.get("resource_changes", [])
                if c["change"]["actions"] != ["no-op"]]
    return changed, addresses(plan["prior_state"]["values"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    provider = os.path.join(args.build_dir, "provider/terraform-provider-proxmox")
    pvesim = os.path.join(args.build_dir, "acceptance-tests/pvesim/pvesim")
    root = tempfile.mkdtemp(prefix="pvek8s-bench-refresh-")
    n = args.nodes
    times = {(kind, agents): [] for kind in CONFIGS for agents in ("answering", "silent")}
    checks = []
    # pvesim's SIGTERM waits for requests in flight: a stop that takes seconds
    # after a silent phase means a refresh asked a hanging agent.
    silent_stops = []
    sim = None
    try:
        tf = Terraform(root, provider)
        sim = Pvesim(pvesim, root, "fast")
        data, fingerprint = sim.data, sim.fp
        dirs = {kind: tf.workdir(f"refresh-{kind}", make(sim, n)) for kind, make in CONFIGS.items()}
        for d in dirs.values():
            tf.run(d, "apply", "-auto-approve", "-parallelism=10")
        applied = {kind: addresses(show(tf, d)["values"]) for kind, d in dirs.items()}

        def restart(agents):
            nonlocal sim
            t0 = time.perf_counter()
            sim.stop()
            if "--fault" in sim.proc.args:
                silent_stops.append(time.perf_counter() - t0)
            sim = Pvesim(pvesim, root, "fast", data=data,
                         extra=("--fault", SILENT_AGENTS) if agents == "silent" else ())
            if sim.fp != fingerprint:
                raise RuntimeError("pvesim changed its certificate on restart")
            for kind, d in dirs.items():
                tf.write(d, CONFIGS[kind](sim, n))

        # Every phase starts on a freshly started pvesim, so both pay the same
        # restart (the bench's way to switch the fault, not what is measured).
        for r in range(args.repeat):
            order = ["answering", "silent"]
            random.shuffle(order)
            for agents in order:
                restart(agents)
                for kind in random.sample(list(dirs), len(dirs)):
                    plan_file = f"r{r}-{agents}.plan"
                    s = tf.run(dirs[kind], "plan", "-refresh-only", f"-out={plan_file}")
                    times[(kind, agents)].append(s["wall"])
                    changed, addrs = drift(tf, dirs[kind], plan_file)
                    checks.append({"kind": kind, "agents": agents, "round": r,
                                   "drift": changed, "addresses_kept": addrs == applied[kind]})
        # Destroy with answering agents (a stop may ask the agent to shut down).
        restart("answering")
        for d in dirs.values():
            tf.run(d, "destroy", "-auto-approve", "-parallelism=10")
    finally:
        if sim:
            sim.stop()
        shutil.rmtree(root, ignore_errors=True)

    asked = [x for x in silent_stops if x > 2]
    bad = [c for c in checks if c["drift"] or not c["addresses_kept"]]
    leases = [a for a in applied["dhcp"] if a.startswith("10.")]
    results = {"nodes": n, "repeat": args.repeat, "fault": SILENT_AGENTS, "figures": [],
               "checks_failed": bad, "dhcp_addresses": len(leases),
               "silent_pvesim_stop_s": silent_stops}
    print(f"refresh-only plan of {n} running nodes, pvesim fast, {args.repeat} interleaved rounds"
          f" (median s)")
    print(f"{'benchmark':<44}{'silent s':>9}{'answering s':>13}{'ratio':>8}  goal")
    for kind in CONFIGS:
        silent, answering = times[(kind, "silent")], times[(kind, "answering")]
        ratio = statistics.median(silent) / statistics.median(answering)
        results["figures"].append({"kind": kind, "silent_s": silent, "answering_s": answering,
                                   "ratio": ratio, "goal": 1.2})
        label = f"refresh, {n} {kind} nodes, agents silent"
        print(f"{label:<44}{statistics.median(silent):>9.2f}{statistics.median(answering):>13.2f}"
              f"{ratio:>8.2f}  <= 1.2 {'met' if ratio <= 1.2 else 'NOT met'}")
        print(f"  runs silent {', '.join(f'{x:.2f}' for x in silent)};"
              f" answering {', '.join(f'{x:.2f}' for x in answering)}")
    print(f"no drift and addresses kept in every refresh: {'yes' if not bad else 'NO'}"
          f" ({len(leases)} of {n} DHCP nodes have a lease)")
    print(f"agents asked while silent: {'YES' if asked else 'no'} (the silent pvesim stopped in"
          f" at most {max(silent_stops):.2f} s; a request hanging on an agent holds it up to 60 s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 1 if bad or asked or len(leases) != n else 0


if __name__ == "__main__":
    sys.exit(main())
