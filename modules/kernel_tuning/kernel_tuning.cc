#include "modules/kernel_tuning/kernel_tuning.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "modules/ansible/command.h"
#include "modules/ansible/file_util.h"

namespace pvek8s::kernel_tuning {
namespace {

using ansible::DiffEntry;
using ansible::Param;
using ansible::ParamType;
using ansible::Result;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::string_view kHeader =
    "# Managed by gcid.k8s.kernel_tuning. Keys listed here are set by that module;\n"
    "# other lines are kept as they are.\n";

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
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

bool IsCommentOrBlank(std::string_view line) {
  std::string t = Trim(line);
  return t.empty() || t[0] == '#' || t[0] == ';';
}

std::optional<long long> ParseInt(std::string_view text) {
  std::string t = Trim(text);
  if (t.empty()) return std::nullopt;
  size_t i = (t[0] == '-') ? 1 : 0;
  if (i == t.size()) return std::nullopt;
  for (size_t j = i; j < t.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(t[j]))) return std::nullopt;
  }
  errno = 0;
  long long v = std::strtoll(t.c_str(), nullptr, 10);
  if (errno != 0) return std::nullopt;
  return v;
}

bool ValidKey(std::string_view key) {
  if (key.empty() || key.size() > 256 || key.front() == '.' || key.front() == '/' ||
      key.back() == '.' || key.back() == '/') {
    return false;
  }
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-' &&
        c != '/' && c != ':' && c != '@') {
      return false;
    }
  }
  std::string path = KeyPath(key);
  if (path.find("//") != std::string::npos) return false;
  for (std::string_view part : {"/../", "/./"}) {
    if (("/" + path + "/").find(part) != std::string::npos) return false;
  }
  return true;
}

