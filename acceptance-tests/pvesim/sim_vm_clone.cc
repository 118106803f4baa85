// Clone: copies of a VM or template, full or linked.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"

namespace pvek8s::pvesim {

using nlohmann::json;

// ---------------------------------------------------------------------------
// Clone.

// What a clone request asked for, carried to its deferred completion.
struct Simulator::ClonePlan {
  int vmid = 0;
  int newid = 0;
  std::string node;  // The source's node; the task runs there.
  std::string target;
  std::string pool;
  std::string storage;  // Full clones: where every disk goes ("" = where it is).
  bool full = false;
  std::string name;
  std::string description;
  bool has_description = false;
  std::vector<std::pair<std::string, std::string>> disks;  // The source's disk keys, values.
  std::string upid;
  std::string error;  // The lock timeout the clone fails with, if any.
};

Simulator::Result Simulator::Clone(Request& r) {
  Vm* src = nullptr;
  if (auto e = LoadVm(r, &src)) return *e;
  ClonePlan p;
  p.vmid = src->vmid;
  p.newid = VmidOf(r, "newid");
  p.node = src->node;
  p.target = r.Get("target", p.node);
  p.pool = r.Get("pool");
  p.storage = r.Get("storage");
  bool is_template = src->conf.contains("template") && src->conf["template"] == "1";
  p.full = r.Has("full") ? r.Bool("full") : !is_template;
  if (auto e = CheckClone(r, *src, p)) return *e;

  // The temporary config that reserves newid ("# qmclone temporary file").
  Vm fresh;
  fresh.vmid = p.newid;
  fresh.node = p.node;
  fresh.conf["lock"] = "clone";
  fresh.creating = true;
  vms_[p.newid] = fresh;
  SaveVm(vms_[p.newid]);
  Task& task = NewTask(p.node, "qmclone", std::to_string(p.vmid), r);
  p.upid = task.upid;
  for (const auto& [k, v] : src->conf) {
    if (IsDiskKey(k)) p.disks.emplace_back(k, v);
  }
  double done = PlanCloneLocks(r, *src, &p);
  p.name = r.Get("name");
  p.description = r.Get("description");
  p.has_description = r.Has("description");
  scheduler_.Schedule(done - r.now, [this, p] { CompleteClone(p); });
  return Result::Ok(p.upid);
}

// The checks PVE makes before it forks the clone worker, in its order.
std::optional<Simulator::Result> Simulator::CheckClone(Request& r, const Vm& src,
                                                       const ClonePlan& p) {
  const std::string newid = std::to_string(p.newid);
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(p.vmid), {"VM.Clone"})) return e;
  if (!p.pool.empty() && !pools_.contains(p.pool)) {
    return Result::Fail(403, "Permission check failed (pool '" + p.pool + "' does not exist)");
  }
  if (!auth_->HasPriv(r.who, "/vms/" + newid, "VM.Allocate") &&
      (p.pool.empty() || !auth_->HasPriv(r.who, "/pool/" + p.pool, "VM.Allocate"))) {
    return Result::Fail(403, "Permission check failed (/vms/" + newid + ", VM.Allocate)");
  }
  if (!NodeExists(p.target)) {
    return Result::ParamError("target", "no such cluster node '" + p.target + "'");
  }
  if (!p.full && r.Has("storage")) {
    return Result::ParamError("storage", "parameter 'storage' not allowed for linked clones");
  }
  if (!p.full && r.Has("format")) {
    return Result::ParamError("format", "parameter 'format' not allowed for linked clones");
  }
  if (!p.storage.empty()) {
    const Storage* st = FindStorage(p.storage);
    if (st == nullptr) return Result::Fail(500, "storage '" + p.storage + "' does not exist");
    if (st->content.find("images") == std::string::npos) {
      return Result::ParamError("storage",
                                "storage '" + p.storage + "' does not support vm images");
    }
    if (auto e = CheckPriv(r, "/storage/" + p.storage, {"Datastore.AllocateSpace"})) return e;
  }
  if (src.conf.contains("lock")) {
    return Result::Fail(500, "VM is locked (" + src.conf.at("lock") + ")");
  }
  if (p.target != p.node) {
    // Every disk must end up on a storage the target node can reach.
    for (const auto& [k, v] : src.conf) {
      if (!IsDiskKey(k)) continue;
      std::string spec = FirstPart(v);
      std::string dest = p.full && !p.storage.empty() ? p.storage : spec.substr(0, spec.find(':'));
      const Storage* st = FindStorage(dest);
      if (st != nullptr && !st->shared) {
        return Result::Fail(500,
                            "can't clone VM to node '" + p.target + "' (VM uses local storage)");
      }
    }
  }
  if (vms_.contains(p.newid)) {
    return Result::Fail(500, "unable to create VM " + newid + ": config file already exists");
  }
  if (p.full) return std::nullopt;
  for (const auto& [k, v] : src.conf) {
    if (!IsDiskKey(k) || PropertyValue(v, "media") == "cdrom") continue;
    std::string spec = FirstPart(v);
    if (spec.find(":base-") == std::string::npos) {
      return Result::Fail(500,
                          "Linked clone feature is not supported for '" + spec + "' (" + k + ")");
    }
  }
  return std::nullopt;
}

