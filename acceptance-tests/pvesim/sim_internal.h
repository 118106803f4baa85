// Private types and helpers shared by the simulator's files (sim*.cc).
#ifndef ACCEPTANCE_TESTS_PVESIM_SIM_INTERNAL_H_
#define ACCEPTANCE_TESTS_PVESIM_SIM_INTERNAL_H_

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "acceptance-tests/pvesim/sim.h"

namespace pvek8s::pvesim {

struct Simulator::Request {
  const HttpRequest* http = nullptr;
  std::string method;
  std::string path;  // Below /api2/json, percent-decoded.
  const MethodDef* def = nullptr;
  std::map<std::string, std::string> uri;  // {node}, {vmid}, ... values
  ParamMap params;                         // Body + query + URI, validated.
  Identity who;
  std::unique_lock<std::mutex>* lock = nullptr;  // Holds Simulator::mu_.
  double now = 0;

  bool Has(const std::string& k) const { return params.contains(k); }
  std::string Get(const std::string& k, const std::string& fallback = "") const {
    auto it = params.find(k);
    return it == params.end() ? fallback : it->second;
  }
  bool Bool(const std::string& k, bool fallback = false) const {
    auto it = params.find(k);
    return it == params.end() ? fallback : it->second == "1";
  }
  int64_t Int(const std::string& k, int64_t fallback = 0) const {
    auto it = params.find(k);
    return it == params.end() ? fallback : std::strtoll(it->second.c_str(), nullptr, 10);
  }
};

struct Simulator::Result {
  int status = 200;
  nlohmann::json data;
  std::string message;  // Errors: the full message (the reason phrase is its first line).
  ErrorMap errors;
  std::optional<int64_t> total;
  bool empty_body = false;  // 401s: no body at all.

  static Result Ok(nlohmann::json d = nullptr) {
    Result r;
    r.data = std::move(d);
    return r;
  }
  // A handler's die "message\n": the newline is kept in the body, as Proxmox does.
  static Result Fail(int status, std::string message) {
    Result r;
    r.status = status;
    if (message.empty() || message.back() != '\n') message += '\n';
    r.message = std::move(message);
    return r;
  }
  static Result ParamError(ErrorMap errors) {
    Result r = Fail(400, "Parameter verification failed.");
    r.errors = std::move(errors);
    return r;
  }
  static Result ParamError(const std::string& key, const std::string& reason) {
    return ParamError(ErrorMap{{key, reason}});
  }
};

// One migration, from the API, HA or a fault, carried through its phases.
struct Simulator::MigrationPlan {
  int vmid = 0;
  std::string source;
  std::string target;
  bool online = false;
  bool with_local_disks = false;
  bool force = false;
  std::map<std::string, std::string> storage_map;  // Source storage -> target storage.
  std::string default_storage;                     // targetstorage=ID: every local disk.
  std::string upid;
  double started = 0;
};

// The integer value of parameter `key` (a vmid).
inline int VmidOf(const Simulator::Request& r, const char* key = "vmid") {
  return std::atoi(r.Get(key).c_str());
}

inline double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The QEMU process id of a VM started at `started_at` (wall clock): a new
// one per boot, as a reboot starts a new process, and stable while it runs.
inline int64_t QemuPid(int vmid, double started_at) {
  auto ms = static_cast<uint64_t>(started_at * 1000);
  return 1000 + static_cast<int64_t>((static_cast<uint64_t>(vmid) * 1000003u + ms) % 4000000u);
}

// "Configuration file 'nodes/pve1/qemu-server/123.conf' does not exist".
inline std::string NoConfigMessage(const std::string& node, int vmid) {
  return "Configuration file 'nodes/" + node + "/qemu-server/" + std::to_string(vmid) +
         ".conf' does not exist";
}

inline std::string VmLockPath(int vmid) {
  return "/var/lock/qemu-server/lock-" + std::to_string(vmid) + ".conf";
}

inline std::string StorageLockPath(const std::string& storage) {
  return "/var/lock/pve-manager/pve-storage-" + storage;
}

inline std::string LockTimeoutMessage(const std::string& path) {
  return "can't lock file '" + path + "' - got timeout";
}

// json::dump that never throws (invalid UTF-8 becomes U+FFFD).
std::string SafeDump(const nlohmann::json& j, int indent = -1);

// Proxmox's format_size: the largest unit that divides the size exactly.
std::string FormatSize(int64_t bytes);
// Proxmox's parse_size ("20G", "2252M", "1024"); nullopt if malformed.
std::optional<int64_t> ParseSize(std::string_view text);

// Whether `key` is `prefix` followed by a decimal index ("net0" for "net").
bool HasIndexedPrefix(const std::string& key, std::string_view prefix);
// Bytes of a `memory` option: "4096" or "current=4096[,...]" (MiB).
int64_t MemoryBytes(const std::string& value);
bool IsDiskKey(const std::string& key);
bool IsCloudinitKey(const std::string& key);
bool IsHotpluggable(const std::string& key);

// The first comma-separated part of a property string ("local-lvm:vm-1-disk-0").
std::string FirstPart(const std::string& value);
// The value of `key` in a property string ("size" in "x,size=2G"), or "".
std::string PropertyValue(const std::string& value, const std::string& key);
// Replaces (or appends) `key=v` in a property string.
std::string SetProperty(const std::string& value, const std::string& key, const std::string& v);

std::string LowerAscii(std::string s);
// GuestHelpers::get_unique_tags: lower-cased, de-duplicated, sorted, ';'-joined.
std::string NormalizeTags(const std::string& value);
// Whether the `agent` option enables the guest agent ("1", "enabled=1", "1,fstrim...").
bool AgentEnabled(const std::map<std::string, std::string>& conf);

// Writes `content` to `path` atomically (a *.tmp file, then rename); not fsynced.
Status WriteFileAtomic(const std::filesystem::path& path, const std::string& content);
// The parsed file, or nullopt if it is missing or not JSON. Never throws.
std::optional<nlohmann::json> ReadJsonFile(const std::filesystem::path& path);

}  // namespace pvek8s::pvesim

#endif  // ACCEPTANCE_TESTS_PVESIM_SIM_INTERNAL_H_
