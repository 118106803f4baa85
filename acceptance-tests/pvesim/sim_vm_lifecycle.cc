// VM lifecycle: list, create, index, delete, convert to template.
#include <cstdlib>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"

namespace pvek8s::pvesim {

using nlohmann::json;

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
    if (vm.running) j["pid"] = QemuPid(id, vm.started_at);
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
  scheduler_.Schedule(options_.timings.create, [this, vmid, upid, start, fault] {
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
  auto start = locks_.Reserve(VmLockPath(vmid), r.now, options_.timings.destroy,
                              options_.timings.vm_lock_timeout, true);
  if (!start) {
    scheduler_.Schedule(options_.timings.vm_lock_timeout, [this, upid, vmid] {
      FinishTask(tasks_[upid], LockTimeoutMessage(VmLockPath(vmid)));
    });
    return Result::Ok(upid);
  }
  vm->conf["lock"] = "destroyed";
  SaveVm(*vm);
  scheduler_.Schedule(*start - r.now + options_.timings.destroy, [this, upid, vmid] {
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

}  // namespace pvek8s::pvesim
