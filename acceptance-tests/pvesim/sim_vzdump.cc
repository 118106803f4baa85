// Config locks that outlive a request: POST /nodes/{node}/vzdump (a backup
// task holding each VM's `backup` lock while it copies), and who may set or
// remove the `lock` option through PUT/POST config (qemu-server's
// update_vm_api: only root@pam, and a locked VM only with skiplock, which is
// how `qm unlock` is reached over the API).
#include <algorithm>

#include "acceptance-tests/pvesim/sim_internal.h"

namespace pvek8s::pvesim {
namespace {

// vzdump.conf's default when the request names no storage.
constexpr char kDefaultBackupStorage[] = "local";

// The parameters that PVE::API2::VZDump refuses to anyone but root@pam.
constexpr const char* kRootOnlyParams[] = {"tmpdir", "dumpdir", "script", "job-id"};

}  // namespace

std::optional<Simulator::Result> Simulator::CheckLockChange(Request& r, const Vm& vm,
                                                            bool sets_lock, bool deletes_lock) {
  if (!sets_lock && !deletes_lock) return std::nullopt;
  // check_vm_modify_config_perm: 'lock' falls through to the root-only case.
  if (r.who.TaskUser() != "root@pam") return Result::Fail(500, "only root can set 'lock' config");
  // check_lock runs before any change, also when the change is the lock.
  auto it = vm.conf.find("lock");
  if (it != vm.conf.end() && !r.Bool("skiplock")) {
    return Result::Fail(500, "VM is locked (" + it->second + ")");
  }
  return std::nullopt;
}

Simulator::Result Simulator::Vzdump(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  const std::string node = r.uri["node"];
  for (const char* k : kRootOnlyParams) {
    if (r.Has(k) && r.who.TaskUser() != "root@pam") {
      return Result::ParamError(k, "Only root may set this option.");
    }
  }
  if (r.Bool("all") || r.Has("pool") || r.Has("exclude")) {
    return Result::Fail(501, "pvesim: vzdump backs up the VMs listed in 'vmid' only");
  }
  std::vector<int> vmids;
  for (const std::string& id : SplitList(r.Get("vmid"))) vmids.push_back(std::atoi(id.c_str()));
  if (vmids.empty())
    return Result::ParamError("vmid", "property is missing and it is not optional");
  std::string storage = r.Get("storage", kDefaultBackupStorage);
  if (FindStorage(storage) == nullptr) {
    return Result::Fail(500, "storage '" + storage + "' does not exist");
  }
  if (auto e = CheckPriv(r, "/storage/" + storage, {"Datastore.AllocateSpace"})) return *e;
  for (int vmid : vmids) {
    const Vm* vm = FindVm(vmid);
    if (vm == nullptr || vm->node != node) return Result::Fail(500, NoConfigMessage(node, vmid));
    if (auto e = CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.Backup"})) return *e;
  }
  const std::string mode = r.Get("mode", "snapshot");
  Task& task = NewTask(node, "vzdump", vmids.size() == 1 ? std::to_string(vmids[0]) : "", r);
  const std::string upid = task.upid;
  VzdumpStep(upid, vmids, 0, mode);
  return Result::Ok(upid);
}

// VM `k` of the job: takes its `backup` lock, releases it `vzdump` seconds
// later and goes on with the next, so that the lock is gone before the task
// ends, as in Proxmox. Runs with the state mutex held.
void Simulator::VzdumpStep(const std::string& upid, const std::vector<int>& vmids, size_t k,
                           const std::string& mode) {
  Task& t = tasks_[upid];
  if (k == vmids.size()) {
    // Errors of single VMs do not stop the job; they fail it at the end.
    int errors = t.warnings;
    t.warnings = 0;
    if (errors == 0) t.log.emplace_back("INFO: Backup job finished successfully");
    FinishTask(t, errors == 0 ? "" : "job errors");
    return;
  }
  const int vmid = vmids[k];
  const std::string id = std::to_string(vmid);
  Vm* v = FindVm(vmid);
  t.log.push_back("INFO: Starting Backup of VM " + id + " (qemu)");
  if (v == nullptr || v->conf.contains("lock")) {
    t.log.push_back(
        "ERROR: Backup of VM " + id + " failed - " +
        (v == nullptr ? "unable to find VM " + id : "VM is locked (" + v->conf["lock"] + ")"));
    ++t.warnings;
    return VzdumpStep(upid, vmids, k + 1, mode);
  }
  v->conf["lock"] = "backup";
  // Mode stop shuts the guest down for the copy; snapshot and suspend keep
  // it running (a suspend backup pauses it only briefly).
  const bool restart = mode == "stop" && v->running;
  if (restart) v->running = false;
  t.log.push_back("INFO: Backup started (mode " + mode + ")");
  SaveVm(*v);
  scheduler_.Schedule(options_.timings.vzdump, [=, this] {
    if (Vm* w = FindVm(vmid)) {
      auto lock = w->conf.find("lock");
      if (lock != w->conf.end() && lock->second == "backup") w->conf.erase(lock);
      if (restart && !w->running) {
        w->running = true;
        w->started_at = WallNow();
      }
      SaveVm(*w);
    }
    tasks_[upid].log.push_back("INFO: Finished Backup of VM " + id);
    VzdumpStep(upid, vmids, k + 1, mode);
  });
}

}  // namespace pvek8s::pvesim
