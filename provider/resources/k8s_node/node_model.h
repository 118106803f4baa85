// proxmox_k8s_node's settings as one typed struct, with every default in one
// place. Create, Update and the VM configuration work on this model; the plan
// works on Terraform values (they may hold unknowns).
#ifndef PROVIDER_RESOURCES_K8S_NODE_NODE_MODEL_H_
#define PROVIDER_RESOURCES_K8S_NODE_NODE_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "provider/tftypes/type.h"
#include "provider/tftypes/value.h"

namespace pvek8s::resources::node {

// Defaults of the schema (node_schema.cc) and of values the model reads
// where a block is left out.
inline constexpr int64_t kDefaultMemoryMib = 2048;
inline constexpr bool kDefaultFullClone = true;
inline constexpr char kDefaultRole[] = "worker";
inline constexpr bool kDefaultOnBoot = true;
inline constexpr bool kDefaultStarted = true;
inline constexpr char kDefaultCloudInitPolicy[] = "reboot";
inline constexpr int64_t kDefaultCores = 2;
inline constexpr int64_t kDefaultSockets = 1;
inline constexpr char kDefaultCpuType[] = "host";
inline constexpr bool kDefaultIoThread = false;
inline constexpr char kDefaultBridge[] = "vmbr0";
inline constexpr char kDefaultNicModel[] = "virtio";
inline constexpr char kDefaultWaitForIpTimeout[] = "5m";
inline constexpr int64_t kDefaultWaitForIpSeconds = 300;
inline constexpr int64_t kDefaultCreateTimeoutSeconds = 1200;
inline constexpr int64_t kDefaultUpdateTimeoutSeconds = 1200;
inline constexpr int64_t kDefaultDeleteTimeoutSeconds = 600;

struct Cpu {
  int64_t cores = kDefaultCores;
  int64_t sockets = kDefaultSockets;
  std::string type = kDefaultCpuType;
  friend bool operator==(const Cpu&, const Cpu&) = default;
};

struct Disk {
  std::string size;                    // as written, "20G"
  std::optional<std::string> storage;  // nullopt: the template's
  bool iothread = kDefaultIoThread;
  friend bool operator==(const Disk&, const Disk&) = default;
};

struct Network {
  std::string bridge = kDefaultBridge;
  std::string model = kDefaultNicModel;
  std::optional<int64_t> vlan;
  std::optional<int64_t> mtu;
  friend bool operator==(const Network&, const Network&) = default;
};

struct Ip {
  std::string address;  // CIDR, or "dhcp"
  std::optional<std::string> gateway;
  bool Dhcp() const { return address == "dhcp"; }
  // The address without its prefix length; empty for DHCP.
  std::string Host() const;
  friend bool operator==(const Ip&, const Ip&) = default;
};

struct WaitForIp {
  int64_t timeout_seconds = kDefaultWaitForIpSeconds;
  bool ipv4 = true;
  bool ipv6 = false;
  friend bool operator==(const WaitForIp&, const WaitForIp&) = default;
};

struct Timeouts {
  int64_t create_seconds = kDefaultCreateTimeoutSeconds;
  int64_t update_seconds = kDefaultUpdateTimeoutSeconds;
  int64_t delete_seconds = kDefaultDeleteTimeoutSeconds;
  friend bool operator==(const Timeouts&, const Timeouts&) = default;
};

struct NodeModel {
  std::string name;
  std::string template_name;
  std::optional<std::string> target_node;
  std::vector<std::string> target_nodes;
  std::optional<int64_t> vmid;
  std::optional<std::pair<int64_t, int64_t>> vmid_range;
  bool full_clone = kDefaultFullClone;
  std::string description;  // the user's text ("" when unset)
  std::string role = kDefaultRole;
  std::optional<std::string> cluster;
  std::optional<std::string> pool;
  int64_t memory_mib = kDefaultMemoryMib;
  std::optional<std::vector<std::string>> nameservers;
  std::optional<std::string> search_domain;
  std::optional<std::string> ssh_user;
  std::optional<std::vector<std::string>> ssh_public_keys;
  std::vector<std::string> tags;  // sorted
  bool on_boot = kDefaultOnBoot;
  bool started = kDefaultStarted;
  std::string on_cloudinit_change = kDefaultCloudInitPolicy;
  // Passed on to the join through the inventory; nothing on Proxmox.
  std::optional<std::vector<std::pair<std::string, std::string>>> labels;
  std::optional<std::vector<std::string>> taints;
  std::optional<Cpu> cpu;
  std::optional<Disk> disk;
  std::vector<Network> networks;
  std::optional<Ip> ip;
  WaitForIp wait_for_ip;
  Timeouts timeouts;

  friend bool operator==(const NodeModel&, const NodeModel&) = default;

  // Reads a known plan or state; null or unknown values read as defaults.
  static NodeModel FromValue(const tftypes::Value& v);
  // The value of the resource's type `type` (null for what the model leaves
  // unset; computed-only attributes null).
  tftypes::Value ToValue(const tftypes::Type& type) const;
  // The optional single blocks this configuration writes ("cpu", "disk"),
  // recorded in the ownership marker for a later import (ADR 0006).
  std::vector<std::string> WrittenBlocks() const;
};

// Whether any cloud-init setting (ip, keys, user, DNS) differs.
bool CloudInitDiffers(const NodeModel& a, const NodeModel& b);

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_NODE_MODEL_H_
