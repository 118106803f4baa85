// Clone and migrate: the two operations that copy a VM's disks.
#include <algorithm>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"

namespace pvek8s::pvesim {

using nlohmann::json;

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
    auto s1 = locks_.Reserve(VmLockPath(vmid), t, total, tm.clone_lock_timeout, src->running);
    // The new VM's flock is only held while its temporary config is written;
    // afterwards the `lock: clone` property protects it.
    auto s2 = s1 ? locks_.Reserve(VmLockPath(newid), t, 0, tm.clone_lock_timeout, true) : s1;
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
        auto s = locks_.Reserve(StorageLockPath(st) + "@" + target, t, hold,
                                tm.storage_lock_timeout, true);
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
  scheduler_.Schedule(t - r.now, [=, this] {
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
  scheduler_.Schedule(duration, [=, this] {
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

}  // namespace pvek8s::pvesim
