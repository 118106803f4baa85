#!/usr/bin/env bash
# Crash safety: terraform and, separately, the provider are killed with
# SIGKILL at points of an apply (clone, configure, start, IP wait) and of a
# destroy; the next run must converge with nothing orphaned or duplicated,
# resuming or deleting half-made VMs by their ownership marker. Ctrl-C
# (SIGINT to terraform's process group) must stop in-flight work through
# StopProvider and save every VM made so far in the state.
# Usage: crash_test.sh PROVIDER_BINARY PVESIM_BINARY [SEED]
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")
SEED=${3:-7}
NODES=2

# Short task timings: every phase is long enough to be caught, short enough
# for the suite.
TIMINGS=(--timing clone_base=0.5 --timing clone_per_gib=0.1 --timing config=0.1
  --timing resize=0.8 --timing start=0.5 --timing stop=0.3 --timing destroy=0.3)
TOKEN="$PVE_TOKEN_ID=$PVE_TOKEN_SECRET"

# config PREFIX [IP_TIMEOUT]: NODES nodes named PREFIX0..
config() {
  provider_block
  spread_nodes "$NODES" "$1" "10.30.$SCENARIO.\${count.index + 10}/16" "\
  disk {
    size = \"4G\" # grown while configuring: a phase long enough to be caught
  }
  wait_for_ip {
    timeout = \"${2:-2m}\"
  }"
}

# run_killed PHASE TARGET SIGNAL COMMAND...: runs terraform COMMAND in its own
# process group (SIGINT not ignored, as in a terminal) and signals TARGET when
# pvesim shows PHASE. Sets TF_RC and KILLED_PROVIDER (the provider pid seen).
run_killed() {
  local phase=$1 target=$2 sig=$3
  shift 3
  python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execvp(sys.argv[1], sys.argv[1:])' terraform "$@" -no-color -input=false \
    >"run-$phase.log" 2>&1 &
  local tf_pid=$!
  local watch_rc=0
  python3 "$TESTS_DIR/crash_watch.py" "$PVE_URL" "$TOKEN" "$PREFIX" "$phase" "$target" \
    "$tf_pid" "$sig" "$SEED" >"watch-$phase.log" 2>&1 || watch_rc=$?
  TF_RC=0
  wait "$tf_pid" || TF_RC=$?
  sed 's/^/# /' "watch-$phase.log"
  check "$PREFIX: $sig reached $target during $phase" test "$watch_rc" = 0
}

# no_provider_left: no provider process outlives a killed terraform (go-plugin
# servers exit when their parent dies): none runs from this test's binaries.
no_provider_left() {
  local pids
  pids=$(provider_pids "$TEST_ROOT")
  echo "# provider processes still there at the check: $(echo ${pids:-none})"
  wait_no_provider "$TEST_ROOT" 20
}

# converged: state and pvesim agree for this scenario's VMs.
converged() {
  terraform show -json >state.json
  python3 "$TESTS_DIR/sim_report.py" "$PVE_URL" "$TOKEN" state.json --prefix "$PREFIX" >report.txt
  sed 's/^/# /' report.txt
  grep -q "^state $1 pvesim $1$" report.txt && grep -q "^duplicates 0$" report.txt &&
    grep -q "^orphans 0$" report.txt && grep -q "^missing 0$" report.txt
}

SCENARIO=0
for phase in clone configure start ipwait delete; do
  if [[ $phase == clone ]]; then
    # Clones slow enough to be still running when the next apply starts, so
    # that it finds them unnamed and must sort them out once they finish.
    pvesim_start "$PVESIM" slowclone --seed "$SEED" "${TIMINGS[@]}" --timing agent=1 \
      --timing clone_base=4
  elif [[ $phase == configure ]]; then
    pvesim_start "$PVESIM" crash --seed "$SEED" "${TIMINGS[@]}" --timing agent=1
  fi
  for target in terraform provider; do
    SCENARIO=$((SCENARIO + 1))
    PREFIX="k$SCENARIO-$phase-"
    cd "$(new_workdir "s$SCENARIO")"
    config "$PREFIX" >main.tf
    tf init >init.log 2>&1 || fail "$PREFIX: init"
    if [[ $phase == delete ]]; then
      expect_exit 0 "$PREFIX: apply before the destroy" tf apply -auto-approve
      run_killed delete "$target" SIGKILL destroy -auto-approve
    else
      run_killed "$phase" "$target" SIGKILL apply -auto-approve
    fi
    check "$PREFIX: the killed run failed" test "$TF_RC" != 0
    check "$PREFIX: no provider process left behind" no_provider_left
    terraform show -json >killed.json
    python3 "$TESTS_DIR/sim_report.py" "$PVE_URL" "$TOKEN" killed.json --prefix "$PREFIX" |
      sed -n "1s/^/# after the kill: /p"
    if [[ $phase == delete ]]; then
      expect_exit 0 "$PREFIX: the next destroy converges" tf destroy -auto-approve
      check "$PREFIX: pvesim holds none of its VMs" converged 0
      continue
    fi
    TF_LOG_PROVIDER=info TF_LOG_PATH=recovery.log \
      expect_exit 0 "$PREFIX: the next apply converges" tf apply -auto-approve
    resumed=$(grep -c "resuming a create that an earlier apply left unfinished" recovery.log || true)
    deleted=$(grep -c "deleting a clone an interrupted apply left behind" recovery.log || true)
    echo "# recovery: resumed $resumed, deleted $deleted half-made VM(s)"
    check "$PREFIX: every half-made VM was resumed or deleted" test $((resumed + deleted)) = "$NODES"
    expect_exit 0 "$PREFIX: then the plan is empty" tf plan -detailed-exitcode
    check "$PREFIX: one VM per node, no duplicates, no orphans" converged "$NODES"
    expect_exit 0 "$PREFIX: destroy" tf destroy -auto-approve
    check "$PREFIX: pvesim holds none of its VMs" converged 0
  done
done

# Ctrl-C while the VMs wait for addresses that never come (the agent answers
# after 10 minutes): Terraform stops the provider, which must return at once
# with the VMs in the state.
pvesim_start "$PVESIM" ctrlc --seed "$SEED" "${TIMINGS[@]}" --timing agent=600
SCENARIO=$((SCENARIO + 1))
PREFIX="k$SCENARIO-sigint-"
cd "$(new_workdir "s$SCENARIO")"
config "$PREFIX" 30m >main.tf
tf init >init.log 2>&1 || fail "$PREFIX: init"
started=$SECONDS
run_killed ipwait terraform SIGINT apply -auto-approve
elapsed=$((SECONDS - started))
echo "# apply ended ${elapsed}s after it started (IP wait timeout 30m)"
check "$PREFIX: the interrupted apply failed" test "$TF_RC" != 0
check "$PREFIX: it stopped instead of waiting for the IP" test "$elapsed" -lt 120
check "$PREFIX: terraform said it was interrupted" grep -q "Interrupt received" run-ipwait.log
check "$PREFIX: every VM made is in the state" converged "$NODES"
check "$PREFIX: and marked tainted for replacement" \
  python3 -c 'import json,sys; r=json.load(open("state.json"))["values"]["root_module"]["resources"]
sys.exit(0 if r and all(x.get("tainted") for x in r) else 1)'
expect_exit 0 "$PREFIX: destroy" tf destroy -auto-approve
check "$PREFIX: pvesim holds none of its VMs" converged 0
finish
