#include "modules/kernel_tuning/kernel_tuning.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "modules/ansible/file_util.h"
#include "modules/kernel_tuning/internal.h"

namespace pvek8s::kernel_tuning {
namespace {

using ansible::Param;
using ansible::ParamType;
using ansible::Result;
using nlohmann::json;

// Content for a diff: "" for a file that does not exist.
std::string Text(const std::optional<std::string>& content) { return content ? *content : ""; }

}  // namespace

SystemPaths SystemPaths::FromEnvironment() {
  SystemPaths sys;
  struct utsname u {};
  if (::uname(&u) == 0) sys.kernel_release = u.release;
  const char* root = std::getenv(kTestRootEnv);
  if (root != nullptr && *root != '\0') {
    sys.root = root;
    sys.modprobe = sys.root + "/sbin/modprobe";
    sys.swapoff = sys.root + "/sbin/swapoff";
    sys.systemctl = sys.root + "/sbin/systemctl";
  }
  return sys;
}

StatusOr<Plan> BuildPlan(std::string_view profile, const json& sysctl, const json& modules) {
  Plan plan;
  if (profile == "kubernetes" || profile == "kubeflow") {
    plan.modules = {"overlay", "br_netfilter"};
    plan.sysctls.push_back({"net.ipv4.ip_forward", "1", false, false});
    // kube-proxy in iptables mode and bridge-based CNIs need these, but they
    // exist only with br_netfilter; kubeadm no longer requires them.
    plan.sysctls.push_back({"net.bridge.bridge-nf-call-iptables", "1", false, true});
    plan.sysctls.push_back({"net.bridge.bridge-nf-call-ip6tables", "1", false, true});
  }
  if (profile == "kubeflow") {
    plan.sysctls.push_back({"fs.inotify.max_user_instances", "1280", true, false});
    plan.sysctls.push_back({"fs.inotify.max_user_watches", "655360", true, false});
  }
  if (modules.is_array()) {
    for (const json& m : modules) {
      std::string name = m.is_string() ? Trim(m.get<std::string>()) : "";
      if (!ValidModuleName(name)) {
        return InvalidArgumentError("modules: '" +
                                    (m.is_string() ? m.get<std::string>() : m.dump()) +
                                    "' is not a kernel module name");
      }
      bool dup = std::any_of(plan.modules.begin(), plan.modules.end(),
                             [&](const std::string& x) { return ModuleKey(x) == ModuleKey(name); });
      if (!dup) plan.modules.push_back(name);
    }
  }
  if (sysctl.is_object()) {
    for (const auto& item : sysctl.items()) {
      std::string key = Trim(item.key());
      if (!ValidKey(key)) {
        return InvalidArgumentError("sysctl: '" + item.key() + "' is not a sysctl key");
      }
      PVEK8S_ASSIGN_OR_RETURN(SysctlSetting s, ParseSysctlValue(key, item.value()));
      auto same =
          std::find_if(plan.sysctls.begin(), plan.sysctls.end(),
                       [&](const SysctlSetting& x) { return KeyPath(x.key) == KeyPath(key); });
      if (same != plan.sysctls.end()) {
        *same = s;
      } else {
        plan.sysctls.push_back(s);
      }
    }
  }
  return plan;
}

ansible::ArgSpec Spec() {
  ansible::ArgSpec spec;
  spec.params = {
      Param("profile").Default("kubernetes").Choices({"kubernetes", "kubeflow", "none"}),
      Param("sysctl", ParamType::kDict).Default(json::object()),
      Param("modules", ParamType::kList).Default(json::array()).Elements(ParamType::kStr),
      // No choices here: YAML 1.1 reads an unquoted `swap: off` as false, which Run() accepts.
      Param("swap", ParamType::kRaw),
      Param("sysctl_file", ParamType::kPath).Default("/etc/sysctl.d/90-k8s.conf"),
      Param("modules_file", ParamType::kPath).Default("/etc/modules-load.d/k8s.conf"),
      Param("state").Default("present").Choices({"present", "absent"}),
      Param("sysctl_conflicts").Default("fail").Choices({"fail", "override", "report"}),
      Param("sysctl_override_file", ParamType::kPath).Default("/etc/sysctl.d/99-zz-gcid-k8s.conf"),
      Param("modules_conflicts").Default("fail").Choices({"fail", "report"}),
      Param("swap_conflicts").Default("override").Choices({"override", "fail", "report"}),
  };
  return spec;
}

void AddDiff(Work& w, std::string before, std::string after, const std::string& header) {
  if (before == after) return;
  w.diffs.push_back({std::move(before), std::move(after), header, header});
}

// Writes or removes one managed file, recording the change.
Status ApplyFile(Work& w, const SystemPaths& sys, const std::string& path,
                 const std::optional<std::string>& before, const std::optional<std::string>& after,
                 json& files_changed) {
  if (before == after) return Status::Ok();
  w.changed = true;
  files_changed.push_back(path);
  AddDiff(w, Text(before), Text(after), path);
  if (w.check) return Status::Ok();
  if (after) return ansible::AtomicWriteFile(sys.Path(path), *after, 0644);
  return ansible::RemoveFile(sys.Path(path));
}

namespace {

StatusOr<std::string> RequireAbsolute(const json& v, const char* name) {
  std::string p = v.is_string() ? v.get<std::string>() : "";
  if (p.empty() || p[0] != '/' || p.back() == '/') {
    return InvalidArgumentError(std::string(name) + " must be an absolute file path, got '" + p +
                                "'");
  }
  return p;
}

Result Finish(Work& w, ansible::Module& module, const Status& status) {
  if (w.extra.contains("warnings_internal")) {
    for (const json& m : w.extra["warnings_internal"]) module.Warn(m.get<std::string>());
    w.extra.erase("warnings_internal");
  }
  Result r;
  r.changed = w.changed;
  r.diffs = std::move(w.diffs);
  r.extra = std::move(w.extra);
  if (!status.ok()) {
    r.failed = true;
    r.msg = status.message();
    if (!w.summary.empty()) r.msg += " (before failing: " + JoinList(w.summary) + ")";
    return r;
  }
  if (w.summary.empty()) {
    r.msg = "kernel already tuned";
  } else {
    std::string s = JoinList(w.summary);
    r.msg = std::string(1, static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])))) +
            s.substr(1);
  }
  return r;
}

