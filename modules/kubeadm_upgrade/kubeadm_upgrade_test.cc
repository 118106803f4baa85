// kubeadm_upgrade without hosts: the parsers (kubeadm-config, the API server
// manifest, `kubeadm upgrade plan` tables) and the module against the kubeadm
// and kubectl stand-ins of modules/kubeadm_join/testdata in a temporary
// directory. The stand-ins' log proves what ran; a refusal must leave no
// "upgrade" line in it. What they cannot prove: that a real control plane
// comes up at the new version.
#include "modules/kubeadm_upgrade/kubeadm_upgrade.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "modules/ansible/testing.h"

namespace pvek8s::kubeadm {
namespace {

using ansible::testing::ReadText;
using ansible::testing::TempDir;
using ansible::testing::WriteText;
using nlohmann::json;

constexpr const char* kNewPlan = R"(
[upgrade/versions] Cluster version: v1.26.1
[upgrade/versions] kubeadm version: v1.27.3

Components that must be upgraded manually after you have upgraded the control plane with 'kubeadm upgrade apply':
COMPONENT   NODE      CURRENT   TARGET
kubelet     cp1       v1.26.1   v1.27.3

Upgrade to the latest version in the v1.26 series:

COMPONENT                 NODE      CURRENT    TARGET
kube-apiserver            cp1       v1.26.1    v1.27.3
kube-proxy                          1.26.1     v1.27.3

You can now apply the upgrade by executing the following command:

	kubeadm upgrade apply v1.27.3
)";

constexpr const char* kOldPlan = R"(
Components that must be upgraded manually after you have upgraded the control plane with 'kubeadm upgrade apply':
COMPONENT   CURRENT       TARGET
kubelet     3 x v1.26.1   v1.27.3

Upgrade to the latest stable version:

COMPONENT                 CURRENT   TARGET
kube-apiserver            v1.26.1   v1.27.3
)";

TEST_CASE("kubeadm upgrade plan tables, new and old layout") {
  std::vector<PlanRow> rows = ParsePlan(kNewPlan);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].component == "kubelet");
  CHECK(rows[0].node == "cp1");
  CHECK(rows[1].component == "kube-apiserver");
  CHECK(rows[1].current == "v1.26.1");
  CHECK(rows[1].target == "v1.27.3");
  CHECK(rows[2].component == "kube-proxy");
  CHECK(rows[2].node == "");
  CHECK(rows[2].current == "1.26.1");
  rows = ParsePlan(kOldPlan);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].component == "kubelet");
  CHECK(rows[0].current == "v1.26.1");
  CHECK(rows[1].target == "v1.27.3");
  CHECK(ParsePlan("[upgrade/versions] Target version: v1.27.3\n").empty());
}

TEST_CASE("the control plane's version from kubeadm-config and from a manifest") {
  CHECK(ClusterConfigVersion("apiServer:\n  kubernetesVersion: v9.9.9\nkind: "
                             "ClusterConfiguration\nkubernetesVersion: v1.26.1\n") ==
        Version{1, 26, 1});
  CHECK(ClusterConfigVersion("kubernetesVersion: \"1.27.3\"") == Version{1, 27, 3});
  CHECK_FALSE(ClusterConfigVersion("kind: ClusterConfiguration\n").has_value());
  CHECK(ManifestVersion(
            "spec:\n  containers:\n  - image: registry.k8s.io/kube-apiserver:v1.27.3\n") ==
        Version{1, 27, 3});
  CHECK_FALSE(ManifestVersion("  - image: registry.k8s.io/etcd:3.5.7-0\n").has_value());
}

// A node with the stand-ins: kubeadm `kubeadm_version`, a control plane at
// `cluster` (the fake Kubernetes state in ./kube), this host's Node "h1".
class Node {
 public:
  Node(const std::string& cluster, const std::string& kubeadm_version) {
    for (const auto& f : std::filesystem::directory_iterator(KUBEADM_STANDINS)) {
      WriteText(dir_ / f.path().filename().string(), ReadText(f.path()), 0755);
    }
    // The kubectl stand-in's own dispatcher is another module's; this one
    // serves only what kubeadm_upgrade asks.
    WriteText(dir_ / "kubectl",
              "#!/bin/sh\nR=\"$(dirname \"$(readlink -f \"$0\")\")\"\necho \"kubectl $*\" "
              ">>\"$R/kubeadm.log\"\n. \"$R/kubectl-kubeadm-config.sh\"\n"
              "kubectl_kubeadm_config \"$@\"\n",
              0755);
    ::setenv(kTestRootEnv, dir_.path().c_str(), 1);
    WriteText(dir_ / "version", kubeadm_version + "\n");
    WriteText(dir_ / "mode", "success\n");
    WriteText(dir_ / "node-name", "h1\n");
    WriteText(dir_ / "kube/version", cluster + "\n");
    WriteText(dir_ / "kube/nodes/h1", "kubelet=" + cluster + "\nunschedulable=false\n");
    WriteText(dir_ / "etc/kubernetes/admin.conf", "apiVersion: v1\n");
    WriteText(dir_ / "kubeadm.log", "");
    sys_.root = dir_.path();
  }
  void Write(const std::string& rel, const std::string& text) { WriteText(dir_ / rel, text); }
  std::string Read(const std::string& rel) { return ReadText(dir_ / rel); }
  void Remove(const std::string& rel) { std::filesystem::remove(dir_ / rel); }

