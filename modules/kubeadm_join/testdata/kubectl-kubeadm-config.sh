# Sourced by the kubectl stand-in (next to it) for
#   kubectl --kubeconfig FILE get configmap kubeadm-config -n kube-system -o jsonpath={.data.ClusterConfiguration}
# which kubeadm_upgrade runs to learn the control plane's version: the ClusterConfiguration
# kubeadm keeps in that ConfigMap, with kubernetesVersion from the fake Kubernetes state
# (K/version). Like kubectl, it fails when the kubeconfig does not exist.
# What it cannot prove: that a real API server grants the node's credentials this read
# (kubeadm's RBAC role kubeadm:nodes-kubeadm-config does).
kubectl_kubeadm_config() {
  if [ -s "$R/shared-dir" ]; then K="$(cat "$R/shared-dir")/kube"; else K="$R/kube"; fi
  kubeconfig="" prev=""
  for a in "$@"; do
    [ "$prev" = --kubeconfig ] && kubeconfig=$a
    case "$a" in --kubeconfig=*) kubeconfig=${a#*=} ;; esac
    prev=$a
  done
  if [ -n "$kubeconfig" ] && [ ! -e "$kubeconfig" ]; then
    echo "error: stat $kubeconfig: no such file or directory" >&2
    exit 1
  fi
  if [ "$(cat "$R/mode" 2>/dev/null)" = unreachable ]; then
    echo "The connection to the server 10.123.0.11:6443 was refused - did you specify the right host or port?" >&2
    exit 1
  fi
  if [ ! -s "$K/version" ]; then
    echo "Error from server (NotFound): configmaps \"kubeadm-config\" not found" >&2
    exit 1
  fi
  printf 'apiServer:\n  extraArgs:\n    authorization-mode: Node,RBAC\napiVersion: kubeadm.k8s.io/v1beta3\ncertificatesDir: /etc/kubernetes/pki\nclusterName: kubernetes\nkind: ClusterConfiguration\nkubernetesVersion: %s\nnetworking:\n  dnsDomain: cluster.local\n' "$(cat "$K/version")"
  exit 0
}
