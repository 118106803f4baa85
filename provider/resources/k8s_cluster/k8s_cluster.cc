#include "provider/resources/k8s_cluster/k8s_cluster.h"

#include <cstdio>
#include <ctime>
#include <regex>

#include "provider/base/x509.h"
#include "provider/framework/validators.h"

namespace pvek8s::resources {

using framework::ApplyResponse;
using framework::Attribute;
using framework::CreateRequest;
using framework::DeleteRequest;
using framework::Diagnostics;
using framework::PlanRequest;
using framework::PlanResponse;
using framework::ReadRequest;
using framework::ReadResponse;
using framework::UpdateRequest;
using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

namespace {

constexpr char kVersionPattern[] = R"(v?1\.[0-9]{1,3}\.[0-9]{1,3})";

framework::Schema ClusterSchema() {
  framework::Schema s;
  s.block.description =
      "The identity of a Kubernetes cluster built with kubeadm: its CA, a bootstrap token "
      "for joining nodes, the CA hash joins verify, the certificate key for control-plane "
      "joins, and a ready kubeadm configuration. Everything is generated locally and kept "
      "in Terraform state (mark the state as secret). The bootstrap token is rotated in "
      "place when a plan finds it expired.";
  auto computed = [](const char* name, const char* desc, bool sensitive, bool stable) {
    return Attribute{.name = name,
                     .type = Type::String(),
                     .description = desc,
                     .computed = true,
                     .sensitive = sensitive,
                     .use_state_for_unknown = stable};
  };
  s.block.attributes = {
      computed("id", "The cluster name.", false, true),
      {.name = "name",
       .type = Type::String(),
       .description = "Cluster name (kubeadm `clusterName`). Changing it creates a new cluster "
                      "identity.",
       .required = true,
       .validators = {framework::Matches("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
                                         "a DNS label: lower-case letters, digits and '-'")},
       .requires_replace = true},
      {.name = "control_plane_endpoint",
       .type = Type::String(),
       .description = "Address of the API server, `host:port` (e.g. `192.168.100.171:6443`).",
       .required = true,
       .validators = {framework::HostPort()}},
      {.name = "kubernetes_version",
       .type = Type::String(),
       .description = "Kubernetes version to deploy, e.g. `1.26.1` (default) or `v1.31.2`.",
       .optional = true,
       .computed = true,
       .validators = {framework::Matches(kVersionPattern, "a version such as 1.26.1")},
       .default_value = Value::String("1.26.1")},
      {.name = "pod_subnet",
       .type = Type::String(),
       .description = "Pod network CIDR (default `10.244.0.0/16`).",
       .optional = true,
       .computed = true,
       .validators = {framework::Cidr()},
       .default_value = Value::String("10.244.0.0/16")},
      {.name = "service_subnet",
       .type = Type::String(),
       .description = "Service network CIDR (default `10.96.0.0/12`).",
       .optional = true,
       .computed = true,
       .validators = {framework::Cidr()},
       .default_value = Value::String("10.96.0.0/12")},
      {.name = "ca_algorithm",
       .type = Type::String(),
       .description = "Key type of the cluster CA: `ecdsa-p256` (default) or `rsa-2048`. "
                      "Changing it creates a new CA.",
       .optional = true,
       .computed = true,
       .validators = {framework::OneOf({"ecdsa-p256", "rsa-2048"})},
       .default_value = Value::String("ecdsa-p256"),
       .requires_replace = true},
      {.name = "ca_validity_days",
       .type = Type::Number(),
       .description = "Lifetime of the CA certificate in days (default 3650). Changing it "
                      "creates a new CA.",
       .optional = true,
       .computed = true,
       .validators = {framework::IntBetween(1, 36500)},
       .default_value = Value::Int(3650),
       .requires_replace = true},
      {.name = "token_ttl",
       .type = Type::String(),
       .description = "Lifetime of the bootstrap token as a duration (default `24h`). "
                      "Changing it issues a new token.",
       .optional = true,
       .computed = true,
       .validators = {framework::Duration(60)},
       .default_value = Value::String("24h")},
      computed("ca_cert_pem", "The cluster CA certificate (PEM).", false, true),
      computed("ca_key_pem", "The cluster CA private key (PEM, PKCS#8).", true, true),
      computed("ca_cert_hash",
               "`sha256:` + hex SHA-256 of the CA's SubjectPublicKeyInfo, as "
               "`kubeadm join --discovery-token-ca-cert-hash` expects.",
               false, true),
      computed("bootstrap_token", "Bootstrap token for joining nodes, `[a-z0-9]{6}.[a-z0-9]{16}`.",
               true, true),
      computed("token_expires_at", "When the bootstrap token expires (RFC 3339, UTC).", false,
               true),
      computed("certificate_key",
               "Key (64 hex digits) that encrypts the control-plane certificates kubeadm "
               "uploads for control-plane joins.",
               true, true),
      computed("kubeadm_init_config",
               "InitConfiguration and ClusterConfiguration YAML for `kubeadm init --config`, "
               "carrying the token, endpoint, subnets and version.",
               true, false),
  };
  return s;
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

std::string VersionWithV(const std::string& v) { return v.starts_with("v") ? v : "v" + v; }

std::string InitConfig(const Value& plan) {
  std::string api = KubeadmApiVersion(*plan.GetString("kubernetes_version"));
  std::string out;
  out += "apiVersion: " + api + "\n";
  out += "kind: InitConfiguration\n";
  out += "bootstrapTokens:\n";
  out += "  - token: " + Quote(*plan.GetString("bootstrap_token")) + "\n";
  out += "    expires: " + Quote(*plan.GetString("token_expires_at")) + "\n";
  out += "    usages: [signing, authentication]\n";
  out += "    groups: [\"system:bootstrappers:kubeadm:default-node-token\"]\n";
  out += "certificateKey: " + Quote(*plan.GetString("certificate_key")) + "\n";
  out += "---\n";
  out += "apiVersion: " + api + "\n";
  out += "kind: ClusterConfiguration\n";
  out += "clusterName: " + Quote(*plan.GetString("name")) + "\n";
  out += "kubernetesVersion: " + Quote(VersionWithV(*plan.GetString("kubernetes_version"))) + "\n";
  out += "controlPlaneEndpoint: " + Quote(*plan.GetString("control_plane_endpoint")) + "\n";
  out += "networking:\n";
  out += "  podSubnet: " + Quote(*plan.GetString("pod_subnet")) + "\n";
  out += "  serviceSubnet: " + Quote(*plan.GetString("service_subnet")) + "\n";
  return out;
}

class K8sClusterResource : public framework::Resource {
 public:
  explicit K8sClusterResource(Clock clock) : schema_(ClusterSchema()), clock_(std::move(clock)) {
    if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
  }

  std::string TypeName() const override { return "proxmox_k8s_cluster"; }
  const framework::Schema& GetSchema() const override { return schema_; }

  void ValidateConfig(const Value& config, Diagnostics& diags) const override {
    auto pod = config.GetString("pod_subnet").value_or("10.244.0.0/16");
    auto svc = config.GetString("service_subnet").value_or("10.96.0.0/12");
    if (!config.Attr("pod_subnet").IsKnown() || !config.Attr("service_subnet").IsKnown()) return;
    auto a = framework::ParseCidr(pod);
    auto b = framework::ParseCidr(svc);
    if (a.ok() && b.ok() && framework::CidrOverlap(*a, *b)) {
      diags.AddError("Overlapping subnets",
                     "service_subnet " + svc + " overlaps pod_subnet " + pod +
                         "; pods and services need separate ranges.",
                     AttributePath("service_subnet"));
    }
  }

  void ModifyPlan(const PlanRequest& req, PlanResponse& resp) const override {
    Value& plan = resp.planned_state;
    if (req.prior_state.IsNull()) {
      // The id is the name, so it is known as soon as the name is.
      if (req.config.Attr("name").IsKnown()) plan = plan.WithAttr("id", req.config.Attr("name"));
      return;
    }
    bool rotate = plan.Attr("bootstrap_token").IsUnknown();
    if (!(req.prior_state.Attr("token_ttl") == plan.Attr("token_ttl"))) rotate = true;
    auto expires = ParseRfc3339(req.prior_state.GetString("token_expires_at").value_or(""));
    if (!expires || *expires <= clock_()) {
      rotate = true;
      resp.diagnostics.AddWarning(
          "Bootstrap token expired",
          "The bootstrap token of cluster " + req.prior_state.GetString("name").value_or("") +
              " expired at " + req.prior_state.GetString("token_expires_at").value_or("?") +
              "; this plan issues a new one in place.",
          AttributePath("bootstrap_token"));
    }
    if (rotate) {
      plan = plan.WithAttr("bootstrap_token", Value::Unknown(Type::String()))
                 .WithAttr("token_expires_at", Value::Unknown(Type::String()));
    }
    if (rotate || !(plan == req.prior_state)) {
      plan = plan.WithAttr("kubeadm_init_config", Value::Unknown(Type::String()));
    }
  }

  void Create(const CreateRequest& req, ApplyResponse& resp) override {
    Value plan = req.planned_state;
    auto alg = *plan.GetString("ca_algorithm") == "rsa-2048" ? KeyAlgorithm::kRsa2048
                                                             : KeyAlgorithm::kEcdsaP256;
    auto ca = GenerateCa(alg, static_cast<int>(*plan.GetInt("ca_validity_days")));
    if (!ca.ok()) {
      resp.diagnostics.AddStatus(ca.status(), "Cannot create the cluster CA");
      resp.state = Value();
      return;
    }
    auto hash = CaCertHashFromPem(ca->cert_pem);
    if (!hash.ok()) {
      resp.diagnostics.AddStatus(hash.status(), "Cannot hash the cluster CA");
      resp.state = Value();
      return;
    }
    plan = plan.WithAttr("id", Value::String(*plan.GetString("name")))
               .WithAttr("ca_cert_pem", Value::String(ca->cert_pem))
               .WithAttr("ca_key_pem", Value::String(ca->key_pem))
               .WithAttr("ca_cert_hash", Value::String(*hash))
               .WithAttr("certificate_key", Value::String(NewCertificateKey()));
    plan = IssueToken(plan);
    resp.state = plan.WithAttr("kubeadm_init_config", Value::String(InitConfig(plan)));
  }

  void Read(const ReadRequest&, ReadResponse&) override {
    // Nothing remote to compare with: the state is the source of truth.
  }

  void Update(const UpdateRequest& req, ApplyResponse& resp) override {
    Value plan = req.planned_state;
    if (plan.Attr("bootstrap_token").IsUnknown() || plan.Attr("token_expires_at").IsUnknown()) {
      plan = IssueToken(plan);
    }
    resp.state = plan.WithAttr("kubeadm_init_config", Value::String(InitConfig(plan)));
  }

  void Delete(const DeleteRequest&, Diagnostics&) override {
    // The identity lives only in state; forgetting it is the deletion.
  }

  void ImportState(const framework::Context&, const std::string& id,
                   framework::ImportResponse& resp) override {
    resp.diagnostics.AddError(
        "proxmox_k8s_cluster cannot be imported",
        "The cluster's CA private key, bootstrap token and certificate key exist only in "
        "Terraform state, so \"" +
            id +
            "\" cannot be read back from anywhere. Create the resource in this configuration, "
            "or move an existing one with `terraform state mv` / a `moved` block.");
  }

 private:
  Value IssueToken(const Value& plan) const {
    int64_t ttl = framework::ParseDurationSeconds(*plan.GetString("token_ttl")).value();
    auto expires = clock_() + std::chrono::seconds(ttl);
    return plan.WithAttr("bootstrap_token", Value::String(NewBootstrapToken()))
        .WithAttr("token_expires_at", Value::String(FormatRfc3339(expires)));
  }

  framework::Schema schema_;
  Clock clock_;
};

}  // namespace

std::unique_ptr<framework::Resource> NewK8sClusterResource(Clock clock) {
  return std::make_unique<K8sClusterResource>(std::move(clock));
}

std::string KubeadmApiVersion(const std::string& kubernetes_version) {
  std::smatch m;
  static const std::regex re(R"(v?1\.([0-9]+)\..*)");
  if (std::regex_match(kubernetes_version, m, re) && std::stoi(m[1]) >= 31) {
    return "kubeadm.k8s.io/v1beta4";
  }
  return "kubeadm.k8s.io/v1beta3";
}

std::string FormatRfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text) {
  static const std::regex re(
      R"(([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))");
  std::smatch m;
  if (!std::regex_match(text, m, re)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  std::time_t secs = timegm(&tm);
  std::string zone = m[8];
  if (zone != "Z") {
    int sign = zone[0] == '-' ? -1 : 1;
    int offset = std::stoi(zone.substr(1, 2)) * 3600 + std::stoi(zone.substr(4, 2)) * 60;
    secs -= static_cast<std::time_t>(sign) * offset;
  }
  return std::chrono::system_clock::from_time_t(secs);
}

}  // namespace pvek8s::resources
