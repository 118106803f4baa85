// Black-box tests: pvesim as a child process on 127.0.0.1:0, spoken to over
// HTTPS with the certificate it printed, exactly as a Proxmox client would.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "acceptance-tests/pvesim/test_support.h"

namespace pvek8s::pvesim::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kToken[] = "root@pam!tf=0b6a5c2e-8f1d-4c3a-9e7b-2d4f6a8c0e1f";
const std::regex kUpid(
    R"(^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$)");

struct Sim {
  explicit Sim(std::vector<std::string> extra = {}, std::string dir = MakeTempDir())
      : data(dir), proc(dir, WithToken(std::move(extra))), client(proc) {
    REQUIRE(proc.ok());
    client.UseToken(kToken);
  }
  static std::vector<std::string> WithToken(std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--token", kToken, "--user", "root@pam:secret", "--seed", "7"});
    return extra;
  }
  ~Sim() { std::filesystem::remove_all(data); }
  std::string data;
  PveSimProcess proc;
  Client client;
};

std::string CloneOk(Client& c, int newid,
                    std::vector<std::pair<std::string, std::string>> extra = {},
                    const std::string& node = "pve1", int source = 9000) {
  extra.emplace_back("newid", std::to_string(newid));
  Response r =
      c.Call("POST", "/nodes/" + node + "/qemu/" + std::to_string(source) + "/clone", extra);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  std::string upid = r.data().get<std::string>();
  json st = c.WaitTask(upid);
  REQUIRE_MESSAGE(st.value("exitstatus", "") == "OK", st.dump());
  return upid;
}

