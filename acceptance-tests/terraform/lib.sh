# Shared helpers for acceptance tests that drive the real terraform CLI.
# Source it; then call tf_setup PROVIDER_BINARY. Every test gets a fresh
# temporary directory with its own filesystem mirror and CLI configuration, so
# rebuilt binaries never meet a stale lock file.

set -euo pipefail

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

TF_PROVIDER_VERSION=${TF_PROVIDER_VERSION:-0.1.0}
FAILURES=0
PASSES=0

tf_setup() {
  local binary=$1
  TEST_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/pvek8s-tf-XXXXXX")
  trap 'tf_cleanup' EXIT
  local dir="$TEST_ROOT/mirror/registry.terraform.io/gcid/proxmox/$TF_PROVIDER_VERSION/linux_amd64"
  mkdir -p "$dir"
  cp "$binary" "$dir/terraform-provider-proxmox_v$TF_PROVIDER_VERSION"
  cat >"$TEST_ROOT/cli.tfrc" <<CFG
provider_installation {
  filesystem_mirror {
    path    = "$TEST_ROOT/mirror"
    include = ["registry.terraform.io/gcid/*"]
  }
  direct {
    exclude = ["registry.terraform.io/gcid/*"]
  }
}
CFG
  export TF_CLI_CONFIG_FILE="$TEST_ROOT/cli.tfrc"
  export CHECKPOINT_DISABLE=1
  export TF_IN_AUTOMATION=1
  unset TF_LOG TF_LOG_PATH
}

tf_cleanup() {
  if declare -F pvesim_stop_all >/dev/null; then pvesim_stop_all; fi
  if [[ -n ${KEEP_TEST_ROOT:-} ]]; then
    echo "kept $TEST_ROOT" >&2
  else
    rm -rf "$TEST_ROOT"
  fi
}

# new_workdir NAME: a fresh working directory; prints its path.
new_workdir() {
  local d="$TEST_ROOT/$1"
  mkdir -p "$d"
  echo "$d"
}

# tf COMMAND ARGS...: terraform in the current directory, non-interactive.
tf() {
  local cmd=$1
  shift
  case $cmd in
    init | plan | apply | destroy | import | refresh)
      terraform "$cmd" -no-color -input=false "$@" ;;
    *)
      terraform "$cmd" -no-color "$@" ;;
  esac
}

pass() {
  PASSES=$((PASSES + 1))
  echo "ok - $*"
}

fail() {
  FAILURES=$((FAILURES + 1))
  echo "not ok - $*"
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# wait_until SECONDS WHAT COMMAND...: polls COMMAND, 0.1 s apart, until it
# succeeds; fails naming WHAT when SECONDS pass first.
wait_until() {
  local secs=$1 what=$2
  local until=$((SECONDS + secs))
  shift 2
  until "$@"; do
    if ((SECONDS >= until)); then
      echo "# gave up after $secs s waiting for: $what" >&2
      return 1
    fi
    sleep 0.1
  done
}

# expect_exit CODE DESCRIPTION COMMAND...: passes when the command exits CODE.
expect_exit() {
  local want=$1 what=$2
  shift 2
  local got=0
  "$@" >"$TEST_ROOT/last.out" 2>&1 || got=$?
  if [[ $got == "$want" ]]; then
    pass "$what"
  else
    fail "$what (exit $got, wanted $want)"
    sed 's/^/    /' "$TEST_ROOT/last.out" | tail -40
  fi
}

# output_has TEXT: the last expect_exit output contains TEXT.
output_has() {
  grep -qF -- "$1" "$TEST_ROOT/last.out"
}

# said TEXT: the last expect_exit output contains TEXT, however Terraform
# wrapped its diagnostics (box characters and line breaks dropped).
said() {
  sed 's/^[│ ]*//' "$TEST_ROOT/last.out" | tr -s ' \n' '  ' | grep -qF -- "$1"
}

# spread_nodes COUNT NAME ADDRESS [EXTRA]: COUNT proxmox_k8s_node "n" named
# NAME<index>, placed over pve1-3 from the lab's template, with ip.address
# ADDRESS (HCL may use count.index) and EXTRA blocks inside the resource.
spread_nodes() {
  cat <<CFG
resource "proxmox_k8s_node" "n" {
  count        = $1
  name         = "$2\${count.index}"
  target_nodes = ["pve1", "pve2", "pve3"]
  template     = "ubuntu-2204-template"
  network {}
  ip {
    address = "$3"
  }
${4:-}
}
CFG
}

# provider_pids ROOT: the pids of running provider processes started from a
# binary under ROOT. Terraform starts providers by a relative
# .terraform/providers/... path (a link into the mirror), so their command
# lines never name ROOT: match what /proc/PID/exe resolves to instead.
provider_pids() {
  local exe pid
  for exe in /proc/[0-9]*/exe; do
    pid=${exe#/proc/}
    pid=${pid%/exe}
    exe=$(readlink "$exe" 2>/dev/null) || continue
    exe=${exe% (deleted)}
    [[ $exe == "$1"/* && ${exe##*/} == terraform-provider-proxmox* ]] && echo "$pid"
  done
  return 0
}

# wait_no_provider ROOT SECONDS: every provider process of provider_pids ROOT
# is gone within SECONDS, waited for on pidfds (no polling). Names the
# survivors and their command lines when not.
wait_no_provider() {
  python3 - "$2" $(provider_pids "$1") <<'PY'
import os, select, sys, time
deadline = time.monotonic() + float(sys.argv[1])
left = []
for pid in map(int, sys.argv[2:]):
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        continue
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    if not poller.poll(int(max(0.0, deadline - time.monotonic()) * 1000)):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "?"
        left.append(f"{pid} ({cmd})")
    os.close(fd)
if left:
    sys.exit("provider process(es) still running after %s s: %s" % (sys.argv[1], ", ".join(left)))
PY
}

# no_drift PLANFILE: a refresh-only plan saw no change to any resource.
# (Terraform 1.11 may still call such a plan "applyable" and exit 2 under
# -detailed-exitcode, hashicorp/terraform#36403, so look at the drift itself.)
no_drift() {
  terraform show -json "$1" | python3 -c '
import json, sys
drift = json.load(sys.stdin).get("resource_drift")
sys.exit("drift: %s" % drift if drift else 0)'
}

finish() {
  echo "$PASSES passed, $FAILURES failed"
  [[ $FAILURES == 0 ]]
}

# pvesim_start BINARY NAME [ARGS...]: starts a simulator on a free loopback
# port with the test token (PVE_TOKEN_FLAGS, e.g. ",privsep=1", is appended to
# it), as Proxmox VE $PVESIM_VERSION when set (else pvesim's default, 9.1.1;
# a --pve-version in ARGS wins); sets PVE_URL, PVE_FP, PVE_DATA, PVESIM_PID.
PVE_TOKEN_ID='terraform@pam!tf'
PVE_TOKEN_SECRET=0b0a8f2e-4c7e-4bd1-9a55-6a5d7e6b1c2f
PVESIM_PIDS=()
pvesim_start() {
  local binary=$1 name=$2
  shift 2
  PVE_DATA="$TEST_ROOT/pvesim-$name"
  mkdir -p "$PVE_DATA"
  local fd line
  # Read the ready line straight from the simulator's stdout, with a deadline.
  exec {fd}< <(exec "$binary" --listen 127.0.0.1:0 --data "$PVE_DATA" \
    --token "$PVE_TOKEN_ID=$PVE_TOKEN_SECRET${PVE_TOKEN_FLAGS:-}" \
    ${PVESIM_VERSION:+--pve-version "$PVESIM_VERSION"} "$@" 2>"$PVE_DATA/log")
  PVESIM_PID=$!
  PVESIM_PIDS+=("$PVESIM_PID")
  if ! read -r -t 30 -u "$fd" line; then
    echo "pvesim did not start:" >&2
    cat "$PVE_DATA/log" >&2
    return 1
  fi
  echo "$line" >"$PVE_DATA/ready.json"
  PVE_URL=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['url'])" "$PVE_DATA/ready.json")
  PVE_FP=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['fingerprint_sha256'])" "$PVE_DATA/ready.json")
}

