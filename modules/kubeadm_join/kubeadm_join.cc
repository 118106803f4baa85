#include "modules/kubeadm_join/kubeadm_join.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>

#include "modules/ansible/command.h"
#include "modules/ansible/file_util.h"
#include "modules/kubeadm/ca_hash.h"

namespace pvek8s::kubeadm {
namespace {

using ansible::Param;
using ansible::ParamType;
using ansible::Result;
using nlohmann::json;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Duration(long long seconds) {
  // Go's time.Duration text, which kubeadm's config decoder reads.
  return std::to_string(seconds / 60) + "m" + std::to_string(seconds % 60) + "s";
}

}  // namespace

std::optional<std::time_t> ParseRfc3339(std::string_view text) {
  if (text.size() < 20) return std::nullopt;
  std::string t(text);
  struct tm tm {};
  const char* rest = ::strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  if (*rest == '.') {  // Fractional seconds are ignored.
    ++rest;
    while (std::isdigit(static_cast<unsigned char>(*rest))) ++rest;
  }
  long offset = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int sign = *rest == '-' ? -1 : 1;
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    offset = sign * (hh * 3600L + mm * 60L);
    rest += 6;
  } else {
    return std::nullopt;
  }
  if (*rest != '\0') return std::nullopt;
  return ::timegm(&tm) - offset;
}

StatusOr<json> ParseTaints(const json& taints) {
  static const std::set<std::string> kEffects = {"NoSchedule", "PreferNoSchedule", "NoExecute"};
  json out = json::array();
  if (!taints.is_array()) return out;
  for (size_t i = 0; i < taints.size(); ++i) {
    const json& t = taints[i];
    auto bad = [&] {
      return InvalidArgumentError(
          "taints[" + std::to_string(i) +
          "]: " + (t.is_string() ? "'" + t.get<std::string>() + "'" : t.dump()) +
          " is not a taint: write key=value:Effect (or key:Effect), or a mapping {key, value, "
          "effect}, with Effect NoSchedule, PreferNoSchedule or NoExecute");
    };
    json taint = json::object();
    if (t.is_string()) {
      std::string text = t.get<std::string>();
      size_t colon = text.rfind(':');
      if (colon == std::string::npos) return bad();
      std::string kv = text.substr(0, colon);
      size_t eq = kv.find('=');
      taint["key"] = kv.substr(0, eq);
      if (eq != std::string::npos) taint["value"] = kv.substr(eq + 1);
      taint["effect"] = text.substr(colon + 1);
    } else if (t.is_object()) {
      for (const auto& item : t.items()) {
        if (item.key() != "key" && item.key() != "value" && item.key() != "effect") return bad();
        if (!item.value().is_string()) return bad();
      }
      taint = t;
    } else {
      return bad();
    }
    if (!taint.contains("key") || taint["key"].get<std::string>().empty() ||
        !taint.contains("effect") || !kEffects.count(taint["effect"].get<std::string>())) {
      return bad();
    }
    out.push_back(std::move(taint));
  }
  return out;
}

