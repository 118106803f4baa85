#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>

#include "modules/ansible/command.h"
#include "modules/ansible/file_util.h"
#include "modules/kernel_tuning/internal.h"
#include "modules/kernel_tuning/kernel_tuning.h"

namespace pvek8s::kernel_tuning {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// What the kernel knows about a module.
enum class ModuleState { kMissing, kLoaded, kBuiltin };

class ModuleProbe {
 public:
  explicit ModuleProbe(const SystemPaths& sys) : sys_(sys) {
    if (auto text = ansible::ReadFileIfExists(sys.Path("/proc/modules")); text.ok() && *text) {
      for (std::string_view line : Lines(**text)) {
        std::vector<std::string> f = Fields(line);
        if (!f.empty()) loaded_.insert(ModuleKey(f[0]));
      }
    }
    std::string builtin_path = sys.Path("/lib/modules/" + sys.kernel_release + "/modules.builtin");
    if (auto text = ansible::ReadFileIfExists(builtin_path); text.ok() && *text) {
      for (std::string_view line : Lines(**text)) {
        std::string entry = Trim(line);
        size_t slash = entry.find_last_of('/');
        std::string base = slash == std::string::npos ? entry : entry.substr(slash + 1);
        if (base.size() > 3 && base.compare(base.size() - 3, 3, ".ko") == 0) {
          builtin_.insert(ModuleKey(base.substr(0, base.size() - 3)));
        }
      }
    }
  }

  // /proc/modules lists loadable modules only; built-in ones appear in
  // modules.builtin or as /sys/module/<name> without an initstate file. Kernels
  // without module support have neither /proc/modules nor modules.builtin.
  ModuleState State(std::string_view name) const {
    std::string key = ModuleKey(name);
    if (loaded_.count(key) != 0) return ModuleState::kLoaded;
    if (builtin_.count(key) != 0) return ModuleState::kBuiltin;
    std::string sys_dir = sys_.Path("/sys/module/" + key);
    if (PathExists(sys_dir)) {
      return PathExists(sys_dir + "/initstate") ? ModuleState::kLoaded : ModuleState::kBuiltin;
    }
    return ModuleState::kMissing;
  }

 private:
  const SystemPaths& sys_;
  std::set<std::string> loaded_;
  std::set<std::string> builtin_;
};

}  // namespace

bool ModuleBuiltIn(const SystemPaths& sys, std::string_view name) {
  return ModuleProbe(sys).State(name) == ModuleState::kBuiltin;
}

bool ValidModuleName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::optional<std::string> MergeModulesFile(const std::optional<std::string>& old,
                                            const std::vector<std::string>& modules, bool remove) {
  std::set<std::string> wanted;
  for (const std::string& m : modules) wanted.insert(ModuleKey(m));
  std::set<std::string> present;
  std::string out;
  bool has_content = false;
  if (!old && !remove) out += kHeader;
  const std::string old_text = old.value_or("");
  for (std::string_view line : Lines(old_text)) {
    if (!IsCommentOrBlank(line)) {
      std::string key = ModuleKey(Trim(line));
      if (wanted.count(key) != 0) {
        if (remove || !present.insert(key).second) continue;
      }
      has_content = true;
    }
    out += line;
    out += "\n";
  }
  if (remove) {
    if (!has_content) return std::nullopt;
    return out;
  }
  for (const std::string& m : modules) {
    if (present.insert(ModuleKey(m)).second) out += m + "\n";
  }
  return out;
}

Status LoadModules(Work& w, const SystemPaths& sys, const std::vector<std::string>& modules,
                   bool& pending_loads) {
  ModuleProbe probe(sys);
  json loaded = json::array();
  json builtin = json::array();
  std::string before, after;
  for (const std::string& m : modules) {
    ModuleState st = probe.State(m);
    if (st == ModuleState::kBuiltin) builtin.push_back(m);
    before += (st == ModuleState::kMissing ? "# not loaded: " : "") + m + "\n";
    after += m + "\n";
    if (st != ModuleState::kMissing) continue;
    loaded.push_back(m);
    w.changed = true;
    pending_loads = true;
    if (w.check) continue;
    std::optional<std::string> modprobe = ansible::FindExecutable(sys.modprobe);
    if (!modprobe) {
      return FailedPreconditionError("cannot load kernel module " + m + ": " + sys.modprobe +
                                     " not found");
    }
    std::vector<std::string> argv = {*modprobe, "--", m};
    StatusOr<ansible::CommandResult> r = ansible::RunCommand(argv, 60s);
    if (!r.ok()) return r.status();
    if (!r->ok()) {
      return FailedPreconditionError("cannot load kernel module " + m + ": " +
                                     ansible::DescribeFailure({"modprobe", m}, *r));
    }
  }
  if (!w.check) pending_loads = false;
  AddDiff(w, before, after, "loaded kernel modules");
  w.extra["modules_loaded"] = loaded;
  w.extra["modules_builtin"] = builtin;
  if (!loaded.empty()) {
    w.summary.push_back((w.check ? "would load " : "loaded ") +
                        Plural(loaded.size(), "kernel module", "kernel modules"));
  }
  return Status::Ok();
}

}  // namespace pvek8s::kernel_tuning
