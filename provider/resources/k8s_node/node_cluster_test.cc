// Unit tests of proxmox_k8s_node's decisions that ask the cluster: plan
// checks, placement, id reservation and crash recovery, against a scripted
// Proxmox (FakeTransport) instead of a server.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "provider/framework/resource.h"
#include "provider/framework/schema.h"
#include "provider/pve/client.h"
#include "provider/pve/fake_transport.h"
#include "provider/resources/k8s_node/marker.h"
#include "provider/resources/k8s_node/node_apply.h"
#include "provider/resources/k8s_node/node_model.h"
#include "provider/resources/k8s_node/node_schema.h"
#include "provider/resources/k8s_node/placement.h"
#include "provider/resources/k8s_node/plan_checks.h"
#include "provider/resources/k8s_node/recovery.h"

namespace pvek8s::resources::node {
namespace {

using nlohmann::json;
using pve::FakeTransport;
using pve::HttpRequest;
using tftypes::Type;
using tftypes::Value;

// A three-node cluster: pve1 and pve2 hold template 9000 "ubuntu-2204";
// pve3 is offline. VMs live in `vms` (node -> listing) and `configs`.
struct FakeCluster {
  FakeCluster() {
    auto transport = std::make_unique<FakeTransport>();
    fake = transport.get();
    pve::ClientOptions o;
    o.endpoint = "https://pve.test:8006";
    o.token_id = "terraform@pam!test";
    o.token_secret = "00000000-0000-0000-0000-000000000000";
    o.backoff_base = std::chrono::milliseconds(1);
    o.max_attempts = 2;
    client = std::make_unique<pve::Client>(std::move(o), std::move(transport));
    vms["pve1"] = json::array({{{"vmid", 9000},
                                {"name", "ubuntu-2204"},
                                {"template", 1},
                                {"status", "stopped"},
                                {"maxdisk", 10737418240}}});
    vms["pve2"] = json::array({{{"vmid", 9001},
                                {"name", "ubuntu-2204"},
                                {"template", 1},
                                {"status", "stopped"},
                                {"maxdisk", 10737418240}}});
    configs[9000] = {
        {"name", "ubuntu-2204"}, {"template", 1}, {"scsi0", "local-lvm:base-9000-disk-0,size=10G"}};
    configs[9001] = configs[9000];
    fake->On("GET", "/version", [this](const HttpRequest&) {
      return FakeTransport::Data({{"version", version}});
    });
    fake->On("GET", "/nodes", [](const HttpRequest&) {
      return FakeTransport::Data(json::array(
          {{{"node", "pve1"}, {"status", "online"}, {"mem", 8 << 20}, {"maxmem", 64 << 20}},
           {{"node", "pve2"}, {"status", "online"}, {"mem", 8 << 20}, {"maxmem", 64 << 20}},
           {{"node", "pve3"}, {"status", "offline"}}}));
    });
    for (const char* n : {"pve1", "pve2"}) {
      std::string node = n;
      fake->On("GET", "/nodes/" + node + "/qemu",
               [this, node](const HttpRequest&) { return FakeTransport::Data(vms[node]); });
      fake->On("GET", "/nodes/" + node + "/storage", [](const HttpRequest&) {
        return FakeTransport::Data(
            json::array({{{"storage", "local-lvm"}}, {{"storage", "local"}}}));
      });
      fake->On("GET", "/nodes/" + node + "/storage/local-lvm/status", [](const HttpRequest&) {
        return FakeTransport::Data({{"total", 1}});
      });
    }
    fake->On("GET", "/access/permissions", [this](const HttpRequest& r) {
      std::string path;
      for (const auto& [k, v] : r.params) {
        if (k == "path") path = v;
      }
      json privs = json::object();
      for (const auto& p : granted) privs[p] = 1;
      return FakeTransport::Data({{path, privs}});
    });
  }