json JoinConfiguration(const json& p, const std::vector<std::string>& hashes, bool v1beta4) {
  json token = {{"apiServerEndpoint", p["api_server_endpoint"]},
                {"token", p["token"]},
                {"caCertHashes", hashes},
                {"unsafeSkipCAVerification", false}};
  json cfg = {{"apiVersion", ConfigApiVersion(v1beta4)},
              {"kind", "JoinConfiguration"},
              {"discovery", {{"bootstrapToken", token}, {"tlsBootstrapToken", p["token"]}}}};
  std::string discovery_timeout = Duration(p["discovery_timeout"].get<long long>());
  if (v1beta4) {
    cfg["timeouts"] = {{"discovery", discovery_timeout}};
  } else {
    cfg["discovery"]["timeout"] = discovery_timeout;
  }
  json reg = {{"criSocket", p["cri_socket"]}};
  if (p["node_name"].is_string()) reg["name"] = p["node_name"];
  if (p["labels"].is_object() && !p["labels"].empty()) {
    std::string labels;
    for (const auto& item : p["labels"].items()) {
      const json& v = item.value();
      labels += (labels.empty() ? "" : ",") + item.key() + "=" +
                (v.is_string() ? v.get<std::string>() : v.dump());
    }
    if (v1beta4) {
      reg["kubeletExtraArgs"] = json::array({{{"name", "node-labels"}, {"value", labels}}});
    } else {
      reg["kubeletExtraArgs"] = {{"node-labels", labels}};
    }
  }
  if (p["taints"].is_array()) {
    StatusOr<json> taints = ParseTaints(p["taints"]);
    reg["taints"] = taints.ok() ? *taints : p["taints"];
  }
  if (p["ignore_preflight_errors"].is_array() && !p["ignore_preflight_errors"].empty()) {
    reg["ignorePreflightErrors"] = p["ignore_preflight_errors"];
  }
  cfg["nodeRegistration"] = reg;
  if (p["control_plane"] == true) {
    cfg["controlPlane"] = {{"certificateKey", p["certificate_key"]}};
  }
  return cfg;
}

ansible::ArgSpec JoinSpec() {
  ansible::ArgSpec spec;
  spec.params = {
      Param("api_server_endpoint").Required(),
      Param("token").Required().NoLog(),
      Param("ca_cert_hashes", ParamType::kList).Elements(ParamType::kStr),
      Param("ca_cert_pem"),
      Param("token_expires_at"),
      Param("control_plane", ParamType::kBool).Default(false),
      Param("certificate_key").NoLog(),
      Param("node_name"),
      Param("cri_socket").Default("unix:///var/run/crio/crio.sock"),
      Param("labels", ParamType::kDict),
      // Strings (kubectl's form) or mappings: ParseTaints reads both.
      Param("taints", ParamType::kList).Elements(ParamType::kRaw),
      Param("ignore_preflight_errors", ParamType::kList).Elements(ParamType::kStr),
      Param("kubeadm_path").Default("kubeadm"),
      Param("discovery_timeout", ParamType::kInt).Default(300),
      Param("timeout", ParamType::kInt).Default(900),
      Param("reset_on_failure", ParamType::kBool).Default(true),
  };
  spec.mutually_exclusive = {{"ca_cert_hashes", "ca_cert_pem"}};
  return spec;
}

namespace {

struct Validated {
  std::vector<std::string> hashes;
};

StatusOr<Validated> Validate(const json& p, std::time_t now) {
  Validated v;
  std::string endpoint = p["api_server_endpoint"].get<std::string>();
  if (!IsEndpoint(endpoint)) {
    return InvalidArgumentError(
        "api_server_endpoint must be host:port (e.g. 192.168.100.171:6443), got '" + endpoint +
        "'");
  }
  if (!IsBootstrapToken(p["token"].get<std::string>())) {
    return InvalidArgumentError(
        "token is not a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}");
  }
  if (p["ca_cert_pem"].is_string()) {
    PVEK8S_ASSIGN_OR_RETURN(std::string hash, CaCertHash(p["ca_cert_pem"].get<std::string>()));
    v.hashes.push_back(hash);
  } else if (p["ca_cert_hashes"].is_array() && !p["ca_cert_hashes"].empty()) {
    for (const json& h : p["ca_cert_hashes"]) {
      std::string text = h.get<std::string>();
      if (!IsCaCertHash(text)) {
        return InvalidArgumentError("ca_cert_hashes: '" + text +
                                    "' is not sha256: followed by 64 hex digits");
      }
      v.hashes.push_back(Lower(text));
    }
  } else {
    return InvalidArgumentError(
        "one of ca_cert_hashes or ca_cert_pem is required: the cluster CA is always verified");
  }
  if (p["control_plane"] == true) {
    std::string key =
        p["certificate_key"].is_string() ? p["certificate_key"].get<std::string>() : "";
    if (key.size() != 64 || !std::all_of(key.begin(), key.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c));
        })) {
      return InvalidArgumentError("control_plane needs certificate_key: 64 hex digits (32 bytes)");
    }
  }
  if (StatusOr<json> taints = ParseTaints(p["taints"]); !taints.ok()) return taints.status();
  if (p["discovery_timeout"].get<long long>() <= 0 || p["timeout"].get<long long>() <= 0) {
    return InvalidArgumentError("discovery_timeout and timeout must be positive seconds");
  }
  if (p["token_expires_at"].is_string()) {
    std::string at = p["token_expires_at"].get<std::string>();
    std::optional<std::time_t> expiry = ParseRfc3339(at);
    if (!expiry) {
      return InvalidArgumentError(
          "token_expires_at must be an RFC 3339 time such as "
          "2026-12-01T10:00:00Z, got '" +
          at + "'");
    }
    if (*expiry <= now) {
      return FailedPreconditionError(
          "the bootstrap token expired at " + at +
          "; create a new one (kubeadm token create on a control-plane node, or re-apply the "
          "proxmox_k8s_cluster resource) and pass it with its new token_expires_at");
    }
  }
  return v;
}

