#include "modules/kubeadm_upgrade/kubeadm_upgrade.h"

#include <cctype>
#include <chrono>

#include "modules/ansible/command.h"
#include "modules/ansible/file_util.h"

namespace pvek8s::kubeadm {
namespace {

using ansible::Param;
using ansible::ParamType;
using ansible::Result;
using nlohmann::json;

std::vector<std::string> Fields(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) out.emplace_back(line.substr(start, i - start));
  }
  return out;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::string Bool(bool b) { return b ? "true" : "false"; }

}  // namespace

std::optional<Version> ClusterConfigVersion(std::string_view config) {
  for (std::string_view line : Lines(config)) {
    // Top-level key only: nested keys are indented.
    if (line.rfind("kubernetesVersion:", 0) != 0) continue;
    std::string value(line.substr(18));
    value.erase(0, value.find_first_not_of(" \t\"'"));
    while (!value.empty() && (std::isspace(static_cast<unsigned char>(value.back())) ||
                              value.back() == '"' || value.back() == '\'')) {
      value.pop_back();
    }
    return ParseVersion(value, true);
  }
  return std::nullopt;
}

std::optional<Version> ManifestVersion(std::string_view manifest) {
  static constexpr std::string_view kImage = "/kube-apiserver:";
  for (std::string_view line : Lines(manifest)) {
    size_t image = line.find("image:");
    size_t tag = line.find(kImage);
    if (image == std::string_view::npos || tag == std::string_view::npos || tag < image) continue;
    return ParseVersion(line.substr(tag + kImage.size()), true);
  }
  return std::nullopt;
}

