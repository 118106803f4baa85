// kubeadm_certs without hosts: the check-expiration parser on kubeadm's own
// table, and the module against the kubeadm stand-in (modules/kubeadm_join/
// testdata: kubeadm-certs.sh prints that table from the expiry in
// certs-expiry). The stand-in's log proves what ran. What it cannot prove:
// that a real API server loads the renewed certificates.
#include "modules/kubeadm_certs/kubeadm_certs.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "modules/ansible/testing.h"

namespace pvek8s::kubeadm {
namespace {

using ansible::testing::Exists;
using ansible::testing::ReadText;
using ansible::testing::TempDir;
using ansible::testing::WriteText;
using nlohmann::json;

// kubeadm's documented output (kubeadm-certs.md), one row missing.
constexpr const char* kKubeadmOutput =
    R"([check-expiration] Reading configuration from the cluster...
[check-expiration] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'

CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED
admin.conf                 Dec 30, 2020 23:36 UTC   364d                                    no
apiserver                  Dec 30, 2020 23:36 UTC   364d            ca                      no
front-proxy-client         Dec 30, 2020 23:36 UTC   364d            front-proxy-ca          yes
!MISSING! scheduler.conf

CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED
ca                      Dec 28, 2029 23:36 UTC   9y              no
)";

TEST_CASE("kubeadm's check-expiration table") {
  CHECK(ParseExpiryDate("Dec 30, 2020 23:36 UTC") == 1609371360);
  CHECK(ParseExpiryDate("Jan 02, 2027 00:05 UTC") == 1798848300);
  for (const char* bad : {"", "Dec 30 2020 23:36 UTC", "Foo 30, 2020 23:36 UTC",
                          "Dec 30, 2020 23:36 CET", "Dec 32, 2020 23:36 UTC"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseExpiryDate(bad).has_value());
  }
  auto rows = ParseCheckExpiration(kKubeadmOutput);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 5);
  CHECK((*rows)[0].name == "admin.conf");
  CHECK((*rows)[0].expires == 1609371360);
  CHECK_FALSE((*rows)[0].authority);
  CHECK((*rows)[1].name == "apiserver");
  CHECK((*rows)[2].external);
  CHECK((*rows)[3].name == "scheduler.conf");
  CHECK((*rows)[3].missing);
  CHECK((*rows)[4].name == "ca");
  CHECK((*rows)[4].authority);
  CHECK((*rows)[4].expires == 1893195360);
  auto bad =
      ParseCheckExpiration("CERTIFICATE  EXPIRES  RESIDUAL TIME\napiserver  soon  1d  ca  no\n");
  CHECK(bad.status().message() ==
        "cannot read this kubeadm certs check-expiration line: 'apiserver  soon  1d  ca  no'");
  CHECK_FALSE(ParseCheckExpiration("error: no such command\n").ok());
  CHECK(ResidualDays(86400 * 20 + 5, 0) == 20);
  CHECK(ResidualDays(0, 10) == -1);
}

// A control plane with the kubeadm stand-in, its leaf certificates expiring in
// `days` days, and the four static pod manifests.
class ControlPlane {
 public:
  explicit ControlPlane(long long days) {
    for (const auto& f : std::filesystem::directory_iterator(KUBEADM_STANDINS)) {
      WriteText(dir_ / f.path().filename().string(), ReadText(f.path()), 0755);
    }
    ::setenv(kTestRootEnv, dir_.path().c_str(), 1);
    WriteText(dir_ / "version", "v1.27.3\n");
    WriteText(dir_ / "mode", "success\n");
    WriteText(dir_ / "etc/kubernetes/admin.conf", "apiVersion: v1\n");
    Expire(days);
    for (const char* m : kStaticPods) {
      WriteText(dir_ / ("etc/kubernetes/manifests/" + std::string(m)), std::string(m) + "\n");
    }
    WriteText(dir_ / "kubeadm.log", "");
    sys_.root = dir_.path();
  }
  void Expire(long long days) {
    WriteText(dir_ / "certs-expiry",
              std::to_string(std::time(nullptr) + days * 86400 + 600) + "\n");
  }
  std::string Read(const std::string& rel) { return ReadText(dir_ / rel); }
  std::string Path(const std::string& rel) { return dir_ / rel; }
  // How often the stand-in ran `certs renew all`.
  int Renewals() {
    std::string log = Read("kubeadm.log");
    int n = 0;
    for (size_t at = log.find("certs renew"); at != std::string::npos;
         at = log.find("certs renew", at + 1)) {
      ++n;
    }
    return n;
  }
  ansible::Result Certs(json args, bool check = false) {
    args["kubeadm_path"] = dir_ / "kubeadm";
    args["_ansible_check_mode"] = check;
    args["_ansible_diff"] = true;
    args.emplace("static_pod_wait", 0);
    auto validated = ansible::ValidateArgs(args, CertsSpec(), "gcid.k8s.kubeadm_certs");
    REQUIRE_MESSAGE(validated.ok(), validated.status().message());
    ansible::Module module(ansible::ParseAnsibleFlags(args), std::move(validated).value(), args);
    ansible::Result r = RunCerts(module, sys_);
    rendered_ = module.Render(r);
    return r;
  }
  const std::string& rendered() const { return rendered_; }