  ansible::Result Upgrade(json args, bool check = false) {
    args["kubeadm_path"] = dir_ / "kubeadm";
    args["kubectl_path"] = dir_ / "kubectl";
    args["_ansible_check_mode"] = check;
    args["_ansible_diff"] = true;
    args.emplace("mode", "apply");
    auto validated = ansible::ValidateArgs(args, UpgradeSpec(), "gcid.k8s.kubeadm_upgrade");
    REQUIRE_MESSAGE(validated.ok(), validated.status().message());
    ansible::Module module(ansible::ParseAnsibleFlags(args), std::move(validated).value(), args);
    return RunUpgrade(module, sys_);
  }
  // The stand-ins' log lines that changed something (not version, plan, kubectl).
  std::string Upgrades() {
    std::string out;
    for (std::string_view l : {"upgrade apply", "upgrade node"}) {
      std::string log = Read("kubeadm.log");
      for (size_t at = log.find(l); at != std::string::npos; at = log.find(l, at + 1)) {
        out += log.substr(at, log.find('\n', at) - at) + "\n";
      }
    }
    return out;
  }

 private:
  TempDir dir_;
  System sys_;
};

TEST_CASE("apply upgrades the control plane once; the next run changes nothing") {
  Node node("v1.26.1", "v1.27.3");
  ansible::Result r = node.Upgrade({{"version", "1.27.3"}});
  CHECK_MESSAGE(!r.failed, r.msg);
  CHECK(r.changed);
  CHECK(r.msg == "upgraded the control plane from v1.26.1 to v1.27.3");
  CHECK(r.extra["from_version"] == "v1.26.1");
  CHECK(r.extra["to_version"] == "v1.27.3");
  CHECK(node.Upgrades() ==
        "upgrade apply v1.27.3 --yes --certificate-renewal=true --etcd-upgrade=true\n");
  CHECK(node.Read("kube/version") == "v1.27.3\n");
  REQUIRE(r.diffs.size() == 1);
  CHECK(r.diffs[0].before == "kubernetes version: v1.26.1\n");
  CHECK(r.diffs[0].after == "kubernetes version: v1.27.3\n");
  // The kubectl read used admin.conf.
  CHECK(node.Read("kubeadm.log")
            .find("--kubeconfig " + std::string(getenv(kTestRootEnv)) +
                  "/etc/kubernetes/admin.conf get configmap kubeadm-config") != std::string::npos);
  ansible::Result again = node.Upgrade({{"version", "v1.27.3"}});
  CHECK_FALSE(again.failed);
  CHECK_FALSE(again.changed);
  CHECK(again.msg == "the control plane is already at v1.27.3");
  CHECK(node.Upgrades() ==
        "upgrade apply v1.27.3 --yes --certificate-renewal=true --etcd-upgrade=true\n");
}

TEST_CASE("options reach kubeadm; check mode runs only kubeadm upgrade plan") {
  Node node("v1.26.1", "v1.27.3");
  ansible::Result check = node.Upgrade({{"version", "v1.27.3"}}, true);
  CHECK_MESSAGE(!check.failed, check.msg);
  CHECK(check.changed);
  CHECK(check.msg ==
        "would upgrade the control plane from v1.26.1 to v1.27.3 (kubeadm upgrade "
        "plan passed)");
  CHECK(node.Upgrades() == "");
  CHECK(node.Read("kubeadm.log").find("upgrade plan v1.27.3") != std::string::npos);
  CHECK(node.Read("kube/version") == "v1.26.1\n");
  REQUIRE(check.extra["plan"].is_array());
  CHECK(check.extra["plan"][0] == json{{"component", "kubelet"},
                                       {"node", "h1"},
                                       {"current", "v1.26.1"},
                                       {"target", "v1.27.3"}});
  ansible::Result r = node.Upgrade(
      {{"version", "v1.27.3"}, {"certificate_renewal", false}, {"etcd_upgrade", false}});
  CHECK_MESSAGE(!r.failed, r.msg);
  CHECK(node.Upgrades() ==
        "upgrade apply v1.27.3 --yes --certificate-renewal=false --etcd-upgrade=false\n");
}

