#include "provider/resources/cluster_view.h"

#include "provider/pve/nodes.h"

namespace pvek8s::resources {

std::optional<ClusterView> ReadCluster(ProviderData* data, const framework::Context* ctx,
                                       framework::Diagnostics& diags) {
  auto c = data->Client(ctx);
  if (!c.ok()) {
    diags.AddStatus(c.status(), ClientErrorSummary(c.status()));
    return std::nullopt;
  }
  auto nodes = pve::ListNodes(**c);
  if (!nodes.ok()) {
    diags.AddStatus(nodes.status(), "Listing nodes failed");
    return std::nullopt;
  }
  return ClusterView{*c, std::move(*nodes)};
}

StatusOr<ClusterListing::Vms> ClusterListing::Get(pve::Client& client,
                                                  Clock::time_point not_before) {
  std::lock_guard<std::mutex> lock(mu_);
  if (vms_ && fetched_ >= not_before) return vms_;
  Clock::time_point started = Clock::now();
  PVEK8S_ASSIGN_OR_RETURN(auto vms, pve::ListClusterVms(client));
  vms_ = std::make_shared<const std::vector<pve::ClusterVm>>(std::move(vms));
  // Stamped with the start of the fetch: the answer may predate its arrival.
  fetched_ = started;
  return vms_;
}

std::optional<pve::ClusterVm> ClusterListing::Find(const Vms& vms, int64_t vmid) {
  if (!vms) return std::nullopt;
  for (const auto& vm : *vms) {
    if (vm.vmid == vmid) return vm;
  }
  return std::nullopt;
}

ClusterListing& SharedClusterListing() {
  static ClusterListing* listing = new ClusterListing();
  return *listing;
}

}  // namespace pvek8s::resources
