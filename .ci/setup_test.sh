#!/usr/bin/env bash
# .ci/setup refuses a missing, unreadable or too old terraform with a message
# that names the version found and the minimum, and accepts newer ones. Fake
# terraform binaries (and a dpkg-query that reports every package installed,
# so that nothing is installed) stand first on PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
mkdir -p "$tmp/bin"
cat >"$tmp/bin/dpkg-query" <<'SH'
#!/bin/sh
for p in "$@"; do
  case $p in -*) ;; *) echo "$p install ok installed" ;; esac
done
SH
chmod +x "$tmp/bin/dpkg-query"
# Nothing may be installed: an apt-get call means the package check broke.
printf '#!/bin/sh\necho "apt-get called: $*" >&2\nexit 100\n' >"$tmp/bin/apt-get"
chmod +x "$tmp/bin/apt-get"

# with_terraform VERSION_LINE: a fake terraform that prints VERSION_LINE.
with_terraform() {
  printf '#!/bin/sh\necho "%s"\necho "on linux_amd64"\n' "$1" >"$tmp/bin/terraform"
  chmod +x "$tmp/bin/terraform"
}

# expect CODE NAME [TEXT]: runs .ci/setup; checks its exit code and stderr.
expect() {
  local want=$1 name=$2 text=${3:-} rc=0
  PATH="$tmp/bin:/usr/bin:/bin" bash "$root/.ci/setup" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [[ $rc != "$want" ]]; then
    echo "FAIL: $name: exit $rc, want $want"
    sed 's/^/  stderr: /' "$tmp/err"
    failures=$((failures + 1))
  elif [[ -n $text ]] && ! grep -qF -- "$text" "$tmp/err"; then
    echo "FAIL: $name: stderr lacks \"$text\""
    sed 's/^/  stderr: /' "$tmp/err"
    failures=$((failures + 1))
  else
    echo "ok: $name (exit $rc)"
  fi
}

with_terraform "Terraform v1.4.6"
expect 1 "an old terraform is refused" "is Terraform 1.4.6, older than 1.11.0"
grep -qF "developer.hashicorp.com/terraform/install" "$tmp/err" ||
  { echo "FAIL: the refusal does not say where to get terraform"; failures=$((failures + 1)); }
with_terraform "Terraform v1.10.9"
expect 1 "1.10.9 is refused" "older than 1.11.0"
with_terraform "Terraform v0.12.31"
expect 1 "0.12 is refused" "is Terraform 0.12.31, older than 1.11.0"
with_terraform "Terraform v1.11.0"
expect 0 "the minimum is accepted"
with_terraform "Terraform v1.11.4"
expect 0 "the CI version is accepted"
with_terraform "Terraform v1.12.0-beta1"
expect 0 "a newer minor is accepted"
with_terraform "Terraform v2.0.0"
expect 0 "a newer major is accepted"
with_terraform "OpenTofu something"
expect 1 "an unreadable version is refused" "cannot tell the version"
rm "$tmp/bin/terraform"
expect 1 "no terraform is refused" "terraform is not on PATH"

((failures == 0)) || { echo "$failures failure(s)"; exit 1; }
echo "setup_test: all checks passed"
