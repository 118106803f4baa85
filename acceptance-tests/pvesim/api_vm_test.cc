// Black-box tests of the VM lifecycle: nextid, clones (parallel, contended,
// failing), configuration, resize, power, agent, delete, create and template.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
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

TEST_CASE("nextid: no reservation, a string, and the vmid check") {
  Sim s;
  Client& c = s.client;
  Response r = c.Call("GET", "/cluster/nextid");
  REQUIRE(r.status == 200);
  CHECK(r.data() == "100");
  CHECK(c.Call("GET", "/cluster/nextid").data() == "100");  // Nothing reserved.
  CHECK(c.Call("GET", "/cluster/nextid", {{"vmid", "4242"}}).data() == "4242");
  r = c.Call("GET", "/cluster/nextid", {{"vmid", "9000"}});
  CHECK(r.status == 400);
  CHECK(r.json["errors"]["vmid"] == "VM 9000 already exists");
  CHECK(c.Call("GET", "/cluster/nextid", {{"vmid", "99"}}).status == 400);
}

TEST_CASE("two clients racing for the same nextid: exactly one wins") {
  Sim s;
  Client a(s.proc), b(s.proc);
  a.UseToken(kToken);
  b.UseToken(kToken);
  std::string id_a = a.Call("GET", "/cluster/nextid").data().get<std::string>();
  std::string id_b = b.Call("GET", "/cluster/nextid").data().get<std::string>();
  REQUIRE(id_a == id_b);
  Response ra, rb;
  std::thread ta([&] {
    ra = a.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", id_a}, {"name", "a"}});
  });
  std::thread tb([&] {
    rb = b.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", id_b}, {"name", "b"}});
  });
  ta.join();
  tb.join();
  int wins = (ra.status == 200) + (rb.status == 200);
  CHECK(wins == 1);
  const Response& loser = ra.status == 200 ? rb : ra;
  CHECK(loser.status == 500);
  CHECK(loser.reason == "unable to create VM " + id_a + ": config file already exists");
  const Response& winner = ra.status == 200 ? ra : rb;
  CHECK(a.WaitTask(winner.data().get<std::string>())["exitstatus"] == "OK");
  Response cfg = a.Call("GET", "/nodes/pve1/qemu/" + id_a + "/config");
  CHECK(cfg.data()["name"] == (ra.status == 200 ? "a" : "b"));
  // Creating over an existing id fails the same way for POST /qemu.
  Response create = a.Call("POST", "/nodes/pve1/qemu", {{"vmid", id_a}});
  CHECK(create.status == 500);
  CHECK(create.reason.find("already exists") != std::string::npos);
}

TEST_CASE("ten parallel clones of one template all succeed") {
  Sim s;
  std::vector<std::thread> threads;
  threads.reserve(10);
  std::atomic<int> ok{0};
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&, i] {
      Client c(s.proc);
      c.UseToken(kToken);
      Response r = c.Call("POST", "/nodes/pve1/qemu/9000/clone",
                          {{"newid", std::to_string(200 + i)},
                           {"name", "w" + std::to_string(i)},
                           {"full", "1"},
                           {"storage", "local-lvm"}});
      if (r.status != 200) return;
      if (c.WaitTask(r.data().get<std::string>()).value("exitstatus", "") == "OK") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 10);
  Response r = s.client.Call("GET", "/cluster/resources", {{"type", "vm"}});
  std::set<int> ids;
  std::set<std::string> macs;
  for (const auto& vm : r.data()) ids.insert(vm["vmid"].get<int>());
  for (int i = 0; i < 10; ++i) {
    CHECK(ids.count(200 + i) == 1);
    json cfg =
        s.client.Call("GET", "/nodes/pve1/qemu/" + std::to_string(200 + i) + "/config").data();
    macs.insert(cfg["net0"].get<std::string>());
    CHECK(cfg["scsi0"] == "local-lvm:vm-" + std::to_string(200 + i) + "-disk-0,size=2252M");
  }
  CHECK(macs.size() == 10);  // Every clone gets a new MAC.
}

