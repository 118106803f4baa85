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

}  // namespace pvek8s::resources
