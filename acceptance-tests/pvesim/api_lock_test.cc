// Black-box tests of config locks that outlive a request: a vzdump task
// holding `backup`, and setting or removing `lock` through config (root@pam
// only; a locked VM only with skiplock, the API's `qm unlock`).
#include <doctest/doctest.h>

#include <chrono>

#include "acceptance-tests/pvesim/api_test_helpers.h"
#include "acceptance-tests/pvesim/test_support.h"

namespace pvek8s::pvesim::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string LockOf(Client& c, int vmid) {
  json cfg = c.Call("GET", "/nodes/pve1/qemu/" + std::to_string(vmid) + "/config").data();
  return cfg.value("lock", "");
}

TEST_CASE("vzdump holds the backup lock for its duration; snapshot mode keeps the VM running") {
  Sim s({"--timing", "vzdump=2"});
  Client& c = s.client;
  CloneOk(c, 100);
  c.WaitTask(c.Call("POST", "/nodes/pve1/qemu/100/status/start").data().get<std::string>());
  auto pid = c.Call("GET", "/nodes/pve1/qemu/100/status/current").data()["pid"];

  Response r = c.Call("POST", "/nodes/pve1/vzdump", {{"vmid", "100"}, {"mode", "snapshot"}});
  REQUIRE(r.status == 200);
  std::string upid = r.data().get<std::string>();
  std::smatch m;
  REQUIRE(std::regex_match(upid, m, kUpid));
  CHECK(m[6] == "vzdump");
  CHECK(m[7] == "100");
  CHECK(LockOf(c, 100) == "backup");
  json st = c.Call("GET", "/nodes/pve1/qemu/100/status/current").data();
  CHECK(st["status"] == "running");
  CHECK(st["lock"] == "backup");
  CHECK(st["pid"] == pid);
  Response put = c.Call("PUT", "/nodes/pve1/qemu/100/config", {{"memory", "3072"}});
  CHECK(put.status == 500);
  CHECK(put.reason == "VM is locked (backup)");
  json active = c.Call("GET", "/nodes/pve1/tasks", {{"source", "active"}, {"vmid", "100"}}).data();
  REQUIRE(active.size() == 1);
  CHECK(active[0]["type"] == "vzdump");

  CHECK(c.WaitTask(upid)["exitstatus"] == "OK");
  CHECK(LockOf(c, 100).empty());
  CHECK(c.Call("GET", "/nodes/pve1/qemu/100/status/current").data()["pid"] == pid);
  CHECK(c.Call("PUT", "/nodes/pve1/qemu/100/config", {{"memory", "3072"}}).status == 200);
  CHECK(c.Call("GET", "/nodes/pve1/tasks", {{"source", "active"}}).data().empty());
}

TEST_CASE("vzdump of a locked VM fails the job; stop mode restarts the guest") {
  Sim s({"--timing", "vzdump=1"});
  Client& c = s.client;
  CloneOk(c, 100);
  CloneOk(c, 101);
  c.WaitTask(c.Call("POST", "/nodes/pve1/qemu/101/status/start").data().get<std::string>());
  Client root(s.proc);
  REQUIRE(root.Login("root@pam", "secret").status == 200);
  REQUIRE(root.Call("PUT", "/nodes/pve1/qemu/100/config", {{"lock", "snapshot"}}).status == 200);

  std::string upid =
      c.Call("POST", "/nodes/pve1/vzdump", {{"vmid", "100"}}).data().get<std::string>();
  CHECK(c.WaitTask(upid)["exitstatus"] == "job errors");
  std::string log = c.Call("GET", "/nodes/pve1/tasks/" + upid + "/log").body;
  CHECK(log.find("Backup of VM 100 failed - VM is locked (snapshot)") != std::string::npos);
  CHECK(LockOf(c, 100) == "snapshot");  // Not vzdump's to remove.

  auto pid = c.Call("GET", "/nodes/pve1/qemu/101/status/current").data()["pid"];
  upid = c.Call("POST", "/nodes/pve1/vzdump", {{"vmid", "101"}, {"mode", "stop"}})
             .data()
             .get<std::string>();
  CHECK(c.Call("GET", "/nodes/pve1/qemu/101/status/current").data()["status"] == "stopped");
  CHECK(c.WaitTask(upid)["exitstatus"] == "OK");
  json st = c.Call("GET", "/nodes/pve1/qemu/101/status/current").data();
  CHECK(st["status"] == "running");
  CHECK(st["pid"] != pid);
}

TEST_CASE("vzdump checks its parameters and privileges") {
  Sim s({"--token", "tf@pve!ro=11111111-2222-3333-4444-555555555555", "--acl",
         "/:PVEAuditor:tf@pve"});
  Client& c = s.client;
  CloneOk(c, 100);
  CHECK(c.Call("POST", "/nodes/pve1/vzdump", {{"vmid", "100"}, {"mode", "hot"}}).status == 400);
  Response r = c.Call("POST", "/nodes/pve1/vzdump", {{"vmid", "100"}, {"tmpdir", "/x"}});
  CHECK(r.status == 400);
  CHECK(r.json["errors"]["tmpdir"] == "Only root may set this option.");
  CHECK(c.Call("POST", "/nodes/pve1/vzdump", {{"vmid", "100"}, {"storage", "nope"}}).status == 500);
  CHECK(c.Call("POST", "/nodes/pve2/vzdump", {{"vmid", "100"}}).reason ==
        "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist");
  Client ro(s.proc);
  ro.UseToken("tf@pve!ro=11111111-2222-3333-4444-555555555555");
  r = ro.Call("POST", "/nodes/pve1/vzdump", {{"vmid", "100"}});
  CHECK(r.status == 403);
  CHECK(r.reason.find("Datastore.AllocateSpace") != std::string::npos);
}

TEST_CASE("only root@pam sets or removes a lock; a locked VM needs skiplock (qm unlock)") {
  Sim s;
  Client& c = s.client;
  CloneOk(c, 100);
  Response r = c.Call("PUT", "/nodes/pve1/qemu/100/config", {{"lock", "backup"}});
  CHECK(r.status == 500);
  CHECK(r.reason == "only root can set 'lock' config");  // A root@pam token is not root@pam.
  Client root(s.proc);
  REQUIRE(root.Login("root@pam", "secret").status == 200);
  CHECK(root.Call("PUT", "/nodes/pve1/qemu/100/config", {{"lock", "suspended"}}).status == 200);
  CHECK(LockOf(c, 100) == "suspended");
  CHECK(c.Call("PUT", "/nodes/pve1/qemu/100/config", {{"delete", "lock"}}).reason ==
        "only root can set 'lock' config");
  r = root.Call("PUT", "/nodes/pve1/qemu/100/config", {{"lock", "backup"}});
  CHECK(r.reason == "VM is locked (suspended)");
  r = root.Call("PUT", "/nodes/pve1/qemu/100/config", {{"delete", "lock"}});
  CHECK(r.reason == "VM is locked (suspended)");
  CHECK(LockOf(c, 100) == "suspended");
  r = root.Call("PUT", "/nodes/pve1/qemu/100/config", {{"delete", "lock"}, {"skiplock", "1"}});
  CHECK(r.status == 200);
  CHECK(LockOf(c, 100).empty());
  CHECK(c.Call("PUT", "/nodes/pve1/qemu/100/config", {{"memory", "3072"}}).status == 200);
}

}  // namespace
}  // namespace pvek8s::pvesim::testing