// A node that already has a kubelet.conf: done when it names `endpoint` and
// one of the pinned CAs, an error otherwise; nullopt when not joined yet.
StatusOr<std::optional<Result>> AlreadyJoined(const System& sys, const std::string& endpoint,
                                              const std::vector<std::string>& hashes, Result r) {
  StatusOr<std::optional<std::string>> existing =
      ansible::ReadFileIfExists(sys.root + "/etc/kubernetes/kubelet.conf");
  if (!existing.ok()) return existing.status();
  if (!*existing) return std::optional<Result>();
  std::optional<std::string> server = KubeconfigServer(**existing);
  if (server && *server == endpoint) {
    // Same endpoint; the CA must be one of the pinned ones too, or this is
    // another cluster behind the same address.
    if (std::optional<std::string> ca = KubeconfigCa(**existing)) {
      StatusOr<std::string> hash = CaCertHash(*ca);
      if (hash.ok() && std::find(hashes.begin(), hashes.end(), *hash) == hashes.end()) {
        r.failed = true;
        r.extra["failure_class"] = "other_cluster";
        r.msg = "this node is joined to " + endpoint + " but its CA (" + *hash +
                ") is not one of ca_cert_hashes; run kubeadm reset on it first";
        return std::optional<Result>(std::move(r));
      }
    }
    r.msg = "node already joined to " + endpoint;
    return std::optional<Result>(std::move(r));
  }
  r.failed = true;
  r.extra["failure_class"] = "other_cluster";
  r.msg = "this node is already joined to another cluster (" + server.value_or("unknown server") +
          " in /etc/kubernetes/kubelet.conf); run kubeadm reset on it first";
  return std::optional<Result>(std::move(r));
}

// The one-line message for a failed join of class `c`.
std::string JoinFailureMessage(const Classified& c, const std::string& endpoint,
                               std::chrono::seconds deadline, const ansible::CommandResult& run) {
  std::string detail = ErrorLine(run.out + "\n" + run.err);
  switch (c.cls) {
    case FailureClass::kTokenInvalid:
      return "the bootstrap token was rejected by " + endpoint +
             " (expired, deleted or mistyped); create a new one with kubeadm token create or "
             "re-apply the proxmox_k8s_cluster resource";
    case FailureClass::kCaMismatch:
      return "the cluster CA at " + endpoint +
             " does not match ca_cert_hashes; check that the hashes belong to this cluster";
    case FailureClass::kUnreachable:
      return "the API server " + endpoint + " is unreachable from this node: " + detail;
    case FailureClass::kPreflight:
      return PreflightFailedMessage(c.preflight_checks);
    case FailureClass::kTimeout:
      return TimeoutMessage("join", deadline);
    default:
      return "kubeadm join failed: " +
             (detail.empty() ? ansible::DescribeFailure({"kubeadm", "join"}, run) : detail);
  }
}

