#!/usr/bin/env bash
# VMs that change nodes (issue 14, items 1 and 2), with the real terraform:
#  - out-of-band online and offline migrations are followed by refresh: the
#    plan is empty with target_nodes; with target_node it is an in-place move
#    back keeping the vmid; ignore_changes = [target_node] keeps the VM put;
#  - a changed target_node migrates in place (vmid and MACs kept, the QEMU
#    process restarted on the target, no reboot), with a plan warning; a
#    stopped VM moves offline; a linked clone on local storage and an unknown
#    node are refused at plan;
#  - SIGKILL of terraform during a migration converges on the next apply;
#  - a down node never re-creates its VMs; HA's restart is followed, and an
#    HA-managed VM is moved through HA.
# Never anything created or orphaned: pvesim's VM ids are checked throughout.
# Usage: moves_test.sh PROVIDER_BINARY PVESIM_BINARY
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")

# Migrations take 1.5 s + 0.5 s/GiB, so the crash check can catch one; HA
# fences a down node after 3 s and moves its VMs 1 s after being asked.
pvesim_start "$PVESIM" moves --seed 14 --timing migrate=1.5 --timing migrate_per_gib=0.5 \
  --timing ha_fence=3 --timing ha_delay=1
cd "$(new_workdir moves)"

# config PLACEMENT [LIFECYCLE] [STARTED]: two nodes "mv0", "mv1" with static
# addresses; PLACEMENT is the HCL line that places them.
config() {
  provider_block
  cat <<CFG
resource "proxmox_k8s_node" "n" {
  count    = 2
  name     = "mv\${count.index}"
  # Fixed ids: the checks below read n[0] and n[1] from state_vmids, which
  # sorts by vmid, and parallel creates take free ids in any order.
  vmid     = 100 + count.index
  $1
  template = "ubuntu-2204-template"
  started  = ${3:-true}
  network {}
  ip {
    address = "10.30.0.\${count.index + 10}/24"
    gateway = "10.30.0.1"
  }
  ${2:-}
}
CFG
}
CANDIDATES='target_nodes = ["pve1", "pve2", "pve3"]'

