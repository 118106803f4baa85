// Typed calls below /cluster and /version: the cluster as a whole.
#ifndef PROVIDER_PVE_CLUSTER_H_
#define PROVIDER_PVE_CLUSTER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/pve/client.h"

namespace pvek8s::pve {

// GET /version: the release, e.g. "8.4.1" or "9.1.2".
StatusOr<std::string> GetVersion(Client& client);

// The major.minor of a release string ("9.1.2" -> {9, 1}); {0, 0} when it
// cannot be read.
struct ReleaseVersion {
  int major = 0;
  int minor = 0;
};
ReleaseVersion ParseRelease(const std::string& version);

// GET /cluster/nextid: Proxmox's next free id. Nothing is reserved, so two
// callers may get the same id. With `candidate`, that id when it is free;
// kInvalidArgument when it is taken.
StatusOr<int64_t> NextFreeId(Client& client, std::optional<int64_t> candidate = std::nullopt);

// One VM of GET /cluster/resources?type=vm. The listing lags the nodes' own
// state by a few seconds and is the only call that names a VM's node when
// the node is not known.
struct ClusterVm {
  std::string node;
  int64_t vmid = 0;
  std::string name;
  std::string status;  // running | stopped | unknown (node offline)
  bool template_ = false;
  std::string lock;
};
StatusOr<std::vector<ClusterVm>> ListClusterVms(Client& client);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_CLUSTER_H_
