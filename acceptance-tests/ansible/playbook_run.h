// What the node_drain, kubeadm_reset, kubeadm_token and kubeadm_upgrade
// integration tests share: the
// collection installed once per test binary, ansible-playbook through
// `testhosts ctl`, every output kept for the secret scan, commands run inside
// a test host, and the cluster of cluster.yml (init on h1, join h2 and h3
// through the kubeadm stand-in, which also registers them as Nodes in the
// fake Kubernetes state DIR/shared/kube that the kubectl stand-in reads).
#ifndef ACCEPTANCE_TESTS_ANSIBLE_PLAYBOOK_RUN_H_
#define ACCEPTANCE_TESTS_ANSIBLE_PLAYBOOK_RUN_H_

#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modules/ansible/command.h"
#include "modules/ansible/testing.h"

namespace pvek8s::integration {

using nlohmann::json;
using namespace std::chrono_literals;

inline const std::string kLab = PVEK8S_TEST_LAB;
inline const std::string kTesthosts = PVEK8S_TESTHOSTS;
inline const std::string kPlaybooks = PVEK8S_PLAYBOOKS;
inline const std::string kKube = kLab + "/shared/kube";           // the fake Kubernetes state
inline constexpr const char* kToken = "abcdef.0123456789abcdef";  // cluster.yml's

// Every output of every run, for the secret scan.
inline std::string& AllOutput() {
  static std::string all;
  return all;
}

inline const std::string& Collections() {
  static const std::string path = [] {
    std::string dir = kLab + "/collections";
    auto r =
        ansible::RunCommand({"ansible-galaxy", "collection", "install", "--offline", "--force",
                             "-p", dir, PVEK8S_COLLECTION_TARBALL},
                            120s, {"ANSIBLE_HOME=" + kLab + "/ansible-home", "LC_ALL=C.UTF-8"});
    REQUIRE(r.ok());
    REQUIRE_MESSAGE(r->exit_code == 0, (r->out + r->err));
    return dir;
  }();
  return path;
}

struct Run {
  int rc = -1;
  std::string out;
  json result;  // The json callback's output; null without it.
  std::chrono::steady_clock::duration took{};
};

// ansible-playbook PLAYBOOKS/`playbook` -e `vars` `flags`, with the json
// stdout callback unless `json_callback` is false (then `out` is the text).
inline Run Playbook(const std::string& playbook, const json& vars,
                    const std::vector<std::string>& flags = {}, bool json_callback = true) {
  std::vector<std::string> argv = {
      kTesthosts, "ctl", kLab, "ansible-playbook", kPlaybooks + "/" + playbook, "-e", vars.dump()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  std::vector<std::string> env = {"ANSIBLE_COLLECTIONS_PATH=" + Collections(), "ANSIBLE_NOCOLOR=1",
                                  "LC_ALL=C.UTF-8"};
  if (json_callback) env.emplace_back("ANSIBLE_STDOUT_CALLBACK=json");
  auto start = std::chrono::steady_clock::now();
  auto r = ansible::RunCommand(argv, 180s, env);
  REQUIRE(r.ok());
  AllOutput() += r->out + r->err;
  Run run{r->exit_code, r->out, nullptr, std::chrono::steady_clock::now() - start};
  if (json_callback) {
    run.result = json::parse(r->out, nullptr, false);
    REQUIRE_MESSAGE(!run.result.is_discarded(), (r->out + r->err));
  }
  return run;
}

// The first task's result on `host`.
inline json TaskResult(const Run& run, const std::string& host) {
  return run.result["plays"][0]["tasks"][0]["hosts"][host];
}

// Exit code of `sh -c script` inside `host`.
inline int OnHost(const std::string& host, const std::string& script) {
  auto r = ansible::RunCommand({kTesthosts, "exec", kLab, host, "sh", "-c", script}, 30s);
  REQUIRE(r.ok());
  return r->exit_code;
}

// Fresh test hosts whose kubeadm stand-ins succeed and report v1.30.4.
inline void ResetHosts() {
  auto reset = ansible::RunCommand({kTesthosts, "reset", kLab}, 60s);
  REQUIRE(reset.ok());
  REQUIRE(reset->exit_code == 0);
  for (const char* h : {"h1", "h2", "h3"}) {
    ansible::testing::WriteText(kLab + "/" + h + "/fake/sbin/mode", "success\n");
    ansible::testing::WriteText(kLab + "/" + h + "/fake/sbin/version", "v1.30.4\n");
  }
}

// A cluster CA (ca.crt, ca.key) in `dir`, as Terraform's proxmox_k8s_cluster
// hands it to kubeadm_init.
inline void MakeCa(const std::string& dir) {
  auto ca = ansible::RunCommand(
      {"sh", "-c",
       "mkdir -p '" + dir + "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + dir +
           "/ca.key' -out '" + dir + "/ca.crt' -days 1 -subj /CN=kubernetes 2>&1"},
      60s);
  REQUIRE(ca.ok());
  REQUIRE_MESSAGE(ca->exit_code == 0, ca->out);
}

// Fresh hosts, then cluster.yml: h1 initialised, h2 and h3 joined (and
// registered as Nodes with their kube-proxy DaemonSet pods).
inline void FreshCluster() {
  ResetHosts();
  std::string ca_dir = kLab + "/ca";
  MakeCa(ca_dir);
  Run run = Playbook("cluster.yml", {{"ca_dir", ca_dir}});
  REQUIRE_MESSAGE(run.rc == 0, run.out);
}

// True when `host` has joined (kubeadm wrote its kubelet.conf).
inline bool Joined(const std::string& host) {
  return OnHost(host, "test -e /etc/kubernetes/kubelet.conf") == 0;
}

// The CA key cluster.yml used: it must appear in no output either.
inline std::string CaKeyLine() {
  std::string key = ansible::testing::ReadText(kLab + "/ca/ca.key");
  return key.substr(key.find('\n') + 1, 48);
}

}  // namespace pvek8s::integration

#endif  // ACCEPTANCE_TESTS_ANSIBLE_PLAYBOOK_RUN_H_
