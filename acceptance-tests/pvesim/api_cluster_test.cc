// Black-box tests across the cluster: shared storage, migration, pools and
// tags, the guest agent delay, /cluster/resources lag and fault injection.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "acceptance-tests/pvesim/api_test_helpers.h"
#include "acceptance-tests/pvesim/test_support.h"

namespace pvek8s::pvesim::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("a shared storage lets a full clone land on another node") {
  Sim s({"--storage", "ceph:rbd:images,rootdir:shared"});
  Client& c = s.client;
  Response r =
      c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "180"}, {"target", "pve3"}});
  CHECK(r.reason == "can't clone VM to node 'pve3' (VM uses local storage)");
  CloneOk(c, 180, {{"target", "pve3"}, {"full", "1"}, {"storage", "ceph"}});
  json cfg = c.Call("GET", "/nodes/pve3/qemu/180/config").data();
  CHECK(cfg["scsi0"] == "ceph:vm-180-disk-0,size=2252M");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/180/config").status == 500);
  json st = c.Call("GET", "/nodes/pve2/storage/ceph/status").data();
  CHECK(st["shared"] == 1);
  CHECK(st["used"].get<int64_t>() >= (2252LL << 20));
}

TEST_CASE("offline migration moves the VM and its local disks") {
  Sim s;
  Client& c = s.client;
  CloneOk(c, 190, {{"name", "mover"}, {"full", "1"}});
  json pre = c.Call("GET", "/nodes/pve1/qemu/190/migrate", {{"target", "pve2"}}).data();
  CHECK(pre["running"] == 0);
  CHECK(pre["allowed_nodes"] == json{"pve2", "pve3"});
  CHECK(pre["local_disks"].size() == 1);
  Response r = c.Call("POST", "/nodes/pve1/qemu/190/migrate", {{"target", "pve1"}});
  CHECK(r.json["errors"]["target"] == "target is local node.");
  r = c.Call("POST", "/nodes/pve1/qemu/190/migrate", {{"target", "pve2"}});
  REQUIRE(r.status == 200);
  std::smatch m;
  std::string upid = r.data().get<std::string>();
  REQUIRE(std::regex_match(upid, m, kUpid));
  CHECK(m[6] == "qmigrate");
  CHECK(c.WaitTask(upid)["exitstatus"] == "OK");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/190/config").status == 500);
  json cfg = c.Call("GET", "/nodes/pve2/qemu/190/config").data();
  CHECK(cfg["scsi0"] == "local-lvm:vm-190-disk-0,size=2252M");
  r = c.Call("POST", "/nodes/pve2/qemu/190/status/start");
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  r = c.Call("POST", "/nodes/pve2/qemu/190/migrate", {{"target", "pve3"}});
  CHECK(r.reason == "can't migrate running VM without --online");
  r = c.Call("POST", "/nodes/pve2/qemu/190/migrate",
             {{"target", "pve3"}, {"online", "1"}, {"with-local-disks", "1"}});
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  json vm;
  for (const auto& v : c.Call("GET", "/cluster/resources", {{"type", "vm"}}).data()) {
    if (v["vmid"] == 190) vm = v;
  }
  CHECK(vm["node"] == "pve3");
  CHECK(vm["status"] == "running");
}

TEST_CASE("pools and tags") {
  Sim s;
  Client& c = s.client;
  CHECK(c.Call("POST", "/pools", {{"poolid", "k8s"}, {"comment", "cluster"}}).status == 200);
  Response r = c.Call("POST", "/pools", {{"poolid", "k8s"}});
  CHECK(r.status == 500);
  CHECK(r.reason.find("already exists") != std::string::npos);
  CloneOk(c, 120, {{"pool", "k8s"}, {"name", "p1"}});
  json pools = c.Call("GET", "/pools").data();
  REQUIRE(pools.size() == 1);
  CHECK(pools[0]["poolid"] == "k8s");
  json p = c.Call("GET", "/pools/k8s").data();
  REQUIRE(p["members"].size() == 1);
  CHECK(p["members"][0]["id"] == "qemu/120");
  CHECK(c.Call("GET", "/pools", {{"poolid", "k8s"}}).data()[0]["members"].size() == 1);
  r = c.Call("DELETE", "/pools/k8s");
  CHECK(r.status == 500);
  CHECK(r.reason.find("is not empty") != std::string::npos);
  CHECK(c.Call("PUT", "/pools/k8s", {{"vms", "120"}, {"delete", "1"}}).status == 200);
  CHECK(c.Call("DELETE", "/pools/k8s").status == 200);
  CHECK(c.Call("PUT", "/nodes/pve1/qemu/120/config", {{"tags", "b;A a"}}).status == 200);
  CHECK(c.Call("GET", "/nodes/pve1/qemu/120/config").data()["tags"] == "a;b");
  bool tagged = false;
  for (const auto& vm : c.Call("GET", "/cluster/resources", {{"type", "vm"}}).data()) {
    if (vm["vmid"] == 120) tagged = vm["tags"] == "a;b";
  }
  CHECK(tagged);
  CHECK(c.Call("PUT", "/nodes/pve1/qemu/120/config", {{"tags", "bad/tag"}}).status == 400);
}

