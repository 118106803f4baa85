// Proxmox HA: resources (ha/resources.cfg), groups (PVE 8) or rules (PVE 9),
// migration requests that the CRM carries out later, node choice for
// recovery and maintenance.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"

namespace pvek8s::pvesim {

using nlohmann::json;

namespace {

// "vm:100" for "100" or "vm:100"; "" when it names no VM.
std::string NormalizeSid(const std::string& sid) {
  std::string s = sid.find(':') == std::string::npos ? "vm:" + sid : sid;
  return s.starts_with("vm:") ? s : "";
}

// "pve1:2,pve2" -> {pve1: 2, pve2: 0}.
std::map<std::string, int> NodePriorities(const std::string& list) {
  std::map<std::string, int> out;
  for (const std::string& part : SplitList(list)) {
    size_t colon = part.find(':');
    out[part.substr(0, colon)] =
        colon == std::string::npos ? 0 : std::atoi(part.substr(colon + 1).c_str());
  }
  return out;
}

}  // namespace

bool Simulator::HaManaged(int vmid) const {
  auto it = ha_resources_.find("vm:" + std::to_string(vmid));
  return it != ha_resources_.end() && it->value("state", "started") != "ignored";
}

// The `hastate` /cluster/resources shows for an HA guest ("" for others).
std::string Simulator::HaState(const Vm& vm) const {
  auto it = ha_resources_.find("vm:" + std::to_string(vm.vmid));
  if (it == ha_resources_.end()) return "";
  if (!NodeOnline(vm.node)) return "fence";
  if (vm.conf.contains("lock") && vm.conf.at("lock") == "migrate") return "migrate";
  std::string state = it->value("state", "started");
  return state == "enabled" ? "started" : state;
}

// The online, non-maintenance node (not `exclude`) HA would place `sid` on:
// the highest priority of its group (8.x) or node-affinity rule (9.x), only
// those when restricted/strict, fewest guests first.
std::string Simulator::PickHaNode(const std::string& sid, const std::string& exclude) {
  std::map<std::string, int> prio;
  bool strict = false;
  if (Pve9()) {
    for (const auto& [name, rule] : ha_rules_.items()) {
      if (rule.value("type", "") != "node-affinity" || rule.value("disable", 0) == 1) continue;
      auto res = SplitList(rule.value("resources", ""));
      if (std::find(res.begin(), res.end(), sid) == res.end()) continue;
      prio = NodePriorities(rule.value("nodes", ""));
      strict = rule.value("strict", 0) == 1;
    }
  } else if (ha_resources_.contains(sid) && ha_resources_[sid].contains("group")) {
    const json& g =
        ha_groups_.value(ha_resources_[sid]["group"].get<std::string>(), json::object());
    prio = NodePriorities(g.value("nodes", ""));
    strict = g.value("restricted", 0) == 1;
  }
  std::string best;
  std::tuple<int, int> best_key{0, 0};
  for (const auto& n : options_.nodes) {
    bool maint = node_state_.contains(n) && node_state_.at(n).maintenance;
    if (n == exclude || !NodeOnline(n) || maint) continue;
    if (strict && !prio.contains(n)) continue;
    int load = 0;
    for (const auto& [id, vm] : vms_) load += vm.node == n ? 1 : 0;
    std::tuple<int, int> key{prio.contains(n) ? prio[n] + 1 : 0, -load};
    if (best.empty() || key > best_key) {
      best = n;
      best_key = key;
    }
  }
  return best;
}

// The CRM picks the request up on its next round and the LRM on the source
// runs qmigrate as root@pam (online, with local disks, forced). A request
// for a node that is not online is ignored, as the CRM only logs it.
void Simulator::QueueHaMigration(int vmid, const std::string& target) {
  scheduler_.Schedule(options_.timings.ha_delay, [this, vmid, target] {
    Vm* v = FindVm(vmid);
    if (v == nullptr || !HaManaged(vmid) || v->node == target || !NodeOnline(target) ||
        !NodeOnline(v->node) || v->conf.contains("lock")) {
      return;
    }
    MigrationPlan p;
    p.vmid = vmid;
    p.source = v->node;
    p.target = target;
    p.online = v->running;
    p.with_local_disks = true;
    p.force = true;
    StartMigration(p, "root@pam");
  });
}

// Maintenance moves the node's HA guests away and, when it ends, back.
void Simulator::EvacuateForMaintenance(const std::string& node, bool enable) {
  for (auto& [sid, res] : ha_resources_.items()) {
    int vmid = std::atoi(sid.substr(3).c_str());
    Vm* vm = FindVm(vmid);
    if (vm == nullptr || !HaManaged(vmid)) continue;
    if (enable && vm->node == node) {
      std::string target = PickHaNode(sid, node);
      if (target.empty()) continue;
      res["_maintenance_home"] = node;
      QueueHaMigration(vmid, target);
    } else if (!enable && res.value("_maintenance_home", "") == node) {
      res.erase("_maintenance_home");
      QueueHaMigration(vmid, node);
    }
  }
}

// ---------------------------------------------------------------------------
// /cluster/ha/resources

namespace {
json PublicEntry(const std::string& sid, const json& res) {
  json j = {{"sid", sid}, {"type", "vm"}};
  for (const auto& [k, v] : res.items()) {
    if (!k.starts_with("_")) j[k] = v;
  }
  return j;
}
}  // namespace

Simulator::Result Simulator::ListHaResources(Request& r) {
  if (auto e = CheckPriv(r, "/", {"Sys.Audit"})) return *e;
  json out = json::array();
  if (r.Get("type", "vm") != "vm") return Result::Ok(out);
  for (const auto& [sid, res] : ha_resources_.items()) out.push_back(PublicEntry(sid, res));
  return Result::Ok(out);
}

Simulator::Result Simulator::GetHaResource(Request& r) {
  std::string sid = NormalizeSid(r.uri["sid"]);
  if (auto e = CheckPriv(r, "/", {"Sys.Audit"})) return *e;
  if (sid.empty() || !ha_resources_.contains(sid)) {
    return Result::Fail(500, "no such resource '" + NormalizeSid(r.uri["sid"]) + "'");
  }
  json j = PublicEntry(sid, ha_resources_[sid]);
  j["digest"] = std::string(40, '0');
  return Result::Ok(j);
}

Simulator::Result Simulator::CreateHaResource(Request& r) {
  if (auto e = CheckPriv(r, "/", {"Sys.Console"})) return *e;
  std::string sid = NormalizeSid(r.Get("sid"));
  if (sid.empty()) return Result::ParamError("sid", "only VM resources are simulated");
  int vmid = std::atoi(sid.substr(3).c_str());
  if (r.Has("group") && Pve9()) {
    return Result::Fail(500, "invalid parameter 'group': ha groups have been migrated to rules");
  }
  if (r.Has("group") && !ha_groups_.contains(r.Get("group"))) {
    return Result::Fail(500, "ha group '" + r.Get("group") + "' does not exist");
  }
  if (ha_resources_.contains(sid)) {
    return Result::Fail(500, "resource ID '" + sid + "' already defined");
  }
  if (FindVm(vmid) == nullptr) {
    return Result::Fail(500, "resource '" + sid + "' does not exist in cluster");
  }
  json res = {{"state", r.Get("state", "started")},
              {"max_restart", r.Int("max_restart", 1)},
              {"max_relocate", r.Int("max_relocate", 1)}};
  for (const char* k : {"group", "comment"}) {
    if (r.Has(k)) res[k] = r.Get(k);
  }
  if (Pve9()) res["failback"] = r.Bool("failback", true) ? 1 : 0;
  ha_resources_[sid] = res;
  SaveCluster();
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::UpdateHaResource(Request& r) {
  if (auto e = CheckPriv(r, "/", {"Sys.Console"})) return *e;
  std::string sid = NormalizeSid(r.uri["sid"]);
  if (sid.empty() || !ha_resources_.contains(sid)) {
    return Result::Fail(500, "no such resource '" + NormalizeSid(r.uri["sid"]) + "'");
  }
  json& res = ha_resources_[sid];
  for (const std::string& k : SplitList(r.Get("delete"))) res.erase(k);
  for (const char* k : {"state", "group", "comment"}) {
    if (r.Has(k)) res[k] = r.Get(k);
  }
  for (const char* k : {"max_restart", "max_relocate"}) {
    if (r.Has(k)) res[k] = r.Int(k);
  }
  if (r.Has("failback")) res["failback"] = r.Bool("failback") ? 1 : 0;
  SaveCluster();
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::DeleteHaResource(Request& r) {
  if (auto e = CheckPriv(r, "/", {"Sys.Console"})) return *e;
  std::string sid = NormalizeSid(r.uri["sid"]);
  if (sid.empty() || !ha_resources_.contains(sid)) {
    return Result::Fail(500, "no such resource '" + NormalizeSid(r.uri["sid"]) + "'");
  }
  ha_resources_.erase(sid);
  SaveCluster();
  return Result::Ok(nullptr);
}

// POST /cluster/ha/resources/{sid}/migrate: queues the request; 8.x answers
// null, 9.x what it queued.
Simulator::Result Simulator::HaResourceMigrate(Request& r) {
  if (auto e = CheckPriv(r, "/", {"Sys.Console"})) return *e;
  std::string sid = NormalizeSid(r.uri["sid"]);
  if (sid.empty() || !ha_resources_.contains(sid)) {
    return Result::Fail(500, "no such resource '" + NormalizeSid(r.uri["sid"]) + "'");
  }
  std::string node = r.Get("node");
  if (!NodeExists(node)) return Result::Fail(500, "no such cluster node '" + node + "'");
  QueueHaMigration(std::atoi(sid.substr(3).c_str()), node);
  if (!Pve9()) return Result::Ok(nullptr);
  return Result::Ok({{"sid", sid}, {"requested-node", node}});
}

// ---------------------------------------------------------------------------
// /cluster/ha/groups (8.x; on 9.x they have been migrated to rules) and
// /cluster/ha/rules (9.x only: the 8.4 table has no such method).

namespace {
bool IsGroups(const std::string& path) { return path.starts_with("/cluster/ha/groups"); }
}  // namespace

Simulator::Result Simulator::ListHaConfig(Request& r) {
  if (auto e = CheckPriv(r, "/", {"Sys.Audit"})) return *e;
  bool groups = IsGroups(r.path);
  if (groups && Pve9()) {
    return Result::Fail(500, "cannot index groups: ha groups have been migrated to rules");
  }
  json out = json::array();
  for (const auto& [id, e] : (groups ? ha_groups_ : ha_rules_).items()) {
    if (!groups && r.Has("type") && e.value("type", "") != r.Get("type")) continue;
    if (!groups && r.Has("resource")) {
      auto res = SplitList(e.value("resources", ""));
      if (std::find(res.begin(), res.end(), r.Get("resource")) == res.end()) continue;
    }
    json j = e;
    j[groups ? "group" : "rule"] = id;
    if (groups) j["type"] = "group";
    out.push_back(j);
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::CreateHaConfig(Request& r) {
  if (auto e = CheckPriv(r, "/", {"Sys.Console"})) return *e;
  bool groups = IsGroups(r.path);
  if (groups && Pve9()) {
    return Result::Fail(500, "cannot create group: ha groups have been migrated to rules");
  }
  std::string id = r.Get(groups ? "group" : "rule");
  json& cfg = groups ? ha_groups_ : ha_rules_;
  if (cfg.contains(id)) {
    return Result::Fail(
        500, std::string(groups ? "ha group" : "ha rule") + " '" + id + "' already defined");
  }
  json e = json::object();
  for (const auto& [k, v] : r.params) {
    if (k == "group" || k == "rule" || (groups && k == "type")) continue;
    const ParamDef* def = FindParam(*r.def, k);
    e[k] = def != nullptr && def->type == ParamType::kBoolean ? json(v == "1" ? 1 : 0) : json(v);
  }
  cfg[id] = e;
  SaveCluster();
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::GetHaConfig(Request& r) {
  if (auto e = CheckPriv(r, "/", {"Sys.Audit"})) return *e;
  bool groups = IsGroups(r.path);
  std::string id = r.uri[groups ? "group" : "rule"];
  if (groups && Pve9()) {
    return Result::Fail(500, "cannot read group: ha groups have been migrated to rules");
  }
  const json& cfg = groups ? ha_groups_ : ha_rules_;
  if (!cfg.contains(id)) {
    return Result::Fail(
        500, std::string(groups ? "no such ha group" : "no such ha rule") + " '" + id + "'");
  }
  json j = cfg[id];
  j[groups ? "group" : "rule"] = id;
  return Result::Ok(j);
}

Simulator::Result Simulator::DeleteHaConfig(Request& r) {
  if (auto e = CheckPriv(r, "/", {"Sys.Console"})) return *e;
  bool groups = IsGroups(r.path);
  std::string id = r.uri[groups ? "group" : "rule"];
  json& cfg = groups ? ha_groups_ : ha_rules_;
  if (!cfg.contains(id)) {
    return Result::Fail(
        500, std::string(groups ? "no such ha group" : "no such ha rule") + " '" + id + "'");
  }
  cfg.erase(id);
  SaveCluster();
  return Result::Ok(nullptr);
}

}  // namespace pvek8s::pvesim
