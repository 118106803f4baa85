#!/usr/bin/env bash
# package_deb: builds the provider's .deb with CPack into a temporary directory,
# extracts it with dpkg-deb (no root, nothing installed on this machine), and
# runs examples/quickstart against the extracted files, both ways Terraform
# can find them:
#   1. implied mirror: no provider_installation block, XDG_DATA_DIRS pointing
#      at the extracted usr/share (on a real install, the default
#      /usr/local/share:/usr/share finds /usr/share/terraform/plugins);
#   2. explicit filesystem_mirror in a CLI configuration, as documented in
#      terraformrc.example: init, apply, empty second plan, destroy.
#
# With --collection, the gcid.k8s collection's .deb is checked too: extracted
# into its own directory, ansible-doc and ansible-galaxy see the collection
# there, and its kernel_tuning module runs on localhost in check mode.
# A step that cannot run here (no --collection, or the lab when not root)
# makes the test exit 77: CTest reports it skipped (docs/testing.md).
#
# usage: deb_test.sh CPACK_CONFIG QUICKSTART_DIR [--collection]
set -euo pipefail
cpack_config=$1
quickstart=$(realpath "$2")
with_collection=${3:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pvek8s-deb-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
show() { sed 's/^/    /' "$1" | tail -40; }
# A step that cannot run here is reported, and the test then exits 77, which
# CTest reports as skipped (SKIP_RETURN_CODE), not passed.
skipped=0
skip() { echo "SKIP - $*"; skipped=$((skipped + 1)); }

# --- build and inspect the package
if ! cpack --config "$cpack_config" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1; then
  not_ok "cpack"
  show "$tmp/cpack.log"
  exit 1
fi
mapfile -t debs < <(find "$tmp/pkg" -maxdepth 1 -name 'pvek8s-terraform-provider_*_amd64.deb')
if ((${#debs[@]} != 1)); then
  not_ok "exactly one pvek8s-terraform-provider_*_amd64.deb (found ${#debs[@]})"
  exit 1
fi
deb=${debs[0]}
version=$(dpkg-deb -f "$deb" Version)
ok "built $(basename "$deb")"

[[ $(dpkg-deb -f "$deb" Package) == pvek8s-terraform-provider ]] &&
  ok "package name" || not_ok "package name is $(dpkg-deb -f "$deb" Package)"
depends=$(dpkg-deb -f "$deb" Depends)
[[ $depends == *libcurl4* && $depends == *libssl3* ]] &&
  ok "Depends lists the shared libraries ($depends)" || not_ok "Depends: '$depends'"
[[ -n $(dpkg-deb -f "$deb" Maintainer) && -n $(dpkg-deb -f "$deb" Description) ]] &&
  ok "Maintainer and Description set" || not_ok "Maintainer or Description missing"

root="$tmp/root"
dpkg-deb -x "$deb" "$root"
plugins="$root/usr/share/terraform/plugins"
bin="$plugins/registry.terraform.io/gcid/proxmox/$version/linux_amd64/terraform-provider-proxmox_v$version"
if [[ -x $bin ]]; then ok "binary at /usr/share/terraform/plugins/.../$version/linux_amd64"; else
  not_ok "no executable $bin"; find "$root" -type f | sed 's/^/    /'; exit 1; fi
[[ $("$bin" --version) == "terraform-provider-proxmox $version" ]] &&
  ok "binary reports version $version" || not_ok "binary reports '$("$bin" --version)'"
if readelf -S "$bin" | grep -q '\.debug_info'; then not_ok "binary is not stripped"; else ok "binary is stripped"; fi
[[ -f $root/usr/share/doc/pvek8s-terraform-provider/copyright &&
   -f $root/usr/share/doc/pvek8s-terraform-provider/terraformrc.example ]] &&
  ok "copyright and terraformrc.example shipped" || not_ok "docs missing under /usr/share/doc"

# --- Terraform finds it without any provider_installation block
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
unset TF_LOG TF_LOG_PATH TF_DATA_DIR TF_PLUGIN_CACHE_DIR
mkdir -p "$tmp/home" "$tmp/implied" "$tmp/explicit"
: >"$tmp/empty.tfrc"
cp "$quickstart"/*.tf "$tmp/implied/"
if (cd "$tmp/implied" &&
    HOME="$tmp/home" XDG_DATA_HOME="$tmp/home/.local/share" XDG_DATA_DIRS="$root/usr/share" \
    TF_CLI_CONFIG_FILE="$tmp/empty.tfrc" \
    terraform init -input=false -no-color >"$tmp/implied.log" 2>&1 &&
    grep -q "Installed gcid/proxmox v$version" "$tmp/implied.log" &&
    HOME="$tmp/home" TF_CLI_CONFIG_FILE="$tmp/empty.tfrc" \
    terraform validate -no-color >>"$tmp/implied.log" 2>&1); then
  ok "implied mirror: init and validate without provider_installation"
else
  not_ok "implied mirror"
  show "$tmp/implied.log"
fi

# --- explicit filesystem_mirror: the quickstart end to end
cat >"$tmp/explicit.tfrc" <<CFG
provider_installation {
  filesystem_mirror {
    path    = "$plugins"
    include = ["registry.terraform.io/gcid/*"]
  }
  direct {
    exclude = ["registry.terraform.io/gcid/*"]
  }
}
CFG
cp "$quickstart"/*.tf "$tmp/explicit/"
cd "$tmp/explicit"
export HOME="$tmp/home" TF_CLI_CONFIG_FILE="$tmp/explicit.tfrc"
step() {
  local what=$1
  shift
  if "$@" >"$tmp/step.log" 2>&1; then ok "$what"; else not_ok "$what"; show "$tmp/step.log"; return 1; fi
}
step "explicit mirror: terraform init" terraform init -input=false -no-color &&
  step "explicit mirror: terraform apply" terraform apply -input=false -auto-approve -no-color &&
  step "explicit mirror: second plan is empty" terraform plan -input=false -no-color -detailed-exitcode &&
  step "explicit mirror: ca_cert_hash output" bash -c \
    'terraform output -raw ca_cert_hash | grep -Eq "^sha256:[0-9a-f]{64}$"' &&
  step "explicit mirror: terraform destroy" terraform destroy -input=false -auto-approve -no-color ||
  true

# --- the Ansible collection package
if [[ $with_collection == --collection ]]; then
  mapfile -t cdebs < <(find "$tmp/pkg" -maxdepth 1 -name 'pvek8s-ansible-collection_*_amd64.deb')
  if ((${#cdebs[@]} != 1)); then
    not_ok "exactly one pvek8s-ansible-collection_*_amd64.deb (found ${#cdebs[@]})"
  else
    cdeb=${cdebs[0]}
    ok "built $(basename "$cdeb")"
    [[ $(dpkg-deb -f "$cdeb" Depends) == *ansible-core* ]] &&
      ok "collection Depends on ansible-core" || not_ok "collection Depends: '$(dpkg-deb -f "$cdeb" Depends)'"
    croot="$tmp/collection-root"
    dpkg-deb -x "$cdeb" "$croot"
    colls="$croot/usr/share/ansible/collections"
    coll="$colls/ansible_collections/gcid/k8s"
    [[ -x $coll/plugins/modules/kernel_tuning && -f $coll/plugins/modules/kernel_tuning.yml &&
       -f $coll/MANIFEST.json && -f $coll/meta/runtime.yml ]] &&
      ok "collection unpacked under /usr/share/ansible/collections" ||
      { not_ok "collection files missing"; find "$croot" | sed 's/^/    /'; }
    compgen -G "$croot/usr/share/pvek8s/gcid-k8s-*.tar.gz" >/dev/null &&
      ok "collection tarball in /usr/share/pvek8s" || not_ok "no tarball in /usr/share/pvek8s"
    if [[ -x $coll/plugins/modules/kernel_tuning ]]; then
      : >"$tmp/ansible.cfg"  # none of the machine's own settings
      export ANSIBLE_HOME="$tmp/ansible-home" ANSIBLE_LOCAL_TEMP="$tmp/ansible-home/tmp" \
        ANSIBLE_COLLECTIONS_PATH="$colls" ANSIBLE_NOCOLOR=1 ANSIBLE_CONFIG="$tmp/ansible.cfg"
      if ansible-galaxy collection list gcid.k8s -p "$colls" >"$tmp/list.log" 2>&1 &&
         grep -Eq "gcid\.k8s +$version" "$tmp/list.log"; then
        ok "ansible-galaxy lists gcid.k8s $version"
      else
        not_ok "ansible-galaxy collection list"; show "$tmp/list.log"
      fi
      if ansible-doc gcid.k8s.kernel_tuning >"$tmp/doc.log" 2>&1 && grep -q profile "$tmp/doc.log"; then
        ok "ansible-doc gcid.k8s.kernel_tuning"
      else
        not_ok "ansible-doc gcid.k8s.kernel_tuning"; show "$tmp/doc.log"
      fi
      # Check mode with nothing to apply: reads only, writes nothing.
      args="profile=none swap=unchanged sysctl_file=$tmp/k8s-sysctl.conf modules_file=$tmp/k8s-modules.conf"
      if ansible localhost -c local -i localhost, --check -m gcid.k8s.kernel_tuning -a "$args" \
           >"$tmp/run.log" 2>&1 && grep -q "SUCCESS" "$tmp/run.log" &&
         [[ ! -e $tmp/k8s-sysctl.conf && ! -e $tmp/k8s-modules.conf ]]; then
        ok "gcid.k8s.kernel_tuning runs from the package (check mode)"
      else
        not_ok "gcid.k8s.kernel_tuning from the package"; show "$tmp/run.log"
      fi
      # The lab end to end with both packages' files (needs root for the
      # namespace test hosts; pvesim comes from the build).
      if [[ $(id -u) == 0 && -n ${PVEK8S_BUILD_DIR:-} ]]; then
        provider_bin=$(find "$root/usr/share/terraform/plugins" -name 'terraform-provider-proxmox_v*' | head -n 1)
        unset ANSIBLE_HOME ANSIBLE_LOCAL_TEMP ANSIBLE_CONFIG
        if PVEK8S_LAB_SKIP_BUILD=1 PVEK8S_LAB_DIR="$tmp/lab" PVEK8S_LAB_PROVIDER="$provider_bin" \
             PVEK8S_LAB_COLLECTIONS_PATH="$colls" \
             bash "$(dirname "$0")/../.ci/lab" >"$tmp/lab.log" 2>&1; then
          ok "the lab runs end to end against the packages"
        else
          not_ok "the lab against the packages"; show "$tmp/lab.log"
        fi
      else
        skip "the lab against the packages (needs root and PVEK8S_BUILD_DIR)"
      fi
    fi
  fi
else
  skip "the collection package (deb_test.sh ran without --collection)"
fi

echo "$failures failed, $skipped skipped"
((failures == 0)) || exit 1
((skipped == 0)) || exit 77