// A plain-HTTP GET (no TLS) with a raw socket; returns status and headers.
Response PlainGet(const std::string& url) {
  Response r;
  std::string rest = url.substr(7);
  std::string hostport = rest.substr(0, rest.find('/'));
  std::string path = rest.substr(hostport.size());
  int port = std::stoi(hostport.substr(hostport.find(':') + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + hostport + "\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) r.body.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  if (r.body.starts_with("HTTP/1.1 ")) r.status = std::stoi(r.body.substr(9, 3));
  size_t loc = r.body.find("Location: ");
  if (loc != std::string::npos) {
    r.headers["location"] = r.body.substr(loc + 10, r.body.find("\r\n", loc) - loc - 10);
  }
  return r;
}

TEST_CASE("ready line, TLS and the certificate fingerprint") {
  Sim s;
  const json& ready = s.proc.ready();
  CHECK(ready["url"].get<std::string>().starts_with("https://127.0.0.1:"));
  CHECK(std::regex_match(s.proc.fingerprint(), std::regex("^([0-9A-F]{2}:){31}[0-9A-F]{2}$")));
  CHECK(std::filesystem::exists(s.proc.ca_pem()));
  CHECK(ready["data"].get<std::string>() == std::filesystem::absolute(s.data).string());
  Response r = s.client.Call("GET", "/version");
  CHECK(r.status == 200);
  CHECK(r.data()["version"] == "8.4.1");
  CHECK(r.data()["release"] == "8.4");
  CHECK(r.headers["content-type"] == "application/json;charset=UTF-8");
  CHECK(r.headers["server"] == "pve-api-daemon/3.0");
  CHECK(s.client.Call("GET", "/nodes").data()[0]["ssl_fingerprint"] == s.proc.fingerprint());
  CHECK(s.proc.Stop() == 0);
}

TEST_CASE("a certificate given with --cert/--key is used instead of a generated one") {
  Sim first;
  std::string cert = first.data + "/pvesim-cert.pem";
  std::string key = first.data + "/pvesim-key.pem";
  Sim second({"--cert", cert, "--key", key});
  CHECK(second.proc.fingerprint() == first.proc.fingerprint());
  CHECK(second.proc.ca_pem() == cert);
  CHECK_FALSE(std::filesystem::exists(second.data + "/pvesim-cert.pem"));
  CHECK(second.client.Call("GET", "/version").status == 200);
}

TEST_CASE("authentication: tokens, tickets, CSRF and the 401 shapes") {
  Sim s;
  Client c(s.proc);
  Response r = c.Call("GET", "/version");
  CHECK(r.status == 401);
  CHECK(r.reason == "No ticket");
  CHECK(r.body.empty());
  CHECK(r.headers.count("content-type") == 0);

  c.UseToken("root@pam!tf=wrong");
  r = c.Call("GET", "/version");
  CHECK(r.status == 401);
  CHECK(r.reason == "Authentication failed!");
  CHECK(r.body.empty());

  // Both separators after PVEAPIToken: '=' and a space.
  c.ClearAuth();
  c.SetHeader("Authorization", std::string("PVEAPIToken ") + kToken);
  CHECK(c.Call("GET", "/version").status == 200);
  c.SetHeader("Authorization", std::string("PVEAPIToken=") + kToken);
  CHECK(c.Call("POST", "/pools", {{"poolid", "viatoken"}}).status == 200);  // No CSRF for tokens.

  Client t(s.proc);
  r = t.Login("root@pam", "nope");
  CHECK(r.status == 401);
  CHECK(r.reason == "authentication failure");
  CHECK(r.json["message"] == "authentication failure\n");
  CHECK(r.json["data"].is_null());

  r = t.Login("root@pam", "secret");
  REQUIRE(r.status == 200);
  CHECK(r.data()["username"] == "root@pam");
  CHECK(std::regex_match(r.data()["ticket"].get<std::string>(),
                         std::regex(R"(^PVE:root@pam:[0-9A-F]{8}::\S+$)")));
  CHECK(std::regex_match(r.data()["CSRFPreventionToken"].get<std::string>(),
                         std::regex(R"(^[0-9A-F]{8}:\S+$)")));
  CHECK(t.Call("GET", "/nodes").status == 200);
  CHECK(t.Call("POST", "/pools", {{"poolid", "viaticket"}}).status == 200);

  // A ticket without the CSRF header on a POST.
  Client bare(s.proc);
  bare.SetHeader("Cookie", "PVEAuthCookie=" + r.data()["ticket"].get<std::string>());
  CHECK(bare.Call("GET", "/version").status == 200);
  Response no_csrf = bare.Call("POST", "/pools", {{"poolid", "nocsrf"}});
  CHECK(no_csrf.status == 401);
  CHECK(no_csrf.reason == "Permission denied - invalid csrf token");
  // The same ticket in the Authorization header (Telmate's way).
  Client hdr(s.proc);
  hdr.SetHeader("Authorization", "PVEAuthCookie=" + r.data()["ticket"].get<std::string>());
  CHECK(hdr.Call("GET", "/version").status == 200);
  // A forged ticket.
  Client forged(s.proc);
  forged.SetHeader("Cookie", "PVEAuthCookie=PVE:root@pam:6650A1B2::c2ln");
  CHECK(forged.Call("GET", "/version").reason == "Authentication failed!");
  // Tickets cannot be fetched with a token (allowtoken 0), but the endpoint is public.
  CHECK(s.client.Call("GET", "/access/domains").status == 200);
}

TEST_CASE("an expired token is refused like a wrong one") {
  Sim s({"--token", "tf@pve!old=old-secret,expire=1000000000,privsep=0", "--token",
         "tf@pve!new=new-secret,expire=4102444800"});
  Client old(s.proc);
  old.UseToken("tf@pve!old=old-secret");
  Response r = old.Call("GET", "/version");
  CHECK(r.status == 401);
  CHECK(r.reason == "Authentication failed!");
  Client fresh(s.proc);
  fresh.UseToken("tf@pve!new=new-secret");
  CHECK(fresh.Call("GET", "/version").status == 200);
}

TEST_CASE("privilege-separated tokens get only their own ACL") {
  Sim s({"--token", "tf@pve!ro=ro-secret,privsep=1", "--acl", "/vms/9000:PVEAuditor:tf@pve!ro",
         "--acl", "/storage:PVEDatastoreUser:tf@pve!ro"});
  Client c(s.proc);
  c.UseToken("tf@pve!ro=ro-secret");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/9000/config").status == 200);
  Response r = c.Call("GET", "/nodes/pve2/qemu/9001/config");
  CHECK(r.status == 403);
  CHECK(r.reason == "Permission check failed (/vms/9001, VM.Audit)");
  CHECK(r.json["message"] == "Permission check failed (/vms/9001, VM.Audit)\n");
  r = c.Call("GET", "/cluster/resources", {{"type", "vm"}});
  REQUIRE(r.status == 200);
  REQUIRE(r.data().size() == 1);
  CHECK(r.data()[0]["vmid"] == 9000);
  r = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "150"}});
  CHECK(r.status == 403);
  CHECK(r.reason == "Permission check failed (/vms/9000, VM.Clone)");
  r = c.Call("GET", "/nodes/pve1/status");
  CHECK(r.status == 403);
  CHECK(r.reason == "Permission check failed (/nodes/pve1, Sys.Audit)");
  CHECK(c.Call("GET", "/nodes/pve1/storage").data().size() == 2);
  // What the token may do, as clients ask before acting.
  r = c.Call("GET", "/access/permissions", {{"path", "/vms/9000"}});
  REQUIRE(r.status == 200);
  CHECK(r.data()["/vms/9000"].contains("VM.Audit"));
  CHECK_FALSE(r.data()["/vms/9000"].contains("VM.Clone"));
  r = c.Call("GET", "/access/permissions", {{"path", "/vms/9001"}});
  CHECK(r.data()["/vms/9001"].empty());
  CHECK(c.Call("GET", "/access/permissions", {{"userid", "root@pam"}}).status == 403);
}

