"""Compares Terraform states with the VMs pvesim holds.

Usage: sim_report.py URL TOKEN STATE_JSON... [--prefix NAME_PREFIX] [--by-vmid]
Each STATE_JSON is `terraform show -json` output of one working directory.
Prints one "key value" line per figure: state, pvesim, duplicates, orphans,
missing (VMs named with the prefix only, when one is given), and
duplicate_names (VM names pvesim holds more than once). VMs are matched by
node and vmid, or by vmid alone with --by-vmid (when pvesim migrates VMs
while the report runs).
"""
import json
import ssl
import sys
import urllib.request


def main():
    args = sys.argv[1:]
    prefix = ""
    if "--prefix" in args:
        i = args.index("--prefix")
        prefix = args[i + 1]
        del args[i:i + 2]
    by_vmid = "--by-vmid" in args
    if by_vmid:
        args.remove("--by-vmid")
    url, token, states = args[0], args[1], args[2:]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def get(path):
        # Fault campaigns make pvesim drop connections: try a few times.
        for attempt in range(10):
            try:
                req = urllib.request.Request(
                    url + "/api2/json" + path,
                    headers={"Authorization": "PVEAPIToken=" + token})
                return json.load(urllib.request.urlopen(req, context=ctx, timeout=10))["data"]
            except Exception:
                if attempt == 9:
                    raise

    ids = []
    in_state = set()
    for path in states:
        values = json.load(open(path)).get("values") or {}
        for r in values.get("root_module", {}).get("resources", []):
            if r["type"] != "proxmox_k8s_node":
                continue
            vmid = r["values"]["vmid"]
            key = vmid if by_vmid else (r["values"]["target_node"], vmid)
            ids.append(vmid)
            in_state.add(key)
    in_sim = set()
    names = {}  # (node, vmid) or vmid -> name
    # With --by-vmid a VM may migrate between the per-node listings and be
    # seen twice or not at all: the listings are read three times and each
    # VM counts once.
    for _ in range(3 if by_vmid else 1):
        for node in get("/nodes"):
            for vm in get(f"/nodes/{node['node']}/qemu"):
                if vm.get("template"):
                    continue
                if prefix and not str(vm.get("name", "")).startswith(prefix):
                    # Unnamed VMs are clones still being made: count them.
                    if vm.get("name"):
                        continue
                vmid = int(vm["vmid"])
                key = vmid if by_vmid else (node["node"], vmid)
                in_sim.add(key)
                if vm.get("name"):
                    names[key] = vm["name"]
    print("state", len(in_state), "pvesim", len(in_sim))
    print("duplicates", len(ids) - len(set(ids)))
    print("orphans", len(in_sim - in_state))
    print("missing", len(in_state - in_sim))
    print("duplicate_names", len(names) - len(set(names.values())))


if __name__ == "__main__":
    main()
