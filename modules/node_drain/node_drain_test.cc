// node_drain: the decoding and planning without a cluster, then the module
// against the kubectl stand-in (modules/kubeadm_join/testdata/kubectl: its
// header says what it proves) over a fake cluster in a temporary directory.
#include "modules/node_drain/node_drain.h"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>

#include "modules/ansible/testing.h"

namespace pvek8s::node_drain {
namespace {

using ansible::testing::ReadText;
using ansible::testing::TempDir;
using ansible::testing::WriteText;
using nlohmann::json;

json PodJson(const std::string& ns, const std::string& name, const std::string& owner,
             bool empty_dir = false, const std::string& phase = "Running") {
  json pod = {{"kind", "Pod"},
              {"metadata", {{"namespace", ns}, {"name", name}, {"labels", {{"app", name}}}}},
              {"spec", {{"volumes", json::array()}}},
              {"status", {{"phase", phase}}}};
  if (!owner.empty()) {
    pod["metadata"]["ownerReferences"] = {{{"kind", owner}, {"controller", true}}};
  }
  if (empty_dir) pod["spec"]["volumes"].push_back({{"name", "d"}, {"emptyDir", json::object()}});
  return pod;
}

TEST_CASE("a Node, pods and budgets decode from kubectl's JSON") {
  auto node = ParseNode({{"kind", "Node"}, {"spec", {{"unschedulable", true}}}});
  REQUIRE(node.ok());
  CHECK(node->unschedulable);
  CHECK_FALSE(ParseNode({{"kind", "Node"}, {"spec", json::object()}})->unschedulable);
  CHECK_FALSE(ParseNode({{"kind", "Pod"}}).ok());

  json pods = {{"items", {PodJson("default", "web-1", "ReplicaSet", true), PodJson("a", "b", "")}}};
  pods["items"][1]["metadata"]["annotations"] = {{"kubernetes.io/config.mirror", "x"}};
  auto parsed = ParsePods(pods);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 2);
  CHECK((*parsed)[0].ref == "default/web-1");
  CHECK((*parsed)[0].controller == "ReplicaSet");
  CHECK((*parsed)[0].local_storage);
  CHECK((*parsed)[0].labels.at("app") == "web-1");
  CHECK((*parsed)[1].controller.empty());
  CHECK((*parsed)[1].mirror);
  auto bad = ParsePods({{"items", {{{"metadata", {{"name", "x"}}}}}}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "kubectl returned a pod (item 0) without metadata.namespace and name");
  CHECK_FALSE(ParsePods(json::object()).ok());

  auto budgets = ParseBudgets(
      {{"items",
        {{{"metadata", {{"namespace", "default"}, {"name", "db"}}},
          {"spec", {{"selector", {{"matchLabels", {{"app", "db-0"}}}}}, {"minAvailable", 1}}},
          {"status", {{"disruptionsAllowed", 0}}}}}}});
  REQUIRE(budgets.ok());
  CHECK((*budgets)[0].ref == "default/db");
  CHECK((*budgets)[0].match_labels.at("app") == "db-0");
}

TEST_CASE("the drain plan follows kubectl's filters and words its refusals as kubectl does") {
  auto pods = ParsePods(
      {{"items",
        {PodJson("kube-system", "kube-proxy-h2", "DaemonSet"),
         PodJson("default", "web-1", "ReplicaSet"),
         PodJson("default", "cache-0", "StatefulSet", true), PodJson("default", "bare", ""),
         PodJson("default", "done", "", true, "Succeeded")}}});
  REQUIRE(pods.ok());
  DrainPlan plan = PlanDrain(*pods, {});
  CHECK(plan.kept == std::vector<std::string>{"kube-system/kube-proxy-h2"});
  CHECK(plan.evict == std::vector<std::string>{"default/web-1", "default/done"});
  REQUIRE(plan.refusals.size() == 2);
  CHECK(plan.refusals[0] ==
        "cannot delete Pods with local storage (use --delete-emptydir-data to override): "
        "default/cache-0; set delete_emptydir_data: true to delete them and their data");
  CHECK(plan.refusals[1] ==
        "cannot delete Pods that declare no controller (use --force to override): default/bare; "
        "set force: true to delete them");

  plan =
      PlanDrain(*pods, {.ignore_daemonsets = false, .delete_emptydir_data = true, .force = true});
  REQUIRE(plan.refusals.size() == 1);
  CHECK(plan.refusals[0] ==
        "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
        "kube-system/kube-proxy-h2; set ignore_daemonsets: true to leave them running");
  CHECK(plan.evict.size() == 4);
}

TEST_CASE("pods held by a budget name it; budgets of other namespaces or labels do not count") {
  auto pods = ParsePods({{"items", {PodJson("default", "db-0", "StatefulSet")}}});
  REQUIRE(pods.ok());
  std::vector<Budget> budgets = {{"default/db", {{"app", "db-0"}}, 0},
                                 {"other/db", {{"app", "db-0"}}, 0},
                                 {"default/web", {{"app", "web"}}, 1}};
  CHECK(HeldPods(*pods, {"default/db-0"}, budgets) ==
        std::vector<std::string>{
            "default/db-0 (PodDisruptionBudget default/db allows 0 disruption(s))"});
  CHECK(HeldPods(*pods, {"default/other"}, budgets).empty());
  CHECK(HeldPods(*pods, {"default/db-0"}, {}) == std::vector<std::string>{"default/db-0"});
}

// A fake cluster of two nodes (h1 control plane, h2 worker) in a temporary
// directory, driven through the kubectl stand-in copied there.
class Cluster {
 public:
  Cluster() {
    WriteText(dir_ / "kubectl", ReadText(KUBECTL_STANDIN), 0755);
    WriteText(dir_ / "admin.conf", "apiVersion: v1\n");
    Node("h1", true);
    Node("h2", false);
    Pod("kube-system.kube-proxy-h2", "h2", "DaemonSet", "k8s-app=kube-proxy");
    Pod("default.web-1", "h2", "ReplicaSet", "app=web");
  }
  void Node(const std::string& name, bool control_plane) {
    WriteText(dir_ / ("kube/nodes/" + name),
              "kubelet=v1.26.1\nunschedulable=false\nready=true\ncontrol_plane=" +
                  std::string(control_plane ? "true" : "false") + "\n");
  }
  void Pod(const std::string& key, const std::string& node, const std::string& controller,
           const std::string& labels, bool empty_dir = false) {
    WriteText(dir_ / ("kube/pods/" + key), "node=" + node + "\ncontroller=" + controller +
                                               "\nemptydir=" + (empty_dir ? "true" : "false") +
                                               "\nlabels=" + labels + "\n");
  }
  void Budget(const std::string& key, const std::string& text) {
    WriteText(dir_ / ("kube/pdbs/" + key), text);
  }
  std::string Read(const std::string& rel) { return ReadText(dir_ / rel); }
  std::string Log() { return Read("kubectl.log"); }

