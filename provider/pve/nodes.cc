#include "provider/pve/nodes.h"

namespace pvek8s::pve {

StatusOr<std::vector<NodeInfo>> ListNodes(Client& client) { return client.Nodes(); }

}  // namespace pvek8s::pve
