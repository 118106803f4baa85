// The simulated Proxmox VE cluster behind pvesim's HTTPS API: nodes, storages,
// VMs with pending changes, tasks with real UPIDs, locks, the guest agent and
// /cluster/resources lag, persisted as JSON files in a data directory.
#ifndef ACCEPTANCE_TESTS_PVESIM_SIM_H_
#define ACCEPTANCE_TESTS_PVESIM_SIM_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "acceptance-tests/pvesim/auth.h"
#include "acceptance-tests/pvesim/faults.h"
#include "acceptance-tests/pvesim/http_server.h"
#include "acceptance-tests/pvesim/params.h"
#include "acceptance-tests/pvesim/scheduler.h"
#include "provider/base/status.h"

namespace pvek8s::pvesim {

// Durations in seconds. "fast" is all zeros (tasks finish before their UPID is
// returned); "realistic" is documented in README.md.
struct Timings {
  double clone_base = 0;     // Every clone.
  double clone_per_gib = 0;  // Full clones: per GiB of disk copied (holds the storage lock).
  double linked_clone = 0;   // Linked clones: per disk.
  double create = 0;
  double start = 0;
  double stop = 0;
  double shutdown = 0;
  double reboot = 0;
  double destroy = 0;
  double resize = 0;
  double config = 0;              // POST config (async).
  double agent = 0;               // Guest agent answers this long after start.
  double resources_lag = 0;       // /cluster/resources name/status lag.
  double auth_fail_delay = 0;     // Delay of every 401 (real Proxmox: 3 s).
  double vm_lock_timeout = 10;    // lock_config for config, power, resize, destroy.
  double clone_lock_timeout = 1;  // Clone's source and target locks.
  double storage_lock_timeout = 10;
  double vzdump = 0;           // A backup (POST vzdump): how long each VM holds `backup`.
  double migrate = 0;          // Every qmigrate task (phase 1, SSH, start on the target).
  double migrate_per_gib = 0;  // Per GiB copied: local disks, and the RAM of an online move.
  double ha_delay = 0;         // HA: a queued CRM command (migrate, maintenance) starts this late.
  double ha_fence = 0;         // HA: a node down this long is fenced and its VMs recovered.

  static std::optional<Timings> ForProfile(std::string_view name);
  // Sets one field by name (the names above, without suffixes: "clone_base", ...).
  bool Set(std::string_view name, double value);
};

// An extra storage beside the default local (dir) and local-lvm (lvmthin).
struct StorageSpec {
  std::string id;
  std::string type;     // e.g. rbd, nfs, lvmthin
  std::string content;  // e.g. images,rootdir
  bool shared = false;  // Shared storages let clones target other nodes.
};

// "ID:TYPE:CONTENT[:shared]", e.g. "ceph:rbd:images,rootdir:shared".
StatusOr<StorageSpec> ParseStorageSpec(std::string_view spec);

struct SimOptions {
  std::string data_dir;
  std::vector<StorageSpec> storages;
  std::vector<std::string> nodes = {"pve1", "pve2", "pve3"};
  AuthConfig auth;
  Timings timings;
  std::vector<FaultSpec> faults;
  uint64_t seed = 0;
  bool seed_given = false;
  std::string dhcp_cidr = "10.99.0.0/16";
  bool legacy_errors = false;  // Omit "message" from error bodies (PVE < 8.3).
  // One stderr line per request (method, path, status, who, CSRF) and per
  // issued ticket, so tests can count calls; never a secret.
  bool log_requests = false;
  std::string ssl_fingerprint;  // Reported by GET /nodes (the server certificate's).
  // What /version reports; its major release (8 or 9) decides privileges,
  // built-in roles and the 9.x-only parameters.
  std::string version = "9.1.1";
  std::string release = "9.1";
  int pve_major = 9;  // Set from `version` by Create.
};

class Simulator {
 public:
  // Loads the state from options.data_dir (seeding templates on first start).
  static StatusOr<std::unique_ptr<Simulator>> Create(SimOptions options);
  ~Simulator();