 private:
  TempDir dir_;
  System sys_;
  std::string rendered_;
};

TEST_CASE("20 days from expiry: renewed once, pods restarted, the next run changes nothing") {
  ControlPlane cp(20);
  ansible::Result check = cp.Certs(json::object(), true);
  CHECK(check.changed);
  CHECK(check.extra["renewed"].size() == 10);
  CHECK(check.extra["due"].size() == 10);
  CHECK(check.msg.find("would renew 10 certificates (admin.conf, apiserver,") == 0);
  CHECK(cp.Renewals() == 0);
  REQUIRE(check.diffs.size() == 1);
  CHECK(check.diffs[0].before.find("certificates due for renewal: admin.conf") == 0);

  ansible::Result r = cp.Certs(json::object());
  CHECK_MESSAGE(!r.failed, r.msg);
  CHECK(r.changed);
  CHECK(cp.Renewals() == 1);
  CHECK(r.extra["renewed"].size() == 10);
  CHECK(r.extra["restarted"] == json{"kube-apiserver.yaml", "kube-controller-manager.yaml",
                                     "kube-scheduler.yaml", "etcd.yaml"});
  for (const char* m : kStaticPods) {
    CHECK(cp.Read("etc/kubernetes/manifests/" + std::string(m)) == std::string(m) + "\n");
  }
  const json& first = r.extra["certificates"][0];
  CHECK(first["name"] == "admin.conf");
  CHECK(first["residual_days"].get<long long>() >= 364);
  ansible::Result again = cp.Certs(json::object());
  CHECK_FALSE(again.changed);
  CHECK(again.extra["renewed"].empty());
  CHECK(again.msg == "every certificate has at least 30 days left");
  CHECK(cp.Renewals() == 1);
}

TEST_CASE("200 days from expiry: nothing renewed; renew_before moves the line") {
  ControlPlane cp(200);
  ansible::Result r = cp.Certs(json::object());
  CHECK_FALSE(r.failed);
  CHECK_FALSE(r.changed);
  CHECK(r.extra["renewed"].empty());
  REQUIRE(r.extra["certificates"].size() == 13);
  CHECK(r.extra["certificates"][1]["name"] == "apiserver");
  CHECK(r.extra["certificates"][1]["residual_days"] == 200);
  CHECK(r.extra["certificates"][10]["name"] == "ca");
  CHECK(r.extra["certificates"][10]["authority"] == true);
  CHECK(cp.Renewals() == 0);
  ansible::Result later = cp.Certs({{"renew_before", 201}});
  CHECK(later.changed);
  CHECK(cp.Renewals() == 1);
}

TEST_CASE("a node without control-plane certificates fails, saying where to run it") {
  ControlPlane cp(20);
  std::filesystem::remove(cp.Path("etc/kubernetes/admin.conf"));
  ansible::Result r = cp.Certs(json::object());
  CHECK(r.failed);
  CHECK(r.extra["failure_class"] == "not_control_plane");
  CHECK(r.msg.find("run kubeadm_certs on control-plane nodes") != std::string::npos);
  CHECK(cp.Renewals() == 0);
}

TEST_CASE("manifests left out by an interrupted restart are put back") {
  ControlPlane cp(200);
  WriteText(cp.Path(std::string(kRestartDir).substr(1) + "/etcd.yaml"), "etcd.yaml\n");
  std::filesystem::remove(cp.Path("etc/kubernetes/manifests/etcd.yaml"));
  ansible::Result check = cp.Certs(json::object(), true);
  CHECK(check.changed);
  CHECK_FALSE(Exists(cp.Path("etc/kubernetes/manifests/etcd.yaml")));
  CHECK(check.changed);
  ansible::Result r = cp.Certs(json::object());
  CHECK(r.changed);
  CHECK(cp.Read("etc/kubernetes/manifests/etcd.yaml") == "etcd.yaml\n");
  CHECK(r.extra["renewed"].empty());
  CHECK(cp.rendered().find("an interrupted restart had left etcd.yaml out of") !=
        std::string::npos);
  CHECK_FALSE(cp.Certs(json::object()).changed);
}

TEST_CASE("a bad renew_before is named") {
  ControlPlane cp(20);
  ansible::Result r = cp.Certs({{"renew_before", -1}});
  CHECK(r.failed);
  CHECK(r.extra["failure_class"] == "invalid_argument");
  CHECK(r.msg.find("renew_before") == 0);
}

}  // namespace
}  // namespace pvek8s::kubeadm