TEST_CASE("envelope and error shapes") {
  Sim s;
  Client& c = s.client;
  Response r = c.Call("GET", "/nodes/pve1/foo");
  CHECK(r.status == 501);
  CHECK(r.reason == "Method 'GET /nodes/pve1/foo' not implemented");
  CHECK(r.json ==
        json{{"data", nullptr}, {"message", "Method 'GET /nodes/pve1/foo' not implemented"}});
  r = c.Call("PUT", "/version");
  CHECK(r.status == 501);
  r = c.Raw("PATCH", "/version", "", "");
  CHECK(r.status == 501);
  CHECK(r.reason == "method 'PATCH' not available");
  r = c.Raw("DELETE", "/nodes/pve1/qemu/9000", "purge=1", "application/x-www-form-urlencoded");
  CHECK(r.status == 501);
  CHECK(r.reason == "Unexpected content for method 'DELETE'");
  r = c.Raw("POST", "/pools", "poolid=x", "text/plain");
  CHECK(r.status == 506);

  r = c.Call("GET", "/nodes/pve1/qemu/123/config");
  CHECK(r.status == 500);
  CHECK(r.reason == "Configuration file 'nodes/pve1/qemu-server/123.conf' does not exist");
  CHECK(r.json["message"] ==
        "Configuration file 'nodes/pve1/qemu-server/123.conf' does not exist\n");
  // The VM exists, but on another node.
  r = c.Call("GET", "/nodes/pve2/qemu/9000/config");
  CHECK(r.reason == "Configuration file 'nodes/pve2/qemu-server/9000.conf' does not exist");
  r = c.Call("GET", "/nodes/nosuch/qemu");
  CHECK(r.status == 500);
  CHECK(r.reason.starts_with("hostname lookup 'nosuch' failed"));

  r = c.Call("PUT", "/nodes/pve1/qemu/9000/config", {{"onboot", "true"}, {"bogus", "1"}});
  CHECK(r.status == 400);
  CHECK(r.reason == "Parameter verification failed.");
  CHECK(r.json["message"] == "Parameter verification failed.\n");
  CHECK(r.json["errors"]["onboot"] == "type check ('boolean') failed - got 'true'");
  CHECK(r.json["errors"]["bogus"] ==
        "property is not defined in schema and the schema does not allow additional properties");
  r = c.Call("GET", "/nodes/pve1/qemu/abc/config");
  CHECK(r.status == 400);
  CHECK(r.json["errors"]["vmid"] == "type check ('integer') failed - got 'abc'");
  r = c.Call("PUT", "/nodes/pve1/qemu/9000/resize", {{"disk", "scsi0"}, {"size", "+1G;rm"}});
  CHECK(r.json["errors"]["size"] == "value does not match the regex pattern");
  r = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "200"}, {"vmid", "9001"}});
  CHECK(r.json["errors"]["vmid"] ==
        "duplicate parameter (already defined in URI) with conflicting values!");

  // JSON bodies take true/false for booleans.
  CloneOk(c, 101);
  r = c.Raw("PUT", "/nodes/pve1/qemu/101/config", R"({"onboot": true, "cores": 3})",
            "application/json");
  CHECK(r.status == 200);
  CHECK(r.json == json{{"data", nullptr}});
  r = c.Call("GET", "/nodes/pve1/qemu/101/config");
  CHECK(r.data()["onboot"] == 1);
  CHECK(r.data()["cores"] == 3);
  r = c.Raw("PUT", "/nodes/pve1/qemu/101/config", "{not json", "application/json");
  CHECK(r.status == 500);
  r = c.Call("PUT", "/nodes/pve1/qemu/101/config");
  CHECK(r.status == 500);
  CHECK(r.reason == "no options specified");
}

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

