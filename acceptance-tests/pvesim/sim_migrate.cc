// Migration (qm migrate): migrate_vm's synchronous checks in Proxmox's order,
// the qmigrate task (lock, disk scan, copy, config move, unlock) and the HA
// branch, which only queues a request for the CRM.
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"

namespace pvek8s::pvesim {

using nlohmann::json;

namespace {

// AbstractMigrate's "(duration HH:MM:SS)".
std::string Hms(double seconds) {
  auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

// Devices that tie a VM to its node (hostpci, USB from the host, a serial or
// parallel port on a host device); QemuServer's check_local_resources.
bool IsLocalResource(const std::string& key, const std::string& value) {
  if (HasIndexedPrefix(key, "hostpci") || HasIndexedPrefix(key, "parallel")) return true;
  if (HasIndexedPrefix(key, "usb")) return value.find("host=") != std::string::npos;
  if (HasIndexedPrefix(key, "serial")) return value != "socket";
  return false;
}

bool IsVolumeKey(const std::string& key) {
  return IsDiskKey(key) || HasIndexedPrefix(key, "unused");
}

}  // namespace

Simulator::Task& Simulator::NewSystemTask(const std::string& node, const std::string& type,
                                          const std::string& id, const std::string& user) {
  Request fake;
  size_t bang = user.find('!');
  fake.who.userid = user.substr(0, bang);
  if (bang != std::string::npos) fake.who.tokenid = user.substr(bang + 1);
  fake.now = WallNow();
  return NewTask(node, type, id, fake);
}

Simulator::Result Simulator::GetMigrate(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  int vmid = VmidOf(r);
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.Migrate"})) return *e;
  Vm* vm = FindVm(vmid);
  if (vm == nullptr || vm->node != r.uri["node"]) {
    return Result::Fail(500, NoConfigMessage(r.uri["node"], vmid));
  }
  if (vm->conf.contains("lock"))
    return Result::Fail(500, "VM is locked (" + vm->conf["lock"] + ")");
  json local_disks = json::array();
  json local_resources = json::array();
  for (const auto& [k, v] : vm->conf) {
    if (IsLocalResource(k, v)) local_resources.push_back(k);
    if (!IsVolumeKey(k) || PropertyValue(v, "media") == "cdrom") continue;
    std::string spec = FirstPart(v);
    const Storage* st = FindStorage(spec.substr(0, spec.find(':')));
    if (st == nullptr || st->shared) continue;
    auto vol = vm->volumes.find(spec);
    int64_t size = vol != vm->volumes.end() ? vol->second.size
                                            : ParseSize(PropertyValue(v, "size")).value_or(0);
    bool unused = HasIndexedPrefix(k, "unused");
    json d = {{"volid", spec}, {"size", size}, {"is_unused", unused ? 1 : 0}, {"cdrom", 0}};
    if (!unused) d["drivename"] = k;
    local_disks.push_back(d);
  }
  // Every other member is a candidate; Proxmox does not ask whether it is up.
  json allowed = json::array();
  for (const auto& n : options_.nodes) {
    if (n != vm->node) allowed.push_back(n);
  }
  json out = {{"running", vm->running ? 1 : 0},        {"allowed_nodes", allowed},
              {"not_allowed_nodes", json::object()},   {"local_disks", local_disks},
              {"local_resources", local_resources},    {"mapped-resources", json::array()},
              {"mapped-resource-info", json::object()}};
  if (Pve9()) {
    out["has-dbus-vmstate"] = 0;
    out["dependent-ha-resources"] = json::array();
  }
  return Result::Ok(out);
}

// targetstorage: "ID" maps every local disk, "SRC:DST,..." maps pairs, "1"
// keeps each disk's storage; a storage other than the source's needs
// VM.Config.Disk and Datastore.AllocateSpace on it.
std::optional<Simulator::Result> Simulator::CheckMigrateTargetStorage(Request& r, const Vm& vm,
                                                                      MigrationPlan* p) {
  for (const std::string& pair : SplitList(r.Get("targetstorage"))) {
    size_t colon = pair.find(':');
    if (colon == std::string::npos) {
      if (pair != "1") p->default_storage = pair;
    } else {
      p->storage_map[pair.substr(0, colon)] = pair.substr(colon + 1);
    }
  }
  std::vector<std::string> targets;
  for (const auto& [src, dst] : p->storage_map) {
    if (src != dst) targets.push_back(dst);
  }
  if (!p->default_storage.empty()) targets.push_back(p->default_storage);
  for (const std::string& st : targets) {
    if (FindStorage(st) == nullptr) {
      return Result::Fail(500, "storage '" + st + "' does not exist");
    }
    if (auto e = CheckPriv(r, "/vms/" + std::to_string(vm.vmid), {"VM.Config.Disk"})) return e;
    if (auto e = CheckPriv(r, "/storage/" + st, {"Datastore.AllocateSpace"})) return e;
  }
  return std::nullopt;
}

Simulator::Result Simulator::Migrate(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  const std::string node = r.uri["node"];
  int vmid = VmidOf(r);
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.Migrate"})) return *e;
  MigrationPlan p;
  p.vmid = vmid;
  p.source = node;
  p.target = r.Get("target");
  if (p.target == node) return Result::ParamError("target", "target is local node.");
  if (!NodeExists(p.target)) return Result::Fail(500, "no such cluster node '" + p.target + "'");
  for (const char* k : {"force", "migration_type", "migration_network"}) {
    if (r.Has(k) && r.who.TaskUser() != "root@pam") {
      return Result::ParamError(k, "Only root may use this option.");
    }
  }
  Vm* vm = FindVm(vmid);
  if (vm == nullptr || vm->node != node) return Result::Fail(500, NoConfigMessage(node, vmid));
  if (vm->conf.contains("lock"))
    return Result::Fail(500, "VM is locked (" + vm->conf["lock"] + ")");
  if (vm->running && !r.Bool("online")) {
    return Result::Fail(500, "can't migrate running VM without --online");
  }
  // A stopped VM's `online` is dropped with a warning (on the API's stderr).
  p.online = vm->running;
  p.with_local_disks = r.Bool("with-local-disks");
  p.force = r.Bool("force");
  if (auto e = CheckMigrateTargetStorage(r, *vm, &p)) return *e;
  if (HaManaged(vmid)) {
    // PVE::API2::Qemu hands HA guests to the CRM: the task only queues it.
    Task& t = NewTask(node, "hamigrate", std::to_string(vmid), r);
    t.log.push_back("Requesting HA migration for VM " + std::to_string(vmid) + " to node " +
                    p.target);
    std::string upid = t.upid;
    FinishTask(t, "");
    QueueHaMigration(vmid, p.target);
    return Result::Ok(upid);
  }
  return Result::Ok(StartMigration(p, r.who.TaskUser()));
}

// What phase 1 refuses, as QemuMigrate logs it; empty when the move can go on.
std::vector<std::string> Simulator::MigrationBlockers(const Vm& vm, bool online,
                                                      bool with_local_disks) {
  std::vector<std::string> out;
  bool attached_local = false;
  for (const auto& [k, v] : vm.conf) {
    if (!IsVolumeKey(k) || PropertyValue(v, "media") == "cdrom") continue;
    std::string spec = FirstPart(v);
    const Storage* st = FindStorage(spec.substr(0, spec.find(':')));
    if (st == nullptr || st->shared) continue;
    size_t slash = spec.find('/');
    if (slash != std::string::npos) {
      std::string base = spec.substr(spec.find(':') + 1);
      base = base.substr(0, base.find('/'));
      out.push_back("can't migrate '" + spec + "' as it's a clone of '" + base + "'");
    }
    if (!HasIndexedPrefix(k, "unused")) attached_local = true;
  }
  if (online && attached_local && !with_local_disks) {
    out.emplace_back("can't live migrate attached local disks without with-local-disks option");
  }
  return out;
}

// Forks the qmigrate worker on the source node; returns its UPID.
std::string Simulator::StartMigration(MigrationPlan p, const std::string& user) {
  const Timings& tm = options_.timings;
  Vm* vm = FindVm(p.vmid);
  Task& t = NewSystemTask(p.source, "qmigrate", std::to_string(p.vmid), user);
  p.upid = t.upid;
  p.started = WallNow();
  t.log.push_back("starting migration of VM " + std::to_string(p.vmid) + " to node '" + p.target +
                  "'");
  std::string local_devices;
  for (const auto& [k, v] : vm->conf) {
    if (IsLocalResource(k, v)) local_devices += (local_devices.empty() ? "" : ", ") + k;
  }
  if (!local_devices.empty() && !p.force) {
    FinishTask(t, "can't migrate VM which uses local devices: " + local_devices);
    return p.upid;
  }
  if (!NodeOnline(p.target)) {
    // prepare()'s SSH test; a powered-off member is still a member.
    t.log.emplace_back(
        "ERROR: migration aborted (duration 00:00:00): Can't connect to destination "
        "address using public key");
    FinishTask(t, "migration aborted");
    return p.upid;
  }
  vm->conf["lock"] = "migrate";
  SaveVm(*vm);
  std::vector<std::string> blockers = MigrationBlockers(*vm, p.online, p.with_local_disks);
  double gib = 0;
  for (const auto& [volid, v] : vm->volumes) {
    const Storage* st = FindStorage(v.storage);
    if (st != nullptr && !st->shared) gib += static_cast<double>(v.size) / 1073741824.0;
  }
  if (p.online) {
    gib += static_cast<double>(
               MemoryBytes(vm->conf.contains("memory") ? vm->conf["memory"] : "2048")) /
           1073741824.0;
  }
  double duration = blockers.empty() ? tm.migrate + gib * tm.migrate_per_gib : tm.migrate / 4;
  double unlock = std::min(1.0, duration / 10);
  scheduler_.Schedule(duration, [this, p, blockers] {
    if (!blockers.empty()) {
      Task& tk = tasks_[p.upid];
      for (const auto& b : blockers) tk.log.push_back("ERROR: " + b);
      tk.log.push_back("ERROR: migration aborted (duration " + Hms(WallNow() - p.started) +
                       "): can't migrate VM - check log");
      Vm* v = FindVm(p.vmid);
      if (v != nullptr && v->conf.contains("lock") && v->conf.at("lock") == "migrate") {
        v->conf.erase("lock");
        SaveVm(*v);
      }
      return FinishTask(tk, "migration aborted");
    }
    MoveMigratedConfig(p);
  });
  if (!blockers.empty()) return p.upid;
  // `qm unlock` on the target comes last: clients wait for node = target and no lock.
  scheduler_.Schedule(duration + unlock, [this, p] {
    Task& tk = tasks_[p.upid];
    if (!tk.running) return;
    Vm* v = FindVm(p.vmid);
    if (v != nullptr && v->conf.contains("lock") && v->conf["lock"] == "migrate") {
      v->conf.erase("lock");
      SaveVm(*v);
    }
    tk.log.push_back("migration finished successfully (duration " + Hms(WallNow() - p.started) +
                     ")");
    FinishTask(tk, "");
  });
  return p.upid;
}

// Copies the local disks, moves the config file to the target and, online,
// hands the guest over to the QEMU process that was started there.
void Simulator::MoveMigratedConfig(const MigrationPlan& p) {
  Task& t = tasks_[p.upid];
  Vm* v = FindVm(p.vmid);
  if (v == nullptr || v->node != p.source) return FinishTask(t, NoConfigMessage(p.source, p.vmid));
  if (!NodeOnline(p.target) || !NodeOnline(p.source)) {
    t.log.push_back("ERROR: migration aborted (duration " + Hms(WallNow() - p.started) +
                    "): lost connection to node '" + p.target + "'");
    v->conf.erase("lock");
    SaveVm(*v);
    return FinishTask(t, "migration aborted");
  }
  std::map<std::string, Volume> moved;
  for (auto& [k, val] : v->conf) {
    if (!IsVolumeKey(k)) continue;
    std::string spec = FirstPart(val);
    auto it = v->volumes.find(spec);
    if (it == v->volumes.end()) continue;
    const Storage* st = FindStorage(it->second.storage);
    if (st != nullptr && st->shared) continue;
    Volume vol = it->second;
    vol.storage = p.storage_map.contains(vol.storage) ? p.storage_map.at(vol.storage)
                  : p.default_storage.empty()         ? vol.storage
                                                      : p.default_storage;
    t.log.push_back("found local disk '" + spec + "' (attached)");
    t.log.push_back("copying local disk '" + spec + "' to '" + vol.volid() + "'");
    val = vol.volid() + val.substr(spec.size());
    v->volumes.erase(it);
    moved[vol.volid()] = vol;
  }
  for (auto& [volid, vol] : moved) v->volumes[volid] = vol;
  if (p.online && v->running) {
    t.log.push_back("starting VM " + std::to_string(p.vmid) + " on remote node '" + p.target + "'");
    t.log.emplace_back("migration status: completed");
    v->started_at = WallNow();  // The target's QEMU process: new pid, uptime from 0.
  }
  v->node = p.target;
  RecordHistory(*v);
  SaveVm(*v);
}

}  // namespace pvek8s::pvesim
