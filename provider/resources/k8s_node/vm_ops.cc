#include "provider/resources/k8s_node/vm_ops.h"

#include <algorithm>

#include "provider/pve/tasks.h"
#include "provider/resources/k8s_node/marker.h"

namespace pvek8s::resources::node {

StatusOr<pve::VmConfig> WaitUnlocked(pve::Client& c, const pve::VmRef& vm, Deadline deadline) {
  for (auto delay = std::chrono::milliseconds(100);;
       delay = std::min(delay * 2, std::chrono::milliseconds(1000))) {
    PVEK8S_ASSIGN_OR_RETURN(pve::VmConfig conf, pve::GetVmConfig(c, vm));
    if (conf.lock.empty()) return conf;
    if (std::chrono::steady_clock::now() > deadline) {
      return DeadlineExceededError("VM " + std::to_string(vm.vmid) + " stays locked (" + conf.lock +
                                   ")");
    }
    if (!c.Backoff(delay)) return CancelledError("waiting for VM " + std::to_string(vm.vmid));
  }
}

Status Power(pve::Client& c, const pve::VmRef& vm, pve::PowerAction action, Deadline deadline) {
  const std::string name = pve::PowerActionName(action);
  Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto upid = pve::PowerVm(c, vm, action);
    s = upid.ok() ? pve::WaitForTask(c, *upid, deadline, name) : upid.status();
    if (s.ok()) return s;
    // start and stop are idempotent in effect: check where the VM is.
    if (action == pve::PowerAction::kStart || action == pve::PowerAction::kStop) {
      auto st = pve::GetVmStatus(c, vm);
      std::string want = action == pve::PowerAction::kStart ? "running" : "stopped";
      if (st.ok() && st->status == want) return Status::Ok();
    }
    if (s.code() != StatusCode::kUnavailable && s.code() != StatusCode::kAborted) return s;
    if (!c.Backoff(std::chrono::milliseconds(200 * (attempt + 1)))) {
      return CancelledError(name + " of VM " + std::to_string(vm.vmid) + ": cancelled");
    }
  }
  return s;
}

Status DestroyVm(pve::Client& c, const pve::VmRef& vm, Deadline deadline) {
  auto st = pve::GetVmStatus(c, vm);
  if (st.ok() && st->Running()) {
    Status s = Power(c, vm, pve::PowerAction::kStop, deadline);
    if (!s.ok()) return s;
  }
  auto upid = pve::DeleteVm(c, vm);
  if (!upid.ok()) return upid.status();
  return pve::WaitForTask(c, *upid, deadline, "destroy");
}

Status CheckOwner(pve::Client& c, const pve::VmRef& vm, const std::string& owner) {
  auto conf = pve::GetVmConfig(c, vm);
  if (!conf.ok()) return conf.status();
  if (owner.empty()) return Status::Ok();  // imported: the user adopted it explicitly
  std::string user;
  auto marker = ParseMarker(conf->description, &user);
  std::string where = "VM " + std::to_string(vm.vmid) + " on " + vm.node;
  if (!marker) {
    return PermissionDeniedError(where +
                                 " has no pvek8s ownership marker; it was not made by this "
                                 "resource");
  }
  if (marker->owner != owner) {
    return PermissionDeniedError(where + " belongs to another pvek8s resource (owner " +
                                 marker->owner + ")");
  }
  return Status::Ok();
}

std::optional<std::string> AgentIpv4(pve::Client& c, const pve::VmRef& vm, const std::string& want,
                                     std::chrono::milliseconds timeout, Status* error) {
  auto ifaces = pve::GetGuestInterfaces(c, vm, timeout);
  if (!ifaces.ok()) {
    if (error != nullptr) *error = ifaces.status();
    return std::nullopt;
  }
  for (const auto& iface : *ifaces) {
    if (iface.name == "lo") continue;
    for (const auto& ip : iface.ipv4) {
      if (ip.rfind("127.", 0) == 0) continue;
      if (want.empty() || ip == want) return ip;
    }
  }
  return std::nullopt;
}

}  // namespace pvek8s::resources::node
