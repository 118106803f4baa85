// Typed calls below /nodes that concern the nodes themselves.
#ifndef PROVIDER_PVE_NODES_H_
#define PROVIDER_PVE_NODES_H_

#include <vector>

#include "provider/base/status.h"
#include "provider/pve/client.h"

namespace pvek8s::pve {

// GET /nodes: every node of the cluster with its status (online, offline or
// unknown) and its memory and CPU figures (zero for an offline node).
StatusOr<std::vector<NodeInfo>> ListNodes(Client& client);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_NODES_H_
