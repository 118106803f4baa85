// kubeadm_join against a kubeadm stand-in. What the stand-in proves: the
// module builds a JoinConfiguration whose field names and types are those of
// kubeadm.k8s.io/v1beta3 or v1beta4 (checked by a schema in the stand-in), pins
// the CA, passes it with --config, bounds kubeadm with its timeout, classifies
// kubeadm's real error texts, resets and retries only on a partial join, and is
// idempotent through kubelet.conf. Discovery is checked against a fake cluster
// (the stand-in's header): a wrong pin or a token the control plane never
// issued fails as kubeadm fails. What it cannot prove: that a real kubeadm
// and API server accept the join; the error texts are kubeadm's messages and
// would need updating if kubeadm rewords them.
#include "modules/kubeadm_join/kubeadm_join.h"

#include <doctest/doctest.h>

#include <chrono>

#include "modules/ansible/command.h"
#include "modules/ansible/testing.h"
#include "modules/kubeadm/ca_hash.h"

namespace pvek8s::kubeadm {
namespace {

using ansible::testing::Exists;
using ansible::testing::ReadText;
using ansible::testing::TempDir;
using ansible::testing::WriteText;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kToken = "abcdef.0123456789abcdef";
constexpr const char* kKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
// A well-formed pin of no CA of these tests.
const std::string kOtherHash = "sha256:" + std::string(64, 'a');

// Makes a CA with openssl at <prefix>.crt/.key and returns its PEM certificate.
std::string MakeCa(const std::string& prefix) {
  auto gen = ansible::RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                  "ec_paramgen_curve:P-256", "-nodes", "-keyout", prefix + ".key",
                                  "-out", prefix + ".crt", "-days", "1", "-subj", "/CN=kubernetes"},
                                 60s);
  REQUIRE(gen.ok());
  REQUIRE_MESSAGE(gen->exit_code == 0, (gen->out + gen->err));
  return ReadText(prefix + ".crt");
}

// The stand-in: validates the config with a schema of kubeadm's field names,
// runs token discovery against the fake cluster in $ROOT/cluster (a control
// plane at 10.123.0.11:6443 that issued kToken, with a fresh CA), then behaves
// as $ROOT/mode says.
class Node {
 public:
  Node() {
    WriteText(dir_ / "kubeadm", ReadText(KUBEADM_STANDIN), 0755);
    // Subcommands kubeadm sources from files next to it (kubeadm-reset.sh, ...).
    for (const auto& f : std::filesystem::directory_iterator(
             std::filesystem::path(KUBEADM_STANDIN).parent_path())) {
      std::string n = f.path().filename();
      if (n.starts_with("kubeadm-")) WriteText(dir_ / n, ReadText(f.path()), 0755);
    }
    ::setenv(kTestRootEnv, dir_.path().c_str(), 1);
    WriteText(dir_ / "version", "v1.30.4\n");
    WriteText(dir_ / "mode", "success\n");
    std::filesystem::create_directories(dir_ / "tmp");
    std::filesystem::create_directories(dir_ / "cluster");
    ca_ = MakeCa(dir_ / "cluster/ca");
    StatusOr<std::string> hash = CaCertHash(ca_);
    REQUIRE(hash.ok());
    hash_ = *hash;
    WriteText(dir_ / "cluster/endpoints", "10.123.0.11:6443\n");
    Tokens(std::string(kToken) + " 0\n");
    sys_.root = dir_.path();
    sys_.tmp_dir = dir_ / "tmp";
  }
  void Mode(const std::string& m) { WriteText(dir_ / "mode", m + "\n"); }
  // The control plane's issued tokens: "<token> <expiry, unix s; 0 never>" lines.
  void Tokens(const std::string& lines) { WriteText(dir_ / "cluster/tokens", lines); }
  std::string Path(const std::string& rel) const { return dir_ / rel; }
  System& sys() { return sys_; }
  // The cluster CA's certificate and its pin, as the module computes it.
  const std::string& ca() const { return ca_; }
  const std::string& hash() const { return hash_; }

  ansible::Result Join(json args, bool check = false) {
    args["kubeadm_path"] = dir_ / "kubeadm";
    args["_ansible_check_mode"] = check;
    args["_ansible_diff"] = true;
    args.emplace("api_server_endpoint", "10.123.0.11:6443");
    args.emplace("token", kToken);
    if (!args.contains("ca_cert_pem")) args.emplace("ca_cert_hashes", json{hash_});
    auto validated = ansible::ValidateArgs(args, JoinSpec(), "gcid.k8s.kubeadm_join");
    REQUIRE_MESSAGE(validated.ok(), validated.status().message());
    ansible::Module module(ansible::ParseAnsibleFlags(args), std::move(validated).value(), args);
    ansible::Result r = RunJoin(module, sys_);
    rendered_ = module.Render(r);
    return r;
  }
  const std::string& rendered() const { return rendered_; }

