#!/usr/bin/env bash
# The pull-request checks of github-actions.yml, in one go on this machine:
#
#   review-locally.sh [options] [DIR]
#
# DIR (default: examples/lab) holds the Terraform configuration and the
# playbooks. Steps, stopping at the first failure:
#   fmt        terraform fmt -check -recursive DIR
#   init       terraform init, then terraform validate
#   playbooks  ansible-playbook --syntax-check of each playbook in DIR
#   test       terraform test                        (with --test)
#   base       terraform apply of --base BASE_DIR    (with --base)
#   plan       terraform plan -json -out=plan.bin; terraform show -json plan.bin
#   review     plan_review.py: what the plan does to the Kubernetes cluster
#
# Options:
#   --pvesim BINARY    start a throwaway pvesim on loopback and use it
#                      (stopped by PID at the end); implies --simulator
#   --simulator        the PROXMOX_VE_* variables name a pvesim: allows --test
#                      and --base, which create VMs
#   --test             run terraform test (DIR's *.tftest.hcl)
#   --base BASE_DIR    apply BASE_DIR (e.g. the target branch's checkout) first
#                      and plan DIR against its state: the review then shows
#                      what DIR changes. Both run on copies with local state.
#   --collections DIR  ANSIBLE_COLLECTIONS_PATH for the syntax check
#                      (it needs gcid.k8s installed)
#   --work DIR         where plan.bin, plan.json, plan-log.jsonl, the logs and
#                      review.md go (default: a new temporary folder, kept);
#                      made private: a saved plan holds sensitive values in clear
#
# With --pvesim or --base, init, test and plan run on a copy of DIR with local
# state. Otherwise they run in DIR itself, with its backend and state: the
# review is then of the plan against the Proxmox VE the PROXMOX_VE_* name. The last line is `review-locally: PASS (...)` or
# `review-locally: FAIL at STEP: ...`, with the exit code to match.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pvesim='' simulator='' run_test='' base='' work='' dir=''
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2; }
need() { [[ $# -ge 2 && -n $2 ]] || { echo "review-locally: $1 needs a value" >&2; exit 2; }; }
while (($#)); do
  case $1 in
    --pvesim) need "$@"; pvesim=$2; simulator=1; shift 2 ;;
    --simulator) simulator=1; shift ;;
    --test) run_test=1; shift ;;
    --base) need "$@"; base=$2; shift 2 ;;
    --collections) need "$@"; export ANSIBLE_COLLECTIONS_PATH=$2; shift 2 ;;
    --work) need "$@"; work=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "review-locally: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [[ -z $dir ]] || { echo "review-locally: one DIR only (got $dir and $1)" >&2; exit 2; }
       dir=$1; shift ;;
  esac
done
dir=$(realpath "${dir:-$here/../lab}")
[[ -d $dir ]] || { echo "review-locally: DIR $dir is not a folder" >&2; exit 2; }
if [[ -n $base ]]; then
  base=$(realpath "$base")
  [[ -d $base ]] || { echo "review-locally: --base $base is not a folder" >&2; exit 2; }
fi
if [[ -z $simulator && (-n $run_test || -n $base) ]]; then
  echo "review-locally: --test and --base create VMs; use them with --pvesim or --simulator" >&2
  exit 2
fi
work=${work:-$(mktemp -d "${TMPDIR:-/tmp}/review-XXXXXX")}
mkdir -p "$work"
chmod 700 "$work"  # plan.bin and plan.json hold sensitive values in clear
work=$(realpath "$work")
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

step=setup
reported=''
sim_pid=''
fail() {
  reported=1
  echo "review-locally: FAIL at $step: $*"
  # A GitHub Actions annotation, so the pull request shows which check failed.
  if [[ ${GITHUB_ACTIONS:-} == true ]]; then echo "::error title=review-locally::FAIL at $step: $*"; fi
  exit 1
}
on_exit() {
  local rc=$?
  if [[ -n $sim_pid ]]; then
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
  if ((rc != 0)) && [[ -z $reported ]]; then echo "review-locally: FAIL at $step (exit $rc)"; fi
}
trap on_exit EXIT

