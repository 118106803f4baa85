// What the read-only data sources share: the client and the cluster's nodes.
#ifndef PROVIDER_RESOURCES_CLUSTER_VIEW_H_
#define PROVIDER_RESOURCES_CLUSTER_VIEW_H_

#include <optional>
#include <vector>

#include "provider/framework/diagnostics.h"
#include "provider/framework/resource.h"
#include "provider/pve/client.h"
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

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_CLUSTER_VIEW_H_
