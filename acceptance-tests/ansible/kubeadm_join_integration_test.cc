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

#include "modules/ansible/command.h"
#include "modules/ansible/testing.h"
#include "modules/kubeadm/ca_hash.h"

namespace {

using nlohmann::json;
using pvek8s::ansible::RunCommand;
using pvek8s::ansible::testing::ReadText;
using pvek8s::ansible::testing::WriteText;
using namespace std::chrono_literals;

const std::string kLab = PVEK8S_TEST_LAB;
const std::string kTesthosts = PVEK8S_TESTHOSTS;
const std::string kPlaybook = std::string(PVEK8S_PLAYBOOKS) + "/kubeadm_join.yml";
constexpr const char* kToken = "abcdef.0123456789abcdef";
const std::string kCluster = kLab + "/shared/kubeadm";  // the stand-in's fake cluster
// A well-formed pin of no CA of these tests.
const std::string kOtherHash = "sha256:" + std::string(64, 'a');

// Makes a CA with openssl at DIR/ca.crt and DIR/ca.key.
void MakeCa(const std::string& dir) {
  auto ca =
      RunCommand({"sh", "-c",
                  "mkdir -p '" + dir + "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout '" +
                      dir + "/ca.key' -out '" + dir + "/ca.crt' -days 1 -subj /CN=kubernetes 2>&1"},
                 60s);
  REQUIRE(ca.ok());
  REQUIRE_MESSAGE(ca->exit_code == 0, ca->out);
}

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

// Every output of every run, for the secret scan at the end.
std::string& AllOutput() {
  static std::string all;
  return all;
}

const std::string& Collections() {
  static const std::string path = [] {
    std::string dir = kLab + "/collections";
    auto r = RunCommand({"ansible-galaxy", "collection", "install", "--offline", "--force", "-p",
                         dir, PVEK8S_COLLECTION_TARBALL},
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
  json result;
};

Run Playbook(const std::string& target, json vars, std::vector<std::string> flags = {},
             bool json_callback = true) {
  vars["target"] = target;
  if (!vars.contains("kj_hashes")) vars["kj_hashes"] = json{ClusterHash()};
  std::vector<std::string> argv = {kTesthosts, "ctl", kLab,       "ansible-playbook",
                                   kPlaybook,  "-e",  vars.dump()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  std::vector<std::string> env = {"ANSIBLE_COLLECTIONS_PATH=" + Collections(), "ANSIBLE_NOCOLOR=1",
                                  "LC_ALL=C.UTF-8"};
  if (json_callback) env.emplace_back("ANSIBLE_STDOUT_CALLBACK=json");
  auto r = RunCommand(argv, 180s, env);
  REQUIRE(r.ok());
  AllOutput() += r->out + r->err;
  Run run{r->exit_code, r->out, nullptr};
  if (json_callback) {
    run.result = json::parse(r->out, nullptr, false);
    REQUIRE_MESSAGE(!run.result.is_discarded(), (r->out + r->err));
  }
  return run;
}

json Result(const Run& run, const std::string& host) {
  return run.result["plays"][0]["tasks"][0]["hosts"][host];
}

void Mode(const std::string& host, const std::string& mode) {
  WriteText(kLab + "/" + host + "/fake/sbin/mode", mode + "\n");
  WriteText(kLab + "/" + host + "/fake/sbin/version", "v1.30.4\n");
}

bool Joined(const std::string& host) {
  auto r = RunCommand(
      {kTesthosts, "exec", kLab, host, "sh", "-c", "test -e /etc/kubernetes/kubelet.conf"}, 30s);
  REQUIRE(r.ok());
  return r->exit_code == 0;
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
    CHECK(Result(check, h)["changed"] == true);
    CHECK(Result(check, h)["msg"] == "would join 10.123.0.11:6443 (preflight passed)");
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
  CHECK(Result(wrong, "h2")["failure_class"] == "ca_mismatch");
  CHECK(diff.out.find("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER") != std::string::npos);
}

TEST_CASE("joins two nodes, then a second run changes nothing") {
  Run first = Playbook("h2:h3", json::object());
  CHECK(first.rc == 0);
  for (const char* h : {"h2", "h3"}) {
    CAPTURE(h);
    CHECK(Result(first, h)["changed"] == true);
    CHECK(Joined(h));
  }
  CHECK_FALSE(Joined("h1"));
  Run second = Playbook("h2:h3", json::object());
  CHECK(second.rc == 0);
  for (const char* h : {"h2", "h3"}) {
    CHECK(second.result["stats"][h]["changed"] == 0);
    CHECK(Result(second, h)["msg"] == "node already joined to 10.123.0.11:6443");
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
    json r = Result(run, "h1");
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
  CHECK(Result(run, "h1")["msg"].get<std::string>().find(
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
    std::vector<std::string> argv = {kTesthosts,
                                     "ctl",
                                     kLab,
                                     "ansible-playbook",
                                     std::string(PVEK8S_PLAYBOOKS) + "/cluster.yml",
                                     "-e",
                                     json{{"ca_dir", ca_dir}}.dump()};
    auto r = RunCommand(argv, 180s,
                        {"ANSIBLE_COLLECTIONS_PATH=" + Collections(), "ANSIBLE_NOCOLOR=1",
                         "LC_ALL=C.UTF-8", "ANSIBLE_STDOUT_CALLBACK=json"});
    REQUIRE(r.ok());
    AllOutput() += r->out + r->err;
    json out = json::parse(r->out, nullptr, false);
    REQUIRE_MESSAGE(!out.is_discarded(), (r->out + r->err));
    CHECK(r->exit_code == 0);
    return out;
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
