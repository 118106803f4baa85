#!/usr/bin/env bash
# The ownership marker is checked before every update and delete: when an
# administrator changes a node's marker (another owner) or removes it out of
# band, through the API with their own token, `terraform apply` of an update
# and `terraform destroy` refuse with an error naming the VM and the reason,
# and the VM stays as it was. A refreshed run forgets such VMs with a warning
# and still does not touch them.
# Usage: claims_marker_test.sh PROVIDER_BINARY PVESIM_BINARY
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")
OPS_TOKEN='ops@pve!oob=5d1e7c44-8f0b-4f7e-9a0e-3c2b1a0f9e8d'

pvesim_start "$PVESIM" marker --seed 17 --token "$OPS_TOKEN"
cd "$(new_workdir marker)"
config() {
  provider_block
  spread_nodes 2 owned dhcp "  memory = $1"
}
config 2048 >main.tf
expect_exit 0 "init" tf init
expect_exit 0 "apply two nodes" tf apply -auto-approve
mapfile -t vms < <(state_vmids)
check "two nodes in state" test "${#vms[@]}" = 2
read -r node0 id0 <<<"${vms[0]}"
read -r node1 id1 <<<"${vms[1]}"

# ops NODE VMID DESCRIPTION: an administrator's PUT config with their token.
ops() {
  curl -sfk -X PUT -H "Authorization: PVEAPIToken=$OPS_TOKEN" \
    --data-urlencode "description=$3" "$PVE_URL/api2/json/nodes/$1/qemu/$2/config" >/dev/null
}
description() {
  pve GET "/nodes/$1/qemu/$2/config" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["description"])'
}
# The first VM now carries another resource's marker, the second none.
foreign=$(description "$node0" "$id0" | sed -E 's/owner=[0-9a-f]+/owner=00000000deadbeef/')
check "the rewritten description is still a marker" grep -q '^\[pvek8s\] owner=00000000deadbeef;' <<<"$foreign"
ops "$node0" "$id0" "$foreign"
ops "$node1" "$id1" "hand-made VM, no marker"
snapshot() {  # every VM's config and status, as the administrator left them
  local n i
  for v in "${vms[@]}"; do
    read -r n i <<<"$v"
    pve GET "/nodes/$n/qemu/$i/config"
    pve GET "/nodes/$n/qemu/$i/status/current" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
print(d["status"], d.get("pid"), d.get("maxmem"))'
  done
}
before=$(snapshot)
check "the administrator's changes are in place" grep -q "hand-made VM, no marker" <<<"$before"

# Without a refresh the provider itself must notice, at update and at delete.
config 3072 >main.tf
expect_exit 1 "an update of the changed VMs is refused" tf apply -refresh=false -auto-approve
check "the refusal names VM $id0 and its other owner" \
  output_has "VM $id0 on $node0 belongs to another pvek8s resource (owner 00000000deadbeef)"
check "the refusal names VM $id1 without a marker" \
  output_has "VM $id1 on $node1 has no pvek8s ownership marker"
check "both are reported as refusals" test "$(grep -c 'Refusing to modify VM' "$TEST_ROOT/last.out")" = 2
check "the VMs are untouched by the update" test "$(snapshot)" = "$before"

config 2048 >main.tf
expect_exit 1 "a destroy of the changed VMs is refused" tf destroy -refresh=false -auto-approve
check "the destroy names VM $id0 and its other owner" \
  output_has "VM $id0 on $node0 belongs to another pvek8s resource"
check "the destroy names VM $id1 without a marker" \
  output_has "VM $id1 on $node1 has no pvek8s ownership marker"
check "both are reported as refusals" test "$(grep -c 'Refusing to delete VM' "$TEST_ROOT/last.out")" = 2
check "both VMs are still there" test "$(sim_vmids | tr '\n' ' ')" = "$(printf '%s\n' "$id0" "$id1" | sort -n | tr '\n' ' ')"
check "and untouched by the destroy" test "$(snapshot)" = "$before"
check "the state still holds both" test "$(state_vmids | wc -l)" = 2

# With a refresh, the VMs are no longer this configuration's: forgotten with
# a warning, never deleted.
expect_exit 0 "a refreshed plan" tf plan
check "it warns that the VMs were replaced outside Terraform" output_has "VM replaced outside Terraform"
check "it plans new VMs, never an update or delete of these" \
  output_has "Plan: 2 to add, 0 to change, 0 to destroy."
expect_exit 0 "a refreshed destroy succeeds" tf destroy -auto-approve
check "it destroys nothing" output_has "Resources: 0 destroyed."
check "the VMs are still there after it" test "$(sim_vmids | wc -l)" = 2
check "and untouched" test "$(snapshot)" = "$before"
check "the state is empty" test -z "$(state_vmids)"
finish