TEST_CASE("each refusal fails before kubeadm upgrade runs, saying what to do") {
  struct Case {
    const char* mode;
    const char* target;
    const char* cluster;
    const char* kubeadm;
    const char* msg;
  };
  for (const Case& c : {
           Case{"apply", "v1.26.0", "v1.26.1", "v1.26.0", "kubeadm does not downgrade"},
           Case{"apply", "v1.28.2", "v1.26.1", "v1.28.2", "upgrade to the latest v1.27.x first"},
           Case{"apply", "v1.27.3", "v1.26.1", "v1.26.1",
                "upgrade the kubeadm package to v1.27.3 first"},
           Case{"node", "v1.27.3", "v1.26.1", "v1.27.3", "upgrade the control plane first"},
       }) {
    CAPTURE(c.mode);
    CAPTURE(c.target);
    Node node(c.cluster, c.kubeadm);
    ansible::Result r = node.Upgrade({{"mode", c.mode}, {"version", c.target}});
    CHECK(r.failed);
    CHECK(r.extra["failure_class"] == "refused");
    CHECK_MESSAGE(r.msg.find(c.msg) != std::string::npos, r.msg);
    CHECK(node.Upgrades() == "");
    CHECK(node.Read("kubeadm.log").find("upgrade plan") == std::string::npos);
    CHECK(node.Read("kube/version") == std::string(c.cluster) + "\n");
  }
  Node node("v1.26.1", "v1.27.3");
  ansible::Result bad = node.Upgrade({{"version", "v1.27"}});
  CHECK(bad.extra["failure_class"] == "invalid_argument");
  CHECK(bad.msg == "version must be a release version vX.Y.Z or X.Y.Z (e.g. v1.27.3), got 'v1.27'");
}

TEST_CASE("node follows the control plane through kubelet.conf, then records the version") {
  Node node("v1.27.3", "v1.27.3");
  node.Remove("etc/kubernetes/admin.conf");
  node.Write("etc/kubernetes/kubelet.conf", "apiVersion: v1\n");
  ansible::Result check = node.Upgrade({{"mode", "node"}, {"version", "v1.27.3"}}, true);
  CHECK(check.changed);
  CHECK(check.msg ==
        "would run kubeadm upgrade node --certificate-renewal=true "
        "--etcd-upgrade=true (unknown -> v1.27.3)");
  CHECK(node.Upgrades() == "");
  ansible::Result r = node.Upgrade({{"mode", "node"}, {"version", "v1.27.3"}});
  CHECK_MESSAGE(!r.failed, r.msg);
  CHECK(r.changed);
  CHECK(node.Upgrades() == "upgrade node --certificate-renewal=true --etcd-upgrade=true\n");
  CHECK(node.Read("kubeadm.log").find("etc/kubernetes/kubelet.conf get configmap") !=
        std::string::npos);
  CHECK(node.Read("etc/kubernetes/pvek8s-kubeadm-upgrade") == "v1.27.3\n");
  CHECK(node.Upgrade({{"mode", "node"}, {"version", "v1.27.3"}}).changed == false);
}

TEST_CASE("a control-plane node's version is its API server manifest") {
  Node node("v1.27.3", "v1.27.3");
  node.Write("etc/kubernetes/manifests/kube-apiserver.yaml",
             "    image: registry.k8s.io/kube-apiserver:v1.26.1\n");
  ansible::Result r = node.Upgrade({{"mode", "node"}, {"version", "v1.27.3"}});
  CHECK_MESSAGE(!r.failed, r.msg);
  CHECK(r.extra["from_version"] == "v1.26.1");
  CHECK(node.Read("etc/kubernetes/manifests/kube-apiserver.yaml").find(":v1.27.3") !=
        std::string::npos);
  CHECK_FALSE(node.Upgrade({{"mode", "node"}, {"version", "v1.27.3"}}).changed);
}

TEST_CASE("failures are classified as kubeadm_join's") {
  Node node("v1.26.1", "v1.27.3");
  node.Write("mode", "preflight\n");
  ansible::Result pre = node.Upgrade({{"version", "v1.27.3"}});
  CHECK(pre.extra["failure_class"] == "preflight");
  CHECK(pre.msg == "kubeadm preflight checks failed: CoreDNSUnsupportedPlugins");
  node.Write("mode", "unreachable\n");
  ansible::Result down = node.Upgrade({{"version", "v1.27.3"}});
  CHECK(down.extra["failure_class"] == "unreachable");
  CHECK(down.msg.find("cannot read the control plane's version") == 0);
  CHECK(node.Upgrades() ==
        "upgrade apply v1.27.3 --yes --certificate-renewal=true "
        "--etcd-upgrade=true\n");
  node.Write("mode", "hang\n");
  ansible::Result slow = node.Upgrade({{"version", "v1.27.3"}, {"timeout", 1}});
  CHECK(slow.extra["failure_class"] == "timeout");
  CHECK(slow.msg == "kubeadm upgrade apply did not finish within 1 s");
}

}  // namespace
}  // namespace pvek8s::kubeadm
