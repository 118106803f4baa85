// What proxmox_k8s_node keeps in Terraform's private state: the owner id of
// its marker, whether it was just imported, and which boot of the VM its
// DHCP address was read in.
#ifndef PROVIDER_RESOURCES_K8S_NODE_PRIVATE_DATA_H_
#define PROVIDER_RESOURCES_K8S_NODE_PRIVATE_DATA_H_

#include <cstdint>
#include <string>

#include "provider/pve/qemu.h"

namespace pvek8s::resources::node {

// Which boot of a VM an address was read in: the QEMU process and when it
// started (`uptime` makes the start time drift by a second or two between
// reads, so starts within 5 s are the same boot).
struct BootId {
  int64_t pid = 0;
  int64_t started = 0;  // Unix time

  static BootId Of(const pve::VmStatus& status);
  bool Same(const BootId& o) const;
};

struct PrivateData {
  std::string owner;
  bool imported = false;
  BootId ip_boot;  // the boot ipv4_address was read in (DHCP only)

  // Unreadable bytes give the empty value.
  static PrivateData Parse(const std::string& bytes);
  std::string Dump() const;
};

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_PRIVATE_DATA_H_
