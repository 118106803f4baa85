// VM configuration: config GET/PUT/POST, pending, cloud-init, resize.
#include <algorithm>
#include <chrono>
#include <thread>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"
#include "provider/base/encoding.h"

namespace pvek8s::pvesim {

using nlohmann::json;

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

// The VM.Config.* privilege that setting option `k` to `v` needs.
std::string ConfigPrivilege(const std::string& k, const std::string& v) {
  if (IsCloudinitKey(k)) return "VM.Config.Cloudinit";
  if (IsDiskKey(k) || k.starts_with("unused")) {
    return PropertyValue(v, "media") == "cdrom" ? "VM.Config.CDROM" : "VM.Config.Disk";
  }
  if (k.starts_with("net")) return "VM.Config.Network";
  if (k == "cores" || k == "sockets" || k == "cpu" || k == "vcpus" || k == "cpulimit" ||
      k == "cpuunits" || k == "numa" || k == "affinity") {
    return "VM.Config.CPU";
  }
  if (k == "memory" || k == "balloon" || k == "shares") return "VM.Config.Memory";
  if (k == "scsihw" || k == "bios" || k == "machine" || k == "vga" || k.starts_with("serial") ||
      k == "ostype" || k == "tablet" || k == "kvm" || k == "acpi") {
    return "VM.Config.HWType";
  }
  return "VM.Config.Options";
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
  if (auto e = CheckConfigPrivs(r, vmid, sets, !deletes.empty() || !reverts.empty())) return e;
  if (r.Has("digest") && r.Get("digest") != ConfigDigest(*vm)) {
    return Result::Fail(500, "checksum mismatch (file change by other user?)");
  }
  bool lock_deleted = std::find(deletes.begin(), deletes.end(), "lock") != deletes.end();
  if (auto e = CheckLockChange(r, *vm, sets.contains("lock"), lock_deleted)) return e;
  if (vm->conf.contains("lock") && !r.Bool("skiplock")) {
    return Result::Fail(500, "VM is locked (" + vm->conf["lock"] + ")");
  }
  if (auto e = PrepareConfigValues(vm, &sets)) return e;
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

// Each option needs its VM.Config.* privilege; deleting or reverting needs any.
std::optional<Simulator::Result> Simulator::CheckConfigPrivs(
    Request& r, int vmid, const std::map<std::string, std::string>& sets, bool removes) {
  std::string path = "/vms/" + std::to_string(vmid);
  for (const auto& [k, v] : sets) {
    if (auto e = CheckPriv(r, path, {ConfigPrivilege(k, v)})) return e;
  }
  if (!removes) return std::nullopt;
  return CheckPriv(
      r, path,
      {"VM.Config.Disk", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Memory",
       "VM.Config.Network", "VM.Config.HWType", "VM.Config.Options", "VM.Config.Cloudinit"},
      true);
}

// Values as PVE stores them: validated SSH keys, normalized tags, hashed
// passwords, NICs with a MAC, disks allocated or with their size.
std::optional<Simulator::Result> Simulator::PrepareConfigValues(
    Vm* vm, std::map<std::string, std::string>* sets) {
  for (auto& [k, v] : *sets) {
    if (k == "sshkeys" && !ValidSshKeys(v)) {
      return Result::Fail(500, "SSH public key validation error");
    }
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
  auto start = locks_.Reserve(VmLockPath(vmid), r.now, 0, options_.timings.vm_lock_timeout, true);
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
    scheduler_.Schedule(options_.timings.config,
                        [this, upid, error] { FinishTask(tasks_[upid], error); });
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
                     : locks_.Reserve(VmLockPath(vmid), r.now, options_.timings.resize,
                                      options_.timings.vm_lock_timeout, true);
  std::string disk = r.Get("disk");
  std::string size = r.Get("size");
  std::string digest = r.Get("digest");
  bool skiplock = r.Bool("skiplock");
  double delay = start ? *start - r.now + options_.timings.resize
                       : (fault ? 0 : options_.timings.vm_lock_timeout);
  scheduler_.Schedule(delay, [=, this] {
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
    if (v->running) t.log.emplace_back("  Image resized (online).");
    SaveVm(*v);
    FinishTask(t, "");
  });
  return Result::Ok(upid);
}

}  // namespace pvek8s::pvesim
