#include "modules/kubeadm_init/kubeadm_init.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>

#include "modules/ansible/command.h"
#include "modules/ansible/file_util.h"
#include "modules/kubeadm/ca_hash.h"

namespace pvek8s::kubeadm {
namespace {

using ansible::Param;
using ansible::ParamType;
using ansible::Result;
using nlohmann::json;

bool IsHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c));
         });
}

Status WritePrivate(const std::string& path, const std::string& content, mode_t mode) {
  auto [dir, name] = ansible::SplitPath(path);
  ::mkdir(dir.c_str(), 0755);  // /etc/kubernetes/pki; its parent is made first.
  return ansible::AtomicWriteFile(path, content, mode);
}

}  // namespace

ansible::ArgSpec InitSpec() {
  ansible::ArgSpec spec;
  spec.params = {
      Param("ca_cert_pem"),
      Param("ca_key_pem").NoLog(),
      Param("bootstrap_token").NoLog(),
      Param("bootstrap_token_ttl").Default("24h0m0s"),
      Param("control_plane_endpoint"),
      Param("kubernetes_version"),
      Param("pod_subnet"),
      Param("service_subnet"),
      Param("cri_socket").Default("unix:///var/run/crio/crio.sock"),
      Param("node_name"),
      Param("advertise_address"),
      Param("upload_certs", ParamType::kBool).Default(false),
      Param("certificate_key").NoLog(),
      Param("extra_config", ParamType::kDict).Default(json::object()),
      Param("kubeadm_path").Default("kubeadm"),
      Param("timeout", ParamType::kInt).Default(900),
  };
  return spec;
}

std::string InitConfigurationText(const json& p, bool v1beta4) {
  const std::string api(ConfigApiVersion(v1beta4));
  json init = {{"apiVersion", api}, {"kind", "InitConfiguration"}};
  if (p["bootstrap_token"].is_string()) {
    init["bootstrapTokens"] =
        json::array({{{"token", p["bootstrap_token"]},
                      {"ttl", p["bootstrap_token_ttl"]},
                      {"usages", {"signing", "authentication"}},
                      {"groups", {"system:bootstrappers:kubeadm:default-node-token"}}}});
  }
  json reg = {{"criSocket", p["cri_socket"]}};
  if (p["node_name"].is_string()) reg["name"] = p["node_name"];
  init["nodeRegistration"] = reg;
  if (p["advertise_address"].is_string()) {
    init["localAPIEndpoint"] = {{"advertiseAddress", p["advertise_address"]}, {"bindPort", 6443}};
  }
  if (p["certificate_key"].is_string()) init["certificateKey"] = p["certificate_key"];
  json cluster = {{"apiVersion", api}, {"kind", "ClusterConfiguration"}};
  if (p["kubernetes_version"].is_string()) cluster["kubernetesVersion"] = p["kubernetes_version"];
  if (p["control_plane_endpoint"].is_string()) {
    cluster["controlPlaneEndpoint"] = p["control_plane_endpoint"];
  }
  json net = json::object();
  if (p["pod_subnet"].is_string()) net["podSubnet"] = p["pod_subnet"];
  if (p["service_subnet"].is_string()) net["serviceSubnet"] = p["service_subnet"];
  if (!net.empty()) cluster["networking"] = net;
  const json& extra = p["extra_config"];
  if (extra.contains("init")) init.merge_patch(extra["init"]);
  if (extra.contains("cluster")) cluster.merge_patch(extra["cluster"]);
  return init.dump(2) + "\n---\n" + cluster.dump(2) + "\n";
}

