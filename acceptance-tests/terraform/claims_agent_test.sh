#!/usr/bin/env bash
# Refresh asks each guest agent at most once per boot: DHCP nodes are
# refreshed again and again, and pvesim's request log counts the agent calls
# (network-get-interfaces) per VM. Unchanged boots get no call at all; a VM
# rebooted through the API, and every VM rebooted by a memory change, gets
# exactly one more, however many refreshes and plans follow.
# Usage: claims_agent_test.sh PROVIDER_BINARY PVESIM_BINARY
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")
NODES=3

pvesim_start "$PVESIM" agents --seed 29 --log-requests
cd "$(new_workdir agents)"
config() {
  provider_block
  spread_nodes "$NODES" dhcp dhcp "  memory = $1"
}
config 2048 >main.tf
expect_exit 0 "init" tf init
expect_exit 0 "apply $NODES DHCP nodes" tf apply -auto-approve
mapfile -t vms < <(state_vmids)
ids=$(printf '%s\n' "${vms[@]}" | awk '{print $2}' | tr '\n' ' ')

# asks: the agent calls per VM so far, "vmid=count ..." in state order.
asks() {
  local v out=""
  for v in $ids; do
    out+="$v=$(sim_requests "r['path'].endswith('/qemu/$v/agent/network-get-interfaces')") "
  done
  echo "${out% }"
}
# plus BASE VMID...: BASE with one more call for each VMID given.
plus() {
  local base=$1 v out=""
  shift
  for pair in $base; do
    v=${pair%%=*}
    local n=${pair#*=}
    if [[ " $* " == *" $v "* ]]; then n=$((n + 1)); fi
    out+="$v=$n "
  done
  echo "${out% }"
}
# refreshes WHAT: two saved refreshes, a refresh-only plan and a plan.
refreshes() {
  expect_exit 0 "$1: apply -refresh-only" tf apply -refresh-only -auto-approve
  expect_exit 0 "$1: apply -refresh-only again" tf apply -refresh-only -auto-approve
  expect_exit 0 "$1: plan -refresh-only" tf plan -refresh-only
  expect_exit 0 "$1: plan is empty" tf plan -detailed-exitcode
}

created=$(asks)
echo "# agent calls after create: $created"
check "the create read every address from the agent" \
  python3 -c 'import sys; assert all(int(p.split("=")[1]) >= 1 for p in sys.argv[1].split()), sys.argv[1]' "$created"
refreshes "unchanged boots"
check "unchanged boots: no agent call in 4 runs ($(asks))" test "$(asks)" = "$created"

# One VM rebooted behind Terraform's back.
read -r node0 id0 <<<"${vms[0]}"
pid_before=$(pve GET "/nodes/$node0/qemu/$id0/status/current" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["pid"])')
pve POST "/nodes/$node0/qemu/$id0/status/reboot" >/dev/null
pid_after=$(pve GET "/nodes/$node0/qemu/$id0/status/current" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["pid"])')
check "VM $id0 runs a new boot (pid $pid_before -> $pid_after)" test "$pid_before" != "$pid_after"
refreshes "after rebooting VM $id0"
want=$(plus "$created" "$id0")
check "one more call for VM $id0 only ($(asks), wanted $want)" test "$(asks)" = "$want"

# A change that reboots every VM (memory) through terraform.
base=$(asks)
config 3072 >main.tf
expect_exit 0 "apply a memory change (reboots every VM)" tf apply -auto-approve
config 3072 >main.tf
refreshes "after the memory change"
want=$(plus "$base" $ids)
check "one more call per VM for the new boot ($(asks), wanted $want)" test "$(asks)" = "$want"

expect_exit 0 "destroy" tf destroy -auto-approve
finish
