// Whether systemd-modules-load loads the managed modules at the next boot, and
// what stops it (the `modules_conflicts` option).
//
// The rules, from modules-load.d(5), modprobe.d(5) and systemd's module
// loading: module names, one a line, come from *.conf files in
// /etc/modules-load.d, /run/modules-load.d, /usr/local/lib/modules-load.d,
// /usr/lib/modules-load.d and /lib/modules-load.d, a name in an earlier
// directory masking the same name later (Debian's /etc/modules is read through
// its link modules-load.d/modules.conf). Each module is loaded through libkmod
// with the modprobe.d blacklist applied, so a `blacklist NAME` line anywhere in
// the modprobe.d directories (same order and masking) keeps it out, and so
// does `module_blacklist=` or `modprobe.blacklist=` on the kernel command
// line. An `install NAME /bin/true` (or false) line runs that command instead
// of loading: the usual way to disable a module. Built-in modules need none of
// this.
#include <array>
#include <set>

#include "modules/ansible/file_util.h"
#include "modules/kernel_tuning/internal.h"

namespace pvek8s::kernel_tuning {

using nlohmann::json;

namespace {

constexpr std::array<std::string_view, 5> kModulesLoadDirs = {
    "/etc/modules-load.d", "/run/modules-load.d", "/usr/local/lib/modules-load.d",
    "/usr/lib/modules-load.d", "/lib/modules-load.d"};
constexpr std::array<std::string_view, 5> kModprobeDirs = {
    "/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d",
    "/lib/modprobe.d"};

bool DisablingCommand(std::string_view command) {
  std::string c = Trim(command);
  for (std::string_view off :
       {"/bin/true", "/bin/false", "/usr/bin/true", "/usr/bin/false", "true", "false"}) {
    if (c == off) return true;
  }
  return false;
}

// Module key -> where each blocker is ("file:line: blacklist br_netfilter").
using Blockers = std::map<std::string, std::vector<std::string>>;

Status FindModprobeBlockers(const SystemPaths& sys, Blockers& out) {
  for (const auto& [name, path] : ConfDirFiles(sys, kModprobeDirs, PlannedFiles())) {
    PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> text,
                            ansible::ReadFileIfExists(sys.Path(path)));
    const std::string content = text.value_or("");  // Lines() views into it.
    size_t number = 0;
    for (std::string_view line : Lines(content)) {
      ++number;
      if (IsCommentOrBlank(line)) continue;
      std::vector<std::string> f = Fields(line);
      if (f.size() < 2) continue;
      std::string_view rest = line.substr(line.find(f[1]) + f[1].size());
      if (f[0] == "blacklist" || (f[0] == "install" && DisablingCommand(rest))) {
        out[ModuleKey(f[1])].push_back(path + ":" + std::to_string(number) + ": " + Trim(line));
      }
    }
  }
  return Status::Ok();
}

// The running kernel's command line: the next boot most likely repeats it.
Status FindCmdlineBlockers(const SystemPaths& sys, Blockers& out) {
  PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> cmdline,
                          ansible::ReadFileIfExists(sys.Path("/proc/cmdline")));
  for (const std::string& word : Fields(cmdline.value_or(""))) {
    for (std::string_view param : {"module_blacklist=", "modprobe.blacklist="}) {
      if (word.rfind(param, 0) != 0) continue;
      std::string list = word.substr(param.size());
      size_t start = 0;
      while (start <= list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        std::string name = list.substr(start, comma - start);
        if (!name.empty()) out[ModuleKey(name)].push_back("kernel command line: " + word);
        start = comma + 1;
      }
    }
  }
  return Status::Ok();
}

// Module key -> "file:line" of the modules-load.d line that loads it at boot.
StatusOr<std::map<std::string, std::string>> ListedAtBoot(const SystemPaths& sys,
                                                          const PlannedFiles& planned) {
  std::map<std::string, std::string> out;
  for (const auto& [name, path] : ConfDirFiles(sys, kModulesLoadDirs, planned)) {
    PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadPlanned(sys, planned, path));
    const std::string content = text.value_or("");  // Lines() views into it.
    size_t number = 0;
    for (std::string_view line : Lines(content)) {
      ++number;
      if (IsCommentOrBlank(line)) continue;
      out.emplace(ModuleKey(Trim(line)), path + ":" + std::to_string(number));
    }
  }
  return out;
}

}  // namespace

Status CheckBootModules(Work& w, const SystemPaths& sys, const std::vector<std::string>& modules,
                        const PlannedFiles& planned, const std::string& mode) {
  Blockers blockers;
  PVEK8S_RETURN_IF_ERROR(FindModprobeBlockers(sys, blockers));
  PVEK8S_RETURN_IF_ERROR(FindCmdlineBlockers(sys, blockers));
  PVEK8S_ASSIGN_OR_RETURN(auto listed, ListedAtBoot(sys, planned));
  json boot = json::object();
  std::vector<std::string> conflicts;
  for (const std::string& m : modules) {
    const std::string key = ModuleKey(m);
    if (ModuleBuiltIn(sys, m)) {
      boot[m] = "built in";
      continue;
    }
    auto b = blockers.find(key);
    if (b != blockers.end()) {
      boot[m] = "not loaded: " + JoinList(b->second, "; ");
      conflicts.push_back(m + ": " + JoinList(b->second, "; ") +
                          " keeps systemd-modules-load from loading it");
    } else if (auto l = listed.find(key); l == listed.end()) {
      boot[m] = "not loaded: no file that systemd-modules-load reads lists it";
      conflicts.push_back(m + ": no file that systemd-modules-load reads at boot lists it");
    } else {
      boot[m] = "loaded (" + l->second + ")";
    }
  }
  w.extra["modules_boot"] = boot;
  w.extra["modules_boot_conflicts"] = conflicts;
  if (conflicts.empty()) return Status::Ok();
  if (mode == "report") {
    w.extra.emplace("warnings_internal", json::array());
    for (const std::string& c : conflicts) {
      w.extra["warnings_internal"].push_back("kernel module at next boot: " + c);
    }
    return Status::Ok();
  }
  return FailedPreconditionError(
      "kernel modules would not be loaded after a reboot: " + JoinList(conflicts, "; ") +
      ". Remove those lines (a blacklist cannot be overridden from another file), or set "
      "modules_conflicts=report to go on");
}

}  // namespace pvek8s::kernel_tuning