# vm_field VMID FIELD: FIELD of the VM's status/current on the node pvesim's
# cluster listing names.
vm_node() {
  pve GET /cluster/resources?type=vm | python3 -c '
import json, sys
print(next(v["node"] for v in json.load(sys.stdin)["data"] if v["vmid"] == int(sys.argv[1])))' "$1"
}
vm_field() {
  pve GET "/nodes/$(vm_node "$1")/qemu/$1/status/current" | python3 -c '
import json, sys
print(json.load(sys.stdin)["data"].get(sys.argv[1], ""))' "$2"
}
# migrate VMID TARGET [online]: an out-of-band migration, waited for.
migrate() {
  local from upid extra=()
  from=$(vm_node "$1")
  [[ ${3:-} == online ]] && extra=(-d online=1 -d with-local-disks=1)
  upid=$(pve POST "/nodes/$from/qemu/$1/migrate" -d "target=$2" "${extra[@]}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"])')
  wait_until 60 "migration of $1 to $2" task_done "$from" "$upid"
}
task_done() {
  pve GET "/nodes/$1/tasks/$2/status" | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["data"].get("status") == "stopped" else 1)'
}
power() {
  local node upid
  node=$(vm_node "$1")
  upid=$(pve POST "/nodes/$node/qemu/$1/status/$2" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"])')
  wait_until 30 "$2 of $1" task_done "$node" "$upid"
}
# boot_id VMID: the guest's boot, as pvesim keeps it (a reboot changes it; an
# online migration does not).
# listed_vmids: the VM ids of /cluster/resources (which lists the VMs of a
# node that is down, too, but without their template flag: pvesim's templates
# are 9000 and up), on one line.
listed_vmids() {
  pve GET /cluster/resources?type=vm | python3 -c '
import json, sys
print(" ".join(sorted(str(v["vmid"]) for v in json.load(sys.stdin)["data"] if v["vmid"] < 9000)))'
}
boot_id() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["boot_id"])' "$PVE_DATA/vms/$1.json"
}
macs() { (terraform show -json | python3 -c '
import json, sys
r = json.load(sys.stdin)["values"]["root_module"]["resources"]
print(" ".join(",".join(x["values"]["mac_addresses"]) for x in r))'); }

config "$CANDIDATES" >main.tf
expect_exit 0 "init" tf init
expect_exit 0 "apply two nodes over pve1-3" tf apply -auto-approve
read -r node0 id0 node1 id1 <<<"$(state_vmids | tr '\n' ' ')"
sim_before=$(sim_vmids | tr '\n' ' ')
macs_before=$(macs)
echo "# mv0 = $node0/$id0, mv1 = $node1/$id1; pvesim: $sim_before"
other() { for n in pve3 pve2 pve1; do [[ $n != "$1" && $n != "${2:-}" ]] && echo "$n" && return; done; }

# --- out-of-band moves: online (running) and offline (stopped, then started) --
to0=$(other "$node0")
to1=$(other "$node1" "$to0")
migrate "$id0" "$to0" online
power "$id1" stop
migrate "$id1" "$to1"
power "$id1" start
echo "# moved out of band: $id0 $node0 -> $to0 (online), $id1 $node1 -> $to1 (offline)"
expect_exit 0 "plan after out-of-band moves, target_nodes: empty" tf plan -detailed-exitcode
check "refresh warned that they were moved outside Terraform" \
  said "was moved outside Terraform from $node0 to $to0"
expect_exit 0 "apply -refresh-only" tf apply -refresh-only -auto-approve
check "the state follows both VMs" \
  test "$(state_vmids | tr '\n' ' ')" = "$to0 $id0 $to1 $id1 "
check "nothing created, nothing orphaned" test "$(sim_vmids | tr '\n' ' ')" = "$sim_before"

# --- the same VMs under target_node: an in-place move back ---------------------
BACK="target_node = [\"$node0\", \"$node1\"][count.index]"
config "$BACK" >main.tf
expect_exit 2 "with target_node the plan moves them back" tf plan -detailed-exitcode
check "in place: 2 to change, none added or destroyed" output_has "0 to add, 2 to change, 0 to destroy"
check "the plan warns of the migration" said "will be migrated from $to0 to $node0"
expect_exit 0 "apply the move back" tf apply -auto-approve
check "applied as 2 changed" output_has "0 added, 2 changed, 0 destroyed"
echo "# state: $(state_vmids | tr '\n' ' '); pvesim: $(vm_node "$id0") $(vm_node "$id1")"
check "both VMs are back, same vmids" \
  test "$(state_vmids | tr '\n' ' ')" = "$node0 $id0 $node1 $id1 "
check "pvesim agrees" test "$(vm_node "$id0") $(vm_node "$id1")" = "$node0 $node1"
check "same MACs" test "$(macs)" = "$macs_before"
check "nothing created, nothing orphaned" test "$(sim_vmids | tr '\n' ' ')" = "$sim_before"
expect_exit 0 "next plan is empty" tf plan -detailed-exitcode
migrate "$id0" "$to0" online
config "$BACK" 'lifecycle { ignore_changes = [target_node] }' >main.tf
expect_exit 0 "moved again: ignore_changes = [target_node] keeps it there" \
  tf plan -detailed-exitcode
config "$BACK" >main.tf
expect_exit 0 "without ignore_changes the apply moves it back" tf apply -auto-approve
check "one changed" output_has "0 added, 1 changed, 0 destroyed"
check "it is back on $node0" test "$(vm_node "$id0")" = "$node0"

# --- target_node changed: an online move, no reboot --------------------------
new0=$(other "$node0" "$node1")
MOVE="target_node = [\"$new0\", \"$node1\"][count.index]"
config "$MOVE" >main.tf
pid_before=$(vm_field "$id0" pid)
uptime_before=$(vm_field "$id0" uptime)
boot_before=$(boot_id "$id0")
expect_exit 0 "plan a changed target_node" tf plan -out=move.plan
check "plan warning names both nodes" said "will be migrated from $node0 to $new0"
check "one in-place update" output_has "0 to add, 1 to change, 0 to destroy"
move_started=$SECONDS
expect_exit 0 "apply it" tf apply -auto-approve move.plan
check "one VM changed in place" output_has "0 added, 1 changed, 0 destroyed"
check "the VM is on $new0 with the same vmid" test "$(vm_node "$id0")" = "$new0"
check "same MACs" test "$(macs)" = "$macs_before"
check "it runs" test "$(vm_field "$id0" status)" = running
pid_after=$(vm_field "$id0" pid)
uptime_after=$(vm_field "$id0" uptime)
echo "# QEMU pid $pid_before -> $pid_after, uptime $uptime_before -> $uptime_after"
check "a new QEMU process on the target (online migration)" test "$pid_after" != "$pid_before"
check "its uptime restarted with it" test "$uptime_after" -le $((SECONDS - move_started + 1))
check "the guest did not reboot (same boot id)" test "$(boot_id "$id0")" = "$boot_before"
check "nothing created, nothing orphaned" test "$(sim_vmids | tr '\n' ' ')" = "$sim_before"
expect_exit 0 "next plan is empty" tf plan -detailed-exitcode

# --- a stopped VM moves offline -------------------------------------------------
config "$MOVE" "" false >main.tf
expect_exit 0 "stop both" tf apply -auto-approve
STOPPED_MOVE="target_node = [\"$new0\", \"$(other "$node1" "$new0")\"][count.index]"
config "$STOPPED_MOVE" "" false >main.tf
expect_exit 0 "move the stopped mv1" tf apply -auto-approve
check "mv1 is on $(other "$node1" "$new0"), still stopped" \
  test "$(vm_node "$id1") $(vm_field "$id1" status)" = "$(other "$node1" "$new0") stopped"
expect_exit 0 "next plan is empty" tf plan -detailed-exitcode

# --- refused at plan: an unknown node, a linked clone on local storage ------------
config "target_node = [\"pve9\", \"$(other "$node1" "$new0")\"][count.index]" "" false >main.tf
expect_exit 1 "a move to an unknown node fails at plan" tf plan
check "naming the node and the attribute" said '"pve9" is not a node of this cluster'
linked() {
  cat <<CFG
resource "proxmox_k8s_node" "linked" {
  name        = "mvlinked"
  target_node = "$1"
  template    = "ubuntu-2204-template"
  full_clone  = false
  started     = false
  network {}
  ip {
    address = "10.30.0.30/24"
    gateway = "10.30.0.1"
  }
}
CFG
}
config "$STOPPED_MOVE" "" false >main.tf
linked pve1 >>main.tf
expect_exit 0 "a linked clone on local-lvm" tf apply -auto-approve
config "$STOPPED_MOVE" "" false >main.tf
linked pve2 >>main.tf
expect_exit 1 "moving the linked clone is refused at plan" tf plan
check "saying why and what to do" said "is a linked clone on storage local to pve1"
check "and pointing at full_clone" said "full_clone = true"
config "$STOPPED_MOVE" "" false >main.tf
linked pve1 >>main.tf
expect_exit 0 "back to its node: the plan is empty" tf plan -detailed-exitcode
sim_before=$(sim_vmids | tr '\n' ' ')

# --- SIGKILL of terraform during a migration converges ---------------------------
config "$STOPPED_MOVE" "" true >main.tf
linked pve1 >>main.tf
expect_exit 0 "start both again" tf apply -auto-approve
KILL_MOVE="target_node = [\"$node0\", \"$(other "$node1" "$new0")\"][count.index]"
config "$KILL_MOVE" >main.tf
linked pve1 >>main.tf
terraform apply -no-color -input=false -auto-approve >kill.log 2>&1 &
tf_pid=$!
python3 "$TESTS_DIR/crash_watch.py" "$PVE_URL" "$PVE_TOKEN_ID=$PVE_TOKEN_SECRET" mv migrate \
  terraform "$tf_pid" SIGKILL 14 120 | sed 's/^/# /'
wait "$tf_pid" 2>/dev/null || true
check "the migration outlived terraform" test "$(vm_field "$id0" lock)" = migrate
check "no provider process outlives terraform" wait_no_provider "$TEST_ROOT" 20
expect_exit 0 "the next apply converges" tf apply -auto-approve
check "the VM is on $node0, in state once" \
  test "$(state_vmids | grep -c " $id0$") $(vm_node "$id0")" = "1 $node0"
check "nothing created, nothing orphaned" test "$(sim_vmids | tr '\n' ' ')" = "$sim_before"
expect_exit 0 "next plan is empty" tf plan -detailed-exitcode

# --- a Proxmox node goes down: never created again; HA's restart is followed ----
config "$CANDIDATES" >main.tf
expect_exit 0 "back to target_nodes (the linked clone goes)" tf apply -auto-approve
sim_before=$(listed_vmids)
down=$(vm_node "$id1")
pve PUT "/pvesim/nodes/$down" -d status=offline >/dev/null
expect_exit 0 "plan with mv1's node $down down: nothing to do" tf plan -detailed-exitcode
check "it says mv1's node is unreachable" said "mv1: Proxmox node unreachable"
check "and keeps it" said "It is kept in state as last known"
check "nothing created" test "$(listed_vmids)" = "$sim_before"
pve PUT "/pvesim/nodes/$down" -d status=online >/dev/null
pve POST /cluster/ha/resources -d "sid=vm:$id0" -d state=started >/dev/null
ha_from=$(vm_node "$id0")
pve PUT "/pvesim/nodes/$ha_from" -d status=offline >/dev/null
moved_off() { [[ $(vm_node "$id0") != "$ha_from" ]]; }
check "HA restarts mv0 elsewhere" wait_until 60 "HA recovery of $id0" moved_off
expect_exit 0 "the plan follows it and is empty" tf plan -detailed-exitcode
check "saying it moved" said "was moved outside Terraform from $ha_from to $(vm_node "$id0")"
check "nothing created" test "$(listed_vmids)" = "$sim_before"
pve PUT "/pvesim/nodes/$ha_from" -d status=online >/dev/null

# --- an HA-managed VM is moved through HA, not behind its back -------------------
# tasks_by NODE VMID TYPE: how many TYPE tasks for VMID on NODE were started by
# the provider's token (not root@pam, as HA's own migrations are).
tasks_by() {
  pve GET "/nodes/$1/tasks?source=all&vmid=$2" | python3 -c '
import json, sys
print(sum(1 for t in json.load(sys.stdin)["data"]
          if t.get("type") == sys.argv[1] and t.get("user", "").startswith("terraform")))' "$3"
}
ha_on=$(vm_node "$id0")
mv1_on=$(vm_node "$id1")
ha_to=$(other "$ha_on" "$mv1_on")
config "target_node = [\"$ha_to\", \"$mv1_on\"][count.index]" >main.tf
expect_exit 0 "target_node of the HA-managed mv0 changed: applied" tf apply -auto-approve
# (mv1 is changed too: target_nodes gives way to a target_node it is on.)
check "changed in place" output_has "0 added, 2 changed, 0 destroyed"
check "mv0 is on $ha_to, mv1 still on $mv1_on" \
  test "$(vm_node "$id0") $(vm_node "$id1")" = "$ha_to $mv1_on"
check "through HA: no migrate task of the token on $ha_on" \
  test "$(tasks_by "$ha_on" "$id0" qmigrate)/$(tasks_by "$ha_on" "$id0" hamigrate)" = 0/0
check "HA still manages it" pve GET "/cluster/ha/resources/vm:$id0" -f -o /dev/null
check "nothing created" test "$(listed_vmids)" = "$sim_before"
expect_exit 0 "next plan is empty" tf plan -detailed-exitcode
pve DELETE "/cluster/ha/resources/vm:$id0" >/dev/null

expect_exit 0 "destroy" tf destroy -auto-approve
check "pvesim holds no VM" test -z "$(sim_vmids)"
finish
