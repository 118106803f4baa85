// gcid.k8s.kubeadm_upgrade and gcid.k8s.kubeadm_certs through the real
// ansible-playbook over SSH, against the namespace test hosts with the kubeadm
// stand-in of modules/kubeadm_join/testdata (kubeadm-upgrade.sh,
// kubeadm-certs.sh; see their headers for what they prove and what they
// cannot). h1 is the first control plane, h2 and h3 workers. The tests stand
// for a cluster at v1.26.1 by writing the fake Kubernetes state
// (lab/shared/kube), each host's Node name (fake/sbin/node-name: the hosts
// share the machine's hostname) and the files kubeadm leaves in /etc/kubernetes.
// Each stand-in logs its arguments: the refusals are proved by the absence of
// any `upgrade apply` or `upgrade node` line.
#include <doctest/doctest.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "acceptance-tests/ansible/playbook_run.h"
#include "modules/ansible/command.h"
#include "modules/ansible/testing.h"

namespace {

using nlohmann::json;
using pvek8s::ansible::RunCommand;
using pvek8s::ansible::testing::Exists;
using pvek8s::ansible::testing::ReadText;
using pvek8s::ansible::testing::WriteText;
using pvek8s::integration::AllOutput;
using pvek8s::integration::kKube;
using pvek8s::integration::kLab;
using pvek8s::integration::kTesthosts;
using pvek8s::integration::kToken;
using pvek8s::integration::Run;
using pvek8s::integration::TaskResult;
using namespace std::chrono_literals;

constexpr const char* kCertKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// playbook_run.h's Playbook with -e target=`target`.
Run Playbook(const std::string& playbook, const std::string& target, json vars,
             const std::vector<std::string>& flags = {}, bool json_callback = true) {
  vars["target"] = target;
  return pvek8s::integration::Playbook(playbook, vars, flags, json_callback);
}

Run Upgrade(const std::string& target, const std::string& mode, const std::string& version,
            const std::vector<std::string>& flags = {}, bool json_callback = true) {
  return Playbook("kubeadm_upgrade.yml", target, {{"ku_mode", mode}, {"ku_version", version}},
                  flags, json_callback);
}

std::string Sbin(const std::string& host, const std::string& file) {
  return kLab + "/" + host + "/fake/sbin/" + file;
}

// Runs a shell command on `host` (its /etc is its own).
void OnHost(const std::string& host, const std::string& script) {
  auto r = RunCommand({kTesthosts, "exec", kLab, host, "sh", "-c", script}, 30s);
  REQUIRE(r.ok());
  REQUIRE_MESSAGE(r->exit_code == 0, (r->out + r->err));
}

// The `upgrade apply` / `upgrade node` lines in host's stand-in log.
std::string Upgrades(const std::string& host) {
  std::string out;
  std::string log = ReadText(Sbin(host, "kubeadm.log"));
  size_t start = 0;
  while (start < log.size()) {
    size_t nl = log.find('\n', start);
    if (nl == std::string::npos) nl = log.size();
    std::string line = log.substr(start, nl - start);
    if (line.rfind("upgrade apply", 0) == 0 || line.rfind("upgrade node", 0) == 0) {
      out += line + "\n";
    }
    start = nl + 1;
  }
  return out;
}

std::string Kubelet(const std::string& host) {
  std::string node = ReadText(kKube + "/nodes/" + host);
  size_t at = node.find("kubelet=");
  return at == std::string::npos ? "" : node.substr(at + 8, node.find('\n', at) - at - 8);
}

// Fresh hosts: a cluster at `cluster` whose nodes run it; kubeadm `kubeadm`
// on every host (the package already upgraded); h1 the control plane.
void Cluster(const std::string& cluster, const std::string& kubeadm) {
  auto reset = RunCommand({kTesthosts, "reset", kLab}, 60s);
  REQUIRE(reset.ok());
  REQUIRE(reset->exit_code == 0);
  WriteText(kKube + "/version", cluster + "\n");
  // What else a control plane holds; only its absence from every output matters.
  WriteText(kLab + "/shared/kubeadm/tokens", std::string(kToken) + " 0\n");
  WriteText(kLab + "/shared/kubeadm/certificate-key", std::string(kCertKey) + "\n");
  for (const char* h : {"h1", "h2", "h3"}) {
    bool cp = std::string(h) == "h1";
    WriteText(kKube + "/nodes/" + h, "kubelet=" + cluster +
                                         "\nunschedulable=false\nready=true\ncontrol_plane=" +
                                         (cp ? "true" : "false") + "\n");
    WriteText(Sbin(h, "node-name"), std::string(h) + "\n");
    WriteText(Sbin(h, "version"), kubeadm + "\n");
    WriteText(Sbin(h, "mode"), "success\n");
    WriteText(Sbin(h, "kubeadm.log"), "");
    std::remove(Sbin(h, "certs-expiry").c_str());
    if (!Exists(Sbin(h, "kubectl"))) {
      // Until the kubectl stand-in (another module's) serves kubeadm-config
      // itself, this one does only that.
      WriteText(Sbin(h, "kubectl"),
                "#!/bin/sh\nR=\"$(dirname \"$(readlink -f \"$0\")\")\"\n"
                ". \"$R/kubectl-kubeadm-config.sh\"\nkubectl_kubeadm_config \"$@\"\n",
                0755);
    }
    if (cp) {
      OnHost(
          h,
          "mkdir -p /etc/kubernetes/manifests && echo 'apiVersion: v1' >/etc/kubernetes/admin.conf"
          " && for m in kube-controller-manager kube-scheduler etcd; do echo \"# $m\" "
          ">/etc/kubernetes/manifests/$m.yaml; done && printf '    image: "
          "registry.k8s.io/kube-apiserver:%s\\n' " +
              cluster + " >/etc/kubernetes/manifests/kube-apiserver.yaml");
    } else {
      OnHost(h, "mkdir -p /etc/kubernetes && echo 'apiVersion: v1' >/etc/kubernetes/kubelet.conf");
    }
  }
}

TEST_CASE(
    "apply then node: check mode changes nothing, diff shows versions, second run changed=0") {
  Cluster("v1.26.1", "v1.27.3");
  Run check = Upgrade("h1", "apply", "v1.27.3", {"--check"});
  CHECK(check.rc == 0);
  CHECK(TaskResult(check, "h1")["changed"] == true);
  CHECK(TaskResult(check, "h1")["plan"][0]["component"] == "kubelet");
  CHECK(ReadText(Sbin("h1", "kubeadm.log")).find("upgrade plan v1.27.3") != std::string::npos);
  Run diff = Upgrade("h1", "apply", "1.27.3", {"--check", "--diff"}, false);
  CHECK(diff.rc == 0);
  CHECK(diff.out.find("-kubernetes version: v1.26.1\n+kubernetes version: v1.27.3") !=
        std::string::npos);
  Run node_check = Upgrade("h2:h3", "node", "v1.27.3", {"--check"});
  CHECK(node_check.rc != 0);  // ahead of the control plane: refused, also in check mode
  for (const char* h : {"h1", "h2", "h3"}) CHECK(Upgrades(h) == "");
  CHECK(ReadText(kKube + "/version") == "v1.26.1\n");

  Run apply = Upgrade("h1", "apply", "v1.27.3");
  CHECK(apply.rc == 0);
  CHECK(TaskResult(apply, "h1")["changed"] == true);
  CHECK(TaskResult(apply, "h1")["from_version"] == "v1.26.1");
  CHECK(Upgrades("h1") ==
        "upgrade apply v1.27.3 --yes --certificate-renewal=true --etcd-upgrade=true\n");
  CHECK(ReadText(kKube + "/version") == "v1.27.3\n");
  CHECK(Kubelet("h1") == "v1.27.3");
  Run again = Upgrade("h1", "apply", "v1.27.3");
  CHECK(again.rc == 0);
  CHECK(again.result["stats"]["h1"]["changed"] == 0);

  node_check = Upgrade("h2:h3", "node", "v1.27.3", {"--check", "--diff"}, false);
  CHECK(node_check.rc == 0);
  CHECK(node_check.out.find("changed: [h2]") != std::string::npos);
  CHECK(node_check.out.find("+kubernetes version: v1.27.3") != std::string::npos);
  CHECK(Upgrades("h2") == "");
  Run nodes = Upgrade("h2:h3", "node", "v1.27.3");
  CHECK(nodes.rc == 0);
  for (const char* h : {"h2", "h3"}) {
    CAPTURE(h);
    CHECK(TaskResult(nodes, h)["changed"] == true);
    CHECK(Upgrades(h) == "upgrade node --certificate-renewal=true --etcd-upgrade=true\n");
    CHECK(Kubelet(h) == "v1.27.3");
  }
  Run nodes_again = Upgrade("h2:h3", "node", "v1.27.3");
  CHECK(nodes_again.rc == 0);
  for (const char* h : {"h2", "h3"}) CHECK(nodes_again.result["stats"][h]["changed"] == 0);
}

TEST_CASE("each refusal fails before any upgrade command runs, with what to do") {
  struct Case {
    const char* name;
    const char* host;
    const char* mode;
    const char* version;
    const char* kubeadm;
    const char* msg;
  };
  for (const Case& c : {
           Case{"downgrade", "h1", "apply", "v1.26.0", "v1.26.0",
                "version v1.26.0 is older than the control plane's v1.26.1: kubeadm does not "
                "downgrade"},
           Case{"skipped minor", "h1", "apply", "v1.28.0", "v1.28.0",
                "version v1.28.0 skips a minor version: the control plane is at v1.26.1 and "
                "kubeadm upgrades one minor version at a time; upgrade to the latest v1.27.x "
                "first"},
           Case{"node ahead", "h2", "node", "v1.27.3", "v1.27.3",
                "version v1.27.3 is ahead of the control plane, which is at v1.26.1: upgrade the "
                "control plane first (mode: apply on the first control-plane node)"},
           Case{"kubeadm package", "h1", "apply", "v1.27.3", "v1.26.1",
                "kubeadm on this node is v1.26.1, not the target v1.27.3: upgrade the kubeadm "
                "package to v1.27.3 first"},
       }) {
    CAPTURE(c.name);
    Cluster("v1.26.1", c.kubeadm);
    Run run = Upgrade(c.host, c.mode, c.version);
    CHECK(run.rc != 0);
    json r = TaskResult(run, c.host);
    CHECK(r["failed"] == true);
    CHECK(r["failure_class"] == "refused");
    CHECK_MESSAGE(r["msg"].get<std::string>().find(c.msg) == 0, r["msg"]);
    CHECK(Upgrades(c.host) == "");
    CHECK(ReadText(kKube + "/version") == "v1.26.1\n");
    CHECK(Kubelet(c.host) == "v1.26.1");
  }
}

TEST_CASE("certificates 20 days from expiry are renewed once; 200 days: nothing") {
  Cluster("v1.27.3", "v1.27.3");
  auto expire_in = [](long long days) {
    WriteText(Sbin("h1", "certs-expiry"), std::to_string(std::time(nullptr) + days * 86400 + 600));
  };
  auto renewals = [] {
    std::string log = ReadText(Sbin("h1", "kubeadm.log"));
    int n = 0;
    for (size_t at = log.find("certs renew all"); at != std::string::npos;
         at = log.find("certs renew all", at + 1)) {
      ++n;
    }
    return n;
  };
  expire_in(20);
  std::string before = ReadText(Sbin("h1", "certs-expiry"));
  Run check = Playbook("kubeadm_certs.yml", "h1", json::object(), {"--check"});
  CHECK(check.rc == 0);
  CHECK(TaskResult(check, "h1")["changed"] == true);
  CHECK(TaskResult(check, "h1")["renewed"].size() == 10);
  CHECK(renewals() == 0);
  CHECK(ReadText(Sbin("h1", "certs-expiry")) == before);

  Run first = Playbook("kubeadm_certs.yml", "h1", json::object());
  CHECK(first.rc == 0);
  json r = TaskResult(first, "h1");
  CHECK(r["changed"] == true);
  CHECK(r["renewed"].size() == 10);
  CHECK(r["restarted"].size() == 4);
  CHECK(r["certificates"][0]["residual_days"].get<long long>() >= 364);
  CHECK(renewals() == 1);
  OnHost("h1",
         "test -s /etc/kubernetes/manifests/kube-apiserver.yaml && test -s "
         "/etc/kubernetes/manifests/etcd.yaml");
  Run second = Playbook("kubeadm_certs.yml", "h1", json::object());
  CHECK(second.rc == 0);
  CHECK(second.result["stats"]["h1"]["changed"] == 0);
  CHECK(renewals() == 1);

  expire_in(200);
  Run far = Playbook("kubeadm_certs.yml", "h1", json::object());
  CHECK(far.rc == 0);
  CHECK(far.result["stats"]["h1"]["changed"] == 0);
  CHECK(TaskResult(far, "h1")["renewed"].empty());
  CHECK(TaskResult(far, "h1")["certificates"][1]["residual_days"] == 200);
  CHECK(renewals() == 1);
  // A worker has no control-plane certificates.
  Run worker = Playbook("kubeadm_certs.yml", "h2", json::object());
  CHECK(worker.rc != 0);
  CHECK(TaskResult(worker, "h2")["failure_class"] == "not_control_plane");
}

TEST_CASE("no token or certificate key in any output, -vvv included") {
  Cluster("v1.26.1", "v1.27.3");
  Upgrade("h1", "apply", "v1.27.3", {"-vvv"}, false);
  Playbook("kubeadm_certs.yml", "h1", json::object(), {"-vvv"}, false);
  CHECK_FALSE(AllOutput().empty());
  CHECK(AllOutput().find(kToken) == std::string::npos);
  CHECK(AllOutput().find(kCertKey) == std::string::npos);
}

}  // namespace
