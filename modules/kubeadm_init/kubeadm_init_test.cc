// kubeadm_init against the kubeadm stand-in (modules/kubeadm_join/testdata/
// kubeadm; its header says what it proves and what it cannot).
#include "modules/kubeadm_init/kubeadm_init.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

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

struct Ca {
  std::string cert;
  std::string key;
};

Ca MakeCa(const TempDir& d, const std::string& name) {
  auto r = ansible::RunCommand(
      {"sh", "-c",
       "openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + (d / name) + ".key' -out '" +
           (d / name) + ".crt' -days 1 -subj /CN=kubernetes 2>&1"},
      60s);
  REQUIRE(r.ok());
  REQUIRE(r->exit_code == 0);
  return {ReadText(d / (name + ".crt")), ReadText(d / (name + ".key"))};
}

mode_t ModeOf(const std::string& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

class Node {
 public:
  Node() {
    WriteText(dir_ / "kubeadm", ReadText(KUBEADM_STANDIN), 0755);
    WriteText(dir_ / "version", "v1.30.4\n");
    WriteText(dir_ / "mode", "success\n");
    std::filesystem::create_directories(dir_ / "tmp");
    std::filesystem::create_directories(dir_ / "etc");
    ::setenv(kTestRootEnv, dir_.path().c_str(), 1);
    sys_.root = dir_.path();
    sys_.tmp_dir = dir_ / "tmp";
  }
  std::string Path(const std::string& rel) const { return dir_ / rel; }
  const TempDir& dir() const { return dir_; }

  ansible::Result Init(json args, bool check = false) {
    args["kubeadm_path"] = dir_ / "kubeadm";
    args["_ansible_check_mode"] = check;
    args["_ansible_diff"] = true;
    auto validated = ansible::ValidateArgs(args, InitSpec(), "gcid.k8s.kubeadm_init");
    REQUIRE_MESSAGE(validated.ok(), validated.status().message());
    ansible::Module module(ansible::ParseAnsibleFlags(args), std::move(validated).value(), args);
    ansible::Result r = RunInit(module, sys_);
    rendered_ = module.Render(r);
    return r;
  }
  const std::string& rendered() const { return rendered_; }

 private:
  TempDir dir_;
  System sys_;
  std::string rendered_;
};

json Args(const Ca& ca) {
  return {{"ca_cert_pem", ca.cert},
          {"ca_key_pem", ca.key},
          {"bootstrap_token", kToken},
          {"control_plane_endpoint", "192.168.100.171:6443"},
          {"kubernetes_version", "v1.30.4"},
          {"pod_subnet", "10.244.0.0/16"},
          {"node_name", "k8spps1"},
          {"advertise_address", "192.168.100.171"},
          {"upload_certs", true},
          {"certificate_key", kKey}};
}

TEST_CASE("init places the CA, runs kubeadm, returns join material, then is unchanged") {
  Node node;
  Ca ca = MakeCa(node.dir(), "ca");
  ansible::Result r = node.Init(Args(ca));
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.changed);
  CHECK(ReadText(node.Path("etc/kubernetes/pki/ca.crt")) == ca.cert);
  CHECK(ModeOf(node.Path("etc/kubernetes/pki/ca.key")) == 0600);
  CHECK(ModeOf(node.Path("etc/kubernetes/pki/ca.crt")) == 0644);
  CHECK(r.extra["api_server_endpoint"] == "192.168.100.171:6443");
  CHECK(r.extra["ca_cert_hashes"] == json{*CaCertHash(ca.cert)});
  CHECK(ReadText(node.Path("kubeadm.log")).find("init --upload-certs --config") !=
        std::string::npos);
  for (const std::string& secret :
       {std::string(kToken), std::string(kKey), ca.key.substr(40, 40)}) {
    CHECK(node.rendered().find(secret) == std::string::npos);
  }
  CHECK(std::filesystem::is_empty(node.Path("tmp")));
  // The stand-in's fake cluster, which joins are checked against: the CA the
  // module placed, the endpoints the API server answers on, the token issued.
  CHECK(ReadText(node.Path("cluster/ca.crt")) == ca.cert);
  CHECK(ReadText(node.Path("cluster/endpoints")) == "192.168.100.171:6443\n");
  CHECK(ReadText(node.Path("cluster/tokens")).rfind(std::string(kToken) + " ", 0) == 0);

  ansible::Result again = node.Init(Args(ca));
  CHECK_FALSE(again.failed);
  CHECK_FALSE(again.changed);
  CHECK(again.msg == "control plane already initialised");
  CHECK(again.extra["ca_cert_hashes"] == json{*CaCertHash(ca.cert)});

  Ca other = MakeCa(node.dir(), "other");
  ansible::Result clash = node.Init(Args(other));
  CHECK(clash.failed);
  CHECK(clash.msg.find("this node is already initialised with a different CA") == 0);
}

