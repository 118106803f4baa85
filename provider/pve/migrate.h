// Moving a VM to another node: what Proxmox would refuse (GET .../migrate),
// the migration itself (POST .../migrate is in qemu.h), and the HA path for
// VMs that Proxmox HA manages.
#ifndef PROVIDER_PVE_MIGRATE_H_
#define PROVIDER_PVE_MIGRATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/pve/client.h"
#include "provider/pve/qemu.h"

namespace pvek8s::pve {

// One disk that lives on storage local to the VM's node and must be copied.
struct LocalDisk {
  std::string volid;  // "local-lvm:vm-101-disk-0"; a linked clone names its base too
  int64_t size = 0;   // bytes
  bool cdrom = false;
};

// GET /nodes/{node}/qemu/{vmid}/migrate?target=: Proxmox's own preconditions.
struct MigratePreconditions {
  bool running = false;
  std::vector<std::string> allowed_nodes;
  std::vector<std::string> not_allowed_nodes;
  std::vector<LocalDisk> local_disks;
  std::vector<std::string> local_resources;  // devices that pin the VM to its node
};
// kPermissionDenied without VM.Migrate; kNotFound when the VM is not on
// `vm.node`.
StatusOr<MigratePreconditions> GetMigratePreconditions(Client& client, const VmRef& vm,
                                                       const std::string& target);

// True for a local disk that is a linked clone ("local-lvm:base-9000-disk-0/
// vm-101-disk-0"): Proxmox's migration refuses it ("can't migrate ... as
// it's a clone of ...").
bool IsLinkedClone(const LocalDisk& disk);

// GET /cluster/ha/resources/vm:{vmid}: true when HA manages the VM. Proxmox
// answers 500 "no such resource" for a VM it does not manage; that is false.
// Without Sys.Audit (kPermissionDenied) the caller cannot know; it gets the
// error.
StatusOr<bool> IsHaManaged(Client& client, int64_t vmid);

// POST /cluster/ha/resources/vm:{vmid}/migrate node=target: queues the move
// with HA's manager and returns at once; the VM arrives later (poll
// /cluster/resources for its node).
Status HaMigrate(Client& client, int64_t vmid, const std::string& target);

// True when `status` is Proxmox's answer for a node its proxy cannot reach
// (HTTP 595 with the socket error as the reason).
bool IsNodeUnreachable(const Status& status);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_MIGRATE_H_