// Clones 9000 to 101 and checks the UPID, the task status and log.
void CloneAndItsTask(Client& c) {
  std::string upid = CloneOk(c, 101, {{"name", "k8s-w1"}, {"target", "pve1"}});
  std::smatch m;
  REQUIRE(std::regex_match(upid, m, kUpid));
  CHECK(m[1] == "pve1");
  CHECK(m[6] == "qmclone");
  CHECK(m[7] == "9000");  // The source vmid.
  CHECK(m[8] == "root@pam!tf");
  json st = c.Call("GET", "/nodes/pve1/tasks/" + upid + "/status").data();
  CHECK(st["user"] == "root@pam");
  CHECK(st["tokenid"] == "tf");
  CHECK(st["type"] == "qmclone");
  Response log = c.Call("GET", "/nodes/pve1/tasks/" + upid + "/log");
  REQUIRE(log.data().is_array());
  CHECK(log.data().back()["t"] == "TASK OK");
  CHECK(log.json["total"] == log.data().size());
  CHECK(c.Call("GET", "/nodes/pve1/tasks/UPID:pve1:00000001:00000001:00000001:x:1:a@b:/status")
            .json["errors"]["upid"] == "no such task");
}

// Linked-clone disks, cloud-init options, digest and config errors.
void ConfigureCloudinit(Client& c) {
  // Linked clone from a template is the default; the disk points at the base.
  json cfg = c.Call("GET", "/nodes/pve1/qemu/101/config").data();
  CHECK(cfg["scsi0"] == "local-lvm:base-9000-disk-0/vm-101-disk-0,size=2252M");
  CHECK(cfg["ide2"] == "local-lvm:vm-101-cloudinit,media=cdrom");
  CHECK(cfg.count("template") == 0);
  CHECK(cfg["name"] == "k8s-w1");
  std::string digest = cfg["digest"].get<std::string>();
  CHECK(digest.size() == 40);

  // Cloud-init settings, sshkeys stored URL-encoded, tags normalised, password masked.
  std::string keys = "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIGg%2B%20me%40host";
  Response r = c.Call("PUT", "/nodes/pve1/qemu/101/config",
                      {{"ciuser", "ubuntu"},
                       {"cipassword", "pw"},
                       {"sshkeys", keys},
                       {"ipconfig0", "ip=10.0.0.5/24,gw=10.0.0.1"},
                       {"tags", "k8s,Worker,k8s"},
                       {"cores", "4"},
                       {"memory", "8192"},
                       {"agent", "1"},
                       {"digest", digest}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  cfg = c.Call("GET", "/nodes/pve1/qemu/101/config").data();
  CHECK(cfg["sshkeys"] == keys);
  CHECK(cfg["tags"] == "k8s;worker");
  CHECK(cfg["cipassword"] == "**********");
  CHECK(cfg["cores"] == 4);
  CHECK(cfg["memory"] == "8192");
  r = c.Call("PUT", "/nodes/pve1/qemu/101/config", {{"cores", "2"}, {"digest", digest}});
  CHECK(r.status == 500);
  CHECK(r.reason == "checksum mismatch (file change by other user?)");
  r = c.Call("PUT", "/nodes/pve1/qemu/101/config", {{"sshkeys", "garbage"}});
  CHECK(r.reason == "SSH public key validation error");
  r = c.Call("PUT", "/nodes/pve1/qemu/101/config", {{"cores", "2"}, {"delete", "cores"}});
  CHECK(r.status == 400);
  r = c.Call("PUT", "/nodes/pve1/qemu/101/config", {{"delete", "nosuchopt"}});
  CHECK(r.json["errors"]["delete"] == "unknown option 'nosuchopt'");

  // Before the first start no cloud-init image exists: everything is pending.
  for (const auto& item : c.Call("GET", "/nodes/pve1/qemu/101/cloudinit").data()) {
    CHECK(item.count("pending") == 1);
    CHECK(item.count("value") == 0);
  }
  // Errors found before the worker forks are HTTP errors even for POST.
  CHECK(c.Call("POST", "/nodes/pve1/qemu/101/config", {{"onboot", "yes"}}).status == 400);
  CHECK(c.Call("POST", "/nodes/pve1/qemu/101/config").reason == "no options specified");
}

// POST config with a warning; resize grows only.
void AsyncConfigAndResize(Client& c) {
  Response r;
  json st;
  // Async config with a warning for deleting an unset option.
  r = c.Call("POST", "/nodes/pve1/qemu/101/config", {{"delete", "balloon"}, {"onboot", "1"}});
  REQUIRE(r.status == 200);
  st = c.WaitTask(r.data().get<std::string>());
  CHECK(st["exitstatus"] == "WARNINGS: 1");
  CHECK(st["type"] == "qmconfig");

  // Resize: grow with '+', absolute, never shrink.
  r = c.Call("PUT", "/nodes/pve1/qemu/101/resize", {{"disk", "scsi0"}, {"size", "+10G"}});
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/101/config").data()["scsi0"] ==
        "local-lvm:base-9000-disk-0/vm-101-disk-0,size=12492M");
  r = c.Call("PUT", "/nodes/pve1/qemu/101/resize", {{"disk", "scsi0"}, {"size", "20G"}});
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/101/config").data()["scsi0"] ==
        "local-lvm:base-9000-disk-0/vm-101-disk-0,size=20G");
  r = c.Call("PUT", "/nodes/pve1/qemu/101/resize", {{"disk", "scsi0"}, {"size", "5G"}});
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] ==
        "shrinking disks is not supported");
  r = c.Call("PUT", "/nodes/pve1/qemu/101/resize", {{"disk", "scsi5"}, {"size", "+1G"}});
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "disk 'scsi5' does not exist");
  r = c.Call("PUT", "/nodes/pve1/qemu/101/resize", {{"disk", "ide2"}, {"size", "+1G"}});
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "you can't resize a cdrom");
}

