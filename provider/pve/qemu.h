// Typed calls below /nodes/{node}/qemu: one VM's configuration, clone,
// resize, power, guest agent, migration and deletion. Asynchronous calls
// return the task's UPID (wait with WaitForTask, tasks.h).
#ifndef PROVIDER_PVE_QEMU_H_
#define PROVIDER_PVE_QEMU_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/pve/client.h"
#include "provider/pve/vm_config.h"

namespace pvek8s::pve {

// A VM where Proxmox keeps it: the node that holds its config, and its id.
struct VmRef {
  std::string node;
  int64_t vmid = 0;
};

// One VM of a node's list.
struct VmSummary {
  int64_t vmid = 0;
  std::string name;
  std::string status;
  bool template_ = false;
  int64_t maxdisk = 0;
  std::string lock;  // "clone" while a clone is still being made, ...
};

// GET /nodes/{node}/qemu: the VMs and templates of one node.
StatusOr<std::vector<VmSummary>> ListVms(Client& client, const std::string& node);

// GET .../config (pending changes applied, as Proxmox shows by default).
// kNotFound when the VM (or its config file) does not exist on that node.
StatusOr<VmConfig> GetVmConfig(Client& client, const VmRef& vm);

// PUT .../config with the patch; nothing is sent for an empty patch.
Status UpdateVmConfig(Client& client, const VmRef& vm, const VmConfigPatch& patch);

struct CloneRequest {
  int64_t newid = 0;
  std::string name;
  bool full = true;
  std::string description;
  std::optional<std::string> pool;
  std::optional<std::string> storage;  // full clones only
};
// POST /nodes/{node}/qemu/{template}/clone; returns the task's UPID.
StatusOr<std::string> CloneVm(Client& client, const VmRef& source, const CloneRequest& req);

// PUT .../resize to the absolute `size` ("20G"); a UPID (PVE 8+) or "".
StatusOr<std::string> ResizeDisk(Client& client, const VmRef& vm, const std::string& disk_key,
                                 const std::string& size);

// GET .../status/current.
struct VmStatus {
  std::string status;  // running | stopped | ...
  int64_t pid = 0;     // of the QEMU process; 0 when stopped
  std::optional<int64_t> uptime;
  std::string lock;
  bool Running() const { return status == "running"; }
};
StatusOr<VmStatus> GetVmStatus(Client& client, const VmRef& vm);

// GET /nodes/{node}/qemu read for the power state of every VM of a node
// (status, QEMU pid, uptime, lock), by vmid: one call for a whole refresh.
StatusOr<std::map<int64_t, VmStatus>> ListVmStatuses(Client& client, const std::string& node);

enum class PowerAction { kStart, kStop, kReboot, kShutdown };
// "start", "stop", ... as the URL names them.
const char* PowerActionName(PowerAction action);
// POST .../status/{action}; returns the task's UPID.
StatusOr<std::string> PowerVm(Client& client, const VmRef& vm, PowerAction action);

// PUT .../cloudinit: regenerates the cloud-init drive from the config.
Status RegenerateCloudInit(Client& client, const VmRef& vm);

// One interface that the guest agent reports, with its IPv4 addresses.
struct GuestInterface {
  std::string name;
  std::vector<std::string> ipv4;
};
// GET .../agent/network-get-interfaces, each attempt bounded by `timeout`
// (a frozen agent makes Proxmox wait for its own QMP timeout).
StatusOr<std::vector<GuestInterface>> GetGuestInterfaces(Client& client, const VmRef& vm,
                                                         std::chrono::milliseconds timeout);

// DELETE /nodes/{node}/qemu/{vmid} with its disks (purge, unreferenced disks
// too); returns the task's UPID.
StatusOr<std::string> DeleteVm(Client& client, const VmRef& vm);

struct MigrateRequest {
  std::string target;
  bool online = false;
  bool with_local_disks = false;
};
// POST .../migrate; returns the task's UPID.
StatusOr<std::string> MigrateVm(Client& client, const VmRef& vm, const MigrateRequest& req);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_QEMU_H_
