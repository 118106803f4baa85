#include "acceptance-tests/pvesim/sim.h"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "acceptance-tests/pvesim/sim_internal.h"
#include "provider/base/encoding.h"
#include "provider/base/log.h"

namespace pvek8s::pvesim {

using nlohmann::json;
namespace fs = std::filesystem;

// Parameter values are arbitrary bytes; nlohmann's dump() throws on invalid
// UTF-8, so every serialization replaces bad sequences instead.
std::string SafeDump(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------
// Small shared helpers.

std::string FormatSize(int64_t size) {
  int64_t kb = size / 1024;
  if (kb * 1024 != size) return std::to_string(size);
  int64_t mb = kb / 1024;
  if (mb * 1024 != kb) return std::to_string(kb) + "K";
  int64_t gb = mb / 1024;
  if (gb * 1024 != mb) return std::to_string(mb) + "M";
  int64_t tb = gb / 1024;
  if (tb * 1024 != gb) return std::to_string(gb) + "G";
  return std::to_string(tb) + "T";
}

std::optional<int64_t> ParseSize(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double mult = 1;
  char unit = text.back();
  if (unit == 'K' || unit == 'M' || unit == 'G' || unit == 'T') {
    mult = unit == 'K'   ? 1024.0
           : unit == 'M' ? 1048576.0
           : unit == 'G' ? 1073741824.0
                         : 1099511627776.0;
    text.remove_suffix(1);
  }
  if (text.empty()) return std::nullopt;
  int dots = 0;
  for (char c : text) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  if (dots > 1 || text.front() == '.' || text.back() == '.') return std::nullopt;
  double v = std::strtod(std::string(text).c_str(), nullptr) * mult;
  if (v > 9.0e15) return std::nullopt;
  return static_cast<int64_t>(v);
}

bool HasIndexedPrefix(const std::string& key, std::string_view prefix) {
  if (!key.starts_with(prefix) || key.size() == prefix.size()) return false;
  return std::all_of(key.begin() + static_cast<long>(prefix.size()), key.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

int64_t MemoryBytes(const std::string& value) {
  std::string mib = FirstPart(value);
  if (mib.starts_with("current=")) mib = mib.substr(8);
  return ParseSize(mib + "M").value_or(0);
}

bool IsDiskKey(const std::string& key) {
  return HasIndexedPrefix(key, "ide") || HasIndexedPrefix(key, "sata") ||
         HasIndexedPrefix(key, "scsi") || HasIndexedPrefix(key, "virtio") || key == "efidisk0" ||
         key == "tpmstate0";
}

bool IsCloudinitKey(const std::string& key) {
  return key == "ciuser" || key == "cipassword" || key == "citype" || key == "ciupgrade" ||
         key == "cicustom" || key == "sshkeys" || key == "nameserver" || key == "searchdomain" ||
         HasIndexedPrefix(key, "ipconfig");
}

bool IsHotpluggable(const std::string& key) {
  static const std::set<std::string> kFastPlug = {
      "name",           "description", "tags",    "onboot",           "protection",
      "startup",        "hookscript",  "shares",  "migrate_downtime", "migrate_speed",
      "vmstatestorage", "lock",        "template"};
  if (kFastPlug.contains(key) || IsCloudinitKey(key)) return true;
  // Default hotplug is "network,disk,usb"; IDE devices are never hot-pluggable.
  return HasIndexedPrefix(key, "net") || HasIndexedPrefix(key, "scsi") ||
         HasIndexedPrefix(key, "virtio") || HasIndexedPrefix(key, "sata") ||
         HasIndexedPrefix(key, "usb") || HasIndexedPrefix(key, "unused");
}

std::string FirstPart(const std::string& value) { return value.substr(0, value.find(',')); }

std::string PropertyValue(const std::string& value, const std::string& key) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t c = value.find(',', start);
    if (c == std::string::npos) c = value.size();
    std::string part = value.substr(start, c - start);
    if (part.starts_with(key + "=")) return part.substr(key.size() + 1);
    start = c + 1;
  }
  return "";
}

std::string SetProperty(const std::string& value, const std::string& key, const std::string& v) {
  std::vector<std::string> parts;
  size_t start = 0;
  bool replaced = false;
  while (start <= value.size()) {
    size_t c = value.find(',', start);
    if (c == std::string::npos) c = value.size();
    std::string part = value.substr(start, c - start);
    if (part.starts_with(key + "=")) {
      part = key + "=" + v;
      replaced = true;
    }
    if (!part.empty()) parts.push_back(part);
    start = c + 1;
  }
  if (!replaced) parts.push_back(key + "=" + v);
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

StatusOr<StorageSpec> ParseStorageSpec(std::string_view spec) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t c = spec.find(':', start);
    if (c == std::string_view::npos) c = spec.size();
    parts.emplace_back(spec.substr(start, c - start));
    start = c + 1;
  }
  ParamDef id_def{.format = "pve-storage-id"};
  if (parts.size() < 3 || parts.size() > 4 || !CheckValue(id_def, parts[0]).empty() ||
      parts[1].empty() || parts[2].empty() || (parts.size() == 4 && parts[3] != "shared") ||
      parts[0] == "local" || parts[0] == "local-lvm") {
    return InvalidArgumentError("--storage wants ID:TYPE:CONTENT[:shared], got '" +
                                std::string(spec) + "'");
  }
  return StorageSpec{parts[0], parts[1], parts[2], parts.size() == 4};
}

// ---------------------------------------------------------------------------
// Timings.

std::optional<Timings> Timings::ForProfile(std::string_view name) {
  Timings t;
  if (name == "fast") return t;
  if (name != "realistic") return std::nullopt;
  t.clone_base = 1.0;
  t.clone_per_gib = 0.25;
  t.linked_clone = 0.5;
  t.create = 1.0;
  t.start = 1.0;
  t.stop = 0.5;
  t.shutdown = 3.0;
  t.reboot = 4.0;
  t.destroy = 1.0;
  t.resize = 0.5;
  t.config = 0.3;
  t.agent = 10.0;
  t.resources_lag = 5.0;
  return t;
}

bool Timings::Set(std::string_view name, double v) {
  std::map<std::string_view, double*> fields = {{"clone_base", &clone_base},
                                                {"clone_per_gib", &clone_per_gib},
                                                {"linked_clone", &linked_clone},
                                                {"create", &create},
                                                {"start", &start},
                                                {"stop", &stop},
                                                {"shutdown", &shutdown},
                                                {"reboot", &reboot},
                                                {"destroy", &destroy},
                                                {"resize", &resize},
                                                {"config", &config},
                                                {"agent", &agent},
                                                {"resources_lag", &resources_lag},
                                                {"auth_fail_delay", &auth_fail_delay},
                                                {"vm_lock_timeout", &vm_lock_timeout},
                                                {"clone_lock_timeout", &clone_lock_timeout},
                                                {"storage_lock_timeout", &storage_lock_timeout}};
  auto it = fields.find(name);
  if (it == fields.end() || v < 0 || v > 3600) return false;
  *it->second = v;
  return true;
}

// ---------------------------------------------------------------------------
// Construction, persistence.

Simulator::Simulator(SimOptions options) : options_(std::move(options)) {
  uint64_t seed = options_.seed_given ? options_.seed : std::random_device{}();
  rng_.seed(seed);
  fault_rng_.seed(seed ^ 0x9e3779b97f4a7c15ULL);
  storages_ = {
      {"local", "dir", "backup,import,iso,snippets,vztmpl", 100LL << 30, false},
      {"local-lvm", "lvmthin", "images,rootdir", 1800LL << 30, false},
  };
  for (const StorageSpec& extra : options_.storages) {
    storages_.push_back(
        {extra.id, extra.type, extra.content, extra.shared ? 10LL << 40 : 1LL << 40, extra.shared});
  }
  started_wall_ = WallNow();
  next_pid_ = 0x10000 + static_cast<uint32_t>(rng_() % 0x100000);
}

Simulator::~Simulator() { Shutdown(); }

void Simulator::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(sched_mu_);
    sched_stop_ = true;
  }
  sched_cv_.notify_all();
  if (sched_thread_.joinable()) sched_thread_.join();
}

