#!/usr/bin/env bash
# Refresh never waits on the guest agent: nodes with DHCP addresses are
# refreshed while every agent hangs (pvesim restarted on the same data with a
# 60 s latency on /agent/), and the plan stays empty with the addresses kept.
# A VM rebooted behind Terraform's back is asked once, briefly.
# Usage: refresh_test.sh PROVIDER_BINARY PVESIM_BINARY
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")
NODES=3

pvesim_start "$PVESIM" agents --seed 11
cd "$(new_workdir refresh)"
config() {
  provider_block
  spread_nodes "$NODES" dhcp dhcp
}
config >main.tf
expect_exit 0 "init" tf init
expect_exit 0 "apply $NODES DHCP nodes" tf apply -auto-approve
terraform show -json >before.json
addresses() { python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))["values"]["root_module"]["resources"]
print(" ".join(sorted(str(x["values"]["ipv4_address"]) for x in r)))' "$1"; }
before=$(addresses before.json)
echo "# addresses: $before"
check "every node has a DHCP address" test "$(grep -o '10\.' <<<"$before" | wc -l)" = "$NODES"

# Every agent now hangs for a minute, as frozen guests make Proxmox wait.
# sim_ids, state_ids FILE: "node/vmid" of every non-template VM pvesim holds,
# and of every node in a state dump, sorted.
sim_ids() {
  local node
  for node in pve1 pve2 pve3; do
    pve GET "/nodes/$node/qemu" | python3 -c 'import json,sys
for v in json.load(sys.stdin)["data"]:
    if not v.get("template"): print(sys.argv[1] + "/" + str(v["vmid"]))' "$node"
  done | sort | tr '\n' ' '
}
state_ids() { python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))["values"]["root_module"]["resources"]
print(" ".join(sorted(x["values"]["id"] for x in r)), end=" ")' "$1"; }
pvesim_stop_all
pvesim_start "$PVESIM" agents --seed 11 --fault latency:60s:1:/agent/
restarted=$(sim_ids)
echo "# the restarted simulator holds: $restarted"
check "the restarted simulator holds the VMs of the state" test "$restarted" = "$(state_ids before.json)"
config >main.tf
started=$SECONDS
expect_exit 0 "refresh-only plan with hanging agents" tf plan -refresh-only -out=r1.plan
echo "# refresh took $((SECONDS - started)) s"
check "it did not wait for the agents" test $((SECONDS - started)) -lt 30
check "and saw no drift" no_drift r1.plan
expect_exit 0 "apply -refresh-only" tf apply -refresh-only -auto-approve
terraform show -json >after.json
check "the addresses are kept" test "$(addresses after.json)" = "$before"

# A reboot behind Terraform's back: the address must be asked again, once,
# and a hanging agent leaves the known one.
vmid=$(python3 -c 'import json
r=json.load(open("after.json"))["values"]["root_module"]["resources"][0]["values"]
print(r["target_node"], r["vmid"])')
read -r node id <<<"$vmid"
pve POST "/nodes/$node/qemu/$id/status/reboot" >/dev/null
started=$SECONDS
expect_exit 0 "refresh after an out-of-band reboot, agents hanging" \
  tf plan -refresh-only -out=r2.plan
check "the agent was asked briefly, not waited for" test $((SECONDS - started)) -lt 30
check "and the known address was kept" no_drift r2.plan
expect_exit 0 "the next plan is empty" tf plan -detailed-exitcode

pvesim_stop_all
pvesim_start "$PVESIM" agents --seed 11
config >main.tf
expect_exit 0 "destroy" tf destroy -auto-approve
finish
