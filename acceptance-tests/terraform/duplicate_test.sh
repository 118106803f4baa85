#!/usr/bin/env bash
# Never a second VM of a node's name. The configuration that made two nodes,
# applied again from an empty state (a fresh checkout): the plan fails naming
# every existing node with the import block that adopts it, and nothing is
# cloned. The import blocks applied: "2 imported, 0 added, 0 changed", then
# an empty plan. Replacements are no duplicates: `apply -replace` of one node
# and a template change each leave exactly one VM of every name.
# create_before_destroy is refused before anything is cloned; once the nodes it
# left deposed are deleted, the next apply makes them again.
# Usage: duplicate_test.sh PROVIDER_BINARY PVESIM_BINARY
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")

pvesim_start "$PVESIM" duplicate --seed 41
# config_file [TEMPLATE [EXTRA]]: two nodes, from the lab's template or
# TEMPLATE, with the HCL lines EXTRA in the resource.
config_file() {
  { provider_block; spread_nodes 2 dup '10.40.0.${count.index + 10}/16' "${2:-}"; } |
    sed "s/\"ubuntu-2204-template\"/\"${1:-ubuntu-2204-template}\"/" >main.tf
}

first=$(new_workdir first)
cd "$first"
config_file
expect_exit 0 "init" tf init
expect_exit 0 "apply two nodes" tf apply -auto-approve
mapfile -t vms < <(state_vmids)
check "two nodes in state" test "${#vms[@]}" = 2
before=$(sim_vmids | tr '\n' ' ')

# named_count NAME: how many VMs (not templates) of that name pvesim holds.
named_count() {
  local node
  for node in pve1 pve2 pve3; do
    pve GET "/nodes/$node/qemu" | python3 -c '
import json, sys
print(sum(1 for v in json.load(sys.stdin)["data"] if v.get("name") == sys.argv[1] and not v.get("template")))' "$1"
  done | awk '{ s += $1 } END { print s }'
}

second=$(new_workdir second)
cd "$second"
config_file
expect_exit 0 "init a fresh checkout" tf init
expect_exit 1 "its plan fails: the nodes exist" tf plan
cp "$TEST_ROOT/last.out" plan.out
for v in "${vms[@]}"; do
  read -r node id <<<"$v"
  check "the plan names $node/$id" grep -qF "vmid $id on $node" plan.out
  check "and prints its import block" grep -qF "id = \"$node/$id\"" plan.out
done
check "two 'Node already exists' errors" test "$(grep -c 'Error: Node already exists' plan.out)" = 2
expect_exit 1 "apply fails the same way" tf apply -auto-approve
check "pvesim's VMs are unchanged" test "$(sim_vmids | tr '\n' ' ')" = "$before"

# The import blocks, each with the address Terraform shows beside it.
python3 - plan.out >imports.tf <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for chunk in text.split("Error: Node already exists")[1:]:
    addr = re.search(r"with (proxmox_k8s_node\.\S+),", chunk).group(1)
    ident = re.search(r'id = "([^"]+)"', chunk).group(1)
    print('import {\n  to = %s\n  id = "%s"\n}' % (addr, ident))
PY
check "an import block per node" test "$(grep -c '^import {' imports.tf)" = 2
expect_exit 0 "apply the import blocks" tf apply -auto-approve
check "2 imported, 0 added, 0 changed" \
  output_has "Resources: 2 imported, 0 added, 0 changed, 0 destroyed."
expect_exit 0 "the next plan is empty" tf plan -detailed-exitcode
rm imports.tf

expect_exit 0 "apply -replace of one node" tf apply -auto-approve -replace='proxmox_k8s_node.n[0]'
check "it replaced it" output_has "1 added, 0 changed, 1 destroyed."
check "one VM named dup0" test "$(named_count dup0)" = 1
config_file 9000
expect_exit 0 "a template change replaces both" tf apply -auto-approve
check "both replaced" output_has "2 added, 0 changed, 2 destroyed."
check "one VM named dup0" test "$(named_count dup0)" = 1
check "one VM named dup1" test "$(named_count dup1)" = 1
expect_exit 0 "the next plan is empty" tf plan -detailed-exitcode

# create_before_destroy would put a node's replacement beside it (same name,
# same address): refused before anything is cloned, the nodes kept.
before=$(sim_vmids | tr '\n' ' ')
config_file ubuntu-2204-template '  lifecycle {
    create_before_destroy = true
  }'
expect_exit 1 "a replacement with create_before_destroy fails" tf apply -auto-approve
check "saying to remove create_before_destroy" said "remove that setting: a node and its replacement"
check "and how to remove a node it left deposed" said "drain it, delete its VM (qm destroy)"
check "nothing cloned, nothing deleted" test "$(sim_vmids | tr '\n' ' ')" = "$before"
check "both nodes still in state (deposed)" test "$(state_vmids | wc -l)" = 2
config_file ubuntu-2204-template
# qm_destroy NODE VMID: stops and deletes the VM, as an administrator would.
qm_destroy() {
  pve POST "/nodes/$1/qemu/$2/status/stop" >/dev/null
  stopped() { pve GET "/nodes/$1/qemu/$2/status/current" | grep -q '"status":"stopped"'; }
  wait_until 30 "VM $2 stopped" stopped "$1" "$2"
  pve DELETE "/nodes/$1/qemu/$2" >/dev/null
  gone() { [[ $(named_count "$3") == 0 ]]; }
  wait_until 30 "VM $2 deleted" gone "$1" "$2" "$3"
}
while read -r node id; do qm_destroy "$node" "$id" "$(pve GET "/nodes/$node/qemu/$id/config" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["name"])')"; done < <(state_vmids)
expect_exit 0 "with the deposed VMs deleted, the apply makes both again" tf apply -auto-approve
check "2 added" output_has "2 added, 0 changed, 0 destroyed"
check "one VM named dup0" test "$(named_count dup0)" = 1
expect_exit 0 "destroy" tf destroy -auto-approve
finish