std::vector<PlanRow> ParsePlan(std::string_view output) {
  std::vector<PlanRow> rows;
  bool in_table = false;
  bool has_node = false;
  for (std::string_view line : Lines(output)) {
    std::vector<std::string> f = Fields(line);
    if (f.empty()) {
      in_table = false;
      continue;
    }
    if (f[0] == "COMPONENT") {
      in_table = true;
      has_node = f.size() >= 2 && f[1] == "NODE";
      continue;
    }
    if (!in_table || f.size() < 3) continue;
    PlanRow row;
    row.component = f[0];
    row.current = f[f.size() - 2];
    row.target = f[f.size() - 1];
    if (has_node && f.size() >= 4) {
      for (size_t i = 1; i + 2 < f.size(); ++i) row.node += (row.node.empty() ? "" : " ") + f[i];
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

ansible::ArgSpec UpgradeSpec() {
  ansible::ArgSpec spec;
  spec.params = {
      Param("mode").Required().Choices({"apply", "node"}),
      Param("version").Required(),
      Param("certificate_renewal", ParamType::kBool).Default(true),
      Param("etcd_upgrade", ParamType::kBool).Default(true),
      // Default: /etc/kubernetes/admin.conf; mode node falls back to kubelet.conf.
      Param("kubeconfig"),
      Param("kubeadm_path").Default("kubeadm"),
      Param("kubectl_path").Default("kubectl"),
      Param("timeout", ParamType::kInt).Default(1800),
  };
  return spec;
}

namespace {

// What the module learned before deciding anything.
struct Facts {
  UpgradeFacts rules;
  Kubeadm kubeadm;
  std::string kubeconfig;
  std::optional<Version> node_version;  // mode node: where this node is now.
};

Result Fail(Result r, std::string_view cls, std::string msg) {
  r.failed = true;
  r.extra["failure_class"] = cls;
  r.msg = std::move(msg);
  return r;
}

// The kubeconfig kubectl reads the cluster's version with: the option, else
// admin.conf, else (mode node, as kubeadm upgrade node does) kubelet.conf.
std::string Kubeconfig(const json& p, const System& sys) {
  if (p["kubeconfig"].is_string()) return p["kubeconfig"].get<std::string>();
  std::string admin = sys.root + "/etc/kubernetes/admin.conf";
  std::string kubelet = sys.root + "/etc/kubernetes/kubelet.conf";
  if (p["mode"] == "node" && !ansible::ReadFileIfExists(admin).value_or(std::nullopt) &&
      ansible::ReadFileIfExists(kubelet).value_or(std::nullopt)) {
    return kubelet;
  }
  return admin;
}

// The control plane's version from the kubeadm-config ConfigMap, or a failed
// Result saying why it could not be read.
StatusOr<Version> ClusterVersion(const json& p, const std::string& kubeconfig, Result& r) {
  std::vector<std::string> argv = {p["kubectl_path"].get<std::string>(),
                                   "--kubeconfig",
                                   kubeconfig,
                                   "get",
                                   "configmap",
                                   "kubeadm-config",
                                   "-n",
                                   "kube-system",
                                   "-o",
                                   "jsonpath={.data.ClusterConfiguration}"};
  StatusOr<ansible::CommandResult> run = ansible::RunCommand(argv, std::chrono::seconds(60));
  if (!run.ok()) {
    r = Fail(r, "other", "cannot read the control plane's version: " + run.status().message());
    return run.status();
  }
  if (!run->ok()) {
    Classified c = ClassifyRun(*run);
    std::string detail = ErrorLine(run->out + "\n" + run->err);
    if (detail.empty()) detail = ansible::DescribeFailure({"kubectl", "get", "configmap"}, *run);
    r = Fail(r, FailureClassName(c.cls),
             "cannot read the control plane's version (kubeadm-config in kube-system, with " +
                 kubeconfig + "): " + detail);
    return InternalError(r.msg);
  }
  std::optional<Version> v = ClusterConfigVersion(run->out);
  if (!v) {
    r = Fail(r, "other", "the kubeadm-config ConfigMap has no kubernetesVersion");
    return InternalError(r.msg);
  }
  return *v;
}

// This node's version in mode node: its API server manifest on a control
// plane, else what this module recorded; nullopt when neither exists.
std::optional<Version> NodeVersion(const System& sys) {
  auto manifest =
      ansible::ReadFileIfExists(sys.root + "/etc/kubernetes/manifests/kube-apiserver.yaml");
  if (manifest.ok() && *manifest) return ManifestVersion(**manifest);
  auto record = ansible::ReadFileIfExists(sys.root + kUpgradeRecord);
  if (record.ok() && *record) return ParseVersion(**record);
  return std::nullopt;
}

std::vector<std::string> UpgradeCommand(const Facts& f, const json& p) {
  std::vector<std::string> argv = {f.kubeadm.path, "upgrade"};
  if (f.rules.mode == UpgradeMode::kApply) {
    argv.insert(argv.end(), {"apply", f.rules.target.ToString(), "--yes"});
  } else {
    argv.emplace_back("node");
  }
  argv.push_back("--certificate-renewal=" + Bool(p["certificate_renewal"].get<bool>()));
  argv.push_back("--etcd-upgrade=" + Bool(p["etcd_upgrade"].get<bool>()));
  return argv;
}

// A failed kubeadm run as one line, classified like kubeadm_join's failures.
Result KubeadmFailed(Result r, std::string_view verb, std::chrono::seconds deadline,
                     const ansible::CommandResult& run) {
  Classified c = ClassifyRun(run);
  r.extra["preflight_errors"] = c.preflight_checks;
  std::string detail = ErrorLine(run.out + "\n" + run.err);
  std::string msg;
  switch (c.cls) {
    case FailureClass::kPreflight:
      msg = PreflightFailedMessage(c.preflight_checks);
      break;
    case FailureClass::kTimeout:
      msg = TimeoutMessage(verb, deadline);
      break;
    case FailureClass::kUnreachable:
      msg = "kubeadm " + std::string(verb) + " cannot reach the API server: " + detail;
      break;
    default:
      msg =
          "kubeadm " + std::string(verb) + " failed: " +
          (detail.empty() ? ansible::DescribeFailure({"kubeadm", std::string(verb)}, run) : detail);
  }
  return Fail(std::move(r), FailureClassName(c.cls), msg);
}

// Check mode of mode apply: `kubeadm upgrade plan <target>`, its tables returned.
Result Plan(const Facts& f, std::chrono::seconds deadline, Result r) {
  const std::string target = f.rules.target.ToString();
  StatusOr<ansible::CommandResult> run =
      ansible::RunCommand({f.kubeadm.path, "upgrade", "plan", target}, deadline);
  if (!run.ok()) return Fail(std::move(r), "other", run.status().message());
  if (!run->ok()) return KubeadmFailed(std::move(r), "upgrade plan", deadline, *run);
  json plan = json::array();
  for (const PlanRow& row : ParsePlan(run->out)) {
    plan.push_back({{"component", row.component},
                    {"node", row.node},
                    {"current", row.current},
                    {"target", row.target}});
  }
  r.extra["plan"] = plan;
  r.changed = true;
  r.msg = "would upgrade the control plane from " + f.rules.cluster.ToString() + " to " + target +
          " (kubeadm upgrade plan passed)";
  return r;
}

}  // namespace

namespace {

// Reads everything CheckUpgrade needs; on failure `r` holds the failed result.
StatusOr<Facts> GatherFacts(const json& p, const System& sys, Result& r) {
  Facts f;
  f.rules.mode = p["mode"] == "node" ? UpgradeMode::kNode : UpgradeMode::kApply;
  std::string text = p["version"].get<std::string>();
  std::optional<Version> target = ParseVersion(text);
  if (!target) {
    r = Fail(
        r, "invalid_argument",
        "version must be a release version vX.Y.Z or X.Y.Z (e.g. v1.27.3), got '" + text + "'");
    return InvalidArgumentError(r.msg);
  }
  f.rules.target = *target;
  if (p["timeout"].get<long long>() <= 0) {
    r = Fail(r, "invalid_argument", "timeout must be positive seconds");
    return InvalidArgumentError(r.msg);
  }
  StatusOr<Kubeadm> kubeadm = ProbeKubeadm(p["kubeadm_path"].get<std::string>());
  if (!kubeadm.ok()) {
    r = Fail(r, "other", kubeadm.status().message());
    return kubeadm.status();
  }
  f.kubeadm = *kubeadm;
  std::optional<Version> kv = ParseVersion(kubeadm->version, true);
  if (!kv) {
    r = Fail(r, "other", "kubeadm version printed '" + kubeadm->version + "', not a version");
    return InternalError(r.msg);
  }
  f.rules.kubeadm = *kv;
  r.extra["kubeadm_version"] = kubeadm->version;
  f.kubeconfig = Kubeconfig(p, sys);
  PVEK8S_ASSIGN_OR_RETURN(f.rules.cluster, ClusterVersion(p, f.kubeconfig, r));
  r.extra["cluster_version"] = f.rules.cluster.ToString();
  if (f.rules.mode == UpgradeMode::kNode) f.node_version = NodeVersion(sys);
  return f;
}

}  // namespace

Result RunUpgrade(ansible::Module& module, const System& sys) {
  const json& p = module.params();
  Result r;
  r.extra["to_version"] = p["version"];
  StatusOr<Facts> gathered = GatherFacts(p, sys, r);
  if (!gathered.ok()) return r;
  const Facts& f = *gathered;
  const bool apply = f.rules.mode == UpgradeMode::kApply;
  const std::string target = f.rules.target.ToString();
  const std::optional<Version> from =
      apply ? std::optional<Version>(f.rules.cluster) : f.node_version;
  const std::string from_text = from ? from->ToString() : "unknown";
  r.extra["from_version"] = from_text;
  r.extra["to_version"] = target;
  const std::string what = apply ? "the control plane" : "this node";
  // Done already: nothing to check, nothing to run, whatever kubeadm is here.
  if (from && *from == f.rules.target && f.rules.cluster == f.rules.target) {
    r.msg = what + " is already at " + target;
    return r;
  }
  if (Status s = CheckUpgrade(f.rules); !s.ok()) return Fail(std::move(r), "refused", s.message());
  r.diffs.push_back({"kubernetes version: " + from_text + "\n",
                     "kubernetes version: " + target + "\n", what, what});
  const std::vector<std::string> argv = UpgradeCommand(f, p);
  std::string command;
  for (size_t i = 1; i < argv.size(); ++i) command += " " + argv[i];
  command = "kubeadm" + command;
  r.extra["command"] = command;
  const auto deadline = std::chrono::seconds(p["timeout"].get<long long>());
  if (module.check_mode()) {
    if (apply) return Plan(f, deadline, std::move(r));
    r.changed = true;
    r.msg = "would run " + command + " (" + from_text + " -> " + target + ")";
    return r;
  }
  const std::string verb = apply ? "upgrade apply" : "upgrade node";
  StatusOr<ansible::CommandResult> run = ansible::RunCommand(argv, deadline);
  if (!run.ok()) return Fail(std::move(r), "other", run.status().message());
  if (!run->ok()) return KubeadmFailed(std::move(r), verb, deadline, *run);
  if (!apply) {
    // kubeadm leaves no version on a worker: the record makes the next run a no-op.
    Status written = ansible::AtomicWriteFile(sys.root + kUpgradeRecord, target + "\n", 0644);
    if (!written.ok()) module.Warn("cannot record the upgrade: " + written.message());
  }
  r.changed = true;
  r.msg = "upgraded " + what + " from " + from_text + " to " + target;
  return r;
}

}  // namespace pvek8s::kubeadm