  // A VM `vmid` named `name` on `node`, with `description`.
  void AddVm(const std::string& node, int64_t vmid, const std::string& name,
             const std::string& description, const std::string& lock = "") {
    json entry = {{"vmid", vmid}, {"name", name}, {"status", "running"}};
    if (!lock.empty()) entry["lock"] = lock;
    vms[node].push_back(entry);
    configs[vmid] = {{"name", name}, {"description", description}};
    if (!lock.empty()) configs[vmid]["lock"] = lock;
    ServeConfig(node, vmid);
  }
  void ServeConfig(const std::string& node, int64_t vmid) {
    fake->On("GET", "/nodes/" + node + "/qemu/" + std::to_string(vmid) + "/config",
             [this, vmid](const HttpRequest&) { return FakeTransport::Data(configs[vmid]); });
  }

  Value Plan(std::map<std::string, Value> attrs) {
    Type t = framework::ImpliedType(NodeSchema().block);
    attrs.emplace("name", Value::String("k8spps1"));
    attrs.emplace("template", Value::String("ubuntu-2204"));
    return Value::Object(t, std::move(attrs));
  }

  std::vector<std::string> Errors(const Value& plan) {
    ClusterSnapshot snapshot;
    framework::Diagnostics diags;
    snapshot.Check(*client, plan, diags);
    std::vector<std::string> out;
    for (const auto& d : diags.items()) out.push_back(d.summary + ": " + d.detail);
    return out;
  }

