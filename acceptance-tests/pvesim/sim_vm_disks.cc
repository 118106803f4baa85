// Disk and pending-change bookkeeping shared by create, config, clone and power.
#include <algorithm>
#include <cstdlib>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"
#include "provider/base/status.h"

namespace pvek8s::pvesim {

using nlohmann::json;

std::string Simulator::NextDiskName(const Vm& vm, const std::string& storage, int vmid) const {
  for (int i = 0;; ++i) {
    std::string name = "vm-" + std::to_string(vmid) + "-disk-" + std::to_string(i);
    bool used = false;
    for (const auto& [volid, v] : vm.volumes) {
      used = used || (v.storage == storage && (v.name == name || v.name.ends_with("/" + name)));
    }
    if (!used) return name;
  }
}

Status Simulator::ApplyDiskValue(Vm& vm, const std::string& key, std::string* value) {
  std::string spec = FirstPart(*value);
  std::string rest = value->substr(spec.size());
  if (spec == "none" || spec == "cdrom") return Status::Ok();
  size_t colon = spec.find(':');
  if (colon == std::string::npos) {
    if (spec.starts_with("/dev/")) return Status::Ok();
    return InvalidArgumentError("unable to parse drive options");
  }
  std::string storage = spec.substr(0, colon);
  std::string name = spec.substr(colon + 1);
  const Storage* st = FindStorage(storage);
  if (st == nullptr) return NotFoundError("storage '" + storage + "' does not exist");
  if (name == "cloudinit") {
    if (st->content.find("images") == std::string::npos) {
      return InvalidArgumentError("storage '" + storage + "' does not support vm images");
    }
    Volume vol{storage,
               "vm-" + std::to_string(vm.vmid) + "-cloudinit",
               4LL << 20,
               "raw",
               "images",
               vm.vmid,
               static_cast<int64_t>(WallNow())};
    vm.volumes[vol.volid()] = vol;
    *value = vol.volid() + ",media=cdrom";
    return Status::Ok();
  }
  std::optional<int64_t> gib;
  if (!name.empty() && std::all_of(name.begin(), name.end(),
                                   [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
    double g = std::strtod(name.c_str(), nullptr);
    gib = static_cast<int64_t>(g * 1073741824.0);
    if (!PropertyValue(*value, "import-from").empty() || g == 0) gib = 2252LL << 20;
  }
  if (gib) {
    if (st->content.find("images") == std::string::npos) {
      return InvalidArgumentError("storage '" + storage + "' does not support vm images");
    }
    Volume vol{storage, NextDiskName(vm, storage, vm.vmid), *gib, "raw", "images",
               vm.vmid, static_cast<int64_t>(WallNow())};
    vm.volumes[vol.volid()] = vol;
    std::string opts;
    size_t start = 1;
    while (start < rest.size()) {
      size_t c = rest.find(',', start);
      if (c == std::string::npos) c = rest.size();
      std::string part = rest.substr(start, c - start);
      if (!part.starts_with("import-from=") && !part.starts_with("size=")) opts += "," + part;
      start = c + 1;
    }
    *value = vol.volid() + opts + ",size=" + FormatSize(vol.size);
    return Status::Ok();
  }
  // An existing volume: it must belong to this VM (or be an ISO on a dir storage).
  if (name.starts_with("iso/")) return Status::Ok();
  bool known = vm.volumes.contains(spec);
  if (!known) return InvalidArgumentError("volume '" + spec + "' does not exist");
  if (PropertyValue(*value, "size").empty()) {
    *value = SetProperty(*value, "size", FormatSize(vm.volumes[spec].size));
  }
  (void)key;
  return Status::Ok();
}

void Simulator::DropVolumeOf(Vm& vm, const std::string& value) {
  vm.volumes.erase(FirstPart(value));
}

void Simulator::ApplyPending(Vm& vm, bool running_hotplug, int* warnings) {
  (void)warnings;
  for (auto it = vm.pending_delete.begin(); it != vm.pending_delete.end();) {
    const std::string k = *it;
    if (running_hotplug && !IsHotpluggable(k)) {
      ++it;
      continue;
    }
    auto cur = vm.conf.find(k);
    if (cur != vm.conf.end()) {
      std::string spec = FirstPart(cur->second);
      bool is_volume = IsDiskKey(k) && vm.volumes.contains(spec);
      if (is_volume && spec.find("cloudinit") == std::string::npos &&
          PropertyValue(cur->second, "media") != "cdrom") {
        // A detached disk becomes unusedN rather than being destroyed.
        int n = 0;
        while (vm.conf.contains("unused" + std::to_string(n))) ++n;
        vm.conf["unused" + std::to_string(n)] = spec;
      } else if (is_volume || k.starts_with("unused")) {
        DropVolumeOf(vm, cur->second);
      }
      vm.conf.erase(cur);
    }
    it = vm.pending_delete.erase(it);
  }
  for (auto it = vm.pending.begin(); it != vm.pending.end();) {
    if (running_hotplug && !IsHotpluggable(it->first)) {
      ++it;
      continue;
    }
    auto old = vm.conf.find(it->first);
    if (old != vm.conf.end() && IsDiskKey(it->first) &&
        FirstPart(old->second) != FirstPart(it->second)) {
      std::string spec = FirstPart(old->second);
      if (vm.volumes.contains(spec) && spec.find("cloudinit") == std::string::npos) {
        int n = 0;
        while (vm.conf.contains("unused" + std::to_string(n))) ++n;
        vm.conf["unused" + std::to_string(n)] = spec;
      }
    }
    vm.conf[it->first] = it->second;
    it = vm.pending.erase(it);
  }
}

void Simulator::GenerateCloudinit(Vm& vm) {
  vm.cloudinit.clear();
  for (const auto& [k, v] : vm.conf) {
    if (IsCloudinitKey(k) || k == "name") vm.cloudinit[k] = v;
  }
  vm.cloudinit_generated = true;
}

}  // namespace pvek8s::pvesim
