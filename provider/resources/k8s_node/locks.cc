#include "provider/resources/k8s_node/locks.h"

#include <algorithm>
#include <ctime>
#include <map>

#include "provider/base/log.h"
#include "provider/pve/access.h"
#include "provider/pve/tasks.h"

namespace pvek8s::resources::node {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A lock seen without a holder is looked at again this soon: the second
// look decides whether it is stale, and that should not wait a full backoff.
constexpr milliseconds kStaleRecheck{500};

struct LockInfo {
  std::vector<std::string> holders;  // task types, see LockHolderTaskTypes
  const char* why;                   // what holds it, for the messages
};

const std::map<std::string, LockInfo>& KnownLocks() {
  // qemu-server's lock values and the workers that set them (vzdump,
  // QemuConfig snapshot_create/_delete/_rollback, qm suspend --todisk,
  // destroy_vm, create/restore). migrate and clone have no holder listed:
  // their task runs on another node or under another vmid.
  static const auto* locks = new std::map<std::string, LockInfo>{
      {"backup", {{"vzdump"}, "a backup (vzdump) is running"}},
      {"snapshot", {{"qmsnapshot"}, "a snapshot is being taken"}},
      {"snapshot-delete", {{"qmdelsnapshot"}, "a snapshot is being deleted"}},
      {"rollback", {{"qmrollback"}, "a snapshot is being rolled back"}},
      {"suspending", {{"qmsuspend"}, "it is being hibernated"}},
      {"destroyed", {{"qmdestroy"}, "it is being deleted"}},
      {"create", {{"qmcreate", "qmrestore"}, "it is being created or restored"}},
      {"migrate", {{}, "it is being migrated"}},
      {"clone", {{}, "it is being cloned"}},
      {"suspended", {{}, "it was hibernated and stays locked until it is resumed"}},
  };
  return *locks;
}

std::string Why(const std::string& lock) {
  auto it = KnownLocks().find(lock);
  return it == KnownLocks().end() ? "a Proxmox task holds it" : it->second.why;
}

std::string VmText(const pve::VmRef& vm) {
  return "VM " + std::to_string(vm.vmid) + " on " + vm.node;
}

std::string Unlock(const pve::VmRef& vm) {
  return "`qm unlock " + std::to_string(vm.vmid) + "` on " + vm.node;
}

// "20m", "1h30m", "45s": how the timeouts block is usually written.
std::string Human(int64_t seconds) {
  std::string out;
  if (seconds >= 3600) out += std::to_string(seconds / 3600) + "h";
  if (seconds % 3600 >= 60) out += std::to_string(seconds % 3600 / 60) + "m";
  if (seconds % 60 != 0 || out.empty()) out += std::to_string(seconds % 60) + "s";
  return out;
}

std::string Bound(const LockWait& wait) {
  return "timeouts." + wait.operation + " = " + Human(wait.timeout_seconds);
}

// The deadline on the wall clock, for a log reader.
std::string WallTime(steady_clock::time_point deadline, steady_clock::time_point now) {
  auto wall = std::chrono::system_clock::now() +
              std::chrono::duration_cast<std::chrono::system_clock::duration>(deadline - now);
  std::time_t t = std::chrono::system_clock::to_time_t(wall);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

enum class Holder { kRunning, kNone, kUnknown };

// Whether a task that holds `lock` runs for the VM. kUnknown when that cannot
// be told: no known holder type, or the task list would hide other users'
// tasks (no Sys.Audit on the node), or it could not be read.
Holder FindHolder(pve::Client& c, const pve::VmRef& vm, const std::string& lock,
                  std::optional<bool>& sees_all) {
  std::vector<std::string> types = LockHolderTaskTypes(lock);
  if (types.empty()) return Holder::kUnknown;
  if (!sees_all) {
    auto privs = pve::GetPermissions(c, pve::NodeAclPath(vm.node));
    sees_all = privs.ok() && privs->contains("Sys.Audit");
  }
  if (!*sees_all) return Holder::kUnknown;
  auto tasks = pve::ListActiveTasks(c, vm.node);
  if (!tasks.ok()) return Holder::kUnknown;
  std::string id = std::to_string(vm.vmid);
  for (const auto& t : *tasks) {
    bool type = std::find(types.begin(), types.end(), t.type) != types.end();
    // A backup job of several VMs is one vzdump task with an empty id.
    if (type && (t.id == id || t.id.empty())) return Holder::kRunning;
  }
  return Holder::kNone;
}

Status NeverClears(const pve::VmRef& vm, const std::string& lock) {
  return FailedPreconditionError(
      VmText(vm) + " is locked (" + lock + "): " + Why(lock) +
      ", so the lock does not clear by itself. Resume the VM (`qm start " +
      std::to_string(vm.vmid) + "`), or drop the lock with " + Unlock(vm) + ", then apply again.");
}

Status Stale(const pve::VmRef& vm, const std::string& lock) {
  std::vector<std::string> types = LockHolderTaskTypes(lock);
  return FailedPreconditionError(VmText(vm) + " is locked (" + lock + ") but no " + types.front() +
                                 " task for it runs on " + vm.node +
                                 ": the lock is stale (left by a task that was interrupted) and "
                                 "will not clear by itself. Check that nothing is working on the "
                                 "VM, run " +
                                 Unlock(vm) + ", then apply again.");
}

Status AtDeadline(const pve::VmRef& vm, const std::string& lock, const LockWait& wait,
                  Holder holder) {
  std::string text = VmText(vm) + " is still locked (" + lock + ") at the " + wait.operation +
                     " deadline (" + Bound(wait) + "): " + Why(lock) +
                     " and has not finished. Raise timeouts." + wait.operation +
                     " or apply again once it has ended.";
  if (holder != Holder::kRunning) {
    text += " If no task is working on the VM, the lock is stale: run " + Unlock(vm) +
            ", then apply again.";
  }
  return DeadlineExceededError(text);
}

}  // namespace

bool LockClearsByItself(const std::string& lock) { return lock != "suspended"; }

std::vector<std::string> LockHolderTaskTypes(const std::string& lock) {
  auto it = KnownLocks().find(lock);
  return it == KnownLocks().end() ? std::vector<std::string>{} : it->second.holders;
}

Status AwaitUnlocked(pve::Client& c, const pve::VmRef& vm, const LockWait& wait,
                     const WaitClock& clock) {
  auto now = [&] { return clock.now ? clock.now() : steady_clock::now(); };
  auto sleep = [&](milliseconds d) { return clock.sleep ? clock.sleep(d) : c.Backoff(d); };
  std::string logged;  // the lock last reported in the log
  std::optional<bool> sees_all;
  int unheld = 0;  // looks in a row that found no holder
  milliseconds delay = kLockPollFirst;
  for (;;) {
    PVEK8S_ASSIGN_OR_RETURN(pve::VmConfig conf, pve::GetVmConfig(c, vm));
    if (conf.lock.empty()) {
      if (!logged.empty()) log::Info("VM lock cleared", {{"vmid", vm.vmid}, {"node", vm.node}});
      return Status::Ok();
    }
    const std::string lock = conf.lock;
    if (!LockClearsByItself(lock)) return NeverClears(vm, lock);
    auto t = now();
    if (lock != logged) {
      log::Info("waiting for a VM lock to clear",
                {{"vmid", vm.vmid},
                 {"node", vm.node},
                 {"lock", lock},
                 {"operation", wait.operation},
                 {"deadline", WallTime(wait.deadline, t)},
                 {"seconds_left",
                  std::chrono::duration_cast<std::chrono::seconds>(wait.deadline - t).count()}});
      logged = lock;
      unheld = 0;
    }
    Holder holder = FindHolder(c, vm, lock, sees_all);
    unheld = holder == Holder::kNone ? unheld + 1 : 0;
    if (unheld >= 2) return Stale(vm, lock);
    if (t >= wait.deadline) return AtDeadline(vm, lock, wait, holder);
    auto left = std::chrono::duration_cast<milliseconds>(wait.deadline - t);
    milliseconds pause = unheld == 1 ? kStaleRecheck : delay;
    if (!sleep(std::min(pause, left))) {
      return CancelledError("waiting for " + VmText(vm) + " to be unlocked (" + lock +
                            "): cancelled");
    }
    if (unheld == 0) delay = std::min(delay * 3 / 2, kLockPollMax);
  }
}

Status RetryWhileLocked(pve::Client& c, const pve::VmRef& vm, const LockWait& wait,
                        const std::function<Status()>& op, const WaitClock& clock) {
  for (;;) {
    Status s = op();
    if (s.ok() || s.code() != StatusCode::kFailedPrecondition) return s;
    auto lock = pve::Client::VmLockIn(s.message());
    if (!lock) return s;
    auto t = clock.now ? clock.now() : steady_clock::now();
    if (t >= wait.deadline) return AtDeadline(vm, *lock, wait, Holder::kUnknown);
    log::Info("VM was locked when the change was sent; waiting",
              {{"vmid", vm.vmid}, {"node", vm.node}, {"lock", *lock}});
    PVEK8S_RETURN_IF_ERROR(AwaitUnlocked(c, vm, wait, clock));
  }
}

std::optional<std::string> LockPlanWarning(const pve::VmRef& vm, const std::string& name,
                                           const std::string& lock, const std::string& operation,
                                           int64_t timeout_seconds) {
  if (lock.empty()) return std::nullopt;
  std::string who = "VM " + std::to_string(vm.vmid) + " (" + name + ") on " + vm.node;
  if (!LockClearsByItself(lock)) {
    return who + " is locked (" + lock + "): " + Why(lock) +
           ". The lock does not clear by itself, so the " + operation +
           " will fail unless the VM is resumed (`qm start " + std::to_string(vm.vmid) +
           "`) or unlocked (" + Unlock(vm) + ") first.";
  }
  return who + " is locked (" + lock + ") now: " + Why(lock) + ". The apply waits for the lock " +
         "to clear, at most timeouts." + operation + " (" + Human(timeout_seconds) +
         "), and fails then naming the lock; a lock that no task holds fails at once (" +
         Unlock(vm) + ").";
}

}  // namespace pvek8s::resources::node