namespace {

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

std::string Hex8(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08X", v);
  return buf;
}

}  // namespace

StatusOr<std::unique_ptr<Simulator>> Simulator::Create(SimOptions options) {
  std::unique_ptr<Simulator> sim(new Simulator(std::move(options)));
  std::error_code ec;
  fs::create_directories(fs::path(sim->options_.data_dir) / "vms", ec);
  if (ec) return InternalError("cannot create " + sim->options_.data_dir + ": " + ec.message());
  // The ticket key must survive restarts so that clients' tickets stay valid.
  fs::path key_path = fs::path(sim->options_.data_dir) / "ticket.key";
  std::string key;
  if (std::ifstream in(key_path, std::ios::binary); in) {
    std::stringstream ss;
    ss << in.rdbuf();
    key = ss.str();
  }
  if (key.size() < 32) {
    key = RandomBytes(32);
    PVEK8S_RETURN_IF_ERROR(WriteFileAtomic(key_path, key));
    fs::permissions(key_path, fs::perms::owner_read | fs::perms::owner_write, ec);
  }
  AuthConfig auth = sim->options_.auth;
  if (auth.passwords.empty() && auth.tokens.empty()) auth.passwords["root@pam"] = "pvesim";
  sim->auth_ = std::make_unique<Auth>(std::move(auth), key);
  PVEK8S_RETURN_IF_ERROR(sim->Load());
  sim->sched_thread_ = std::thread([s = sim.get()] { s->SchedulerLoop(); });

  auto add = [&](const char* m, const char* p, Handler h) {
    sim->routes_[std::string(m) + " " + p] = h;
  };
  const std::string q = "/nodes/{node}/qemu/{vmid}";
  add("GET", "/version", &Simulator::GetVersion);
  add("GET", "/nodes", &Simulator::GetNodes);
  add("GET", "/nodes/{node}", &Simulator::GetNode);
  add("GET", "/nodes/{node}/status", &Simulator::GetNodeStatus);
  add("GET", "/cluster/resources", &Simulator::GetClusterResources);
  add("GET", "/cluster/nextid", &Simulator::GetNextId);
  add("GET", "/cluster/ha/resources/{sid}", &Simulator::GetHaResource);
  add("GET", "/access/domains", &Simulator::GetDomains);
  add("GET", "/access/permissions", &Simulator::GetPermissions);
  add("GET", "/access/ticket", &Simulator::GetTicket);
  add("POST", "/access/ticket", &Simulator::PostTicket);
  add("GET", "/nodes/{node}/qemu", &Simulator::ListVms);
  add("POST", "/nodes/{node}/qemu", &Simulator::CreateVm);
  sim->routes_["GET " + q] = &Simulator::GetVmIndex;
  sim->routes_["DELETE " + q] = &Simulator::DeleteVm;
  sim->routes_["GET " + q + "/config"] = &Simulator::GetConfig;
  sim->routes_["PUT " + q + "/config"] = &Simulator::PutConfig;
  sim->routes_["POST " + q + "/config"] = &Simulator::PostConfig;
  sim->routes_["GET " + q + "/pending"] = &Simulator::GetPending;
  sim->routes_["GET " + q + "/cloudinit"] = &Simulator::GetCloudinit;
  sim->routes_["PUT " + q + "/cloudinit"] = &Simulator::PutCloudinit;
  sim->routes_["POST " + q + "/clone"] = &Simulator::Clone;
  sim->routes_["PUT " + q + "/resize"] = &Simulator::Resize;
  sim->routes_["POST " + q + "/template"] = &Simulator::MakeTemplate;
  sim->routes_["GET " + q + "/migrate"] = &Simulator::GetMigrate;
  sim->routes_["POST " + q + "/migrate"] = &Simulator::Migrate;
  sim->routes_["GET " + q + "/status"] = &Simulator::GetStatusIndex;
  sim->routes_["GET " + q + "/status/current"] = &Simulator::GetStatusCurrent;
  for (const char* a : {"start", "stop", "shutdown", "reboot"}) {
    sim->routes_["POST " + q + "/status/" + a] = &Simulator::PowerAction;
  }
  sim->routes_["GET " + q + "/agent"] = &Simulator::GetAgentIndex;
  sim->routes_["POST " + q + "/agent/ping"] = &Simulator::AgentPing;
  sim->routes_["GET " + q + "/agent/network-get-interfaces"] = &Simulator::AgentNetwork;
  add("GET", "/nodes/{node}/tasks", &Simulator::ListTasks);
  add("GET", "/nodes/{node}/tasks/{upid}", &Simulator::GetTaskIndex);
  add("DELETE", "/nodes/{node}/tasks/{upid}", &Simulator::StopTask);
  add("GET", "/nodes/{node}/tasks/{upid}/status", &Simulator::GetTaskStatus);
  add("GET", "/nodes/{node}/tasks/{upid}/log", &Simulator::GetTaskLog);
  add("GET", "/nodes/{node}/storage", &Simulator::ListStorage);
  add("GET", "/nodes/{node}/storage/{storage}/status", &Simulator::GetStorageStatus);
  add("GET", "/nodes/{node}/storage/{storage}/content", &Simulator::GetStorageContent);
  add("GET", "/pools", &Simulator::ListPools);
  add("POST", "/pools", &Simulator::CreatePool);
  add("PUT", "/pools", &Simulator::UpdatePool);
  add("DELETE", "/pools", &Simulator::DeletePool);
  add("GET", "/pools/{poolid}", &Simulator::GetPool);
  add("PUT", "/pools/{poolid}", &Simulator::UpdatePool);
  add("DELETE", "/pools/{poolid}", &Simulator::DeletePool);
  return sim;
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
  json j = {{"pools", pools}, {"dhcp_next", dhcp_next_}};
  Status s = WriteFileAtomic(fs::path(options_.data_dir) / "cluster.json", SafeDump(j, 1));
  if (!s.ok()) log::Error("cannot save cluster state", {{"error", s.message()}});
}

