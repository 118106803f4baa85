// gcid.k8s.kubeadm_join: joins a node to a kubeadm cluster, idempotently,
// always verifying the cluster CA, and never hanging silently.
//
// The join material (endpoint, bootstrap token, CA pin, certificate key) comes
// from the proxmox_k8s_cluster resource. The module refuses an expired token
// before calling kubeadm, writes a JoinConfiguration that pins the CA (never
// unsafeSkipCAVerification), bounds kubeadm with a deadline, and turns kubeadm's
// failures into one-line messages by class.
#ifndef MODULES_KUBEADM_JOIN_KUBEADM_JOIN_H_
#define MODULES_KUBEADM_JOIN_KUBEADM_JOIN_H_

#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modules/ansible/args.h"
#include "modules/ansible/module.h"
#include "modules/kubeadm/kubeadm.h"
#include "provider/base/status.h"

namespace pvek8s::kubeadm {

// Seconds since the epoch of an RFC 3339 UTC or offset time, e.g.
// "2026-12-01T10:00:00Z"; nullopt when malformed.
std::optional<std::time_t> ParseRfc3339(std::string_view text);

// The `taints` option as kubeadm's nodeRegistration.taints: each element is
// kubectl's "key[=value]:Effect" (the form proxmox_k8s_node and the inventory's
// k8s_node_taints use) or a mapping {key, value, effect}; Effect is NoSchedule,
// PreferNoSchedule or NoExecute. kInvalidArgument names the first bad element.
StatusOr<nlohmann::json> ParseTaints(const nlohmann::json& taints);

// The JoinConfiguration for validated parameters, as JSON (which kubeadm reads
// as YAML). `v1beta4` selects the newer field layout.
nlohmann::json JoinConfiguration(const nlohmann::json& params,
                                 const std::vector<std::string>& ca_cert_hashes, bool v1beta4);

// The module's options.
ansible::ArgSpec JoinSpec();
// Runs the module. `system.root` prefixes /etc/kubernetes.
ansible::Result RunJoin(ansible::Module& module, const System& system);

}  // namespace pvek8s::kubeadm

#endif  // MODULES_KUBEADM_JOIN_KUBEADM_JOIN_H_
