// gcid.k8s.kubeadm_token and a late join, through the real ansible-playbook
// over SSH to the namespace test hosts with the kubeadm stand-in
// (modules/kubeadm_join/testdata: kubeadm and kubeadm-token.sh). h1 is
// initialised with a token that lives 3 s; once it has expired, a worker
// with it or with a token the control plane never issued (Terraform's rotated
// one) is refused, as kubeadm refuses it; after kubeadm_token registered the
// new token on h1, the worker joins with it.
#include <doctest/doctest.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "acceptance-tests/ansible/playbook_run.h"
#include "modules/ansible/testing.h"
#include "modules/kubeadm/ca_hash.h"

namespace {

using pvek8s::ansible::testing::ReadText;
using namespace pvek8s::integration;  // kLab, Playbook, TaskResult, OnHost, AllOutput

const std::string kCluster = kLab + "/shared/kubeadm";  // the stand-in's fake cluster
// The token kubeadm init issued (it expires 3 s later), and the one Terraform
// rotated to, which the control plane has never heard of.
constexpr const char* kOld = "tokena.0123456789abcdef";
constexpr const char* kNew = "tokenb.fedcba9876543210";

std::string ClusterHash() {
  auto hash = pvek8s::kubeadm::CaCertHash(ReadText(kCluster + "/ca.crt"));
  REQUIRE(hash.ok());
  return *hash;
}

Run Join(const std::string& host, const std::string& token) {
  return Playbook("kubeadm_join.yml", {{"target", host},
                                       {"kj_token", token},
                                       {"kj_hashes", json{ClusterHash()}},
                                       {"kj_discovery_timeout", 1},
                                       {"kj_reset", false}});
}

// Expiry (unix s; 0 never) of `token` in the fake cluster; -1 when absent.
long long Expiry(const std::string& token) {
  std::istringstream in(ReadText(kCluster + "/tokens"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string t;
    long long exp = -1;
    if (fields >> t >> exp && t == token) return exp;
  }
  return -1;
}

TEST_CASE("a worker added after the token's TTL joins once kubeadm_token registered the new one") {
  ResetHosts();
  const std::string ca_dir = kLab + "/token-ca";
  MakeCa(ca_dir);
  Run init = Playbook("kubeadm_init.yml",
                      {{"ca_dir", ca_dir}, {"kt_init_token", kOld}, {"kt_init_ttl", "3s"}});
  REQUIRE(init.rc == 0);
  REQUIRE(Expiry(kOld) > 0);

  // The token's TTL passes (polled with a deadline, not slept for).
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (Expiry(kOld) >= std::time(nullptr) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(Expiry(kOld) < std::time(nullptr));

  {  // Without registration both the expired and the rotated token are refused.
    for (const char* token : {kOld, kNew}) {
      CAPTURE(token);
      Run join = Join("h2", token);
      CHECK(join.rc != 0);
      CHECK(TaskResult(join, "h2")["failure_class"] == "token_invalid");
      CHECK_FALSE(Joined("h2"));
    }
  }

  // Check mode reports and registers nothing; --diff shows ID and expiry only.
  Run check =
      Playbook("kubeadm_token.yml", {{"kt_token", kNew}, {"kt_ttl", "1h"}}, {"--check", "--diff"});
  CHECK(check.rc == 0);
  CHECK(TaskResult(check, "h1")["changed"] == true);
  CHECK(TaskResult(check, "h1")["msg"] == "would register bootstrap token tokenb");
  CHECK(TaskResult(check, "h1")["diff"].dump().find("bootstrap token tokenb: absent") !=
        std::string::npos);
  CHECK(Expiry(kNew) == -1);

  Run first = Playbook("kubeadm_token.yml",
                       {{"kt_token", kNew}, {"kt_ttl", "1h"}, {"kt_description", "rotated"}});
  CHECK(first.rc == 0);
  CHECK(TaskResult(first, "h1")["changed"] == true);
  CHECK(TaskResult(first, "h1")["msg"] == "registered bootstrap token tokenb");
  CHECK(Expiry(kNew) > std::time(nullptr) + 3500);
  Run second = Playbook("kubeadm_token.yml", {{"kt_token", kNew}, {"kt_ttl", "1h"}});
  CHECK(second.rc == 0);
  CHECK(second.result["stats"]["h1"]["changed"] == 0);

  Run late = Join("h2", kNew);
  CHECK(late.rc == 0);
  CHECK(TaskResult(late, "h2")["changed"] == true);
  CHECK(Joined("h2"));

  // The expired token, registered again, replaces the stale one: h3 joins with it.
  Run again = Playbook("kubeadm_token.yml", {{"kt_token", kOld}, {"kt_ttl", "1h"}});
  CHECK(again.rc == 0);
  CHECK(TaskResult(again, "h1")["msg"] ==
        "registered bootstrap token tokena (replaced a stale one)");
  CHECK(Join("h3", kOld).rc == 0);
  CHECK(Joined("h3"));

  // A node that is not an initialised control plane says so.
  Run worker = Playbook("kubeadm_token.yml", {{"kt_token", kNew}, {"target", "h3"}});
  CHECK(worker.rc != 0);
  CHECK(TaskResult(worker, "h3")["failure_class"] == "not_initialised");
  CHECK(TaskResult(worker, "h3")["msg"].get<std::string>().find(
            "/etc/kubernetes/admin.conf is not readable") == 0);
}

TEST_CASE("no token appears in any output, not even at -vvv") {
  Playbook("kubeadm_token.yml", {{"kt_token", kNew}}, {"-vvv", "--diff"}, false);
  Playbook("kubeadm_token.yml", {{"kt_token", "tokenb.badbadbadbadbadb"}}, {"-vvv"}, false);
  CHECK_FALSE(AllOutput().empty());
  for (const char* secret :
       {kOld, kNew, "0123456789abcdef", "fedcba9876543210", "badbadbadbadbadb"}) {
    CAPTURE(secret);
    CHECK(AllOutput().find(secret) == std::string::npos);
  }
}

}  // namespace
