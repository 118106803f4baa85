"""Watches pvesim until an apply reaches a phase, then signals a process.

Usage: crash_watch.py URL TOKEN PREFIX PHASE TARGET TERRAFORM_PID SIGNAL SEED [DEADLINE_S]
PHASE is clone, configure, start, ipwait, delete or migrate; TARGET is "terraform"
(signal TERRAFORM_PID, or its process group with SIGINT) or "provider" (the
terraform-provider-proxmox child of TERRAFORM_PID). The seed picks how many
more observations of the phase to let pass first, so the kill lands at a
different point each seed. Prints what it did; exits 1 if the phase was never
seen before terraform ended, and 2 if neither happened within DEADLINE_S
(default 240) seconds: then it kills terraform's process group, so that the
test fails instead of waiting for a hung apply.
"""
import json
import os
import random
import signal
import ssl
import sys
import time
import urllib.request

url, token, prefix, phase, target, tf_pid, sig, seed = sys.argv[1:9]
deadline_s = float(sys.argv[9]) if len(sys.argv) > 9 else 240.0
tf_pid = int(tf_pid)
# Short enough to catch a 0.1 s phase, long enough not to flood pvesim.
PAUSE_S = 0.02
sig = getattr(signal, sig)
rng = random.Random(f"{seed}-{phase}-{target}")
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def get(path):
    req = urllib.request.Request(url + "/api2/json" + path,
                                 headers={"Authorization": "PVEAPIToken=" + token})
    return json.load(urllib.request.urlopen(req, context=ctx, timeout=10))["data"]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def provider_pid():
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == tf_pid and comm.startswith("terraform-prov"):
            return int(entry)
    return None


def reached():
    nodes = [n["node"] for n in get("/nodes")]
    vms, active = [], []
    for n in nodes:
        vms += [v for v in get(f"/nodes/{n}/qemu") if not v.get("template")]
        active += [t["type"] for t in get(f"/nodes/{n}/tasks?source=active")]
    ours = [v for v in vms if str(v.get("name", "")).startswith(prefix)]
    if phase == "clone":
        return "qmclone" in active
    if phase == "configure":
        return any(v.get("status") == "stopped" and not v.get("lock") for v in ours) and \
            "qmstart" not in active
    if phase == "start":
        return "qmstart" in active
    if phase == "ipwait":
        return any(v.get("status") == "running" for v in ours)
    if phase == "migrate":
        return "qmigrate" in active
    if phase == "delete":
        return "qmstop" in active or "qmdestroy" in active
    raise SystemExit(f"unknown phase {phase}")


extra = rng.randint(0, 2)
seen = 0
deadline = time.monotonic() + deadline_s
while alive(tf_pid):
    if time.monotonic() > deadline:
        print(f"deadline: phase {phase} not seen {extra + 1} time(s) within {deadline_s:g} s"
              f" (seen {seen}); killing terraform (pid {tf_pid}) and its group", file=sys.stderr)
        os.killpg(os.getpgid(tf_pid), signal.SIGKILL)
        sys.exit(2)
    try:
        hit = reached()
    except OSError:
        hit = False
    if hit:
        seen += 1
        if seen > extra:
            victim = tf_pid if target == "terraform" else provider_pid()
            if victim is None:
                time.sleep(PAUSE_S)
                continue
            if sig == signal.SIGINT:
                os.killpg(os.getpgid(victim), sig)  # Ctrl-C reaches the whole group
            else:
                os.kill(victim, sig)
            print(f"sent {sig.name} to {target} (pid {victim}) during {phase}"
                  f" after {seen} observation(s)")
            sys.exit(0)
    time.sleep(PAUSE_S)
print(f"terraform ended before phase {phase} was seen", file=sys.stderr)
sys.exit(1)