bool ValidModuleName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// The kernel treats '-' and '_' in module names alike; /sys/module uses '_'.
std::string ModuleKey(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string JoinList(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

std::string Plural(size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

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

// Reads a live sysctl; nullopt when the key does not exist.
StatusOr<std::optional<std::string>> ReadLive(const SystemPaths& sys, const std::string& key) {
  std::string path = sys.Path("/proc/sys/" + KeyPath(key));
  StatusOr<std::optional<std::string>> text = ansible::ReadFileIfExists(path);
  if (!text.ok()) return text.status();
  if (!*text) return std::optional<std::string>();
  return std::optional<std::string>(NormalizeValue(**text));
}

Status WriteLive(const SystemPaths& sys, const std::string& key, const std::string& value) {
  std::string path = sys.Path("/proc/sys/" + KeyPath(key));
  // No O_CREAT: a sysctl that does not exist must not become a file.
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return InternalError("cannot open " + path + ": " + std::strerror(errno));
  std::string data = value + "\n";
  ssize_t n = ::write(fd, data.data(), data.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(data.size())) {
    return InternalError("cannot set " + key + " to '" + value + "': " + std::strerror(err));
  }
  // The kernel may clamp or reject a value silently; read it back.
  StatusOr<std::optional<std::string>> now = ReadLive(sys, key);
  if (!now.ok()) return now.status();
  if (!*now || **now != value) {
    return FailedPreconditionError("the kernel did not accept " + key + " = " + value +
                                   " (it reads " + (*now ? **now : std::string("nothing")) + ")");
  }
  return Status::Ok();
}

std::string ValueText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  if (v.is_array()) {
    std::string out;
    for (const json& item : v) out += (out.empty() ? "" : " ") + ValueText(item);
    return out;
  }
  return v.dump();
}

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

std::string KeyPath(std::string_view key) {
  std::string out(key);
  if (out.find('/') == std::string::npos) std::replace(out.begin(), out.end(), '.', '/');
  return out;
}

std::string NormalizeValue(std::string_view value) { return JoinList(Fields(value), " "); }

StatusOr<SysctlSetting> ParseSysctlValue(const std::string& key, const json& value) {
  SysctlSetting s;
  s.key = key;
  json v = value;
  if (v.is_object()) {
    auto min = v.find("minimum");
    auto exact = v.find("value");
    if ((min == v.end()) == (exact == v.end()) || v.size() != 1) {
      return InvalidArgumentError(
          "sysctl '" + key + "': a dict value must have exactly one key, 'minimum' or 'value'");
    }
    if (min != v.end()) {
      s.minimum = true;
      v = *min;
    } else {
      v = *exact;
    }
  } else if (v.is_string()) {
    std::string t = Trim(v.get<std::string>());
    if (t.rfind(">=", 0) == 0) {
      s.minimum = true;
      v = Trim(t.substr(2));
    }
  }
  if (v.is_null() || v.is_object()) {
    return InvalidArgumentError("sysctl '" + key + "': the value must be a string, number or list");
  }
  s.value = NormalizeValue(ValueText(v));
  if (s.value.empty()) return InvalidArgumentError("sysctl '" + key + "': the value is empty");
  if (s.value.find_first_of("\n\r") != std::string::npos) {
    return InvalidArgumentError("sysctl '" + key + "': the value must be one line");
  }
  if (s.minimum && !ParseInt(s.value)) {
    return InvalidArgumentError("sysctl '" + key + "': a minimum must be an integer, got '" +
                                s.value + "'");
  }
  return s;
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

std::vector<std::pair<std::string, std::string>> ParseSysctlFile(std::string_view content) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::string_view line : Lines(content)) {
    if (IsCommentOrBlank(line)) continue;
    std::string t = Trim(line);
    if (t[0] == '-') t = Trim(t.substr(1));
    size_t eq = t.find('=');
    if (eq == std::string::npos) continue;
    out.emplace_back(KeyPath(Trim(t.substr(0, eq))), NormalizeValue(t.substr(eq + 1)));
  }
  return out;
}

std::optional<std::string> MergeSysctlFile(
    const std::optional<std::string>& old,
    const std::vector<std::pair<std::string, std::string>>& entries, bool remove) {
  std::map<std::string, size_t> wanted;  // KeyPath -> index in entries
  for (size_t i = 0; i < entries.size(); ++i) wanted.emplace(KeyPath(entries[i].first), i);
  std::set<std::string> written;
  std::string out;
  bool has_content = false;
  if (!old && !remove) out += kHeader;
  const std::string old_text = old.value_or("");
  for (std::string_view line : Lines(old_text)) {
    if (!IsCommentOrBlank(line)) {
      std::string t = Trim(line);
      if (t[0] == '-') t = Trim(t.substr(1));
      size_t eq = t.find('=');
      if (eq != std::string::npos) {
        std::string path = KeyPath(Trim(t.substr(0, eq)));
        auto it = wanted.find(path);
        if (it != wanted.end()) {
          if (remove || written.count(path) != 0) continue;
          const auto& [key, value] = entries[it->second];
          // Keep the user's line when it already says the same thing.
          bool same = NormalizeValue(t.substr(eq + 1)) == value;
          out += same ? std::string(line) : key + " = " + value;
          out += "\n";
          written.insert(path);
          has_content = true;
          continue;
        }
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
  for (const auto& [key, value] : entries) {
    if (written.insert(KeyPath(key)).second) out += key + " = " + value + "\n";
  }
  return out;
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

std::string EditFstab(std::string_view content, bool restore, std::vector<std::string>* changed) {
  std::string out;
  for (std::string_view line : Lines(content)) {
    if (restore) {
      if (line.rfind(kFstabMarker, 0) == 0) {
        std::string original(line.substr(kFstabMarker.size()));
        if (changed != nullptr) changed->push_back(original);
        out += original + "\n";
        continue;
      }
    } else if (!IsCommentOrBlank(line)) {
      std::vector<std::string> f = Fields(line);
      if (f.size() >= 3 && f[2] == "swap") {
        if (changed != nullptr) changed->emplace_back(line);
        out += std::string(kFstabMarker) + std::string(line) + "\n";
        continue;
      }
    }
    out += line;
    out += "\n";
  }
  // Keep a final line without newline as it was.
  if (!content.empty() && content.back() != '\n' && !out.empty()) out.pop_back();
  return out;
}

std::vector<std::string> ParseProcSwaps(std::string_view content) {
  std::vector<std::string> out;
  bool first = true;
  for (std::string_view line : Lines(content)) {
    if (first) {  // Header: "Filename Type Size Used Priority".
      first = false;
      if (line.rfind("Filename", 0) == 0) continue;
    }
    std::vector<std::string> f = Fields(line);
    if (f.empty()) continue;
    std::string name;
    const std::string& raw = f[0];
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 3 < raw.size() + 0 &&
          std::isdigit(static_cast<unsigned char>(raw[i + 1])) && i + 3 <= raw.size() - 1) {
        name += static_cast<char>(std::strtol(raw.substr(i + 1, 3).c_str(), nullptr, 8));
        i += 3;
      } else {
        name += raw[i];
      }
    }
    out.push_back(name);
  }
  return out;
}

std::string SwapUnitName(std::string_view path) {
  std::string p = Trim(path);
  while (p.size() > 1 && p.front() == '/') p.erase(p.begin());
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p == "/" || p.empty()) return "-.swap";
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c == '/') {
      out += '-';
    } else if (std::isalnum(c) || c == '_' || c == ':' || (c == '.' && i != 0)) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + ".swap";
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
  };
  return spec;
}

