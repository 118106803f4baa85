// gcid.k8s.node_drain through the real ansible-playbook over SSH, delegated
// to the control plane h1 of the test hosts, whose kubectl stand-in
// (modules/kubeadm_join/testdata/kubectl: its header says what it proves)
// reads and writes the fake Kubernetes state that cluster.yml's init and
// joins created (DIR/shared/kube). Workloads and budgets are written there by
// the tests, as a user's kubectl apply would.
#include <doctest/doctest.h>

#include "acceptance-tests/ansible/playbook_run.h"

namespace pvek8s::integration {
namespace {

using ansible::testing::Exists;
using ansible::testing::ReadText;
using ansible::testing::WriteText;

void Pod(const std::string& key, const std::string& node, const std::string& controller,
         const std::string& labels, bool empty_dir = false) {
  WriteText(kKube + "/pods/" + key, "node=" + node + "\ncontroller=" + controller +
                                        "\nemptydir=" + (empty_dir ? "true" : "false") +
                                        "\nlabels=" + labels + "\n");
}

std::string NodeFile(const std::string& node) { return ReadText(kKube + "/nodes/" + node); }
bool Schedulable(const std::string& node) {
  return NodeFile(node).find("unschedulable=false") != std::string::npos;
}
std::string KubectlLog() { return ReadText(kLab + "/h1/fake/sbin/kubectl.log"); }

// The kubectl calls made since `before` (the log's earlier content).
std::string CallsSince(const std::string& before) {
  std::string now = KubectlLog();
  return now.substr(before == "<missing>" ? 0 : before.size());
}

// Whether every call in `calls` (one a line) only reads.
bool OnlyReads(const std::string& calls) {
  size_t start = 0;
  while (start < calls.size()) {
    size_t end = calls.find('\n', start);
    std::string line = calls.substr(start, end - start);
    if (line.find(" get ") == std::string::npos) return false;
    start = end + 1;
  }
  return true;
}

TEST_CASE("check mode lists the pods, changes nothing; drain, then a second run changes nothing") {
  FreshCluster();
  REQUIRE(Schedulable("h2"));
  CHECK(NodeFile("h1").find("control_plane=true") != std::string::npos);
  CHECK(NodeFile("h2").find("kubelet=v1.30.4") != std::string::npos);
  Pod("default.web-1", "h2", "ReplicaSet", "app=web");

  std::string before = KubectlLog();
  Run check = Playbook("node_drain.yml", {{"nd_nodes", "h2"}}, {"--check"});
  CHECK(check.rc == 0);
  json r = TaskResult(check, "h2");
  CHECK(r["changed"] == true);
  CHECK(r["msg"] == "would drain node h2 (1 pod(s) to evict)");
  CHECK(r["evicted"] == json{"default/web-1"});
  CHECK(Schedulable("h2"));
  CHECK(OnlyReads(CallsSince(before)));

  Run diff = Playbook("node_drain.yml", {{"nd_nodes", "h2"}}, {"--check", "--diff"}, false);
  CHECK(diff.rc == 0);
  CHECK(diff.out.find("-schedulable: true\n+schedulable: false") != std::string::npos);
  CHECK(Schedulable("h2"));

  Run first = Playbook("node_drain.yml", {{"nd_nodes", "h2"}});
  CHECK(first.rc == 0);
  r = TaskResult(first, "h2");
  CHECK(r["changed"] == true);
  CHECK(r["evicted"] == json{"default/web-1"});
  CHECK(r["schedulable_before"] == true);
  CHECK(r["schedulable_after"] == false);
  CHECK_FALSE(Schedulable("h2"));
  CHECK(ReadText(kKube + "/pods/default.web-1").find("node=h2") == std::string::npos);
  CHECK(ReadText(kKube + "/pods/kube-system.kube-proxy-h2").find("node=h2") != std::string::npos);

  Run second = Playbook("node_drain.yml", {{"nd_nodes", "h2"}});
  CHECK(second.rc == 0);
  CHECK(second.result["stats"]["h2"]["changed"] == 0);

  Run uncordon = Playbook("node_drain.yml", {{"nd_nodes", "h2"}, {"nd_state", "uncordoned"}});
  CHECK(uncordon.result["stats"]["h2"]["changed"] == 1);
  CHECK(Schedulable("h2"));
  uncordon = Playbook("node_drain.yml", {{"nd_nodes", "h2"}, {"nd_state", "uncordoned"}});
  CHECK(uncordon.result["stats"]["h2"]["changed"] == 0);
}

TEST_CASE("each refusal fails with kubectl's words before anything is cordoned or evicted") {
  Pod("default.bare", "h3", "none", "app=bare");
  Pod("default.cache-0", "h3", "StatefulSet", "app=cache", true);
  struct Case {
    json vars;
    std::string msg;
  };
  for (const Case& c : {
           Case{{{"nd_ignore_daemonsets", false},
                 {"nd_force", true},
                 {"nd_delete_emptydir_data", true}},
                "cannot drain node h3: cannot delete DaemonSet-managed Pods (use "
                "--ignore-daemonsets to ignore): kube-system/kube-proxy-h3; set "
                "ignore_daemonsets: true to leave them running"},
           Case{{{"nd_force", true}},
                "cannot drain node h3: cannot delete Pods with local storage (use "
                "--delete-emptydir-data to override): default/cache-0; set "
                "delete_emptydir_data: true to delete them and their data"},
           Case{{{"nd_delete_emptydir_data", true}},
                "cannot drain node h3: cannot delete Pods that declare no controller (use --force "
                "to override): default/bare; set force: true to delete them"},
       }) {
    CAPTURE(c.msg);
    std::string before = KubectlLog();
    json vars = c.vars;
    vars["nd_nodes"] = "h3";
    Run run = Playbook("node_drain.yml", vars);
    CHECK(run.rc != 0);
    CHECK(TaskResult(run, "h3")["msg"] == c.msg);
    CHECK(OnlyReads(CallsSince(before)));
    CHECK(Schedulable("h3"));
    CHECK(ReadText(kKube + "/pods/default.bare").find("node=h3") != std::string::npos);
  }
}

TEST_CASE("a drain a PodDisruptionBudget blocks fails after the timeout naming pod and budget") {
  Pod("default.db-0", "h2", "StatefulSet", "app=db");
  WriteText(kKube + "/pdbs/default.db", "selector=app=db\nmin_available=1\n");
  Run run = Playbook("node_drain.yml", {{"nd_nodes", "h2"}, {"nd_timeout", 3}});
  CHECK(run.rc != 0);
  json r = TaskResult(run, "h2");
  CHECK(r["msg"] ==
        "node h2 was not drained within 3 s (it stays cordoned); still on it: default/db-0 "
        "(PodDisruptionBudget default/db allows 0 disruption(s))");
  CHECK(run.took >= 3s);
  CHECK(ReadText(kLab + "/h1/fake/sbin/kubectl.log").find("drain h2") != std::string::npos);
  CHECK(ReadText(kKube + "/pods/default.db-0").find("node=h2") != std::string::npos);
  CHECK_FALSE(Schedulable("h2"));  // As kubectl leaves it; the next run continues.

  // A second replica elsewhere lets the budget allow one disruption: the next run finishes.
  Pod("default.db-1", "h3", "StatefulSet", "app=db");
  Run again = Playbook("node_drain.yml", {{"nd_nodes", "h2"}, {"nd_timeout", 3}});
  CHECK(again.rc == 0);
  CHECK(TaskResult(again, "h2")["evicted"] == json{"default/db-0"});
}

TEST_CASE("absent drains and deletes the Node; a second run changes nothing") {
  Run run = Playbook("node_drain.yml", {{"nd_nodes", "h3"},
                                        {"nd_state", "absent"},
                                        {"nd_force", true},
                                        {"nd_delete_emptydir_data", true}});
  CHECK(run.rc == 0);
  json r = TaskResult(run, "h3");
  CHECK(r["changed"] == true);
  CHECK(r["msg"].get<std::string>().ends_with("and deleted Node h3"));
  CHECK_FALSE(Exists(kKube + "/nodes/h3"));
  CHECK_FALSE(Exists(kKube + "/pods/default.bare"));
  CHECK_FALSE(Exists(kKube + "/pods/kube-system.kube-proxy-h3"));
  Run again = Playbook("node_drain.yml", {{"nd_nodes", "h3"}, {"nd_state", "absent"}});
  CHECK(again.rc == 0);
  CHECK(again.result["stats"]["h3"]["changed"] == 0);
}

TEST_CASE("no token or key in any output") {
  Playbook("node_drain.yml", {{"nd_nodes", "h2"}, {"nd_state", "cordoned"}}, {"-vvv"}, false);
  CHECK_FALSE(AllOutput().empty());
  CHECK(AllOutput().find(kToken) == std::string::npos);
  CHECK(AllOutput().find(CaKeyLine()) == std::string::npos);
}

}  // namespace
}  // namespace pvek8s::integration