// The `swap` option: "off" or "unchanged"; by default "off" when a profile is
// applied. YAML 1.1 reads an unquoted `off` as false, which counts as "off".
StatusOr<std::string> SwapMode(const json& v, const std::string& profile, bool present) {
  if (v.is_null()) return std::string(profile == "none" || !present ? "unchanged" : "off");
  std::optional<bool> b = ansible::ParseBoolean(v);
  if (b == false || v == "off") return std::string("off");
  if (v == "unchanged") return std::string("unchanged");
  return InvalidArgumentError("value of swap must be one of: off, unchanged, got: " +
                              (v.is_string() ? v.get<std::string>() : v.dump()));
}

// The validated options and what they ask for.
struct Request {
  std::string sysctl_file;
  std::string modules_file;
  std::string conflicts;  // "fail", "override" or "report".
  std::string override_file;
  std::string modules_conflicts;  // "fail" or "report".
  std::string swap_conflicts;     // "override", "fail" or "report".
  Plan plan;
  bool present = true;
  std::string swap;  // "off" or "unchanged".
};

StatusOr<Request> ParseRequest(const json& p) {
  Request req;
  PVEK8S_ASSIGN_OR_RETURN(req.sysctl_file, RequireAbsolute(p["sysctl_file"], "sysctl_file"));
  PVEK8S_ASSIGN_OR_RETURN(req.modules_file, RequireAbsolute(p["modules_file"], "modules_file"));
  PVEK8S_ASSIGN_OR_RETURN(req.override_file,
                          RequireAbsolute(p["sysctl_override_file"], "sysctl_override_file"));
  if (req.override_file == req.sysctl_file) {
    return InvalidArgumentError("sysctl_override_file must differ from sysctl_file (" +
                                req.sysctl_file + ")");
  }
  req.conflicts = p["sysctl_conflicts"].get<std::string>();
  req.modules_conflicts = p["modules_conflicts"].get<std::string>();
  req.swap_conflicts = p["swap_conflicts"].get<std::string>();
  const std::string profile = p["profile"].get<std::string>();
  PVEK8S_ASSIGN_OR_RETURN(req.plan, BuildPlan(profile, p["sysctl"], p["modules"]));
  req.present = p["state"] == "present";
  PVEK8S_ASSIGN_OR_RETURN(req.swap, SwapMode(p["swap"], profile, req.present));
  return req;
}

// The managed files as they are before the run; nullopt for a missing file.
struct ManagedFiles {
  std::optional<std::string> sysctl;
  std::optional<std::string> modules;
  std::optional<std::string> override;  // sysctl_override_file
};

// `state: absent` undoes persistence only: live values and loaded modules stay
// until reboot, because their previous values are unknown.
Status RemovePersistence(Work& w, const SystemPaths& sys, const Request& req,
                         const ManagedFiles& before, json& files_changed) {
  std::vector<std::pair<std::string, std::string>> keys;
  for (const SysctlSetting& s : req.plan.sysctls) keys.emplace_back(s.key, s.value);
  PVEK8S_RETURN_IF_ERROR(ApplyFile(w, sys, req.sysctl_file, before.sysctl,
                                   MergeSysctlFile(before.sysctl, keys, true), files_changed));
  if (before.override) {
    PVEK8S_RETURN_IF_ERROR(ApplyFile(w, sys, req.override_file, before.override,
                                     MergeSysctlFile(before.override, keys, true), files_changed));
  }
  PVEK8S_RETURN_IF_ERROR(ApplyFile(w, sys, req.modules_file, before.modules,
                                   MergeModulesFile(before.modules, req.plan.modules, true),
                                   files_changed));
  if (req.swap == "off") {
    StatusOr<std::optional<std::string>> fstab = ansible::ReadFileIfExists(sys.Path("/etc/fstab"));
    if (!fstab.ok()) return fstab.status();
    if (*fstab) {
      std::vector<std::string> restored;
      std::string edited = EditFstab(**fstab, true, &restored);
      PVEK8S_RETURN_IF_ERROR(ApplyFile(w, sys, "/etc/fstab", *fstab, edited, files_changed));
      w.extra["fstab_restored"] = restored;
    }
  }
  if (!files_changed.empty()) {
    w.summary.push_back((w.check ? "would remove settings from " : "removed settings from ") +
                        JoinList(files_changed.get<std::vector<std::string>>()));
  }
  return Status::Ok();
}

