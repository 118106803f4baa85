#!/usr/bin/env bash
# Team state in PostgreSQL (examples/lab/README.md): the lab applied with
# `backend "pg"` (a backend_override.tf) against a throwaway PostgreSQL 15 on
# a unix socket, while a second working directory with the same backend tries
# to apply at the same time: once with -lock-timeout=0s (must fail on the
# state lock) and once with a long -lock-timeout (must wait, then find
# nothing to do). Nothing is duplicated, the state lives in the database and
# the next plan from either directory is empty. The backend block and the SQL
# that makes the table and Terraform's role come from the README as written.
# Usage: pg_backend_test.sh PROVIDER_BINARY PVESIM_BINARY [PG_BINDIR]
source "$(dirname "$0")/lib.sh"
tf_setup "$(realpath "$1")"
PVESIM=$(realpath "$2")
PG_BIN=${3:-/usr/lib/postgresql/15/bin}
LAB=$(cd "$TESTS_DIR/../../examples/lab" && pwd)
NODES=3 # the lab's default proxmox_nodes: pve1..pve3

# PostgreSQL refuses to run as root: run it as the package's `postgres` user
# then, in a directory of its own (TEST_ROOT is root's, mode 0700).
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pvek8s-pg-XXXXXX")
PG_PID=
as_pg=()
if [[ $(id -u) == 0 ]]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "no 'postgres' user to run the server as (Debian's postgresql package makes it)" >&2
    exit 1
  fi
  chown postgres: "$PG_DIR"
  as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi

pg_stop() {
  if [[ -n $PG_PID ]]; then
    # Fast shutdown, polled with a 30 s deadline (an exited child stays a
    # zombie until waited for, so look at its state, not only its existence).
    kill -INT "$PG_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while [[ -e /proc/$PG_PID && $(awk '{print $3}' "/proc/$PG_PID/stat" 2>/dev/null) != Z ]]; do
      if ((SECONDS > deadline)); then kill -KILL "$PG_PID" 2>/dev/null || true; fi
      sleep 0.1
    done
    wait "$PG_PID" 2>/dev/null || true
    PG_PID=
  fi
  if [[ -z ${KEEP_TEST_ROOT:-} ]]; then rm -rf "$PG_DIR"; fi
}
trap 'pg_stop; tf_cleanup' EXIT

not() { ! "$@"; }
psql_q() {
  "$PG_BIN/psql" -h "$PG_DIR" -U postgres -d "${PG_DB:-postgres}" -XAtq -v ON_ERROR_STOP=1 -c "$1"
}

