#!/usr/bin/env bash
# examples_validate: every folder under examples/ that holds *.tf files must be
# formatted (terraform fmt) and pass `terraform init` + `terraform validate`
# with the built provider, installed from a throwaway filesystem mirror.
# New folders (examples/resources/<type>/, examples/data-sources/<type>/,
# examples/lab/, ...) are picked up without any change here.
# Folders that do not declare required_providers (the resource and data
# source snippets embedded in the docs) get a declaration of gcid/proxmox.
#
# usage: validate_test.sh PROVIDER_BINARY [EXAMPLES_DIR]
set -euo pipefail
binary=$(realpath "$1")
examples=$(realpath "${2:-$(dirname "$0")}")
version=$("$binary" --version | awk '{print $2}')

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pvek8s-examples-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mirror="$tmp/mirror"
mkdir -p "$mirror/registry.terraform.io/gcid/proxmox/$version/linux_amd64"
cp "$binary" "$mirror/registry.terraform.io/gcid/proxmox/$version/linux_amd64/terraform-provider-proxmox_v$version"
cat >"$tmp/cli.tfrc" <<CFG
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/gcid/*"]
  }
  direct {
    exclude = ["registry.terraform.io/gcid/*"]
  }
}
CFG
export TF_CLI_CONFIG_FILE="$tmp/cli.tfrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
unset TF_LOG TF_LOG_PATH TF_DATA_DIR

mapfile -t folders < <(find "$examples" -name '*.tf' -not -path '*/.terraform/*' -printf '%h\n' | sort -u)
if ((${#folders[@]} == 0)); then
  echo "not ok - no example folders under $examples"
  exit 1
fi

failures=0
for dir in "${folders[@]}"; do
  name=${dir#"$examples"/}
  work="$tmp/work/$name"
  mkdir -p "$work"
  find "$dir" -maxdepth 1 -type f \( -name '*.tf' -o -name '*.tfvars' -o -name '*.tftpl' \) \
    -exec cp {} "$work/" \;
  if ! grep -qs required_providers "$work"/*.tf; then
    cat >"$work/zz_examples_test_providers.tf" <<TF
terraform {
  required_providers {
    proxmox = { source = "gcid/proxmox", version = "$version" }
  }
}
TF
  fi
  log="$work.log"
  if ! terraform fmt -check -diff -no-color "$dir" >"$log" 2>&1; then
    echo "not ok - $name: not formatted (terraform fmt $name)"
    sed 's/^/    /' "$log"
    failures=$((failures + 1))
    continue
  fi
  if (cd "$work" && terraform init -input=false -no-color -backend=false >"$log" 2>&1 &&
      terraform validate -no-color >>"$log" 2>&1); then
    echo "ok - $name"
  else
    echo "not ok - $name: terraform init/validate failed"
    sed 's/^/    /' "$log" | tail -40
    failures=$((failures + 1))
  fi
done
echo "${#folders[@]} example folders, $failures failed"
((failures == 0))