// Start, a second start, and the agent reporting ipconfig0.
void StartAndReadAgent(Client& c) {
  Response r;
  json st;
  // Agent before start; start; agent reports the ipconfig0 address.
  r = c.Call("GET", "/nodes/pve1/qemu/101/agent/network-get-interfaces");
  CHECK(r.status == 500);
  CHECK(r.reason == "VM 101 is not running");
  r = c.Call("POST", "/nodes/pve1/qemu/101/status/start");
  st = c.WaitTask(r.data().get<std::string>());
  CHECK(st["exitstatus"] == "OK");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/101/status/current").data()["status"] == "running");
  r = c.Call("POST", "/nodes/pve1/qemu/101/status/start");
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "VM 101 already running");
  r = c.Call("GET", "/nodes/pve1/qemu/101/agent/network-get-interfaces");
  REQUIRE(r.status == 200);
  json eth0 = r.data()["result"][1];
  CHECK(eth0["name"] == "eth0");
  CHECK(eth0["ip-addresses"][0]["ip-address"] == "10.0.0.5");
  CHECK(eth0["ip-addresses"][0]["prefix"] == 24);
}

// Pending changes on a running VM; reboot applies them.
void PendingWhileRunning(Client& c) {
  Response r;
  // Running VM: cores stays pending, cloud-init and name apply at once.
  r = c.Call("PUT", "/nodes/pve1/qemu/101/config",
             {{"cores", "8"}, {"name", "k8s-w1b"}, {"ipconfig0", "ip=10.0.0.6/24,gw=10.0.0.1"}});
  REQUIRE(r.status == 200);
  json pending = c.Call("GET", "/nodes/pve1/qemu/101/pending").data();
  bool cores_pending = false;
  for (const auto& item : pending) {
    if (item["key"] == "cores") cores_pending = item["value"] == 4 && item["pending"] == 8;
    if (item["key"] == "name") CHECK(item.count("pending") == 0);
  }
  CHECK(cores_pending);
  CHECK(c.Call("GET", "/nodes/pve1/qemu/101/config", {{"current", "1"}}).data()["cores"] == 4);
  CHECK(c.Call("GET", "/nodes/pve1/qemu/101/config").data()["cores"] == 8);
  json ci = c.Call("GET", "/nodes/pve1/qemu/101/cloudinit").data();
  bool ip_pending = false;
  for (const auto& item : ci) {
    if (item["key"] == "ipconfig0") {
      ip_pending = item["value"] == "ip=10.0.0.5/24,gw=10.0.0.1" &&
                   item["pending"] == "ip=10.0.0.6/24,gw=10.0.0.1";
    }
  }
  CHECK(ip_pending);
  CHECK(c.Call("PUT", "/nodes/pve1/qemu/101/cloudinit").status == 200);
  for (const auto& item : c.Call("GET", "/nodes/pve1/qemu/101/cloudinit").data()) {
    CHECK(item.count("pending") == 0);
  }
  // Reboot applies pending changes.
  r = c.Call("POST", "/nodes/pve1/qemu/101/status/reboot");
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/101/config", {{"current", "1"}}).data()["cores"] == 8);
}

