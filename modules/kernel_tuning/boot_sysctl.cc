// What systemd-sysctl applies at the next boot, and what the module does when
// another file would undo its keys there (the `sysctl_conflicts` option).
//
// The rules, from sysctl.d(5): *.conf files are read from /etc/sysctl.d,
// /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d and /lib/sysctl.d;
// a file name found in an earlier directory masks the same name in later ones;
// the remaining files are applied in lexicographic order of their names,
// whatever their directory, so the last assignment of a key wins. Debian links
// /etc/sysctl.d/99-sysctl.conf to /etc/sysctl.conf; without that link
// /etc/sysctl.conf is counted once, as if it were named 99-sysctl.conf (procps'
// `sysctl --system` reads it last). Glob keys are not evaluated: systemd
// excludes keys set explicitly anywhere from glob matching, and the module's
// keys are always explicit in its own file.
#include <array>
#include <map>

#include "modules/ansible/file_util.h"
#include "modules/kernel_tuning/internal.h"

namespace pvek8s::kernel_tuning {

using nlohmann::json;

namespace {

constexpr std::array<std::string_view, 5> kSysctlDirs = {"/etc/sysctl.d", "/run/sysctl.d",
                                                         "/usr/local/lib/sysctl.d",
                                                         "/usr/lib/sysctl.d", "/lib/sysctl.d"};

// The files systemd-sysctl reads: the sysctl.d directories, and
// /etc/sysctl.conf under the name 99-sysctl.conf unless a file of that name
// exists (Debian links it).
std::map<std::string, std::string> BootFiles(const SystemPaths& sys, const PlannedFiles& planned) {
  std::map<std::string, std::string> files = ConfDirFiles(sys, kSysctlDirs, planned);
  auto sysctl_conf = planned.find("/etc/sysctl.conf");
  bool conf_exists = sysctl_conf != planned.end() ? sysctl_conf->second.has_value()
                                                  : PathExists(sys.Path("/etc/sysctl.conf"));
  if (conf_exists) files.emplace("99-sysctl.conf", "/etc/sysctl.conf");
  return files;
}

bool IsGlob(std::string_view key) { return key.find_first_of("*?[") != std::string_view::npos; }

}  // namespace

std::string SysctlFileKeyPath(std::string_view key) {
  std::string out(key);
  size_t first = out.find_first_of("./");
  if (first == std::string::npos || out[first] == '/') return out;
  for (char& c : out) {
    if (c == '.') {
      c = '/';
    } else if (c == '/') {
      c = '.';
    }
  }
  return out;
}

bool SatisfiedBy(const SysctlSetting& s, std::string_view value) {
  if (!s.minimum) return NormalizeValue(value) == s.value;
  std::optional<long long> have = ParseInt(value);
  return have && *have >= *ParseInt(s.value);
}

StatusOr<std::map<std::string, BootAssignment>> BootSysctlValues(const SystemPaths& sys,
                                                                 const PlannedFiles& planned) {
  std::map<std::string, BootAssignment> out;
  for (const auto& [name, path] : BootFiles(sys, planned)) {
    PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> content, ReadPlanned(sys, planned, path));
    if (!content) continue;
    size_t number = 0;
    for (std::string_view line : Lines(*content)) {
      ++number;
      if (IsCommentOrBlank(line)) continue;
      std::string t = Trim(line);
      if (t[0] == '-') t = Trim(t.substr(1));  // "-key = v": errors ignored, still applied.
      size_t eq = t.find('=');
      if (eq == std::string::npos) continue;  // "-key" alone only excludes a key from globs.
      std::string key = Trim(t.substr(0, eq));
      if (key.empty() || IsGlob(key)) continue;
      out[SysctlFileKeyPath(key)] = {path, number, NormalizeValue(t.substr(eq + 1))};
    }
  }
  return out;
}

std::vector<BootConflict> FindBootConflicts(const std::vector<SysctlSetting>& settings,
                                            const std::map<std::string, BootAssignment>& boot) {
  std::vector<BootConflict> out;
  for (const SysctlSetting& s : settings) {
    auto it = boot.find(KeyPath(s.key));
    if (it == boot.end()) {
      out.push_back({&s, std::nullopt});
    } else if (!SatisfiedBy(s, it->second.value)) {
      out.push_back({&s, it->second});
    }
  }
  return out;
}

std::string DescribeConflict(const BootConflict& c) {
  std::string want = (c.setting->minimum ? ">= " : "= ") + c.setting->value;
  if (!c.winner) {
    return c.setting->key + " " + want + ": no file that systemd-sysctl reads at boot sets it";
  }
  return c.setting->key + " " + want + ": " + c.winner->file + ":" +
         std::to_string(c.winner->line) + " sets " + c.winner->value + " and wins at boot";
}

