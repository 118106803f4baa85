#!/usr/bin/env bash
# No duplicate VM ids across provider processes: two working directories (two
# states, two terraform processes, so two id ledgers) apply at the same time
# against one simulator, every node without a vmid, so both draw from the
# same free ids. Every clone POST waits a second in pvesim (a latency fault)
# before it takes its id, so an id one process checked free is taken by the
# other meanwhile: the loser gets "config file already exists" and must retry
# with another id. The retry is in a provider's log; every VM is distinct and
# in exactly one state, none orphaned.
# Usage: claims_race_test.sh PROVIDER_BINARY PVESIM_BINARY [NODES_PER_DIR]
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")
NODES=${3:-4}

pvesim_start "$PVESIM" race --seed 23 --log-requests --fault latency:1s:1:/clone
for d in a b; do
  cd "$(new_workdir "$d")"
  { provider_block; spread_nodes "$NODES" "race$d" dhcp; } >main.tf
  expect_exit 0 "init $d" tf init
done

pids=()
for d in a b; do
  (cd "$TEST_ROOT/$d" && TF_LOG_PROVIDER=debug TF_LOG_PATH="$TEST_ROOT/$d/provider.log" \
    tf apply -auto-approve >"$TEST_ROOT/$d/apply.out" 2>&1) &
  pids+=($!)
done
for i in 0 1; do
  d=$([[ $i == 0 ]] && echo a || echo b)
  rc=0
  wait "${pids[$i]}" || rc=$?
  if [[ $rc == 0 ]]; then pass "concurrent apply $d"; else
    fail "concurrent apply $d (exit $rc)"
    tail -30 "$TEST_ROOT/$d/apply.out" | sed 's/^/    /'
  fi
done

retries=$(cat "$TEST_ROOT"/{a,b}/provider.log | grep -c "VM id taken by another client; retrying" || true)
echo "# id-race retries in the providers' logs: $retries"
check "the id race happened and was retried (provider log)" test "$retries" -ge 1
lost=$(sim_requests 'r["method"] == "POST" and r["path"].endswith("/clone") and r["status"] == 500')
echo "# clone POSTs refused by pvesim: $lost"
check "pvesim refused as many clones as the providers retried" test "$lost" = "$retries"

ids_a=$(state_vmids "$TEST_ROOT/a" | awk '{print $2}')
ids_b=$(state_vmids "$TEST_ROOT/b" | awk '{print $2}')
all=$(printf '%s\n%s\n' "$ids_a" "$ids_b" | sort -n)
echo "# ids: a=[$(tr '\n' ' ' <<<"$ids_a")] b=[$(tr '\n' ' ' <<<"$ids_b")]"
check "each state holds its $NODES nodes" test "$(wc -l <<<"$ids_a")/$(wc -l <<<"$ids_b")" = "$NODES/$NODES"
check "all $((2 * NODES)) ids are distinct" test "$(sort -u <<<"$all" | wc -l)" = $((2 * NODES))
check "pvesim holds exactly the VMs of the two states (no orphan)" test "$(sim_vmids)" = "$all"
check "each VM is named by the state that holds it" python3 - "$PVE_URL" <<PY
import json, subprocess, sys
for d, ids in (("a", """$ids_a""".split()), ("b", """$ids_b""".split())):
    for vmid in ids:
        out = subprocess.run(["curl", "-sk", "-H",
            "Authorization: PVEAPIToken=$PVE_TOKEN_ID=$PVE_TOKEN_SECRET",
            sys.argv[1] + "/api2/json/cluster/resources?type=vm"], capture_output=True, text=True).stdout
        names = {str(v["vmid"]): v.get("name", "") for v in json.loads(out)["data"]}
        assert names[vmid].startswith("race" + d), (d, vmid, names[vmid])
PY

for d in a b; do
  cd "$TEST_ROOT/$d"
  expect_exit 0 "destroy $d" tf destroy -auto-approve
done
check "nothing is left" test -z "$(sim_vmids)"
finish