// Delete needs a stopped VM; a used base volume stays.
void StopAndDelete(Client& c) {
  Response r;
  // Delete needs the VM stopped.
  r = c.Call("DELETE", "/nodes/pve1/qemu/101", {{"purge", "1"}});
  CHECK(r.status == 500);
  CHECK(r.reason == "VM 101 is running - destroy failed");
  r = c.Call("POST", "/nodes/pve1/qemu/101/status/shutdown",
             {{"forceStop", "1"}, {"timeout", "60"}});
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  r = c.Call("POST", "/nodes/pve1/qemu/101/status/stop");
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");  // Already stopped: no-op.
  // The template's base volume is in use by the linked clone.
  r = c.Call("DELETE", "/nodes/pve1/qemu/9000");
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] ==
        "base volume 'local-lvm:base-9000-disk-0' is still in use by linked cloned");
  r = c.Call("DELETE", "/nodes/pve1/qemu/101",
             {{"purge", "1"}, {"destroy-unreferenced-disks", "1"}});
  REQUIRE(r.status == 200);
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/101/config").status == 500);
  json content = c.Call("GET", "/nodes/pve1/storage/local-lvm/content").data();
  for (const auto& v : content) CHECK(v["vmid"] != 101);
}

TEST_CASE("clone, configure, pending, digest, resize, power, agent, delete") {
  Sim s;
  Client& c = s.client;
  CloneAndItsTask(c);
  ConfigureCloudinit(c);
  AsyncConfigAndResize(c);
  StartAndReadAgent(c);
  PendingWhileRunning(c);
  StopAndDelete(c);
}

