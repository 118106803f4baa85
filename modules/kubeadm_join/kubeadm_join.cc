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
#include "modules/kubeadm_join/ca_hash.h"

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

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string Duration(long long seconds) {
  // Go's time.Duration text, which kubeadm's config decoder reads.
  return std::to_string(seconds / 60) + "m" + std::to_string(seconds % 60) + "s";
}

// The last non-empty line that says what went wrong, for one-line messages.
std::string ErrorLine(std::string_view output) {
  std::string best;
  size_t start = 0;
  while (start < output.size()) {
    size_t nl = output.find('\n', start);
    if (nl == std::string_view::npos) nl = output.size();
    std::string line(output.substr(start, nl - start));
    if (Contains(Lower(line), "error")) best = line;
    start = nl + 1;
  }
  while (!best.empty() && (best.back() == '\r' || best.back() == ' ')) best.pop_back();
  return best;
}

}  // namespace

std::string_view FailureClassName(FailureClass c) {
  switch (c) {
    case FailureClass::kNone:
      return "none";
    case FailureClass::kTokenInvalid:
      return "token_invalid";
    case FailureClass::kCaMismatch:
      return "ca_mismatch";
    case FailureClass::kUnreachable:
      return "unreachable";
    case FailureClass::kPreflight:
      return "preflight";
    case FailureClass::kTimeout:
      return "timeout";
    case FailureClass::kOther:
      return "other";
  }
  return "other";
}

Classified ClassifyFailure(std::string_view output) {
  Classified c;
  std::string low = Lower(output);
  // Preflight lines look like "[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: ...".
  size_t pos = 0;
  while ((pos = output.find("[ERROR ", pos)) != std::string_view::npos) {
    size_t end = output.find(']', pos);
    if (end == std::string_view::npos) break;
    std::string check(output.substr(pos + 7, end - pos - 7));
    c.preflight_checks.push_back(check);
    if (check.rfind("FileAvailable--etc-kubernetes-", 0) == 0 || check == "Port-10250" ||
        check.rfind("DirAvailable--etc-kubernetes-manifests", 0) == 0) {
      c.partial_join = true;
    }
    pos = end;
  }
  if (!c.preflight_checks.empty()) {
    c.cls = FailureClass::kPreflight;
  } else if (Contains(low, "could not find a jws signature") ||
             (Contains(low, "token") && (Contains(low, "expired") || Contains(low, "invalid")))) {
    c.cls = FailureClass::kTokenInvalid;
  } else if (Contains(low, "are pinned") || Contains(low, "ca hash") ||
             Contains(low, "cacerthashes")) {
    c.cls = FailureClass::kCaMismatch;
  } else if (Contains(low, "connection refused") || Contains(low, "no route to host") ||
             Contains(low, "i/o timeout") || Contains(low, "network is unreachable") ||
             Contains(low, "no such host") || Contains(low, "context deadline exceeded")) {
    c.cls = FailureClass::kUnreachable;
  }
  return c;
}

bool IsBootstrapToken(std::string_view token) {
  if (token.size() != 23 || token[6] != '.') return false;
  for (size_t i = 0; i < token.size(); ++i) {
    if (i == 6) continue;
    char ch = token[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) return false;
  }
  return true;
}

bool IsEndpoint(std::string_view endpoint) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = endpoint.substr(0, colon);
  std::string_view port = endpoint.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  long p = 0;
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    p = p * 10 + (c - '0');
  }
  if (p < 1 || p > 65535) return false;
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 4) return false;
    return std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
  }
  if (host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(),
                     [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
                     }) &&
         host.front() != '-' && host.front() != '.';
}

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

