// Persistence: one JSON file per VM, cluster.json and the first-start seed.
// Files are replaced atomically (write *.tmp, then rename).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"
#include "provider/base/log.h"

namespace pvek8s::pvesim {

using nlohmann::json;

namespace fs = std::filesystem;

Status WriteFileAtomic(const fs::path& path, const std::string& content) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return InternalError("cannot write " + tmp.string());
    out << content;
    if (!out.flush()) return InternalError("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return InternalError("cannot rename " + tmp.string() + ": " + ec.message());
  return Status::Ok();
}

std::optional<json> ReadJsonFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}
void Simulator::SaveVm(const Vm& vm) {
  json volumes = json::array();
  for (const auto& [volid, v] : vm.volumes) {
    volumes.push_back({{"storage", v.storage},
                       {"name", v.name},
                       {"size", v.size},
                       {"format", v.format},
                       {"content", v.content},
                       {"ctime", v.ctime}});
  }
  json j = {{"vmid", vm.vmid},
            {"node", vm.node},
            {"conf", vm.conf},
            {"pending", vm.pending},
            {"pending_delete", vm.pending_delete},
            {"cloudinit", vm.cloudinit},
            {"cloudinit_generated", vm.cloudinit_generated},
            {"running", vm.running},
            {"started_at", vm.started_at},
            {"boot_id", vm.boot_id},
            {"dhcp_ip", vm.dhcp_ip},
            {"creating", vm.creating},
            {"volumes", volumes}};
  Status s = WriteFileAtomic(
      fs::path(options_.data_dir) / "vms" / (std::to_string(vm.vmid) + ".json"), SafeDump(j, 1));
  if (!s.ok()) log::Error("cannot save VM", {{"vmid", vm.vmid}, {"error", s.message()}});
}

void Simulator::RemoveVmFile(int vmid) {
  std::error_code ec;
  fs::remove(fs::path(options_.data_dir) / "vms" / (std::to_string(vmid) + ".json"), ec);
}

void Simulator::SaveCluster() {
  json pools = json::object();
  for (const auto& [id, p] : pools_) {
    pools[id] = {{"comment", p.comment}, {"vms", p.vms}, {"storage", p.storage}};
  }
  json j = {{"pools", pools}, {"dhcp_next", dhcp_next_}, {"moves", MovesState()}};
  Status s = WriteFileAtomic(fs::path(options_.data_dir) / "cluster.json", SafeDump(j, 1));
  if (!s.ok()) log::Error("cannot save cluster state", {{"error", s.message()}});
}

Status Simulator::Load() {
  fs::path dir(options_.data_dir);
  bool fresh = !fs::exists(dir / "cluster.json");
  if (auto j = ReadJsonFile(dir / "cluster.json")) LoadCluster(*j);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir / "vms", ec)) {
    if (entry.path().extension() != ".json") continue;
    auto j = ReadJsonFile(entry.path());
    if (!j || !j->is_object() || !(*j)["vmid"].is_number_integer()) {
      log::Warn("skipping unreadable VM file", {{"path", entry.path().string()}});
      continue;
    }
    Vm vm;
    vm.vmid = (*j)["vmid"].get<int>();
    try {
      if (!ParseVmFile(*j, &vm)) {  // A clone interrupted by a restart.
        RemoveVmFile(vm.vmid);
        continue;
      }
    } catch (const json::exception& e) {
      log::Warn("skipping malformed VM file",
                {{"path", entry.path().string()}, {"error", e.what()}});
      continue;
    }
    vms_[vm.vmid] = std::move(vm);
  }
  if (fresh && vms_.empty()) return Seed();
  return Status::Ok();
}

void Simulator::LoadCluster(json& j) {
  // A hand-edited file with wrong types is reported, not fatal.
  try {
    if (j.contains("pools") && j["pools"].is_object()) {
      for (const auto& [id, p] : j["pools"].items()) {
        Pool pool;
        pool.comment = p.value("comment", "");
        if (p.contains("vms") && p["vms"].is_array()) {
          for (const auto& v : p["vms"]) {
            if (v.is_number_integer()) pool.vms.insert(v.get<int>());
          }
        }
        if (p.contains("storage") && p["storage"].is_array()) {
          for (const auto& v : p["storage"]) {
            if (v.is_string()) pool.storage.insert(v.get<std::string>());
          }
        }
        pools_[id] = pool;
      }
    }
    dhcp_next_ = j.value("dhcp_next", 0u);
    if (j.contains("moves") && j["moves"].is_object()) LoadMovesState(j["moves"]);
  } catch (const json::exception& e) {
    log::Warn("ignoring malformed cluster.json", {{"error", e.what()}});
  }
}

