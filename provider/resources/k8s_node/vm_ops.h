// Operations on one node's VM that create, update, delete and crash recovery
// share: waiting for locks, power actions, deletion, the ownership check and
// the guest agent's address. Each honours the client's cancellation.
#ifndef PROVIDER_RESOURCES_K8S_NODE_VM_OPS_H_
#define PROVIDER_RESOURCES_K8S_NODE_VM_OPS_H_

#include <chrono>
#include <optional>
#include <string>

#include "provider/base/status.h"
#include "provider/pve/client.h"
#include "provider/pve/qemu.h"

namespace pvek8s::resources::node {

using Deadline = std::chrono::steady_clock::time_point;

// The config of the VM once no lock (clone, create, ...) is held on it;
// kDeadlineExceeded naming the lock at `deadline`, kCancelled on StopProvider.
StatusOr<pve::VmConfig> WaitUnlocked(pve::Client& client, const pve::VmRef& vm, Deadline deadline);

// Runs a power action and waits for its task, retrying transport failures
// and lock timeouts; a start or stop whose answer failed is OK when the VM
// is in the wanted state anyway.
Status Power(pve::Client& client, const pve::VmRef& vm, pve::PowerAction action, Deadline deadline);

// Stops the VM if it runs, then destroys it with its disks. kNotFound when
// `vm.node` does not hold it: gone already, or moved (FollowingMoves tells
// which). Callers have checked the ownership marker.
Status DestroyVm(pve::Client& client, const pve::VmRef& vm, Deadline deadline);

// Refuses (kPermissionDenied) when the VM carries another owner's marker, or
// none although `owner` made it; OK for an empty `owner` (imported, never
// applied). kNotFound when the VM is gone.
Status CheckOwner(pve::Client& client, const pve::VmRef& vm, const std::string& owner);

// The first IPv4 the agent reports outside loopback (or `want` exactly when
// given); nullopt while the agent is not answering, with the reason in
// `*error` when given and the ask failed. Each ask is bounded by `timeout`.
std::optional<std::string> AgentIpv4(pve::Client& client, const pve::VmRef& vm,
                                     const std::string& want, std::chrono::milliseconds timeout,
                                     Status* error = nullptr);

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_VM_OPS_H_
