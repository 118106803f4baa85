// Proxmox property strings ("virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1")
// and sizes ("20G").
#ifndef PROVIDER_PVE_PROPSTRING_H_
#define PROVIDER_PVE_PROPSTRING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "provider/base/status.h"

namespace pvek8s::pve {

// An ordered list of key=value items. A leading item without '=' (the
// "default key", e.g. the volume of scsi0) is stored with an empty key.
class PropertyString {
 public:
  PropertyString() = default;
  static StatusOr<PropertyString> Parse(std::string_view text);

  // The value of `key` ("" for the leading default item), if present.
  std::optional<std::string> Get(std::string_view key) const;
  // Replaces `key`'s value in place, or appends it.
  void Set(std::string_view key, std::string value);
  void Remove(std::string_view key);
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

  // Proxmox's own form: items joined by ',', the default item bare.
  std::string ToString() const;

  friend bool operator==(const PropertyString&, const PropertyString&) = default;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Parses a size such as "20G", "512M", "1.5T" or "1073741824" (bytes) into
// bytes; units are powers of 1024 (K, M, G, T).
StatusOr<int64_t> ParseSize(std::string_view text);
// The shortest exact form: "20G", "512M", or bytes.
std::string FormatSize(int64_t bytes);

// The NIC model and MAC of a net0 value ("virtio=BC:24:...,bridge=vmbr0"):
// Proxmox writes the model as the key of the MAC.
struct NetDevice {
  std::string model;
  std::string mac;
  std::string bridge;
  std::optional<int64_t> vlan;  // tag=
  std::optional<int64_t> mtu;
  bool firewall = false;
};
StatusOr<NetDevice> ParseNet(std::string_view text);
std::string FormatNet(const NetDevice& net);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_PROPSTRING_H_
