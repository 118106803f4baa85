#include "provider/resources/k8s_node/status_cache.h"

namespace pvek8s::resources::node {

StatusOr<pve::VmStatus> StatusCache::Get(pve::Client& client, const pve::VmRef& vm) {
  {
    // Held while fetching: the Reads of one node wait for one listing
    // rather than each fetching their own.
    std::lock_guard<std::mutex> lock(mu_);
    auto now = std::chrono::steady_clock::now();
    auto it = by_node_.find(vm.node);
    if (it == by_node_.end() || now - it->second.fetched > max_age_) {
      auto listed = pve::ListVmStatuses(client, vm.node);
      if (listed.ok()) {
        it = by_node_.insert_or_assign(vm.node, Listing{now, std::move(*listed)}).first;
      } else {
        it = by_node_.end();
      }
    }
    if (it != by_node_.end()) {
      auto found = it->second.vms.find(vm.vmid);
      if (found != it->second.vms.end()) return found->second;
    }
  }
  return pve::GetVmStatus(client, vm);
}

}  // namespace pvek8s::resources::node
