#include "provider/resources/k8s_node/moves.h"

#include <algorithm>
#include <map>

#include "provider/base/log.h"
#include "provider/pve/migrate.h"
#include "provider/pve/storage.h"
#include "provider/pve/tasks.h"

namespace pvek8s::resources::node {
namespace {

using Clock = std::chrono::steady_clock;
using framework::Diagnostics;
using tftypes::AttributePath;

// A listing this much older than the moment a VM was missed may still be
// right (it is re-read when it shows the old place); it lets one listing
// serve every Read of a refresh.
constexpr std::chrono::seconds kListingSlack(5);
// How long /cluster/resources may keep showing a VM on a node that says it
// does not hold it (pmxcfs propagates within a few seconds).
constexpr std::chrono::seconds kListingLag(15);
// A migration task that fails for another reason than a lock is tried this
// often in all.
constexpr int kMigrateAttempts = 3;

std::string VmName(const pve::VmRef& vm) {
  return "VM " + std::to_string(vm.vmid) + " on " + vm.node;
}

bool IsLocked(const Status& s) {
  return s.code() == StatusCode::kAborted || s.message().find("VM is locked") != std::string::npos;
}

// Where the listing (fetched now) shows the VM; `fallback` when it does not.
std::string WhereNow(pve::Client& c, ClusterListing& listing, int64_t vmid,
                     const std::string& fallback) {
  auto vms = listing.Get(c, Clock::now());
  if (!vms.ok()) return fallback;
  auto where = ClusterListing::Find(*vms, vmid);
  return where ? where->node : fallback;
}

// Starts one migration and waits for its task (a hamigrate task ends at
// once; the VM moves later).
Status StartMigration(pve::Client& c, const pve::VmRef& vm, const std::string& target, bool via_ha,
                      MoveDeadline deadline) {
  if (via_ha) {
    log::Info("migrating through HA", {{"vmid", vm.vmid}, {"from", vm.node}, {"to", target}});
    return pve::HaMigrate(c, vm.vmid, target);
  }
  PVEK8S_ASSIGN_OR_RETURN(pve::VmStatus st, pve::GetVmStatus(c, vm));
  pve::MigrateRequest req{.target = target, .online = st.Running()};
  if (req.online) {
    // Without with-local-disks Proxmox refuses to move a running VM's local
    // disks; asked rather than always sent, as the operator would.
    auto pre = pve::GetMigratePreconditions(c, vm, target);
    req.with_local_disks =
        !pre.ok() || std::any_of(pre->local_disks.begin(), pre->local_disks.end(),
                                 [](const auto& d) { return !d.cdrom; });
  }
  log::Info("migrating VM", {{"vmid", vm.vmid},
                             {"from", vm.node},
                             {"to", target},
                             {"online", req.online},
                             {"with_local_disks", req.with_local_disks}});
  PVEK8S_ASSIGN_OR_RETURN(std::string upid, pve::MigrateVm(c, vm, req));
  return pve::WaitForTask(c, upid, deadline, "migration of VM " + std::to_string(vm.vmid));
}

// Waits until the VM's config is on `target` with no lock.
Status WaitArrival(pve::Client& c, const pve::VmRef& vm, const std::string& target,
                   MoveDeadline deadline) {
  pve::VmRef there{target, vm.vmid};
  std::string state = "not there yet";
  for (auto delay = std::chrono::milliseconds(200);;
       delay = std::min(delay * 2, std::chrono::milliseconds(2000))) {
    auto conf = pve::GetVmConfig(c, there);
    if (conf.ok() && conf->lock.empty()) return Status::Ok();
    if (conf.ok()) state = "locked (" + conf->lock + ")";
    if (!conf.ok() && !pve::Client::IsNotFound(conf.status())) state = conf.status().message();
    if (Clock::now() > deadline) {
      return DeadlineExceededError("VM " + std::to_string(vm.vmid) + " did not arrive on " +
                                   target + " in time: " + state);
    }
    if (!c.Backoff(delay)) return CancelledError("waiting for VM " + std::to_string(vm.vmid));
  }
}

}  // namespace

StatusOr<LocatedVm> LocateVm(pve::Client& c, ClusterListing& listing, const pve::VmRef& expected,
                             MoveDeadline deadline) {
  LocatedVm out;
  out.vm = expected;
  Clock::time_point since = Clock::now() - kListingSlack;
  Clock::time_point first_miss{};
  int hops = 0;
  for (auto delay = std::chrono::milliseconds(200);;
       delay = std::min(delay * 2, std::chrono::milliseconds(2000))) {
    auto conf = pve::GetVmConfig(c, out.vm);
    if (conf.ok() && conf->lock != "migrate") {
      out.config = std::move(*conf);
      if (out.vm.node != expected.node) out.moved_from = expected.node;
      return out;
    }
    bool missing = !conf.ok() && pve::Client::IsNotFound(conf.status());
    bool unreachable = !conf.ok() && pve::IsNodeUnreachable(conf.status());
    if (!conf.ok() && !missing && !unreachable) return conf.status();
    if (missing && first_miss == Clock::time_point{}) first_miss = Clock::now();
    PVEK8S_ASSIGN_OR_RETURN(auto vms, listing.Get(c, since));
    auto where = ClusterListing::Find(vms, expected.vmid);
    if (where && where->node != out.vm.node && hops++ < 8) {
      out.vm.node = where->node;  // moved: read it there at once
      continue;
    }
    if (unreachable) {
      // Down, and not restarted elsewhere (yet): keep what is known.
      out.unreachable = true;
      out.unreachable_why = conf.status().message();
      return out;
    }
    bool fresh = since >= first_miss && first_miss != Clock::time_point{};
    if (missing && !where && fresh) {
      return NotFoundError(VmName(expected) + " does not exist on any node");
    }
    if (missing && where && Clock::now() - first_miss > kListingLag) {
      return NotFoundError(VmName(expected) +
                           " does not exist (the cluster listing still shows it on " + where->node +
                           ")");
    }
    if (Clock::now() > deadline) {
      return DeadlineExceededError(VmName(out.vm) + " is still migrating (lock migrate)");
    }
    if (conf.ok()) log::Info("VM is migrating; waiting", {{"vmid", expected.vmid}});
    if (!missing || where) {
      if (!c.Backoff(delay)) return CancelledError("waiting for " + VmName(out.vm));
    }
    since = Clock::now();
  }
}

Status FollowingMoves(pve::Client& c, ClusterListing& listing, pve::VmRef* vm,
                      MoveDeadline deadline, const std::function<Status()>& op) {
  for (int hops = 0;; ++hops) {
    Status s = op();
    bool missing = pve::Client::IsNotFound(s);
    if ((!missing && !IsLocked(s)) || hops >= 8) return s;
    auto found = LocateVm(c, listing, *vm, deadline);
    if (!found.ok() || found->unreachable) return s;
    // Still here and locked: a lock other than the migration's is the
    // caller's to handle. Found after "not found": it moved (maybe back).
    if (!missing && found->vm.node == vm->node && !found->config.lock.empty()) return s;
    if (found->vm.node != vm->node) {
      log::Info("VM moved while being changed; following it",
                {{"vmid", vm->vmid}, {"from", vm->node}, {"to", found->vm.node}});
    }
    *vm = found->vm;
  }
}

std::string NodeAmong(const std::string& current, const std::vector<std::string>& candidates,
                      const std::vector<pve::NodeInfo>& nodes) {
  if (candidates.empty() ||
      std::find(candidates.begin(), candidates.end(), current) != candidates.end()) {
    return current;
  }
  std::string best;
  int64_t best_free = -1;
  for (const auto& n : nodes) {
    if (n.status != "online") continue;
    if (std::find(candidates.begin(), candidates.end(), n.name) == candidates.end()) continue;
    int64_t free = n.maxmem - n.mem;
    if (free > best_free) {
      best = n.name;
      best_free = free;
    }
  }
  return best;
}

void CheckMove(pve::Client& c, const pve::VmRef& vm, const std::string& name,
               const std::string& target, Diagnostics& diags) {
  const AttributePath at("target_node");
  const std::string who = name + " (" + VmName(vm) + ")";
  if (auto nodes = pve::ListNodes(c); nodes.ok()) {
    std::string names;
    const pve::NodeInfo* found = nullptr;
    for (const auto& n : *nodes) {
      names += (names.empty() ? "" : ", ") + n.name;
      if (n.name == target) found = &n;
    }
    if (found == nullptr) {
      diags.AddError("Unknown target node",
                     "Cannot move " + who + ": \"" + target +
                         "\" is not a node of this cluster (nodes: " + names + ").",
                     at);
      return;
    }
    if (found->status != "online") {
      diags.AddError("Target node offline",
                     "Cannot move " + who + " to " + target + ": the node is " + found->status +
                         ". Move it once the node is back, or choose another node.",
                     at);
      return;
    }
  }
  auto pre = pve::GetMigratePreconditions(c, vm, target);
  if (!pre.ok()) {
    if (pre.status().code() == StatusCode::kPermissionDenied) {
      diags.AddError("Missing privilege VM.Migrate",
                     "Moving " + who + " to " + target + " needs VM.Migrate on /vms/" +
                         std::to_string(vm.vmid) +
                         " for the API token; grant it, or keep target_node = \"" + vm.node +
                         "\". (" + pre.status().message() + ")",
                     at);
    } else if (IsLocked(pre.status())) {
      diags.AddWarning("VM locked", "Proxmox could not check the move of " + who +
                                        " now: " + pre.status().message());
    } else {
      diags.AddError("Cannot check the move",
                     "Asking Proxmox whether " + who + " can move to " + target +
                         " failed: " + pre.status().message(),
                     at);
    }
    return;
  }
  if (std::find(pre->not_allowed_nodes.begin(), pre->not_allowed_nodes.end(), target) !=
      pre->not_allowed_nodes.end()) {
    diags.AddError("Proxmox refuses the move",
                   "Proxmox does not allow " + who + " on " + target +
                       " (a storage or resource it uses is unavailable there).",
                   at);
  }
  if (!pre->local_resources.empty()) {
    diags.AddError("VM uses local devices",
                   who + " uses devices of its node (" + pre->local_resources.front() +
                       "); Proxmox migrates it only when forced by root@pam. Keep "
                       "target_node = \"" +
                       vm.node + "\".",
                   at);
  }
  std::map<std::string, int64_t> need;  // storage -> bytes copied there
  for (const auto& d : pre->local_disks) {
    if (d.cdrom) continue;
    if (pve::IsLinkedClone(d)) {
      diags.AddError(
          "Linked clone cannot be migrated",
          "Disk " + d.volid + " of " + who + " is a linked clone on storage local to " + vm.node +
              "; Proxmox refuses to migrate it. Keep target_node = \"" + vm.node +
              "\", or recreate the node as a full clone (full_clone = true, then terraform "
              "apply -replace) or on shared storage, then move it.",
          at);
      continue;
    }
    need[d.volid.substr(0, d.volid.find(':'))] += d.size;
  }
  for (const auto& [storage, bytes] : need) {
    auto st = pve::GetStorageStatus(c, target, storage);
    if (!st.ok()) {
      diags.AddError("Storage missing on the target",
                     "Storage " + storage + " that holds the disks of " + who +
                         " is not available on " + target + ": " + st.status().message(),
                     at);
    } else if (!st->shared && st->avail < bytes) {
      diags.AddError("Not enough space on the target",
                     "Moving " + who + " copies " + std::to_string(bytes >> 20) + " MiB to " +
                         storage + " on " + target + ", which has " +
                         std::to_string(st->avail >> 20) + " MiB free.",
                     at);
    }
  }
}

Status MigrateVm(pve::Client& c, ClusterListing& listing, const pve::VmRef& vm,
                 const std::string& target, MoveDeadline deadline, std::string* now_on) {
  *now_on = vm.node;
  auto ha = pve::IsHaManaged(c, vm.vmid);
  bool via_ha = ha.ok() && *ha;
  Status s;
  for (int failures = 0;;) {
    s = StartMigration(c, vm, target, via_ha, deadline);
    if (s.ok() || s.code() == StatusCode::kCancelled) break;
    bool locked = IsLocked(s);
    if (!locked) ++failures;
    if (failures >= kMigrateAttempts || Clock::now() > deadline) break;
    // A failed task leaves the VM on the source; one that moved it anyway
    // (its answer lost) is found there.
    if (auto at = pve::GetVmConfig(c, {target, vm.vmid}); at.ok()) {
      s = Status::Ok();
      break;
    }
    log::Warn("migration failed; retrying", {{"vmid", vm.vmid}, {"error", s.message()}});
    if (!c.Backoff(std::chrono::milliseconds(locked ? 1000 : 500 * failures))) {
      s = CancelledError("migration of VM " + std::to_string(vm.vmid) + ": cancelled");
      break;
    }
  }
  if (s.ok()) s = WaitArrival(c, vm, target, deadline);
  *now_on = s.ok() ? target : WhereNow(c, listing, vm.vmid, vm.node);
  return s;
}

}  // namespace pvek8s::resources::node
