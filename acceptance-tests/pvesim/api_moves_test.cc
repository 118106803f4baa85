// Black-box tests of VM moves: migrate preconditions and refusals in
// Proxmox's order, online/offline migrations, nodes going down, HA resources,
// groups and rules, recovery, maintenance and `--fault migrate:P`.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

#include "acceptance-tests/pvesim/api_test_helpers.h"
#include "acceptance-tests/pvesim/test_support.h"

namespace pvek8s::pvesim::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The guest's boot identity, as pvesim keeps it in DIR/vms/<vmid>.json.
std::string BootId(const std::string& data, int vmid) {
  std::ifstream in(std::filesystem::path(data) / "vms" / (std::to_string(vmid) + ".json"));
  json j = json::parse(in, nullptr, false);
  return j.is_object() ? j.value("boot_id", "") : "";
}

json Resource(Client& c, int vmid) {
  for (const auto& v : c.Call("GET", "/cluster/resources", {{"type", "vm"}}).data()) {
    if (v["vmid"] == vmid) return v;
  }
  return nullptr;
}

json NodeEntry(Client& c, const std::string& node) {
  for (const auto& n : c.Call("GET", "/nodes").data()) {
    if (n["node"] == node) return n;
  }
  return nullptr;
}

void StartOk(Client& c, const std::string& node, int vmid) {
  Response r = c.Call("POST", "/nodes/" + node + "/qemu/" + std::to_string(vmid) + "/status/start");
  REQUIRE(r.status == 200);
  REQUIRE(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
}

std::string TaskLog(Client& c, const std::string& upid) {
  std::string node = upid.substr(5, upid.find(':', 5) - 5);
  std::string out;
  for (const auto& l : c.Call("GET", "/nodes/" + node + "/tasks/" + upid + "/log").data()) {
    out += l["t"].get<std::string>() + "\n";
  }
  return out;
}

void SetNode(Client& c, const std::string& node,
             const std::vector<std::pair<std::string, std::string>>& what) {
  REQUIRE(c.Call("PUT", "/pvesim/nodes/" + node, what).status == 200);
}

TEST_CASE("GET migrate: preconditions as Proxmox answers them") {
  Sim s({"--pve-version", "9.1.2"});
  Client& c = s.client;
  CloneOk(c, 190, {{"name", "m"}, {"full", "1"}});
  json pre = c.Call("GET", "/nodes/pve1/qemu/190/migrate").data();
  CHECK(pre["running"] == 0);
  CHECK(pre["allowed_nodes"] == json{"pve2", "pve3"});
  CHECK(pre["not_allowed_nodes"] == json::object());
  REQUIRE(pre["local_disks"].size() == 1);
  CHECK(pre["local_disks"][0]["volid"] == "local-lvm:vm-190-disk-0");
  CHECK(pre["local_disks"][0]["drivename"] == "scsi0");
  CHECK(pre["local_disks"][0]["size"] == 2252LL << 20);
  CHECK(pre["local_resources"] == json::array());
  CHECK(pre.contains("dependent-ha-resources"));  // 9.x only.
  CHECK(c.Call("GET", "/nodes/pve2/qemu/190/migrate").reason ==
        "Configuration file 'nodes/pve2/qemu-server/190.conf' does not exist");
}

TEST_CASE("POST migrate: refusals in Proxmox's order and text") {
  Sim s({"--pve-version", "8.4.1"});
  Client& c = s.client;
  CloneOk(c, 190, {{"name", "m"}, {"full", "1"}});
  // Target checks come before the config is even read.
  Response r = c.Call("POST", "/nodes/pve2/qemu/190/migrate", {{"target", "pve2"}});
  CHECK(r.status == 400);
  CHECK(r.json["errors"]["target"] == "target is local node.");
  r = c.Call("POST", "/nodes/pve2/qemu/190/migrate", {{"target", "pve9"}});
  CHECK(r.status == 500);
  CHECK(r.reason == "no such cluster node 'pve9'");
  r = c.Call("POST", "/nodes/pve2/qemu/190/migrate", {{"target", "pve3"}});
  CHECK(r.reason == "Configuration file 'nodes/pve2/qemu-server/190.conf' does not exist");
  StartOk(c, "pve1", 190);
  r = c.Call("POST", "/nodes/pve1/qemu/190/migrate", {{"target", "pve3"}});
  CHECK(r.status == 500);
  CHECK(r.reason == "can't migrate running VM without --online");
  // 8.4 has no with-conntrack-state.
  r = c.Call("POST", "/nodes/pve1/qemu/190/migrate",
             {{"target", "pve3"}, {"online", "1"}, {"with-conntrack-state", "1"}});
  CHECK(r.status == 400);
  CHECK(r.json["errors"].contains("with-conntrack-state"));
  // Attached local disks need with-local-disks: the task refuses in phase 1.
  r = c.Call("POST", "/nodes/pve1/qemu/190/migrate", {{"target", "pve3"}, {"online", "1"}});
  REQUIRE(r.status == 200);
  std::string upid = r.data().get<std::string>();
  CHECK(c.WaitTask(upid)["exitstatus"] == "migration aborted");
  std::string log = TaskLog(c, upid);
  CHECK(log.find("ERROR: can't live migrate attached local disks without with-local-disks "
                 "option") != std::string::npos);
  CHECK(log.find("can't migrate VM - check log") != std::string::npos);
  json cfg = c.Call("GET", "/nodes/pve1/qemu/190/config").data();
  CHECK_FALSE(cfg.contains("lock"));  // Removed again; the VM stays.
}

TEST_CASE("a linked clone on local storage cannot be migrated") {
  Sim s;
  Client& c = s.client;
  CloneOk(c, 191, {{"name", "linked"}});
  Response r = c.Call("POST", "/nodes/pve1/qemu/191/migrate", {{"target", "pve2"}});
  REQUIRE(r.status == 200);
  std::string upid = r.data().get<std::string>();
  CHECK(c.WaitTask(upid)["exitstatus"] == "migration aborted");
  CHECK(TaskLog(c, upid).find("ERROR: can't migrate 'local-lvm:base-9000-disk-0/vm-191-disk-0' "
                              "as it's a clone of 'base-9000-disk-0'") != std::string::npos);
  CHECK(c.Call("GET", "/nodes/pve1/qemu/191/config").status == 200);
}

TEST_CASE("online migration: lock until the config moved, new QEMU process, same guest boot") {
  Sim s({"--timing", "migrate=1.5"});
  Client& c = s.client;
  CloneOk(c, 190, {{"name", "live"}, {"full", "1"}});
  StartOk(c, "pve1", 190);
  std::string mac = c.Call("GET", "/nodes/pve1/qemu/190/config").data()["net0"];
  json before;
  REQUIRE(WaitFor(
      [&] {
        before = c.Call("GET", "/nodes/pve1/qemu/190/status/current").data();
        return before["uptime"].get<int64_t>() >= 1;
      },
      5s));
  std::string boot = BootId(s.data, 190);
  REQUIRE_FALSE(boot.empty());
  auto t0 = std::chrono::steady_clock::now();
  Response r = c.Call("POST", "/nodes/pve1/qemu/190/migrate",
                      {{"target", "pve3"}, {"online", "1"}, {"with-local-disks", "1"}});
  REQUIRE(r.status == 200);
  std::string upid = r.data().get<std::string>();
  json during = c.Call("GET", "/nodes/pve1/qemu/190/status/current").data();
  CHECK(during["lock"] == "migrate");
  CHECK(Resource(c, 190)["lock"] == "migrate");
  CHECK(c.Call("PUT", "/nodes/pve1/qemu/190/config", {{"memory", "4096"}}).reason ==
        "VM is locked (migrate)");
  json st = c.WaitTask(upid);
  CHECK(st["exitstatus"] == "OK");
  // migrate=1.5 plus 2 GiB of RAM and 2.2 GiB of disk at migrate_per_gib=0.
  CHECK(std::chrono::steady_clock::now() - t0 >= 1400ms);
  CHECK(TaskLog(c, upid).find("migration finished successfully (duration 00:00:0") !=
        std::string::npos);
  json after = c.Call("GET", "/nodes/pve3/qemu/190/status/current").data();
  CHECK(after["status"] == "running");
  CHECK_FALSE(after.contains("lock"));
  CHECK(after["pid"] != before["pid"]);
  CHECK(after["uptime"].get<int64_t>() < before["uptime"].get<int64_t>() + 1);
  CHECK(BootId(s.data, 190) == boot);
  json cfg = c.Call("GET", "/nodes/pve3/qemu/190/config").data();
  CHECK(cfg["net0"] == mac);
  CHECK(cfg["scsi0"] == "local-lvm:vm-190-disk-0,size=2252M");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/190/config").status == 500);
  CHECK(Resource(c, 190)["node"] == "pve3");
  bool listed = false;
  for (const auto& v : c.Call("GET", "/nodes/pve3/qemu").data()) listed |= v["vmid"] == 190;
  CHECK(listed);
  for (const auto& v : c.Call("GET", "/nodes/pve1/qemu").data()) CHECK(v["vmid"] != 190);
}

TEST_CASE("offline migration with targetstorage, and 9.x's with-conntrack-state") {
  Sim s({"--storage", "fast:lvmthin:images,rootdir", "--pve-version", "9.1.2"});
  Client& c = s.client;
  CloneOk(c, 190, {{"name", "cold"}, {"full", "1"}});
  Response r = c.Call("POST", "/nodes/pve1/qemu/190/migrate",
                      {{"target", "pve2"},
                       {"targetstorage", "fast"},
                       {"online", "1"},
                       {"with-conntrack-state", "1"}});
  REQUIRE(r.status == 200);
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  json cfg = c.Call("GET", "/nodes/pve2/qemu/190/config").data();
  CHECK(cfg["scsi0"] == "fast:vm-190-disk-0,size=2252M");
  CHECK(c.Call("GET", "/nodes/pve2/qemu/190/status/current").data()["status"] == "stopped");
  r = c.Call("POST", "/nodes/pve2/qemu/190/migrate", {{"target", "pve3"}, {"targetstorage", "x"}});
  CHECK(r.reason == "storage 'x' does not exist");
}

TEST_CASE("a node that is down: 595 through the proxy, offline in /nodes, its VMs unknown") {
  Sim s;
  Client& c = s.client;
  CloneOk(c, 190, {{"name", "stranded"}, {"full", "1"}, {"target", "pve1"}});
  StartOk(c, "pve1", 190);
  CloneOk(c, 192, {{"name", "mover"}, {"full", "1"}}, "pve2", 9001);
  SetNode(c, "pve1", {{"status", "offline"}});
  Response r = c.Call("GET", "/nodes/pve1/qemu/190/status/current");
  CHECK(r.status == 595);
  CHECK(r.reason == "No route to host");
  CHECK(r.body.empty());
  CHECK(c.Call("GET", "/nodes/pve1/qemu").status == 595);
  json n = NodeEntry(c, "pve1");
  CHECK(n["status"] == "offline");
  CHECK_FALSE(n.contains("uptime"));
  CHECK(n.contains("maxmem"));
  CHECK(NodeEntry(c, "pve2")["status"] == "online");
  json vm = Resource(c, 190);
  CHECK(vm["node"] == "pve1");
  CHECK(vm["status"] == "unknown");
  CHECK_FALSE(vm.contains("name"));
  // A migration to it passes the checks and fails at the SSH test.
  r = c.Call("POST", "/nodes/pve2/qemu/192/migrate", {{"target", "pve1"}});
  REQUIRE(r.status == 200);
  std::string upid = r.data().get<std::string>();
  CHECK(c.WaitTask(upid)["exitstatus"] == "migration aborted");
  CHECK(TaskLog(c, upid).find("Can't connect to destination address using public key") !=
        std::string::npos);
  // Powered on again: the guest was powered off with it.
  SetNode(c, "pve1", {{"status", "online"}});
  CHECK(c.Call("GET", "/nodes/pve1/qemu/190/status/current").data()["status"] == "stopped");
  CHECK(c.Call("PUT", "/pvesim/nodes/pve7", {{"status", "offline"}}).status == 500);
}

TEST_CASE("HA resources: add, list, migrate through the CRM, delete") {
  Sim s({"--timing", "ha_delay=1", "--pve-version", "8.4.1"});
  Client& c = s.client;
  CloneOk(c, 190, {{"name", "ha"}, {"full", "1"}});
  StartOk(c, "pve1", 190);
  CHECK(c.Call("GET", "/cluster/ha/resources/vm:190").reason == "no such resource 'vm:190'");
  REQUIRE(c.Call("POST", "/cluster/ha/resources", {{"sid", "vm:190"}}).status == 200);
  CHECK(c.Call("POST", "/cluster/ha/resources", {{"sid", "190"}}).reason ==
        "resource ID 'vm:190' already defined");
  CHECK(c.Call("POST", "/cluster/ha/resources", {{"sid", "vm:4242"}}).reason ==
        "resource 'vm:4242' does not exist in cluster");
  json list = c.Call("GET", "/cluster/ha/resources").data();
  REQUIRE(list.size() == 1);
  CHECK(list[0]["sid"] == "vm:190");
  CHECK(list[0]["state"] == "started");
  CHECK(c.Call("GET", "/cluster/ha/resources/190").data()["sid"] == "vm:190");
  CHECK(Resource(c, 190)["hastate"] == "started");
  // qm migrate of an HA guest: a hamigrate task that ends at once ...
  Response r = c.Call("POST", "/nodes/pve1/qemu/190/migrate",
                      {{"target", "pve2"}, {"online", "1"}, {"with-local-disks", "1"}});
  REQUIRE(r.status == 200);
  std::smatch m;
  std::string upid = r.data().get<std::string>();
  REQUIRE(std::regex_match(upid, m, kUpid));
  CHECK(m[6] == "hamigrate");
  CHECK(c.WaitTask(upid)["exitstatus"] == "OK");
  CHECK(Resource(c, 190)["node"] == "pve1");
  // ... and the CRM's qmigrate, as root@pam, a moment later.
  CHECK(WaitFor(
      [&] {
        json v = Resource(c, 190);
        return v["node"] == "pve2" && !v.contains("lock");
      },
      10s));
  bool root_task = false;
  for (const auto& t : c.Call("GET", "/nodes/pve1/tasks", {{"source", "all"}}).data()) {
    root_task |= t["type"] == "qmigrate" && t["user"] == "root@pam";
  }
  CHECK(root_task);
  // The HA endpoint: 8.4 answers null.
  r = c.Call("POST", "/cluster/ha/resources/vm:190/migrate", {{"node", "pve3"}});
  CHECK(r.status == 200);
  CHECK(r.data().is_null());
  CHECK(WaitFor([&] { return Resource(c, 190)["node"] == "pve3"; }, 10s));
  CHECK(c.Call("DELETE", "/cluster/ha/resources/vm:190").status == 200);
  CHECK_FALSE(Resource(c, 190).contains("hastate"));
}

TEST_CASE("HA groups on 8.4, HA rules on 9.1") {
  {
    Sim s({"--pve-version", "8.4.1"});
    Client& c = s.client;
    CHECK(
        c.Call("POST", "/cluster/ha/groups", {{"group", "grp"}, {"nodes", "pve3:2,pve2"}}).status ==
        200);
    CHECK(c.Call("GET", "/cluster/ha/groups/grp").data()["nodes"] == "pve3:2,pve2");
    CHECK(c.Call("GET", "/cluster/ha/rules").status == 501);
  }
  Sim s({"--pve-version", "9.1.2"});
  Client& c = s.client;
  Response r = c.Call("GET", "/cluster/ha/groups");
  CHECK(r.status == 500);
  CHECK(r.reason == "cannot index groups: ha groups have been migrated to rules");
  CloneOk(c, 190, {{"name", "ha"}, {"full", "1"}});
  REQUIRE(c.Call("POST", "/cluster/ha/resources", {{"sid", "vm:190"}}).status == 200);
  REQUIRE(c.Call("POST", "/cluster/ha/rules",
                 {{"rule", "r1"},
                  {"type", "node-affinity"},
                  {"resources", "vm:190"},
                  {"nodes", "pve3"},
                  {"strict", "1"}})
              .status == 200);
  json rules = c.Call("GET", "/cluster/ha/rules", {{"resource", "vm:190"}}).data();
  REQUIRE(rules.size() == 1);
  CHECK(rules[0]["rule"] == "r1");
  CHECK(rules[0]["strict"] == 1);
  r = c.Call("POST", "/cluster/ha/resources/vm:190/migrate", {{"node", "pve2"}});
  CHECK(r.data() == json{{"sid", "vm:190"}, {"requested-node", "pve2"}});
}

TEST_CASE("a node down: HA restarts its guests elsewhere after the fence delay") {
  Sim s({"--timing", "ha_fence=1", "--pve-version", "8.4.1"});
  Client& c = s.client;
  REQUIRE(c.Call("POST", "/cluster/ha/groups", {{"group", "grp"}, {"nodes", "pve3"}}).status ==
          200);
  CloneOk(c, 190, {{"name", "ha"}, {"full", "1"}});
  CloneOk(c, 191, {{"name", "plain"}, {"full", "1"}});
  StartOk(c, "pve1", 190);
  StartOk(c, "pve1", 191);
  REQUIRE(c.Call("POST", "/cluster/ha/resources", {{"sid", "vm:190"}, {"group", "grp"}}).status ==
          200);
  std::string boot = BootId(s.data, 190);
  SetNode(c, "pve1", {{"status", "offline"}});
  json vm = Resource(c, 190);
  CHECK(vm["node"] == "pve1");
  CHECK(vm["hastate"] == "fence");
  REQUIRE(WaitFor([&] { return Resource(c, 190)["node"] == "pve3"; }, 10s));
  CHECK(c.Call("GET", "/nodes/pve3/qemu/190/status/current").data()["status"] == "running");
  CHECK(BootId(s.data, 190) != boot);         // A recovery is a fresh boot.
  CHECK(Resource(c, 191)["node"] == "pve1");  // Nothing moves a non-HA guest.
}

TEST_CASE("maintenance moves a node's HA guests away and back") {
  Sim s;
  Client& c = s.client;
  CloneOk(c, 190, {{"name", "ha"}, {"full", "1"}});
  StartOk(c, "pve1", 190);
  REQUIRE(c.Call("POST", "/cluster/ha/resources", {{"sid", "vm:190"}}).status == 200);
  std::string boot = BootId(s.data, 190);
  SetNode(c, "pve1", {{"maintenance", "1"}});
  CHECK(WaitFor([&] { return Resource(c, 190)["node"] != "pve1"; }, 10s));
  CHECK(BootId(s.data, 190) == boot);  // Moved live.
  json node;
  for (const auto& n : c.Call("GET", "/cluster/resources", {{"type", "node"}}).data()) {
    if (n["node"] == "pve1") node = n;
  }
  CHECK(node["hastate"] == "maintenance");
  SetNode(c, "pve1", {{"maintenance", "0"}});
  CHECK(WaitFor([&] { return Resource(c, 190)["node"] == "pve1"; }, 10s));
}

// Where every VM is after the same requests against a fresh pvesim.
std::map<int, std::string> PlacementAfterRequests() {
  Sim s({"--fault", "migrate:0.3"});
  Client& c = s.client;
  for (int id : {190, 191, 192}) CloneOk(c, id, {{"name", "f"}, {"full", "1"}});
  // The start may find the VM moved already: the same outcome for the same seed.
  std::string node = Resource(c, 190)["node"];
  c.Call("POST", "/nodes/" + node + "/qemu/190/status/start");
  for (int i = 0; i < 20; ++i) c.Call("GET", "/version");
  std::map<int, std::string> out;
  for (const auto& v : c.Call("GET", "/cluster/resources", {{"type", "vm"}}).data()) {
    out[v["vmid"].get<int>()] = v["node"].get<std::string>();
  }
  return out;
}

TEST_CASE("--fault migrate:P moves random VMs, reproducibly with the seed") {
  std::map<int, std::string> a = PlacementAfterRequests();
  std::map<int, std::string> b = PlacementAfterRequests();
  CHECK(a == b);
  int moved = 0;
  for (int id : {190, 191, 192}) moved += a[id] != "pve1";
  CHECK(moved > 0);
  CHECK(a[9000] == "pve1");  // Templates stay.
}

}  // namespace
}  // namespace pvek8s::pvesim::testing
