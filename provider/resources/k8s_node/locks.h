// A VM's config lock (`lock:` in its config: backup, snapshot, migrate,
// clone, ...) as proxmox_k8s_node meets it: a plan warns, an apply waits for
// the lock to clear until the resource's timeouts deadline, and a lock that
// never clears by itself (suspended, or stale: no task holds it) fails at
// once with the `qm unlock` advice.
#ifndef PROVIDER_RESOURCES_K8S_NODE_LOCKS_H_
#define PROVIDER_RESOURCES_K8S_NODE_LOCKS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/pve/client.h"
#include "provider/pve/qemu.h"

namespace pvek8s::resources::node {

// What an apply may wait for, and how its messages name the bound.
struct LockWait {
  std::string operation;  // "create", "update" or "delete": the timeouts attribute
  int64_t timeout_seconds = 0;
  std::chrono::steady_clock::time_point deadline;
};

// Time as the wait sees it; the steady clock and Client::Backoff when a
// member is empty. Tests inject a clock that sleep() moves forward.
struct WaitClock {
  std::function<std::chrono::steady_clock::time_point()> now;
  // Returns false when the wait was cancelled (StopProvider).
  std::function<bool(std::chrono::milliseconds)> sleep;
};

// Backoff between two looks at a locked VM: from the first to the cap, each
// 1.5 times the one before (a backup holds its lock for minutes; polling
// faster only loads the cluster).
inline constexpr std::chrono::milliseconds kLockPollFirst{1000};
inline constexpr std::chrono::milliseconds kLockPollMax{10000};

// False for locks that only a person clears (`suspended`: a hibernated VM
// keeps it until it is resumed).
bool LockClearsByItself(const std::string& lock);

// The task types that hold `lock` while they run, on the node that holds the
// VM's config and under its vmid (backup: vzdump, snapshot: qmsnapshot, ...).
// Empty when the holder cannot be found that way (migrate runs on the source
// node, clone under the source's vmid, unknown locks): such a lock is never
// called stale.
std::vector<std::string> LockHolderTaskTypes(const std::string& lock);

// Waits until `vm` has no config lock, polling its config with backoff and
// logging what it waits for (lock, VM, deadline). Errors:
// kFailedPrecondition at once for a lock that never clears by itself
// (LockClearsByItself) or a stale one: seen twice in a row while no task of
// LockHolderTaskTypes runs for the VM on its node, which is only decided when
// the caller may see every task there (Sys.Audit on /nodes/{node});
// kDeadlineExceeded at `wait.deadline`, naming the lock, the VM and the
// timeouts attribute; kCancelled on StopProvider; the config read's error.
// Every error message names the VM and the lock, and those that need a person
// say `qm unlock <vmid>`.
Status AwaitUnlocked(pve::Client& client, const pve::VmRef& vm, const LockWait& wait,
                     const WaitClock& clock = {});

// Runs `op`; while it fails with "VM is locked" (a lock taken after the last
// look), waits with AwaitUnlocked and runs it again. `op` must be safe to
// repeat: Proxmox refused it before doing anything.
Status RetryWhileLocked(pve::Client& client, const pve::VmRef& vm, const LockWait& wait,
                        const std::function<Status()>& op, const WaitClock& clock = {});

// The plan warning for an update or delete of a VM that holds `lock` now
// (nullopt for no lock), naming the VM, the lock and what the apply will do.
std::optional<std::string> LockPlanWarning(const pve::VmRef& vm, const std::string& name,
                                           const std::string& lock, const std::string& operation,
                                           int64_t timeout_seconds);

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_LOCKS_H_
