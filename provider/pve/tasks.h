// Waiting for the tasks (UPIDs) that Proxmox's asynchronous calls return.
#ifndef PROVIDER_PVE_TASKS_H_
#define PROVIDER_PVE_TASKS_H_

#include <chrono>
#include <string>

#include "provider/base/status.h"
#include "provider/pve/client.h"

namespace pvek8s::pve {

// Waits until task `upid` stops, at most until `deadline` (at least one
// second), and turns a failed task into an error naming `what` (codes as
// Client::WaitTaskOk). An answer that is not a UPID (some calls finish
// synchronously and return null) is OK at once.
Status WaitForTask(Client& client, const std::string& upid,
                   std::chrono::steady_clock::time_point deadline, const std::string& what);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_TASKS_H_