pvesim_stop_all() {
  local pid
  for pid in "${PVESIM_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PVESIM_PIDS=()
}

# pve METHOD PATH [curl args...]: a raw API call to the simulator, as an
# administrator would make it out of band.
pve() {
  local method=$1 path=$2
  shift 2
  curl -sk -X "$method" -H "Authorization: PVEAPIToken=$PVE_TOKEN_ID=$PVE_TOKEN_SECRET" \
    "$PVE_URL/api2/json$path" "$@"
}

# provider_block [password USER PASSWORD]: the provider configuration for the
# running simulator, with its API token or, given "password", a ticket login.
provider_block() {
  local auth="api_token_id     = \"$PVE_TOKEN_ID\"
  api_token_secret = \"$PVE_TOKEN_SECRET\""
  if [[ ${1:-} == password ]]; then
    auth="username         = \"$2\"
  password         = \"$3\""
  fi
  cat <<CFG
terraform {
  required_providers {
    proxmox = { source = "gcid/proxmox", version = "$TF_PROVIDER_VERSION" }
  }
}
provider "proxmox" {
  endpoint         = "$PVE_URL"
  $auth
  tls {
    fingerprint_sha256 = "$PVE_FP"
  }
}
CFG
}

# --- helpers of the claims tests (claims_*_test.sh) ---------------------------

# sim_requests PYTHON_CONDITION: how many lines of the running simulator's
# request log (pvesim_start ... --log-requests) satisfy the condition, a
# Python expression over `r`, the line's JSON object.
sim_requests() {
  python3 - "$PVE_DATA/log" "$1" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("@message") == "request" and eval(sys.argv[2], {}, {"r": r}):
        n += 1
print(n)
PY
}

# sim_vmids: the ids of the simulator's VMs that are not templates, sorted.
sim_vmids() {
  local node
  for node in pve1 pve2 pve3; do
    pve GET "/nodes/$node/qemu" | python3 -c '
import json, sys
for v in json.load(sys.stdin)["data"]:
    if not v.get("template"):
        print(v["vmid"])'
  done | sort -n
}

# state_vmids [DIR]: "node vmid" of every proxmox_k8s_node in the state of
# DIR (default: the current directory), sorted by vmid.
state_vmids() {
  (cd "${1:-.}" && terraform show -json) | python3 -c '
import json, sys
v = json.load(sys.stdin).get("values") or {}
rs = v.get("root_module", {}).get("resources", [])
for x in sorted((r for r in rs if r["type"] == "proxmox_k8s_node"), key=lambda r: r["values"]["vmid"]):
    print(x["values"]["target_node"], x["values"]["vmid"])'
}