 private:
  TempDir dir_;
  System sys_;
  std::string ca_;
  std::string hash_;
  std::string rendered_;
};

// The JoinConfiguration the module handed to kubeadm (the diff's "after").
json JoinedConfig(const ansible::Result& r) {
  REQUIRE(r.diffs.size() == 1);
  json config = json::parse(r.diffs[0].after, nullptr, false);
  REQUIRE_FALSE(config.is_discarded());
  return config;
}

TEST_CASE("token expiry times") {
  CHECK(ParseRfc3339("2026-12-01T10:00:00Z") == 1796119200);
  CHECK(ParseRfc3339("2026-12-01T11:00:00+01:00") == 1796119200);
  CHECK(ParseRfc3339("2026-12-01T10:00:00.123Z") == 1796119200);
  CHECK_FALSE(ParseRfc3339("yesterday").has_value());
}

TEST_CASE("taints in kubectl's form or as mappings") {
  auto t = ParseTaints(json{"dedicated=gpu:NoSchedule",
                            "node-role.kubernetes.io/control-plane:NoSchedule",
                            {{"key", "a"}, {"value", "b"}, {"effect", "NoExecute"}}});
  REQUIRE(t.ok());
  CHECK(*t == json{{{"key", "dedicated"}, {"value", "gpu"}, {"effect", "NoSchedule"}},
                   {{"key", "node-role.kubernetes.io/control-plane"}, {"effect", "NoSchedule"}},
                   {{"key", "a"}, {"value", "b"}, {"effect", "NoExecute"}}});
  auto no_effect = ParseTaints(json{"dedicated=gpu"});
  REQUIRE_FALSE(no_effect.ok());
  CHECK(no_effect.status().message().find("taints[0]: 'dedicated=gpu' is not a taint") == 0);
  CHECK_FALSE(ParseTaints(json{"a=b:NoScheduled"}).ok());
  CHECK_FALSE(ParseTaints(json{":NoSchedule"}).ok());
  CHECK_FALSE(ParseTaints(json{{{"dedicated", "gpu:NoSchedule"}}}).ok());
  CHECK_FALSE(ParseTaints(json{{{"key", "a"}, {"effect", 1}}}).ok());
  CHECK(ParseTaints(nullptr)->empty());
}

TEST_CASE("joins once, then reports unchanged; the token never appears in output") {
  Node node;
  ansible::Result r = node.Join({{"node_name", "k8spps2"}, {"labels", {{"role", "worker"}}}});
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.changed);
  CHECK(r.extra["config_api_version"] == "kubeadm.k8s.io/v1beta3");
  CHECK(ReadText(node.Path("kubeadm.log")).find("join --config") != std::string::npos);
  CHECK(node.rendered().find("0123456789abcdef\"") == std::string::npos);
  CHECK(node.rendered().find(kToken) == std::string::npos);
  const json discovery = JoinedConfig(r)["discovery"]["bootstrapToken"];
  CHECK(discovery["unsafeSkipCAVerification"].is_boolean());
  CHECK(discovery["unsafeSkipCAVerification"] == false);
  CHECK(discovery["caCertHashes"] == json{node.hash()});
  CHECK(std::filesystem::is_empty(node.Path("tmp")));  // The config with the token is gone.
  // kubelet.conf carries the cluster CA discovery verified against the pin.
  std::optional<std::string> ca = KubeconfigCa(ReadText(node.Path("etc/kubernetes/kubelet.conf")));
  REQUIRE(ca.has_value());
  CHECK(CaCertHash(*ca).value_or("") == node.hash());

  ansible::Result again = node.Join({{"node_name", "k8spps2"}});
  CHECK_FALSE(again.failed);
  CHECK_FALSE(again.changed);
  CHECK(again.msg == "node already joined to 10.123.0.11:6443");
}

TEST_CASE("v1beta4 for kubeadm 1.31+, control-plane joins with a masked certificate key") {
  Node node;
  WriteText(node.Path("version"), "v1.31.1\n");
  ansible::Result r =
      node.Join({{"control_plane", true},
                 {"certificate_key", kKey},
                 {"taints", json::array({{{"key", "a"}, {"effect", "NoSchedule"}}})},
                 {"labels", {{"x", "y"}}}});
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.extra["config_api_version"] == "kubeadm.k8s.io/v1beta4");
  CHECK(node.rendered().find(kKey) == std::string::npos);
}

