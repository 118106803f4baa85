// Small helpers shared by the simulator's files: sizes, property strings,
// tags, timings and storage specs.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"

namespace pvek8s::pvesim {

using nlohmann::json;

// Parameter values are arbitrary bytes; nlohmann's dump() throws on invalid
// UTF-8, so every serialization replaces bad sequences instead.
std::string SafeDump(const json& j, int indent) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------
// Small shared helpers.

std::string FormatSize(int64_t size) {
  int64_t kb = size / 1024;
  if (kb * 1024 != size) return std::to_string(size);
  int64_t mb = kb / 1024;
  if (mb * 1024 != kb) return std::to_string(kb) + "K";
  int64_t gb = mb / 1024;
  if (gb * 1024 != mb) return std::to_string(mb) + "M";
  int64_t tb = gb / 1024;
  if (tb * 1024 != gb) return std::to_string(gb) + "G";
  return std::to_string(tb) + "T";
}

std::optional<int64_t> ParseSize(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double mult = 1;
  char unit = text.back();
  if (unit == 'K' || unit == 'M' || unit == 'G' || unit == 'T') {
    mult = unit == 'K'   ? 1024.0
           : unit == 'M' ? 1048576.0
           : unit == 'G' ? 1073741824.0
                         : 1099511627776.0;
    text.remove_suffix(1);
  }
  if (text.empty()) return std::nullopt;
  int dots = 0;
  for (char c : text) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  if (dots > 1 || text.front() == '.' || text.back() == '.') return std::nullopt;
  double v = std::strtod(std::string(text).c_str(), nullptr) * mult;
  if (v > 9.0e15) return std::nullopt;
  return static_cast<int64_t>(v);
}

bool HasIndexedPrefix(const std::string& key, std::string_view prefix) {
  if (!key.starts_with(prefix) || key.size() == prefix.size()) return false;
  return std::all_of(key.begin() + static_cast<long>(prefix.size()), key.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

int64_t MemoryBytes(const std::string& value) {
  std::string mib = FirstPart(value);
  if (mib.starts_with("current=")) mib = mib.substr(8);
  return ParseSize(mib + "M").value_or(0);
}

bool IsDiskKey(const std::string& key) {
  return HasIndexedPrefix(key, "ide") || HasIndexedPrefix(key, "sata") ||
         HasIndexedPrefix(key, "scsi") || HasIndexedPrefix(key, "virtio") || key == "efidisk0" ||
         key == "tpmstate0";
}

bool IsCloudinitKey(const std::string& key) {
  return key == "ciuser" || key == "cipassword" || key == "citype" || key == "ciupgrade" ||
         key == "cicustom" || key == "sshkeys" || key == "nameserver" || key == "searchdomain" ||
         HasIndexedPrefix(key, "ipconfig");
}

bool IsHotpluggable(const std::string& key) {
  static const std::set<std::string> kFastPlug = {
      "name",           "description", "tags",    "onboot",           "protection",
      "startup",        "hookscript",  "shares",  "migrate_downtime", "migrate_speed",
      "vmstatestorage", "lock",        "template"};
  if (kFastPlug.contains(key) || IsCloudinitKey(key)) return true;
  // Default hotplug is "network,disk,usb"; IDE devices are never hot-pluggable.
  return HasIndexedPrefix(key, "net") || HasIndexedPrefix(key, "scsi") ||
         HasIndexedPrefix(key, "virtio") || HasIndexedPrefix(key, "sata") ||
         HasIndexedPrefix(key, "usb") || HasIndexedPrefix(key, "unused");
}

std::string FirstPart(const std::string& value) { return value.substr(0, value.find(',')); }

std::string PropertyValue(const std::string& value, const std::string& key) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t c = value.find(',', start);
    if (c == std::string::npos) c = value.size();
    std::string part = value.substr(start, c - start);
    if (part.starts_with(key + "=")) return part.substr(key.size() + 1);
    start = c + 1;
  }
  return "";
}

std::string SetProperty(const std::string& value, const std::string& key, const std::string& v) {
  std::vector<std::string> parts;
  size_t start = 0;
  bool replaced = false;
  while (start <= value.size()) {
    size_t c = value.find(',', start);
    if (c == std::string::npos) c = value.size();
    std::string part = value.substr(start, c - start);
    if (part.starts_with(key + "=")) {
      part = key + "=" + v;
      replaced = true;
    }
    if (!part.empty()) parts.push_back(part);
    start = c + 1;
  }
  if (!replaced) parts.push_back(key + "=" + v);
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

StatusOr<StorageSpec> ParseStorageSpec(std::string_view spec) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t c = spec.find(':', start);
    if (c == std::string_view::npos) c = spec.size();
    parts.emplace_back(spec.substr(start, c - start));
    start = c + 1;
  }
  ParamDef id_def{.format = "pve-storage-id"};
  if (parts.size() < 3 || parts.size() > 4 || !CheckValue(id_def, parts[0]).empty() ||
      parts[1].empty() || parts[2].empty() || (parts.size() == 4 && parts[3] != "shared") ||
      parts[0] == "local" || parts[0] == "local-lvm") {
    return InvalidArgumentError("--storage wants ID:TYPE:CONTENT[:shared], got '" +
                                std::string(spec) + "'");
  }
  return StorageSpec{parts[0], parts[1], parts[2], parts.size() == 4};
}

