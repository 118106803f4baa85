// gcid.k8s.kernel_tuning: prepares a node's kernel for Kubernetes in one task.
//
// One call loads kernel modules (and persists them in one modules-load.d file),
// sets sysctl keys live and persists them in one sysctl.d file, and turns swap
// off for good. Only the module's own keys are applied live: a whole-file
// reload (`sysctl -p`, `sysctl --system`) can reset unrelated values. Modules are
// loaded before the keys that need them (net.bridge.* exists only once
// br_netfilter is there). Values can be exact or a minimum that is only ever
// raised (Kubeflow's inotify limits).
#ifndef MODULES_KERNEL_TUNING_KERNEL_TUNING_H_
#define MODULES_KERNEL_TUNING_KERNEL_TUNING_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modules/ansible/args.h"
#include "modules/ansible/module.h"
#include "provider/base/status.h"

namespace pvek8s::kernel_tuning {

// Where the module looks at and changes the system. In production every path
// is the real one; unit and integration tests point `root` at a directory tree.
struct SystemPaths {
  // Prefix of every absolute path the module reads or writes ("" = /).
  std::string root;
  // `uname -r`, to find /lib/modules/<release>/modules.builtin.
  std::string kernel_release;
  // Programs; a bare name is searched in $PATH and the sbin directories.
  std::string modprobe = "modprobe";
  std::string swapoff = "swapoff";
  std::string systemctl = "systemctl";

  // The real system, unless PVEK8S_KERNEL_TUNING_TEST_ROOT names a directory:
  // then every path is under it and the programs are <root>/sbin/<name>. The
  // variable exists for tests only; Ansible never sets it.
  static SystemPaths FromEnvironment();

  std::string Path(std::string_view absolute) const { return root + std::string(absolute); }
};

// The name of the test-only environment variable read by FromEnvironment().
inline constexpr const char* kTestRootEnv = "PVEK8S_KERNEL_TUNING_TEST_ROOT";

// One sysctl key the module manages.
struct SysctlSetting {
  std::string key;         // As the user or the profile wrote it (dotted or slash form).
  std::string value;       // Normalised text: single spaces between fields.
  bool minimum = false;    // `value` is an integer lower bound: only ever raised.
  bool if_exists = false;  // Skipped without error when the key does not exist.
};

// The module's options.
ansible::ArgSpec Spec();

// The keys and modules that `profile` ("kubernetes", "kubeflow", "none") and the
// user's `sysctl` and `modules` options ask for, in application order. User keys
// replace profile keys with the same path. Returns kInvalidArgument naming the
// offending key or module.
struct Plan {
  std::vector<std::string> modules;
  std::vector<SysctlSetting> sysctls;
};
StatusOr<Plan> BuildPlan(std::string_view profile, const nlohmann::json& sysctl,
                         const nlohmann::json& modules);

// Parses a user value: a scalar is exact (bools become 1/0, lists are joined by
// spaces); ">=N" or {minimum: N} is a lower bound; {value: V} is exact.
StatusOr<SysctlSetting> ParseSysctlValue(const std::string& key, const nlohmann::json& value);

// /proc/sys relative path of `key` ("net.ipv4.ip_forward" -> "net/ipv4/ip_forward";
// a key containing '/' is already a path). Keys are validated by BuildPlan.
std::string KeyPath(std::string_view key);

// Collapses runs of whitespace to one space and trims, as sysctl prints values.
std::string NormalizeValue(std::string_view value);

// Reads the "key = value" assignments of a sysctl.d file (comments, blank lines
// and a leading '-' are handled as systemd-sysctl does), keyed by KeyPath.
std::vector<std::pair<std::string, std::string>> ParseSysctlFile(std::string_view content);

// The sysctl.d file content after setting (`remove` false) or removing (`remove`
// true) `entries` (key, value). Lines of other keys and comments are kept; the
// first line of a managed key is replaced, later duplicates dropped, missing
// keys appended. A new file gets a header naming the module. Returns nullopt when
// removal leaves only comments and blank lines: the file should be deleted.
std::optional<std::string> MergeSysctlFile(
    const std::optional<std::string>& old,
    const std::vector<std::pair<std::string, std::string>>& entries, bool remove);

// The same for a modules-load.d file and module names.
std::optional<std::string> MergeModulesFile(const std::optional<std::string>& old,
                                            const std::vector<std::string>& modules, bool remove);

// Marks fstab swap entries this module disabled, so `state: absent` can restore them.
inline constexpr std::string_view kFstabMarker = "#[gcid.k8s.kernel_tuning swap off] ";

// fstab with every active swap entry commented out with kFstabMarker (`restore`
// false), or with the marked entries restored (`restore` true). `changed_lines`
// receives the original lines affected.
std::string EditFstab(std::string_view content, bool restore,
                      std::vector<std::string>* changed_lines);

// The swap areas listed in /proc/swaps content (names with \040-style escapes decoded).
std::vector<std::string> ParseProcSwaps(std::string_view content);

// The systemd unit name of a swap device or file ("/swap.img" -> "swap.img.swap",
// "/dev/sda-2" -> "dev-sda\x2d2.swap"), as systemd-escape --path --suffix=swap.
std::string SwapUnitName(std::string_view path);

// Runs the module: validated parameters in, result out. Never exits the process.
ansible::Result Run(ansible::Module& module, const SystemPaths& system);

}  // namespace pvek8s::kernel_tuning

#endif  // MODULES_KERNEL_TUNING_KERNEL_TUNING_H_
