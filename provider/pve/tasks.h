// Waiting for the tasks (UPIDs) that Proxmox's asynchronous calls return.
#ifndef PROVIDER_PVE_TASKS_H_
#define PROVIDER_PVE_TASKS_H_

#include <chrono>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/pve/client.h"

namespace pvek8s::pve {

// Waits until task `upid` stops, at most until `deadline` (at least one
// second), and turns a failed task into an error naming `what` (codes as
// Client::WaitTaskOk). An answer that is not a UPID (some calls finish
// synchronously and return null) is OK at once.
Status WaitForTask(Client& client, const std::string& upid,
                   std::chrono::steady_clock::time_point deadline, const std::string& what);

// A task that is still running, as GET /nodes/{node}/tasks lists it.
struct ActiveTask {
  std::string upid;
  std::string type;  // vzdump, qmsnapshot, qmigrate, ...
  std::string id;    // usually the vmid
  std::string user;
};

// GET /nodes/{node}/tasks?source=active: the tasks running on `node`.
// (No vmid filter: a backup job of several VMs runs as one vzdump task with
// an empty id.) Proxmox lists only the caller's own tasks unless it has
// Sys.Audit on /nodes/{node}, so an empty list proves nothing without it.
StatusOr<std::vector<ActiveTask>> ListActiveTasks(Client& client, const std::string& node);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_TASKS_H_
