// The power state of VMs for refresh: one listing per Proxmox node, shared by
// the Reads of one refresh instead of a status call per VM.
#ifndef PROVIDER_RESOURCES_K8S_NODE_STATUS_CACHE_H_
#define PROVIDER_RESOURCES_K8S_NODE_STATUS_CACHE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "provider/base/status.h"
#include "provider/pve/client.h"
#include "provider/pve/qemu.h"

namespace pvek8s::resources::node {

// Thread-safe. A listing is used for `max_age` after it was fetched: a
// refresh walk reads every VM within about a second, and nothing this
// provider does changes a VM's power state during a refresh.
class StatusCache {
 public:
  explicit StatusCache(std::chrono::milliseconds max_age = std::chrono::milliseconds(2000))
      : max_age_(max_age) {}

  // The VM's status from its node's listing; a VM the listing does not show
  // (or a node whose listing fails) is asked for directly.
  StatusOr<pve::VmStatus> Get(pve::Client& client, const pve::VmRef& vm);

 private:
  struct Listing {
    std::chrono::steady_clock::time_point fetched;
    std::map<int64_t, pve::VmStatus> vms;
  };
  std::chrono::milliseconds max_age_;
  std::mutex mu_;
  std::map<std::string, Listing> by_node_;
};

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_STATUS_CACHE_H_
