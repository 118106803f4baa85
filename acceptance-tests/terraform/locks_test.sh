#!/usr/bin/env bash
# Locks that clear by themselves (issue 14, item 6), with the real terraform:
# a VM under a running backup (pvesim's vzdump task holds `lock: backup`)
# is waited for and the update succeeds; the plan warns; a backup longer than
# timeouts.update fails at that deadline naming the lock, leaving the VM and
# the state as they were; `suspended` and a stale lock (no task holds it)
# fail at once with the `qm unlock` advice; a destroy waits out a backup too.
# Usage: locks_test.sh PROVIDER_BINARY PVESIM_BINARY
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")
ROOT_PW=locks-root-pw
BACKUP_S=10 # how long pvesim's vzdump holds the lock

pvesim_start "$PVESIM" locks --seed 23 --timing "vzdump=$BACKUP_S" --user "root@pam:$ROOT_PW"
cd "$(new_workdir locks)"

# config MEMORY [TIMEOUTS]: one node on pve1 with a static address.
config() {
  provider_block
  cat <<CFG
resource "proxmox_k8s_node" "n" {
  name        = "locked0"
  target_node = "pve1"
  template    = "ubuntu-2204-template"
  memory      = $1
  network {}
  ip {
    address = "10.77.0.10/24"
  }
  ${2:-}
}
CFG
}

# Setting and removing a lock is root@pam's (as in Proxmox): a ticket login.
login=$(curl -sfk -X POST --data-urlencode "username=root@pam" \
  --data-urlencode "password=$ROOT_PW" "$PVE_URL/api2/json/access/ticket")
ROOT_TICKET=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["ticket"])' <<<"$login")
ROOT_CSRF=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["CSRFPreventionToken"])' <<<"$login")
as_root() {
  local method=$1 path=$2
  shift 2
  curl -sfk -X "$method" -b "PVEAuthCookie=$ROOT_TICKET" -H "CSRFPreventionToken: $ROOT_CSRF" \
    "$PVE_URL/api2/json$path" "$@" >/dev/null
}
vm_lock() {
  pve GET "/nodes/pve1/qemu/$id/config" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"].get("lock", ""))'
}
vm_memory() {
  pve GET "/nodes/pve1/qemu/$id/config" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["memory"])'
}
state_memory() {
  terraform show -json | python3 -c '
import json, sys
r = json.load(sys.stdin)["values"]["root_module"]["resources"][0]
print(r["values"]["memory"])'
}
unlocked() { [[ -z $(vm_lock) ]]; }
# backup: starts a snapshot-mode vzdump of the VM; prints its UPID.
backup() {
  pve POST /nodes/pve1/vzdump -d "vmid=$id" -d mode=snapshot |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"])'
}
task_exit() {
  pve GET "/nodes/pve1/tasks/$1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"].get("exitstatus", ""))'
}

config 2048 >main.tf
expect_exit 0 "init" tf init
expect_exit 0 "apply one node" tf apply -auto-approve
read -r _ id < <(state_vmids)

# --- a backup that ends within the timeout: the update waits, then succeeds ---
config 3072 >main.tf
upid=$(backup)
check "the backup holds the VM's lock" test "$(vm_lock)" = backup
start=$SECONDS
export TF_LOG_PROVIDER=INFO TF_LOG_PATH="$TEST_ROOT/wait.log"
expect_exit 0 "the memory update of a VM under backup waits and succeeds" tf apply -auto-approve
unset TF_LOG_PROVIDER TF_LOG_PATH
waited=$((SECONDS - start))
check "the apply's plan warned that the VM is locked" \
  said "VM $id (locked0) on pve1 is locked (backup) now: a backup (vzdump) is running"
wait_line=$(grep -m1 "waiting for a VM lock to clear" "$TEST_ROOT/wait.log" || true)
check "the provider logged what it waited for (lock, VM, deadline)" \
  eval 'grep -q "lock=backup" <<<"$wait_line" && grep -q "vmid=$id" <<<"$wait_line" &&
    grep -q "node=pve1" <<<"$wait_line" && grep -qE "deadline=\"?[0-9T:-]+Z" <<<"$wait_line"'
echo "# $wait_line"
check "the update landed after the backup ended" test "$(vm_memory)" = 3072
check "the state says 3072" test "$(state_memory)" = 3072
check "the backup itself was not disturbed" test "$(task_exit "$upid")" = OK
echo "# waited ${waited}s for a ${BACKUP_S}s backup"

# --- a backup longer than timeouts.update: fails at that deadline ---
config 4096 'timeouts {
    update = "3s"
  }' >main.tf
wait_until 30 "the first backup to end" unlocked
upid=$(backup)
start=$SECONDS
expect_exit 1 "an update with a shorter timeout than the backup fails" tf apply -auto-approve
took=$((SECONDS - start))
check "the error names the lock, the VM and the timeout" \
  said "VM $id on pve1 is still locked (backup) at the update deadline (timeouts.update = 3s)"
check "the VM was not touched" test "$(vm_memory)" = 3072
check "the state was not touched" test "$(state_memory)" = 3072
check "the backup was still running when it failed" test "$(vm_lock)" = backup
wait_until 30 "the second backup to end" unlocked
expect_exit 0 "once the backup is over the same apply succeeds" tf apply -auto-approve
check "the update landed" test "$(vm_memory)" = 4096
echo "# failed after ${took}s (timeout 3s, backup ${BACKUP_S}s)"

# --- suspended: never clears by itself, fails at once ---
config 2048 >main.tf
as_root PUT "/nodes/pve1/qemu/$id/config" -d lock=suspended
expect_exit 2 "a plan of a suspended VM" tf plan -detailed-exitcode
check "the plan warns that the update will fail and how to unlock" \
  said "VM $id (locked0) on pve1 is locked (suspended)"
check "the warning gives the qm unlock advice" said "\`qm unlock $id\` on pve1"
start=$SECONDS
expect_exit 1 "the update of a suspended VM fails" tf apply -auto-approve
took=$((SECONDS - start))
check "at once, not at the 20m deadline (${took}s)" test "$took" -lt 60
check "naming the lock and the VM" said "VM $id on pve1 is locked (suspended)"
check "with the qm unlock advice" said "\`qm unlock $id\` on pve1"
check "the VM was not touched" test "$(vm_memory)" = 4096
as_root PUT "/nodes/pve1/qemu/$id/config" -d delete=lock -d skiplock=1

# --- a stale lock: `backup` with no vzdump task running ---
as_root PUT "/nodes/pve1/qemu/$id/config" -d lock=backup
start=$SECONDS
expect_exit 1 "the update of a VM with a stale backup lock fails" tf apply -auto-approve
took=$((SECONDS - start))
check "at once (${took}s)" test "$took" -lt 60
check "saying that the lock is stale" \
  said "VM $id on pve1 is locked (backup) but no vzdump task for it runs on pve1: the lock is stale"
check "with the qm unlock advice" said "\`qm unlock $id\` on pve1"
expect_exit 0 "a destroy plan of the locked VM" tf plan -destroy
check "warns that the VM is locked" said "VM $id (locked0) on pve1 is locked (backup) now"
as_root PUT "/nodes/pve1/qemu/$id/config" -d delete=lock -d skiplock=1
check "qm unlock (delete=lock, skiplock=1) removed it" unlocked

# --- a destroy waits out a backup too ---
upid=$(backup)
expect_exit 0 "destroy of a VM under backup waits and succeeds" tf destroy -auto-approve
check "the VM is gone" test -z "$(sim_vmids)"
check "after its backup finished" test "$(task_exit "$upid")" = OK

finish
