// A VM's configuration as GET .../qemu/{vmid}/config reports it, decoded into
// the settings pvek8s manages, and the changes PUT .../config writes.
#ifndef PROVIDER_PVE_VM_CONFIG_H_
#define PROVIDER_PVE_VM_CONFIG_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "provider/pve/client.h"
#include "provider/pve/propstring.h"

namespace pvek8s::pve {

// The boot disk: the first of scsi0, virtio0, sata0, ide0 that is a disk (not
// a CD-ROM or cloud-init drive). `props` is its whole property string
// ("local-lvm:vm-100-disk-0,iothread=1,size=20G"), kept to write it back.
struct BootDisk {
  std::string key;  // "scsi0"
  PropertyString props;

  std::string Volume() const { return props.Get("").value_or(""); }
  // The storage part of the volume ("local-lvm").
  std::string Storage() const;
  // As written ("20G"), empty when absent.
  std::string Size() const { return props.Get("size").value_or(""); }
  bool IoThread() const { return props.Get("iothread") == std::string("1"); }
};

// ipconfig0: "ip=192.168.1.10/24,gw=192.168.1.1" or "ip=dhcp".
struct IpConfig {
  std::string ip;
  std::optional<std::string> gateway;
};

struct VmConfig {
  std::string name;
  std::string description;  // whole text, marker line included
  // Proxmox's defaults where a key is absent: memory 2048 MiB, 1 core,
  // 1 socket, CPU type kvm64, onboot off.
  int64_t memory_mib = 2048;
  int64_t cores = 1;
  int64_t sockets = 1;
  std::string cpu_type = "kvm64";
  bool onboot = false;
  std::optional<BootDisk> boot_disk;
  // net0, net1, ... by index; nullopt for a value that does not parse.
  std::map<int, std::optional<NetDevice>> nets;
  std::optional<IpConfig> ipconfig0;
  std::optional<std::string> nameserver;
  std::optional<std::string> searchdomain;
  std::optional<std::string> ciuser;
  // sshkeys, percent-decoded: one key per line.
  std::optional<std::string> sshkeys;
  std::optional<std::string> tags;  // "a;b"
  std::string lock;                 // clone, migrate, backup, ... ("" when unlocked)
  bool is_template = false;
};

// Decodes a config answer; keys it does not know are ignored.
VmConfig DecodeVmConfig(const nlohmann::json& conf);

// What one PUT .../config changes: each set field is written, each flag in
// `remove` deleted. An empty patch writes nothing.
struct VmConfigPatch {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<int64_t> cores;
  std::optional<int64_t> sockets;
  std::optional<std::string> cpu_type;
  std::optional<int64_t> memory_mib;
  std::optional<bool> onboot;
  std::optional<bool> agent;
  std::optional<std::string> tags;  // joined with ';'
  std::map<int, NetDevice> nets;
  std::optional<IpConfig> ipconfig0;
  std::optional<std::string> nameserver;
  std::optional<std::string> searchdomain;
  std::optional<std::string> ciuser;
  std::optional<std::vector<std::string>> sshkeys;
  std::optional<BootDisk> boot_disk;

  // Settings to delete.
  struct Removals {
    bool tags = false;
    bool ipconfig0 = false;
    bool nameserver = false;
    bool searchdomain = false;
    bool ciuser = false;
    bool sshkeys = false;
    std::vector<int> nets;
  } remove;

  bool Empty() const;
};

// The form parameters of a patch, in a fixed order, with `delete` last.
Params EncodeVmConfigPatch(const VmConfigPatch& patch);

std::string FormatIpConfig(const IpConfig& ip);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_VM_CONFIG_H_
