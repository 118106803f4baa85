#!/usr/bin/env bash
# Import with the configuration that created the nodes is clean, whether the
# optional blocks (cpu, disk) are written or left out: the apply of the
# import blocks says "2 imported, 0 added, 0 changed" and the next plan is
# empty. So is an import with -generate-config-out.
# Usage: import_test.sh PROVIDER_BINARY PVESIM_BINARY
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")

pvesim_start "$PVESIM" import --seed 43
BLOCKS='  cpu {
    cores = 3
  }
  disk {
    size = "4G"
  }'

# import_blocks DIR [ADDRESS_PREFIX]: an import block per node in DIR's
# state, to the same address (or ADDRESS_PREFIX<index>).
import_blocks() {
  (cd "$1" && terraform show -json) | python3 -c '
import json, sys
prefix = sys.argv[1]
rs = json.load(sys.stdin)["values"]["root_module"]["resources"]
for r in rs:
    to = prefix + str(r["index"]) if prefix else r["address"]
    print("import {\n  to = %s\n  id = \"%s\"\n}" % (to, r["values"]["id"]))' "${2:-}"
}

# scenario NAME EXTRA: two nodes made with EXTRA in their resource, then
# imported by the same configuration in another working directory.
scenario() {
  local name=$1 extra=$2 made adopted
  made=$(new_workdir "$name-made")
  adopted=$(new_workdir "$name-adopted")
  cd "$made"
  { provider_block; spread_nodes 2 "$name" dhcp "$extra"; } >main.tf
  expect_exit 0 "$name: init" tf init
  expect_exit 0 "$name: apply two nodes" tf apply -auto-approve
  cd "$adopted"
  cp "$made/main.tf" main.tf
  import_blocks "$made" >imports.tf
  expect_exit 0 "$name: init the importing directory" tf init
  expect_exit 0 "$name: apply the import blocks" tf apply -auto-approve
  check "$name: 2 imported, 0 added, 0 changed" \
    output_has "Resources: 2 imported, 0 added, 0 changed, 0 destroyed."
  expect_exit 0 "$name: the next plan is empty" tf plan -detailed-exitcode

  local generated
  generated=$(new_workdir "$name-generated")
  cd "$generated"
  provider_block >main.tf
  import_blocks "$made" proxmox_k8s_node.g >imports.tf
  expect_exit 0 "$name: init a directory without the resources" tf init
  expect_exit 0 "$name: plan -generate-config-out" tf plan -generate-config-out=generated.tf
  expect_exit 0 "$name: apply the generated configuration" tf apply -auto-approve
  check "$name: generated: 2 imported, 0 added, 0 changed" \
    output_has "Resources: 2 imported, 0 added, 0 changed, 0 destroyed."
  expect_exit 0 "$name: generated: the next plan is empty" tf plan -detailed-exitcode

  cd "$adopted"
  expect_exit 0 "$name: destroy" tf destroy -auto-approve
}

scenario omitted ""
scenario written "$BLOCKS"
finish
