# Shared helpers for acceptance tests that drive the real terraform CLI.
# Source it; then call tf_setup PROVIDER_BINARY. Every test gets a fresh
# temporary directory with its own filesystem mirror and CLI configuration, so
# rebuilt binaries never meet a stale lock file.

set -euo pipefail

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

finish() {
  echo "$PASSES passed, $FAILURES failed"
  [[ $FAILURES == 0 ]]
}
