# `kubeadm reset` of the kubeadm stand-in (sourced by kubeadm; R, E and C are
# set there). What it proves: the caller passes --force (without it kubeadm
# asks and, with stdin not a terminal, gives up as below) and a well-formed
# --cri-socket; the node's kubeadm files go as kubeadm's cleanup-node phase
# removes them: the kubeconfigs under /etc/kubernetes, the static pod
# manifests and the certificates ($PVEK8S_KUBEADM_TEST_ROOT/etc/kubernetes;
# the host's own overlaid /etc on test hosts). What it cannot prove: that the
# kubelet is stopped and the containers removed (there are none); like
# kubeadm it leaves the Node object, the CNI configuration, iptables/IPVS
# rules and $HOME/.kube/config alone and says so.
cmd_reset() {
  force=false socket="" prev=""
  for a in "$@"; do
    case "$a" in -f | --force) force=true ;; --cri-socket=*) socket=${a#--cri-socket=} ;; esac
    [ "$prev" = --cri-socket ] && socket="$a"
    prev="$a"
  done
  if [ "$force" != true ]; then
    echo "[reset] Are you sure you want to proceed? [y/N]: " >&2
    echo "error: won't proceed; the user didn't answer (Y|y) in order to continue" >&2
    exit 1
  fi
  case "$socket" in
    "" | unix:///*) ;;
    *) echo "error: invalid --cri-socket \"$socket\": the URL scheme must be unix" >&2; exit 1 ;;
  esac
  for f in admin.conf super-admin.conf kubelet.conf bootstrap-kubelet.conf \
    controller-manager.conf scheduler.conf; do
    [ -e "$E/$f" ] && echo "[reset] Deleting file: $E/$f"
    rm -f "$E/$f"
  done
  for d in "$E/manifests" "$E/pki"; do
    [ -d "$d" ] && echo "[reset] Deleting contents of $d" && rm -rf "${d:?}"/*
  done
  rm -f "$R/partial"
  echo "The reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d"
  echo "The reset process does not reset or clean up iptables rules or IPVS tables."
  echo "The reset process does not clean your kubeconfig files and you must remove them manually."
  exit 0
}
