// Cluster-wide endpoints: version, nodes, /cluster/resources, nextid, HA, and
// the node/storage/VM views they are built from.
#include <cstdlib>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"

namespace pvek8s::pvesim {

using nlohmann::json;

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
      j = {{"node", n}, {"status", j["status"]}, {"type", "node"}, {"id", "node/" + n}};
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

int64_t Simulator::StorageUsed(const std::string& node, const std::string& storage) const {
  const Storage* st = FindStorage(storage);
  bool shared = st != nullptr && st->shared;
  int64_t used = 0;
  for (const auto& [id, vm] : vms_) {
    if (vm.node != node && !shared) continue;
    for (const auto& [volid, v] : vm.volumes) {
      if (v.storage == storage) used += v.size;
    }
  }
  return used;
}

json Simulator::VmResource(const Vm& vm, double now) const {
  const auto& conf = vm.conf;
  auto get = [&](const char* k, const char* fallback) -> std::string {
    auto it = conf.find(k);
    return it == conf.end() ? fallback : it->second;
  };
  json j = {{"id", "qemu/" + std::to_string(vm.vmid)},
            {"vmid", vm.vmid},
            {"type", "qemu"},
            {"node", vm.node},
            {"cpu", 0},
            {"mem", 0},
            {"disk", 0},
            {"netin", 0},
            {"netout", 0},
            {"diskread", 0},
            {"diskwrite", 0}};
  const Snapshot* seen = nullptr;
  for (const Snapshot& s : vm.history) {
    if (s.at <= now - options_.timings.resources_lag) seen = &s;
  }
  if (!NodeOnline(vm.node)) {
    // No fresh RRD data from a node that is down: no name, no stats.
    for (const char* k : {"cpu", "mem", "disk", "netin", "netout", "diskread", "diskwrite"}) {
      j.erase(k);
    }
    j["status"] = "unknown";
  } else if (seen == nullptr) {
    j["status"] = "unknown";
  } else {
    j["status"] = seen->status;
    if (!seen->name.empty()) j["name"] = seen->name;
    j["template"] = seen->tmpl;
    int64_t maxdisk = 0;
    for (const auto& [k, v] : conf) {
      if (IsDiskKey(k) && PropertyValue(v, "media") != "cdrom") {
        maxdisk += ParseSize(PropertyValue(v, "size")).value_or(0);
      }
    }
    j["maxdisk"] = maxdisk;
    j["maxmem"] = MemoryBytes(get("memory", "2048"));
    j["maxcpu"] = std::atoi(get("cores", "1").c_str()) * std::atoi(get("sockets", "1").c_str());
    j["uptime"] = seen->status == "running" ? static_cast<int64_t>(now - vm.started_at) : 0;
  }
  if (conf.contains("lock")) j["lock"] = conf.at("lock");
  if (conf.contains("tags")) j["tags"] = conf.at("tags");
  if (std::string ha = HaState(vm); !ha.empty()) j["hastate"] = ha;
  for (const auto& [id, p] : pools_) {
    if (p.vms.contains(vm.vmid)) j["pool"] = id;
  }
  return j;
}

json Simulator::NodeStatusJson(const std::string& node) const {
  double uptime = WallNow() - started_wall_ + 86400;
  int64_t mem_used = 0;
  for (const auto& [id, vm] : vms_) {
    if (vm.node == node && vm.running) {
      mem_used += MemoryBytes(vm.conf.count("memory") ? vm.conf.at("memory") : "2048");
    }
  }
  json j = {{"node", node},
            {"status", "online"},
            {"type", "node"},
            {"id", "node/" + node},
            {"cpu", 0.02},
            {"maxcpu", 96},
            {"mem", (4LL << 30) + mem_used},
            {"maxmem", 128LL << 30},
            {"disk", 8LL << 30},
            {"maxdisk", 100LL << 30},
            {"uptime", static_cast<int64_t>(uptime)},
            {"level", ""},
            {"ssl_fingerprint", options_.ssl_fingerprint}};
  auto st = node_state_.find(node);
  if (st != node_state_.end() && st->second.maintenance) j["hastate"] = "maintenance";
  if (NodeOnline(node)) return j;
  // pmxcfs's last RRD sample keeps the maxima; the live figures are gone.
  j["status"] = "offline";
  for (const char* k : {"uptime", "cpu", "mem", "disk"}) j.erase(k);
  return j;
}

json Simulator::StorageJson(const std::string& node, const Storage& s) const {
  int64_t used = StorageUsed(node, s.id) + (s.id == "local" ? (6LL << 30) : 0);
  return {{"storage", s.id},
          {"type", s.type},
          {"content", s.content},
          {"enabled", 1},
          {"active", 1},
          {"shared", s.shared ? 1 : 0},
          {"total", s.total},
          {"used", used},
          {"avail", s.total - used},
          {"used_fraction", static_cast<double>(used) / static_cast<double>(s.total)}};
}

}  // namespace pvek8s::pvesim
