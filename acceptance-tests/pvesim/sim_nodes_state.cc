// Nodes that go down, come back and enter maintenance (pvesim's own control
// endpoint, as an operator would at the console), HA fencing and recovery,
// the random migrations of `--fault migrate:P`, and their persistence.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "acceptance-tests/pvesim/params_moves.h"
#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"

namespace pvek8s::pvesim {

using nlohmann::json;

bool Simulator::Pve9() const { return !options_.release.empty() && options_.release[0] >= '9'; }

bool Simulator::NodeOnline(const std::string& node) const {
  auto it = node_state_.find(node);
  return it == node_state_.end() || !it->second.offline;
}

// pveproxy forwards every /nodes/{node}/... call to that node; for a node it
// cannot reach, AnyEvent::HTTP's 595 with the socket error as reason and an
// empty body comes back.
std::optional<HttpResponse> Simulator::NodeUnreachable(const Request& r) {
  if (r.def == nullptr || IsPveSimOnlyPath(r.def->path)) return std::nullopt;
  auto it = r.uri.find("node");
  if (it == r.uri.end()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  if (NodeOnline(it->second)) return std::nullopt;
  HttpResponse resp;
  resp.status = 595;
  resp.reason = "No route to host";
  resp.close = true;
  return resp;
}

// PUT /pvesim/nodes/{node}: status=offline|online (power), maintenance=0|1
// (`ha-manager crm-command node-maintenance enable|disable`, which has no
// REST endpoint in Proxmox).
Simulator::Result Simulator::SetNodeState(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  const std::string node = r.uri["node"];
  if (auto e = CheckPriv(r, "/nodes/" + node, {"Sys.PowerMgmt"})) return *e;
  NodeState& ns = node_state_[node];
  if (r.Has("status")) {
    bool offline = r.Get("status") == "offline";
    if (offline && !ns.offline) {
      ns.offline = true;
      ns.down_since = r.now;
      double since = ns.down_since;
      scheduler_.Schedule(options_.timings.ha_fence,
                          [this, node, since] { FenceAndRecover(node, since); });
    } else if (!offline && ns.offline) {
      ns.offline = false;
      // The node was powered off: its guests come back stopped, or booted
      // afresh when `onboot` is set.
      for (auto& [id, vm] : vms_) {
        if (vm.node != node || !vm.running) continue;
        bool onboot = vm.conf.contains("onboot") && vm.conf.at("onboot") == "1";
        vm.running = onboot;
        vm.started_at = onboot ? r.now : 0;
        vm.boot_id = onboot ? RandomUuid() : "";
        RecordHistory(vm);
        SaveVm(vm);
      }
    }
  }
  if (r.Has("maintenance") && r.Bool("maintenance") != ns.maintenance) {
    ns.maintenance = r.Bool("maintenance");
    EvacuateForMaintenance(node, ns.maintenance);
  }
  SaveCluster();
  return Result::Ok(nullptr);
}

// After the fence delay, HA restarts the node's started resources elsewhere:
// a new boot of the guest on the chosen node. Non-HA guests stay where they are.
void Simulator::FenceAndRecover(const std::string& node, double down_since) {
  auto it = node_state_.find(node);
  if (it == node_state_.end() || !it->second.offline || it->second.down_since != down_since) {
    return;
  }
  for (auto& [sid, res] : ha_resources_.items()) {
    int vmid = std::atoi(sid.substr(sid.find(':') + 1).c_str());
    Vm* vm = FindVm(vmid);
    std::string state = res.value("state", "started");
    if (vm == nullptr || vm->node != node || state == "ignored" || state == "disabled") continue;
    std::string target = PickHaNode(sid, node);
    if (target.empty()) continue;  // No node may take it: it waits for one.
    vm->node = target;
    vm->conf.erase("lock");
    bool start = state == "started" || state == "enabled";
    vm->running = start;
    vm->started_at = start ? WallNow() : 0;
    vm->boot_id = start ? RandomUuid() : "";
    RecordHistory(*vm);
    SaveVm(*vm);
  }
}

// One random VM moves to another online node, as an admin or HA would move
// it (online when running), drawn from the fault stream.
void Simulator::MaybeMigrateRandomVm() {
  std::vector<int> candidates;
  for (const auto& [id, vm] : vms_) {
    bool tmpl = vm.conf.contains("template") && vm.conf.at("template") == "1";
    if (tmpl || vm.creating || vm.conf.contains("lock") || !NodeOnline(vm.node)) continue;
    if (!MigrationBlockers(vm, vm.running, true).empty()) continue;
    candidates.push_back(id);
  }
  std::vector<std::string> nodes;
  for (const auto& n : options_.nodes) {
    if (NodeOnline(n) && !(node_state_.contains(n) && node_state_.at(n).maintenance)) {
      nodes.push_back(n);
    }
  }
  if (candidates.empty() || nodes.size() < 2) return;
  int vmid = 0;
  std::string target;
  {
    std::lock_guard<std::mutex> lock(fault_mu_);
    vmid = candidates[fault_rng_() % candidates.size()];
    std::erase(nodes, vms_.at(vmid).node);
    if (nodes.empty()) return;
    target = nodes[fault_rng_() % nodes.size()];
  }
  if (HaManaged(vmid)) return QueueHaMigration(vmid, target);
  MigrationPlan p;
  p.vmid = vmid;
  p.source = vms_.at(vmid).node;
  p.target = target;
  p.online = vms_.at(vmid).running;
  p.with_local_disks = true;
  StartMigration(p, "root@pam");
}

json Simulator::MovesState() const {
  json nodes = json::object();
  for (const auto& [n, s] : node_state_) {
    nodes[n] = {
        {"offline", s.offline}, {"down_since", s.down_since}, {"maintenance", s.maintenance}};
  }
  return {{"nodes", nodes},
          {"ha_resources", ha_resources_},
          {"ha_groups", ha_groups_},
          {"ha_rules", ha_rules_}};
}

void Simulator::LoadMovesState(const json& j) {
  if (j.contains("nodes") && j["nodes"].is_object()) {
    for (const auto& [n, s] : j["nodes"].items()) {
      node_state_[n] = {s.value("offline", false), s.value("down_since", 0.0),
                        s.value("maintenance", false)};
    }
  }
  for (auto [key, field] :
       {std::pair{"ha_resources", &ha_resources_}, std::pair{"ha_groups", &ha_groups_},
        std::pair{"ha_rules", &ha_rules_}}) {
    if (j.contains(key) && j[key].is_object()) *field = j[key];
  }
}

}  // namespace pvek8s::pvesim