TEST_CASE("config lock while cloning, clone errors and storage") {
  // The clone runs 5 s; the four checks of the running clone below take
  // milliseconds, so even a loaded sanitizer build stays far inside it.
  Sim s({"--timing", "clone_base=5"});
  Client& c = s.client;
  Response r = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "300"}, {"full", "1"}});
  REQUIRE(r.status == 200);
  std::string upid = r.data().get<std::string>();
  CHECK(c.Call("GET", "/nodes/pve1/tasks/" + upid + "/status").data()["status"] == "running");
  Response cfg = c.Call("GET", "/nodes/pve1/qemu/300/config");
  CHECK(cfg.data()["lock"] == "clone");
  r = c.Call("PUT", "/nodes/pve1/qemu/300/config", {{"cores", "2"}});
  CHECK(r.status == 500);
  CHECK(r.reason == "VM is locked (clone)");
  bool listed_locked = false;
  for (const auto& vm : c.Call("GET", "/cluster/resources", {{"type", "vm"}}).data()) {
    if (vm["vmid"] == 300) listed_locked = vm["lock"] == "clone";
  }
  CHECK(listed_locked);
  CHECK(c.WaitTask(upid)["exitstatus"] == "OK");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/300/config").data().count("lock") == 0);

  r = c.Call("POST", "/nodes/pve1/qemu/9000/clone",
             {{"newid", "301"}, {"full", "0"}, {"storage", "local-lvm"}});
  CHECK(r.json["errors"]["storage"] == "parameter 'storage' not allowed for linked clones");
  r = c.Call("POST", "/nodes/pve1/qemu/9000/clone",
             {{"newid", "301"}, {"storage", "nope"}, {"full", "1"}});
  CHECK(r.reason == "storage 'nope' does not exist");
  r = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "301"}, {"pool", "nopool"}});
  CHECK(r.status == 403);
  CHECK(r.reason == "Permission check failed (pool 'nopool' does not exist)");
  r = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "301"}, {"target", "pve2"}});
  CHECK(r.reason == "can't clone VM to node 'pve2' (VM uses local storage)");
  r = c.Call("POST", "/nodes/pve1/qemu/300/clone", {{"newid", "301"}, {"full", "0"}});
  CHECK(r.reason.starts_with("Linked clone feature is not supported"));

  json storages = c.Call("GET", "/nodes/pve1/storage", {{"content", "images"}}).data();
  REQUIRE(storages.size() == 1);
  CHECK(storages[0]["storage"] == "local-lvm");
  CHECK(storages[0]["type"] == "lvmthin");
  json st = c.Call("GET", "/nodes/pve1/storage/local-lvm/status").data();
  CHECK(st["total"].get<int64_t>() > st["used"].get<int64_t>());
  json content = c.Call("GET", "/nodes/pve1/storage/local-lvm/content", {{"vmid", "300"}}).data();
  std::set<std::string> volids;
  for (const auto& v : content) volids.insert(v["volid"].get<std::string>());
  CHECK(volids == std::set<std::string>{"local-lvm:vm-300-cloudinit", "local-lvm:vm-300-disk-0"});
}

TEST_CASE("lock contention fails the way Proxmox does") {
  // pvesim reserves a task's locks when its request arrives, so the outcome
  // depends only on how far apart two requests are, never on scheduling:
  // a full clone holds the storage lock while copying 2252M at 2 s/GiB
  // (~4.4 s) and a second clone to the same storage gives up after 0.3 s, so
  // the second request may come up to ~4 s later (it takes milliseconds, even
  // under the sanitizers on 2 busy cores). Likewise a start holds the VM's
  // flock for 5 s against a config update that waits 0.3 s. The measured gaps
  // name the cause should a machine ever be that slow.
  Sim s({"--timing", "clone_per_gib=2", "--timing", "storage_lock_timeout=0.3", "--timing",
         "start=5.0", "--timing", "vm_lock_timeout=0.3"});
  Client& c = s.client;
  auto t0 = std::chrono::steady_clock::now();
  Response a = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "310"}, {"full", "1"}});
  Response b = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "311"}, {"full", "1"}});
  auto gap = std::chrono::steady_clock::now() - t0;
  REQUIRE_MESSAGE(gap < 3s, "the two clone requests took ",
                  std::chrono::duration<double>(gap).count(), " s, beyond this test's margin");
  REQUIRE(a.status == 200);
  REQUIRE(b.status == 200);
  CHECK(
      c.WaitTask(b.data().get<std::string>())["exitstatus"] ==
      "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout");
  CHECK(c.WaitTask(a.data().get<std::string>())["exitstatus"] == "OK");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/311/config").status == 500);
  // A start holds the VM's flock for 5 s; a synchronous config update waits
  // 0.3 s for it and then answers HTTP 500.
  t0 = std::chrono::steady_clock::now();
  Response start = c.Call("POST", "/nodes/pve1/qemu/310/status/start");
  REQUIRE(start.status == 200);
  Response put = c.Call("PUT", "/nodes/pve1/qemu/310/config", {{"cores", "4"}});
  gap = std::chrono::steady_clock::now() - t0;
  REQUIRE_MESSAGE(gap < 4s, "start and config update took ",
                  std::chrono::duration<double>(gap).count(), " s, beyond this test's margin");
  CHECK(put.status == 500);
  CHECK(put.reason == "can't lock file '/var/lock/qemu-server/lock-310.conf' - got timeout");
  CHECK(c.WaitTask(start.data().get<std::string>())["exitstatus"] == "OK");
  CHECK(c.Call("PUT", "/nodes/pve1/qemu/310/config", {{"cores", "4"}}).status == 200);
}