Status Simulator::Load() {
  fs::path dir(options_.data_dir);
  bool fresh = !fs::exists(dir / "cluster.json");
  if (auto j = ReadJsonFile(dir / "cluster.json")) {
    // A hand-edited file with wrong types is reported, not fatal.
    try {
      if (j->contains("pools") && (*j)["pools"].is_object()) {
        for (const auto& [id, p] : (*j)["pools"].items()) {
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
      dhcp_next_ = j->value("dhcp_next", 0u);
    } catch (const json::exception& e) {
      log::Warn("ignoring malformed cluster.json", {{"error", e.what()}});
    }
  }
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
      vm.node = j->value("node", "");
      auto str_map = [&](const char* k, std::map<std::string, std::string>* out) {
        if (!j->contains(k) || !(*j)[k].is_object()) return;
        for (const auto& [key, val] : (*j)[k].items()) {
          if (val.is_string()) (*out)[key] = val.get<std::string>();
        }
      };
      str_map("conf", &vm.conf);
      str_map("pending", &vm.pending);
      str_map("cloudinit", &vm.cloudinit);
      if (j->contains("pending_delete") && (*j)["pending_delete"].is_array()) {
        for (const auto& v : (*j)["pending_delete"]) {
          if (v.is_string()) vm.pending_delete.insert(v.get<std::string>());
        }
      }
      vm.cloudinit_generated = j->value("cloudinit_generated", false);
      vm.running = j->value("running", false);
      vm.started_at = j->value("started_at", 0.0);
      vm.dhcp_ip = j->value("dhcp_ip", "");
      if (j->value("creating", false)) {  // A clone interrupted by a restart.
        RemoveVmFile(vm.vmid);
        continue;
      }
      if (j->contains("volumes") && (*j)["volumes"].is_array()) {
        for (const auto& v : (*j)["volumes"]) {
          if (!v.is_object()) continue;
          Volume vol;
          vol.storage = v.value("storage", "");
          vol.name = v.value("name", "");
          vol.size = v.value("size", int64_t{0});
          vol.format = v.value("format", "raw");
          vol.content = v.value("content", "images");
          vol.ctime = v.value("ctime", int64_t{0});
          vol.vmid = vm.vmid;
          vm.volumes[vol.volid()] = vol;
        }
      }
      vm.history.push_back({0, vm.conf.count("name") ? vm.conf["name"] : "",
                            vm.running ? "running" : "stopped",
                            vm.conf.count("template") && vm.conf["template"] == "1" ? 1 : 0});
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

// ---------------------------------------------------------------------------
// Scheduler: runs task completions at their due time, with mu_ held.

void Simulator::Schedule(double delay, std::function<void()> fn) {
  if (delay <= 0) {
    fn();  // Callers hold mu_ already.
    return;
  }
  {
    std::lock_guard<std::mutex> lock(sched_mu_);
    jobs_.push(Job{WallNow() + delay, job_seq_++, std::move(fn)});
  }
  sched_cv_.notify_all();
}

void Simulator::SchedulerLoop() {
  std::unique_lock<std::mutex> lock(sched_mu_);
  while (!sched_stop_) {
    if (jobs_.empty()) {
      sched_cv_.wait(lock);
      continue;
    }
    double wait = jobs_.top().due - WallNow();
    if (wait > 0) {
      sched_cv_.wait_for(lock, std::chrono::duration<double>(wait));
      continue;
    }
    Job job = jobs_.top();
    jobs_.pop();
    lock.unlock();
    {
      std::lock_guard<std::mutex> state_lock(mu_);
      job.fn();
    }
    lock.lock();
  }
}

std::optional<double> Simulator::ReserveLock(const std::string& path, double now, double hold,
                                             double timeout, bool exclusive) {
  FileLock& l = locks_[path];
  double ready = exclusive ? std::max(l.exclusive_until, l.shared_until) : l.exclusive_until;
  double start = std::max(now, ready);
  if (start - now > timeout) return std::nullopt;
  if (exclusive) {
    l.exclusive_until = start + hold;
  } else {
    l.shared_until = std::max(l.shared_until, start + hold);
  }
  return start;
}

bool Simulator::FaultFires(FaultSpec::Kind kind, std::string_view a, std::string_view b) {
  std::lock_guard<std::mutex> lock(fault_mu_);
  for (const FaultSpec& f : options_.faults) {
    if (f.kind != kind) continue;
    if (kind == FaultSpec::Kind::kLockTimeout && f.op != "*" && f.op != a) continue;
    if (kind == FaultSpec::Kind::kHttp500 &&
        ((f.method != "*" && f.method != a) || b.find(f.path) == std::string_view::npos)) {
      continue;
    }
    if (std::uniform_real_distribution<double>(0, 1)(fault_rng_) < f.probability) return true;
  }
  return false;
}

std::string Simulator::RandomMac() {
  // BC:24:11 is Proxmox Server Solutions' OUI, which PVE uses for new NICs.
  uint64_t r = rng_();
  char buf[32];
  std::snprintf(buf, sizeof(buf), "BC:24:11:%02X:%02X:%02X", static_cast<unsigned>(r & 0xff),
                static_cast<unsigned>((r >> 8) & 0xff), static_cast<unsigned>((r >> 16) & 0xff));
  return buf;
}

std::string Simulator::RandomUuid() {
  uint64_t a = rng_(), b = rng_();
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string Simulator::AllocateDhcp(Vm& vm) {
  if (!vm.dhcp_ip.empty()) return vm.dhcp_ip;
  std::string cidr = options_.dhcp_cidr;
  size_t slash = cidr.find('/');
  in_addr base{};
  inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &base);
  int bits = std::atoi(cidr.substr(slash + 1).c_str());
  uint32_t size = bits >= 32 ? 1u : (1u << (32 - bits));
  uint32_t host = ntohl(base.s_addr) & ~(size - 1);
  uint32_t usable = size > 20 ? size - 20 : 1;
  uint32_t offset = 10 + (dhcp_next_++ % usable);
  in_addr out{htonl(host + offset)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &out, buf, sizeof(buf));
  vm.dhcp_ip = buf;
  SaveCluster();
  return vm.dhcp_ip;
}

// ---------------------------------------------------------------------------
// Tasks.

Simulator::Task& Simulator::NewTask(const std::string& node, const std::string& type,
                                    const std::string& id, const Request& r) {
  Task t;
  t.node = node;
  t.type = type;
  t.id = id;
  t.user = r.who.TaskUser();
  t.pid = next_pid_++;
  t.pstart = static_cast<uint32_t>((r.now - started_wall_) * 100) + 1234567;
  t.starttime = static_cast<int64_t>(r.now);
  t.upid = "UPID:" + node + ":" + Hex8(t.pid) + ":" + Hex8(t.pstart) + ":" +
           Hex8(static_cast<uint32_t>(t.starttime)) + ":" + type + ":" + id + ":" + t.user + ":";
  task_order_.push_back(t.upid);
  // Keep memory bounded in long benchmark runs.
  if (task_order_.size() > 20000) {
    tasks_.erase(task_order_.front());
    task_order_.erase(task_order_.begin());
  }
  return tasks_[t.upid] = std::move(t);
}

void Simulator::FinishTask(Task& task, const std::string& error) {
  task.running = false;
  task.endtime = static_cast<int64_t>(WallNow());
  if (error.empty()) {
    if (task.warnings > 0) {
      task.exitstatus = "WARNINGS: " + std::to_string(task.warnings);
      task.log.push_back("TASK WARNINGS: " + std::to_string(task.warnings));
    } else {
      task.exitstatus = "OK";
      task.log.push_back("TASK OK");
    }
    return;
  }
  std::string e = error;
  while (!e.empty() && e.back() == '\n') e.pop_back();
  std::replace(e.begin(), e.end(), '\n', ' ');
  task.exitstatus = e;
  task.log.push_back("TASK ERROR: " + e);
}

// ---------------------------------------------------------------------------
// Request handling.

HttpResponse Simulator::Handle(const HttpRequest& request) {
  if (FaultFires(FaultSpec::Kind::kDropConnection, "", "")) {
    HttpResponse r;
    r.drop = true;
    return r;
  }
  double latency = 0;
  {
    std::lock_guard<std::mutex> lock(fault_mu_);
    for (const FaultSpec& f : options_.faults) {
      if (f.kind == FaultSpec::Kind::kLatency && request.path.find(f.path) != std::string::npos &&
          std::uniform_real_distribution<double>(0, 1)(fault_rng_) < f.probability) {
        latency += f.latency_s;
      }
    }
  }
  if (latency > 0) std::this_thread::sleep_for(std::chrono::duration<double>(latency));
  // A last line of defence: a bug in a handler must answer 500, not kill the
  // connection thread (and with it the whole server).
  try {
    return Dispatch(request);
  } catch (const std::exception& e) {
    log::Error("handler failed", {{"error", e.what()}, {"path", request.path}});
    HttpResponse r;
    r.status = 500;
    r.reason = "internal error";
    r.body = R"({"data":null,"message":"internal error\n"})";
    r.close = true;
    return r;
  }
}

namespace {

HttpResponse PlainError(int status, std::string message) {
  HttpResponse r;
  r.status = status;
  r.reason = message;
  r.body = std::move(message);
  r.close = true;
  return r;
}

void AddStandardHeaders(HttpResponse* r, bool json_body) {
  char date[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  r->headers.emplace_back("Cache-Control", "max-age=0");
  r->headers.emplace_back("Date", date);
  r->headers.emplace_back("Pragma", "no-cache");
  r->headers.emplace_back("Server", "pve-api-daemon/3.0");
  r->headers.emplace_back("Expires", date);
  if (json_body) r->headers.emplace_back("Content-Type", "application/json;charset=UTF-8");
}

std::optional<std::vector<std::string>> SplitPath(std::string_view path) {
  std::vector<std::string> segs;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    auto d = UrlDecode(path.substr(pos, end - pos), false);
    if (!d) return std::nullopt;
    segs.push_back(std::move(*d));
    pos = end;
  }
  return segs;
}

std::string JsonToParam(const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) out += (out.empty() ? "" : ",") + JsonToParam(e);
    return out;
  }
  if (v.is_null()) return "";
  return SafeDump(v);
}

}  // namespace

HttpResponse Simulator::Dispatch(const HttpRequest& http) {
  // /api2/<format>/<path>
  std::string_view path = http.path;
  if (!path.starts_with("/api2/")) return PlainError(501, "no such uri");
  std::string_view rest = path.substr(6);
  while (rest.starts_with("/")) rest.remove_prefix(1);
  std::string_view format = rest.substr(0, rest.find('/'));
  if (format.empty()) return PlainError(501, "no such uri");
  rest.remove_prefix(format.size());
  if (format != "json") {
    return PlainError(501,
                      "no formatter for uri " + std::string(rest) + ", " + std::string(format));
  }
  const std::string& method = http.method;
  if (method != "GET" && method != "POST" && method != "PUT" && method != "DELETE") {
    HttpResponse r;
    r.status = 501;
    r.reason = "method '" + method + "' not available";
    r.close = true;
    return r;
  }
  if ((method == "GET" || method == "DELETE") && !http.body.empty()) {
    return PlainError(501, "Unexpected content for method '" + method + "'");
  }
  auto segs = SplitPath(rest);
  if (!segs) return PlainError(400, "invalid URI escape");

  Request r;
  r.http = &http;
  r.method = method;
  for (const auto& s : *segs) r.path += "/" + s;
  if (r.path.empty()) r.path = "/";

  // Route: a template whose literal segments match.
  for (const MethodDef& d : MethodDefs()) {
    auto tsegs = SplitPath(d.path);
    if (!tsegs || tsegs->size() != segs->size() || d.method != method) continue;
    std::map<std::string, std::string> uri;
    bool match = true;
    for (size_t i = 0; i < segs->size() && match; ++i) {
      const std::string& t = (*tsegs)[i];
      if (t.size() > 2 && t.front() == '{' && t.back() == '}') {
        uri[t.substr(1, t.size() - 2)] = (*segs)[i];
      } else {
        match = t == (*segs)[i];
      }
    }
    if (match) {
      r.def = &d;
      r.uri = std::move(uri);
      break;
    }
  }

  Result result;
  bool is_public = (r.path == "/access/ticket" && (method == "GET" || method == "POST")) ||
                   (r.path == "/access/domains" && method == "GET");
  if (!is_public) {
    AuthOutcome outcome = auth_->Authenticate(http, method, &r.who);
    if (outcome != AuthOutcome::kOk) {
      if (options_.timings.auth_fail_delay > 0) {
        std::this_thread::sleep_for(
            std::chrono::duration<double>(options_.timings.auth_fail_delay));
      }
      HttpResponse resp;
      resp.status = 401;
      resp.reason = outcome == AuthOutcome::kNoTicket ? "No ticket"
                    : outcome == AuthOutcome::kInvalidCsrf
                        ? "Permission denied - invalid csrf token"
                        : "Authentication failed!";
      resp.close = true;
      AddStandardHeaders(&resp, false);
      return resp;
    }
  }

  if (r.def == nullptr) {
    result = Result::Fail(501, "Method '" + method + " " + r.path + "' not implemented");
    result.message.pop_back();  // This one has no trailing newline in Proxmox.
  } else {
    // Parameters: body first, query string overrides, URI must agree.
    bool ok = true;
    if (!http.body.empty()) {
      const std::string* ct = http.Header("content-type");
      std::string type = ct ? ct->substr(0, ct->find(';')) : "application/x-www-form-urlencoded";
      while (!type.empty() && type.back() == ' ') type.pop_back();
      if (type == "application/json") {
        json body = json::parse(http.body, nullptr, false);
        if (body.is_discarded()) {
          return PlainError(500,
                            "malformed JSON string, neither tag, array, object, number, "
                            "string or atom, at character offset 0");
        }
        if (body.is_object()) {
          for (const auto& [k, v] : body.items()) r.params[k] = JsonToParam(v);
        }
      } else if (type == "application/x-www-form-urlencoded") {
        auto form = ParseFormUrlEncoded(http.body);
        if (!form) return PlainError(400, "invalid form encoding");
        for (auto& [k, v] : *form) r.params[k] = v;
      } else {
        return PlainError(506, "upload 'Content-Type '" + type + "' not implemented");
      }
    }
    if (!http.query.empty()) {
      auto form = ParseFormUrlEncoded(http.query);
      if (!form) return PlainError(400, "invalid query string");
      for (auto& [k, v] : *form) r.params[k] = v;
    }
    r.params.erase("_dc");
    ErrorMap dup;
    for (const auto& [k, v] : r.uri) {
      auto it = r.params.find(k);
      if (it != r.params.end() && it->second != v) {
        dup[k] = "duplicate parameter (already defined in URI) with conflicting values!";
      }
      r.params[k] = v;
    }
    if (!dup.empty()) {
      result = Result::ParamError(dup);
      ok = false;
    }
    if (ok && !r.def->allowtoken && r.who.via_token()) {
      result = Result::Fail(403, "Permission check failed (URI '" + r.path +
                                     "' not available with API token, need proper ticket.)");
      ok = false;
    }
    if (ok) {
      ErrorMap errors = Validate(*r.def, r.params);
      if (!errors.empty()) {
        result = Result::ParamError(errors);
        ok = false;
      }
    }
    if (ok && FaultFires(FaultSpec::Kind::kHttp500, method, r.path)) {
      std::string message;
      std::lock_guard<std::mutex> lock(fault_mu_);
      for (const FaultSpec& f : options_.faults) {
        if (f.kind == FaultSpec::Kind::kHttp500 && r.path.find(f.path) != std::string::npos) {
          message = f.message;
          break;
        }
      }
      result = Result::Fail(500, message);
      ok = false;
    }
    if (ok) {
      std::unique_lock<std::mutex> lock(mu_);
      r.lock = &lock;
      r.now = WallNow();
      result = Route(r);
    }
  }

  HttpResponse resp;
  resp.status = result.status;
  if (result.status == 200) {
    json body = {{"data", result.data}};
    if (result.total) body["total"] = *result.total;
    resp.body = SafeDump(body);
  } else {
    json body = {{"data", nullptr}};
    if (!options_.legacy_errors) body["message"] = result.message;
    if (!result.errors.empty()) body["errors"] = result.errors;
    resp.body = SafeDump(body);
    resp.reason = result.message.substr(0, result.message.find('\n'));
    resp.close = true;  // pveproxy closes the connection after any error.
  }
  AddStandardHeaders(&resp, true);
  return resp;
}

Simulator::Result Simulator::Route(Request& r) {
  auto it = routes_.find(r.method + " " + r.def->path);
  if (it == routes_.end()) {
    Result res = Result::Fail(501, "Method '" + r.method + " " + r.path + "' not implemented");
    res.message.pop_back();
    return res;
  }
  return (this->*(it->second))(r);
}

// ---------------------------------------------------------------------------
// Lookups and views.

bool Simulator::NodeExists(const std::string& node) const {
  return std::find(options_.nodes.begin(), options_.nodes.end(), node) != options_.nodes.end();
}

Simulator::Vm* Simulator::FindVm(int vmid) {
  auto it = vms_.find(vmid);
  return it == vms_.end() ? nullptr : &it->second;
}

const Simulator::Storage* Simulator::FindStorage(const std::string& id) const {
  for (const Storage& s : storages_) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::optional<Simulator::Result> Simulator::CheckNode(Request& r) {
  auto it = r.uri.find("node");
  if (it == r.uri.end() || NodeExists(it->second)) return std::nullopt;
  // A node outside the cluster falls back to DNS in pveproxy's proxy step.
  return Result::Fail(500, "hostname lookup '" + it->second +
                               "' failed - failed to get address "
                               "info for: " +
                               it->second + ": Name or service not known");
}

std::optional<Simulator::Result> Simulator::LoadVm(Request& r, Vm** vm) {
  if (auto e = CheckNode(r)) return e;
  int vmid = std::atoi(r.uri["vmid"].c_str());
  Vm* v = FindVm(vmid);
  if (v == nullptr || v->node != r.uri["node"]) {
    return Result::Fail(500, NoConfigMessage(r.uri["node"], vmid));
  }
  *vm = v;
  return std::nullopt;
}

std::optional<Simulator::Result> Simulator::CheckPriv(Request& r, const std::string& path,
                                                      const std::vector<std::string>& privs,
                                                      bool any) {
  bool ok = !any;
  for (const std::string& p : privs) {
    bool has = auth_->HasPriv(r.who, path, p);
    if (any && has) ok = true;
    if (!any && !has) {
      return Result::Fail(403, "Permission check failed (" + path + ", " + p + ")");
    }
  }
  if (ok) return std::nullopt;
  std::string joined;
  for (const std::string& p : privs) joined += (joined.empty() ? "" : "|") + p;
  return Result::Fail(403, "Permission check failed (" + path + ", " + joined + ")");
}

json Simulator::TypedConfig(const std::map<std::string, std::string>& conf) const {
  json out = json::object();
  for (const auto& [k, v] : conf) {
    const ParamDef* def = FindVmOption(k);
    if (def != nullptr && (def->type == ParamType::kBoolean || def->type == ParamType::kInteger)) {
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (!v.empty() && end == v.c_str() + v.size()) {
        out[k] = n;
        continue;
      }
    }
    out[k] = k == "cipassword" ? std::string("**********") : v;
  }
  return out;
}

std::map<std::string, std::string> Simulator::EffectiveConfig(const Vm& vm) const {
  std::map<std::string, std::string> c = vm.conf;
  for (const auto& [k, v] : vm.pending) c[k] = v;
  for (const auto& k : vm.pending_delete) c.erase(k);
  return c;
}

std::string Simulator::ConfigDigest(const Vm& vm) const {
  std::string text;
  for (const auto& [k, v] : vm.conf) {
    if (k == "description") continue;
    text += k + ": " + v + "\n";
  }
  if (vm.conf.contains("description")) text = "#" + vm.conf.at("description") + "\n" + text;
  if (!vm.pending.empty() || !vm.pending_delete.empty()) {
    text += "\n[PENDING]\n";
    for (const auto& [k, v] : vm.pending) text += k + ": " + v + "\n";
    std::string del;
    for (const auto& k : vm.pending_delete) del += (del.empty() ? "" : ",") + k;
    if (!del.empty()) text += "delete: " + del + "\n";
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha1(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
}

void Simulator::RecordHistory(Vm& vm) {
  Snapshot s{WallNow(), vm.conf.contains("name") ? vm.conf.at("name") : "",
             vm.running ? "running" : "stopped",
             vm.conf.contains("template") && vm.conf.at("template") == "1" ? 1 : 0};
  if (!vm.history.empty() && vm.history.back().name == s.name &&
      vm.history.back().status == s.status && vm.history.back().tmpl == s.tmpl) {
    return;
  }
  vm.history.push_back(s);
  // Drop snapshots that can no longer be the visible one.
  double horizon = s.at - options_.timings.resources_lag;
  while (vm.history.size() > 2 && vm.history[1].at <= horizon) {
    vm.history.erase(vm.history.begin());
  }
}

int64_t Simulator::StorageUsed(const std::string& node, const std::string& storage) const {
  const Storage* st = FindStorage(storage);
  bool shared = st != nullptr && st->shared;
  int64_t used = 0;
  for (const auto& [id, vm] : vms_) {
    if (vm.node != node && !shared) continue;
    for (const auto& [volid, v] : vm.volumes) {
      if (v.storage == storage) used += v.size;
    }
  }
  return used;
}

json Simulator::VmResource(const Vm& vm, double now) const {
  const auto& conf = vm.conf;
  auto get = [&](const char* k, const char* fallback) -> std::string {
    auto it = conf.find(k);
    return it == conf.end() ? fallback : it->second;
  };
  json j = {{"id", "qemu/" + std::to_string(vm.vmid)},
            {"vmid", vm.vmid},
            {"type", "qemu"},
            {"node", vm.node},
            {"cpu", 0},
            {"mem", 0},
            {"disk", 0},
            {"netin", 0},
            {"netout", 0},
            {"diskread", 0},
            {"diskwrite", 0}};
  const Snapshot* seen = nullptr;
  for (const Snapshot& s : vm.history) {
    if (s.at <= now - options_.timings.resources_lag) seen = &s;
  }
  if (seen == nullptr) {
    j["status"] = "unknown";
  } else {
    j["status"] = seen->status;
    if (!seen->name.empty()) j["name"] = seen->name;
    j["template"] = seen->tmpl;
    int64_t maxdisk = 0;
    for (const auto& [k, v] : conf) {
      if (IsDiskKey(k) && PropertyValue(v, "media") != "cdrom") {
        maxdisk += ParseSize(PropertyValue(v, "size")).value_or(0);
      }
    }
    j["maxdisk"] = maxdisk;
    j["maxmem"] = MemoryBytes(get("memory", "2048"));
    j["maxcpu"] = std::atoi(get("cores", "1").c_str()) * std::atoi(get("sockets", "1").c_str());
    j["uptime"] = seen->status == "running" ? static_cast<int64_t>(now - vm.started_at) : 0;
  }
  if (conf.contains("lock")) j["lock"] = conf.at("lock");
  if (conf.contains("tags")) j["tags"] = conf.at("tags");
  for (const auto& [id, p] : pools_) {
    if (p.vms.contains(vm.vmid)) j["pool"] = id;
  }
  return j;
}

json Simulator::NodeStatusJson(const std::string& node) const {
  double uptime = WallNow() - started_wall_ + 86400;
  int64_t mem_used = 0;
  for (const auto& [id, vm] : vms_) {
    if (vm.node == node && vm.running) {
      mem_used += MemoryBytes(vm.conf.count("memory") ? vm.conf.at("memory") : "2048");
    }
  }
  return {{"node", node},
          {"status", "online"},
          {"type", "node"},
          {"id", "node/" + node},
          {"cpu", 0.02},
          {"maxcpu", 96},
          {"mem", (4LL << 30) + mem_used},
          {"maxmem", 128LL << 30},
          {"disk", 8LL << 30},
          {"maxdisk", 100LL << 30},
          {"uptime", static_cast<int64_t>(uptime)},
          {"level", ""},
          {"ssl_fingerprint", options_.ssl_fingerprint}};
}

json Simulator::StorageJson(const std::string& node, const Storage& s) const {
  int64_t used = StorageUsed(node, s.id) + (s.id == "local" ? (6LL << 30) : 0);
  return {{"storage", s.id},
          {"type", s.type},
          {"content", s.content},
          {"enabled", 1},
          {"active", 1},
          {"shared", s.shared ? 1 : 0},
          {"total", s.total},
          {"used", used},
          {"avail", s.total - used},
          {"used_fraction", static_cast<double>(used) / static_cast<double>(s.total)}};
}

}  // namespace pvek8s::pvesim