namespace {

// Everything Run() observed and decided, gathered first so that check mode and
// real mode report the same thing.
struct Work {
  bool check = false;
  bool changed = false;
  std::vector<std::string> summary;
  std::vector<DiffEntry> diffs;
  json extra = json::object();
};

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

StatusOr<std::string> RequireAbsolute(const json& v, const char* name) {
  std::string p = v.is_string() ? v.get<std::string>() : "";
  if (p.empty() || p[0] != '/' || p.back() == '/') {
    return InvalidArgumentError(std::string(name) + " must be an absolute file path, got '" + p +
                                "'");
  }
  return p;
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

// Decides and applies the live values; returns the value each key should have
// in the sysctl file.
StatusOr<std::vector<std::pair<std::string, std::string>>> ApplySysctls(
    Work& w, const SystemPaths& sys, const std::vector<SysctlSetting>& settings,
    const std::optional<std::string>& file_before, bool pending_loads) {
  std::map<std::string, std::string> in_file;
  for (const auto& [path, value] : ParseSysctlFile(file_before.value_or(""))) {
    in_file.emplace(path, value);
  }
  struct Step {
    const SysctlSetting* s;
    std::optional<std::string> live;
    std::string target;
  };
  std::vector<Step> steps;
  std::vector<std::string> missing;
  json skipped = json::array();
  for (const SysctlSetting& s : settings) {
    PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> live, ReadLive(sys, s.key));
    if (!live) {
      if (s.if_exists && !pending_loads) {
        skipped.push_back(s.key);
        continue;
      }
      // In check mode a module that would be loaded may bring the key along.
      if (!pending_loads) {
        missing.push_back(s.key);
        continue;
      }
    }
    std::string target = s.value;
    if (s.minimum && live) {
      std::optional<long long> now = ParseInt(*live);
      if (!now) {
        return FailedPreconditionError("sysctl " + s.key + " holds '" + *live +
                                       "', which is not an integer, so a minimum cannot apply");
      }
      if (*now >= *ParseInt(s.value)) target = *live;
    }
    steps.push_back({&s, live, target});
  }
  if (!missing.empty()) {
    return NotFoundError("sysctl key" + std::string(missing.size() > 1 ? "s" : "") +
                         " not present on this host: " + JoinList(missing) +
                         " (nothing under /proc/sys for " + (missing.size() > 1 ? "them" : "it") +
                         "); check the key name and the kernel module that provides it");
  }

  std::string before, after;
  json changed_keys = json::array();
  json values = json::object();
  std::vector<std::pair<std::string, std::string>> file_entries;
  for (const Step& st : steps) {
    before += st.s->key + " = " + (st.live ? *st.live : "(absent)") + "\n";
    after += st.s->key + " = " + st.target + "\n";
    values[st.s->key] = st.target;
    if (!st.live || *st.live != st.target) {
      changed_keys.push_back(st.s->key);
      w.changed = true;
      if (!w.check) PVEK8S_RETURN_IF_ERROR(WriteLive(sys, st.s->key, st.target));
    }
    std::string file_value = st.target;
    if (st.s->minimum) {
      // A file entry at or above the minimum stays: it may be the admin's own,
      // higher value. Otherwise persist what is live now.
      auto it = in_file.find(KeyPath(st.s->key));
      std::optional<long long> existing = it == in_file.end() ? std::nullopt : ParseInt(it->second);
      if (existing && *existing >= *ParseInt(st.s->value)) file_value = it->second;
    }
    file_entries.emplace_back(st.s->key, file_value);
  }
  AddDiff(w, before, after, "live kernel parameters (/proc/sys)");
  w.extra["sysctl_changed"] = changed_keys;
  w.extra["sysctl_values"] = values;
  w.extra["sysctl_skipped"] = skipped;
  if (!changed_keys.empty()) {
    w.summary.push_back((w.check ? "would set " : "set ") +
                        Plural(changed_keys.size(), "sysctl key", "sysctl keys"));
  }
  return file_entries;
}

Status TurnSwapOff(Work& w, const SystemPaths& sys) {
  // Live swap areas.
  PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> swaps,
                          ansible::ReadFileIfExists(sys.Path("/proc/swaps")));
  std::vector<std::string> active = ParseProcSwaps(swaps.value_or(""));
  json disabled = json::array();
  for (const std::string& name : active) {
    disabled.push_back(name);
    w.changed = true;
    if (w.check) continue;
    std::optional<std::string> swapoff = ansible::FindExecutable(sys.swapoff);
    if (!swapoff)
      return FailedPreconditionError("cannot turn swap off: " + sys.swapoff + " not found");
    StatusOr<ansible::CommandResult> r = ansible::RunCommand({*swapoff, "--", name}, 600s);
    if (!r.ok()) return r.status();
    if (!r->ok()) {
      return FailedPreconditionError("cannot turn swap off: " +
                                     ansible::DescribeFailure({"swapoff", name}, *r));
    }
  }
  if (!w.check && !active.empty()) {
    PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> now,
                            ansible::ReadFileIfExists(sys.Path("/proc/swaps")));
    std::vector<std::string> still = ParseProcSwaps(now.value_or(""));
    if (!still.empty()) {
      return FailedPreconditionError("swap is still active after swapoff: " + JoinList(still));
    }
  }
  AddDiff(w, JoinList(active, "\n") + (active.empty() ? "" : "\n"), "",
          "active swap (/proc/swaps)");
  w.extra["swap_disabled"] = disabled;
  if (!disabled.empty()) {
    w.summary.push_back((w.check ? "would turn off " : "turned off ") +
                        Plural(disabled.size(), "swap area", "swap areas"));
  }

  // Boot-time swap: fstab entries...
  PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> fstab,
                          ansible::ReadFileIfExists(sys.Path("/etc/fstab")));
  std::vector<std::string> commented;
  bool reload_systemd = false;
  if (fstab) {
    std::string edited = EditFstab(*fstab, false, &commented);
    json files = json::array();
    PVEK8S_RETURN_IF_ERROR(ApplyFile(w, sys, "/etc/fstab", fstab, edited, files));
    reload_systemd = !commented.empty();
  }
  w.extra["fstab_disabled"] = commented;
  if (!commented.empty()) {
    w.summary.push_back((w.check ? "would disable " : "disabled ") +
                        Plural(commented.size(), "fstab swap entry", "fstab swap entries"));
  }

  // ...and swap units that do not come from fstab (cloud images and installers
  // ship them as unit files), which are masked.
  // Generated units count too (zram-generator's dev-zram0.swap), except those
  // systemd-fstab-generator made from the fstab lines just handled: masking
  // those would keep swap off after `state: absent` restores fstab.
  std::set<std::string> units;
  for (const char* dir : {"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
                          "/run/systemd/generator", "/run/systemd/generator.late"}) {
    DIR* d = ::opendir(sys.Path(dir).c_str());
    if (d == nullptr) continue;
    const bool generated = std::string_view(dir).rfind("/run/", 0) == 0;
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".swap") != 0) continue;
      if (generated) {
        StatusOr<std::optional<std::string>> unit =
            ansible::ReadFileIfExists(sys.Path(std::string(dir) + "/" + name));
        if (!unit.ok() || !*unit || (*unit)->find("SourcePath=/etc/fstab") != std::string::npos) {
          continue;
        }
      }
      units.insert(name);
    }
    ::closedir(d);
  }
  json masked = json::array();
  std::string units_before, units_after;
  for (const std::string& unit : units) {
    std::string link = sys.Path("/etc/systemd/system/" + unit);
    char target[256];
    ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
    if (n > 0 && std::string(target, static_cast<size_t>(n)) == "/dev/null") continue;  // Masked.
    if (n < 0 && PathExists(link)) {
      w.extra.emplace("warnings_internal", json::array());
      w.extra["warnings_internal"].push_back("swap unit " + unit +
                                             " is defined in /etc/systemd/system; remove it or "
                                             "disable it yourself");
      continue;
    }
    masked.push_back(unit);
    units_before += unit + " enabled\n";
    units_after += unit + " masked\n";
    w.changed = true;
    reload_systemd = true;
    if (w.check) continue;
    if (::symlink("/dev/null", link.c_str()) != 0) {
      return InternalError("cannot mask " + unit + ": " + std::strerror(errno));
    }
  }
  AddDiff(w, units_before, units_after, "systemd swap units");
  w.extra["swap_units_masked"] = masked;
  if (!masked.empty()) {
    w.summary.push_back((w.check ? "would mask " : "masked ") +
                        Plural(masked.size(), "swap unit", "swap units"));
  }
  // Let systemd forget fstab-generated swap units now rather than at next boot.
  if (reload_systemd && !w.check && PathExists(sys.Path("/run/systemd/system"))) {
    if (std::optional<std::string> systemctl = ansible::FindExecutable(sys.systemctl)) {
      StatusOr<ansible::CommandResult> r = ansible::RunCommand({*systemctl, "daemon-reload"}, 120s);
      if (!r.ok() || !r->ok()) {
        w.extra.emplace("warnings_internal", json::array());
        w.extra["warnings_internal"].push_back("systemctl daemon-reload failed");
      }
    }
  }
  return Status::Ok();
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

}  // namespace

