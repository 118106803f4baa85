// The VM configuration of a node, both ways: the model as the Proxmox
// settings to write (only what changed), and what Proxmox reports as the
// resource's state (only what the user manages, so unmanaged settings never
// show as drift). No I/O here.
#ifndef PROVIDER_RESOURCES_K8S_NODE_NODE_CONFIG_H_
#define PROVIDER_RESOURCES_K8S_NODE_NODE_CONFIG_H_

#include <optional>
#include <string>

#include "provider/pve/qemu.h"
#include "provider/pve/vm_config.h"
#include "provider/resources/k8s_node/marker.h"
#include "provider/resources/k8s_node/node_model.h"
#include "provider/tftypes/value.h"

namespace pvek8s::resources::node {

// The settings to write so that a VM configured as `current` matches `plan`:
// everything when `prior` is nullopt (a new clone), else what differs from
// `prior`. `description` (the user's text with our marker) is written when it
// differs from the current one. NICs keep the MAC the clone got, so DHCP
// leases and udev names survive; the boot disk's iothread is set in its own
// property string. Disk growth is separate (DiskGrowth).
pve::VmConfigPatch ConfigPatch(const std::optional<NodeModel>& prior, const NodeModel& plan,
                               const pve::VmConfig& current, const std::string& description);

// The size to grow the boot disk to, when the plan asks for more than it has.
std::optional<std::string> DiskGrowth(const NodeModel& plan, const pve::VmConfig& current);

// What Read reports: `prior` with every managed value as Proxmox has it.
// `full` (after an import) fills the optional blocks and the values only the
// marker can tell.
struct VmView {
  pve::VmConfig config;
  std::optional<pve::VmStatus> status;
  std::string user_description;
  std::optional<OwnerMarker> marker;
};
tftypes::Value StateFromVm(const tftypes::Value& prior, const VmView& vm, bool full);

// The MAC of each of the plan's `count` NICs ("" where the VM has none).
tftypes::Value MacAddresses(const pve::VmConfig& config, size_t count);

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_NODE_CONFIG_H_