// Fills *vm (whose vmid is set) from its file; false for the temporary config
// of a clone or create that a restart interrupted. May throw json::exception
// on wrong types.
bool Simulator::ParseVmFile(json& j, Vm* vm) {
  vm->node = j.value("node", "");
  auto str_map = [&](const char* k, std::map<std::string, std::string>* out) {
    if (!j.contains(k) || !j[k].is_object()) return;
    for (const auto& [key, val] : j[k].items()) {
      if (val.is_string()) (*out)[key] = val.get<std::string>();
    }
  };
  str_map("conf", &vm->conf);
  str_map("pending", &vm->pending);
  str_map("cloudinit", &vm->cloudinit);
  if (j.contains("pending_delete") && j["pending_delete"].is_array()) {
    for (const auto& v : j["pending_delete"]) {
      if (v.is_string()) vm->pending_delete.insert(v.get<std::string>());
    }
  }
  vm->cloudinit_generated = j.value("cloudinit_generated", false);
  vm->running = j.value("running", false);
  vm->started_at = j.value("started_at", 0.0);
  vm->boot_id = j.value("boot_id", "");
  vm->dhcp_ip = j.value("dhcp_ip", "");
  if (j.value("creating", false)) return false;
  if (j.contains("volumes") && j["volumes"].is_array()) {
    for (const auto& v : j["volumes"]) {
      if (!v.is_object()) continue;
      Volume vol;
      vol.storage = v.value("storage", "");
      vol.name = v.value("name", "");
      vol.size = v.value("size", int64_t{0});
      vol.format = v.value("format", "raw");
      vol.content = v.value("content", "images");
      vol.ctime = v.value("ctime", int64_t{0});
      vol.vmid = vm->vmid;
      vm->volumes[vol.volid()] = vol;
    }
  }
  vm->history.push_back({0, vm->conf.count("name") ? vm->conf["name"] : "",
                         vm->running ? "running" : "stopped",
                         vm->conf.count("template") && vm->conf["template"] == "1" ? 1 : 0});
  return true;
}

Status Simulator::Seed() {
  fs::path seed_path = fs::path(options_.data_dir) / "seed.json";
  auto seed = ReadJsonFile(seed_path);
  if (!seed) {
    // The lab's template on every node: a cloud-init Ubuntu 22.04 image on
    // local-lvm, vmids 9000, 9001, ... in node order.
    json vms = json::array();
    for (size_t i = 0; i < options_.nodes.size(); ++i) {
      int vmid = 9000 + static_cast<int>(i);
      std::string id = std::to_string(vmid);
      vms.push_back({{"node", options_.nodes[i]},
                     {"vmid", vmid},
                     {"config",
                      {{"agent", "1"},
                       {"boot", "order=scsi0"},
                       {"cores", "2"},
                       {"ide2", "local-lvm:vm-" + id + "-cloudinit,media=cdrom"},
                       {"memory", "2048"},
                       {"name", "ubuntu-2204-template"},
                       {"net0", "virtio,bridge=vmbr0"},
                       {"ostype", "l26"},
                       {"scsi0", "local-lvm:base-" + id + "-disk-0,size=2252M"},
                       {"scsihw", "virtio-scsi-pci"},
                       {"serial0", "socket"},
                       {"template", "1"},
                       {"vga", "serial0"}}}});
    }
    seed = json{{"vms", vms}};
    PVEK8S_RETURN_IF_ERROR(WriteFileAtomic(seed_path, SafeDump(*seed, 2) + "\n"));
  }
  if (!seed->is_object() || !(*seed)["vms"].is_array()) {
    return InvalidArgumentError(seed_path.string() + ": want {\"vms\": [...]}");
  }
  for (const auto& s : (*seed)["vms"]) {
    if (!s.is_object() || !s["vmid"].is_number_integer() || !s["node"].is_string() ||
        !s["config"].is_object()) {
      return InvalidArgumentError(seed_path.string() + ": each VM needs vmid, node, config");
    }
    Vm vm;
    vm.vmid = s["vmid"].get<int>();
    vm.node = s["node"].get<std::string>();
    for (const auto& [k, v] : s["config"].items()) {
      if (v.is_string()) vm.conf[k] = v.get<std::string>();
    }
    for (auto& [k, v] : vm.conf) {
      if (HasIndexedPrefix(k, "net") && FirstPart(v).find('=') == std::string::npos) {
        std::string model = FirstPart(v);
        v = model + "=" + RandomMac() + v.substr(model.size());
      }
      if (!IsDiskKey(k) && !k.starts_with("unused")) continue;
      std::string spec = FirstPart(v);
      size_t colon = spec.find(':');
      if (colon == std::string::npos || !FindStorage(spec.substr(0, colon))) continue;
      Volume vol;
      vol.storage = spec.substr(0, colon);
      vol.name = spec.substr(colon + 1);
      vol.vmid = vm.vmid;
      vol.size = ParseSize(PropertyValue(v, "size")).value_or(4LL << 20);
      vol.ctime = static_cast<int64_t>(WallNow());
      vm.volumes[vol.volid()] = vol;
    }
    if (!vm.conf.contains("smbios1")) vm.conf["smbios1"] = "uuid=" + RandomUuid();
    if (!vm.conf.contains("vmgenid")) vm.conf["vmgenid"] = RandomUuid();
    vm.conf["meta"] =
        "creation-qemu=8.1.5,ctime=" + std::to_string(static_cast<int64_t>(WallNow()));
    vm.history.push_back({0, vm.conf["name"], "stopped", vm.conf["template"] == "1" ? 1 : 0});
    SaveVm(vm);
    vms_[vm.vmid] = std::move(vm);
  }
  SaveCluster();
  return Status::Ok();
}

}  // namespace pvek8s::pvesim
