#!/usr/bin/env bash
# Fault campaign: N nodes at parallelism 10 while pvesim injects lock
# timeouts, HTTP 500s and dropped connections (reproducible by seed); apply
# until converged, then check that nothing is duplicated or orphaned. With
# MIGRATE_RATE, pvesim also migrates random VMs while the applies run
# (--fault migrate:RATE), and the campaign must converge in at most 2 applies.
# Usage: fault_campaign_test.sh PROVIDER_BINARY PVESIM_BINARY [NODES] [SEED] [MIGRATE_RATE]
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")
NODES=${3:-12}
SEED=${4:-42}
MIGRATE_RATE=${5:-}
MAX_APPLIES=3
extra=()
if [[ -n $MIGRATE_RATE ]]; then
  if ! grep -qa 'latency, migrate)' "$PVESIM"; then  # its --fault parser's message
    echo "skip: this pvesim has no --fault migrate:RATE"
    exit 77
  fi
  extra=(--fault "migrate:$MIGRATE_RATE")
  MAX_APPLIES=2
fi

pvesim_start "$PVESIM" campaign --seed "$SEED" \
  --fault lock-timeout:clone:0.2 --fault lock-timeout:config:0.1 \
  --fault http-500:POST:/status/start:0.1 --fault drop-connection:0.03 "${extra[@]}"

cd "$(new_workdir campaign)"
provider_block >main.tf
spread_nodes "$NODES" fault '10.20.${floor(count.index / 200)}.${count.index % 200 + 10}/16' >>main.tf
expect_exit 0 "init" tf init

# until_ok COMMAND: runs `tf COMMAND -auto-approve -parallelism=10` up to
# MAX_APPLIES times until it succeeds; sets RUNS, fails when none did.
until_ok() {
  for ((RUNS = 1; RUNS <= MAX_APPLIES; RUNS++)); do
    tf "$1" -auto-approve -parallelism=10 >"$1-$RUNS.log" 2>&1 && return 0
  done
  return 1
}

converged=0
until_ok apply && converged=1
echo "# converged after $RUNS apply run(s) (seed $SEED, $NODES nodes)"
check "converged in at most $MAX_APPLIES applies" test "$converged" = 1
expect_exit 0 "plan after convergence is empty" tf plan -detailed-exitcode

# Compare Terraform's state with what pvesim holds.
terraform show -json >state.json
report() {
  python3 "$TESTS_DIR/sim_report.py" "$PVE_URL" "$PVE_TOKEN_ID=$PVE_TOKEN_SECRET" state.json \
    ${MIGRATE_RATE:+--by-vmid}
}
report >report.txt
cat report.txt | sed 's/^/# /'
check "one state entry per node" grep -q "^state $NODES " report.txt
check "no duplicate VM ids" grep -q "^duplicates 0$" report.txt
check "no VM in pvesim missing from state (orphans)" grep -q "^orphans 0$" report.txt
check "no state entry without a VM" grep -q "^missing 0$" report.txt
check "no VM name twice in pvesim" grep -q "^duplicate_names 0$" report.txt

check "destroy converged" until_ok destroy
terraform show -json >state.json
report >report-after.txt
check "pvesim holds only the templates afterwards" grep -q "^pvesim 0$" <(sed -n 's/^state [0-9]* //p' report-after.txt)
finish