TEST_CASE("clone, configure, pending, digest, resize, power, agent, delete") {
  Sim s;
  Client& c = s.client;
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

TEST_CASE("config lock while cloning, clone errors and storage") {
  Sim s({"--timing", "clone_base=1.5"});
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
  // Full clones hold the storage lock while copying 2252M at 0.5 s/GiB (~1.1 s);
  // a second clone to the same storage gives up after 0.3 s.
  Sim s({"--timing", "clone_per_gib=0.5", "--timing", "storage_lock_timeout=0.3", "--timing",
         "start=2.0", "--timing", "vm_lock_timeout=0.3"});
  Client& c = s.client;
  Response a = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "310"}, {"full", "1"}});
  Response b = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "311"}, {"full", "1"}});
  REQUIRE(a.status == 200);
  REQUIRE(b.status == 200);
  CHECK(
      c.WaitTask(b.data().get<std::string>())["exitstatus"] ==
      "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout");
  CHECK(c.WaitTask(a.data().get<std::string>())["exitstatus"] == "OK");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/311/config").status == 500);
  // A start holds the VM's flock for 2 s; a synchronous config update waits
  // 0.3 s for it and then answers HTTP 500.
  Response start = c.Call("POST", "/nodes/pve1/qemu/310/status/start");
  REQUIRE(start.status == 200);
  Response put = c.Call("PUT", "/nodes/pve1/qemu/310/config", {{"cores", "4"}});
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

TEST_CASE("--seed makes runs reproducible; --legacy-errors drops the message") {
  auto mac_of_clone = [](const std::vector<std::string>& args) {
    Sim s(args);
    CloneOk(s.client, 170);
    return s.client.Call("GET", "/nodes/pve1/qemu/170/config").data()["net0"].get<std::string>();
  };
  std::string a = mac_of_clone({"--seed", "42"});
  CHECK(a == mac_of_clone({"--seed", "42"}));
  CHECK(a != mac_of_clone({"--seed", "43"}));

  Sim legacy({"--legacy-errors"});
  Response r = legacy.client.Call("GET", "/nodes/pve1/qemu/123/config");
  CHECK(r.status == 500);
  CHECK(r.reason == "Configuration file 'nodes/pve1/qemu-server/123.conf' does not exist");
  CHECK(r.json == json{{"data", nullptr}});
}

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
  CloneOk(c, 190, {{"name", "mover"}});
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
  Sim s({"--timing", "agent=1.0", "--dhcp-range", "10.77.0.0/24"});
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
      5s));
  CHECK(ip.starts_with("10.77.0."));
  CHECK(c.Call("POST", "/nodes/pve1/qemu/130/agent/ping").status == 200);
  CHECK(c.Call("PUT", "/nodes/pve1/qemu/130/config", {{"delete", "agent"}}).status == 200);
  // Deleting agent on a running VM stays pending; status/current still shows it.
  CHECK(c.Call("GET", "/nodes/pve1/qemu/130/status/current").data()["agent"] == 1);
}

TEST_CASE("cluster/resources lags behind name and status") {
  Sim s({"--timing", "resources_lag=1.0"});
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
      5s));
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