TEST_CASE("a node joined to another cluster is an error") {
  Node node;
  WriteText(node.Path("etc/kubernetes/kubelet.conf"),
            "clusters:\n- cluster:\n    server: https://10.9.9.9:6443\n");
  ansible::Result r = node.Join(json::object());
  CHECK(r.failed);
  CHECK(r.msg.find("this node is already joined to another cluster (10.9.9.9:6443") == 0);
}

TEST_CASE("same endpoint but another CA is an error; the pinned CA is already joined") {
  Node node;
  auto gen = ansible::RunCommand(
      {"sh", "-c",
       "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout '" +
           node.Path("ca.key") + "' -out '" + node.Path("ca.crt") +
           "' -days 1 -subj /CN=kubernetes 2>&1 && mkdir -p '" + node.Path("etc/kubernetes") +
           "' && printf 'clusters:\\n- cluster:\\n    certificate-authority-data: %s\\n    "
           "server: https://10.123.0.11:6443\\n' \"$(base64 -w0 '" +
           node.Path("ca.crt") + "')\" > '" + node.Path("etc/kubernetes/kubelet.conf") + "'"},
      60s);
  REQUIRE(gen.ok());
  REQUIRE_MESSAGE(gen->exit_code == 0, gen->out);
  ansible::Result other = node.Join(json::object());  // Pins the fake cluster's CA.
  CHECK(other.failed);
  CHECK(other.msg.find("this node is joined to 10.123.0.11:6443 but its CA") == 0);
  ansible::Result same = node.Join({{"ca_cert_pem", ReadText(node.Path("ca.crt"))}});
  CHECK_FALSE(same.failed);
  CHECK_FALSE(same.changed);
}

TEST_CASE("every failure class gives its one-line message") {
  struct Case {
    std::string name;
    json args;
    const char* mode;
    const char* cls;
    const char* msg_start;
  };
  for (const Case& c :
       {Case{"token never issued",
             {{"token", "zzzzzz.0123456789abcdef"}, {"discovery_timeout", 1}},
             "success",
             "token_invalid",
             "the bootstrap token was rejected by 10.123.0.11:6443"},
        Case{"wrong pin",
             {{"ca_cert_hashes", json{kOtherHash}}},
             "success",
             "ca_mismatch",
             "the cluster CA at 10.123.0.11:6443 does not match"},
        Case{"no API server there",
             {{"api_server_endpoint", "10.123.0.99:6443"}},
             "success",
             "unreachable",
             "the API server 10.123.0.99:6443 is unreachable from this node: error execution "
             "phase preflight: couldn't validate the identity of the API Server: Get "},
        Case{"refused", json::object(), "unreachable", "unreachable",
             "the API server 10.123.0.11:6443 is unreachable"},
        Case{"preflight", json::object(), "preflight", "preflight",
             "kubeadm preflight checks failed: Swap, Port-10250"}}) {
    CAPTURE(c.name);
    Node node;
    node.Mode(c.mode);
    json args = c.args;
    args["reset_on_failure"] = false;
    ansible::Result r = node.Join(args);
    CHECK(r.failed);
    CHECK(r.extra["failure_class"] == c.cls);
    CHECK_MESSAGE(r.msg.find(c.msg_start) == 0, r.msg);
    CHECK(node.rendered().find(kToken) == std::string::npos);
    CHECK_FALSE(Exists(node.Path("etc/kubernetes/kubelet.conf")));
  }
}

TEST_CASE("discovery checks the pin against the cluster CA and the token against issued ones") {
  Node node;
  // A wrong pin: kubeadm names the key it found, the module says ca_mismatch.
  ansible::Result wrong_pin =
      node.Join({{"ca_cert_hashes", json{kOtherHash}}, {"reset_on_failure", false}});
  CHECK(wrong_pin.extra["failure_class"] == "ca_mismatch");
  CHECK(ReadText(node.Path("kubeadm.log"))
            .find("cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "
                  "\"" +
                  node.hash() + "\" are pinned") != std::string::npos);
  // Check mode runs discovery too (kubeadm's preflight phase does).
  ansible::Result checked = node.Join({{"ca_cert_hashes", json{kOtherHash}}}, /*check=*/true);
  CHECK(checked.failed);
  CHECK(checked.extra["failure_class"] == "ca_mismatch");
  // The right pin among others joins.
  ansible::Result two_pins = node.Join({{"ca_cert_hashes", json{kOtherHash, node.hash()}}});
  CHECK_MESSAGE(!two_pins.failed, two_pins.msg);
  CHECK(two_pins.changed);
}