TEST_CASE("create a VM with new disks, turn it into a template, plain HTTP is redirected") {
  Sim s;
  Client& c = s.client;
  Response r = c.Call("POST", "/nodes/pve2/qemu",
                      {{"vmid", "500"},
                       {"name", "fresh"},
                       {"memory", "current=4096"},
                       {"scsi0", "local-lvm:8,iothread=1"},
                       {"ide2", "local-lvm:cloudinit"},
                       {"net0", "virtio,bridge=vmbr0"},
                       {"scsihw", "virtio-scsi-single"}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  json cfg = c.Call("GET", "/nodes/pve2/qemu/500/config").data();
  CHECK(cfg["scsi0"] == "local-lvm:vm-500-disk-0,iothread=1,size=8G");
  CHECK(cfg["ide2"] == "local-lvm:vm-500-cloudinit,media=cdrom");
  CHECK(std::regex_match(cfg["net0"].get<std::string>(),
                         std::regex("^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0$")));
  CHECK(c.Call("GET", "/nodes/pve2/qemu/500/status/current").data()["maxmem"] == 4096LL << 20);
  r = c.Call("POST", "/nodes/pve2/qemu", {{"vmid", "500"}});
  CHECK(r.reason == "unable to create VM 500 - VM 500 already exists on node 'pve2'");
  r = c.Call("POST", "/nodes/pve2/qemu/500/template");
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  cfg = c.Call("GET", "/nodes/pve2/qemu/500/config").data();
  CHECK(cfg["template"] == 1);
  CHECK(cfg["scsi0"] == "local-lvm:base-500-disk-0,iothread=1,size=8G");
  r = c.Call("POST", "/nodes/pve2/qemu/500/status/start");
  CHECK(c.WaitTask(r.data().get<std::string>())["exitstatus"] ==
        "you can't start a vm if it's a template");
  // Detaching a disk keeps the volume as unused0; deleting unused0 frees it.
  CloneOk(c, 501, {{"full", "1"}}, "pve2", 500);
  REQUIRE(c.Call("PUT", "/nodes/pve2/qemu/501/config", {{"scsi1", "local-lvm:2"}}).status == 200);
  REQUIRE(c.Call("PUT", "/nodes/pve2/qemu/501/config", {{"delete", "scsi1"}}).status == 200);
  cfg = c.Call("GET", "/nodes/pve2/qemu/501/config").data();
  CHECK(cfg["unused0"] == "local-lvm:vm-501-disk-1");
  REQUIRE(c.Call("PUT", "/nodes/pve2/qemu/501/config", {{"delete", "unused0"}}).status == 200);
  json vols = c.Call("GET", "/nodes/pve2/storage/local-lvm/content", {{"vmid", "501"}}).data();
  CHECK(vols.size() == 2);  // disk-0 and the cloud-init drive.

  // Plain HTTP on the TLS port gets a redirect to https.
  std::string plain = s.proc.url();
  plain.replace(0, 5, "http");
  Response red = PlainGet(plain + "/api2/json/version");
  CHECK(red.status == 301);
  CHECK(red.headers["location"].starts_with("https://127.0.0.1:"));
}

}  // namespace
}  // namespace pvek8s::pvesim::testing