  // Answers one HTTP request. Thread-safe.
  HttpResponse Handle(const HttpRequest& request);

  // Stops background task processing; state is already on disk.
  void Shutdown();

  // Implementation details, defined in sim_internal.h.
  struct Request;
  struct Result;

 private:
  struct Volume {
    std::string storage;
    std::string name;  // e.g. vm-101-disk-0, base-9000-disk-0/vm-101-disk-0
    int64_t size = 0;  // bytes
    std::string format = "raw";
    std::string content = "images";
    int vmid = 0;
    int64_t ctime = 0;
    std::string volid() const { return storage + ":" + name; }
  };
  struct Snapshot {  // What pvestatd last saw (for /cluster/resources lag).
    double at = 0;
    std::string name;
    std::string status;
    int tmpl = 0;
  };
  struct Vm {
    int vmid = 0;
    std::string node;
    std::map<std::string, std::string> conf;
    std::map<std::string, std::string> pending;
    std::set<std::string> pending_delete;
    std::map<std::string, std::string> cloudinit;  // Values in the generated ISO.
    bool cloudinit_generated = false;
    bool running = false;
    double started_at = 0;  // wall clock
    std::string dhcp_ip;
    std::map<std::string, Volume> volumes;  // volid -> volume, owned by this VM
    std::vector<Snapshot> history;
    bool creating = false;  // Temporary config of a clone/create in progress.
    // The guest's boot (its /proc/sys/kernel/random/boot_id): new for every
    // start, reboot or HA recovery, kept by a live migration.
    std::string boot_id;
  };
  struct Task {
    std::string upid;
    std::string node;
    std::string type;
    std::string id;
    std::string user;  // user@realm[!token]
    uint32_t pid = 0;
    uint32_t pstart = 0;
    int64_t starttime = 0;
    bool running = true;
    int64_t endtime = 0;
    std::string exitstatus;
    std::vector<std::string> log;
    int warnings = 0;
  };
  struct Pool {
    std::string comment;
    std::set<int> vms;
    std::set<std::string> storage;
  };
  struct Storage {
    std::string id;
    std::string type;
    std::string content;
    int64_t total = 0;
    bool shared = false;
  };
  using Handler = Result (Simulator::*)(Request&);

  explicit Simulator(SimOptions options);
  void RegisterRoutes();

  // Persistence (sim_persist.cc).
  Status Load();
  void LoadCluster(nlohmann::json& j);
  bool ParseVmFile(nlohmann::json& j, Vm* vm);
  Status Seed();
  void SaveVm(const Vm& vm);
  void RemoveVmFile(int vmid);
  void SaveCluster();

  // The request path (sim_dispatch.cc).
  HttpResponse Dispatch(const HttpRequest& request);
  HttpResponse Respond(const HttpRequest& http, Request& r);
  void LogRequest(const HttpRequest& http, const Request& r, const HttpResponse& resp) const;
  std::optional<HttpResponse> AuthFailure(const HttpRequest& http, Request& r);
  Result Process(Request& r);
  HttpResponse Render(const Result& result) const;
  Result Route(Request& r);

