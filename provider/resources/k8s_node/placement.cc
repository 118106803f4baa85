#include "provider/resources/k8s_node/placement.h"

#include <algorithm>
#include <climits>

#include "provider/pve/cluster.h"
#include "provider/pve/nodes.h"
#include "provider/pve/qemu.h"

namespace pvek8s::resources::node {

void KeyedQueue::Acquire(const std::string& key) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return busy_[key] < width_; });
  ++busy_[key];
}

void KeyedQueue::Release(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  --busy_[key];
  cv_.notify_all();
}

StatusOr<int64_t> IdLedger::Reserve(pve::Client& client, std::optional<int64_t> lo,
                                    std::optional<int64_t> hi) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t id = 0;
  if (lo) {
    id = *lo;
  } else {
    PVEK8S_ASSIGN_OR_RETURN(id, pve::NextFreeId(client));
  }
  for (int i = 0; i < 1000 && (!hi || id <= *hi); ++i, ++id) {
    if (inflight_.contains(id)) continue;
    auto free = pve::NextFreeId(client, id);
    if (free.ok() && *free == id) {
      inflight_.insert(id);
      return id;
    }
    if (!free.ok() && free.status().code() != StatusCode::kInvalidArgument) {
      return free.status();
    }
  }
  return FailedPreconditionError("no free VM id found (vmid_range full?)");
}

void IdLedger::Release(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  inflight_.erase(id);
}

bool IdLedger::Claim(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  return inflight_.insert(id).second;
}

bool IdLedger::Held(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  return inflight_.contains(id);
}

IdLedger& Ledger() {
  static auto* l = new IdLedger();
  return *l;
}

KeyedQueue& CloneQueue() {
  static auto* q = new KeyedQueue(2);
  return *q;
}

std::string ChooseNode(const std::vector<PlacementNode>& nodes,
                       const std::vector<TemplateRef>& templates,
                       const std::vector<std::string>& candidates) {
  std::string best;
  int64_t best_free = INT64_MIN;
  size_t best_vms = 0;
  for (const auto& n : nodes) {
    if (!n.online) continue;
    if (!candidates.empty() &&
        std::find(candidates.begin(), candidates.end(), n.name) == candidates.end()) {
      continue;
    }
    bool has = std::any_of(templates.begin(), templates.end(),
                           [&](const TemplateRef& t) { return t.node == n.name; });
    if (!has) continue;
    if (n.free_bytes > best_free || (n.free_bytes == best_free && n.vms < best_vms) ||
        (n.free_bytes == best_free && n.vms == best_vms && n.name < best)) {
      best = n.name;
      best_free = n.free_bytes;
      best_vms = n.vms;
    }
  }
  return best;
}

StatusOr<std::string> PendingPlacements::Place(pve::Client& client,
                                               const std::vector<TemplateRef>& templates,
                                               const std::vector<std::string>& candidates,
                                               int64_t memory_mib) {
  PVEK8S_ASSIGN_OR_RETURN(auto nodes, pve::ListNodes(client));
  std::vector<PlacementNode> view;
  for (const auto& n : nodes) {
    bool online = n.status == "online";
    auto vms = online ? pve::ListVms(client, n.name)
                      : StatusOr<std::vector<pve::VmSummary>>(std::vector<pve::VmSummary>());
    view.push_back({n.name, online, n.maxmem - n.mem, vms.ok() ? vms->size() : 0});
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& n : view) {
    auto& pending = by_node_[n.name];
    n.vms += pending.second;
    n.free_bytes -= pending.first;
  }
  std::string best = ChooseNode(view, templates, candidates);
  if (best.empty()) return NotFoundError(kNoPlacement);
  auto& reserved = by_node_[best];
  reserved.first += memory_mib << 20;
  reserved.second += 1;
  return best;
}

void PendingPlacements::ReleaseCount(const std::string& node) {
  std::lock_guard<std::mutex> lock(mu_);
  by_node_[node].second -= 1;
}

void PendingPlacements::ReleaseMemory(const std::string& node, int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  by_node_[node].first -= bytes;
}

PendingPlacements& Pending() {
  static auto* p = new PendingPlacements();
  return *p;
}

PendingRelease::~PendingRelease() {
  ReleaseCount();
  Pending().ReleaseMemory(node_, bytes_);
}

void PendingRelease::ReleaseCount() {
  if (!count_held_) return;
  count_held_ = false;
  Pending().ReleaseCount(node_);
}

}  // namespace pvek8s::resources::node
