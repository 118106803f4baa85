// The apply side of proxmox_k8s_node: making a node (template, placement,
// id, clone, configuration, start, address) and the steps Update shares.
#ifndef PROVIDER_RESOURCES_K8S_NODE_NODE_APPLY_H_
#define PROVIDER_RESOURCES_K8S_NODE_NODE_APPLY_H_

#include <optional>

#include "provider/base/status.h"
#include "provider/framework/resource.h"
#include "provider/pve/client.h"
#include "provider/resources/k8s_node/marker.h"
#include "provider/resources/k8s_node/node_model.h"
#include "provider/resources/k8s_node/vm_ops.h"
#include "provider/resources/templates.h"

namespace pvek8s::resources::node {

// Create: from the moment the clone exists, every exit leaves the VM in
// `resp.state` (Terraform keeps it, tainted on error), so nothing is
// orphaned. Safe to run for many nodes at once.
void CreateNode(pve::Client& client, const framework::CreateRequest& req,
                framework::ApplyResponse& resp);

// Clones `tmpl` into a new VM carrying `marker` (named and placed as `m`
// says), with `m.vmid` or an id from the ledger. A lost id race is retried
// with a new id, lock timeouts with backoff. When the answer is lost in
// transit, a clone carrying our marker is adopted; with no VM of that id,
// the clone is sent again with the same id, so that a first request that
// lands late is refused, never doubled.
StatusOr<int64_t> CloneTemplate(pve::Client& client, const framework::Context& ctx,
                                const NodeModel& m, const TemplateRef& tmpl,
                                const OwnerMarker& marker, Deadline deadline);

// Writes every setting that differs from `prior` (all of them when nullopt),
// the description with `marker`, and grows the disk.
Status ConfigureVm(pve::Client& client, const pve::VmRef& vm, const std::optional<NodeModel>& prior,
                   const NodeModel& plan, const OwnerMarker& marker, Deadline deadline);

// Fills the computed values of `plan` (MACs, the disk's storage, the
// address) into `resp.state`, waiting for the guest agent's address when
// `wait_ip` (bounded by wait_for_ip and `deadline`). A missing address is an
// error diagnostic; the state is set either way. A VM migrated meanwhile is
// followed; `record_node` (for a plan that left target_node to the apply)
// puts its node in target_node and id.
void FinishState(pve::Client& client, pve::VmRef vm, tftypes::Value plan, bool wait_ip,
                 Deadline deadline, framework::ApplyResponse& resp, bool record_node = false);

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_NODE_APPLY_H_
