// gcid.k8s.kubeadm_join (and kubeadm_init followed by kubeadm_join) through the
// real ansible-playbook over SSH, against the namespace test hosts with the
// kubeadm stand-in of modules/kubeadm_join/testdata (see that file for what it
// proves and what it cannot). h2 and h3 join; h1 serves as the node on which
// every failure class is produced, and as the control plane of the init test.
// The join tests stand for a control plane by writing the stand-in's fake
// cluster (CA, endpoint, issued token) into the hosts' shared directory.
#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "acceptance-tests/ansible/playbook_run.h"
#include "modules/ansible/command.h"
#include "modules/ansible/testing.h"
#include "modules/kubeadm/ca_hash.h"

namespace {

using nlohmann::json;
using pvek8s::ansible::RunCommand;
using pvek8s::ansible::testing::ReadText;
using pvek8s::ansible::testing::WriteText;
using namespace std::chrono_literals;
using pvek8s::integration::AllOutput;
using pvek8s::integration::Joined;
using pvek8s::integration::kLab;
using pvek8s::integration::kTesthosts;
using pvek8s::integration::kToken;
using pvek8s::integration::MakeCa;
using pvek8s::integration::Run;
using pvek8s::integration::TaskResult;

const std::string kCluster = kLab + "/shared/kubeadm";  // the stand-in's fake cluster
// A well-formed pin of no CA of these tests.
const std::string kOtherHash = "sha256:" + std::string(64, 'a');

// The pin of the fake cluster's CA, computed by the modules' own code.
std::string ClusterHash() {
  auto hash = pvek8s::kubeadm::CaCertHash(ReadText(kCluster + "/ca.crt"));
  REQUIRE(hash.ok());
  return *hash;
}

// A control plane at 10.123.0.11:6443 with a fresh CA that issued kToken, as
// the stand-in's init would leave it (testhosts reset of all hosts empties it).
void SeedCluster() {
  MakeCa(kCluster);
  WriteText(kCluster + "/endpoints", "10.123.0.11:6443\n");
  WriteText(kCluster + "/tokens", std::string(kToken) + " 0\n");
}

// kubeadm_join.yml on `target`, with the cluster's pin unless `vars` names one.
Run Playbook(const std::string& target, json vars, const std::vector<std::string>& flags = {},
             bool json_callback = true) {
  vars["target"] = target;
  if (!vars.contains("kj_hashes")) vars["kj_hashes"] = json{ClusterHash()};
  return pvek8s::integration::Playbook("kubeadm_join.yml", vars, flags, json_callback);
}

void Mode(const std::string& host, const std::string& mode) {
  WriteText(kLab + "/" + host + "/fake/sbin/mode", mode + "\n");
  WriteText(kLab + "/" + host + "/fake/sbin/version", "v1.30.4\n");
}

TEST_CASE("check mode validates and runs preflight only; diff shows the masked configuration") {
  auto reset = RunCommand({kTesthosts, "reset", kLab}, 60s);
  REQUIRE(reset.ok());
  REQUIRE(reset->exit_code == 0);
  for (const char* h : {"h1", "h2", "h3"}) Mode(h, "success");
  SeedCluster();
  Run check = Playbook("h2:h3", json::object(), {"--check"});
  CHECK(check.rc == 0);
  for (const char* h : {"h2", "h3"}) {
    CAPTURE(h);
    CHECK(TaskResult(check, h)["changed"] == true);
    CHECK(TaskResult(check, h)["msg"] == "would join 10.123.0.11:6443 (preflight passed)");
    CHECK_FALSE(Joined(h));
  }
  Run diff = Playbook("h2", json::object(), {"--check", "--diff"}, false);
  CHECK(diff.rc == 0);
  CHECK(diff.out.find("+++ after: JoinConfiguration") != std::string::npos);
  CHECK(diff.out.find("\"unsafeSkipCAVerification\": false") != std::string::npos);
  CHECK(diff.out.find("\"caCertHashes\": [\n") != std::string::npos);
  CHECK(diff.out.find("\"" + ClusterHash() + "\"") != std::string::npos);
  // Check mode runs discovery (kubeadm's preflight phase does): a wrong pin fails.
  Run wrong = Playbook("h2", {{"kj_hashes", json{kOtherHash}}}, {"--check"});
  CHECK(wrong.rc != 0);
  CHECK(TaskResult(wrong, "h2")["failure_class"] == "ca_mismatch");
  CHECK(diff.out.find("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER") != std::string::npos);
}

TEST_CASE("joins two nodes, then a second run changes nothing") {
  Run first = Playbook("h2:h3", json::object());
  CHECK(first.rc == 0);
  for (const char* h : {"h2", "h3"}) {
    CAPTURE(h);
    CHECK(TaskResult(first, h)["changed"] == true);
    CHECK(Joined(h));
  }
  CHECK_FALSE(Joined("h1"));
  Run second = Playbook("h2:h3", json::object());
  CHECK(second.rc == 0);
  for (const char* h : {"h2", "h3"}) {
    CHECK(second.result["stats"][h]["changed"] == 0);
    CHECK(TaskResult(second, h)["msg"] == "node already joined to 10.123.0.11:6443");
  }
}

TEST_CASE("every failure class produces its one-line message") {
  struct Case {
    std::string name;
    json vars;
    const char* mode;
    const char* cls;
    const char* msg;
    std::string kubeadm_said;  // in the stand-in's log on h1
  };
  for (const Case& c :
       {Case{"token never issued",
             {{"kj_token", "zzzzzz.0123456789abcdef"}, {"kj_discovery_timeout", 1}},
             "success",
             "token_invalid",
             "the bootstrap token was rejected by 10.123.0.11:6443",
             "could not find a JWS signature in the cluster-info ConfigMap for token ID "
             "\"zzzzzz\""},
        Case{"wrong pin",
             {{"kj_hashes", json{kOtherHash}}},
             "success",
             "ca_mismatch",
             "the cluster CA at 10.123.0.11:6443 does not match",
             "none of the public keys \"" + ClusterHash() + "\" are pinned"},
        Case{"refused", json::object(), "unreachable", "unreachable",
             "the API server 10.123.0.11:6443 is unreachable", "connection refused"},
        Case{"preflight", json::object(), "preflight", "preflight",
             "kubeadm preflight checks failed: Swap, Port-10250", ""}}) {
    CAPTURE(c.name);
    Mode("h1", c.mode);
    json vars = c.vars;
    vars["kj_reset"] = false;
    Run run = Playbook("h1", vars);
    CHECK(run.rc != 0);
    json r = TaskResult(run, "h1");
    CHECK(r["failed"] == true);
    CHECK(r["failure_class"] == c.cls);
    CHECK_MESSAGE(r["msg"].get<std::string>().find(c.msg) == 0, r["msg"]);
    CHECK(ReadText(kLab + "/h1/fake/sbin/kubeadm.log").find(c.kubeadm_said) != std::string::npos);
    CHECK_FALSE(Joined("h1"));
  }
}

TEST_CASE("an expired token fails at once, without running kubeadm join") {
  Mode("h1", "success");
  std::string log_before = ReadText(kLab + "/h1/fake/sbin/kubeadm.log");
  Run run = Playbook("h1", {{"kj_expires", "2020-01-01T00:00:00Z"}});
  CHECK(run.rc != 0);
  CHECK(TaskResult(run, "h1")["msg"].get<std::string>().find(
            "the bootstrap token expired at 2020-01-01T00:00:00Z") == 0);
  CHECK(ReadText(kLab + "/h1/fake/sbin/kubeadm.log") == log_before);
  CHECK_FALSE(Joined("h1"));
}

TEST_CASE("init on one host and join on two; a second run changes nothing on any host") {
  auto reset = RunCommand({kTesthosts, "reset", kLab}, 60s);
  REQUIRE(reset.ok());
  REQUIRE(reset->exit_code == 0);
  for (const char* h : {"h1", "h2", "h3"}) Mode(h, "success");
  std::string ca_dir = kLab + "/ca";
  MakeCa(ca_dir);
  auto run_cluster = [&] {
    Run r = pvek8s::integration::Playbook("cluster.yml", {{"ca_dir", ca_dir}});
    CHECK(r.rc == 0);
    return r.result;
  };
  json first = run_cluster();
  json init = first["plays"][0]["tasks"][0]["hosts"]["h1"];
  CHECK(init["changed"] == true);
  CHECK(init["api_server_endpoint"] == "10.123.0.11:6443");
  REQUIRE(init["ca_cert_hashes"].size() == 1);
  // init on h1 published the cluster the workers' stand-ins discover.
  CHECK(ClusterHash() == pvek8s::kubeadm::CaCertHash(ReadText(ca_dir + "/ca.crt")).value_or(""));
  CHECK(init["ca_cert_hashes"][0] == ClusterHash());
  for (const char* h : {"h2", "h3"}) {
    CAPTURE(h);
    CHECK(first["plays"][1]["tasks"][0]["hosts"][h]["changed"] == true);
    CHECK(Joined(h));
  }
  json second = run_cluster();
  for (const char* h : {"h1", "h2", "h3"}) {
    CAPTURE(h);
    CHECK(second["stats"][h]["changed"] == 0);
    CHECK(second["stats"][h]["failures"] == 0);
  }
  // The CA key must not leak either.
  std::string key = ReadText(ca_dir + "/ca.key");
  CHECK(AllOutput().find(key.substr(key.find('\n') + 1, 48)) == std::string::npos);
}

TEST_CASE("the token appears in no output, not even at -vvv") {
  Mode("h1", "success");
  Playbook("h1", {{"kj_reset", false}, {"kj_hashes", json{kOtherHash}}}, {"-vvv"}, false);
  CHECK_FALSE(AllOutput().empty());
  CHECK(AllOutput().find(kToken) == std::string::npos);
  CHECK(AllOutput().find("0123456789abcdef\"") == std::string::npos);
}

}  // namespace