if [[ -n $pvesim ]]; then
  step=pvesim
  secret=$(cat /proc/sys/kernel/random/uuid)
  exec {simfd}< <(exec "$pvesim" --listen 127.0.0.1:0 --data "$work/pvesim" \
    --token "review@pam!ci=$secret" 2>"$work/pvesim.log")
  sim_pid=$!
  read -r -t 30 -u "$simfd" ready || fail "pvesim did not start: $(tail -3 "$work/pvesim.log")"
  json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$ready" "$1"; }
  PROXMOX_VE_ENDPOINT=$(json_field url)
  PROXMOX_VE_TLS_FINGERPRINT=$(json_field fingerprint_sha256)
  export PROXMOX_VE_ENDPOINT PROXMOX_VE_TLS_FINGERPRINT
  export PROXMOX_VE_API_TOKEN_ID='review@pam!ci' PROXMOX_VE_API_TOKEN_SECRET=$secret
  echo "==> pvesim at $PROXMOX_VE_ENDPOINT"
fi

# run LOG COMMAND...: the command's output goes to LOG, shown when it fails.
run() {
  local log=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    sed 's/^/    /' "$log" | tail -40
    fail "$* (log: $log)"
  fi
}

# copy_config FROM TO: the configuration with a local backend (an override
# file replaces any backend block), so --base never touches shared state.
copy_config() {
  mkdir -p "$2"
  find "$1" -maxdepth 1 -type f \( -name '*.tf' -o -name '*.tfvars' -o -name '*.tftest.hcl' \
    -o -name '.terraform.lock.hcl' \) -exec cp {} "$2/" \;
  [[ ! -d $1/tests ]] || cp -r "$1/tests" "$2/"
  printf 'terraform {\n  backend "local" {}\n}\n' >"$2/review_local_override.tf"
}

step=fmt
echo "==> terraform fmt -check $dir"
run "$work/fmt.log" terraform fmt -check -diff -recursive -no-color "$dir"

# A throwaway pvesim knows nothing of DIR's state, and --base brings its own:
# both plan a copy with local state, which also leaves DIR untouched.
run_dir=$dir
if [[ -n $base || -n $pvesim ]]; then
  run_dir=$work/head
  rm -rf "$work/base" "$run_dir"
  [[ -z $base ]] || copy_config "$base" "$work/base"
  copy_config "$dir" "$run_dir"
fi
step=init
echo "==> terraform init + validate"
run "$work/init.log" terraform -chdir="$run_dir" init -input=false -no-color
run "$work/validate.log" terraform -chdir="$run_dir" validate -no-color

step=playbooks
mapfile -t books < <(grep -lE '^[[:space:]]*-?[[:space:]]*hosts:' "$dir"/*.yml "$dir"/*.yaml 2>/dev/null || true)
echo "==> ansible-playbook --syntax-check: ${books[*]##*/}"
for book in "${books[@]}"; do
  run "$work/syntax-${book##*/}.log" ansible-playbook --syntax-check -i localhost, "$book"
done

if [[ -n $run_test ]]; then
  step="test"
  echo "==> terraform test"
  run "$work/test.log" terraform -chdir="$run_dir" test -no-color
  grep -E '^(Success|Failure)' "$work/test.log" | sed 's/^/    /'
fi

if [[ -n $base ]]; then
  step=base
  echo "==> terraform apply of the base $base"
  run "$work/base-init.log" terraform -chdir="$work/base" init -input=false -no-color
  run "$work/base-apply.log" terraform -chdir="$work/base" apply -input=false -auto-approve -no-color
  cp "$work/base/terraform.tfstate" "$run_dir/terraform.tfstate"
fi

step=plan
echo "==> terraform plan -json -out=$work/plan.bin"
rc=0
terraform -chdir="$run_dir" plan -input=false -json -out="$work/plan.bin" >"$work/plan-log.jsonl" || rc=$?
if ((rc != 0)); then
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line) if line.startswith("{") else {}
    if m.get("@level") == "error":
        d = m.get("diagnostic", {})
        print("    %s: %s" % (d.get("summary", m.get("@message")), d.get("detail", "")))
' "$work/plan-log.jsonl"
  fail "terraform plan exited $rc (log: $work/plan-log.jsonl)"
fi
terraform -chdir="$run_dir" show -json "$work/plan.bin" >"$work/plan.json"

step=review
python3 "$here/plan_review.py" "$work/plan.json" --diagnostics "$work/plan-log.jsonl" \
  --playbooks "$dir" --out "$work/review.md"
echo "==> review ($work/review.md)"
echo
cat "$work/review.md"
echo
summary=$(grep -m1 -o '\*\*Nodes:\*\* .*' "$work/review.md" | sed 's/\*\*//g; s/\.$//')
echo "review-locally: PASS ($summary; files in $work)"
