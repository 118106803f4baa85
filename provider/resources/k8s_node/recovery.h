// Crash recovery (ADR 0004): a create killed between the clone and its
// return leaves a VM in no state, marked pending with its origin. The next
// create of the same VM from the same configuration finds it in the listings
// it makes anyway and resumes it, and deletes clones of its own that were
// still being made.
#ifndef PROVIDER_RESOURCES_K8S_NODE_RECOVERY_H_
#define PROVIDER_RESOURCES_K8S_NODE_RECOVERY_H_

#include <optional>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/pve/client.h"
#include "provider/resources/k8s_node/marker.h"
#include "provider/resources/k8s_node/vm_ops.h"
#include "provider/resources/templates.h"

namespace pvek8s::resources::node {

// A VM (not a template) seen with the name a create asked for, or still
// being cloned (Proxmox shows no name until the clone is done).
struct NamedVm {
  std::string node;
  int64_t vmid = 0;
  bool cloning = false;
};

// Finds `tmpl` (a name or a vmid) on every online node; with `named`, also
// collects the VMs called `vm_name` and those being cloned, from the same
// listings. kNotFound when no online node holds the template.
StatusOr<std::vector<TemplateRef>> FindTemplates(pve::Client& client, const std::string& tmpl,
                                                 const std::string& vm_name = "",
                                                 std::vector<NamedVm>* named = nullptr);

// What the marker of `vm` says, read with its config.
std::optional<OwnerMarker> ReadMarker(pve::Client& client, const pve::VmRef& vm);

// Whether a pending VM with marker `found` fits what the plan fixes and the
// create's own `want` marker (same origin, template and clone kind).
struct FixedPlacement {
  std::optional<int64_t> vmid;
  std::optional<std::string> node;
};
bool FitsResume(const OwnerMarker& found, const OwnerMarker& want, const NamedVm& vm,
                const FixedPlacement& fixed);

// Among `named`, the VM an interrupted apply of this configuration left:
// pending marker, same origin, fitting the plan; claimed in the ledger, and
// `want.owner` set to its owner. Clones still being made (not by this
// process) and interrupted VMs that no longer fit go to `leftovers`.
std::optional<NamedVm> FindInterrupted(pve::Client& client, const std::vector<NamedVm>& named,
                                       const FixedPlacement& fixed, OwnerMarker& want,
                                       std::vector<NamedVm>& leftovers);

// Deletes the leftovers that turn out to be this VM's (pending, same origin,
// same name): the create has its VM now. Best effort, logged.
void CleanUpLeftovers(pve::Client& client, const std::vector<NamedVm>& leftovers,
                      const std::string& name, const std::string& origin, Deadline deadline);

// After a clone request whose answer was lost: OK when VM `id` exists with
// `marker`'s owner (waiting for its clone lock to go); `lost` when it does
// not exist; kAlreadyExists when it is someone else's.
Status AdoptLostClone(pve::Client& client, const pve::VmRef& vm, const OwnerMarker& marker,
                      Deadline deadline, const Status& lost);

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_RECOVERY_H_
