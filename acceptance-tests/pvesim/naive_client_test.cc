// A client written for a real Proxmox VE, with no knowledge of pvesim: token
// auth, nextid, clone the template found by name, configure cloud-init, start,
// read the IP from the guest agent, stop, delete. Only documented API calls
// and the documented retry conditions are used.
#include <doctest/doctest.h>

#include <filesystem>
#include <optional>
#include <thread>

#include "acceptance-tests/pvesim/test_support.h"

namespace pvek8s::pvesim::testing {
namespace {

using nlohmann::json;

class ProxmoxClient {
 public:
  ProxmoxClient(Client* http) : http_(http) {}

  // Waits for a task like the Go clients do: poll status until stopped.
  std::string Run(const Response& r) {
    if (r.status != 200 || !r.data().is_string()) return "dispatch failed: " + r.reason;
    return http_->WaitTask(r.data().get<std::string>()).value("exitstatus", "timeout");
  }

  std::optional<std::pair<std::string, int>> FindTemplate(const std::string& name) {
    Response r = http_->Call("GET", "/cluster/resources", {{"type", "vm"}});
    for (const auto& vm : r.data()) {
      if (vm.value("name", "") == name && vm.value("template", 0) == 1) {
        return std::make_pair(vm["node"].get<std::string>(), vm["vmid"].get<int>());
      }
    }
    return std::nullopt;
  }

  // Telmate's loop: nextid, clone, retry while the error says "already exists".
  int CloneFresh(const std::string& node, int tmpl, const std::string& name) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      Response id = http_->Call("GET", "/cluster/nextid");
      std::string newid = id.data().get<std::string>();
      Response r =
          http_->Call("POST", "/nodes/" + node + "/qemu/" + std::to_string(tmpl) + "/clone",
                      {{"newid", newid},
                       {"name", name},
                       {"full", "1"},
                       {"target", node},
                       {"storage", "local-lvm"}});
      std::string status = Run(r);
      if (status == "OK") return std::stoi(newid);
      if (status.find("already exists") == std::string::npos &&
          r.reason.find("already exists") == std::string::npos) {
        return -1;
      }
    }
    return -1;
  }

  std::string AgentIPv4(const std::string& node, int vmid) {
    std::string ip;
    WaitFor(
        [&] {
          Response r = http_->Call("GET", "/nodes/" + node + "/qemu/" + std::to_string(vmid) +
                                              "/agent/network-get-interfaces");
          if (r.status != 200) {
            // Both are "not yet" for a booting guest.
            return !(r.reason.starts_with("QEMU guest agent is not running") ||
                     r.reason.find("is not running") != std::string::npos) &&
                   r.status != 500;
          }
          json result = r.data()["result"];
          for (const auto& nic : result) {
            if (nic["name"] == "lo") continue;
            for (const auto& a : nic["ip-addresses"]) {
              if (a["ip-address-type"] == "ipv4") ip = a["ip-address"].get<std::string>();
            }
          }
          return !ip.empty();
        },
        std::chrono::seconds(10));
    return ip;
  }

 private:
  Client* http_;
};

TEST_CASE("a naive Proxmox client completes the whole VM lifecycle") {
  std::string dir = MakeTempDir();
  {
    PveSimProcess sim(dir, {"--token", "terraformuser@pam!tf=9f1c1d1e-2b7a-4c55-8f0e-6b2f8b1c3d4e",
                            "--timing", "agent=0.3"});
    REQUIRE(sim.ok());
    Client http(sim);
    http.UseToken("terraformuser@pam!tf=9f1c1d1e-2b7a-4c55-8f0e-6b2f8b1c3d4e");
    ProxmoxClient pve(&http);

    REQUIRE(http.Call("GET", "/version").status == 200);
    auto tmpl = pve.FindTemplate("ubuntu-2204-template");
    REQUIRE(tmpl.has_value());
    auto [node, tmpl_id] = *tmpl;
    int vmid = pve.CloneFresh(node, tmpl_id, "k8spps1");
    REQUIRE(vmid >= 100);
    std::string path = "/nodes/" + node + "/qemu/" + std::to_string(vmid);

    Response cfg = http.Call("GET", path + "/config");
    REQUIRE(cfg.status == 200);
    Response put = http.Call("PUT", path + "/config",
                             {{"cores", "8"},
                              {"sockets", "1"},
                              {"cpu", "host"},
                              {"memory", "8192"},
                              {"onboot", "1"},
                              {"agent", "1"},
                              {"scsihw", "virtio-scsi-single"},
                              {"ciuser", "ubuntu"},
                              {"sshkeys", "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIJ8x%20lab%40pps"},
                              {"ipconfig0", "ip=192.168.100.171/24,gw=192.168.100.1"},
                              {"nameserver", "192.168.100.1"},
                              {"digest", cfg.data()["digest"].get<std::string>()}});
    REQUIRE_MESSAGE(put.status == 200, put.body);
    REQUIRE(pve.Run(http.Call("PUT", path + "/resize", {{"disk", "scsi0"}, {"size", "20G"}})) ==
            "OK");
    REQUIRE(pve.Run(http.Call("POST", path + "/status/start")) == "OK");
    CHECK(pve.AgentIPv4(node, vmid) == "192.168.100.171");
    CHECK(http.Call("GET", path + "/status/current").data()["status"] == "running");
    REQUIRE(pve.Run(http.Call("POST", path + "/status/stop", {{"overrule-shutdown", "1"}})) ==
            "OK");
    REQUIRE(pve.Run(http.Call("DELETE", path,
                              {{"purge", "1"}, {"destroy-unreferenced-disks", "1"}})) == "OK");
    Response gone = http.Call("GET", path + "/status/current");
    CHECK(gone.status == 500);
    CHECK(gone.reason.find("does not exist") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pvek8s::pvesim::testing
