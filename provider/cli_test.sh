#!/usr/bin/env bash
# The provider binary's command line as a user meets it: --help and --version
# exit 0 on stdout, no argument explains itself and exits 1 (as go-plugin
# providers do), an unknown argument exits 2 with the usage on stderr.
# Usage: cli_test.sh PROVIDER_BINARY
set -euo pipefail
provider=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failures=0

# expect CODE NAME ARGS...: runs the provider without Terraform's cookie.
expect() {
  local want=$1 name=$2 rc=0
  shift 2
  env -u TF_PLUGIN_MAGIC_COOKIE "$provider" "$@" >"$out/stdout" 2>"$out/stderr" </dev/null || rc=$?
  if [[ $rc != "$want" ]]; then
    echo "FAIL: $name: exit $rc, want $want"
    sed 's/^/  stderr: /' "$out/stderr"
    failures=$((failures + 1))
  else
    echo "ok: $name (exit $rc)"
  fi
}

# contains STREAM TEXT NAME
contains() {
  if ! grep -qF -- "$2" "$out/$1"; then
    echo "FAIL: $3: $1 lacks \"$2\""
    sed "s/^/  $1: /" "$out/$1"
    failures=$((failures + 1))
  fi
}

expect 0 "--help" --help
contains stdout "usage: terraform-provider-proxmox [--debug | --version | --help]" "--help prints the usage"
contains stdout "Exit status:" "--help documents the exit codes"
[[ ! -s $out/stderr ]] || { echo "FAIL: --help wrote to stderr"; failures=$((failures + 1)); }
expect 0 "-h" -h
contains stdout "usage: terraform-provider-proxmox" "-h prints the usage"
expect 0 "--version" --version
grep -qE '^terraform-provider-proxmox [0-9]+\.[0-9]+\.[0-9]+' "$out/stdout" ||
  { echo "FAIL: --version prints no version"; failures=$((failures + 1)); }
expect 1 "no argument, not started by Terraform"
contains stderr "is a Terraform provider: Terraform starts it" "no argument explains itself"
contains stderr "--help" "no argument points at --help"
[[ ! -s $out/stdout ]] || { echo "FAIL: no argument wrote to stdout"; failures=$((failures + 1)); }
expect 2 "unknown argument" --frobnicate
contains stderr 'unknown argument "--frobnicate"' "an unknown argument is named"
contains stderr "usage: terraform-provider-proxmox" "an unknown argument shows the usage"

((failures == 0)) || { echo "$failures failure(s)"; exit 1; }
echo "cli_test: all checks passed"