TEST_CASE("check mode validates, runs preflight only and writes nothing") {
  Node node;
  Ca ca = MakeCa(node.dir(), "ca");
  ansible::Result r = node.Init(Args(ca), /*check=*/true);
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.changed);
  CHECK(r.msg == "would initialise the control plane (preflight passed)");
  CHECK_FALSE(Exists(node.Path("etc/kubernetes")));
  CHECK(ReadText(node.Path("kubeadm.log")).find("init phase preflight --config") !=
        std::string::npos);

  json bad = Args(ca);
  bad["bootstrap_token"] = "nope";
  CHECK(node.Init(bad, true).msg.find("bootstrap_token is not a bootstrap token") == 0);
  bad = Args(ca);
  bad["ca_cert_pem"] = "junk";
  CHECK(node.Init(bad, true).msg.find("ca_cert_pem: ") == 0);
  bad = Args(ca);
  bad.erase("certificate_key");
  CHECK(node.Init(bad, true).msg.find("upload_certs needs certificate_key") == 0);
}

TEST_CASE("without a CA kubeadm makes one and its pin is returned") {
  Node node;
  ansible::Result r = node.Init({{"advertise_address", "10.0.0.5"}});
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.extra["api_server_endpoint"] == "10.0.0.5:6443");
  REQUIRE(r.extra["ca_cert_hashes"].size() == 1);
  CHECK(r.extra["ca_cert_hashes"][0] ==
        *CaCertHash(ReadText(node.Path("etc/kubernetes/pki/ca.crt"))));
  // kubeadm issues a token of its own when none is given.
  CHECK(ReadText(node.Path("cluster/tokens")).find('.') == 6);
}

TEST_CASE("v1beta4 for kubeadm 1.31+, extra_config merged, preflight failures named") {
  Node node;
  WriteText(node.Path("version"), "v1.31.0\n");
  ansible::Result r = node.Init(
      {{"extra_config",
        {{"cluster", {{"clusterName", "lab"}, {"networking", {{"dnsDomain", "lab.local"}}}}}}},
       {"service_subnet", "10.96.0.0/12"}});
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.extra["config_api_version"] == "kubeadm.k8s.io/v1beta4");
  json p = {{"extra_config", {{"cluster", {{"clusterName", "lab"}}}}},
            {"service_subnet", "10.96.0.0/12"},
            {"cri_socket", "unix:///x"},
            {"bootstrap_token_ttl", "1h"}};
  std::string text = InitConfigurationText(p, true);
  CHECK(text.find("\"clusterName\": \"lab\"") != std::string::npos);
  CHECK(text.find("\n---\n") != std::string::npos);

  Node failing;
  WriteText(failing.Path("mode"), "preflight\n");
  ansible::Result pf = failing.Init(json::object());
  CHECK(pf.failed);
  CHECK(pf.msg == "kubeadm preflight checks failed: NumCPU");
}

TEST_CASE("the binary is static and small") {
  CHECK(ansible::testing::IsStaticElf(KUBEADM_INIT_BINARY) ==
        ansible::testing::kStaticModuleBinaries);
  std::string elf = ReadText(KUBEADM_INIT_BINARY);
  CHECK(elf.size() < ansible::testing::kModuleBinaryMaxBytes);
  MESSAGE("kubeadm_init binary: " << elf.size() << " bytes");
}

}  // namespace
}  // namespace pvek8s::kubeadm
