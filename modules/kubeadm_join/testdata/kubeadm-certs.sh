# Sourced by the kubeadm stand-in (next to it) for `kubeadm certs check-expiration|renew`.
# What it proves: kubeadm_certs reads kubeadm's own check-expiration table (the text of
# kubeadm 1.26-1.31: dates as "Dec 30, 2020 23:36 UTC", residual time as Go's
# ShortHumanDuration, !MISSING! rows) and runs `certs renew all`.
# State: the file certs-expiry next to the stand-in holds the leaf certificates' expiry
# (unix s; every leaf shares it). Without it the expiry is one year after admin.conf was
# written (kubeadm init). The CAs expire nine years after that. A host without
# $E/admin.conf has no control-plane certificates: every row is !MISSING!, as on a worker.
# `renew all` writes certs-expiry one year from now.
# What it cannot prove: that a real API server picks the new certificates up.
CERTS_LEAVES="admin.conf apiserver apiserver-etcd-client apiserver-kubelet-client controller-manager.conf etcd-healthcheck-client etcd-peer etcd-server front-proxy-client scheduler.conf"

certs_expiry() {
  if [ -s "$R/certs-expiry" ]; then cat "$R/certs-expiry"
  else echo $(($(stat -c %Y "$E/admin.conf") + 365 * 86400)); fi
}

# Go's duration.ShortHumanDuration of "$1" seconds, as kubeadm prints RESIDUAL TIME.
certs_residual() {
  s=$1
  if [ "$s" -lt -1 ]; then echo "<invalid>"
  elif [ "$s" -lt 0 ]; then echo 0s
  elif [ "$s" -lt 120 ]; then echo "${s}s"
  elif [ $((s / 60)) -lt 120 ]; then echo "$((s / 60))m"
  elif [ $((s / 3600)) -lt 48 ]; then echo "$((s / 3600))h"
  elif [ $((s / 3600)) -lt $((24 * 365 * 2)) ]; then echo "$((s / 86400))d"
  else echo "$((s / 86400 / 365))y"; fi
}

certs_date() { date -u -d "@$1" '+%b %d, %Y %H:%M UTC'; }

certs_ca() {
  case "$1" in
    apiserver | apiserver-kubelet-client) echo ca ;;
    apiserver-etcd-client | etcd-*) echo etcd-ca ;;
    front-proxy-client) echo front-proxy-ca ;;
    *) echo "" ;;
  esac
}

certs_check() {
  echo "[check-expiration] Reading configuration from the cluster..."
  echo "[check-expiration] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'"
  echo
  now=$(date +%s)
  printf '%-26s %-24s %-15s %-23s %s\n' CERTIFICATE EXPIRES "RESIDUAL TIME" "CERTIFICATE AUTHORITY" "EXTERNALLY MANAGED"
  if [ ! -s "$E/admin.conf" ]; then
    for c in $CERTS_LEAVES; do echo "!MISSING! $c"; done
    echo
    printf '%-23s %-24s %-15s %s\n' "CERTIFICATE AUTHORITY" EXPIRES "RESIDUAL TIME" "EXTERNALLY MANAGED"
    for c in ca etcd-ca front-proxy-ca; do echo "!MISSING! $c"; done
    return 0
  fi
  leaf=$(certs_expiry)
  for c in $CERTS_LEAVES; do
    printf '%-26s %-24s %-15s %-23s %s\n' "$c" "$(certs_date "$leaf")" "$(certs_residual $((leaf - now)))" "$(certs_ca "$c")" no
  done
  echo
  ca=$((leaf + 9 * 365 * 86400))
  printf '%-23s %-24s %-15s %s\n' "CERTIFICATE AUTHORITY" EXPIRES "RESIDUAL TIME" "EXTERNALLY MANAGED"
  for c in ca etcd-ca front-proxy-ca; do
    printf '%-23s %-24s %-15s %s\n' "$c" "$(certs_date "$ca")" "$(certs_residual $((ca - now)))" no
  done
}

certs_renew() {
  [ "$1" = all ] || { echo "the stand-in renews only all" >&2; exit 64; }
  [ -s "$E/admin.conf" ] || { echo "[renew] Error reading configuration from the Cluster. Falling back to default configuration" >&2; }
  [ -s "$E/admin.conf" ] || { for c in $CERTS_LEAVES; do echo "MISSING! $c"; done; exit 0; }
  echo "[renew] Reading configuration from the cluster..."
  echo $(($(date +%s) + 365 * 86400)) >"$R/certs-expiry"
  echo "certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself renewed"
  echo "certificate for serving the Kubernetes API renewed"
  echo "certificate the apiserver uses to access etcd renewed"
  echo "certificate for the API server to connect to kubelet renewed"
  echo "certificate embedded in the kubeconfig file for the controller manager to use renewed"
  echo "certificate for liveness probes to healthcheck etcd renewed"
  echo "certificate for etcd nodes to communicate with each other renewed"
  echo "certificate for serving etcd renewed"
  echo "certificate for the front proxy client renewed"
  echo "certificate embedded in the kubeconfig file for the scheduler manager to use renewed"
  echo
  echo "Done renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd, so that they can use the new certificates."
}

cmd_certs() {
  case "$2" in
    check-expiration) certs_check ;;
    renew) certs_renew "$3" ;;
    *) echo "unknown command \"$2\" for \"kubeadm certs\"" >&2; exit 1 ;;
  esac
  exit 0
}
