// Typed calls below /nodes that concern the nodes themselves.
#ifndef PROVIDER_PVE_NODES_H_
#define PROVIDER_PVE_NODES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/pve/client.h"

namespace pvek8s::pve {

// One node as GET /nodes reports it.
struct NodeInfo {
  std::string name;
  std::string status;  // online | offline | unknown
  int64_t mem = 0;
  int64_t maxmem = 0;
  double cpu = 0;
  int64_t maxcpu = 0;
};

// GET /nodes: every node of the cluster with its status (online, offline or
// unknown) and its memory and CPU figures (zero for an offline node).
StatusOr<std::vector<NodeInfo>> ListNodes(Client& client);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_NODES_H_
