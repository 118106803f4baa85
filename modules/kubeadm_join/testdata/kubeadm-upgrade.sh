# Sourced by the kubeadm stand-in (next to it) for `kubeadm upgrade plan|apply|node`.
# What it proves: kubeadm_upgrade passes kubeadm's flags (--yes, --certificate-renewal,
# --etcd-upgrade), and the stand-in refuses what kubeadm's EnforceVersionPolicies refuses
# (more than one minor version up or down, a target above kubeadm's own minor version,
# a newer patch than kubeadm's without --force) with kubeadm's texts and exit 1.
# State it changes (the fake Kubernetes state K, see the shared interface in DESIGN):
#   K/version               the control plane's version: apply sets it to the target
#   K/nodes/<node>          kubelet=<version>: apply and node set this host's Node to the
#                           control plane's version, standing in for the kubelet package
#                           upgrade and kubelet restart that follow on a real node
#   $E/manifests/kube-apiserver.yaml   image tag, on control-plane hosts (apply, node)
#   $R/certs-expiry         one year from now unless --certificate-renewal=false
# This host's Node name is the file node-name next to the stand-in (the test hosts share
# the machine's hostname), else `hostname`.
# What it cannot prove: that a real control plane comes up at the new version.
if [ -s "$R/shared-dir" ]; then K="$(cat "$R/shared-dir")/kube"; else K="$R/kube"; fi
if [ -s "$R/node-name" ]; then NODE=$(cat "$R/node-name"); else NODE=$(hostname); fi

upgrade_fail() {
  echo "$1" >&2
  echo "To see the stack trace of this error execute with --v=5 or higher" >&2
  exit 1
}

# The faults the file "mode" next to the stand-in asks for.
upgrade_faults() {
  case "$(cat "$R/mode" 2>/dev/null)" in
    unreachable)
      upgrade_fail "[upgrade/config] FATAL: failed to get config map: Get \"https://10.123.0.11:6443/api/v1/namespaces/kube-system/configmaps/kubeadm-config?timeout=10s\": dial tcp 10.123.0.11:6443: connect: connection refused" ;;
    preflight)
      echo "[ERROR CoreDNSUnsupportedPlugins]: start version '1.10.1' not supported" >&2
      upgrade_fail "error execution phase preflight: [preflight] Some fatal errors occurred:" ;;
    hang) exec sleep 60 ;;
  esac
  [ -s "$K/version" ] ||
    upgrade_fail "[upgrade/config] FATAL: failed to get config map: configmaps \"kubeadm-config\" not found"
}

# kubeadm needs the cluster: admin.conf (apply, plan) and a reachable API server.
upgrade_client() {
  [ -s "$E/admin.conf" ] ||
    upgrade_fail "couldn't create a Kubernetes client from file \"/etc/kubernetes/admin.conf\": failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: no such file or directory"
  upgrade_faults
}

# Prints major minor patch of "$1" (v1.27.3).
upgrade_split() { echo "$1" | sed -n 's/^v\{0,1\}\([0-9]*\)\.\([0-9]*\)\.\([0-9]*\).*/\1 \2 \3/p'; }

# kubeadm's mandatory version policies for target "$1" against the cluster and kubeadm.
upgrade_policy() {
  # shellcheck disable=SC2046
  set -- "$1" $(upgrade_split "$1") $(upgrade_split "$(cat "$K/version")") $(upgrade_split "$(cat "$R/version")") "$2"
  t=$1 tmin=$3 tpat=$4 cmin=$6 kmin=$9 kpat=${10} force=${11}
  [ "$tmin" -gt $((cmin + 1)) ] &&
    upgrade_fail "[upgrade/version] FATAL: the --version argument is invalid due to these fatal errors:

	- Specified version to upgrade to \"$t\" is too high; kubeadm can upgrade only 1 minor version at a time

Please fix the misalignments highlighted above and try upgrading again"
  [ "$tmin" -lt $((cmin - 1)) ] &&
    upgrade_fail "[upgrade/version] FATAL: the --version argument is invalid due to these fatal errors:

	- Specified version to upgrade to \"$t\" is too low; kubeadm can downgrade only 1 minor version at a time

Please fix the misalignments highlighted above and try upgrading again"
  [ "$tmin" -gt "$kmin" ] &&
    upgrade_fail "[upgrade/version] FATAL: the --version argument is invalid due to these fatal errors:

	- Specified version to upgrade to \"$t\" is at least one minor release higher than the kubeadm minor release ($tmin > $kmin). Such an upgrade is not supported

Please fix the misalignments highlighted above and try upgrading again"
  if [ "$tmin" -eq "$kmin" ] && [ "$tpat" -gt "$kpat" ] && [ "$force" != yes ]; then
    upgrade_fail "[upgrade/version] FATAL: the --version argument is invalid due to these errors:

	- Specified version to upgrade to \"$t\" is higher than the kubeadm version \"$(cat "$R/version")\". Upgrade kubeadm first using the tool you used to install kubeadm

Can be bypassed if you pass the --force flag"
  fi
  return 0
}