# Starts the server on a unix socket only (no TCP), waits until it accepts
# connections (30 s deadline) and creates the database `tfstate`.
pg_start() {
  (cd "$PG_DIR" && "${as_pg[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust \
    --no-sync >"$PG_DIR/initdb.log" 2>&1) || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  # setpriv execs postgres, so $! is the postmaster itself.
  (cd "$PG_DIR" && exec "${as_pg[@]}" "$PG_BIN/postgres" -D "$PG_DIR/data" -k "$PG_DIR" \
    -c listen_addresses= -c unix_socket_permissions=0700 -c fsync=off \
    >"$PG_DIR/server.log" 2>&1) &
  PG_PID=$!
  local deadline=$((SECONDS + 30))
  until "$PG_BIN/pg_isready" -q -h "$PG_DIR" -U postgres; do
    if ! kill -0 "$PG_PID" 2>/dev/null || ((SECONDS > deadline)); then
      echo "postgres did not start:" >&2
      cat "$PG_DIR/server.log" >&2
      return 1
    fi
    sleep 0.1
  done
  psql_q "CREATE DATABASE tfstate"
  # What examples/lab/README.md recommends: the state's table made by an
  # administrator; Terraform's role may only connect, lock, and read and
  # write the rows of that one table (no superuser, no CREATE anywhere).
  PG_DB=tfstate psql_q "$(sed -n '/^  CREATE ROLE/,/^  GRANT SELECT/p' "$LAB/README.md")"
}

# lab_dir NAME: a working directory with the lab's configuration and its
# state in PostgreSQL; prints its path.
lab_dir() {
  local d
  d=$(new_workdir "$1")
  cp "$LAB"/*.tf "$d/"
  # The README's backend_override.tf, as a user copies it.
  sed -n '/^terraform {/,/^}/p' "$LAB/README.md" >"$d/backend_override.tf"
  echo "$d"
}

# vm_count: the VMs pvesim has (templates excluded).
vm_count() {
  pve GET "/cluster/resources?type=vm" | python3 -c '
import json, sys
print(sum(1 for v in json.load(sys.stdin)["data"] if not v.get("template")))'
}

# wait_state_lock: some session holds a PostgreSQL advisory lock (Terraform's
# state lock), polled with a 60 s deadline.
wait_state_lock() {
  local deadline=$((SECONDS + 60))
  until [[ $(PG_DB=tfstate psql_q "SELECT count(*) FROM pg_locks
                 WHERE locktype = 'advisory' AND granted") -gt 0 ]]; do
    ((SECONDS <= deadline)) || return 1
    kill -0 "$1" 2>/dev/null || return 1 # the apply ended without locking
    sleep 0.1
  done
}

pg_start
echo "# postgres pid $PG_PID, socket in $PG_DIR"
# as_role SQL: runs SQL as Terraform's role; fails when it may not.
as_role() {
  "$PG_BIN/psql" -h "$PG_DIR" -U lab_tf -d tfstate -XAtq -v ON_ERROR_STOP=1 -c "$1" >/dev/null 2>&1
}
check "the README's role may read the state table" as_role "SELECT count(*) FROM lab_k8s.states"
check "but create nothing" not as_role "CREATE TABLE lab_k8s.probe (x int)"
check "not even in public" not as_role "CREATE TABLE public.probe (x int)"
# Every clone takes 10 s, so the first apply holds the state lock that long.
pvesim_start "$PVESIM" pg --timing clone_base=10
export PROXMOX_VE_ENDPOINT=$PVE_URL PROXMOX_VE_API_TOKEN_ID=$PVE_TOKEN_ID
export PROXMOX_VE_API_TOKEN_SECRET=$PVE_TOKEN_SECRET PROXMOX_VE_TLS_FINGERPRINT=$PVE_FP
export PG_CONN_STR="host=$PG_DIR dbname=tfstate user=lab_tf sslmode=disable"

A=$(lab_dir alice)
B=$(lab_dir bob)
cd "$A"
expect_exit 0 "init alice's directory with backend pg" tf init
cd "$B"
expect_exit 0 "init bob's directory with the same backend" tf init

(cd "$A" && exec terraform apply -no-color -input=false -auto-approve >"$TEST_ROOT/alice.out" 2>&1) &
alice=$!
check "alice's apply takes the state lock" wait_state_lock "$alice"
expect_exit 1 "bob's apply with -lock-timeout=0s fails meanwhile" \
  tf apply -auto-approve -lock-timeout=0s
check "and says it is the state lock" output_has "Error acquiring the state lock"
(cd "$B" && exec terraform apply -no-color -input=false -auto-approve -lock-timeout=300s \
  >"$TEST_ROOT/bob.out" 2>&1) &
bob=$!
rc=0
wait "$alice" || rc=$?
check "alice's apply succeeds (exit $rc)" test "$rc" = 0
grep -E "Apply complete|Error" "$TEST_ROOT/alice.out" | sed 's/^/# alice: /'
rc=0
wait "$bob" || rc=$?
check "bob's waiting apply succeeds (exit $rc)" test "$rc" = 0
check "and, having waited for alice's state, has nothing to do" \
  grep -qF "Apply complete! Resources: 0 added, 0 changed, 0 destroyed." "$TEST_ROOT/bob.out"
grep -E "Apply complete|Error" "$TEST_ROOT/bob.out" | sed 's/^/# bob: /'

count=$(vm_count)
check "nothing duplicated: $count VMs for $NODES nodes" test "$count" = "$NODES"
check "no local state file in either directory" \
  test ! -e "$A/terraform.tfstate" -a ! -e "$B/terraform.tfstate"
PG_DB=tfstate psql_q "SELECT data FROM lab_k8s.states WHERE name = 'default'" \
  >"$TEST_ROOT/state.json"
check "the state is in PostgreSQL" grep -qF '"proxmox_k8s_node"' "$TEST_ROOT/state.json"
# What examples/lab/README.md warns about: the state holds the cluster's keys.
check "and holds the CA private key" \
  grep -qF '"ca_key_pem": "-----BEGIN PRIVATE KEY-----' "$TEST_ROOT/state.json"
check "and the bootstrap token" \
  grep -qE '"bootstrap_token": "[a-z0-9]{6}\.[a-z0-9]{16}"' "$TEST_ROOT/state.json"
expect_exit 0 "bob's next plan reads the state: empty" tf plan -detailed-exitcode
cd "$A"
expect_exit 0 "alice's next plan: empty" tf plan -detailed-exitcode
check "no state lock left" test "$(PG_DB=tfstate psql_q "SELECT count(*) FROM pg_locks
  WHERE locktype = 'advisory'")" = 0

cd "$B"
expect_exit 0 "bob destroys the lab from the shared state" tf destroy -auto-approve
count=$(vm_count)
check "no VM left ($count)" test "$count" = 0
finish
