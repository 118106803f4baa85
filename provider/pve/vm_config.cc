#include "provider/pve/vm_config.h"

#include "provider/base/encoding.h"

namespace pvek8s::pve {
namespace {

using nlohmann::json;

std::optional<std::string> OptString(const json& conf, const char* key) {
  if (!conf.contains(key)) return std::nullopt;
  return JsonString(conf[key]);
}

std::optional<BootDisk> FindBootDisk(const json& conf) {
  for (const char* key : {"scsi0", "virtio0", "sata0", "ide0"}) {
    if (!conf.contains(key)) continue;
    std::string v = JsonString(conf[key]);
    if (v.find("media=cdrom") != std::string::npos || v.find("cloudinit") != std::string::npos) {
      continue;
    }
    auto ps = PropertyString::Parse(v);
    if (!ps.ok()) return std::nullopt;
    return BootDisk{key, std::move(*ps)};
  }
  return std::nullopt;
}

// memory is a number, or since PVE 8 also "current=N[,...]".
int64_t MemoryMib(const json& conf) {
  if (!conf.contains("memory")) return 2048;
  if (auto mem = JsonInt(conf["memory"])) return *mem;
  auto ps = PropertyString::Parse(JsonString(conf["memory"]));
  if (!ps.ok()) return 2048;
  auto cur = ps->Get("current") ? ps->Get("current") : ps->Get("");
  if (!cur) return 2048;
  char* end = nullptr;
  long long v = std::strtoll(cur->c_str(), &end, 10);
  return end && *end == '\0' && !cur->empty() ? v : 2048;
}

}  // namespace

std::string BootDisk::Storage() const {
  std::string volume = Volume();
  return volume.substr(0, volume.find(':'));
}

VmConfig DecodeVmConfig(const json& conf) {
  VmConfig c;
  if (!conf.is_object()) return c;
  c.name = JsonString(conf.value("name", json()));
  c.description = JsonString(conf.value("description", json()));
  c.memory_mib = MemoryMib(conf);
  c.cores = JsonInt(conf.value("cores", json(1))).value_or(1);
  c.sockets = JsonInt(conf.value("sockets", json(1))).value_or(1);
  auto cpu = PropertyString::Parse(JsonString(conf.value("cpu", json("kvm64"))));
  c.cpu_type = cpu.ok() ? cpu->Get("").value_or("kvm64") : "kvm64";
  c.onboot = JsonInt(conf.value("onboot", json(0))).value_or(0) == 1;
  c.boot_disk = FindBootDisk(conf);
  for (int i = 0; i < 32; ++i) {
    std::string key = "net" + std::to_string(i);
    if (!conf.contains(key)) continue;
    auto dev = ParseNet(JsonString(conf[key]));
    c.nets[i] = dev.ok() ? std::optional<NetDevice>(*dev) : std::nullopt;
  }
  if (auto ip = OptString(conf, "ipconfig0")) {
    auto ps = PropertyString::Parse(*ip);
    if (ps.ok() && ps->Get("ip")) c.ipconfig0 = IpConfig{*ps->Get("ip"), ps->Get("gw")};
  }
  c.nameserver = OptString(conf, "nameserver");
  c.searchdomain = OptString(conf, "searchdomain");
  c.ciuser = OptString(conf, "ciuser");
  if (auto keys = OptString(conf, "sshkeys")) {
    c.sshkeys = UrlDecode(*keys, false).value_or(*keys);
  }
  c.tags = OptString(conf, "tags");
  c.lock = JsonString(conf.value("lock", json()));
  c.is_template = JsonInt(conf.value("template", json(0))).value_or(0) == 1;
  return c;
}

std::string FormatIpConfig(const IpConfig& ip) {
  std::string out = "ip=" + ip.ip;
  if (ip.gateway) out += ",gw=" + *ip.gateway;
  return out;
}

bool VmConfigPatch::Empty() const { return EncodeVmConfigPatch(*this).empty(); }

Params EncodeVmConfigPatch(const VmConfigPatch& p) {
  Params out;
  auto put = [&](const char* key, const std::optional<std::string>& v) {
    if (v) out.push_back({key, *v});
  };
  auto put_int = [&](const char* key, const std::optional<int64_t>& v) {
    if (v) out.push_back({key, std::to_string(*v)});
  };
  auto put_bool = [&](const char* key, const std::optional<bool>& v) {
    if (v) out.push_back({key, *v ? "1" : "0"});
  };
  put("name", p.name);
  put("description", p.description);
  put_int("cores", p.cores);
  put_int("sockets", p.sockets);
  put("cpu", p.cpu_type);
  put_int("memory", p.memory_mib);
  put_bool("onboot", p.onboot);
  put_bool("agent", p.agent);
  put("tags", p.tags);
  for (const auto& [i, dev] : p.nets) out.push_back({"net" + std::to_string(i), FormatNet(dev)});
  if (p.ipconfig0) out.push_back({"ipconfig0", FormatIpConfig(*p.ipconfig0)});
  put("nameserver", p.nameserver);
  put("searchdomain", p.searchdomain);
  put("ciuser", p.ciuser);
  if (p.sshkeys) {
    // Proxmox wants the value itself percent-encoded (and stores it so).
    std::string joined;
    for (const auto& k : *p.sshkeys) joined += (joined.empty() ? "" : "\n") + k;
    out.push_back({"sshkeys", UrlEncode(joined + "\n")});
  }
  if (p.boot_disk) out.push_back({p.boot_disk->key, p.boot_disk->props.ToString()});
  std::vector<std::string> del;
  if (p.remove.tags) del.emplace_back("tags");
  for (int i : p.remove.nets) del.push_back("net" + std::to_string(i));
  if (p.remove.ipconfig0) del.emplace_back("ipconfig0");
  if (p.remove.nameserver) del.emplace_back("nameserver");
  if (p.remove.searchdomain) del.emplace_back("searchdomain");
  if (p.remove.ciuser) del.emplace_back("ciuser");
  if (p.remove.sshkeys) del.emplace_back("sshkeys");
  if (!del.empty()) {
    std::string joined;
    for (const auto& d : del) joined += (joined.empty() ? "" : ",") + d;
    out.push_back({"delete", joined});
  }
  return out;
}

}  // namespace pvek8s::pve
