// The API handlers of the simulator. Each runs with Simulator::mu_ held (via
// Request::lock) and may release it only to wait for a simulated file lock.
#include <algorithm>
#include <cmath>
#include <thread>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"
#include "provider/base/encoding.h"

namespace pvek8s::pvesim {

using nlohmann::json;

namespace {

int VmidOf(const Simulator::Request& r, const char* key = "vmid") {
  return std::atoi(r.Get(key).c_str());
}

std::string LowerAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// GuestHelpers::get_unique_tags: lower-cased, de-duplicated, sorted, ';'-joined.
std::string NormalizeTags(const std::string& value) {
  std::set<std::string> tags;
  for (const std::string& t : SplitList(value)) tags.insert(LowerAscii(t));
  std::string out;
  for (const auto& t : tags) out += (out.empty() ? "" : ";") + t;
  return out;
}

bool AgentEnabled(const std::map<std::string, std::string>& conf) {
  auto it = conf.find("agent");
  if (it == conf.end()) return false;
  std::string first = FirstPart(it->second);
  if (first == "1") return true;
  if (first.starts_with("enabled=")) return first == "enabled=1";
  return PropertyValue(it->second, "enabled") == "1";
}

}  // namespace

// ---------------------------------------------------------------------------
// Cluster-wide endpoints.

Simulator::Result Simulator::GetVersion(Request&) {
  return Result::Ok({{"version", options_.version},
                     {"release", options_.release},
                     {"repoid", "2a5fa54a8503f96d"}});
}

Simulator::Result Simulator::GetNodes(Request& r) {
  json out = json::array();
  for (const auto& n : options_.nodes) {
    json j = NodeStatusJson(n);
    if (!auth_->HasPriv(r.who, "/nodes/" + n, "Sys.Audit")) {
      j = {{"node", n}, {"status", "online"}, {"type", "node"}, {"id", "node/" + n}};
    }
    out.push_back(j);
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::GetNode(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  json out = json::array();
  for (const char* sub : {"qemu", "storage", "tasks", "status", "version"}) {
    out.push_back({{"name", sub}});
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::GetNodeStatus(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  const std::string& node = r.uri["node"];
  if (auto e = CheckPriv(r, "/nodes/" + node, {"Sys.Audit"})) return *e;
  json s = NodeStatusJson(node);
  return Result::Ok({{"uptime", s["uptime"]},
                     {"cpu", s["cpu"]},
                     {"wait", 0},
                     {"loadavg", {"0.12", "0.10", "0.09"}},
                     {"kversion", "Linux 6.8.12-9-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-9"},
                     {"pveversion", "pve-manager/" + options_.version + "/2a5fa54a8503f96d"},
                     {"cpuinfo",
                      {{"cpus", 96},
                       {"cores", 48},
                       {"sockets", 2},
                       {"mhz", "2400.000"},
                       {"model", "pvesim virtual CPU"},
                       {"hvm", "1"},
                       {"flags", ""},
                       {"user_hz", 100}}},
                     {"memory",
                      {{"total", s["maxmem"]},
                       {"used", s["mem"]},
                       {"free", s["maxmem"].get<int64_t>() - s["mem"].get<int64_t>()}}},
                     {"swap", {{"total", 8LL << 30}, {"used", 0}, {"free", 8LL << 30}}},
                     {"rootfs",
                      {{"total", s["maxdisk"]},
                       {"used", s["disk"]},
                       {"free", s["maxdisk"].get<int64_t>() - s["disk"].get<int64_t>()},
                       {"avail", s["maxdisk"].get<int64_t>() - s["disk"].get<int64_t>()}}},
                     {"ksm", {{"shared", 0}}},
                     {"boot-info", {{"mode", "efi"}, {"secureboot", 0}}},
                     {"current-kernel",
                      {{"sysname", "Linux"}, {"release", "6.8.12-9-pve"}, {"machine", "x86_64"}}}});
}

Simulator::Result Simulator::GetClusterResources(Request& r) {
  std::string type = r.Get("type");
  json out = json::array();
  if (type.empty() || type == "vm") {
    for (const auto& [id, vm] : vms_) {
      if (!auth_->HasPriv(r.who, "/vms/" + std::to_string(id), "VM.Audit")) continue;
      out.push_back(VmResource(vm, r.now));
    }
  }
  if (type.empty() || type == "node") {
    for (const auto& n : options_.nodes) {
      if (!auth_->HasPriv(r.who, "/nodes/" + n, "Sys.Audit")) continue;
      json j = NodeStatusJson(n);
      j.erase("ssl_fingerprint");
      j["cgroup-mode"] = 2;
      out.push_back(j);
    }
  }
  if (type.empty() || type == "storage") {
    for (const auto& n : options_.nodes) {
      for (const Storage& s : storages_) {
        if (!auth_->HasPriv(r.who, "/storage/" + s.id, "Datastore.Audit") &&
            !auth_->HasPriv(r.who, "/storage/" + s.id, "Datastore.AllocateSpace")) {
          continue;
        }
        json sj = StorageJson(n, s);
        out.push_back({{"id", "storage/" + n + "/" + s.id},
                       {"type", "storage"},
                       {"storage", s.id},
                       {"node", n},
                       {"status", "available"},
                       {"plugintype", s.type},
                       {"content", s.content},
                       {"shared", s.shared ? 1 : 0},
                       {"disk", sj["used"]},
                       {"maxdisk", sj["total"]}});
      }
    }
  }
  if (type.empty()) {
    for (const auto& [id, p] : pools_) {
      if (!auth_->HasPriv(r.who, "/pool/" + id, "Pool.Audit")) continue;
      out.push_back({{"id", "/pool/" + id}, {"type", "pool"}, {"pool", id}});
    }
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::GetNextId(Request& r) {
  if (r.Has("vmid")) {
    int vmid = VmidOf(r);
    if (vms_.contains(vmid)) {
      return Result::ParamError("vmid", "VM " + std::to_string(vmid) + " already exists");
    }
    return Result::Ok(std::to_string(vmid));
  }
  // Lowest free id from next-id.lower (100); nothing is reserved.
  int id = 100;
  while (vms_.contains(id)) ++id;
  return Result::Ok(std::to_string(id));
}

Simulator::Result Simulator::GetHaResource(Request& r) {
  std::string sid = r.uri["sid"];
  if (sid.find(':') == std::string::npos) sid = "vm:" + sid;
  return Result::Fail(500, "no such resource '" + sid + "'");
}

Simulator::Result Simulator::GetDomains(Request&) {
  return Result::Ok(json::array(
      {{{"realm", "pam"}, {"type", "pam"}, {"comment", "Linux PAM standard authentication"}},
       {{"realm", "pve"}, {"type", "pve"}, {"comment", "Proxmox VE authentication server"}}}));
}

// The caller's own effective privileges (PVE also lets Sys.Audit holders ask
// for others; pvesim answers only for the caller). Without `path`, PVE dumps
// every ACL path; pvesim dumps "/" and the common roots, which is what clients
// look at.
Simulator::Result Simulator::GetPermissions(Request& r) {
  std::string userid = r.Get("userid");
  std::string self = r.who.via_token() ? r.who.TaskUser() : r.who.userid;
  if (!userid.empty() && userid != self && userid != r.who.userid) {
    return Result::Fail(403, "Permission check failed (/access, Sys.Audit)");
  }
  std::vector<std::string> paths;
  if (r.Has("path")) {
    paths.push_back(r.Get("path"));
  } else {
    paths = {"/", "/vms", "/storage", "/pool", "/nodes", "/sdn", "/access"};
  }
  json out = json::object();
  for (const auto& path : paths) {
    json privs = json::object();
    for (const auto& p : auth_->Privileges(r.who, path)) privs[p] = 1;
    out[path] = privs;
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::GetTicket(Request&) { return Result::Ok(nullptr); }

Simulator::Result Simulator::PostTicket(Request& r) {
  auto ticket = auth_->Login(r.Get("username"), r.Get("password"), r.Get("realm"));
  if (!ticket) {
    if (options_.timings.auth_fail_delay > 0) {
      r.lock->unlock();
      std::this_thread::sleep_for(std::chrono::duration<double>(options_.timings.auth_fail_delay));
      r.lock->lock();
    }
    return Result::Fail(401, "authentication failure");
  }
  Identity who{ticket->username, ""};
  auto cap = [&](const std::string& path, std::string_view prefix) {
    json c = json::object();
    for (const auto& p : auth_->Privileges(who, path)) {
      if (p.starts_with(prefix)) c[p] = 1;
    }
    return c;
  };
  return Result::Ok({{"username", ticket->username},
                     {"ticket", ticket->ticket},
                     {"CSRFPreventionToken", ticket->csrf_token},
                     {"cap",
                      {{"vms", cap("/vms", "VM.")},
                       {"storage", cap("/storage", "Datastore.")},
                       {"nodes", cap("/nodes", "Sys.")},
                       {"dc", cap("/", "SDN.")},
                       {"access", cap("/access", "User.")}}}});
}

// ---------------------------------------------------------------------------
// VMs: list, create, index, delete.

Simulator::Result Simulator::ListVms(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  json out = json::array();
  for (const auto& [id, vm] : vms_) {
    if (vm.node != r.uri["node"]) continue;
    if (!auth_->HasPriv(r.who, "/vms/" + std::to_string(id), "VM.Audit")) continue;
    auto conf = vm.conf;
    json j = {
        {"vmid", id},
        {"status", vm.running ? "running" : "stopped"},
        {"cpus", conf.count("cores") ? std::atoi(conf["cores"].c_str()) : 1},
        {"maxmem", MemoryBytes(conf.count("memory") ? conf["memory"] : "2048")},
        {"uptime", vm.running ? static_cast<int64_t>(r.now - vm.started_at) : 0},
        {"cpu", 0},
        {"mem", 0},
        {"disk", 0},
        {"netin", 0},
        {"netout", 0},
        {"diskread", 0},
        {"diskwrite", 0},
        {"maxdisk",
         ParseSize(PropertyValue(conf.count("scsi0") ? conf["scsi0"] : "", "size")).value_or(0)}};
    if (conf.count("name")) j["name"] = conf["name"];
    if (conf.count("lock")) j["lock"] = conf["lock"];
    if (conf.count("tags")) j["tags"] = conf["tags"];
    if (conf.count("template") && conf["template"] == "1") j["template"] = 1;
    if (vm.running) j["pid"] = 100000 + id;
    out.push_back(j);
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::CreateVm(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  int vmid = VmidOf(r);
  std::string pool = r.Get("pool");
  if (!pool.empty() && !pools_.contains(pool)) {
    return Result::Fail(403, "Permission check failed (pool '" + pool + "' does not exist)");
  }
  if (auto e = pool.empty() ? CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.Allocate"})
                            : CheckPriv(r, "/pool/" + pool, {"VM.Allocate"})) {
    return *e;
  }
  if (r.Has("archive")) return Result::Fail(500, "pvesim: restore from archive is not simulated");
  if (Vm* existing = FindVm(vmid)) {
    return Result::Fail(500, "unable to create VM " + std::to_string(vmid) + " - VM " +
                                 std::to_string(vmid) + " already exists on node '" +
                                 existing->node + "'");
  }
  Vm vm;
  vm.vmid = vmid;
  vm.node = r.uri["node"];
  for (const auto& [k, v] : r.params) {
    if (!FindVmOption(k)) continue;
    std::string value = v;
    if (k == "tags") value = NormalizeTags(v);
    if (IsDiskKey(k)) {
      Status s = ApplyDiskValue(vm, k, &value);
      if (!s.ok()) return Result::Fail(500, s.message());
    }
    if (k.starts_with("net") && FirstPart(value).find('=') == std::string::npos) {
      std::string model = FirstPart(value);
      value = model + "=" + RandomMac() + value.substr(model.size());
    }
    vm.conf[k] = value;
  }
  vm.conf["smbios1"] = "uuid=" + RandomUuid();
  vm.conf["vmgenid"] = RandomUuid();
  vm.conf["meta"] = "creation-qemu=8.1.5,ctime=" + std::to_string(static_cast<int64_t>(r.now));
  bool start = r.Bool("start");
  Task& task = NewTask(vm.node, "qmcreate", std::to_string(vmid), r);
  std::string upid = task.upid;
  vm.conf["lock"] = "create";
  vm.creating = true;
  vms_[vmid] = vm;
  if (!pool.empty()) {
    pools_[pool].vms.insert(vmid);
    SaveCluster();
  }
  bool fault = FaultFires(FaultSpec::Kind::kLockTimeout, "create", "");
  Schedule(options_.timings.create, [this, vmid, upid, start, fault] {
    Task& t = tasks_[upid];
    Vm* v = FindVm(vmid);
    if (v == nullptr) return FinishTask(t, "VM vanished");
    if (fault) {
      vms_.erase(vmid);
      return FinishTask(t, "unable to create VM " + std::to_string(vmid) + " - " +
                               LockTimeoutMessage(VmLockPath(vmid)));
    }
    v->conf.erase("lock");
    v->creating = false;
    if (start) {
      GenerateCloudinit(*v);
      v->running = true;
      v->started_at = WallNow();
    }
    RecordHistory(*v);
    SaveVm(*v);
    FinishTask(t, "");
  });
  return Result::Ok(upid);
}

Simulator::Result Simulator::GetVmIndex(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  json out = json::array();
  for (const char* sub :
       {"config", "pending", "status", "clone", "resize", "cloudinit", "agent", "template"}) {
    out.push_back({{"subdir", sub}});
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::DeleteVm(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  int vmid = vm->vmid;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.Allocate"})) return *e;
  if (r.Has("skiplock") && r.who.TaskUser() != "root@pam") {
    return Result::ParamError("skiplock", "Only root may use this option.");
  }
  if (vm->conf.contains("lock") && !r.Bool("skiplock")) {
    return Result::Fail(500, "VM is locked (" + vm->conf["lock"] + ")");
  }
  if (vm->conf.contains("protection") && vm->conf["protection"] == "1") {
    return Result::Fail(500,
                        "can't remove VM " + std::to_string(vmid) + " - protection mode enabled");
  }
  if (vm->running) {
    return Result::Fail(500, "VM " + std::to_string(vmid) + " is running - destroy failed");
  }
  Task& task = NewTask(vm->node, "qmdestroy", std::to_string(vmid), r);
  std::string upid = task.upid;
  if (FaultFires(FaultSpec::Kind::kLockTimeout, "delete", "")) {
    FinishTask(task, LockTimeoutMessage(VmLockPath(vmid)));
    return Result::Ok(upid);
  }
  auto start = ReserveLock(VmLockPath(vmid), r.now, options_.timings.destroy,
                           options_.timings.vm_lock_timeout, true);
  if (!start) {
    Schedule(options_.timings.vm_lock_timeout, [this, upid, vmid] {
      FinishTask(tasks_[upid], LockTimeoutMessage(VmLockPath(vmid)));
    });
    return Result::Ok(upid);
  }
  vm->conf["lock"] = "destroyed";
  SaveVm(*vm);
  Schedule(*start - r.now + options_.timings.destroy, [this, upid, vmid] {
    Task& t = tasks_[upid];
    Vm* v = FindVm(vmid);
    if (v == nullptr) return FinishTask(t, NoConfigMessage(t.node, vmid));
    // A template's base volume cannot go while linked clones use it.
    for (const auto& [volid, vol] : v->volumes) {
      if (!vol.name.starts_with("base-")) continue;
      for (const auto& [oid, other] : vms_) {
        if (oid == vmid) continue;
        for (const auto& [ovolid, ovol] : other.volumes) {
          if (ovol.storage == vol.storage && ovol.name.starts_with(vol.name + "/")) {
            v->conf.erase("lock");
            SaveVm(*v);
            return FinishTask(t, "base volume '" + volid + "' is still in use by linked cloned");
          }
        }
      }
    }
    for (const auto& [volid, vol] : v->volumes) {
      t.log.push_back("  Logical volume \"" + vol.name + "\" successfully removed.");
    }
    for (auto& [id, p] : pools_) p.vms.erase(vmid);
    vms_.erase(vmid);
    RemoveVmFile(vmid);
    SaveCluster();
    FinishTask(t, "");
  });
  return Result::Ok(upid);
}

// ---------------------------------------------------------------------------
// Configuration.

Simulator::Result Simulator::GetConfig(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vm->vmid), {"VM.Audit"})) return *e;
  if (r.Has("snapshot")) {
    return Result::Fail(500, "snapshot '" + r.Get("snapshot") + "' does not exist");
  }
  json out = TypedConfig(r.Bool("current") ? vm->conf : EffectiveConfig(*vm));
  if (vm->creating && vm->conf.count("lock") && vm->conf["lock"] == "clone") {
    out = {{"lock", "clone"}, {"description", " qmclone temporary file\n"}};
  }
  out["digest"] = ConfigDigest(*vm);
  return Result::Ok(out);
}

Simulator::Result Simulator::GetPending(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vm->vmid), {"VM.Audit"})) return *e;
  std::set<std::string> keys;
  for (const auto& [k, v] : vm->conf) keys.insert(k);
  for (const auto& [k, v] : vm->pending) keys.insert(k);
  keys.insert(vm->pending_delete.begin(), vm->pending_delete.end());
  json current = TypedConfig(vm->conf);
  json pending = TypedConfig(vm->pending);
  json out = json::array();
  for (const auto& k : keys) {
    json item = {{"key", k}};
    if (current.contains(k)) item["value"] = current[k];
    if (pending.contains(k)) item["pending"] = pending[k];
    if (vm->pending_delete.contains(k)) item["delete"] = 1;
    out.push_back(item);
  }
  return Result::Ok(out);
}

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

namespace {

// Proxmox's reason for a config update that names an option twice.
std::optional<Simulator::Result> CheckDeleteList(const Simulator::Request& r,
                                                 std::vector<std::string>* deletes) {
  *deletes = SplitList(r.Get("delete"));
  for (const std::string& k : *deletes) {
    if (r.Has(k)) {
      return Simulator::Result::ParamError(
          "delete", "you can't use '-" + k + "' and -delete " + k + "' at the same time");
    }
    if (FindVmOption(k) == nullptr) {
      return Simulator::Result::ParamError("delete", "unknown option '" + k + "'");
    }
  }
  for (const std::string& k : SplitList(r.Get("revert"))) {
    if (r.Has(k)) {
      return Simulator::Result::ParamError(
          "revert", "you can't use '-" + k + "' and '-revert " + k + "' at the same time");
    }
  }
  return std::nullopt;
}

bool ValidSshKeys(const std::string& encoded) {
  auto decoded = UrlDecode(encoded, false);
  if (!decoded) return false;
  size_t start = 0;
  while (start < decoded->size()) {
    size_t nl = decoded->find('\n', start);
    if (nl == std::string::npos) nl = decoded->size();
    std::string line = decoded->substr(start, nl - start);
    start = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.find(' ');
    if (sp == std::string::npos) return false;
    std::string type = line.substr(0, sp);
    if (!type.starts_with("ssh-") && !type.starts_with("ecdsa-") && !type.starts_with("sk-")) {
      return false;
    }
    size_t sp2 = line.find(' ', sp + 1);
    std::string blob =
        line.substr(sp + 1, sp2 == std::string::npos ? std::string::npos : sp2 - sp - 1);
    if (!Base64Decode(blob)) return false;
  }
  return true;
}

}  // namespace

// Shared by PUT (sync) and POST (async) config. Returns an error Result, or
// nullopt after applying the update; *warnings counts "cannot delete" notes.
std::optional<Simulator::Result> Simulator::UpdateConfig(Request& r, Vm* vm, int* warnings,
                                                         std::vector<std::string>* log) {
  int vmid = vm->vmid;
  if (r.Has("skiplock") && r.who.TaskUser() != "root@pam") {
    return Result::ParamError("skiplock", "Only root may use this option.");
  }
  std::vector<std::string> deletes;
  if (auto e = CheckDeleteList(r, &deletes)) return e;
  std::vector<std::string> reverts = SplitList(r.Get("revert"));
  std::map<std::string, std::string> sets;
  for (const auto& [k, v] : r.params) {
    if (FindVmOption(k) != nullptr) sets[k] = v;
  }
  if (sets.empty() && deletes.empty() && reverts.empty()) {
    return Result::Fail(500, "no options specified");
  }
  // Permission: the VM.Config.* privilege each option needs.
  std::string path = "/vms/" + std::to_string(vmid);
  for (const auto& [k, v] : sets) {
    std::string priv = "VM.Config.Options";
    if (IsCloudinitKey(k))
      priv = "VM.Config.Cloudinit";
    else if (IsDiskKey(k) || k.starts_with("unused"))
      priv = PropertyValue(v, "media") == "cdrom" ? "VM.Config.CDROM" : "VM.Config.Disk";
    else if (k.starts_with("net"))
      priv = "VM.Config.Network";
    else if (k == "cores" || k == "sockets" || k == "cpu" || k == "vcpus" || k == "cpulimit" ||
             k == "cpuunits" || k == "numa" || k == "affinity")
      priv = "VM.Config.CPU";
    else if (k == "memory" || k == "balloon" || k == "shares")
      priv = "VM.Config.Memory";
    else if (k == "scsihw" || k == "bios" || k == "machine" || k == "vga" ||
             k.starts_with("serial") || k == "ostype" || k == "tablet" || k == "kvm" || k == "acpi")
      priv = "VM.Config.HWType";
    if (auto e = CheckPriv(r, path, {priv})) return e;
  }
  if (!deletes.empty() || !reverts.empty()) {
    if (auto e = CheckPriv(
            r, path,
            {"VM.Config.Disk", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Memory",
             "VM.Config.Network", "VM.Config.HWType", "VM.Config.Options", "VM.Config.Cloudinit"},
            true)) {
      return e;
    }
  }
  if (r.Has("digest") && r.Get("digest") != ConfigDigest(*vm)) {
    return Result::Fail(500, "checksum mismatch (file change by other user?)");
  }
  if (vm->conf.contains("lock") && !r.Bool("skiplock") && !sets.contains("lock")) {
    return Result::Fail(500, "VM is locked (" + vm->conf["lock"] + ")");
  }
  for (auto& [k, v] : sets) {
    if (k == "sshkeys" && !ValidSshKeys(v))
      return Result::Fail(500, "SSH public key validation error");
    if (k == "tags") v = NormalizeTags(v);
    if (k == "cipassword" && !v.starts_with("$")) {
      v = "$5$" +
          RandomString(16, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./") +
          "$" + Base64Encode(Sha256(v), false);
    }
    if (k.starts_with("net") && FirstPart(v).find('=') == std::string::npos) {
      // Keep the MAC of an existing NIC with the same model, else make one up.
      std::string model = FirstPart(v);
      std::string mac;
      auto cur = EffectiveConfig(*vm);
      if (cur.contains(k)) {
        std::string old = FirstPart(cur[k]);
        if (old.starts_with(model + "=")) mac = old.substr(model.size() + 1);
      }
      if (mac.empty()) mac = RandomMac();
      v = model + "=" + mac + v.substr(model.size());
    }
    if (IsDiskKey(k)) {
      auto cur = EffectiveConfig(*vm);
      if (!(cur.contains(k) && FirstPart(cur[k]) == FirstPart(v))) {
        Status s = ApplyDiskValue(*vm, k, &v);
        if (!s.ok()) return Result::Fail(500, s.message());
      } else if (PropertyValue(v, "size").empty() && !PropertyValue(cur[k], "size").empty()) {
        v = SetProperty(v, "size", PropertyValue(cur[k], "size"));
      }
    }
  }
  for (const std::string& k : reverts) {
    vm->pending.erase(k);
    vm->pending_delete.erase(k);
  }
  for (const std::string& k : deletes) {
    if (!EffectiveConfig(*vm).contains(k)) {
      ++*warnings;
      log->push_back("cannot delete '" + k + "' - not set in current configuration!");
      continue;
    }
    vm->pending.erase(k);
    vm->pending_delete.insert(k);
  }
  for (const auto& [k, v] : sets) {
    vm->pending[k] = v;
    vm->pending_delete.erase(k);
    log->push_back("update VM " + std::to_string(vmid) + ": -" + k + " " +
                   (k == "cipassword" ? std::string("<hidden>") : v));
  }
  ApplyPending(*vm, vm->running, warnings);
  RecordHistory(*vm);
  SaveVm(*vm);
  return std::nullopt;
}

Simulator::Result Simulator::PutConfig(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  int vmid = vm->vmid;
  if (FaultFires(FaultSpec::Kind::kLockTimeout, "config", "")) {
    return Result::Fail(500, LockTimeoutMessage(VmLockPath(vmid)));
  }
  // lock_config: wait (without mu_) for whoever holds the VM's flock.
  auto start = ReserveLock(VmLockPath(vmid), r.now, 0, options_.timings.vm_lock_timeout, true);
  double wait = start ? *start - r.now : options_.timings.vm_lock_timeout;
  if (wait > 0) {
    r.lock->unlock();
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    r.lock->lock();
    r.now = WallNow();
  }
  if (!start) return Result::Fail(500, LockTimeoutMessage(VmLockPath(vmid)));
  if (auto e = LoadVm(r, &vm)) return *e;
  int warnings = 0;
  std::vector<std::string> log;
  if (auto e = UpdateConfig(r, vm, &warnings, &log)) return *e;
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::PostConfig(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  int vmid = vm->vmid;
  Task& task = NewTask(vm->node, "qmconfig", std::to_string(vmid), r);
  std::string upid = task.upid;
  if (FaultFires(FaultSpec::Kind::kLockTimeout, "config", "")) {
    FinishTask(task, LockTimeoutMessage(VmLockPath(vmid)));
  } else {
    // Validate synchronously what Proxmox checks before forking.
    Request copy = r;
    int warnings = 0;
    std::vector<std::string> log;
    auto e = UpdateConfig(copy, vm, &warnings, &log);
    // Parameter, permission and "no options" errors are raised before the
    // worker forks; the rest (locks, digest) fail the task.
    if (e && (e->status == 400 || e->status == 403 || e->message == "no options specified\n")) {
      tasks_.erase(upid);
      task_order_.pop_back();
      return *e;
    }
    Task& t = tasks_[upid];
    t.log = log;
    t.warnings = warnings;
    for (auto& line : t.log) {
      if (line.starts_with("cannot delete")) line = "WARN: " + line;
    }
    std::string error = e ? e->message : "";
    Schedule(options_.timings.config, [this, upid, error] { FinishTask(tasks_[upid], error); });
  }
  int64_t delay = r.Int("background_delay", 0);
  if (delay > 0 && !tasks_[upid].running) {
    if (tasks_[upid].exitstatus == "OK") return Result::Ok(nullptr);
    return Result::Fail(
        500, "failed to update VM " + std::to_string(vmid) + ": " + tasks_[upid].exitstatus);
  }
  return Result::Ok(upid);
}

Simulator::Result Simulator::GetCloudinit(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vm->vmid), {"VM.Audit"})) return *e;
  auto conf = EffectiveConfig(*vm);
  std::set<std::string> keys;
  for (const auto& [k, v] : conf) {
    if (IsCloudinitKey(k)) keys.insert(k);
  }
  for (const auto& [k, v] : vm->cloudinit) {
    if (IsCloudinitKey(k)) keys.insert(k);
  }
  json out = json::array();
  for (const auto& k : keys) {
    auto mask = [&](const std::string& v) {
      return k == "cipassword" ? std::string("**********") : v;
    };
    json item = {{"key", k}};
    bool in_conf = conf.contains(k);
    bool in_iso = vm->cloudinit_generated && vm->cloudinit.contains(k);
    if (in_iso) item["value"] = mask(vm->cloudinit[k]);
    // Until an image exists, everything is "pending" (not in the image yet).
    if (in_conf && (!in_iso || vm->cloudinit[k] != conf[k])) item["pending"] = mask(conf[k]);
    if (!in_conf && in_iso) item["delete"] = 1;
    out.push_back(item);
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::PutCloudinit(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  int vmid = vm->vmid;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.Config.Cloudinit"})) return *e;
  if (FaultFires(FaultSpec::Kind::kLockTimeout, "cloudinit", "")) {
    return Result::Fail(500, LockTimeoutMessage(VmLockPath(vmid)));
  }
  if (vm->conf.contains("lock"))
    return Result::Fail(500, "VM is locked (" + vm->conf["lock"] + ")");
  GenerateCloudinit(*vm);
  SaveVm(*vm);
  return Result::Ok(nullptr);
}

// ---------------------------------------------------------------------------
// Clone.

Simulator::Result Simulator::Clone(Request& r) {
  Vm* src = nullptr;
  if (auto e = LoadVm(r, &src)) return *e;
  int vmid = src->vmid;
  int newid = VmidOf(r, "newid");
  std::string node = src->node;
  std::string target = r.Get("target", node);
  std::string pool = r.Get("pool");
  bool is_template = src->conf.contains("template") && src->conf["template"] == "1";
  bool full = r.Has("full") ? r.Bool("full") : !is_template;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.Clone"})) return *e;
  if (!pool.empty() && !pools_.contains(pool)) {
    return Result::Fail(403, "Permission check failed (pool '" + pool + "' does not exist)");
  }
  if (!auth_->HasPriv(r.who, "/vms/" + std::to_string(newid), "VM.Allocate") &&
      (pool.empty() || !auth_->HasPriv(r.who, "/pool/" + pool, "VM.Allocate"))) {
    return Result::Fail(
        403, "Permission check failed (/vms/" + std::to_string(newid) + ", VM.Allocate)");
  }
  if (!NodeExists(target)) {
    return Result::ParamError("target", "no such cluster node '" + target + "'");
  }
  if (!full && r.Has("storage")) {
    return Result::ParamError("storage", "parameter 'storage' not allowed for linked clones");
  }
  if (!full && r.Has("format")) {
    return Result::ParamError("format", "parameter 'format' not allowed for linked clones");
  }
  std::string storage = r.Get("storage");
  if (!storage.empty()) {
    const Storage* st = FindStorage(storage);
    if (st == nullptr) return Result::Fail(500, "storage '" + storage + "' does not exist");
    if (st->content.find("images") == std::string::npos) {
      return Result::ParamError("storage", "storage '" + storage + "' does not support vm images");
    }
    if (auto e = CheckPriv(r, "/storage/" + storage, {"Datastore.AllocateSpace"})) return *e;
  }
  if (src->conf.contains("lock"))
    return Result::Fail(500, "VM is locked (" + src->conf["lock"] + ")");
  if (target != node) {
    // Every disk must end up on a storage the target node can reach.
    for (const auto& [k, v] : src->conf) {
      if (!IsDiskKey(k)) continue;
      std::string spec = FirstPart(v);
      std::string dest = full && !storage.empty() ? storage : spec.substr(0, spec.find(':'));
      const Storage* st = FindStorage(dest);
      if (st != nullptr && !st->shared) {
        return Result::Fail(500, "can't clone VM to node '" + target + "' (VM uses local storage)");
      }
    }
  }
  if (vms_.contains(newid)) {
    return Result::Fail(
        500, "unable to create VM " + std::to_string(newid) + ": config file already exists");
  }
  if (!full) {
    for (const auto& [k, v] : src->conf) {
      if (!IsDiskKey(k) || PropertyValue(v, "media") == "cdrom") continue;
      std::string spec = FirstPart(v);
      if (spec.find(":base-") == std::string::npos) {
        return Result::Fail(500,
                            "Linked clone feature is not supported for '" + spec + "' (" + k + ")");
      }
    }
  }

  // The temporary config that reserves newid ("# qmclone temporary file").
  Vm fresh;
  fresh.vmid = newid;
  fresh.node = node;
  fresh.conf["lock"] = "clone";
  fresh.creating = true;
  vms_[newid] = fresh;
  SaveVm(vms_[newid]);
  Task& task = NewTask(node, "qmclone", std::to_string(vmid), r);
  std::string upid = task.upid;

  // Timeline: both config locks (1 s), then per-disk storage locks held for the copy.
  const Timings& tm = options_.timings;
  double t = r.now;
  std::string error;
  std::vector<std::pair<std::string, std::string>> disks;  // key, value
  for (const auto& [k, v] : src->conf) {
    if (IsDiskKey(k)) disks.emplace_back(k, v);
  }
  if (FaultFires(FaultSpec::Kind::kLockTimeout, "clone", "")) {
    std::string st = storage.empty() ? "local-lvm" : storage;
    error = "clone failed: " + LockTimeoutMessage(StorageLockPath(st));
    t += tm.clone_base > 0 ? tm.clone_lock_timeout : 0;
  } else {
    double total = tm.clone_base;
    for (const auto& [k, v] : disks) {
      if (PropertyValue(v, "media") == "cdrom") continue;
      double gib =
          static_cast<double>(ParseSize(PropertyValue(v, "size")).value_or(0)) / 1073741824.0;
      total += full ? gib * tm.clone_per_gib : tm.linked_clone;
    }
    auto s1 = ReserveLock(VmLockPath(vmid), t, total, tm.clone_lock_timeout, src->running);
    // The new VM's flock is only held while its temporary config is written;
    // afterwards the `lock: clone` property protects it.
    auto s2 = s1 ? ReserveLock(VmLockPath(newid), t, 0, tm.clone_lock_timeout, true) : s1;
    if (!s1 || !s2) {
      error = LockTimeoutMessage(VmLockPath(s1 ? newid : vmid));
      t += tm.clone_lock_timeout;
    } else {
      t = std::max(*s1, *s2) + tm.clone_base;
      for (const auto& [k, v] : disks) {
        if (PropertyValue(v, "media") == "cdrom") continue;
        std::string spec = FirstPart(v);
        std::string st = full && !storage.empty() ? storage : spec.substr(0, spec.find(':'));
        double gib =
            static_cast<double>(ParseSize(PropertyValue(v, "size")).value_or(0)) / 1073741824.0;
        double hold = full ? gib * tm.clone_per_gib : tm.linked_clone;
        auto s =
            ReserveLock(StorageLockPath(st) + "@" + target, t, hold, tm.storage_lock_timeout, true);
        if (!s) {
          const Storage* sto = FindStorage(st);
          error =
              sto != nullptr && sto->shared
                  ? "clone failed: cfs-lock 'storage-" + st + "' error: got lock request timeout"
                  : "clone failed: " + LockTimeoutMessage(StorageLockPath(st));
          t += tm.storage_lock_timeout;
          break;
        }
        t = *s + hold;
      }
    }
  }

  std::string name = r.Get("name");
  std::string description = r.Get("description");
  bool has_description = r.Has("description");
  Schedule(t - r.now, [=, this] {
    Task& tk = tasks_[upid];
    Vm* s = FindVm(vmid);
    Vm* n = FindVm(newid);
    if (n == nullptr)
      return FinishTask(tk, "clone failed: VM " + std::to_string(newid) + " vanished");
    if (!error.empty() || s == nullptr) {
      vms_.erase(newid);
      RemoveVmFile(newid);
      return FinishTask(tk, error.empty() ? NoConfigMessage(node, vmid) : error);
    }
    Vm& nv = *n;
    for (const auto& [k, v] : s->conf) {
      if (k == "template" || k == "lock" || k.starts_with("unused") || k == "parent" ||
          k == "snaptime" || k == "vmstate" || k == "meta") {
        continue;
      }
      nv.conf[k] = v;
    }
    nv.conf.erase("lock");
    for (auto& [k, v] : nv.conf) {
      if (HasIndexedPrefix(k, "net")) {
        std::string model = FirstPart(v);
        std::string m = model.substr(0, model.find('='));
        v = m + "=" + RandomMac() + v.substr(model.size());
      }
    }
    nv.conf["smbios1"] = "uuid=" + RandomUuid();
    if (nv.conf.contains("vmgenid")) nv.conf["vmgenid"] = RandomUuid();
    nv.conf["meta"] =
        "creation-qemu=8.1.5,ctime=" + std::to_string(static_cast<int64_t>(WallNow()));
    nv.conf["name"] =
        name.empty()
            ? "Copy-of-VM-" + (s->conf.contains("name") ? s->conf["name"] : std::to_string(vmid))
            : name;
    if (has_description) nv.conf["description"] = description;
    for (const auto& [k, v] : disks) {
      std::string spec = FirstPart(v);
      std::string st = spec.substr(0, spec.find(':'));
      std::string rest = v.substr(spec.size());
      auto it = s->volumes.find(spec);
      if (spec.find("cloudinit") != std::string::npos) {
        // The cloud-init drive is always created fresh for the new VM.
        std::string cst = full && !storage.empty() ? storage : st;
        Volume vol{cst,
                   "vm-" + std::to_string(newid) + "-cloudinit",
                   4LL << 20,
                   "raw",
                   "images",
                   newid,
                   static_cast<int64_t>(WallNow())};
        nv.volumes[vol.volid()] = vol;
        nv.conf[k] = vol.volid() + ",media=cdrom";
        continue;
      }
      if (PropertyValue(v, "media") == "cdrom" || it == s->volumes.end()) continue;
      std::string dst = full && !storage.empty() ? storage : st;
      Volume vol{dst,   NextDiskName(nv, dst, newid),   it->second.size, "raw", "images",
                 newid, static_cast<int64_t>(WallNow())};
      if (full) {
        tk.log.push_back("create full clone of drive " + k + " (" + spec + ")");
        tk.log.push_back("  Logical volume \"" + vol.name + "\" created.");
        tk.log.push_back("transferred " + FormatSize(vol.size) + " of " + FormatSize(vol.size) +
                         " (100.00%)");
      } else {
        std::string base = spec.substr(spec.find(':') + 1);
        base = base.substr(0, base.find('/'));
        vol.name = base + "/" + vol.name;
        tk.log.push_back("create linked clone of drive " + k + " (" + spec + ")");
        tk.log.push_back("  Logical volume \"" + vol.name.substr(vol.name.find('/') + 1) +
                         "\" created.");
      }
      nv.volumes[vol.volid()] = vol;
      nv.conf[k] = vol.volid() + rest;
    }
    nv.node = target;
    nv.creating = false;
    if (!pool.empty()) {
      pools_[pool].vms.insert(newid);
      SaveCluster();
    }
    RecordHistory(nv);
    SaveVm(nv);
    FinishTask(tk, "");
  });
  return Result::Ok(upid);
}

// ---------------------------------------------------------------------------
// Resize, template.

Simulator::Result Simulator::Resize(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  int vmid = vm->vmid;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.Config.Disk"})) return *e;
  if (r.Has("skiplock") && r.who.TaskUser() != "root@pam") {
    return Result::ParamError("skiplock", "Only root may use this option.");
  }
  Task& task = NewTask(vm->node, "resize", std::to_string(vmid), r);
  std::string upid = task.upid;
  bool fault = FaultFires(FaultSpec::Kind::kLockTimeout, "resize", "");
  auto start = fault ? std::nullopt
                     : ReserveLock(VmLockPath(vmid), r.now, options_.timings.resize,
                                   options_.timings.vm_lock_timeout, true);
  std::string disk = r.Get("disk");
  std::string size = r.Get("size");
  std::string digest = r.Get("digest");
  bool skiplock = r.Bool("skiplock");
  double delay = start ? *start - r.now + options_.timings.resize
                       : (fault ? 0 : options_.timings.vm_lock_timeout);
  Schedule(delay, [=, this] {
    Task& t = tasks_[upid];
    if (!start) return FinishTask(t, LockTimeoutMessage(VmLockPath(vmid)));
    Vm* v = FindVm(vmid);
    if (v == nullptr) return FinishTask(t, NoConfigMessage(t.node, vmid));
    if (!digest.empty() && digest != ConfigDigest(*v)) {
      return FinishTask(t, "checksum mismatch (file change by other user?)");
    }
    if (v->conf.contains("lock") && !skiplock)
      return FinishTask(t, "VM is locked (" + v->conf["lock"] + ")");
    auto it = v->conf.find(disk);
    if (it == v->conf.end()) return FinishTask(t, "disk '" + disk + "' does not exist");
    if (PropertyValue(it->second, "media") == "cdrom")
      return FinishTask(t, "you can't resize a cdrom");
    std::string spec = FirstPart(it->second);
    auto vol = v->volumes.find(spec);
    if (vol == v->volumes.end()) return FinishTask(t, "disk '" + disk + "' does not exist");
    int64_t old_size = vol->second.size;
    bool grow = size.starts_with("+");
    auto amount = ParseSize(grow ? size.substr(1) : size);
    if (!amount) return FinishTask(t, "invalid size '" + size + "'");
    int64_t new_size = grow ? old_size + *amount : *amount;
    if (new_size < old_size) return FinishTask(t, "shrinking disks is not supported");
    if (new_size == old_size) return FinishTask(t, "");
    // Sizes are rounded up to whole KiB as qemu-img does.
    new_size = (new_size + 1023) / 1024 * 1024;
    vol->second.size = new_size;
    it->second = SetProperty(it->second, "size", FormatSize(new_size));
    t.log.push_back("  Size of logical volume " + spec.substr(spec.find(':') + 1) +
                    " changed from " + FormatSize(old_size) + " to " + FormatSize(new_size) + ".");
    if (v->running) t.log.push_back("  Image resized (online).");
    SaveVm(*v);
    FinishTask(t, "");
  });
  return Result::Ok(upid);
}

Simulator::Result Simulator::MakeTemplate(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  int vmid = vm->vmid;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.Allocate"})) return *e;
  if (vm->running) return Result::Fail(500, "you can't convert a running VM to a template");
  if (vm->conf.contains("lock"))
    return Result::Fail(500, "VM is locked (" + vm->conf["lock"] + ")");
  Task& task = NewTask(vm->node, "qmtemplate", std::to_string(vmid), r);
  std::map<std::string, Volume> renamed;
  for (auto& [k, v] : vm->conf) {
    if (!IsDiskKey(k) || PropertyValue(v, "media") == "cdrom") continue;
    std::string spec = FirstPart(v);
    auto it = vm->volumes.find(spec);
    if (it == vm->volumes.end() || !it->second.name.starts_with("vm-")) continue;
    Volume vol = it->second;
    vol.name = "base-" + vol.name.substr(3);
    vm->volumes.erase(it);
    vm->volumes[vol.volid()] = vol;
    v = vol.volid() + v.substr(spec.size());
  }
  vm->conf["template"] = "1";
  RecordHistory(*vm);
  SaveVm(*vm);
  FinishTask(task, "");
  return Result::Ok(task.upid);
}

// ---------------------------------------------------------------------------
// Migration.

Simulator::Result Simulator::GetMigrate(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vm->vmid), {"VM.Migrate"})) return *e;
  json local_disks = json::array();
  for (const auto& [k, v] : vm->conf) {
    if (!IsDiskKey(k) || PropertyValue(v, "media") == "cdrom") continue;
    std::string spec = FirstPart(v);
    const Storage* st = FindStorage(spec.substr(0, spec.find(':')));
    if (st == nullptr || st->shared) continue;
    local_disks.push_back({{"volid", spec},
                           {"drivename", k},
                           {"size", ParseSize(PropertyValue(v, "size")).value_or(0)},
                           {"is_unused", 0},
                           {"cdrom", 0}});
  }
  json allowed = json::array();
  for (const auto& n : options_.nodes) {
    if (n != vm->node) allowed.push_back(n);
  }
  return Result::Ok({{"running", vm->running ? 1 : 0},
                     {"allowed_nodes", allowed},
                     {"not_allowed_nodes", json::object()},
                     {"local_disks", local_disks},
                     {"local_resources", json::array()},
                     {"mapped-resources", json::array()}});
}

Simulator::Result Simulator::Migrate(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  int vmid = vm->vmid;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.Migrate"})) return *e;
  std::string target = r.Get("target");
  if (target == vm->node) return Result::ParamError("target", "target is local node.");
  if (!NodeExists(target)) return Result::Fail(500, "no such cluster node '" + target + "'");
  if (vm->conf.contains("lock"))
    return Result::Fail(500, "VM is locked (" + vm->conf["lock"] + ")");
  if (vm->running && !r.Bool("online")) {
    return Result::Fail(500, "can't migrate running VM without --online");
  }
  // targetstorage: one storage for everything, or "src:dst,..." pairs.
  std::map<std::string, std::string> storage_map;
  std::string default_target;
  for (const std::string& pair : SplitList(r.Get("targetstorage"))) {
    size_t colon = pair.find(':');
    if (colon == std::string::npos) {
      default_target = pair;
    } else {
      storage_map[pair.substr(0, colon)] = pair.substr(colon + 1);
    }
  }
  for (const auto& [src, dst] : storage_map) {
    if (!FindStorage(dst)) return Result::Fail(500, "storage '" + dst + "' does not exist");
  }
  if (!default_target.empty() && !FindStorage(default_target)) {
    return Result::Fail(500, "storage '" + default_target + "' does not exist");
  }
  double gib = 0;
  for (const auto& [volid, v] : vm->volumes) gib += static_cast<double>(v.size) / 1073741824.0;
  double duration = options_.timings.clone_base + gib * options_.timings.clone_per_gib;
  Task& task = NewTask(vm->node, "qmigrate", std::to_string(vmid), r);
  std::string upid = task.upid;
  std::string source = vm->node;
  task.log.push_back("starting migration of VM " + std::to_string(vmid) + " to node '" + target +
                     "'");
  vm->conf["lock"] = "migrate";
  SaveVm(*vm);
  Schedule(duration, [=, this] {
    Task& t = tasks_[upid];
    Vm* v = FindVm(vmid);
    if (v == nullptr) return FinishTask(t, NoConfigMessage(source, vmid));
    v->conf.erase("lock");
    std::map<std::string, Volume> moved;
    for (auto& [k, val] : v->conf) {
      if (!IsDiskKey(k) && !k.starts_with("unused")) continue;
      std::string spec = FirstPart(val);
      auto it = v->volumes.find(spec);
      if (it == v->volumes.end()) continue;
      const Storage* st = FindStorage(it->second.storage);
      if (st != nullptr && st->shared) continue;
      Volume vol = it->second;
      std::string dst = storage_map.contains(vol.storage) ? storage_map.at(vol.storage)
                        : default_target.empty()          ? vol.storage
                                                          : default_target;
      // A linked clone's disk arrives as a full copy.
      size_t slash = vol.name.find('/');
      if (slash != std::string::npos) vol.name = vol.name.substr(slash + 1);
      vol.storage = dst;
      t.log.push_back("found local disk '" + spec + "' (attached)");
      t.log.push_back("copying local disk '" + spec + "' to '" + vol.volid() + "'");
      val = vol.volid() + val.substr(spec.size());
      v->volumes.erase(it);
      moved[vol.volid()] = vol;
    }
    for (auto& [volid, vol] : moved) v->volumes[volid] = vol;
    v->node = target;
    t.log.push_back("migration finished successfully (duration 00:00:0" +
                    std::to_string(std::min(9, static_cast<int>(duration))) + ")");
    RecordHistory(*v);
    SaveVm(*v);
    FinishTask(t, "");
  });
  return Result::Ok(upid);
}

// ---------------------------------------------------------------------------
// Power.

Simulator::Result Simulator::GetStatusIndex(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  json out = json::array();
  for (const char* sub : {"current", "start", "stop", "reset", "shutdown", "suspend", "reboot"}) {
    out.push_back({{"subdir", sub}});
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::GetStatusCurrent(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vm->vmid), {"VM.Audit"})) return *e;
  auto& conf = vm->conf;
  int64_t maxmem = MemoryBytes(conf.count("memory") ? conf["memory"] : "2048");
  int64_t maxdisk = 0;
  if (conf.count("scsi0")) maxdisk = ParseSize(PropertyValue(conf["scsi0"], "size")).value_or(0);
  int cores = conf.count("cores") ? std::atoi(conf["cores"].c_str()) : 1;
  int sockets = conf.count("sockets") ? std::atoi(conf["sockets"].c_str()) : 1;
  json j = {{"vmid", vm->vmid},
            {"status", vm->running ? "running" : "stopped"},
            {"qmpstatus", vm->running ? "running" : "stopped"},
            {"name", conf.count("name") ? conf["name"] : "VM " + std::to_string(vm->vmid)},
            {"cpus", cores * sockets},
            {"cpu", vm->running ? 0.01 : 0},
            {"maxmem", maxmem},
            {"mem", vm->running ? maxmem / 4 : 0},
            {"maxdisk", maxdisk},
            {"disk", 0},
            {"uptime", vm->running ? static_cast<int64_t>(r.now - vm->started_at) : 0},
            {"netin", 0},
            {"netout", 0},
            {"diskread", 0},
            {"diskwrite", 0},
            {"ha", {{"managed", 0}}}};
  if (vm->running) {
    j["pid"] = 100000 + vm->vmid;
    j["running-machine"] = "pc-i440fx-9.2+pve1";
    j["running-qemu"] = "9.2.0";
  }
  if (conf.count("lock")) j["lock"] = conf["lock"];
  if (conf.count("tags")) j["tags"] = conf["tags"];
  if (conf.count("template") && conf["template"] == "1") j["template"] = 1;
  if (AgentEnabled(conf)) j["agent"] = 1;
  if (conf.count("serial0")) j["serial"] = 1;
  return Result::Ok(j);
}

Simulator::Result Simulator::PowerAction(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  int vmid = vm->vmid;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.PowerMgmt"})) return *e;
  if (r.Has("skiplock") && r.who.TaskUser() != "root@pam") {
    return Result::ParamError("skiplock", "Only root may use this option.");
  }
  std::string action = r.path.substr(r.path.rfind('/') + 1);
  const Timings& tm = options_.timings;
  double duration = action == "start"      ? tm.start
                    : action == "stop"     ? tm.stop
                    : action == "shutdown" ? tm.shutdown
                                           : tm.reboot;
  std::string type = action == "start"      ? "qmstart"
                     : action == "stop"     ? "qmstop"
                     : action == "shutdown" ? "qmshutdown"
                                            : "qmreboot";
  if (action == "shutdown" && !vm->running) duration = 0;
  if (action == "stop" && !vm->running) duration = 0;
  Task& task = NewTask(vm->node, type, std::to_string(vmid), r);
  std::string upid = task.upid;
  bool fault = FaultFires(FaultSpec::Kind::kLockTimeout, action, "");
  auto start = fault ? std::nullopt
                     : ReserveLock(VmLockPath(vmid), r.now, duration, tm.vm_lock_timeout, true);
  bool skiplock = r.Bool("skiplock");
  double delay = start ? *start - r.now + duration : (fault ? 0 : tm.vm_lock_timeout);
  Schedule(delay, [=, this] {
    Task& t = tasks_[upid];
    if (!start) return FinishTask(t, LockTimeoutMessage(VmLockPath(vmid)));
    Vm* v = FindVm(vmid);
    if (v == nullptr) return FinishTask(t, NoConfigMessage(t.node, vmid));
    if (v->conf.contains("lock") && !skiplock) {
      return FinishTask(t, "VM is locked (" + v->conf["lock"] + ")");
    }
    std::string id = std::to_string(vmid);
    int warnings = 0;
    if (action == "start" || action == "reboot") {
      if (action == "start" && v->running) return FinishTask(t, "VM " + id + " already running");
      if (action == "reboot" && !v->running) return FinishTask(t, "VM " + id + " not running");
      if (v->conf.contains("template") && v->conf["template"] == "1") {
        return FinishTask(t, "you can't start a vm if it's a template");
      }
      ApplyPending(*v, false, &warnings);
      bool has_ci = false;
      for (const auto& [k, val] : v->conf) {
        has_ci = has_ci || (IsDiskKey(k) && val.find("cloudinit") != std::string::npos);
      }
      if (has_ci) {
        GenerateCloudinit(*v);
        t.log.push_back("generating cloud-init ISO");
      }
      std::string ip = PropertyValue(v->conf.count("ipconfig0") ? v->conf["ipconfig0"] : "", "ip");
      if (ip.empty() || ip == "dhcp") AllocateDhcp(*v);
      v->running = true;
      v->started_at = WallNow();
    } else {
      if (!v->running) {
        if (action == "shutdown") t.log.push_back("VM " + id + " not running");
      } else {
        v->running = false;
        v->started_at = 0;
      }
    }
    RecordHistory(*v);
    SaveVm(*v);
    FinishTask(t, "");
  });
  return Result::Ok(upid);
}

// ---------------------------------------------------------------------------
// Guest agent.

Simulator::Result Simulator::GetAgentIndex(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  json out = json::array();
  for (const char* c : {"ping", "network-get-interfaces", "get-osinfo", "info"}) {
    out.push_back({{"name", c}});
  }
  return Result::Ok(out);
}

std::optional<Simulator::Result> Simulator::AgentReady(Request& r, Vm** vm) {
  if (auto e = LoadVm(r, vm)) return e;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string((*vm)->vmid), {"VM.Monitor"})) return e;
  if (!AgentEnabled((*vm)->conf)) return Result::Fail(500, "No QEMU guest agent configured");
  if (!(*vm)->running) {
    return Result::Fail(500, "VM " + std::to_string((*vm)->vmid) + " is not running");
  }
  if (r.now < (*vm)->started_at + options_.timings.agent) {
    return Result::Fail(500, "QEMU guest agent is not running");
  }
  return std::nullopt;
}

Simulator::Result Simulator::AgentPing(Request& r) {
  Vm* vm = nullptr;
  if (auto e = AgentReady(r, &vm)) return *e;
  return Result::Ok({{"result", json::object()}});
}

Simulator::Result Simulator::AgentNetwork(Request& r) {
  Vm* vm = nullptr;
  if (auto e = AgentReady(r, &vm)) return *e;
  auto stats = [](int64_t seed) {
    return json{
        {"rx-bytes", 123456 + seed}, {"rx-dropped", 0}, {"rx-errs", 0}, {"rx-packets", 1234 + seed},
        {"tx-bytes", 65432 + seed},  {"tx-dropped", 0}, {"tx-errs", 0}, {"tx-packets", 987 + seed}};
  };
  json result = json::array();
  result.push_back({{"name", "lo"},
                    {"hardware-address", "00:00:00:00:00:00"},
                    {"ip-addresses",
                     {{{"ip-address-type", "ipv4"}, {"ip-address", "127.0.0.1"}, {"prefix", 8}},
                      {{"ip-address-type", "ipv6"}, {"ip-address", "::1"}, {"prefix", 128}}}},
                    {"statistics", stats(0)}});
  const auto& ci = vm->cloudinit;
  for (int i = 0; i < 32; ++i) {
    std::string net_key = "net" + std::to_string(i);
    auto net = vm->conf.find(net_key);
    if (net == vm->conf.end()) continue;
    std::string model = FirstPart(net->second);
    std::string mac = model.find('=') == std::string::npos ? "" : model.substr(model.find('=') + 1);
    std::string mac_lower = LowerAscii(mac);
    json addrs = json::array();
    auto ipc = ci.find("ipconfig" + std::to_string(i));
    std::string ipcfg = ipc == ci.end() ? "" : ipc->second;
    std::string ip = PropertyValue(ipcfg, "ip");
    if (!ip.empty() && ip != "dhcp" && ip != "manual") {
      size_t slash = ip.find('/');
      addrs.push_back({{"ip-address-type", "ipv4"},
                       {"ip-address", ip.substr(0, slash)},
                       {"prefix", std::atoi(ip.substr(slash + 1).c_str())}});
    } else if (i == 0 && (ip.empty() || ip == "dhcp")) {
      addrs.push_back(
          {{"ip-address-type", "ipv4"},
           {"ip-address", AllocateDhcp(*vm)},
           {"prefix",
            std::atoi(options_.dhcp_cidr.substr(options_.dhcp_cidr.find('/') + 1).c_str())}});
    }
    std::string ip6 = PropertyValue(ipcfg, "ip6");
    if (!ip6.empty() && ip6 != "dhcp" && ip6 != "auto" && ip6 != "manual") {
      size_t slash = ip6.find('/');
      addrs.push_back({{"ip-address-type", "ipv6"},
                       {"ip-address", ip6.substr(0, slash)},
                       {"prefix", std::atoi(ip6.substr(slash + 1).c_str())}});
    }
    if (mac_lower.size() == 17) {
      // EUI-64 link-local address from the MAC, as the guest kernel makes it.
      unsigned b[6] = {0};
      std::sscanf(mac_lower.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]);
      char ll[64];
      std::snprintf(ll, sizeof(ll), "fe80::%x:%xff:fe%02x:%x", ((b[0] ^ 2) << 8) | b[1], b[2], b[3],
                    (b[4] << 8) | b[5]);
      addrs.push_back({{"ip-address-type", "ipv6"}, {"ip-address", ll}, {"prefix", 64}});
    }
    result.push_back({{"name", "eth" + std::to_string(i)},
                      {"hardware-address", mac_lower},
                      {"ip-addresses", addrs},
                      {"statistics", stats(i + 1)}});
  }
  return Result::Ok({{"result", result}});
}

// ---------------------------------------------------------------------------
// Tasks.

namespace {
json TaskJson(const std::string& upid, bool running, const std::string& node, uint32_t pid,
              uint32_t pstart, int64_t starttime, const std::string& type, const std::string& id,
              const std::string& user) {
  json j = {{"upid", upid},           {"node", node}, {"pid", pid}, {"pstart", pstart},
            {"starttime", starttime}, {"type", type}, {"id", id}};
  size_t bang = user.find('!');
  j["user"] = user.substr(0, bang);
  if (bang != std::string::npos) j["tokenid"] = user.substr(bang + 1);
  j["status"] = running ? "running" : "stopped";
  return j;
}
}  // namespace

std::optional<Simulator::Result> Simulator::FindTask(Request& r, Task** task) {
  if (auto e = CheckNode(r)) return e;
  const std::string& upid = r.uri["upid"];
  static const std::string kPrefix = "UPID:";
  size_t colons = std::count(upid.begin(), upid.end(), ':');
  if (!upid.starts_with(kPrefix) || colons != 8 || upid.back() != ':') {
    return Result::ParamError("upid", "unable to parse worker upid '" + upid + "'");
  }
  auto it = tasks_.find(upid);
  if (it == tasks_.end() || it->second.node != r.uri["node"]) {
    return Result::ParamError("upid", "no such task");
  }
  Task& t = it->second;
  std::string owner = t.user.substr(0, t.user.find('!'));
  if (owner != r.who.userid && !auth_->HasPriv(r.who, "/nodes/" + t.node, "Sys.Audit")) {
    return Result::Fail(403, "Permission check failed (/nodes/" + t.node + ", Sys.Audit)");
  }
  *task = &t;
  return std::nullopt;
}

Simulator::Result Simulator::ListTasks(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  int64_t start = r.Int("start", 0), limit = r.Int("limit", 50);
  std::string vmid = r.Get("vmid"), typefilter = r.Get("typefilter");
  bool errors_only = r.Bool("errors");
  std::string source = r.Get("source", "archive");
  json out = json::array();
  int64_t skipped = 0;
  for (auto it = task_order_.rbegin(); it != task_order_.rend(); ++it) {
    auto tit = tasks_.find(*it);
    if (tit == tasks_.end()) continue;
    const Task& t = tit->second;
    if (t.node != r.uri["node"]) continue;
    if (!vmid.empty() && t.id != vmid) continue;
    if (!typefilter.empty() && t.type != typefilter) continue;
    if (errors_only && (t.running || t.exitstatus == "OK")) continue;
    if (source == "archive" && t.running) continue;
    if (source == "active" && !t.running) continue;
    std::string owner = t.user.substr(0, t.user.find('!'));
    if (owner != r.who.userid && !auth_->HasPriv(r.who, "/nodes/" + t.node, "Sys.Audit")) continue;
    if (skipped++ < start) continue;
    if (static_cast<int64_t>(out.size()) >= limit) break;
    json j =
        TaskJson(t.upid, t.running, t.node, t.pid, t.pstart, t.starttime, t.type, t.id, t.user);
    j.erase("status");
    if (!t.running) {
      j["status"] = t.exitstatus;
      j["endtime"] = t.endtime;
    }
    out.push_back(j);
  }
  Result res = Result::Ok(out);
  res.total = static_cast<int64_t>(out.size());
  return res;
}

Simulator::Result Simulator::GetTaskIndex(Request& r) {
  Task* t = nullptr;
  if (auto e = FindTask(r, &t)) return *e;
  return Result::Ok(json::array({{{"name", "log"}}, {{"name", "status"}}}));
}

Simulator::Result Simulator::StopTask(Request& r) {
  Task* t = nullptr;
  if (auto e = FindTask(r, &t)) return *e;
  if (t->running) FinishTask(*t, "received interrupt");
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::GetTaskStatus(Request& r) {
  Task* t = nullptr;
  if (auto e = FindTask(r, &t)) return *e;
  json j = TaskJson(t->upid, t->running, t->node, t->pid, t->pstart, t->starttime, t->type, t->id,
                    t->user);
  if (!t->running) j["exitstatus"] = t->exitstatus;
  return Result::Ok(j);
}

Simulator::Result Simulator::GetTaskLog(Request& r) {
  Task* t = nullptr;
  if (auto e = FindTask(r, &t)) return *e;
  int64_t start = r.Int("start", 0), limit = r.Int("limit", 50);
  json out = json::array();
  int64_t n = 0;
  for (const std::string& line : t->log) {
    ++n;
    if (n <= start) continue;
    if (static_cast<int64_t>(out.size()) >= limit) break;
    out.push_back({{"n", n}, {"t", line}});
  }
  if (t->log.empty() && t->running) out.push_back({{"n", 1}, {"t", "no content"}});
  Result res = Result::Ok(out);
  res.total = static_cast<int64_t>(t->log.size());
  return res;
}

// ---------------------------------------------------------------------------
// Storage.

Simulator::Result Simulator::ListStorage(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  std::vector<std::string> want = SplitList(r.Get("content"));
  std::string only = r.Get("storage");
  json out = json::array();
  for (const Storage& s : storages_) {
    if (!only.empty() && s.id != only) continue;
    if (!auth_->HasPriv(r.who, "/storage/" + s.id, "Datastore.Audit") &&
        !auth_->HasPriv(r.who, "/storage/" + s.id, "Datastore.AllocateSpace")) {
      continue;
    }
    bool match = want.empty();
    for (const auto& c : want)
      match = match || ("," + s.content + ",").find("," + c + ",") != std::string::npos;
    if (!match) continue;
    json j = StorageJson(r.uri["node"], s);
    if (r.Bool("format") && s.type == "lvmthin") j["format"] = json::array({{{"raw", 1}}, "raw"});
    out.push_back(j);
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::GetStorageStatus(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  const Storage* s = FindStorage(r.uri["storage"]);
  if (s == nullptr) return Result::Fail(500, "storage '" + r.uri["storage"] + "' does not exist");
  if (auto e =
          CheckPriv(r, "/storage/" + s->id, {"Datastore.Audit", "Datastore.AllocateSpace"}, true)) {
    return *e;
  }
  json j = StorageJson(r.uri["node"], *s);
  j.erase("storage");
  return Result::Ok(j);
}

Simulator::Result Simulator::GetStorageContent(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  const Storage* s = FindStorage(r.uri["storage"]);
  if (s == nullptr) return Result::Fail(500, "storage '" + r.uri["storage"] + "' does not exist");
  if (auto e =
          CheckPriv(r, "/storage/" + s->id, {"Datastore.Audit", "Datastore.AllocateSpace"}, true)) {
    return *e;
  }
  std::string content = r.Get("content");
  std::string vmid = r.Get("vmid");
  json out = json::array();
  for (const auto& [id, vm] : vms_) {
    if (vm.node != r.uri["node"]) continue;
    if (!vmid.empty() && std::to_string(id) != vmid) continue;
    for (const auto& [volid, v] : vm.volumes) {
      if (v.storage != s->id) continue;
      if (!content.empty() && v.content != content) continue;
      json j = {{"volid", volid}, {"content", v.content}, {"format", v.format},
                {"size", v.size}, {"vmid", id},           {"ctime", v.ctime}};
      size_t slash = v.name.find('/');
      if (slash != std::string::npos) j["parent"] = v.name.substr(0, slash) + "@__base__";
      out.push_back(j);
    }
  }
  return Result::Ok(out);
}

// ---------------------------------------------------------------------------
// Pools.

json Simulator::PoolMembers(const std::string& id, const std::string& type) const {
  json members = json::array();
  const Pool& p = pools_.at(id);
  if (type.empty() || type == "qemu") {
    for (int vmid : p.vms) {
      auto it = vms_.find(vmid);
      if (it == vms_.end()) continue;
      json j = VmResource(it->second, WallNow());
      members.push_back(j);
    }
  }
  if (type.empty() || type == "storage") {
    for (const auto& st : p.storage) {
      for (const auto& n : options_.nodes) {
        members.push_back({{"id", "storage/" + n + "/" + st},
                           {"type", "storage"},
                           {"storage", st},
                           {"node", n},
                           {"status", "available"}});
      }
    }
  }
  return members;
}

Simulator::Result Simulator::ListPools(Request& r) {
  json out = json::array();
  std::string only = r.Get("poolid");
  if (!only.empty() && !pools_.contains(only)) {
    return Result::Fail(500, "pool '" + only + "' does not exist");
  }
  for (const auto& [id, p] : pools_) {
    if (!only.empty() && id != only) continue;
    if (!auth_->HasPriv(r.who, "/pool/" + id, "Pool.Audit")) continue;
    json j = {{"poolid", id}};
    if (!p.comment.empty()) j["comment"] = p.comment;
    if (!only.empty()) j["members"] = PoolMembers(id, r.Get("type"));
    out.push_back(j);
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::CreatePool(Request& r) {
  std::string id = r.Get("poolid");
  if (auto e = CheckPriv(r, "/pool/" + id, {"Pool.Allocate"})) return *e;
  if (pools_.contains(id))
    return Result::Fail(500, "create pool failed: pool '" + id + "' already exists");
  pools_[id].comment = r.Get("comment");
  SaveCluster();
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::UpdatePool(Request& r) {
  std::string id = r.Get("poolid");
  if (auto e = CheckPriv(r, "/pool/" + id, {"Pool.Allocate"})) return *e;
  auto it = pools_.find(id);
  if (it == pools_.end()) return Result::Fail(500, "pool '" + id + "' does not exist");
  Pool& p = it->second;
  if (r.Has("comment")) p.comment = r.Get("comment");
  bool del = r.Bool("delete");
  for (const std::string& v : SplitList(r.Get("vms"))) {
    int vmid = std::atoi(v.c_str());
    if (del) {
      p.vms.erase(vmid);
      continue;
    }
    if (!vms_.contains(vmid)) return Result::Fail(500, "VM " + v + " does not exist");
    for (auto& [oid, other] : pools_) {
      if (oid != id && other.vms.contains(vmid)) {
        if (!r.Bool("allow-move")) {
          return Result::Fail(500, "VM " + v + " belongs already to pool '" + oid +
                                       "' and 'allow-move' is not set");
        }
        other.vms.erase(vmid);
      }
    }
    p.vms.insert(vmid);
  }
  for (const std::string& s : SplitList(r.Get("storage"))) {
    if (del) {
      p.storage.erase(s);
    } else {
      if (!FindStorage(s)) return Result::Fail(500, "storage '" + s + "' does not exist");
      p.storage.insert(s);
    }
  }
  SaveCluster();
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::DeletePool(Request& r) {
  std::string id = r.Get("poolid");
  if (auto e = CheckPriv(r, "/pool/" + id, {"Pool.Allocate"})) return *e;
  auto it = pools_.find(id);
  if (it == pools_.end())
    return Result::Fail(500, "delete pool failed: pool '" + id + "' does not exist");
  if (!it->second.vms.empty()) {
    return Result::Fail(500, "delete pool failed: pool '" + id + "' is not empty (contains VM " +
                                 std::to_string(*it->second.vms.begin()) + ")");
  }
  if (!it->second.storage.empty()) {
    return Result::Fail(500,
                        "delete pool failed: pool '" + id + "' is not empty (contains storage)");
  }
  pools_.erase(it);
  SaveCluster();
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::GetPool(Request& r) {
  std::string id = r.Get("poolid");
  if (auto e = CheckPriv(r, "/pool/" + id, {"Pool.Audit"})) return *e;
  auto it = pools_.find(id);
  if (it == pools_.end()) return Result::Fail(500, "pool '" + id + "' does not exist");
  json j = {{"members", PoolMembers(id, r.Get("type"))}};
  if (!it->second.comment.empty()) j["comment"] = it->second.comment;
  return Result::Ok(j);
}

}  // namespace pvek8s::pvesim