Result Run(ansible::Module& module, const SystemPaths& sys) {
  const json& p = module.params();
  Work w;
  w.check = module.check_mode();

  StatusOr<std::string> sysctl_file = RequireAbsolute(p["sysctl_file"], "sysctl_file");
  if (!sysctl_file.ok()) return ansible::Failure(sysctl_file.status().message());
  StatusOr<std::string> modules_file = RequireAbsolute(p["modules_file"], "modules_file");
  if (!modules_file.ok()) return ansible::Failure(modules_file.status().message());
  const std::string profile = p["profile"].get<std::string>();
  StatusOr<Plan> plan = BuildPlan(profile, p["sysctl"], p["modules"]);
  if (!plan.ok()) return ansible::Failure(plan.status().message());
  const bool present = p["state"] == "present";
  std::string swap = profile == "none" || !present ? "unchanged" : "off";
  if (const json& v = p["swap"]; !v.is_null()) {
    std::optional<bool> b = ansible::ParseBoolean(v);
    if (b == false || v == "off") {
      swap = "off";
    } else if (v == "unchanged") {
      swap = "unchanged";
    } else {
      return ansible::Failure("value of swap must be one of: off, unchanged, got: " +
                              (v.is_string() ? v.get<std::string>() : v.dump()));
    }
  }
  w.extra["sysctl_file"] = *sysctl_file;
  w.extra["modules_file"] = *modules_file;
  json files_changed = json::array();

  auto run = [&]() -> Status {
    StatusOr<std::optional<std::string>> sysctl_before =
        ansible::ReadFileIfExists(sys.Path(*sysctl_file));
    if (!sysctl_before.ok()) return sysctl_before.status();
    StatusOr<std::optional<std::string>> modules_before =
        ansible::ReadFileIfExists(sys.Path(*modules_file));
    if (!modules_before.ok()) return modules_before.status();

    if (!present) {
      // Undo persistence only: live values and loaded modules stay until reboot,
      // because their previous values are unknown.
      std::vector<std::pair<std::string, std::string>> keys;
      for (const SysctlSetting& s : plan->sysctls) keys.emplace_back(s.key, s.value);
      PVEK8S_RETURN_IF_ERROR(ApplyFile(w, sys, *sysctl_file, *sysctl_before,
                                       MergeSysctlFile(*sysctl_before, keys, true), files_changed));
      PVEK8S_RETURN_IF_ERROR(ApplyFile(w, sys, *modules_file, *modules_before,
                                       MergeModulesFile(*modules_before, plan->modules, true),
                                       files_changed));
      if (swap == "off") {
        StatusOr<std::optional<std::string>> fstab =
            ansible::ReadFileIfExists(sys.Path("/etc/fstab"));
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

    bool pending_loads = false;
    PVEK8S_RETURN_IF_ERROR(LoadModules(w, sys, plan->modules, pending_loads));
    StatusOr<std::vector<std::pair<std::string, std::string>>> entries =
        ApplySysctls(w, sys, plan->sysctls, *sysctl_before, pending_loads);
    if (!entries.ok()) return entries.status();
    size_t before_files = files_changed.size();
    if (!plan->sysctls.empty() || *sysctl_before) {
      PVEK8S_RETURN_IF_ERROR(ApplyFile(w, sys, *sysctl_file, *sysctl_before,
                                       MergeSysctlFile(*sysctl_before, *entries, false),
                                       files_changed));
    }
    if (!plan->modules.empty()) {
      PVEK8S_RETURN_IF_ERROR(ApplyFile(w, sys, *modules_file, *modules_before,
                                       MergeModulesFile(*modules_before, plan->modules, false),
                                       files_changed));
    }
    if (files_changed.size() > before_files) {
      w.summary.push_back(
          (w.check ? "would write " : "wrote ") +
          JoinList(std::vector<std::string>(
              files_changed.begin() + static_cast<json::difference_type>(before_files),
              files_changed.end())));
    }
    if (swap == "off") PVEK8S_RETURN_IF_ERROR(TurnSwapOff(w, sys));
    return Status::Ok();
  };
  Status status = run();
  w.extra["files_changed"] = files_changed;
  w.extra["swap"] = swap;
  return Finish(w, module, status);
}

}  // namespace pvek8s::kernel_tuning
