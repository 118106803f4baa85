// VMs that change nodes: refresh following a VM that HA, maintenance or an
// administrator moved; plans that move one (a changed target_node, or a node
// left out of target_nodes); and the migration itself, directly or through
// Proxmox HA. A VM is found by its vmid, which a migration keeps.
#ifndef PROVIDER_RESOURCES_K8S_NODE_MOVES_H_
#define PROVIDER_RESOURCES_K8S_NODE_MOVES_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/framework/diagnostics.h"
#include "provider/pve/client.h"
#include "provider/pve/nodes.h"
#include "provider/pve/qemu.h"
#include "provider/resources/cluster_view.h"

namespace pvek8s::resources::node {

using MoveDeadline = std::chrono::steady_clock::time_point;

// Where refresh found a VM.
struct LocatedVm {
  pve::VmRef vm;           // where its config is now
  pve::VmConfig config;    // read there, with no migrate lock left
  std::string moved_from;  // the node it was expected on, when it moved
  // Its node does not answer (HTTP 595 from Proxmox's proxy) and no other
  // node holds it: the config is unknown and the VM stays where it was.
  bool unreachable = false;
  std::string unreachable_why;
};

// Finds the VM expected at `expected`: there, or (when its node says it does
// not exist, or cannot be reached) by vmid in `listing`, re-reading a listing
// that still shows the old place. A VM locked `migrate` is waited for until
// it is unlocked on one node, at most until `deadline`
// (kDeadlineExceeded naming the lock then, never "gone"). kNotFound when no
// node holds it. Does not check the ownership marker: the caller does.
StatusOr<LocatedVm> LocateVm(pve::Client& client, ClusterListing& listing,
                             const pve::VmRef& expected, MoveDeadline deadline);

// Runs `op`, which acts on `*vm`, and again where the VM is now when it
// failed because HA or an administrator migrated the VM meanwhile: not found
// on its node, or locked by a migration (waited for until `deadline`). `*vm`
// follows the VM (at most 8 moves, a move away and back included). Any
// other result of `op` is returned as is; so is a kNotFound when no node
// holds the VM any more.
Status FollowingMoves(pve::Client& client, ClusterListing& listing, pve::VmRef* vm,
                      MoveDeadline deadline, const std::function<Status()>& op);

// The node a VM on `current` should be on: `current` when it is a candidate
// (or no candidates are given), else the online candidate with the most free
// memory; empty when none is online.
std::string NodeAmong(const std::string& current, const std::vector<std::string>& candidates,
                      const std::vector<pve::NodeInfo>& nodes);

// Plan-time checks of moving `vm` to `target`, as errors on target_node in
// `diags`: the target is a node of the cluster and online; the token may
// migrate the VM (VM.Migrate); Proxmox would not refuse it (a linked clone
// on local storage, local devices); the target's storages have room for the
// local disks that are copied. `name` is the VM's name, for messages.
void CheckMove(pve::Client& client, const pve::VmRef& vm, const std::string& name,
               const std::string& target, framework::Diagnostics& diags);

// Moves `vm` to `target` and waits until it is there, unlocked: through HA
// when HA manages it, else POST .../migrate (online, with its local disks,
// when it runs; offline when stopped). Lock timeouts and "VM is locked" are
// retried until `deadline`. On error the VM is where Proxmox left it (on the
// source when a migration task fails); `*now_on` says where, as far as the
// cluster listing knows.
Status MigrateVm(pve::Client& client, ClusterListing& listing, const pve::VmRef& vm,
                 const std::string& target, MoveDeadline deadline, std::string* now_on);

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_MOVES_H_
