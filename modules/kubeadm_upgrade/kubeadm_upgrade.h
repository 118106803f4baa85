// gcid.k8s.kubeadm_upgrade: upgrades the control plane (`mode: apply`, on the
// first control-plane node: `kubeadm upgrade apply vX.Y.Z --yes`) or another
// node (`mode: node`: `kubeadm upgrade node`), one minor version at a time.
//
// Before anything runs it reads the control plane's version (kubeadm-config's
// kubernetesVersion, through kubectl and the node's kubeconfig) and the node's
// kubeadm version, and refuses what kubeadm's upgrade procedure forbids
// (CheckUpgrade in modules/kubeadm/version.h). Already at the target:
// changed=false. Check mode runs `kubeadm upgrade plan` (apply) or reports
// the command (node).
#ifndef MODULES_KUBEADM_UPGRADE_KUBEADM_UPGRADE_H_
#define MODULES_KUBEADM_UPGRADE_KUBEADM_UPGRADE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modules/ansible/args.h"
#include "modules/ansible/module.h"
#include "modules/kubeadm/kubeadm.h"
#include "modules/kubeadm/version.h"

namespace pvek8s::kubeadm {

// Where kubeadm_upgrade records, on a node without an API server manifest,
// the version `kubeadm upgrade node` last brought it to (kubeadm itself leaves
// no version on a worker). Relative to System::root.
inline constexpr const char* kUpgradeRecord = "/etc/kubernetes/pvek8s-kubeadm-upgrade";

// The `kubernetesVersion` of a ClusterConfiguration (YAML, as kubeadm stores it
// in the kubeadm-config ConfigMap); nullopt when absent or not a version.
std::optional<Version> ClusterConfigVersion(std::string_view cluster_configuration);

// The tag of the kube-apiserver image in a static pod manifest
// ("image: registry.k8s.io/kube-apiserver:v1.27.3"); nullopt when absent.
std::optional<Version> ManifestVersion(std::string_view manifest);

// One row of `kubeadm upgrade plan`'s tables.
struct PlanRow {
  std::string component;
  std::string node;  // "" when the table has no node for it (kube-proxy, CoreDNS).
  std::string current;
  std::string target;
};

// The rows of every table under a "COMPONENT ..." header in `kubeadm upgrade
// plan` text output, in order. Reads kubeadm's newer layout (COMPONENT NODE
// CURRENT TARGET) and the older one (COMPONENT CURRENT TARGET|AVAILABLE): the
// last two columns are the versions. Empty when kubeadm printed no table
// (nothing to upgrade).
std::vector<PlanRow> ParsePlan(std::string_view output);

// The module's options.
ansible::ArgSpec UpgradeSpec();
// Runs the module. `system.root` prefixes /etc/kubernetes.
ansible::Result RunUpgrade(ansible::Module& module, const System& system);

}  // namespace pvek8s::kubeadm

#endif  // MODULES_KUBEADM_UPGRADE_KUBEADM_UPGRADE_H_
