#!/bin/bash
# Installs the collection tarball offline into a temporary directory and checks
# that ansible-doc shows every module's documentation and that the binaries
# arrive intact and executable.
set -euo pipefail
tarball=${1:?usage: collection_test.sh TARBALL}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ANSIBLE_HOME=$tmp/home ANSIBLE_LOCAL_TEMP=$tmp/home/tmp ANSIBLE_NOCOLOR=1
fail() { echo "FAIL: $*" >&2; exit 1; }

ansible-galaxy collection install --offline -p "$tmp/collections" "$tarball" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "offline install"; }
coll=$tmp/collections/ansible_collections/gcid/k8s
[[ -x $coll/plugins/modules/kernel_tuning ]] || fail "kernel_tuning binary missing or not executable"
[[ -f $coll/plugins/modules/kernel_tuning.yml ]] || fail "kernel_tuning.yml missing"
[[ -f $coll/meta/runtime.yml ]] || fail "meta/runtime.yml missing"
tar tzf "$tarball" >"$tmp/contents" || fail "tarball unreadable"
grep -qx 'plugins/modules/kernel_tuning' "$tmp/contents" || fail "binary not in tarball"
[[ $(head -c 4 "$coll/plugins/modules/kernel_tuning" | od -An -c | tr -d ' ') == 177ELF ]] ||
  fail "plugins/modules/kernel_tuning does not lead to the ELF binary"

export ANSIBLE_COLLECTIONS_PATH=$tmp/collections
# ansible-doc -l lists exactly the collection's modules (the sidecars of
# modules/*/NAME.yml), each with its short description, and warns about nothing.
(cd "$tmp" && ansible-doc -l gcid.k8s >"$tmp/list.out" 2>"$tmp/list.err") ||
  { cat "$tmp/list.out" "$tmp/list.err"; fail "ansible-doc -l gcid.k8s exits non-zero"; }
[[ ! -s $tmp/list.err ]] || { cat "$tmp/list.err"; fail "ansible-doc -l gcid.k8s warns"; }
src=$(cd "$(dirname "$0")/.." && pwd)
want=$(for y in "$src"/*/*.yml; do
  n=$(basename "$y" .yml)
  [[ $y == */$n/$n.yml ]] && echo "gcid.k8s.$n"
done | sort)
got=$(awk '{print $1}' "$tmp/list.out" | sort)
[[ $got == "$want" ]] || { cat "$tmp/list.out"; fail "ansible-doc -l lists [$got], want [$want]"; }
if awk 'NF < 2 || /UNDOCUMENTED|INVALID/' "$tmp/list.out" | grep -q .; then
  cat "$tmp/list.out"
  fail "ansible-doc -l shows a module without its short description"
fi
doc=$(ansible-doc gcid.k8s.kernel_tuning 2>&1) || { echo "$doc"; fail "ansible-doc"; }
for word in profile sysctl modules swap sysctl_file modules_file state EXAMPLES RETURN \
    'kubeflow' 'check_mode' 'fs.inotify.max_user_watches'; do
  grep -q -- "$word" <<<"$doc" || { echo "$doc"; fail "ansible-doc output lacks '$word'"; }
done
json=$(ansible-doc -j gcid.k8s.kernel_tuning 2>/dev/null)
python3 - "$json" <<'PY' || fail "ansible-doc -j structure"
import json, sys
d = json.loads(sys.argv[1])["gcid.k8s.kernel_tuning"]
opts = d["doc"]["options"]
assert set(opts) == {"profile", "sysctl", "modules", "swap", "sysctl_file", "modules_file", "state",
                     "sysctl_conflicts", "sysctl_override_file", "modules_conflicts",
                     "swap_conflicts"}, opts
assert opts["profile"]["default"] == "kubernetes"
assert d["examples"] and d["return"]["sysctl_changed"]
PY
jdoc=$(ansible-doc gcid.k8s.kubeadm_join 2>&1) || { echo "$jdoc"; fail "ansible-doc kubeadm_join"; }
for word in api_server_endpoint token ca_cert_hashes token_expires_at reset_on_failure; do
  grep -q -- "$word" <<<"$jdoc" || fail "ansible-doc kubeadm_join lacks '$word'"
done
[[ -x $coll/plugins/modules/kubeadm_join ]] || fail "kubeadm_join binary missing"
idoc=$(ansible-doc gcid.k8s.kubeadm_init 2>&1) || { echo "$idoc"; fail "ansible-doc kubeadm_init"; }
for word in ca_cert_pem ca_key_pem bootstrap_token control_plane_endpoint upload_certs; do
  grep -q -- "$word" <<<"$idoc" || fail "ansible-doc kubeadm_init lacks '$word'"
done
ddoc=$(ansible-doc gcid.k8s.node_drain 2>&1) || { echo "$ddoc"; fail "ansible-doc node_drain"; }
for word in node state kubeconfig timeout grace_period ignore_daemonsets delete_emptydir_data force \
    evicted schedulable_before; do
  grep -q -- "$word" <<<"$ddoc" || fail "ansible-doc node_drain lacks '$word'"
done
rdoc=$(ansible-doc gcid.k8s.kubeadm_reset 2>&1) || { echo "$rdoc"; fail "ansible-doc kubeadm_reset"; }
for word in cri_socket remove_cni_config flush_iptables clear_ipvs remove_kubeconfig kubeconfig_path \
    removed; do
  grep -q -- "$word" <<<"$rdoc" || fail "ansible-doc kubeadm_reset lacks '$word'"
done
echo "collection_test: ok ($(stat -c %s "$tarball") byte tarball)"