// The clone's timeline: both config locks, then per-disk storage locks held
// for the copy. Returns when the clone ends; sets p->error if it will fail.
double Simulator::PlanCloneLocks(const Request& r, const Vm& src, ClonePlan* p) {
  const Timings& tm = options_.timings;
  double t = r.now;
  if (FaultFires(FaultSpec::Kind::kLockTimeout, "clone", "")) {
    std::string st = p->storage.empty() ? "local-lvm" : p->storage;
    p->error = "clone failed: " + LockTimeoutMessage(StorageLockPath(st));
    return t + (tm.clone_base > 0 ? tm.clone_lock_timeout : 0);
  }
  auto hold_of = [&](const std::string& value) {
    double gib =
        static_cast<double>(ParseSize(PropertyValue(value, "size")).value_or(0)) / 1073741824.0;
    return p->full ? gib * tm.clone_per_gib : tm.linked_clone;
  };
  double total = tm.clone_base;
  for (const auto& [k, v] : p->disks) {
    if (PropertyValue(v, "media") != "cdrom") total += hold_of(v);
  }
  auto s1 = locks_.Reserve(VmLockPath(p->vmid), t, total, tm.clone_lock_timeout, src.running);
  // The new VM's flock is only held while its temporary config is written;
  // afterwards the `lock: clone` property protects it.
  auto s2 = s1 ? locks_.Reserve(VmLockPath(p->newid), t, 0, tm.clone_lock_timeout, true) : s1;
  if (!s1 || !s2) {
    p->error = LockTimeoutMessage(VmLockPath(s1 ? p->newid : p->vmid));
    return t + tm.clone_lock_timeout;
  }
  t = std::max(*s1, *s2) + tm.clone_base;
  for (const auto& [k, v] : p->disks) {
    if (PropertyValue(v, "media") == "cdrom") continue;
    std::string spec = FirstPart(v);
    std::string st = p->full && !p->storage.empty() ? p->storage : spec.substr(0, spec.find(':'));
    double hold = hold_of(v);
    auto s = locks_.Reserve(StorageLockPath(st) + "@" + p->target, t, hold, tm.storage_lock_timeout,
                            true);
    if (!s) {
      const Storage* sto = FindStorage(st);
      p->error = sto != nullptr && sto->shared
                     ? "clone failed: cfs-lock 'storage-" + st + "' error: got lock request timeout"
                     : "clone failed: " + LockTimeoutMessage(StorageLockPath(st));
      return t + tm.storage_lock_timeout;
    }
    t = *s + hold;
  }
  return t;
}

void Simulator::CompleteClone(const ClonePlan& p) {
  Task& tk = tasks_[p.upid];
  Vm* s = FindVm(p.vmid);
  Vm* n = FindVm(p.newid);
  if (n == nullptr) {
    return FinishTask(tk, "clone failed: VM " + std::to_string(p.newid) + " vanished");
  }
  if (!p.error.empty() || s == nullptr) {
    vms_.erase(p.newid);
    RemoveVmFile(p.newid);
    return FinishTask(tk, p.error.empty() ? NoConfigMessage(p.node, p.vmid) : p.error);
  }
  CopyCloneConfig(p, *s, *n);
  CopyCloneDisks(p, *s, *n, tk);
  n->node = p.target;
  n->creating = false;
  if (!p.pool.empty()) {
    pools_[p.pool].vms.insert(p.newid);
    SaveCluster();
  }
  RecordHistory(*n);
  SaveVm(*n);
  FinishTask(tk, "");
}

// The source's options with fresh identities (MACs, SMBIOS UUID, vmgenid).
void Simulator::CopyCloneConfig(const ClonePlan& p, const Vm& src, Vm& nv) {
  for (const auto& [k, v] : src.conf) {
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
  nv.conf["meta"] = "creation-qemu=8.1.5,ctime=" + std::to_string(static_cast<int64_t>(WallNow()));
  nv.conf["name"] = p.name.empty()
                        ? "Copy-of-VM-" + (src.conf.contains("name") ? src.conf.at("name")
                                                                     : std::to_string(p.vmid))
                        : p.name;
  if (p.has_description) nv.conf["description"] = p.description;
}

// New volumes for the clone: full copies, or linked clones of the base
// volumes, and always a fresh cloud-init drive.
void Simulator::CopyCloneDisks(const ClonePlan& p, const Vm& src, Vm& nv, Task& tk) {
  for (const auto& [k, v] : p.disks) {
    std::string spec = FirstPart(v);
    std::string st = spec.substr(0, spec.find(':'));
    std::string rest = v.substr(spec.size());
    std::string dst = p.full && !p.storage.empty() ? p.storage : st;
    auto it = src.volumes.find(spec);
    if (spec.find("cloudinit") != std::string::npos) {
      Volume vol{dst,
                 "vm-" + std::to_string(p.newid) + "-cloudinit",
                 4LL << 20,
                 "raw",
                 "images",
                 p.newid,
                 static_cast<int64_t>(WallNow())};
      nv.volumes[vol.volid()] = vol;
      nv.conf[k] = vol.volid() + ",media=cdrom";
      continue;
    }
    if (PropertyValue(v, "media") == "cdrom" || it == src.volumes.end()) continue;
    Volume vol{dst,     NextDiskName(nv, dst, p.newid), it->second.size, "raw", "images",
               p.newid, static_cast<int64_t>(WallNow())};
    if (p.full) {
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
}

}  // namespace pvek8s::pvesim