TEST_CASE("a known token ID with another secret, and tokens issued later") {
  Node node;
  ansible::Result forged =
      node.Join({{"token", "abcdef.0123456789abcdee"}, {"reset_on_failure", false}});
  CHECK(forged.failed);
  CHECK(forged.extra["failure_class"] == "token_invalid");
  // kubeadm's "failed to verify JWS signature ... can't trust this API
  // Server": the token's secret is wrong, so the module says what to do.
  CHECK_MESSAGE(forged.msg.find("the bootstrap token was rejected") != std::string::npos,
                forged.msg);
  CHECK_FALSE(Exists(node.Path("etc/kubernetes/kubelet.conf")));
  // What kubeadm token create adds to the control plane's list.
  node.Tokens(std::string(kToken) + " 0\nghijkl.0123456789abcdef 0\n");
  ansible::Result later = node.Join({{"token", "ghijkl.0123456789abcdef"}});
  CHECK_MESSAGE(!later.failed, later.msg);
  CHECK(later.changed);
}

TEST_CASE("an expired token is refused before kubeadm runs; a hang is cut at the timeout") {
  Node node;
  node.sys().now = *ParseRfc3339("2026-12-02T00:00:00Z");
  ansible::Result r = node.Join({{"token_expires_at", "2026-12-01T10:00:00Z"}});
  CHECK(r.failed);
  CHECK(r.msg.find("the bootstrap token expired at 2026-12-01T10:00:00Z; create a new one") == 0);
  CHECK_FALSE(Exists(node.Path("kubeadm.log")));

  node.Mode("hang");
  auto start = std::chrono::steady_clock::now();
  ansible::Result hung = node.Join({{"timeout", 1}});
  CHECK(hung.failed);
  CHECK(hung.extra["failure_class"] == "timeout");
  CHECK(hung.msg == "kubeadm join did not finish within 1 s");
  CHECK(std::chrono::steady_clock::now() - start < 20s);
}

TEST_CASE("an expired token the node cannot know about fails within the discovery timeout") {
  Node node;
  // Issued, but expired on the control plane: kubeadm retries discovery until
  // its timeout, then gives up.
  node.Tokens(std::string(kToken) + " 1700000000\n");
  auto start = std::chrono::steady_clock::now();
  ansible::Result r = node.Join({{"discovery_timeout", 2}, {"reset_on_failure", false}});
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.failed);
  CHECK(r.extra["failure_class"] == "token_invalid");
  CHECK(r.msg.find("the bootstrap token was rejected by 10.123.0.11:6443 (expired, deleted or "
                   "mistyped); create a new one") == 0);
  CHECK(took >= 2s);
  CHECK(took < 15s);
  CHECK(ReadText(node.Path("kubeadm.log"))
            .find("could not find a JWS signature in the cluster-info ConfigMap for token ID "
                  "\"abcdef\"") != std::string::npos);
}

TEST_CASE("a partial join is reset and retried once") {
  Node node;
  node.Mode("partial");
  WriteText(node.Path("partial"), "");
  ansible::Result r = node.Join(json::object());
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.extra["attempts"] == 2);
  CHECK(ReadText(node.Path("kubeadm.log")).find("reset --force") != std::string::npos);
}

TEST_CASE("check mode validates and runs only preflight; bad inputs are named") {
  Node node;
  ansible::Result r = node.Join(json::object(), /*check=*/true);
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.changed);
  CHECK(r.msg == "would join 10.123.0.11:6443 (preflight passed)");
  CHECK(ReadText(node.Path("kubeadm.log")).find("join phase preflight --config") !=
        std::string::npos);
  CHECK_FALSE(Exists(node.Path("etc/kubernetes/kubelet.conf")));

  CHECK(node.Join({{"token", "nope"}}, true).msg.find("token is not a bootstrap token") == 0);
  CHECK(node.Join({{"ca_cert_hashes", json{"sha256:12"}}}, true)
            .msg.find("ca_cert_hashes: 'sha256:12'") == 0);
  CHECK(node.Join({{"api_server_endpoint", "nohost"}}, true)
            .msg.find("api_server_endpoint must be") == 0);
  CHECK(
      node.Join({{"control_plane", true}}, true).msg.find("control_plane needs certificate_key") ==
      0);
  ansible::Result pem = node.Join({{"ca_cert_pem", "garbage"}}, true);
  CHECK(pem.failed);
}

TEST_CASE("the binary is static and small") {
  std::string elf = ReadText(KUBEADM_JOIN_BINARY);
  CHECK(elf.size() < ansible::testing::kModuleBinaryMaxBytes);
  CHECK(ansible::testing::IsStaticElf(KUBEADM_JOIN_BINARY) ==
        ansible::testing::kStaticModuleBinaries);
  MESSAGE("kubeadm_join binary: " << elf.size() << " bytes");
}

}  // namespace
}  // namespace pvek8s::kubeadm
