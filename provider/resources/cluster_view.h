// What resources and data sources share: the client, the cluster's nodes, and one
// listing of its VMs per provider process.
#ifndef PROVIDER_RESOURCES_CLUSTER_VIEW_H_
#define PROVIDER_RESOURCES_CLUSTER_VIEW_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "provider/framework/diagnostics.h"
#include "provider/framework/resource.h"
#include "provider/pve/client.h"
#include "provider/pve/cluster.h"
#include "provider/pve/nodes.h"
#include "provider/resources/provider_data.h"

namespace pvek8s::resources {

// The client and the cluster's nodes, or nullopt with a diagnostic saying why.
struct ClusterView {
  pve::Client* client;
  std::vector<pve::NodeInfo> nodes;
};
std::optional<ClusterView> ReadCluster(ProviderData* data, const framework::Context* ctx,
                                       framework::Diagnostics& diags);

// GET /cluster/resources?type=vm, fetched once and shared by every resource
// instance of a provider process: a refresh of 50 moved VMs costs one
// listing, not 50. Thread-safe; concurrent callers wait for one fetch.
class ClusterListing {
 public:
  using Clock = std::chrono::steady_clock;
  using Vms = std::shared_ptr<const std::vector<pve::ClusterVm>>;

  // A listing fetched at or after `not_before` (the cached one when it is
  // recent enough, else a new one). The listing lags the nodes by a few
  // seconds, so callers that saw a VM missing ask for one fetched after that.
  StatusOr<Vms> Get(pve::Client& client, Clock::time_point not_before);

  // The VM with `vmid` in `vms`, if listed.
  static std::optional<pve::ClusterVm> Find(const Vms& vms, int64_t vmid);

 private:
  std::mutex mu_;
  Vms vms_;
  Clock::time_point fetched_;
};

// The provider process's one listing.
ClusterListing& SharedClusterListing();

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_CLUSTER_VIEW_H_
