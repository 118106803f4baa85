// pvesim as Proxmox VE 9.x (the default) and 8.x (--pve-version 8.4.1):
// the guest-agent privileges, built-in roles and the 9.x-only parameters of
// the endpoints the provider calls (issue 14).
#include <doctest/doctest.h>

#include "acceptance-tests/pvesim/api_test_helpers.h"

namespace pvek8s::pvesim::testing {
namespace {

// A stopped VM 101 and one privilege-separated token per role, each with
// that role on /vms: "ag" (agent audit), "un" (agent unrestricted), "mon"
// (VM.Monitor, 8.x only) and "none" (no agent privilege).
struct AgentSim {
  explicit AgentSim(const std::string& version) : s(Args(version)) { CloneOk(s.client, 101); }
  static std::vector<std::string> Args(const std::string& version) {
    bool nine = version.starts_with("9.");
    std::vector<std::string> a = {"--pve-version", version, "--role", "None:VM.Audit"};
    std::vector<std::string> tokens = {"none"};
    if (nine) {
      a.insert(a.end(), {"--role", "Ag:VM.Audit,VM.GuestAgent.Audit", "--role",
                         "Un:VM.Audit VM.GuestAgent.Unrestricted"});
      tokens.insert(tokens.end(), {"ag", "un"});
    } else {
      a.insert(a.end(), {"--role", "Mon:VM.Audit;VM.Monitor"});
      tokens.emplace_back("mon");
    }
    for (const std::string& t : tokens) {
      std::string role = t == "none" ? "None" : t == "ag" ? "Ag" : t == "un" ? "Un" : "Mon";
      a.insert(a.end(), {"--token", "tf@pve!" + t + "=s-" + t + ",privsep=1", "--acl",
                         "/vms:" + role + ":tf@pve!" + t});
    }
    return a;
  }
  // GET agent/network-get-interfaces of VM 101 with token `t`.
  Response Agent(const std::string& t) {
    Client c(s.proc);
    c.UseToken("tf@pve!" + t + "=s-" + t);
    return c.Call("GET", "/nodes/pve1/qemu/101/agent/network-get-interfaces");
  }
  Sim s;
};

TEST_CASE("9.x: agent reads need VM.GuestAgent.Audit or .Unrestricted") {
  AgentSim a("9.1.1");
  CHECK(a.s.client.Call("GET", "/version").data()["version"] == "9.1.1");
  // Past the privilege check, the stopped VM is what stops the call.
  CHECK(a.Agent("ag").reason == "VM 101 is not running");
  CHECK(a.Agent("un").reason == "VM 101 is not running");
  Response r = a.Agent("none");
  CHECK(r.status == 403);
  CHECK(r.reason ==
        "Permission check failed (/vms/101, VM.GuestAgent.Audit|VM.GuestAgent.Unrestricted)");
}

TEST_CASE("8.x: agent reads need VM.Monitor") {
  AgentSim a("8.4.1");
  CHECK(a.s.client.Call("GET", "/version").data()["release"] == "8.4");
  CHECK(a.Agent("mon").reason == "VM 101 is not running");
  Response r = a.Agent("none");
  CHECK(r.status == 403);
  CHECK(r.reason == "Permission check failed (/vms/101, VM.Monitor)");
}

TEST_CASE("built-in roles follow the release: PVEVMAdmin has VM.Monitor on 8.x only") {
  for (const char* version : {"8.4.1", "9.1.1"}) {
    Sim s({"--pve-version", version, "--token", "tf@pve!rr=s-r,privsep=1", "--acl",
           "/:PVEVMAdmin+PVEAuditor:tf@pve!rr"});
    Client c(s.proc);
    c.UseToken("tf@pve!rr=s-r");
    auto privs = c.Call("GET", "/access/permissions", {{"path", "/vms"}}).data()["/vms"];
    bool nine = std::string(version).starts_with("9");
    CHECK_MESSAGE(privs.contains("VM.Monitor") == !nine, version);
    CHECK_MESSAGE(privs.contains("VM.GuestAgent.Audit") == nine, version);
    CHECK_MESSAGE(privs.contains("VM.Replicate") == nine, version);
  }
}

TEST_CASE("9.x parameters of config and start are refused by 8.x") {
  for (const char* version : {"8.4.1", "9.1.1"}) {
    Sim s({"--pve-version", version});
    CloneOk(s.client, 101);
    bool nine = std::string(version).starts_with("9");
    Response r = s.client.Call("PUT", "/nodes/pve1/qemu/101/config", {{"allow-ksm", "0"}});
    CHECK_MESSAGE(r.status == (nine ? 200 : 400), version);
    if (!nine) {
      CHECK(r.json["errors"]["allow-ksm"] ==
            "property is not defined in schema and the schema does not allow additional "
            "properties");
    }
    r = s.client.Call("POST", "/nodes/pve1/qemu/101/status/start", {{"with-conntrack-state", "0"}});
    CHECK_MESSAGE(r.status == (nine ? 200 : 400), version);
    if (nine) CHECK(s.client.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  }
}

}  // namespace
}  // namespace pvek8s::pvesim::testing