// ---------------------------------------------------------------------------
// Timings.

std::optional<Timings> Timings::ForProfile(std::string_view name) {
  Timings t;
  if (name == "fast") return t;
  if (name != "realistic") return std::nullopt;
  t.clone_base = 1.0;
  t.clone_per_gib = 0.25;
  t.linked_clone = 0.5;
  t.create = 1.0;
  t.start = 1.0;
  t.stop = 0.5;
  t.shutdown = 3.0;
  t.reboot = 4.0;
  t.destroy = 1.0;
  t.resize = 0.5;
  t.config = 0.3;
  t.agent = 10.0;
  t.resources_lag = 5.0;
  t.migrate = 3.0;
  t.migrate_per_gib = 1.0;
  t.ha_delay = 10.0;
  t.ha_fence = 120.0;
  return t;
}

bool Timings::Set(std::string_view name, double v) {
  std::map<std::string_view, double*> fields = {{"clone_base", &clone_base},
                                                {"clone_per_gib", &clone_per_gib},
                                                {"linked_clone", &linked_clone},
                                                {"create", &create},
                                                {"start", &start},
                                                {"stop", &stop},
                                                {"shutdown", &shutdown},
                                                {"reboot", &reboot},
                                                {"destroy", &destroy},
                                                {"resize", &resize},
                                                {"config", &config},
                                                {"agent", &agent},
                                                {"resources_lag", &resources_lag},
                                                {"auth_fail_delay", &auth_fail_delay},
                                                {"vm_lock_timeout", &vm_lock_timeout},
                                                {"clone_lock_timeout", &clone_lock_timeout},
                                                {"storage_lock_timeout", &storage_lock_timeout},
                                                {"migrate", &migrate},
                                                {"migrate_per_gib", &migrate_per_gib},
                                                {"ha_delay", &ha_delay},
                                                {"ha_fence", &ha_fence}};
  auto it = fields.find(name);
  if (it == fields.end() || v < 0 || v > 3600) return false;
  *it->second = v;
  return true;
}

std::string LowerAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// GuestHelpers::get_unique_tags: lower-cased, de-duplicated, sorted, ';'-joined.
std::string NormalizeTags(const std::string& value) {
  std::set<std::string> tags;
  for (const std::string& t : SplitList(value)) tags.insert(LowerAscii(t));
  std::string out;
  for (const auto& t : tags) out += (out.empty() ? "" : ";") + t;
  return out;
}

bool AgentEnabled(const std::map<std::string, std::string>& conf) {
  auto it = conf.find("agent");
  if (it == conf.end()) return false;
  std::string first = FirstPart(it->second);
  if (first == "1") return true;
  if (first.starts_with("enabled=")) return first == "enabled=1";
  return PropertyValue(it->second, "enabled") == "1";
}

}  // namespace pvek8s::pvesim