TEST_CASE("restart keeps every VM and the certificate") {
  std::string dir = MakeTempDir();
  std::string fingerprint, digest;
  {
    PveSimProcess p(dir, Sim::WithToken({}));
    REQUIRE(p.ok());
    fingerprint = p.fingerprint();
    Client c(p);
    c.UseToken(kToken);
    CloneOk(c, 160, {{"name", "persist"}});
    REQUIRE(c.Call("PUT", "/nodes/pve1/qemu/160/config", {{"cores", "6"}}).status == 200);
    REQUIRE(c.Call("POST", "/pools", {{"poolid", "kept"}}).status == 200);
    Response r = c.Call("POST", "/nodes/pve1/qemu/160/status/start");
    REQUIRE(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
    digest = c.Call("GET", "/nodes/pve1/qemu/160/config").data()["digest"].get<std::string>();
    CHECK(p.Stop() == 0);
  }
  // Damaged files are skipped with a warning, not fatal.
  {
    std::ofstream(dir + "/vms/123.json") << R"({"vmid": 123, "node": 5, "conf": []})";
    std::ofstream(dir + "/vms/124.json") << "{garbage";
  }
  {
    PveSimProcess p(dir, Sim::WithToken({}));
    REQUIRE(p.ok());
    CHECK(p.fingerprint() == fingerprint);
    Client c(p);
    c.UseToken(kToken);
    json cfg = c.Call("GET", "/nodes/pve1/qemu/160/config").data();
    CHECK(cfg["name"] == "persist");
    CHECK(cfg["cores"] == 6);
    CHECK(cfg["digest"] == digest);
    CHECK(c.Call("GET", "/nodes/pve1/qemu/160/status/current").data()["status"] == "running");
    CHECK(c.Call("GET", "/pools").data()[0]["poolid"] == "kept");
    CHECK(c.Call("GET", "/nodes/pve2/qemu/9001/config").data()["name"] == "ubuntu-2204-template");
    CHECK(c.Call("GET", "/nodes/pve1/qemu/123/config").status == 500);
  }
  std::filesystem::remove_all(dir);
}

// Raw TLS bytes: garbage must get an HTTP error, never a crash.
std::string RawExchange(const PveSimProcess& p, const std::string& bytes) {
  int port = std::stoi(p.url().substr(p.url().rfind(':') + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return "";
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  std::string out;
  if (SSL_connect(ssl) == 1) {
    SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size()));
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return out;
}

TEST_CASE("malformed requests get HTTP errors and the server survives") {
  Sim s;
  CHECK(RawExchange(s.proc, "GARBAGE\r\n\r\n").starts_with("HTTP/1.1 400"));
  CHECK(RawExchange(s.proc, "GET / HTTP/9.9\r\n\r\n").starts_with("HTTP/1.1 505"));
  CHECK(RawExchange(s.proc, "POST /api2/json/pools HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            .starts_with("HTTP/1.1 501"));
  CHECK(RawExchange(s.proc,
                    "GET /api2/json/version HTTP/1.1\r\nX: " + std::string(10000, 'a') + "\r\n\r\n")
            .starts_with("HTTP/1.1 431"));
  CHECK(RawExchange(s.proc, "GET /nothing HTTP/1.1\r\nConnection: close\r\n\r\n")
            .starts_with("HTTP/1.1 501"));
  // Keep-alive: two requests on one connection, both answered.
  std::string two = RawExchange(
      s.proc, std::string("GET /api2/json/version HTTP/1.1\r\nAuthorization: PVEAPIToken=") +
                  kToken +
                  "\r\n\r\nGET /api2/json/version HTTP/1.1\r\nConnection: close\r\n"
                  "Authorization: PVEAPIToken=" +
                  kToken + "\r\n\r\n");
  size_t first = two.find("HTTP/1.1 200");
  CHECK(first != std::string::npos);
  CHECK(two.find("HTTP/1.1 200", first + 1) != std::string::npos);
  CHECK(s.client.Call("GET", "/version").status == 200);
}

}  // namespace
}  // namespace pvek8s::pvesim::testing
