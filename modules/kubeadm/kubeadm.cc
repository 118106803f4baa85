#include "modules/kubeadm/kubeadm.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace pvek8s::kubeadm {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

System System::FromEnvironment() {
  System sys;
  if (const char* root = std::getenv(kTestRootEnv); root != nullptr && *root != '\0') {
    sys.root = root;
  }
  if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') sys.tmp_dir = tmp;
  return sys;
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

bool SupportsV1Beta4(std::string_view version) {
  int major = 0, minor = 0;
  std::string v(version);
  if (!v.empty() && v[0] == 'v') v.erase(0, 1);
  if (std::sscanf(v.c_str(), "%d.%d", &major, &minor) != 2) return false;
  return major > 1 || (major == 1 && minor >= 31);
}

std::string_view ConfigApiVersion(bool v1beta4) {
  return v1beta4 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3";
}

StatusOr<Kubeadm> ProbeKubeadm(const std::string& kubeadm_path) {
  std::optional<std::string> path = ansible::FindExecutable(kubeadm_path);
  if (!path) return NotFoundError(kubeadm_path + " not found");
  StatusOr<ansible::CommandResult> run =
      ansible::RunCommand({*path, "version", "-o", "short"}, std::chrono::seconds(60));
  if (!run.ok()) return run.status();
  if (!run->ok()) {
    return InternalError(ansible::DescribeFailure({"kubeadm", "version"}, *run));
  }
  Kubeadm k;
  k.path = *path;
  k.version = run->out;
  while (!k.version.empty() && std::isspace(static_cast<unsigned char>(k.version.back()))) {
    k.version.pop_back();
  }
  k.v1beta4 = SupportsV1Beta4(k.version);
  return k;
}

StatusOr<std::unique_ptr<ansible::PrivateTempFile>> WriteConfigFile(const System& system,
                                                                    std::string_view verb,
                                                                    std::string_view text) {
  auto file =
      ansible::PrivateTempFile::Create(system.tmp_dir + "/pvek8s-" + std::string(verb) + "-", text);
  if (!file.ok()) {
    return file.status().WithPrefix("cannot write the " + std::string(verb) + " configuration");
  }
  return file;
}

std::vector<std::string> CommandLine(const Kubeadm& kubeadm, std::string_view verb, bool check_mode,
                                     const std::vector<std::string>& flags,
                                     const std::string& config_path) {
  std::vector<std::string> argv = {kubeadm.path, std::string(verb)};
  if (check_mode) {
    argv.insert(argv.end(), {"phase", "preflight"});
  } else {
    argv.insert(argv.end(), flags.begin(), flags.end());
  }
  argv.insert(argv.end(), {"--config", config_path});
  return argv;
}

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
             // A known token id with the wrong secret: the signature made with
             // the given secret does not verify.
             Contains(low, "failed to verify jws signature") ||
             (Contains(low, "token") && (Contains(low, "expired") || Contains(low, "invalid")))) {
    c.cls = FailureClass::kTokenInvalid;
  } else if (Contains(low, "are pinned") || Contains(low, "ca hash") ||
             Contains(low, "cacerthashes")) {
    c.cls = FailureClass::kCaMismatch;
  } else if (Contains(low, "connection refused") || Contains(low, "no route to host") ||
             Contains(low, "i/o timeout") || Contains(low, "network is unreachable") ||
             Contains(low, "no such host") || Contains(low, "context deadline exceeded") ||
             // kubectl's words for a refused connection.
             Contains(low, "the connection to the server")) {
    c.cls = FailureClass::kUnreachable;
  }
  return c;
}

Classified ClassifyRun(const ansible::CommandResult& run) {
  if (run.timed_out) return Classified{FailureClass::kTimeout, {}, false};
  return ClassifyFailure(run.out + "\n" + run.err);
}

std::string PreflightFailedMessage(const std::vector<std::string>& checks) {
  return "kubeadm preflight checks failed: " + Joined(checks);
}

std::string TimeoutMessage(std::string_view verb, std::chrono::seconds deadline) {
  return "kubeadm " + std::string(verb) + " did not finish within " +
         std::to_string(deadline.count()) + " s";
}

std::string ErrorLine(std::string_view output) {
  std::string best;
  size_t start = 0;
  while (start < output.size()) {
    size_t nl = output.find('\n', start);
    if (nl == std::string_view::npos) nl = output.size();
    std::string line(output.substr(start, nl - start));
    // kubeadm ends every failure with a hint that mentions "error" too.
    if (Contains(Lower(line), "error") && line.rfind("To see the stack trace", 0) != 0) {
      best = line;
    }
    start = nl + 1;
  }
  while (!best.empty() && (best.back() == '\r' || best.back() == ' ')) best.pop_back();
  return best;
}

}  // namespace pvek8s::kubeadm
