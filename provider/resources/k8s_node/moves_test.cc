// Unit tests of VM moves (moves.h): refresh following a moved VM, plan-time
// move checks and the migration itself, against a scripted Proxmox.
#include "provider/resources/k8s_node/moves.h"

#include <doctest/doctest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "provider/pve/fake_transport.h"

namespace pvek8s::resources::node {
namespace {

using nlohmann::json;
using pve::FakeTransport;
using pve::HttpRequest;

constexpr char kMissing[] = "Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist";
constexpr char kUpid[] = "UPID:pve1:00001234:00012345:65F00000:qmigrate:101:root@pam:";

std::string Param(const HttpRequest& r, const std::string& key) {
  for (const auto& [k, v] : r.params) {
    if (k == key) return v;
  }
  return "";
}

// VM 101 "k8spps1", running, on `where` in the cluster listing.
struct Moves {
  Moves() {
    auto transport = std::make_unique<FakeTransport>();
    fake = transport.get();
    pve::ClientOptions o;
    o.endpoint = "https://pve.test:8006";
    o.token_id = "terraform@pam!test";
    o.token_secret = "00000000-0000-0000-0000-000000000000";
    o.backoff_base = std::chrono::milliseconds(1);
    o.max_attempts = 2;
    client = std::make_unique<pve::Client>(std::move(o), std::move(transport));
    fake->On("GET", "/cluster/resources", [this](const HttpRequest&) {
      return FakeTransport::Data(json::array({{{"type", "qemu"},
                                               {"vmid", 101},
                                               {"node", where},
                                               {"status", status},
                                               {"name", "k8spps1"}}}));
    });
    fake->On("GET", "/nodes", [](const HttpRequest&) {
      return FakeTransport::Data(
          json::array({{{"node", "pve1"}, {"status", "online"}, {"mem", 1}, {"maxmem", 10}},
                       {{"node", "pve2"}, {"status", "online"}, {"mem", 1}, {"maxmem", 30}},
                       {{"node", "pve3"}, {"status", "online"}, {"mem", 1}, {"maxmem", 20}},
                       {{"node", "pve4"}, {"status", "offline"}}}));
    });
  }
  void Config(const std::string& node, const json& conf) {
    fake->On("GET", "/nodes/" + node + "/qemu/101/config",
             [conf](const HttpRequest&) { return FakeTransport::Data(conf); });
  }
  void Missing(const std::string& node) {
    fake->On("GET", "/nodes/" + node + "/qemu/101/config",
             [](const HttpRequest&) { return FakeTransport::Error(500, kMissing); });
  }
  StatusOr<LocatedVm> Locate(ClusterListing& listing) {
    return LocateVm(*client, listing, {"pve1", 101},
                    std::chrono::steady_clock::now() + std::chrono::seconds(10));
  }
  std::vector<std::string> MoveErrors(const std::string& target) {
    framework::Diagnostics diags;
    CheckMove(*client, {"pve1", 101}, "k8spps1", target, diags);
    std::vector<std::string> out;
    for (const auto& d : diags.items()) out.push_back(d.summary + ": " + d.detail);
    return out;
  }
  // GET .../migrate on pve1 answers with `local_disks`.
  void Preconditions(json local_disks) {
    fake->On("GET", "/nodes/pve1/qemu/101/migrate", [local_disks](const HttpRequest&) {
      return FakeTransport::Data({{"running", 1},
                                  {"allowed_nodes", {"pve2", "pve3"}},
                                  {"not_allowed_nodes", json::object()},
                                  {"local_disks", local_disks},
                                  {"local_resources", json::array()}});
    });
  }
  void TaskEnds(const std::string& exitstatus) {
    fake->On("GET", std::string("/nodes/pve1/tasks/") + kUpid + "/status",
             [exitstatus](const HttpRequest&) {
               return FakeTransport::Data({{"status", "stopped"}, {"exitstatus", exitstatus}});
             });
  }

