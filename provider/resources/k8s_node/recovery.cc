#include "provider/resources/k8s_node/recovery.h"

#include "provider/base/log.h"
#include "provider/pve/nodes.h"
#include "provider/pve/qemu.h"
#include "provider/resources/k8s_node/placement.h"

namespace pvek8s::resources::node {

StatusOr<std::vector<TemplateRef>> FindTemplates(pve::Client& c, const std::string& tmpl,
                                                 const std::string& vm_name,
                                                 std::vector<NamedVm>* named) {
  PVEK8S_ASSIGN_OR_RETURN(auto nodes, pve::ListNodes(c));
  std::vector<TemplateRef> found;
  for (const auto& n : nodes) {
    if (n.status != "online") continue;
    auto vms = pve::ListVms(c, n.name);
    if (!vms.ok()) continue;
    for (const auto& vm : *vms) {
      if (vm.template_) continue;
      bool cloning = vm.name.empty() && vm.lock == "clone";
      if (named && !vm_name.empty() && (vm.name == vm_name || cloning)) {
        named->push_back({n.name, vm.vmid, cloning});
      }
    }
    CollectTemplates(n.name, *vms, tmpl, found);
  }
  if (found.empty()) return TemplateNotFound(tmpl);
  return found;
}

std::optional<OwnerMarker> ReadMarker(pve::Client& c, const pve::VmRef& vm) {
  auto conf = pve::GetVmConfig(c, vm);
  if (!conf.ok()) return std::nullopt;
  std::string user;
  return ParseMarker(conf->description, &user);
}

bool FitsResume(const OwnerMarker& found, const OwnerMarker& want, const NamedVm& vm,
                const FixedPlacement& fixed) {
  return found.pending && found.origin == want.origin && (!fixed.vmid || *fixed.vmid == vm.vmid) &&
         (!fixed.node || *fixed.node == vm.node) && found.template_name == want.template_name &&
         found.full_clone == want.full_clone;
}

std::optional<NamedVm> FindInterrupted(pve::Client& c, const std::vector<NamedVm>& named,
                                       const FixedPlacement& fixed, OwnerMarker& want,
                                       std::vector<NamedVm>& leftovers) {
  std::optional<NamedVm> adopted;
  for (const auto& vm : named) {
    if (Ledger().Held(vm.vmid)) continue;  // another Create of this process has it
    if (vm.cloning) {
      leftovers.push_back(vm);
      continue;
    }
    auto found = ReadMarker(c, {vm.node, vm.vmid});
    if (!found || !found->pending || found->origin != want.origin) continue;
    if (!adopted && FitsResume(*found, want, vm, fixed) && Ledger().Claim(vm.vmid)) {
      want.owner = found->owner;
      adopted = vm;
    } else {
      leftovers.push_back(vm);  // from an older configuration: not reusable
    }
  }
  return adopted;
}

void CleanUpLeftovers(pve::Client& c, const std::vector<NamedVm>& leftovers,
                      const std::string& name, const std::string& origin, Deadline deadline) {
  for (const auto& vm : leftovers) {
    auto conf = WaitUnlocked(c, {vm.node, vm.vmid}, deadline);
    if (!conf.ok()) continue;
    std::string user;
    auto found = ParseMarker(conf->description, &user);
    if (!found || !found->pending || found->origin != origin || conf->name != name ||
        !Ledger().Claim(vm.vmid)) {
      continue;
    }
    log::Info("deleting a clone an interrupted apply left behind",
              {{"vmid", vm.vmid}, {"node", vm.node}});
    Status s = DestroyVm(c, {vm.node, vm.vmid}, deadline);
    if (!s.ok() && !pve::Client::IsNotFound(s)) {
      log::Warn("could not delete a left-over clone", {{"vmid", vm.vmid}, {"error", s.message()}});
    }
    Ledger().Release(vm.vmid);
  }
}

Status AdoptLostClone(pve::Client& c, const pve::VmRef& vm, const OwnerMarker& marker,
                      Deadline deadline, const Status& lost) {
  auto conf = WaitUnlocked(c, vm, deadline);
  if (!conf.ok()) return pve::Client::IsNotFound(conf.status()) ? lost : conf.status();
  std::string user;
  auto found = ParseMarker(conf->description, &user);
  if (found && found->owner == marker.owner) {
    log::Info("adopted a clone whose answer was lost", {{"vmid", vm.vmid}});
    return Status::Ok();
  }
  return AlreadyExistsError("VM " + std::to_string(vm.vmid) + " exists but is not ours");
}

}  // namespace pvek8s::resources::node