std::optional<std::string> KubeconfigServer(std::string_view kubeconfig) {
  size_t pos = kubeconfig.find("server:");
  if (pos == std::string_view::npos) return std::nullopt;
  size_t start = pos + 7;
  size_t end = kubeconfig.find('\n', start);
  std::string value(kubeconfig.substr(start, end == std::string_view::npos ? end : end - start));
  value.erase(0, value.find_first_not_of(" \t\"'"));
  while (!value.empty() && (std::isspace(static_cast<unsigned char>(value.back())) ||
                            value.back() == '"' || value.back() == '\'')) {
    value.pop_back();
  }
  if (value.rfind("https://", 0) == 0) value = value.substr(8);
  while (!value.empty() && value.back() == '/') value.pop_back();
  if (value.empty()) return std::nullopt;
  return value;
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

bool SupportsV1Beta4(std::string_view version) {
  int major = 0, minor = 0;
  std::string v(version);
  if (!v.empty() && v[0] == 'v') v.erase(0, 1);
  if (std::sscanf(v.c_str(), "%d.%d", &major, &minor) != 2) return false;
  return major > 1 || (major == 1 && minor >= 31);
}

json JoinConfiguration(const json& p, const std::vector<std::string>& hashes, bool v1beta4) {
  json token = {{"apiServerEndpoint", p["api_server_endpoint"]},
                {"token", p["token"]},
                {"caCertHashes", hashes},
                {"unsafeSkipCAVerification", false}};
  json cfg = {{"apiVersion", v1beta4 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3"},
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

JoinSystem JoinSystem::FromEnvironment() {
  JoinSystem sys;
  if (const char* root = std::getenv(kJoinTestRootEnv); root != nullptr && *root != '\0') {
    sys.root = root;
  }
  if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') sys.tmp_dir = tmp;
  return sys;
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

}  // namespace

Result RunJoin(ansible::Module& module, const JoinSystem& sys) {
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
  const std::string kubelet_conf = sys.root + "/etc/kubernetes/kubelet.conf";
  StatusOr<std::optional<std::string>> existing = ansible::ReadFileIfExists(kubelet_conf);
  if (!existing.ok()) return ansible::Failure(existing.status().message());
  if (*existing) {
    std::optional<std::string> server = KubeconfigServer(**existing);
    if (server && *server == endpoint) {
      // Same endpoint; the CA must be one of the pinned ones too, or this is
      // another cluster behind the same address.
      if (std::optional<std::string> ca = KubeconfigCa(**existing)) {
        StatusOr<std::string> hash = CaCertHash(*ca);
        if (hash.ok() && std::find(v->hashes.begin(), v->hashes.end(), *hash) == v->hashes.end()) {
          r.failed = true;
          r.extra["failure_class"] = "other_cluster";
          r.msg = "this node is joined to " + endpoint + " but its CA (" + *hash +
                  ") is not one of ca_cert_hashes; run kubeadm reset on it first";
          return r;
        }
      }
      r.msg = "node already joined to " + endpoint;
      return r;
    }
    r.failed = true;
    r.extra["failure_class"] = "other_cluster";
    r.msg = "this node is already joined to another cluster (" + server.value_or("unknown server") +
            " in /etc/kubernetes/kubelet.conf); run kubeadm reset on it first";
    return r;
  }

  std::optional<std::string> kubeadm =
      ansible::FindExecutable(p["kubeadm_path"].get<std::string>());
  if (!kubeadm) return ansible::Failure(p["kubeadm_path"].get<std::string>() + " not found");
  using std::chrono::seconds;
  StatusOr<ansible::CommandResult> version =
      ansible::RunCommand({*kubeadm, "version", "-o", "short"}, seconds(60));
  if (!version.ok()) return ansible::Failure(version.status().message());
  if (!version->ok()) {
    return ansible::Failure(ansible::DescribeFailure({"kubeadm", "version"}, *version));
  }
  std::string kubeadm_version = version->out;
  while (!kubeadm_version.empty() &&
         std::isspace(static_cast<unsigned char>(kubeadm_version.back()))) {
    kubeadm_version.pop_back();
  }
  const bool v1beta4 = SupportsV1Beta4(kubeadm_version);
  json config = JoinConfiguration(p, v->hashes, v1beta4);
  std::string config_text = config.dump(2) + "\n";
  r.extra["kubeadm_version"] = kubeadm_version;
  r.extra["config_api_version"] = config["apiVersion"];
  // Secrets in the config are masked by Module::Render like every no_log value.
  r.diffs.push_back({"", config_text, "JoinConfiguration", "JoinConfiguration"});

  // The config holds the token: a private file, removed whatever happens.
  auto config_file = ansible::PrivateTempFile::Create(sys.tmp_dir + "/pvek8s-join-", config_text);
  if (!config_file.ok()) {
    return ansible::Failure("cannot write the join configuration: " +
                            config_file.status().message());
  }
  const std::string& path = (*config_file)->path();

  std::vector<std::string> argv = {*kubeadm, "join"};
  if (module.check_mode()) {
    argv.push_back("phase");
    argv.push_back("preflight");
  }
  argv.insert(argv.end(), {"--config", path});
  const auto deadline = seconds(p["timeout"].get<long long>());
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
    std::string output = run->out + "\n" + run->err;
    Classified c =
        run->timed_out ? Classified{FailureClass::kTimeout, {}, false} : ClassifyFailure(output);
    if (c.partial_join && !module.check_mode() && p["reset_on_failure"] == true && attempts == 1) {
      StatusOr<ansible::CommandResult> reset = ansible::RunCommand(
          {*kubeadm, "reset", "--force", "--cri-socket", p["cri_socket"].get<std::string>()},
          seconds(300));
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
    std::string detail = ErrorLine(output);
    switch (c.cls) {
      case FailureClass::kTokenInvalid:
        r.msg = "the bootstrap token was rejected by " + endpoint +
                " (expired, deleted or mistyped); create a new one with kubeadm token create or "
                "re-apply the proxmox_k8s_cluster resource";
        break;
      case FailureClass::kCaMismatch:
        r.msg = "the cluster CA at " + endpoint +
                " does not match ca_cert_hashes; check that the hashes belong to this cluster";
        break;
      case FailureClass::kUnreachable:
        r.msg = "the API server " + endpoint + " is unreachable from this node: " + detail;
        break;
      case FailureClass::kPreflight: {
        std::string names;
        for (const std::string& n : c.preflight_checks) names += (names.empty() ? "" : ", ") + n;
        r.msg = "kubeadm preflight checks failed: " + names;
        break;
      }
      case FailureClass::kTimeout:
        r.msg = "kubeadm join did not finish within " + std::to_string(deadline.count()) + " s";
        break;
      default:
        r.msg = "kubeadm join failed: " +
                (detail.empty() ? ansible::DescribeFailure({"kubeadm", "join"}, *run) : detail);
    }
    return r;
  }
}

}  // namespace pvek8s::kubeadm
