// gcid.k8s.node_drain: cordons, drains, uncordons or removes a Kubernetes
// node through kubectl (docs/adr/0007-node-drain-via-kubectl.md says why).
//
// The module reads the node, its pods and the PodDisruptionBudgets as JSON,
// decides everything itself (what is already done, which pods would be
// evicted, which pods kubectl would refuse to delete), and only then lets
// kubectl change the cluster: `kubectl drain` evicts through the Eviction
// API, so budgets are honoured and refused evictions retried until the
// timeout. A drain that does not finish names the pods still on the node and
// the budgets that hold them.
#ifndef MODULES_NODE_DRAIN_NODE_DRAIN_H_
#define MODULES_NODE_DRAIN_NODE_DRAIN_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modules/ansible/args.h"
#include "modules/ansible/module.h"
#include "provider/base/status.h"

namespace pvek8s::node_drain {

// A pod bound to the node, reduced to what drain decisions need.
struct Pod {
  std::string ref;             // "namespace/name".
  std::string controller;      // Kind of the controlling owner; "" when none.
  bool local_storage = false;  // Has an emptyDir volume.
  bool mirror = false;         // A static pod's mirror (kubelet-managed).
  bool finished = false;       // Phase Succeeded or Failed.
  std::map<std::string, std::string> labels;
};

// A PodDisruptionBudget with the selector kubectl's eviction is judged by.
struct Budget {
  std::string ref;  // "namespace/name".
  std::map<std::string, std::string> match_labels;
  int disruptions_allowed = 0;
};

// The node's state; exists=false for kubectl's NotFound.
struct NodeState {
  bool exists = false;
  bool unschedulable = false;
};

// Decodes `kubectl get node NAME -o json`. Error when it is not a Node.
StatusOr<NodeState> ParseNode(const nlohmann::json& node);
// Decodes `kubectl get pods -o json` (a List). Error naming the first
// malformed item.
StatusOr<std::vector<Pod>> ParsePods(const nlohmann::json& list);
// Decodes `kubectl get pdb -o json` (a List).
StatusOr<std::vector<Budget>> ParseBudgets(const nlohmann::json& list);

// The drain options that decide what may be deleted.
struct DrainOptions {
  bool ignore_daemonsets = true;
  bool delete_emptydir_data = false;
  bool force = false;
};

// What a drain of the node would do, decided as kubectl's filters decide:
// DaemonSet pods are kept (or refused without ignore_daemonsets), mirror
// pods are skipped, finished pods are always deletable, pods with emptyDir
// need delete_emptydir_data, pods without a controller need force.
struct DrainPlan {
  std::vector<std::string> evict;  // Pods to evict, in order.
  std::vector<std::string> kept;   // DaemonSet and mirror pods left on the node.
  // One line per refusal, kubectl's wording plus the module option that
  // overrides it, e.g. "cannot delete Pods that declare no controller (use
  // --force to override): default/bare; set force: true to delete them".
  std::vector<std::string> refusals;
};
DrainPlan PlanDrain(const std::vector<Pod>& pods, const DrainOptions& options);

// For each pod of `evict` still on the node, "ns/pod (PodDisruptionBudget
// ns/pdb allows N disruption(s))" for every budget in the pod's namespace
// whose selector matches it, or "ns/pod" when none does.
std::vector<std::string> HeldPods(const std::vector<Pod>& remaining,
                                  const std::vector<std::string>& evict,
                                  const std::vector<Budget>& budgets);

// The module's options.
ansible::ArgSpec DrainSpec();
// Runs the module with the kubectl found at `kubectl` (a path or a name
// searched in $PATH).
ansible::Result RunDrain(ansible::Module& module, const std::string& kubectl);

}  // namespace pvek8s::node_drain

#endif  // MODULES_NODE_DRAIN_NODE_DRAIN_H_