namespace {

std::vector<std::pair<std::string, std::string>> WantedEntries(
    const std::vector<SysctlSetting>& settings) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(settings.size());
  for (const SysctlSetting& s : settings) out.emplace_back(s.key, s.value);
  return out;
}

}  // namespace

StatusOr<std::vector<std::string>> CheckBootConflicts(Work& w, const SystemPaths& sys,
                                                      const std::vector<SysctlSetting>& settings,
                                                      const BootPlan& plan) {
  PlannedFiles planned;
  planned[plan.sysctl_file] = MergeSysctlFile(plan.sysctl_before, WantedEntries(settings), false);
  PVEK8S_ASSIGN_OR_RETURN(auto boot, BootSysctlValues(sys, planned));
  std::vector<BootConflict> conflicts = FindBootConflicts(settings, boot);
  json described = json::array();
  std::vector<std::string> keys;
  std::vector<SysctlSetting> conflicting;
  for (const BootConflict& c : conflicts) {
    described.push_back(DescribeConflict(c));
    keys.push_back(c.setting->key);
    conflicting.push_back(*c.setting);
  }
  w.extra["sysctl_boot_conflicts"] = described;
  if (conflicts.empty()) return keys;
  std::vector<std::string> lines = described.get<std::vector<std::string>>();
  if (plan.mode == "report") {
    w.extra.emplace("warnings_internal", json::array());
    for (const std::string& l : lines) {
      w.extra["warnings_internal"].push_back("sysctl at next boot: " + l);
    }
    return keys;
  }
  if (plan.mode == "fail") {
    return FailedPreconditionError(
        "sysctl keys would not keep their values after a reboot: " + JoinList(lines, "; ") +
        ". Fix those files, or set sysctl_conflicts=override to persist the keys in " +
        plan.override_file + " (sysctl_override_file), or sysctl_conflicts=report to go on");
  }
  // override: the keys go to the override file too; it must then win.
  planned[plan.override_file] =
      MergeSysctlFile(plan.override_before, WantedEntries(conflicting), false);
  PVEK8S_ASSIGN_OR_RETURN(boot, BootSysctlValues(sys, planned));
  std::vector<BootConflict> left = FindBootConflicts(settings, boot);
  if (!left.empty()) {
    std::vector<std::string> still;
    still.reserve(left.size());
    for (const BootConflict& c : left) still.push_back(DescribeConflict(c));
    return FailedPreconditionError(
        "sysctl keys would not keep their values after a reboot even with " + plan.override_file +
        " (sysctl_override_file): " + JoinList(still, "; ") +
        ". Choose an override file in /etc/sysctl.d whose name sorts after those files");
  }
  return keys;
}

std::optional<std::string> OverrideFileContent(
    const BootPlan& plan, const std::vector<std::string>& conflict_keys,
    const std::vector<std::pair<std::string, std::string>>& entries) {
  // Keys already in the override file follow the module's values too.
  std::map<std::string, bool> take;
  for (const std::string& k : conflict_keys) take[KeyPath(k)] = true;
  for (const auto& [path, value] : ParseSysctlFile(plan.override_before.value_or(""))) {
    take[path] = true;
  }
  std::vector<std::pair<std::string, std::string>> mine;
  for (const auto& e : entries) {
    if (take.count(KeyPath(e.first)) != 0) mine.push_back(e);
  }
  if (mine.empty()) return plan.override_before;
  return MergeSysctlFile(plan.override_before, mine, false);
}

Status ReportBootValues(Work& w, const SystemPaths& sys,
                        const std::vector<std::pair<std::string, std::string>>& entries,
                        const PlannedFiles& before, const PlannedFiles& after) {
  PVEK8S_ASSIGN_OR_RETURN(auto boot_before, BootSysctlValues(sys, before));
  PVEK8S_ASSIGN_OR_RETURN(auto boot_after, BootSysctlValues(sys, after));
  std::string before_text, after_text;
  json values = json::object();
  for (const auto& [key, unused] : entries) {
    auto b = boot_before.find(KeyPath(key));
    auto a = boot_after.find(KeyPath(key));
    before_text += key + " = " + (b == boot_before.end() ? "(not set)" : b->second.value) + "\n";
    after_text += key + " = " + (a == boot_after.end() ? "(not set)" : a->second.value) + "\n";
    values[key] = a == boot_after.end() ? json() : json(a->second.value);
  }
  w.extra["sysctl_boot_values"] = values;
  AddDiff(w, before_text, after_text, "kernel parameters at next boot (sysctl.d)");
  return Status::Ok();
}

}  // namespace pvek8s::kernel_tuning