  FakeTransport* fake = nullptr;
  std::unique_ptr<pve::Client> client;
  std::map<std::string, json> vms;
  std::map<int64_t, json> configs;
  std::string version = "8.4.1";
  // docs/proxmox-privileges.md's 8.4 role.
  std::vector<std::string> granted = {"VM.Audit",
                                      "VM.Clone",
                                      "VM.Allocate",
                                      "VM.Config.CPU",
                                      "VM.Config.Cloudinit",
                                      "VM.Config.Disk",
                                      "VM.Config.Memory",
                                      "VM.Config.Network",
                                      "VM.Config.Options",
                                      "VM.PowerMgmt",
                                      "VM.Monitor",
                                      "Datastore.AllocateSpace",
                                      "SDN.Use"};
};

bool HasError(const std::vector<std::string>& errors, const std::string& text) {
  for (const auto& e : errors) {
    if (e.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST_CASE("plan checks: a plan the cluster can satisfy has no error") {
  FakeCluster c;
  for (const auto& [n, f] : {std::pair("pve1", 9000), std::pair("pve2", 9001)}) {
    c.ServeConfig(n, f);
  }
  auto errors = c.Errors(c.Plan({{"target_node", Value::String("pve1")}}));
  CHECK(errors.empty());
}

TEST_CASE("plan checks name what the apply would trip over") {
  FakeCluster c;
  c.ServeConfig("pve1", 9000);
  c.ServeConfig("pve2", 9001);
  SUBCASE("template") {
    auto e = c.Errors(
        c.Plan({{"template", Value::String("debian-12")}, {"target_node", Value::String("pve1")}}));
    CHECK(HasError(e, "Template not found: no template \"debian-12\" on any online node"));
  }
  SUBCASE("target node unknown or offline") {
    CHECK(HasError(c.Errors(c.Plan({{"target_node", Value::String("pve9")}})),
                   "Unknown target node: Node \"pve9\" is not in the cluster; the cluster's "
                   "nodes are pve1, pve2, pve3."));
    CHECK(HasError(c.Errors(c.Plan({{"target_node", Value::String("pve3")}})),
                   "Target node offline"));
  }
  SUBCASE("candidates") {
    Value nodes = Value::List(Type::String(), {Value::String("pve3"), Value::String("pvex")});
    CHECK(HasError(c.Errors(c.Plan({{"target_nodes", nodes}})),
                   "Unknown node in target_nodes: pvex is not in the cluster"));
  }
  SUBCASE("a vmid someone else uses; ours with the planned name is no conflict") {
    c.AddVm("pve2", 300, "db", "");
    auto e = c.Errors(c.Plan({{"target_node", Value::String("pve1")}, {"vmid", Value::Int(300)}}));
    CHECK(HasError(e, "VM id in use: VM id 300 is already used by \"db\" on pve2."));
    c.AddVm("pve2", 301, "k8spps1", FormatMarker({"abc", "ubuntu-2204", "worker", true}));
    e = c.Errors(c.Plan({{"target_node", Value::String("pve1")}, {"vmid", Value::Int(301)}}));
    CHECK_FALSE(HasError(e, "VM id in use"));
  }
  SUBCASE("storage, disk size and pool") {
    Type dt = framework::ImpliedType(NodeSchema().block).attributes().at("disk");
    Value disk = Value::Object(dt, {{"size", Value::String("5G")},
                                    {"storage", Value::String("fast")},
                                    {"iothread", Value::Bool(false)}});
    c.fake->On("GET", "/nodes/pve1/storage/fast/status", [](const HttpRequest&) {
      return FakeTransport::Error(500, "storage 'fast' does not exist");
    });
    c.fake->On("GET", "/pools", [](const HttpRequest&) {
      return FakeTransport::Error(500, "pool 'lab' does not exist");
    });
    auto e = c.Errors(c.Plan(
        {{"target_node", Value::String("pve1")}, {"disk", disk}, {"pool", Value::String("lab")}}));
    CHECK(HasError(e,
                   "Unknown storage: Storage \"fast\" does not exist on pve1; it has local, "
                   "local-lvm."));
    CHECK(HasError(e,
                   "Disk smaller than the template's: disk.size 5G is smaller than the disk "
                   "of template \"ubuntu-2204\" (10G)"));
    CHECK(HasError(e, "Unknown pool: Pool \"lab\" does not exist."));
  }
  SUBCASE("every missing privilege at once") {
    c.granted = {"VM.Clone", "VM.Allocate"};
    auto e = c.Errors(c.Plan({{"target_node", Value::String("pve1")}}));
    CHECK(HasError(e,
                   "Missing privileges: The API token terraform@pam!test lacks VM.Audit on "
                   "/vms/9000; VM.Audit, VM.Config.CPU, VM.Config.Cloudinit, VM.Config.Disk, "
                   "VM.Config.Memory, VM.Config.Network, VM.Config.Options, VM.PowerMgmt, "
                   "VM.Monitor on /vms (Proxmox VE 8.x names)."));
  }
}

// The guest-agent privilege of a node without a static address, as the
// release in /version names it (issue 14): VM.Monitor on 8.x,
// VM.GuestAgent.Audit on 9.x, where VM.Monitor does not exist.
TEST_CASE("plan checks name the agent privilege of the Proxmox VE release") {
  FakeCluster c;
  c.ServeConfig("pve1", 9000);
  Type it = framework::ImpliedType(NodeSchema().block).attributes().at("ip");
  auto ip = [&](const char* address) {
    return Value::Object(
        it, {{"address", Value::String(address)}, {"gateway", Value::Null(Type::String())}});
  };
  auto plan = [&](const char* address) {
    return c.Plan({{"target_node", Value::String("pve1")}, {"ip", ip(address)}});
  };
  std::erase(c.granted, "VM.Monitor");
  SUBCASE("8.4 without VM.Monitor") {
    CHECK(HasError(c.Errors(plan("dhcp")), "lacks VM.Monitor on /vms (Proxmox VE 8.x names)"));
    CHECK(c.Errors(plan("192.168.100.171/24")).empty());  // static: no agent read
  }
  SUBCASE("9.1 names VM.GuestAgent.Audit, never VM.Monitor") {
    c.version = "9.1.1";
    auto e = c.Errors(plan("dhcp"));
    CHECK(HasError(e, "lacks VM.GuestAgent.Audit on /vms (Proxmox VE 9.x names)"));
    CHECK_FALSE(HasError(e, "VM.Monitor"));
    CHECK(HasError(c.Errors(c.Plan({{"target_node", Value::String("pve1")}})),
                   "VM.GuestAgent.Audit"));  // no ip block: DHCP too
    c.granted.emplace_back("VM.Monitor");    // what an 8.4 role carried over would hold
    CHECK(HasError(c.Errors(plan("dhcp")), "VM.GuestAgent.Audit"));
    c.granted.emplace_back("VM.GuestAgent.Unrestricted");
    CHECK(c.Errors(plan("dhcp")).empty());
  }
  SUBCASE("9.1 with VM.GuestAgent.Audit") {
    c.version = "9.1.1";
    c.granted.emplace_back("VM.GuestAgent.Audit");
    CHECK(c.Errors(plan("dhcp")).empty());
  }
}

TEST_CASE("a create plan never duplicates a node: the existing VM is named, with its import") {
  FakeCluster c;
  c.ServeConfig("pve1", 9000);
  c.ServeConfig("pve2", 9001);
  Value plan = c.Plan({{"target_node", Value::String("pve1")}});
  SUBCASE("ours, from a configuration whose state is lost: the import block adopts it") {
    c.AddVm("pve2", 101, "k8spps1", FormatMarker({"abc", "ubuntu-2204", "worker", true}));
    CHECK(HasError(c.Errors(plan),
                   "Node already exists: A VM named \"k8spps1\" already exists: vmid 101 on "
                   "pve2."));
    CHECK(HasError(c.Errors(plan),
                   "import {\n  to = <address, e.g. proxmox_k8s_node.n[0]>\n  "
                   "id = \"pve2/101\"\n}"));
    CHECK(HasError(c.Errors(plan), "remove that setting: a node and its replacement cannot"));
  }
  SUBCASE("someone else's: named, no import offered") {
    c.AddVm("pve2", 300, "k8spps1", "made by hand");
    auto e = c.Errors(plan);
    CHECK(HasError(e, "vmid 300 on pve2"));
    CHECK(HasError(e, "does not carry pvek8s's ownership marker"));
    CHECK_FALSE(HasError(e, "import {"));
  }
  SUBCASE("an interrupted create of this configuration is resumed, not a duplicate") {
    OwnerMarker m{"abc", "ubuntu-2204", "worker", true, true, CreateOrigin("k8spps1")};
    c.AddVm("pve2", 102, "k8spps1", FormatMarker(m));
    CHECK(c.Errors(plan).empty());
    m.origin = CreateOrigin("another-name");  // another checkout's interrupted create
    c.configs[102]["description"] = FormatMarker(m);
    CHECK(HasError(c.Errors(plan), "Node already exists"));
  }
  SUBCASE("the VM this process planned as a prior state is being replaced") {
    c.AddVm("pve2", 103, "k8spps1", FormatMarker({"abc", "ubuntu-2204", "worker", true}));
    ClusterSnapshot snapshot;
    framework::Diagnostics diags;
    snapshot.ClaimPrior(103);
    snapshot.Check(*c.client, plan, diags);
    CHECK_FALSE(diags.HasError());
  }
  SUBCASE("a VM deleted since the listing (a replacement's destroy) is gone, not a duplicate") {
    c.AddVm("pve2", 104, "k8spps1", FormatMarker({"abc", "ubuntu-2204", "worker", true}));
    c.fake->On("GET", "/nodes/pve2/qemu/104/config", [](const HttpRequest&) {
      return FakeTransport::Error(500,
                                  "Configuration file 'nodes/pve2/qemu-server/104.conf' "
                                  "does not exist");
    });
    CHECK(c.Errors(plan).empty());
  }
}

TEST_CASE("placement spreads parallel creates: what this process placed counts") {
  FakeCluster c;
  std::vector<TemplateRef> tmpl{{"pve1", 9000, "ubuntu-2204"}, {"pve2", 9001, "ubuntu-2204"}};
  PendingPlacements pending;
  auto first = pending.Place(*c.client, tmpl, {}, 4096);
  auto second = pending.Place(*c.client, tmpl, {}, 4096);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(*first == "pve1");   // equal nodes: the name decides
  CHECK(*second == "pve2");  // pve1 has 4 GiB less now
  pending.ReleaseMemory("pve1", int64_t{4096} << 20);
  pending.ReleaseCount("pve1");
  CHECK(*pending.Place(*c.client, tmpl, {}, 4096) == "pve1");
  CHECK(pending.Place(*c.client, tmpl, {"pve3"}, 4096).status().code() == StatusCode::kNotFound);
}

TEST_CASE("the id ledger never hands out an id twice, and skips ids Proxmox says are taken") {
  FakeCluster c;
  c.fake->On("GET", "/cluster/nextid", [](const HttpRequest& r) {
    for (const auto& [k, v] : r.params) {
      if (k == "vmid" && v == "101") return FakeTransport::Error(400, "VM 101 already exists");
      if (k == "vmid") return FakeTransport::Data(v);
    }
    return FakeTransport::Data("100");
  });
  IdLedger ledger;
  CHECK(*ledger.Reserve(*c.client) == 100);
  CHECK(*ledger.Reserve(*c.client) == 102);  // 100 is ours already, 101 taken
  CHECK(*ledger.Reserve(*c.client, 100, 103) == 103);
  CHECK(ledger.Reserve(*c.client, 100, 103).status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("crash recovery: resume our interrupted create, delete our half-made clones only") {
  FakeCluster c;
  OwnerMarker want{"", "ubuntu-2204", "worker", true, true, CreateOrigin("k8spps1")};
  OwnerMarker left = want;
  left.owner = "dead1";
  OwnerMarker foreign = want;
  foreign.owner = "other";
  foreign.origin = "someone-else";
  c.AddVm("pve1", 120, "k8spps1", FormatMarker(left));
  c.AddVm("pve2", 121, "k8spps1", FormatMarker(foreign));
  c.AddVm("pve2", 122, "k8spps1", FormatMarker(left));
  std::vector<NamedVm> named;
  auto templates = FindTemplates(*c.client, "ubuntu-2204", "k8spps1", &named);
  REQUIRE(templates.ok());
  CHECK(templates->size() == 2);
  REQUIRE(named.size() == 3);
  std::vector<NamedVm> leftovers;
  auto resumed = FindInterrupted(*c.client, named, {std::nullopt, "pve1"}, want, leftovers);
  REQUIRE(resumed.has_value());
  CHECK(resumed->vmid == 120);
  CHECK(want.owner == "dead1");
  REQUIRE(leftovers.size() == 1);  // 122: ours, but not on the planned node
  CHECK(leftovers[0].vmid == 122);
  Ledger().Release(120);

  c.fake->On("GET", "/nodes/pve2/qemu/122/status/current", [](const HttpRequest&) {
    return FakeTransport::Data({{"status", "stopped"}});
  });
  c.fake->On("DELETE", "/nodes/pve2/qemu/122", [](const HttpRequest&) {
    return FakeTransport::Data("UPID:pve2:00000001:00000001:00000001:qmdestroy:122:root@pam:");
  });
  c.fake->On(
      "GET",
      "/nodes/pve2/tasks/UPID:pve2:00000001:00000001:00000001:qmdestroy:122:root@pam:/status",
      [](const HttpRequest&) {
        return FakeTransport::Data({{"status", "stopped"}, {"exitstatus", "OK"}});
      });
  CleanUpLeftovers(*c.client, leftovers, "k8spps1", want.origin,
                   std::chrono::steady_clock::now() + std::chrono::seconds(5));
  CHECK(c.fake->Count("DELETE", "/nodes/pve2/qemu/122") == 1);
  CHECK(c.fake->Count("DELETE", "/nodes/pve2/qemu/121") == 0);
}

TEST_CASE("a clone answer lost in transit is adopted only when it carries our marker") {
  FakeCluster c;
  OwnerMarker ours{"me", "ubuntu-2204", "worker", true, true, "o"};
  c.AddVm("pve1", 130, "k8spps1", FormatMarker(ours));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  Status lost = UnavailableError("connection reset");
  CHECK(AdoptLostClone(*c.client, {"pve1", 130}, ours, deadline, lost).ok());
  OwnerMarker theirs = ours;
  theirs.owner = "you";
  CHECK(AdoptLostClone(*c.client, {"pve1", 130}, theirs, deadline, lost).code() ==
        StatusCode::kAlreadyExists);
  c.fake->On("GET", "/nodes/pve1/qemu/131/config", [](const HttpRequest&) {
    return FakeTransport::Error(500,
                                "Configuration file 'nodes/pve1/qemu-server/131.conf' does "
                                "not exist");
  });
  CHECK(AdoptLostClone(*c.client, {"pve1", 131}, ours, deadline, lost).code() ==
        StatusCode::kUnavailable);
}

}  // namespace
TEST_CASE("a clone whose answer was lost is sent again with the same id, never doubled") {
  FakeCluster c;
  NodeModel m = NodeModel::FromValue(
      c.Plan({{"target_node", Value::String("pve1")}, {"vmid", Value::Int(140)}}));
  OwnerMarker ours{"me", "ubuntu-2204", "worker", true, true, "o"};
  const std::string clone = "/nodes/pve1/qemu/9000/clone";
  const std::string upid = "UPID:pve1:00000001:00000001:00000001:qmclone:9000:root@pam:";
  c.fake->On("GET", "/nodes/pve1/tasks/" + upid + "/status", [](const HttpRequest&) {
    return FakeTransport::Data({{"status", "stopped"}, {"exitstatus", "OK"}});
  });
  // The first request's connection drops.
  c.fake->Queue("POST", clone, UnavailableError("Server returned nothing"));
  std::vector<std::string> newids;
  auto record = [&](const HttpRequest& r) {
    for (const auto& [k, v] : r.params) {
      if (k == "newid") newids.push_back(v);
    }
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  framework::Context ctx;
  SUBCASE("it never reached Proxmox: the second request clones") {
    c.fake->On("GET", "/nodes/pve1/qemu/140/config", [](const HttpRequest&) {
      return FakeTransport::Error(
          500, "Configuration file 'nodes/pve1/qemu-server/140.conf' does not exist");
    });
    c.fake->On("POST", clone, [&](const HttpRequest& r) {
      record(r);
      return FakeTransport::Data(upid);
    });
    auto id = CloneTemplate(*c.client, ctx, m, {"pve1", 9000, "ubuntu-2204"}, ours, deadline);
    REQUIRE(id.ok());
    CHECK(*id == 140);
    CHECK(newids == std::vector<std::string>{"140"});
    CHECK(c.fake->Count("POST", clone) == 2);
  }
  SUBCASE("it landed after all: the same id is refused and ours adopted") {
    bool landed = false;
    c.fake->On("GET", "/nodes/pve1/qemu/140/config", [&](const HttpRequest&) {
      if (!landed) {
        return FakeTransport::Error(
            500, "Configuration file 'nodes/pve1/qemu-server/140.conf' does not exist");
      }
      return FakeTransport::Data({{"name", "k8spps1"}, {"description", FormatMarker(ours)}});
    });
    c.fake->On("POST", clone, [&](const HttpRequest& r) {
      record(r);
      landed = true;
      return FakeTransport::Error(500, "unable to create VM 140: config file already exists");
    });
    auto id = CloneTemplate(*c.client, ctx, m, {"pve1", 9000, "ubuntu-2204"}, ours, deadline);
    REQUIRE(id.ok());
    CHECK(*id == 140);
    CHECK(newids == std::vector<std::string>{"140"});
  }
}

}  // namespace pvek8s::resources::node