# This host's Node and, on a control plane, its API server manifest, at version "$1".
upgrade_this_node() {
  if [ -e "$K/nodes/$NODE" ]; then
    sed -i "s/^kubelet=.*/kubelet=$1/" "$K/nodes/$NODE"
  fi
  if [ -e "$E/manifests/kube-apiserver.yaml" ]; then
    sed -i "s|\(image: registry.k8s.io/kube-apiserver:\).*|\1$1|" "$E/manifests/kube-apiserver.yaml"
  fi
}

upgrade_certs() {
  [ "$1" = false ] || echo $(($(date +%s) + 365 * 86400)) >"$R/certs-expiry"
}

upgrade_plan() {
  upgrade_client
  cluster=$(cat "$K/version") kubeadm_v=$(cat "$R/version")
  target=${1:-$kubeadm_v}
  upgrade_policy "$target" no
  echo "[upgrade/config] Making sure the configuration is correct:"
  echo "[preflight] Running pre-flight checks."
  echo "[upgrade] Running cluster health checks"
  echo "[upgrade] Fetching available versions to upgrade to"
  echo "[upgrade/versions] Cluster version: $cluster"
  echo "[upgrade/versions] kubeadm version: $kubeadm_v"
  echo "[upgrade/versions] Target version: $target"
  [ "$target" = "$cluster" ] && exit 0
  echo
  echo "Components that must be upgraded manually after you have upgraded the control plane with 'kubeadm upgrade apply':"
  printf '%-25s %-10s %-10s %s\n' COMPONENT NODE CURRENT TARGET
  for n in "$K"/nodes/*; do
    [ -e "$n" ] || continue
    printf '%-25s %-10s %-10s %s\n' kubelet "${n##*/}" "$(sed -n 's/^kubelet=//p' "$n")" "$target"
  done
  echo
  echo "Upgrade to the latest version in the $(echo "$cluster" | cut -d. -f1,2) series:"
  echo
  printf '%-25s %-10s %-10s %s\n' COMPONENT NODE CURRENT TARGET
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    printf '%-25s %-10s %-10s %s\n' "$c" "$NODE" "$cluster" "$target"
  done
  printf '%-25s %-10s %-10s %s\n' kube-proxy "" "${cluster#v}" "$target"
  printf '%-25s %-10s %-10s %s\n' CoreDNS "" v1.9.3 v1.10.1
  printf '%-25s %-10s %-10s %s\n' etcd "$NODE" 3.5.6-0 3.5.7-0
  echo
  echo "You can now apply the upgrade by executing the following command:"
  echo
  printf '\tkubeadm upgrade apply %s\n' "$target"
  echo
  echo "_____________________________________________________________________"
}

upgrade_apply() {
  target="" yes=no force=no renew=true
  for a in "$@"; do
    case "$a" in
      -y | --yes) yes=yes ;;
      -f | --force) force=yes yes=yes ;;
      --certificate-renewal=*) renew=${a#*=} ;;
      --etcd-upgrade=*) ;;
      v[0-9]* | [0-9]*) target=$a ;;
      *) upgrade_fail "unknown flag: $a" ;;
    esac
  done
  [ -n "$target" ] || upgrade_fail "missing one or more required arguments: [version]"
  upgrade_client
  upgrade_policy "$target" "$force"
  [ "$yes" = yes ] ||
    upgrade_fail "won't proceed; the user didn't answer (Y|y) in order to continue"
  echo "$target" >"$K/version"
  upgrade_this_node "$target"
  upgrade_certs "$renew"
  echo "[upgrade/successful] SUCCESS! Your cluster was upgraded to \"$target\". Enjoy!"
}

upgrade_node() {
  renew=true
  for a in "$@"; do
    case "$a" in
      --certificate-renewal=*) renew=${a#*=} ;;
      --etcd-upgrade=*) ;;
      *) upgrade_fail "unknown flag: $a" ;;
    esac
  done
  [ -s "$E/admin.conf" ] || [ -s "$E/kubelet.conf" ] ||
    upgrade_fail "couldn't create a Kubernetes client from file \"/etc/kubernetes/kubelet.conf\": open /etc/kubernetes/kubelet.conf: no such file or directory"
  upgrade_faults
  version=$(cat "$K/version")
  upgrade_this_node "$version"
  [ -e "$E/manifests/kube-apiserver.yaml" ] && upgrade_certs "$renew"
  echo "[upgrade] The configuration for this node was successfully updated!"
  echo "[upgrade] Now you should go ahead and upgrade the kubelet package using your package manager."
}

cmd_upgrade() {
  shift
  sub=$1
  shift
  case "$sub" in
    plan) upgrade_plan "$@" ;;
    apply) upgrade_apply "$@" ;;
    node) upgrade_node "$@" ;;
    *) upgrade_fail "unknown command \"$sub\" for \"kubeadm upgrade\"" ;;
  esac
  exit 0
}