// Runs `kubeadm join` (preflight only in check mode); after a partial earlier
// join it resets the node and tries once more when reset_on_failure allows.
Result Join(ansible::Module& module, const Kubeadm& kubeadm, const std::string& config_path,
            Result r) {
  const json& p = module.params();
  const std::string endpoint = p["api_server_endpoint"].get<std::string>();
  const std::vector<std::string> argv =
      CommandLine(kubeadm, "join", module.check_mode(), {}, config_path);
  const auto deadline = std::chrono::seconds(p["timeout"].get<long long>());
  int attempts = 0;
  while (true) {
    ++attempts;
    StatusOr<ansible::CommandResult> run = ansible::RunCommand(argv, deadline);
    if (!run.ok()) return ansible::Failure(run.status().message());
    r.extra["attempts"] = attempts;
    if (run->ok()) {
      r.changed = true;
      r.msg = module.check_mode() ? "would join " + endpoint + " (preflight passed)"
                                  : "joined " + endpoint;
      return r;
    }
    Classified c = ClassifyRun(*run);
    if (c.partial_join && !module.check_mode() && p["reset_on_failure"] == true && attempts == 1) {
      StatusOr<ansible::CommandResult> reset = ansible::RunCommand(
          {kubeadm.path, "reset", "--force", "--cri-socket", p["cri_socket"].get<std::string>()},
          std::chrono::seconds(300));
      if (reset.ok() && reset->ok()) {
        module.Warn("kubeadm join found a partial earlier join (" +
                    std::string(c.preflight_checks.empty() ? "" : c.preflight_checks[0]) +
                    "); ran kubeadm reset and retried");
        continue;
      }
    }
    r.failed = true;
    r.extra["failure_class"] = FailureClassName(c.cls);
    r.extra["preflight_errors"] = c.preflight_checks;
    r.msg = JoinFailureMessage(c, endpoint, deadline, *run);
    return r;
  }
}

}  // namespace

Result RunJoin(ansible::Module& module, const System& sys) {
  const json& p = module.params();
  std::time_t now = sys.now != 0 ? sys.now : std::time(nullptr);
  StatusOr<Validated> v = Validate(p, now);
  Result r;
  const std::string endpoint = p["api_server_endpoint"].get<std::string>();
  r.extra["api_server_endpoint"] = endpoint;
  if (!v.ok()) {
    r.failed = true;
    r.msg = v.status().message();
    r.extra["failure_class"] = v.status().code() == StatusCode::kFailedPrecondition
                                   ? FailureClassName(FailureClass::kTokenInvalid)
                                   : "invalid_argument";
    return r;
  }
  r.extra["ca_cert_hashes"] = v->hashes;

  // Already joined? kubelet.conf names the cluster this node belongs to.
  StatusOr<std::optional<Result>> joined = AlreadyJoined(sys, endpoint, v->hashes, r);
  if (!joined.ok()) return ansible::Failure(joined.status().message());
  if (*joined) return std::move(**joined);

  StatusOr<Kubeadm> kubeadm = ProbeKubeadm(p["kubeadm_path"].get<std::string>());
  if (!kubeadm.ok()) return ansible::Failure(kubeadm.status().message());
  json config = JoinConfiguration(p, v->hashes, kubeadm->v1beta4);
  std::string config_text = config.dump(2) + "\n";
  r.extra["kubeadm_version"] = kubeadm->version;
  r.extra["config_api_version"] = config["apiVersion"];
  // Secrets in the config are masked by Module::Render like every no_log value.
  r.diffs.push_back({"", config_text, "JoinConfiguration", "JoinConfiguration"});

  // The config holds the token: a private file, removed whatever happens.
  auto config_file = WriteConfigFile(sys, "join", config_text);
  if (!config_file.ok()) return ansible::Failure(config_file.status().message());
  return Join(module, *kubeadm, (*config_file)->path(), std::move(r));
}

}  // namespace pvek8s::kubeadm
