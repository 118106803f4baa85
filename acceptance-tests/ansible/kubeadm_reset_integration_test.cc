// gcid.k8s.kubeadm_reset through the real ansible-playbook over SSH on the
// test hosts, after cluster.yml joined h2 and h3 through the kubeadm stand-in
// (its reset: modules/kubeadm_join/testdata/kubeadm-reset.sh). The hosts'
// /etc is their own overlay and /root their own home, so the CNI file and the
// kubeconfig the tests plant are the host's. iptables and ipvsadm, when the
// machine has them, act on the host's own network namespace; when it does not,
// the module must say so and go on.
#include <doctest/doctest.h>

#include "acceptance-tests/ansible/playbook_run.h"

namespace pvek8s::integration {
namespace {

using ansible::testing::ReadText;

std::string KubeadmLog(const std::string& host) {
  return ReadText(kLab + "/" + host + "/fake/sbin/kubeadm.log");
}

// What a joined worker has besides kubeadm's files.
void Plant(const std::string& host) {
  REQUIRE(OnHost(host,
                 "mkdir -p /etc/cni/net.d /root/.kube && echo '{}' "
                 ">/etc/cni/net.d/10-crio-bridge.conflist && echo 'apiVersion: v1' "
                 ">/root/.kube/config") == 0);
}

bool Present(const std::string& host, const std::string& path) {
  return OnHost(host, "test -e " + path) == 0;
}

TEST_CASE("check mode says what would go; the run removes it; a second run changes nothing") {
  FreshCluster();
  Plant("h2");
  REQUIRE(Present("h2", "/etc/kubernetes/kubelet.conf"));
  const json everything = {{"kr_hosts", "h2"}, {"kr_all", true}};

  Run check = Playbook("kubeadm_reset.yml", everything, {"--check"});
  CHECK(check.rc == 0);
  json r = TaskResult(check, "h2");
  CHECK(r["changed"] == true);
  REQUIRE(r["removed"].size() >= 3);
  CHECK(r["removed"][0] == "kubeadm reset: /etc/kubernetes/kubelet.conf");
  CHECK(r["removed"][1] == "/etc/cni/net.d/10-crio-bridge.conflist");
  CHECK(r["removed"].back() == "/root/.kube/config");
  CHECK(Present("h2", "/etc/kubernetes/kubelet.conf"));
  CHECK(Present("h2", "/etc/cni/net.d/10-crio-bridge.conflist"));
  CHECK(Present("h2", "/root/.kube/config"));
  CHECK(KubeadmLog("h2").find("reset") == std::string::npos);

  Run diff = Playbook("kubeadm_reset.yml", everything, {"--check", "--diff"}, false);
  CHECK(diff.rc == 0);
  CHECK(diff.out.find("-kubeadm reset: /etc/kubernetes/kubelet.conf") != std::string::npos);
  CHECK(Present("h2", "/etc/kubernetes/kubelet.conf"));

  Run first = Playbook("kubeadm_reset.yml", everything);
  CHECK(first.rc == 0);
  r = TaskResult(first, "h2");
  CHECK(r["changed"] == true);
  CHECK(r["removed"] == TaskResult(check, "h2")["removed"]);
  CHECK(KubeadmLog("h2").find("reset --force --cri-socket unix:///var/run/crio/crio.sock") !=
        std::string::npos);
  CHECK_FALSE(Present("h2", "/etc/kubernetes/kubelet.conf"));
  CHECK_FALSE(Present("h2", "/etc/cni/net.d/10-crio-bridge.conflist"));
  CHECK_FALSE(Present("h2", "/root/.kube/config"));
  if (!ansible::FindExecutable("iptables")) {
    std::string warnings = r["warnings"].dump();
    CHECK_MESSAGE(warnings.find("flush_iptables: iptables is not installed on this node") !=
                      std::string::npos,
                  warnings);
  }
  CHECK(Present("h3", "/etc/kubernetes/kubelet.conf"));  // Only the targeted host.

  Run second = Playbook("kubeadm_reset.yml", everything);
  CHECK(second.rc == 0);
  CHECK(second.result["stats"]["h2"]["changed"] == 0);
  CHECK(TaskResult(second, "h2")["msg"] == "nothing to reset");
}

TEST_CASE("a bad cri_socket fails before kubeadm runs") {
  std::string before = KubeadmLog("h3");
  Run run = Playbook("kubeadm_reset.yml", {{"kr_hosts", "h3"}, {"kr_cri_socket", "crio"}});
  CHECK(run.rc != 0);
  CHECK(TaskResult(run, "h3")["msg"] ==
        "cri_socket must be a unix:// URL of an absolute path (e.g. "
        "unix:///var/run/crio/crio.sock), got 'crio'");
  CHECK(KubeadmLog("h3") == before);
  CHECK(Present("h3", "/etc/kubernetes/kubelet.conf"));
}

TEST_CASE("no token or key in any output") {
  Playbook("kubeadm_reset.yml", {{"kr_hosts", "h3"}}, {"-vvv"}, false);
  CHECK_FALSE(Present("h3", "/etc/kubernetes/kubelet.conf"));
  CHECK_FALSE(AllOutput().empty());
  CHECK(AllOutput().find(kToken) == std::string::npos);
  CHECK(AllOutput().find(CaKeyLine()) == std::string::npos);
}

}  // namespace
}  // namespace pvek8s::integration