namespace {

// Checks the options that kubeadm would reject late or not at all; returns the
// pin of ca_cert_pem when one is given. Every error is an invalid argument.
StatusOr<std::optional<std::string>> ValidateInit(const json& p) {
  std::optional<std::string> ca_hash;
  if (p["ca_cert_pem"].is_string() != p["ca_key_pem"].is_string()) {
    return InvalidArgumentError("ca_cert_pem and ca_key_pem must be given together");
  }
  if (p["ca_cert_pem"].is_string()) {
    StatusOr<std::string> h = CaCertHash(p["ca_cert_pem"].get<std::string>());
    if (!h.ok()) return InvalidArgumentError("ca_cert_pem: " + h.status().message());
    ca_hash = *h;
    std::string key = p["ca_key_pem"].get<std::string>();
    if (key.find("-----BEGIN") == std::string::npos ||
        key.find("PRIVATE KEY-----") == std::string::npos) {
      return InvalidArgumentError("ca_key_pem is not a PEM private key");
    }
  }
  if (p["bootstrap_token"].is_string() &&
      !IsBootstrapToken(p["bootstrap_token"].get<std::string>())) {
    return InvalidArgumentError(
        "bootstrap_token is not a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}");
  }
  if (p["certificate_key"].is_string() && !IsHex64(p["certificate_key"].get<std::string>())) {
    return InvalidArgumentError("certificate_key must be 64 hex digits (32 bytes)");
  }
  if (p["upload_certs"] == true && !p["certificate_key"].is_string()) {
    return InvalidArgumentError(
        "upload_certs needs certificate_key, so that joining control-plane nodes can use it");
  }
  if (p["control_plane_endpoint"].is_string() &&
      !IsEndpoint(p["control_plane_endpoint"].get<std::string>())) {
    return InvalidArgumentError("control_plane_endpoint must be host:port, got '" +
                                p["control_plane_endpoint"].get<std::string>() + "'");
  }
  if (p["timeout"].get<long long>() <= 0) return InvalidArgumentError("timeout must be positive");
  return ca_hash;
}

// A node that has an admin.conf: done when its CA is `ca_hash` (or any CA
// when none is given), an error otherwise; nullopt when not initialised yet.
StatusOr<std::optional<Result>> AlreadyInitialised(const std::string& etc,
                                                   const std::optional<std::string>& ca_hash,
                                                   std::string endpoint) {
  StatusOr<std::optional<std::string>> admin = ansible::ReadFileIfExists(etc + "/admin.conf");
  if (!admin.ok()) return admin.status();
  if (!*admin) return std::optional<Result>();
  Result r;
  auto fail = [&](std::string msg, std::string cls) {
    r.failed = true;
    r.msg = std::move(msg);
    r.extra["failure_class"] = std::move(cls);
    return std::optional<Result>(std::move(r));
  };
  std::optional<std::string> ca = KubeconfigCa(**admin);
  StatusOr<std::string> existing_hash =
      ca ? CaCertHash(*ca) : StatusOr<std::string>(InvalidArgumentError("no CA"));
  if (!existing_hash.ok()) {
    return fail("/etc/kubernetes/admin.conf exists but holds no readable CA; inspect the node",
                "other");
  }
  if (ca_hash && *existing_hash != *ca_hash) {
    return fail("this node is already initialised with a different CA (" + *existing_hash +
                    "); run kubeadm reset on it first",
                "other_cluster");
  }
  if (endpoint.empty()) endpoint = KubeconfigServer(**admin).value_or("");
  r.msg = "control plane already initialised";
  r.extra["api_server_endpoint"] = endpoint;
  r.extra["ca_cert_hashes"] = json::array({*existing_hash});
  return std::optional<Result>(std::move(r));
}

}  // namespace