  // Handlers, one group per file; each runs with mu_ held (it may release it
  // only to wait for a simulated lock) and answers like PVE 8.4.
  // sim_cluster.cc
  Result GetVersion(Request& r);
  Result GetNodes(Request& r);
  Result GetNode(Request& r);
  Result GetNodeStatus(Request& r);
  Result GetClusterResources(Request& r);
  Result GetNextId(Request& r);
  Result GetHaResource(Request& r);
  // sim_access.cc
  Result GetDomains(Request& r);
  Result GetPermissions(Request& r);
  Result GetTicket(Request& r);
  Result PostTicket(Request& r);
  // sim_vm_lifecycle.cc
  Result ListVms(Request& r);
  Result CreateVm(Request& r);
  Result GetVmIndex(Request& r);
  Result DeleteVm(Request& r);
  Result MakeTemplate(Request& r);
  // sim_vm_config.cc
  Result GetConfig(Request& r);
  Result PutConfig(Request& r);
  Result PostConfig(Request& r);
  Result GetPending(Request& r);
  Result GetCloudinit(Request& r);
  Result PutCloudinit(Request& r);
  Result Resize(Request& r);
  // sim_vm_clone.cc
  Result Clone(Request& r);
  Result GetMigrate(Request& r);
  Result Migrate(Request& r);
  // sim_vm_power.cc
  Result GetStatusIndex(Request& r);
  Result GetStatusCurrent(Request& r);
  Result PowerAction(Request& r);
  Result GetAgentIndex(Request& r);
  Result AgentPing(Request& r);
  Result AgentNetwork(Request& r);
  // sim_vzdump.cc
  Result Vzdump(Request& r);
  void VzdumpStep(const std::string& upid, const std::vector<int>& vmids, size_t k,
                  const std::string& mode);
  // The rules for setting or deleting the `lock` option through config.
  std::optional<Result> CheckLockChange(Request& r, const Vm& vm, bool sets_lock,
                                        bool deletes_lock);
  // sim_tasks_storage.cc
  Result ListTasks(Request& r);
  Result GetTaskIndex(Request& r);
  Result StopTask(Request& r);
  Result GetTaskStatus(Request& r);
  Result GetTaskLog(Request& r);
  Result ListStorage(Request& r);
  Result GetStorageStatus(Request& r);
  Result GetStorageContent(Request& r);
  Result ListPools(Request& r);
  Result CreatePool(Request& r);
  Result UpdatePool(Request& r);
  Result DeletePool(Request& r);
  Result GetPool(Request& r);

  // Moves (sim_migrate.cc, sim_nodes_state.cc, sim_ha.cc).
  struct MigrationPlan;
  std::optional<Result> CheckMigrateTargetStorage(Request& r, const Vm& vm, MigrationPlan* p);
  std::string StartMigration(MigrationPlan p, const std::string& user);
  void MigrationPhase1(const MigrationPlan& p);
  void MoveMigratedConfig(const MigrationPlan& p);
  std::vector<std::string> MigrationBlockers(const Vm& vm, bool online, bool with_local_disks);
  Task& NewSystemTask(const std::string& node, const std::string& type, const std::string& id,
                      const std::string& user);
  bool Pve9() const;
  bool NodeOnline(const std::string& node) const;
  std::optional<HttpResponse> NodeUnreachable(const Request& r);
  Result SetNodeState(Request& r);
  void FenceAndRecover(const std::string& node, double down_since);
  std::string PickHaNode(const std::string& sid, const std::string& exclude);
  bool HaManaged(int vmid) const;
  std::string HaState(const Vm& vm) const;
  void QueueHaMigration(int vmid, const std::string& target);
  void EvacuateForMaintenance(const std::string& node, bool enable);
  void MaybeMigrateRandomVm();
  Result ListHaResources(Request& r);
  Result CreateHaResource(Request& r);
  Result UpdateHaResource(Request& r);
  Result DeleteHaResource(Request& r);
  Result HaResourceMigrate(Request& r);
  Result ListHaConfig(Request& r);
  Result CreateHaConfig(Request& r);
  Result GetHaConfig(Request& r);
  Result DeleteHaConfig(Request& r);
  nlohmann::json MovesState() const;
  void LoadMovesState(const nlohmann::json& j);

