// Where a new node's VM goes and which id it gets, safely under Terraform's
// parallel creates: a ledger of ids this process handed out (nextid reserves
// nothing), a clone queue per template and storage, and memory-aware
// placement that counts what this process placed but Proxmox does not list
// yet. Every class here is thread-safe; the singletons live as long as the
// provider process.
#ifndef PROVIDER_RESOURCES_K8S_NODE_PLACEMENT_H_
#define PROVIDER_RESOURCES_K8S_NODE_PLACEMENT_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/pve/client.h"
#include "provider/resources/templates.h"

namespace pvek8s::resources::node {

// A counting semaphore keyed by name: at most `width` holders per key.
class KeyedQueue {
 public:
  explicit KeyedQueue(int width) : width_(width) {}
  void Acquire(const std::string& key);
  void Release(const std::string& key);

 private:
  int width_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> busy_;
};

// VM ids handed out by this process and not yet visible in Proxmox.
class IdLedger {
 public:
  // Proxmox's next free id that this process has not handed out, within
  // [lo, hi] when given (lo is the first id tried). kFailedPrecondition when
  // none is free; other errors as the client reports them.
  StatusOr<int64_t> Reserve(pve::Client& client, std::optional<int64_t> lo = std::nullopt,
                            std::optional<int64_t> hi = std::nullopt);
  void Release(int64_t id);
  // Marks an existing VM as being worked on by one Create of this process;
  // false when another one has it already.
  bool Claim(int64_t id);
  bool Held(int64_t id);

 private:
  std::mutex mu_;
  std::set<int64_t> inflight_;
};

IdLedger& Ledger();

// Two clones at a time per template and storage: Proxmox takes a shared lock
// on a stopped source, and a copy waits for the storage lock only while
// another copy holds it, which one copy ahead never makes time out (10 s).
// One at a time cost 10 nodes 1.38x one node's time; lock timeouts that do
// happen are retried.
KeyedQueue& CloneQueue();

// Keeps an id in the ledger until the end of a scope.
class LedgerHold {
 public:
  explicit LedgerHold(int64_t id) : id_(id) {}
  LedgerHold(const LedgerHold&) = delete;
  LedgerHold& operator=(const LedgerHold&) = delete;
  ~LedgerHold() { Ledger().Release(id_); }

 private:
  int64_t id_;
};

// A node as placement sees it.
struct PlacementNode {
  std::string name;
  bool online = false;
  int64_t free_bytes = 0;  // maxmem - mem
  size_t vms = 0;
};

// Most free memory, then fewest VMs, then the name, among online candidates
// (all nodes when `candidates` is empty) that hold the template. Memory may
// be overcommitted: a node with less free memory than asked is still a
// candidate. Empty when none qualifies. Pure: no reservation.
std::string ChooseNode(const std::vector<PlacementNode>& nodes,
                       const std::vector<TemplateRef>& templates,
                       const std::vector<std::string>& candidates);

// What this process has placed and Proxmox may not show yet, per node.
class PendingPlacements {
 public:
  // Lists the nodes, adds what is pending, chooses (ChooseNode) and reserves
  // `memory_mib` and one VM on the chosen node. kNotFound when no candidate
  // qualifies.
  StatusOr<std::string> Place(pve::Client& client, const std::vector<TemplateRef>& templates,
                              const std::vector<std::string>& candidates, int64_t memory_mib);
  void ReleaseCount(const std::string& node);
  void ReleaseMemory(const std::string& node, int64_t bytes);

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<int64_t, size_t>> by_node_;  // bytes, VMs
};

PendingPlacements& Pending();

// Undoes one placement's reservation as Proxmox starts to show it: the VM
// count once the clone exists, its memory once it runs (or the create ends),
// so that later placements do not count it twice.
class PendingRelease {
 public:
  PendingRelease(std::string node, int64_t bytes) : node_(std::move(node)), bytes_(bytes) {}
  PendingRelease(const PendingRelease&) = delete;
  PendingRelease& operator=(const PendingRelease&) = delete;
  ~PendingRelease();
  void ReleaseCount();

 private:
  std::string node_;
  int64_t bytes_;
  bool count_held_ = true;
};

inline constexpr char kNoPlacement[] =
    "none of the candidate nodes is online and holds the template";

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_PLACEMENT_H_