Result RunInit(ansible::Module& module, const System& sys) {
  const json& p = module.params();
  Result r;
  auto fail = [&](std::string msg, std::string cls) {
    r.failed = true;
    r.msg = std::move(msg);
    r.extra["failure_class"] = std::move(cls);
    return r;
  };

  // Validation first: check mode reports every bad input too.
  StatusOr<std::optional<std::string>> validated = ValidateInit(p);
  if (!validated.ok()) return fail(validated.status().message(), "invalid_argument");
  std::optional<std::string> ca_hash = *validated;

  std::string endpoint =
      p["control_plane_endpoint"].is_string() ? p["control_plane_endpoint"].get<std::string>()
      : p["advertise_address"].is_string()    ? p["advertise_address"].get<std::string>() + ":6443"
                                              : "";
  const std::string etc = sys.root + "/etc/kubernetes";

  // Already initialised: admin.conf exists; it must carry the same CA.
  StatusOr<std::optional<Result>> done = AlreadyInitialised(etc, ca_hash, endpoint);
  if (!done.ok()) return ansible::Failure(done.status().message());
  if (*done) return std::move(**done);

  StatusOr<Kubeadm> kubeadm = ProbeKubeadm(p["kubeadm_path"].get<std::string>());
  if (!kubeadm.ok()) return ansible::Failure(kubeadm.status().message());
  const bool v1beta4 = kubeadm->v1beta4;
  const std::string config = InitConfigurationText(p, v1beta4);
  r.extra["kubeadm_version"] = kubeadm->version;
  r.extra["config_api_version"] = ConfigApiVersion(v1beta4);
  r.diffs.push_back({"", config, "InitConfiguration + ClusterConfiguration",
                     "InitConfiguration + ClusterConfiguration"});

  // The CA goes where kubeadm looks for it, so that kubeadm signs with it
  // instead of generating its own.
  if (ca_hash && !module.check_mode()) {
    ::mkdir(etc.c_str(), 0755);
    Status s = WritePrivate(etc + "/pki/ca.crt", p["ca_cert_pem"].get<std::string>(), 0644);
    if (s.ok()) s = WritePrivate(etc + "/pki/ca.key", p["ca_key_pem"].get<std::string>(), 0600);
    if (!s.ok()) return ansible::Failure("cannot place the CA: " + s.message());
  }

  auto config_file = WriteConfigFile(sys, "init", config);
  if (!config_file.ok()) return ansible::Failure(config_file.status().message());
  std::vector<std::string> flags;
  if (p["upload_certs"] == true) flags.emplace_back("--upload-certs");
  const std::vector<std::string> argv =
      CommandLine(*kubeadm, "init", module.check_mode(), flags, (*config_file)->path());
  const auto deadline = std::chrono::seconds(p["timeout"].get<long long>());
  StatusOr<ansible::CommandResult> run = ansible::RunCommand(argv, deadline);
  if (!run.ok()) return ansible::Failure(run.status().message());
  if (!run->ok()) {
    Classified c = ClassifyRun(*run);
    r.extra["preflight_errors"] = c.preflight_checks;
    if (c.cls == FailureClass::kTimeout) return fail(TimeoutMessage("init", deadline), "timeout");
    if (c.cls == FailureClass::kPreflight) {
      return fail(PreflightFailedMessage(c.preflight_checks), "preflight");
    }
    return fail(ansible::DescribeFailure({"kubeadm", "init"}, *run), "other");
  }
  r.changed = true;
  if (module.check_mode()) {
    r.msg = "would initialise the control plane (preflight passed)";
  } else {
    r.msg = "initialised the control plane";
    StatusOr<std::optional<std::string>> created = ansible::ReadFileIfExists(etc + "/admin.conf");
    if (created.ok() && *created) {
      if (endpoint.empty()) endpoint = KubeconfigServer(**created).value_or("");
      if (!ca_hash) {
        if (std::optional<std::string> ca = KubeconfigCa(**created)) {
          if (StatusOr<std::string> h = CaCertHash(*ca); h.ok()) ca_hash = *h;
        }
      }
    }
  }
  r.extra["api_server_endpoint"] = endpoint;
  r.extra["ca_cert_hashes"] = ca_hash ? json::array({*ca_hash}) : json::array();
  return r;
}

}  // namespace pvek8s::kubeadm
