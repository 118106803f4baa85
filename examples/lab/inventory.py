#!/usr/bin/env python3
"""Dynamic Ansible inventory from a Terraform working directory.

Reads `terraform show -json` in TF_DIR (default: this script's folder) and
prints the `proxmox_k8s_inventory` data source's document, so no inventory
file is ever written:

  ansible-playbook -i examples/lab/inventory.py examples/lab/site.yml
"""
import json
import os
import subprocess
import sys


def find_inventory(module):
    for r in module.get("resources", []):
        if r.get("type") == "proxmox_k8s_inventory":
            return r["values"]
    for child in module.get("child_modules", []):
        found = find_inventory(child)
        if found:
            return found
    return None


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--host":
        print("{}")  # every variable is in _meta.hostvars
        return 0
    tf_dir = os.environ.get("TF_DIR", os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(["terraform", "show", "-json"], cwd=tf_dir, capture_output=True,
                         text=True, check=True).stdout
    state = json.loads(out)
    inv = find_inventory(state.get("values", {}).get("root_module", {}))
    if inv is None:
        sys.stderr.write(f"no proxmox_k8s_inventory in the state of {tf_dir}; run terraform apply\n")
        return 1
    print(inv["sensitive_json"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