// `state: present`: modules first (they bring keys along), then the keys, then
// the files that persist both, then swap.
Status ApplyTuning(Work& w, const SystemPaths& sys, const Request& req, const ManagedFiles& before,
                   json& files_changed) {
  const BootPlan boot{req.conflicts, req.sysctl_file, req.override_file, before.sysctl,
                      before.override};
  // Before anything changes: a key that a reboot would undo fails the task here.
  PVEK8S_ASSIGN_OR_RETURN(std::vector<std::string> conflicts,
                          CheckBootConflicts(w, sys, req.plan.sysctls, boot));
  const std::optional<std::string> modules_after =
      req.plan.modules.empty() ? before.modules
                               : MergeModulesFile(before.modules, req.plan.modules, false);
  PVEK8S_RETURN_IF_ERROR(CheckBootModules(
      w, sys, req.plan.modules, {{req.modules_file, modules_after}}, req.modules_conflicts));
  if (req.swap == "off") PVEK8S_RETURN_IF_ERROR(CheckBootSwap(w, sys, req.swap_conflicts));
  bool pending_loads = false;
  PVEK8S_RETURN_IF_ERROR(LoadModules(w, sys, req.plan.modules, pending_loads));
  StatusOr<std::vector<std::pair<std::string, std::string>>> entries =
      ApplySysctls(w, sys, req.plan.sysctls, before.sysctl, pending_loads);
  if (!entries.ok()) return entries.status();
  size_t before_files = files_changed.size();
  if (!req.plan.sysctls.empty() || before.sysctl) {
    PlannedFiles after;
    after[req.sysctl_file] = MergeSysctlFile(before.sysctl, *entries, false);
    if (req.conflicts == "override") {
      after[req.override_file] = OverrideFileContent(boot, conflicts, *entries);
    }
    for (const auto& [path, content] : after) {
      const std::optional<std::string>& old =
          path == req.sysctl_file ? before.sysctl : before.override;
      PVEK8S_RETURN_IF_ERROR(ApplyFile(w, sys, path, old, content, files_changed));
    }
    const PlannedFiles old{{req.sysctl_file, before.sysctl}, {req.override_file, before.override}};
    PVEK8S_RETURN_IF_ERROR(ReportBootValues(w, sys, *entries, old, after));
  }
  if (!req.plan.modules.empty()) {
    PVEK8S_RETURN_IF_ERROR(
        ApplyFile(w, sys, req.modules_file, before.modules, modules_after, files_changed));
  }
  if (files_changed.size() > before_files) {
    w.summary.push_back(
        (w.check ? "would write " : "wrote ") +
        JoinList(std::vector<std::string>(
            files_changed.begin() + static_cast<json::difference_type>(before_files),
            files_changed.end())));
  }
  if (req.swap == "off") PVEK8S_RETURN_IF_ERROR(TurnSwapOff(w, sys, req.swap_conflicts));
  return Status::Ok();
}

Status Apply(Work& w, const SystemPaths& sys, const Request& req, json& files_changed) {
  ManagedFiles before;
  PVEK8S_ASSIGN_OR_RETURN(before.sysctl, ansible::ReadFileIfExists(sys.Path(req.sysctl_file)));
  PVEK8S_ASSIGN_OR_RETURN(before.modules, ansible::ReadFileIfExists(sys.Path(req.modules_file)));
  PVEK8S_ASSIGN_OR_RETURN(before.override, ansible::ReadFileIfExists(sys.Path(req.override_file)));
  if (!req.present) return RemovePersistence(w, sys, req, before, files_changed);
  return ApplyTuning(w, sys, req, before, files_changed);
}

}  // namespace

Result Run(ansible::Module& module, const SystemPaths& sys) {
  StatusOr<Request> req = ParseRequest(module.params());
  if (!req.ok()) return ansible::Failure(req.status().message());
  Work w;
  w.check = module.check_mode();
  w.extra["sysctl_file"] = req->sysctl_file;
  w.extra["modules_file"] = req->modules_file;
  json files_changed = json::array();
  Status status = Apply(w, sys, *req, files_changed);
  w.extra["files_changed"] = files_changed;
  w.extra["swap"] = req->swap;
  return Finish(w, module, status);
}

}  // namespace pvek8s::kernel_tuning
