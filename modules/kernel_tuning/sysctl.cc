#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "modules/ansible/file_util.h"
#include "modules/kernel_tuning/internal.h"
#include "modules/kernel_tuning/kernel_tuning.h"

namespace pvek8s::kernel_tuning {

using nlohmann::json;

namespace {

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

}  // namespace

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

}  // namespace pvek8s::kernel_tuning
