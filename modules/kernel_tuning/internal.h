// What the source files of gcid.k8s.kernel_tuning share; not part of the
// module's interface (kernel_tuning.h). kernel_tuning.cc holds the entry point
// and the plan; sysctl.cc, modules_load.cc and swap.cc each own one concern and
// its step of Run(); text.cc holds the line parsing they all use.
#ifndef MODULES_KERNEL_TUNING_INTERNAL_H_
#define MODULES_KERNEL_TUNING_INTERNAL_H_

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modules/ansible/module.h"
#include "modules/kernel_tuning/kernel_tuning.h"
#include "provider/base/status.h"

namespace pvek8s::kernel_tuning {

// First lines of a sysctl.d or modules-load.d file the module creates.
inline constexpr std::string_view kHeader =
    "# Managed by gcid.k8s.kernel_tuning. Keys listed here are set by that module;\n"
    "# other lines are kept as they are.\n";

// `s` without leading and trailing whitespace.
std::string Trim(std::string_view s);

// The lines of `text` without their '\n' (a last line without one counts);
// views into `text`.
std::vector<std::string_view> Lines(std::string_view text);

// The whitespace-separated fields of `line`.
std::vector<std::string> Fields(std::string_view line);

// True for a blank line and for '#' and ';' comments, as systemd reads config files.
bool IsCommentOrBlank(std::string_view line);

// A decimal integer with optional '-' and surrounding whitespace; nullopt for
// anything else and on overflow.
std::optional<long long> ParseInt(std::string_view text);

// The kernel treats '-' and '_' in module names alike; /sys/module uses '_'.
// Returns the '_' form, which compares equal for both spellings.
std::string ModuleKey(std::string_view name);

bool PathExists(const std::string& path);

// `items` joined by `sep`.
std::string JoinList(const std::vector<std::string>& items, std::string_view sep = ", ");

// "1 <one>" or "<n> <many>".
std::string Plural(size_t n, std::string_view one, std::string_view many);

// True when `key` is a sysctl key (dotted or slash form) that maps to a path
// under /proc/sys without escaping it.
bool ValidKey(std::string_view key);

// True when `name` can be a kernel module name (and cannot pass as an option
// to modprobe).
bool ValidModuleName(std::string_view name);

// Everything Run() observed and decided, gathered first so that check mode and
// real mode report the same thing. Each step of Run() adds to it; in check
// mode (`check`) a step changes nothing on the system.
struct Work {
  bool check = false;
  bool changed = false;
  std::vector<std::string> summary;  // Phrases of the result message, in order.
  std::vector<ansible::DiffEntry> diffs;
  // Result fields; "warnings_internal" (a list of strings) becomes warnings.
  nlohmann::json extra = nlohmann::json::object();
};

// Records a diff under `header` unless `before` and `after` are equal.
void AddDiff(Work& w, std::string before, std::string after, const std::string& header);

// Writes (`after` set) or removes (`after` nullopt) the managed file `path`
// (under sys.root) unless it already reads `after`, recording the change, its
// diff and `path` in `files_changed`. In check mode only records.
Status ApplyFile(Work& w, const SystemPaths& sys, const std::string& path,
                 const std::optional<std::string>& before, const std::optional<std::string>& after,
                 nlohmann::json& files_changed);

// Loads the `modules` that are neither loaded nor built in (modules_load.cc).
// `pending_loads` is set when, in check mode, some would be loaded, so that
// keys they bring along are not reported missing. Fails on the first module
// that modprobe cannot load.
Status LoadModules(Work& w, const SystemPaths& sys, const std::vector<std::string>& modules,
                   bool& pending_loads);

// Decides and applies the live values of `settings` (sysctl.cc); returns the
// (key, value) each should have in the sysctl file, whose current content is
// `file_before`. Fails, before changing anything, when keys do not exist.
StatusOr<std::vector<std::pair<std::string, std::string>>> ApplySysctls(
    Work& w, const SystemPaths& sys, const std::vector<SysctlSetting>& settings,
    const std::optional<std::string>& file_before, bool pending_loads);

// Content of files as this run leaves them, by absolute path; nullopt for a
// file it removes. Files not listed are read as they are.
using PlannedFiles = std::map<std::string, std::optional<std::string>>;

// Turns active swap off, comments out fstab swap entries and masks the swap
// units and services that would turn swap on at boot (swap.cc), unless
// `conflicts` (swap_conflicts) is "report": then it warns about each. Records
// `swap_boot`. Failing to reload systemd is a warning, not an error.
Status TurnSwapOff(Work& w, const SystemPaths& sys, const std::string& conflicts);

// Something that turns swap on at boot besides fstab (boot_swap.cc): a swap
// unit, a zram-generator device or a swap service, not masked.
struct SwapSource {
  std::string unit;    // Unit name ("dev-zram0.swap", "zramswap.service").
  std::string origin;  // The file that makes it happen.
  bool maskable;       // False for a unit file the admin wrote in /etc/systemd/system.
};
std::vector<SwapSource> BootSwapSources(const SystemPaths& sys);

// "unit (origin)".
std::string DescribeSwapSource(const SwapSource& s);

// Before anything changes: "fail" refuses any boot swap source, "override"
// only those it cannot mask, each named with its file; "report" passes.
Status CheckBootSwap(Work& w, const SystemPaths& sys, const std::string& mode);

// True when `name` is built into the running kernel (modules_load.cc).
bool ModuleBuiltIn(const SystemPaths& sys, std::string_view name);

// Before anything changes: whether systemd-modules-load loads each of
// `modules` at the next boot once the `planned` files are written
// (boot_modules.cc); records `modules_boot` and `modules_boot_conflicts`.
// `mode` (modules_conflicts) "fail" returns an error naming each blocking file
// and line, "report" adds warnings.
Status CheckBootModules(Work& w, const SystemPaths& sys, const std::vector<std::string>& modules,
                        const PlannedFiles& planned, const std::string& mode);

// The *.conf files that a systemd-style reader (systemd-sysctl,
// systemd-modules-load, libkmod's modprobe.d) takes from `dirs`, listed from
// highest to lowest priority: a name in an earlier directory masks the same
// name in later ones. Keyed (and so ordered) by file name, each with the path
// that wins; `planned` adds the files this run creates and drops the ones it
// removes.
std::map<std::string, std::string> ConfDirFiles(const SystemPaths& sys,
                                                std::span<const std::string_view> dirs,
                                                const PlannedFiles& planned);

// The content of `path` as this run leaves it: the planned one, else the file's
// (nullopt when it does not exist).
StatusOr<std::optional<std::string>> ReadPlanned(const SystemPaths& sys,
                                                 const PlannedFiles& planned,
                                                 const std::string& path);

// One assignment that systemd-sysctl applies at boot: file, 1-based line, value.
struct BootAssignment {
  std::string file;
  size_t line = 0;
  std::string value;
};

// The /proc/sys path of a key in a sysctl.d file, as systemd-sysctl reads it:
// when the first separator is a dot, dots and slashes swap roles.
std::string SysctlFileKeyPath(std::string_view key);

// True when `value` meets `s` (equal, or an integer at least the minimum).
bool SatisfiedBy(const SysctlSetting& s, std::string_view value);

// For every key set by a file systemd-sysctl reads at the next boot (see
// boot_sysctl.cc for its rules), the assignment that wins, keyed by /proc/sys
// path; `planned` stands in for files this run writes or removes.
StatusOr<std::map<std::string, BootAssignment>> BootSysctlValues(const SystemPaths& sys,
                                                                 const PlannedFiles& planned);

// A managed key whose value at boot would not meet the setting: `winner` is
// the assignment that wins instead, nullopt when no file sets the key.
struct BootConflict {
  const SysctlSetting* setting;
  std::optional<BootAssignment> winner;
};
std::vector<BootConflict> FindBootConflicts(const std::vector<SysctlSetting>& settings,
                                            const std::map<std::string, BootAssignment>& boot);

// "key = value: file:line sets other and wins at boot".
std::string DescribeConflict(const BootConflict& c);

// What the boot check needs from the request and the managed files.
struct BootPlan {
  std::string mode;  // sysctl_conflicts: "fail", "override" or "report".
  std::string sysctl_file;
  std::string override_file;
  std::optional<std::string> sysctl_before;
  std::optional<std::string> override_before;
};

// Before anything changes: the keys whose boot value would not meet the
// setting once sysctl_file holds them, recorded in `sysctl_boot_conflicts`.
// "fail" returns an error naming each file and line; "report" adds warnings;
// "override" fails only when the override file would not win either.
StatusOr<std::vector<std::string>> CheckBootConflicts(Work& w, const SystemPaths& sys,
                                                      const std::vector<SysctlSetting>& settings,
                                                      const BootPlan& plan);

// The override file after this run: `entries` (key, file value) of the
// conflicting keys and of keys it already holds; other lines kept.
std::optional<std::string> OverrideFileContent(
    const BootPlan& plan, const std::vector<std::string>& conflict_keys,
    const std::vector<std::pair<std::string, std::string>>& entries);

// Records `sysctl_boot_values` (key -> value at next boot, null when unset)
// and a diff of them between the managed files `before` and `after` this run
// (called after the files are written, so both are given).
Status ReportBootValues(Work& w, const SystemPaths& sys,
                        const std::vector<std::pair<std::string, std::string>>& entries,
                        const PlannedFiles& before, const PlannedFiles& after);

}  // namespace pvek8s::kernel_tuning

#endif  // MODULES_KERNEL_TUNING_INTERNAL_H_
