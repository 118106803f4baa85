#include "modules/kubeadm_reset/kubeadm_reset.h"

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "modules/ansible/command.h"
#include "modules/ansible/file_util.h"

namespace pvek8s::kubeadm {
namespace {

using ansible::Param;
using ansible::ParamType;
using ansible::Result;
using nlohmann::json;

// The regular files and links directly in `dir`, sorted; empty when it is
// missing. Hidden files count: they are configuration too.
std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool FileExists(const std::string& path) {
  StatusOr<std::optional<std::string>> f = ansible::ReadFileIfExists(path);
  return !f.ok() || f->has_value();  // Unreadable is there too; kubeadm will say why.
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

std::vector<std::string> KubeadmLeftovers(const std::string& root) {
  std::vector<std::string> out;
  for (const char* name : {"admin.conf", "super-admin.conf", "kubelet.conf",
                           "bootstrap-kubelet.conf", "controller-manager.conf", "scheduler.conf"}) {
    std::string path = std::string("/etc/kubernetes/") + name;
    if (FileExists(root + path)) out.push_back(path);
  }
  for (const std::string& m : FilesIn(root + "/etc/kubernetes/manifests")) {
    out.push_back("/etc/kubernetes/manifests/" + m);
  }
  if (!FilesIn(root + "/etc/kubernetes/pki").empty()) out.emplace_back("/etc/kubernetes/pki");
  return out;
}

bool IptablesHasRules(std::string_view iptables_save) {
  static const char* const kBuiltin[] = {"INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"};
  for (const std::string& line : Lines(iptables_save)) {
    if (line.starts_with("-A ")) return true;
    if (line.starts_with(":")) {
      std::string chain = line.substr(1, line.find(' ') - 1);
      if (std::none_of(std::begin(kBuiltin), std::end(kBuiltin),
                       [&](const char* b) { return chain == b; })) {
        return true;
      }
    }
  }
  return false;
}

bool IpvsHasServices(std::string_view ipvsadm_list) {
  for (const std::string& line : Lines(ipvsadm_list)) {
    for (const char* proto : {"TCP ", "UDP ", "SCTP ", "FWM "}) {
      if (line.starts_with(proto)) return true;
    }
  }
  return false;
}

ansible::ArgSpec ResetSpec() {
  ansible::ArgSpec spec;
  spec.params = {
      Param("cri_socket").Default("unix:///var/run/crio/crio.sock"),
      Param("remove_cni_config", ParamType::kBool).Default(false),
      Param("flush_iptables", ParamType::kBool).Default(false),
      Param("clear_ipvs", ParamType::kBool).Default(false),
      Param("remove_kubeconfig", ParamType::kBool).Default(false),
      Param("kubeconfig_path", ParamType::kPath).Default("/root/.kube/config"),
  };
  return spec;
}

namespace {

// One thing to remove: what the result calls it, and how.
struct Step {
  std::string what;                            // An entry of `removed`.
  std::vector<std::vector<std::string>> argv;  // Commands to run, in order; or
  std::string file;                            // a file to delete.
};

constexpr std::chrono::seconds kCommandDeadline{300};

// Read-only probe of a network tool: its path when it is installed and
// `has` finds something in the output of `lister` (+ `lister_args`) to
// remove; nullopt when there is nothing, with a warning when it is missing.
StatusOr<std::optional<std::string>> ProbeTool(ansible::Module& module, const std::string& option,
                                               const std::string& tool, const std::string& lister,
                                               const std::vector<std::string>& lister_args,
                                               bool (*has)(std::string_view)) {
  std::optional<std::string> path = ansible::FindExecutable(tool);
  std::optional<std::string> list = ansible::FindExecutable(lister);
  if (!path || !list) {
    module.Warn(option + ": " + (path ? lister : tool) +
                " is not installed on this node, so it has no rules of it to clear; skipped");
    return std::optional<std::string>();
  }
  std::vector<std::string> argv = {*list};
  argv.insert(argv.end(), lister_args.begin(), lister_args.end());
  StatusOr<ansible::CommandResult> run = ansible::RunCommand(argv, std::chrono::seconds(60));
  if (!run.ok()) return run.status();
  if (!run->ok()) return UnavailableError(option + ": " + ansible::DescribeFailure(argv, *run));
  if (!has(run->out)) return std::optional<std::string>();
  return path;
}

// Everything present that the options ask to remove, in the order it goes.
StatusOr<std::vector<Step>> Plan(ansible::Module& module, const System& sys,
                                 const ResetTools& tools) {
  const json& p = module.params();
  std::vector<Step> steps;
  std::vector<std::string> leftovers = KubeadmLeftovers(sys.root);
  if (!leftovers.empty()) {
    std::string what = "kubeadm reset:";
    for (const std::string& f : leftovers) what += " " + f;
    steps.push_back(
        {what, {{tools.kubeadm, "reset", "--force", "--cri-socket", p["cri_socket"]}}, ""});
  }
  if (p["remove_cni_config"] == true) {
    for (const std::string& f : FilesIn(sys.root + "/etc/cni/net.d")) {
      steps.push_back({"/etc/cni/net.d/" + f, {}, sys.root + "/etc/cni/net.d/" + f});
    }
  }
  if (p["flush_iptables"] == true) {
    PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> iptables,
                            ProbeTool(module, "flush_iptables", tools.iptables,
                                      tools.iptables + "-save", {}, IptablesHasRules));
    if (iptables) {
      Step s{
          "iptables rules (tables filter, nat, mangle, raw: flushed, own chains deleted)", {}, ""};
      for (const char* table : {"filter", "nat", "mangle", "raw"}) {
        s.argv.push_back({*iptables, "-t", table, "-F"});
        s.argv.push_back({*iptables, "-t", table, "-X"});
      }
      steps.push_back(std::move(s));
    }
  }
  if (p["clear_ipvs"] == true) {
    PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> ipvsadm,
                            ProbeTool(module, "clear_ipvs", tools.ipvsadm, tools.ipvsadm,
                                      {"-L", "-n"}, IpvsHasServices));
    if (ipvsadm)
      steps.push_back({"IPVS virtual servers (ipvsadm --clear)", {{*ipvsadm, "--clear"}}, ""});
  }
  const std::string kubeconfig = p["kubeconfig_path"].get<std::string>();
  if (p["remove_kubeconfig"] == true && FileExists(kubeconfig)) {
    steps.push_back({kubeconfig, {}, kubeconfig});
  }
  return steps;
}

Status Apply(const Step& step) {
  for (std::vector<std::string> argv : step.argv) {
    if (argv[1] == "reset") {  // kubeadm: found, and asked its version, only when needed.
      StatusOr<Kubeadm> kubeadm = ProbeKubeadm(argv[0]);
      if (!kubeadm.ok()) return kubeadm.status();
      argv[0] = kubeadm->path;
    }
    StatusOr<ansible::CommandResult> run = ansible::RunCommand(argv, kCommandDeadline);
    if (!run.ok()) return run.status();
    if (run->timed_out) return DeadlineExceededError(TimeoutMessage("reset", kCommandDeadline));
    if (!run->ok()) {
      std::string line = ErrorLine(run->out + "\n" + run->err);
      return UnavailableError(line.empty() ? ansible::DescribeFailure(argv, *run)
                                           : argv[0] + " " + argv[1] + " failed: " + line);
    }
  }
  if (!step.file.empty()) {
    if (Status s = ansible::RemoveFile(step.file); !s.ok()) {
      return Status(s.code(), "cannot remove " + step.file + ": " + s.message());
    }
  }
  return Status::Ok();
}

}  // namespace

Result RunReset(ansible::Module& module, const System& sys, const ResetTools& tools) {
  const json& p = module.params();
  const std::string socket = p["cri_socket"].get<std::string>();
  if (!socket.starts_with("unix:///")) {
    return ansible::Failure(
        "cri_socket must be a unix:// URL of an absolute path (e.g. "
        "unix:///var/run/crio/crio.sock), got '" +
        socket + "'");
  }
  if (!p["kubeconfig_path"].get<std::string>().starts_with("/")) {
    return ansible::Failure("kubeconfig_path must be an absolute path, got '" +
                            p["kubeconfig_path"].get<std::string>() + "'");
  }
  StatusOr<std::vector<Step>> steps = Plan(module, sys, tools);
  if (!steps.ok()) return ansible::Failure(steps.status().message());
  Result r;
  r.extra["removed"] = json::array();
  std::string before;
  for (const Step& s : *steps) before += s.what + "\n";
  r.changed = !steps->empty();
  if (r.changed) r.diffs.push_back({before, "", "node", "node after reset"});
  if (!r.changed) {
    r.msg = "nothing to reset";
    return r;
  }
  if (module.check_mode()) {
    for (const Step& s : *steps) r.extra["removed"].push_back(s.what);
    r.msg = "would remove " + std::to_string(steps->size()) + " item(s)";
    return r;
  }
  for (const Step& s : *steps) {
    if (Status st = Apply(s); !st.ok()) {
      r.failed = true;
      r.msg = st.message();
      return r;
    }
    r.extra["removed"].push_back(s.what);
  }
  r.msg = "removed " + std::to_string(steps->size()) + " item(s)";
  return r;
}

}  // namespace pvek8s::kubeadm