  // Lookups, views and identities (sim.cc, sim_cluster.cc).
  bool NodeExists(const std::string& node) const;
  Vm* FindVm(int vmid);
  const Storage* FindStorage(const std::string& id) const;
  std::optional<Result> CheckNode(Request& r);
  std::optional<Result> LoadVm(Request& r, Vm** vm);
  std::optional<Result> CheckPriv(Request& r, const std::string& path,
                                  const std::vector<std::string>& privs, bool any = false);
  nlohmann::json TypedConfig(const std::map<std::string, std::string>& conf) const;
  std::map<std::string, std::string> EffectiveConfig(const Vm& vm) const;
  std::string ConfigDigest(const Vm& vm) const;
  void RecordHistory(Vm& vm);
  bool FaultFires(FaultSpec::Kind kind, std::string_view a, std::string_view b);
  std::string RandomMac();
  std::string RandomUuid();
  std::string AllocateDhcp(Vm& vm);
  nlohmann::json VmResource(const Vm& vm, double now) const;
  nlohmann::json NodeStatusJson(const std::string& node) const;
  nlohmann::json StorageJson(const std::string& node, const Storage& s) const;
  int64_t StorageUsed(const std::string& node, const std::string& storage) const;

  // Disks and pending changes (sim_vm_disks.cc).
  std::string NextDiskName(const Vm& vm, const std::string& storage, int vmid) const;
  Status ApplyDiskValue(Vm& vm, const std::string& key, std::string* value);
  void ApplyPending(Vm& vm, bool running_hotplug, int* warnings);
  void DropVolumeOf(Vm& vm, const std::string& value);
  void GenerateCloudinit(Vm& vm);

  // Config updates (sim_vm_config.cc).
  std::optional<Result> UpdateConfig(Request& r, Vm* vm, int* warnings,
                                     std::vector<std::string>* log);
  std::optional<Result> CheckConfigPrivs(Request& r, int vmid,
                                         const std::map<std::string, std::string>& sets,
                                         bool removes);
  std::optional<Result> PrepareConfigValues(Vm* vm, std::map<std::string, std::string>* sets);

  // Clone steps (sim_vm_clone.cc).
  struct ClonePlan;
  std::optional<Result> CheckClone(Request& r, const Vm& src, const ClonePlan& p);
  double PlanCloneLocks(const Request& r, const Vm& src, ClonePlan* p);
  void CompleteClone(const ClonePlan& p);
  void CopyCloneConfig(const ClonePlan& p, const Vm& src, Vm& nv);
  void CopyCloneDisks(const ClonePlan& p, const Vm& src, Vm& nv, Task& tk);

  // Agent, tasks and pools (sim_vm_power.cc, sim_tasks_storage.cc).
  std::optional<Result> AgentReady(Request& r, Vm** vm);
  Task& NewTask(const std::string& node, const std::string& type, const std::string& id,
                const Request& r);
  void FinishTask(Task& task, const std::string& error);
  std::optional<Result> FindTask(Request& r, Task** task);
  nlohmann::json PoolMembers(const std::string& id, const std::string& type) const;

  SimOptions options_;
  std::unique_ptr<Auth> auth_;
  std::vector<Storage> storages_;
  double started_wall_ = 0;

  std::mutex mu_;
  std::map<int, Vm> vms_;
  std::map<std::string, Task> tasks_;    // by UPID
  std::vector<std::string> task_order_;  // UPIDs, oldest first
  std::map<std::string, Pool> pools_;
  struct NodeState {
    bool offline = false;
    double down_since = 0;  // Wall clock of the last `offline`.
    bool maintenance = false;
  };
  std::map<std::string, NodeState> node_state_;             // Absent: online, not in maintenance.
  nlohmann::json ha_resources_ = nlohmann::json::object();  // sid -> ha/resources.cfg entry
  nlohmann::json ha_groups_ = nlohmann::json::object();     // 8.x ha/groups.cfg
  nlohmann::json ha_rules_ = nlohmann::json::object();      // 9.x ha/rules.cfg
  LockTable locks_;                                         // Guarded by mu_.
  std::mt19937_64 rng_;
  uint32_t next_pid_ = 0;
  uint32_t dhcp_next_ = 0;

  std::mutex fault_mu_;
  std::mt19937_64 fault_rng_;

  std::map<std::string, Handler> routes_;
  // Last, so that it stops (and its thread stops touching the state) first.
  TaskScheduler scheduler_{&mu_};
};

}  // namespace pvek8s::pvesim

#endif  // ACCEPTANCE_TESTS_PVESIM_SIM_H_
