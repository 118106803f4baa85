#include "provider/resources/k8s_cluster/k8s_cluster.h"

#include <doctest/doctest.h>

#include "provider/base/x509.h"
#include "provider/framework/server.h"
#include "provider/tftypes/codec.h"

namespace pvek8s::resources {
namespace {

using framework::WireValue;
using tftypes::Type;
using tftypes::Value;

// Serves only the cluster resource, with a clock the test moves.
class ClockProvider : public framework::Provider {
 public:
  explicit ClockProvider(std::chrono::system_clock::time_point* now) : now_(now) {
    schema_.block.description = "test";
  }
  std::string TypeName() const override { return "proxmox"; }
  const framework::Schema& GetSchema() const override { return schema_; }
  void Configure(const std::string&, const Value&, framework::Diagnostics&) override {}
  std::vector<std::unique_ptr<framework::Resource>> Resources() override {
    std::vector<std::unique_ptr<framework::Resource>> out;
    auto* now = now_;
    out.push_back(NewK8sClusterResource([now] { return *now; }));
    return out;
  }
  std::vector<std::unique_ptr<framework::DataSource>> DataSources() override { return {}; }

 private:
  std::chrono::system_clock::time_point* now_;
  framework::Schema schema_;
};

struct Harness {
  Harness() : server(std::make_unique<ClockProvider>(&now)) {
    now = *ParseRfc3339("2026-11-30T00:00:00Z");
    type = framework::ImpliedType(server.GetProviderSchema().resources.at(kType)->block);
  }
  WireValue W(const Value& v) { return {*tftypes::EncodeMsgpack(v, type), ""}; }
  Value R(const WireValue& w) { return *tftypes::DecodeMsgpack(w.msgpack, type); }
  Value Config(std::map<std::string, Value> attrs) { return Value::Object(type, std::move(attrs)); }
  // plan + apply; returns the new state.
  Value Apply(const Value& prior, const Value& config, framework::Diagnostics* plan_diags = nullptr,
              std::vector<tftypes::AttributePath>* replace = nullptr) {
    // Terraform's proposed state: config values, prior values for computed ones.
    Value proposed = config;
    if (!prior.IsNull()) {
      for (const auto& [k, v] : prior.Entries()) {
        if (config.Attr(k).IsNull()) proposed = proposed.WithAttr(k, v);
      }
    }
    auto plan = server.PlanResourceChange(kType, W(prior), W(proposed), W(config), "");
    if (plan_diags) *plan_diags = plan.diagnostics;
    if (replace) *replace = plan.requires_replace;
    REQUIRE_FALSE(plan.diagnostics.HasError());
    last_plan = R(plan.planned_state);
    auto applied = server.ApplyResourceChange(kType, W(prior), plan.planned_state, W(config), "");
    REQUIRE_FALSE(applied.diagnostics.HasError());
    return R(applied.state);
  }
  static constexpr char kType[] = "proxmox_k8s_cluster";
  std::chrono::system_clock::time_point now;
  framework::Server server;
  Type type;
  Value last_plan;
};

TEST_CASE("create generates a consistent cluster identity") {
  Harness h;
  Value cfg = h.Config({{"name", Value::String("lab")},
                        {"control_plane_endpoint", Value::String("192.168.100.171:6443")}});
  Value s = h.Apply(Value::Null(h.type), cfg);
  CHECK(h.last_plan.GetString("id") == "lab");
  CHECK(s.GetString("id") == "lab");
  CHECK(s.GetString("kubernetes_version") == "1.26.1");
  CHECK(s.GetString("pod_subnet") == "10.244.0.0/16");
  CHECK(IsBootstrapToken(*s.GetString("bootstrap_token")));
  CHECK(s.GetString("token_expires_at") == "2026-12-01T00:00:00Z");
  CHECK(s.GetString("certificate_key")->size() == 64);
  CHECK(*CaCertHashFromPem(*s.GetString("ca_cert_pem")) == *s.GetString("ca_cert_hash"));
  CHECK(*KeyMatchesCertificate(*s.GetString("ca_cert_pem"), *s.GetString("ca_key_pem")));
  std::string yaml = *s.GetString("kubeadm_init_config");
  CHECK(yaml.find("apiVersion: kubeadm.k8s.io/v1beta3") != std::string::npos);
  CHECK(yaml.find("token: \"" + *s.GetString("bootstrap_token") + "\"") != std::string::npos);
  CHECK(yaml.find("expires: \"2026-12-01T00:00:00Z\"") != std::string::npos);
  CHECK(yaml.find("controlPlaneEndpoint: \"192.168.100.171:6443\"") != std::string::npos);
  CHECK(yaml.find("kubernetesVersion: \"v1.26.1\"") != std::string::npos);
  CHECK(yaml.find("podSubnet: \"10.244.0.0/16\"") != std::string::npos);
  CHECK(yaml.find("certificateKey: \"" + *s.GetString("certificate_key") + "\"") !=
        std::string::npos);

  SUBCASE("a second plan is empty") {
    Value again = h.Apply(s, cfg);
    CHECK(h.last_plan == s);
    CHECK(again == s);
  }
  SUBCASE("an expired token is rotated in place, and only the token material changes") {
    h.now += std::chrono::hours(25);
    framework::Diagnostics diags;
    std::vector<tftypes::AttributePath> replace;
    Value rotated = h.Apply(s, cfg, &diags, &replace);
    CHECK(replace.empty());
    CHECK(h.last_plan.Attr("bootstrap_token").IsUnknown());
    CHECK(h.last_plan.Attr("ca_cert_pem") == s.Attr("ca_cert_pem"));
    REQUIRE(diags.items().size() == 1);
    CHECK(diags.items()[0].summary == "Bootstrap token expired");
    CHECK(rotated.GetString("bootstrap_token") != s.GetString("bootstrap_token"));
    CHECK(rotated.GetString("token_expires_at") == "2026-12-02T01:00:00Z");
    CHECK(rotated.Attr("ca_key_pem") == s.Attr("ca_key_pem"));
    CHECK(rotated.Attr("certificate_key") == s.Attr("certificate_key"));
  }
  SUBCASE("a new endpoint keeps the CA and token, regenerates the config") {
    Value cfg2 = cfg.WithAttr("control_plane_endpoint", Value::String("k8s.lab:6443"));
    Value s2 = h.Apply(s, cfg2);
    CHECK(s2.Attr("bootstrap_token") == s.Attr("bootstrap_token"));
    CHECK(s2.Attr("ca_cert_pem") == s.Attr("ca_cert_pem"));
    CHECK(s2.GetString("kubeadm_init_config")->find("k8s.lab:6443") != std::string::npos);
  }
  SUBCASE("a new CA algorithm replaces the resource") {
    std::vector<tftypes::AttributePath> replace;
    Value cfg2 = cfg.WithAttr("ca_algorithm", Value::String("rsa-2048"));
    Value proposed = s.WithAttr("ca_algorithm", Value::String("rsa-2048"));
    auto plan = h.server.PlanResourceChange(Harness::kType, h.W(s), h.W(proposed), h.W(cfg2), "");
    REQUIRE(plan.requires_replace.size() == 1);
    CHECK(plan.requires_replace[0].ToString() == "ca_algorithm");
  }
}

TEST_CASE("rsa CAs and newer kubeadm API versions") {
  Harness h;
  Value cfg = h.Config({{"name", Value::String("big")},
                        {"control_plane_endpoint", Value::String("10.0.0.1:6443")},
                        {"ca_algorithm", Value::String("rsa-2048")},
                        {"kubernetes_version", Value::String("v1.31.2")}});
  Value s = h.Apply(Value::Null(h.type), cfg);
  CHECK(*CaCertHashFromPem(*s.GetString("ca_cert_pem")) == *s.GetString("ca_cert_hash"));
  CHECK(s.GetString("kubeadm_init_config")->find("kubeadm.k8s.io/v1beta4") != std::string::npos);
  CHECK(KubeadmApiVersion("1.30.9") == "kubeadm.k8s.io/v1beta3");
}

TEST_CASE("bad inputs are caught at validate time with the attribute named") {
  Harness h;
  auto check = [&](std::map<std::string, Value> attrs, const std::string& path) {
    auto d = h.server.ValidateResourceConfig(Harness::kType, h.W(h.Config(std::move(attrs))));
    REQUIRE(d.HasError());
    CHECK(d.items()[0].path->ToString() == path);
  };
  Value ep = Value::String("10.0.0.1:6443");
  check({{"name", Value::String("Lab")}, {"control_plane_endpoint", ep}}, "name");
  check({{"name", Value::String("lab")}, {"control_plane_endpoint", Value::String("10.0.0.1")}},
        "control_plane_endpoint");
  check({{"name", Value::String("lab")},
         {"control_plane_endpoint", ep},
         {"pod_subnet", Value::String("10.0.0.0/33")}},
        "pod_subnet");
  check({{"name", Value::String("lab")},
         {"control_plane_endpoint", ep},
         {"service_subnet", Value::String("10.244.128.0/20")}},
        "service_subnet");
  check({{"name", Value::String("lab")},
         {"control_plane_endpoint", ep},
         {"ca_algorithm", Value::String("dsa")}},
        "ca_algorithm");
  check({{"name", Value::String("lab")},
         {"control_plane_endpoint", ep},
         {"token_ttl", Value::String("10s")}},
        "token_ttl");
  check({{"name", Value::String("lab")},
         {"control_plane_endpoint", ep},
         {"kubernetes_version", Value::String("latest")}},
        "kubernetes_version");
  check({{"name", Value::String("lab")},
         {"control_plane_endpoint", ep},
         {"ca_validity_days", Value::Int(0)}},
        "ca_validity_days");
  // The lab's own pod subnet has host bits set: allowed, with a warning.
  auto d = h.server.ValidateResourceConfig(
      Harness::kType, h.W(h.Config({{"name", Value::String("lab")},
                                    {"control_plane_endpoint", ep},
                                    {"pod_subnet", Value::String("172.16.1.0/16")}})));
  CHECK_FALSE(d.HasError());
  REQUIRE(d.items().size() == 1);
  CHECK(d.items()[0].detail.find("172.16.0.0/16") != std::string::npos);
}

TEST_CASE("import says why it cannot work") {
  Harness h;
  framework::Diagnostics d;
  CHECK(h.server.ImportResourceState(Harness::kType, "lab", d).empty());
  REQUIRE(d.HasError());
  CHECK(d.items()[0].summary == "proxmox_k8s_cluster cannot be imported");
}

TEST_CASE("RFC 3339 round trip") {
  auto t = ParseRfc3339("2026-11-30T04:05:06Z");
  REQUIRE(t);
  CHECK(FormatRfc3339(*t) == "2026-11-30T04:05:06Z");
  CHECK(FormatRfc3339(*ParseRfc3339("2026-11-30T06:05:06+02:00")) == "2026-11-30T04:05:06Z");
  CHECK_FALSE(ParseRfc3339("yesterday"));
}

}  // namespace
}  // namespace pvek8s::resources
