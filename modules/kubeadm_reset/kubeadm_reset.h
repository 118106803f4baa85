// gcid.k8s.kubeadm_reset: a node leaves the cluster cleanly. Runs `kubeadm
// reset --force --cri-socket ...` when kubeadm left files under
// /etc/kubernetes, then the clean-ups kubeadm leaves to the operator, each
// opt-in: the CNI configuration (/etc/cni/net.d), kube-proxy's iptables
// rules and IPVS tables, and the admin's kubeconfig.
//
// What is there is found first, read-only (files, `iptables-save`,
// `ipvsadm -Ln`), so that check mode lists what would go and a node with
// nothing left to reset reports changed=false. iptables and ipvsadm act on
// the network namespace the module runs in, the node's own.
#ifndef MODULES_KUBEADM_RESET_KUBEADM_RESET_H_
#define MODULES_KUBEADM_RESET_KUBEADM_RESET_H_

#include <string>
#include <string_view>
#include <vector>

#include "modules/ansible/args.h"
#include "modules/ansible/module.h"
#include "modules/kubeadm/kubeadm.h"

namespace pvek8s::kubeadm {

// The files kubeadm's cleanup-node phase removes that exist under
// `root`/etc/kubernetes: the kubeconfigs, each static pod manifest, and the
// certificate directory when it is not empty. Absolute paths without `root`.
std::vector<std::string> KubeadmLeftovers(const std::string& root);

// Whether `iptables-save` output holds anything beyond empty built-in
// chains: a rule (-A) or a chain of its own (e.g. :KUBE-SERVICES).
bool IptablesHasRules(std::string_view iptables_save);
// Whether `ipvsadm -Ln` output lists a virtual server (TCP, UDP, SCTP, FWM).
bool IpvsHasServices(std::string_view ipvsadm_list);

// The programs the module runs: names searched in $PATH and the sbin/bin
// directories, or paths. Tests point them at stand-ins.
struct ResetTools {
  std::string kubeadm = "kubeadm";
  std::string iptables = "iptables";  // iptables-save is looked up next to it.
  std::string ipvsadm = "ipvsadm";
};

// The module's options.
ansible::ArgSpec ResetSpec();
// Runs the module; `system.root` prefixes /etc/kubernetes and /etc/cni/net.d.
ansible::Result RunReset(ansible::Module& module, const System& system, const ResetTools& tools);

}  // namespace pvek8s::kubeadm

#endif  // MODULES_KUBEADM_RESET_KUBEADM_RESET_H_