  ansible::Result Run(json args, bool check = false) {
    args.emplace("node", "h2");
    args.emplace("kubeconfig", dir_ / "admin.conf");
    args["_ansible_check_mode"] = check;
    args["_ansible_diff"] = true;
    auto validated = ansible::ValidateArgs(args, DrainSpec(), "gcid.k8s.node_drain");
    REQUIRE_MESSAGE(validated.ok(), validated.status().message());
    ansible::Module module(ansible::ParseAnsibleFlags(args), std::move(validated).value(), args);
    return RunDrain(module, dir_ / "kubectl");
  }

 private:
  TempDir dir_;
};

TEST_CASE("drain evicts, keeps DaemonSet pods, and a second run changes nothing") {
  Cluster cluster;
  ansible::Result check = cluster.Run({{"state", "drained"}}, true);
  CHECK(check.changed);
  CHECK(check.msg == "would drain node h2 (1 pod(s) to evict)");
  CHECK(check.extra["evicted"] == json{"default/web-1"});
  CHECK(cluster.Read("kube/nodes/h2").find("unschedulable=false") != std::string::npos);
  CHECK(cluster.Log().find("drain") == std::string::npos);

  ansible::Result r = cluster.Run({{"state", "drained"}});
  CHECK_MESSAGE(!r.failed, r.msg);
  CHECK(r.changed);
  CHECK(r.extra["evicted"] == json{"default/web-1"});
  CHECK(r.extra["schedulable_before"] == true);
  CHECK(r.extra["schedulable_after"] == false);
  REQUIRE(r.diffs.size() == 1);
  CHECK(r.diffs[0].before == "node: h2\nschedulable: true\n");
  CHECK(r.diffs[0].after == "node: h2\nschedulable: false\n");
  CHECK(cluster.Read("kube/pods/default.web-1").find("node=h1") != std::string::npos);
  CHECK(cluster.Log().find("drain h2 --grace-period=-1 --timeout=300s --ignore-daemonsets") !=
        std::string::npos);

  ansible::Result again = cluster.Run({{"state", "drained"}});
  CHECK_FALSE(again.changed);
  CHECK(again.msg == "node h2 is already drained");

  ansible::Result uncordon = cluster.Run({{"state", "uncordoned"}});
  CHECK(uncordon.changed);
  CHECK(cluster.Read("kube/nodes/h2").find("unschedulable=false") != std::string::npos);
  CHECK_FALSE(cluster.Run({{"state", "uncordoned"}}).changed);
  CHECK(cluster.Run({{"state", "cordoned"}}).changed);
  CHECK_FALSE(cluster.Run({{"state", "cordoned"}}).changed);
}

TEST_CASE("each refusal fails before kubectl changes anything") {
  Cluster cluster;
  cluster.Pod("default.bare", "h2", "none", "app=bare");
  cluster.Pod("default.cache-0", "h2", "StatefulSet", "app=cache", true);
  ansible::Result r = cluster.Run({{"state", "drained"}, {"ignore_daemonsets", false}});
  CHECK(r.failed);
  CHECK(r.msg.starts_with(
      "cannot drain node h2: cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to "
      "ignore): kube-system/kube-proxy-h2; set ignore_daemonsets: true"));
  CHECK(r.msg.find("(use --delete-emptydir-data to override): default/cache-0") !=
        std::string::npos);
  CHECK(r.msg.find("(use --force to override): default/bare") != std::string::npos);
  CHECK(cluster.Log().find("drain") == std::string::npos);
  CHECK(cluster.Log().find("cordon") == std::string::npos);
  CHECK(cluster.Read("kube/nodes/h2").find("unschedulable=false") != std::string::npos);
}

TEST_CASE("a drain a budget blocks fails after the timeout naming the pod and the budget") {
  Cluster cluster;
  cluster.Pod("default.db-0", "h2", "StatefulSet", "app=db");
  cluster.Budget("default.db", "selector=app=db\nmin_available=1\n");
  auto start = std::chrono::steady_clock::now();
  ansible::Result r = cluster.Run({{"state", "drained"}, {"timeout", 2}});
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.failed);
  CHECK(r.msg ==
        "node h2 was not drained within 2 s (it stays cordoned); still on it: default/db-0 "
        "(PodDisruptionBudget default/db allows 0 disruption(s))");
  CHECK(r.extra["evicted"] == json{"default/web-1"});
  CHECK(took >= std::chrono::seconds(2));
  CHECK(cluster.Read("kube/nodes/h2").find("unschedulable=true") != std::string::npos);
}

TEST_CASE("absent drains, then deletes the Node; then there is nothing to do") {
  Cluster cluster;
  ansible::Result r = cluster.Run({{"state", "absent"}});
  CHECK_MESSAGE(!r.failed, r.msg);
  CHECK(r.changed);
  CHECK(r.msg == "drained node h2 (1 pod(s) evicted) and deleted Node h2");
  CHECK(r.diffs[0].after.empty());
  CHECK(cluster.Read("kube/nodes/h2") == "<missing>");
  CHECK(cluster.Read("kube/pods/kube-system.kube-proxy-h2") == "<missing>");
  ansible::Result again = cluster.Run({{"state", "absent"}});
  CHECK_FALSE(again.changed);
  CHECK(again.msg == "node h2 is not in the cluster");
  ansible::Result missing = cluster.Run({{"state", "drained"}});
  CHECK(missing.failed);
  CHECK(missing.msg == "node h2 not found in the cluster (kubectl get node h2)");
}

TEST_CASE("bad options are named before kubectl runs") {
  Cluster cluster;
  CHECK(cluster.Run({{"timeout", 0}}).msg == "timeout must be 1..86400 seconds, got 0");
  CHECK(cluster.Run({{"grace_period", -2}}).msg.starts_with("grace_period must be -1"));
  CHECK(cluster.Run({{"kubeconfig", "/nonexistent/admin.conf"}})
            .msg.starts_with("kubeconfig /nonexistent/admin.conf is not a file on this host"));
  CHECK(cluster.Log() == "<missing>");
}

}  // namespace
}  // namespace pvek8s::node_drain