  FakeTransport* fake = nullptr;
  std::unique_ptr<pve::Client> client;
  std::string where = "pve1";
  std::string status = "running";
};

bool Has(const std::vector<std::string>& all, const std::string& text) {
  for (const auto& s : all) {
    if (s.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST_CASE("refresh follows a VM migrated to another node, with one listing") {
  Moves m;
  m.Missing("pve1");
  m.Config("pve2", {{"name", "k8spps1"}});
  m.where = "pve2";
  ClusterListing listing;
  auto found = m.Locate(listing);
  REQUIRE(found.ok());
  CHECK(found->vm.node == "pve2");
  CHECK(found->moved_from == "pve1");
  CHECK_FALSE(found->unreachable);
  // A second moved VM in the same refresh reuses the listing.
  REQUIRE(m.Locate(listing).ok());
  CHECK(m.fake->Count("GET", "/cluster/resources") == 1);
}

TEST_CASE("a VM locked migrate is waited for, not treated as gone") {
  Moves m;
  std::atomic<int> reads{0};
  // On pve1 with the migrate lock for three reads, then gone from pve1 and
  // unlocked on pve3 (the config moves before the lock is cleared).
  m.fake->On("GET", "/nodes/pve1/qemu/101/config", [&](const HttpRequest&) {
    if (++reads <= 3) return FakeTransport::Data({{"name", "k8spps1"}, {"lock", "migrate"}});
    m.where = "pve3";
    return FakeTransport::Error(500, kMissing);
  });
  m.Config("pve3", {{"name", "k8spps1"}});
  ClusterListing listing;
  auto found = m.Locate(listing);
  REQUIRE(found.ok());
  CHECK(found->vm.node == "pve3");
  CHECK(reads.load() >= 4);
}

TEST_CASE("a VM on an unreachable node is kept, one restarted elsewhere is followed") {
  Moves m;
  m.fake->On("GET", "/nodes/pve1/qemu/101/config",
             [](const HttpRequest&) { return FakeTransport::Error(595, "No route to host"); });
  m.status = "unknown";
  {
    ClusterListing listing;
    auto found = m.Locate(listing);
    REQUIRE(found.ok());
    CHECK(found->unreachable);
    CHECK(found->unreachable_why.find("No route to host") != std::string::npos);
  }
  m.where = "pve2";  // HA restarted it on pve2
  m.status = "running";
  m.Config("pve2", {{"name", "k8spps1"}});
  ClusterListing listing;
  auto found = m.Locate(listing);
  REQUIRE(found.ok());
  CHECK_FALSE(found->unreachable);
  CHECK(found->vm.node == "pve2");
}

TEST_CASE("a VM no node holds is gone") {
  Moves m;
  m.Missing("pve1");
  m.fake->On("GET", "/cluster/resources",
             [](const HttpRequest&) { return FakeTransport::Data(json::array()); });
  ClusterListing listing;
  auto found = m.Locate(listing);
  CHECK(pve::Client::IsNotFound(found.status()));
}

TEST_CASE("NodeAmong keeps a VM on any candidate, else picks the freest online one") {
  std::vector<pve::NodeInfo> nodes = {{.name = "pve1", .status = "online", .maxmem = 10},
                                      {.name = "pve2", .status = "online", .maxmem = 30},
                                      {.name = "pve3", .status = "offline", .maxmem = 90}};
  CHECK(NodeAmong("pve1", {"pve1", "pve2"}, nodes) == "pve1");
  CHECK(NodeAmong("pve1", {}, nodes) == "pve1");
  CHECK(NodeAmong("pve9", {"pve1", "pve2", "pve3"}, nodes) == "pve2");
  CHECK(NodeAmong("pve9", {"pve3"}, nodes).empty());
}

TEST_CASE("plan checks of a move") {
  Moves m;
  m.Preconditions(json::array({{{"volid", "local-lvm:vm-101-disk-0"}, {"size", 2LL << 30}}}));
  m.fake->On("GET", "/nodes/pve3/storage/local-lvm/status", [](const HttpRequest&) {
    return FakeTransport::Data({{"avail", 1LL << 30}, {"total", 4LL << 30}, {"shared", 0}});
  });
  m.fake->On("GET", "/nodes/pve2/storage/local-lvm/status", [](const HttpRequest&) {
    return FakeTransport::Data({{"avail", 8LL << 30}, {"total", 9LL << 30}, {"shared", 0}});
  });
  CHECK(m.MoveErrors("pve2").empty());
  CHECK(Has(m.MoveErrors("pve3"), "Not enough space on the target"));
  CHECK(Has(m.MoveErrors("pve9"), "\"pve9\" is not a node of this cluster"));
  CHECK(Has(m.MoveErrors("pve4"), "Target node offline"));
  m.Preconditions(
      json::array({{{"volid", "local-lvm:base-9000-disk-0/vm-101-disk-0"}, {"size", 1LL << 30}}}));
  auto linked = m.MoveErrors("pve2");
  CHECK(Has(linked, "Linked clone cannot be migrated"));
  CHECK(Has(linked, "full_clone = true"));
  m.fake->On("GET", "/nodes/pve1/qemu/101/migrate", [](const HttpRequest&) {
    return FakeTransport::Error(403, "Permission check failed (/vms/101, VM.Migrate)");
  });
  CHECK(Has(m.MoveErrors("pve2"), "Missing privilege VM.Migrate"));
}

TEST_CASE("a running VM migrates online with its local disks; a lock is waited out") {
  Moves m;
  m.Preconditions(json::array({{{"volid", "local-lvm:vm-101-disk-0"}, {"size", 1}}}));
  m.fake->On("GET", "/cluster/ha/resources/vm:101", [](const HttpRequest&) {
    return FakeTransport::Error(500, "no such resource 'vm:101'");
  });
  m.fake->On("GET", "/nodes/pve1/qemu/101/status/current", [](const HttpRequest&) {
    return FakeTransport::Data({{"status", "running"}, {"pid", 42}});
  });
  m.fake->Queue("POST", "/nodes/pve1/qemu/101/migrate",
                FakeTransport::Error(500, "VM is locked (backup)"));
  m.fake->On("POST", "/nodes/pve1/qemu/101/migrate",
             [](const HttpRequest&) { return FakeTransport::Data(kUpid); });
  m.TaskEnds("OK");
  m.Missing("pve3");  // not there while the first attempt is retried
  m.fake->On("GET", "/nodes/pve3/qemu/101/config", [&](const HttpRequest&) {
    if (m.fake->Count("POST", "/nodes/pve1/qemu/101/migrate") < 2) {
      return FakeTransport::Error(500, kMissing);
    }
    return FakeTransport::Data(json{{"name", "k8spps1"}});
  });
  ClusterListing listing;
  std::string now_on;
  Status s = MigrateVm(*m.client, listing, {"pve1", 101}, "pve3",
                       std::chrono::steady_clock::now() + std::chrono::seconds(30), &now_on);
  REQUIRE(s.ok());
  CHECK(now_on == "pve3");
  int posts = 0;
  for (const auto& r : m.fake->Requests()) {
    if (r.method != "POST") continue;
    ++posts;
    CHECK(Param(r, "target") == "pve3");
    CHECK(Param(r, "online") == "1");
    CHECK(Param(r, "with-local-disks") == "1");
  }
  CHECK(posts == 2);
}

TEST_CASE("a migration task that keeps failing leaves the VM on its node, reported") {
  Moves m;
  m.Preconditions(json::array());
  m.fake->On("GET", "/cluster/ha/resources/vm:101", [](const HttpRequest&) {
    return FakeTransport::Error(500, "no such resource 'vm:101'");
  });
  m.fake->On("GET", "/nodes/pve1/qemu/101/status/current", [](const HttpRequest&) {
    return FakeTransport::Data({{"status", "stopped"}});
  });
  m.fake->On("POST", "/nodes/pve1/qemu/101/migrate",
             [](const HttpRequest&) { return FakeTransport::Data(kUpid); });
  m.TaskEnds("migration aborted");
  m.Missing("pve3");
  ClusterListing listing;
  std::string now_on;
  Status s = MigrateVm(*m.client, listing, {"pve1", 101}, "pve3",
                       std::chrono::steady_clock::now() + std::chrono::seconds(30), &now_on);
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("migration aborted") != std::string::npos);
  CHECK(now_on == "pve1");
  CHECK(m.fake->Count("POST", "/nodes/pve1/qemu/101/migrate") == 3);
  for (const auto& r : m.fake->Requests()) {
    if (r.method == "POST") CHECK(Param(r, "online").empty());  // stopped: offline
  }
}

TEST_CASE("an HA-managed VM is moved through HA and waited for") {
  Moves m;
  m.fake->On("GET", "/cluster/ha/resources/vm:101", [](const HttpRequest&) {
    return FakeTransport::Data({{"sid", "vm:101"}, {"state", "started"}});
  });
  m.fake->On("POST", "/cluster/ha/resources/vm:101/migrate", [&](const HttpRequest& r) {
    CHECK(Param(r, "node") == "pve2");
    return FakeTransport::Data(nullptr);
  });
  std::atomic<int> reads{0};
  m.fake->On("GET", "/nodes/pve2/qemu/101/config", [&](const HttpRequest&) {
    int n = ++reads;
    if (n < 2) return FakeTransport::Error(500, kMissing);
    if (n < 3) return FakeTransport::Data({{"name", "k8spps1"}, {"lock", "migrate"}});
    return FakeTransport::Data({{"name", "k8spps1"}});
  });
  ClusterListing listing;
  std::string now_on;
  Status s = MigrateVm(*m.client, listing, {"pve1", 101}, "pve2",
                       std::chrono::steady_clock::now() + std::chrono::seconds(30), &now_on);
  REQUIRE(s.ok());
  CHECK(now_on == "pve2");
  CHECK(reads.load() == 3);
  CHECK(m.fake->Count("POST", "/nodes/pve1/qemu/101/migrate") == 0);
}

TEST_CASE("a step that finds the VM moved meanwhile is run again where it is now") {
  Moves m;
  m.Missing("pve1");
  m.Config("pve3", {{"name", "k8spps1"}});
  m.where = "pve3";
  pve::VmRef vm{"pve1", 101};
  std::vector<std::string> ran_on;
  ClusterListing listing;
  Status s = FollowingMoves(*m.client, listing, &vm,
                            std::chrono::steady_clock::now() + std::chrono::seconds(10), [&] {
                              ran_on.push_back(vm.node);
                              return pve::GetVmConfig(*m.client, vm).status();
                            });
  CHECK(s.ok());
  CHECK(vm.node == "pve3");
  CHECK(ran_on == std::vector<std::string>{"pve1", "pve3"});
}

TEST_CASE("a step locked by a migration waits for it and follows the VM") {
  Moves m;
  std::atomic<int> reads{0};
  // The step is refused while the migrate lock is held; the config then
  // lands on pve2.
  m.fake->On("GET", "/nodes/pve1/qemu/101/config", [&](const HttpRequest&) {
    if (++reads <= 2) return FakeTransport::Data({{"name", "k8spps1"}, {"lock", "migrate"}});
    m.where = "pve2";
    return FakeTransport::Error(500, kMissing);
  });
  m.Config("pve2", {{"name", "k8spps1"}});
  pve::VmRef vm{"pve1", 101};
  int runs = 0;
  ClusterListing listing;
  Status s = FollowingMoves(
      *m.client, listing, &vm, std::chrono::steady_clock::now() + std::chrono::seconds(10), [&] {
        ++runs;
        return vm.node == "pve1" ? AbortedError("VM is locked (migrate)") : Status::Ok();
      });
  CHECK(s.ok());
  CHECK(runs == 2);
  CHECK(vm.node == "pve2");
}

TEST_CASE("a VM that moved away and back meanwhile is not taken for gone") {
  Moves m;
  m.Config("pve1", {{"name", "k8spps1"}});
  pve::VmRef vm{"pve1", 101};
  int runs = 0;
  ClusterListing listing;
  // The first delete found no config on pve1: the VM was on pve2 then.
  Status s = FollowingMoves(*m.client, listing, &vm,
                            std::chrono::steady_clock::now() + std::chrono::seconds(10),
                            [&] { return ++runs == 1 ? NotFoundError(kMissing) : Status::Ok(); });
  CHECK(s.ok());
  CHECK(runs == 2);
  CHECK(vm.node == "pve1");
}

TEST_CASE("a VM no node holds stays not found, and other errors are returned as they are") {
  Moves m;
  m.Missing("pve1");
  m.fake->On("GET", "/cluster/resources",
             [](const HttpRequest&) { return FakeTransport::Data(json::array()); });
  pve::VmRef vm{"pve1", 101};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  ClusterListing listing;
  Status gone = FollowingMoves(*m.client, listing, &vm, deadline,
                               [&] { return pve::GetVmConfig(*m.client, vm).status(); });
  CHECK(pve::Client::IsNotFound(gone));
  CHECK(vm.node == "pve1");
  int runs = 0;
  Status other = FollowingMoves(*m.client, listing, &vm, deadline, [&] {
    ++runs;
    return PermissionDeniedError("no VM.Config.Memory");
  });
  CHECK(other.code() == StatusCode::kPermissionDenied);
  CHECK(runs == 1);
}

}  // namespace
}  // namespace pvek8s::resources::node