TEST_CASE("guest agent comes up after a delay and DHCP leases") {
  // The agent comes up 4 s after the start: the "not running" check right
  // after the start task has seconds of margin, even under the sanitizers.
  Sim s({"--timing", "agent=4.0", "--dhcp-range", "10.77.0.0/24"});
  Client& c = s.client;
  CloneOk(c, 130);
  Response r = c.Call("POST", "/nodes/pve1/qemu/130/status/start");
  REQUIRE(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  r = c.Call("GET", "/nodes/pve1/qemu/130/agent/network-get-interfaces");
  CHECK(r.status == 500);
  CHECK(r.reason == "QEMU guest agent is not running");
  std::string ip;
  CHECK(WaitFor(
      [&] {
        Response a = c.Call("GET", "/nodes/pve1/qemu/130/agent/network-get-interfaces");
        if (a.status != 200) return false;
        ip = a.data()["result"][1]["ip-addresses"][0]["ip-address"].get<std::string>();
        return true;
      },
      20s));
  CHECK(ip.starts_with("10.77.0."));
  CHECK(c.Call("POST", "/nodes/pve1/qemu/130/agent/ping").status == 200);
  CHECK(c.Call("PUT", "/nodes/pve1/qemu/130/config", {{"delete", "agent"}}).status == 200);
  // Deleting agent on a running VM stays pending; status/current still shows it.
  CHECK(c.Call("GET", "/nodes/pve1/qemu/130/status/current").data()["agent"] == 1);
}

TEST_CASE("cluster/resources lags behind name and status") {
  // A 4 s lag: the first listing, right after the clone, is seconds inside it.
  Sim s({"--timing", "resources_lag=4.0"});
  Client& c = s.client;
  CloneOk(c, 140, {{"name", "lagging"}});
  json vm;
  for (const auto& v : c.Call("GET", "/cluster/resources", {{"type", "vm"}}).data()) {
    if (v["vmid"] == 140) vm = v;
  }
  CHECK(vm["status"] == "unknown");
  CHECK(vm.count("name") == 0);
  CHECK(vm["node"] == "pve1");
  CHECK(WaitFor(
      [&] {
        for (const auto& v : c.Call("GET", "/cluster/resources", {{"type", "vm"}}).data()) {
          if (v["vmid"] == 140 && v.value("name", "") == "lagging") return v["status"] == "stopped";
        }
        return false;
      },
      20s));
}

TEST_CASE("fault injection: lock timeouts, HTTP 500, dropped connections") {
  Sim s({"--fault", "lock-timeout:clone:1", "--fault", "lock-timeout:config:1", "--fault",
         "http-500:GET:/nodes/pve3/qemu:1:got no worker upid - start worker failed"});
  Client& c = s.client;
  Response r = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "150"}});
  REQUIRE(r.status == 200);
  CHECK(
      c.WaitTask(r.data().get<std::string>())["exitstatus"] ==
      "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/150/config").status == 500);  // Nothing left behind.
  r = c.Call("PUT", "/nodes/pve1/qemu/9000/config", {{"description", "x"}});
  CHECK(r.status == 500);
  CHECK(r.reason == "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout");
  r = c.Call("GET", "/nodes/pve3/qemu");
  CHECK(r.status == 500);
  CHECK(r.reason == "got no worker upid - start worker failed");
  CHECK(c.Call("GET", "/nodes/pve2/qemu").status == 200);

  Sim d({"--fault", "drop-connection:1"});
  r = d.client.Call("GET", "/version");
  CHECK(r.status == 0);
  CHECK_FALSE(r.curl_error.empty());
}

}  // namespace
}  // namespace pvek8s::pvesim::testing
