// Swap that systemd would turn on again at the next boot, besides the fstab
// entries the module comments out (the `swap_conflicts` option).
//
// Sources: swap units shipped by packages or installers (*.swap in the unit
// directories), units generated at boot other than fstab's (generator output
// in /run/systemd/generator*), the devices zram-generator will create from
// its configuration (zram-generator.conf(5): the main file from the first of
// /etc/systemd, /run/systemd, /usr/local/lib/systemd, /usr/lib/systemd that has
// one, plus *.conf drop-ins in zram-generator.conf.d there; each [zramN]
// section without mount-point= is a swap device dev-zramN.swap), and services
// that call swapon themselves when enabled (zram-tools' zramswap.service,
// dphys-swapfile.service). A unit linked to /dev/null in /etc/systemd/system or
// /run/systemd/system is masked and starts nothing.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>

#include "modules/ansible/file_util.h"
#include "modules/kernel_tuning/internal.h"

namespace pvek8s::kernel_tuning {

using nlohmann::json;

namespace {

constexpr std::array<std::string_view, 4> kZramConfigDirs = {
    "/etc/systemd", "/run/systemd", "/usr/local/lib/systemd", "/usr/lib/systemd"};
constexpr std::array<std::string_view, 4> kZramDropinDirs = {
    "/etc/systemd/zram-generator.conf.d", "/run/systemd/zram-generator.conf.d",
    "/usr/local/lib/systemd/zram-generator.conf.d", "/usr/lib/systemd/zram-generator.conf.d"};
constexpr std::array<std::string_view, 2> kSwapServices = {"zramswap.service",
                                                           "dphys-swapfile.service"};

std::vector<std::string> DirEntries(const SystemPaths& sys, std::string_view dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(sys.Path(dir).c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    }
    ::closedir(d);
  }
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Swap units from packages, installers and generators other than fstab's.
void AddSwapUnits(const SystemPaths& sys, std::map<std::string, std::string>& out) {
  for (std::string_view dir :
       {"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
        "/run/systemd/generator", "/run/systemd/generator.late"}) {
    const bool generated = dir.rfind("/run/", 0) == 0;
    for (const std::string& name : DirEntries(sys, dir)) {
      if (!EndsWith(name, ".swap")) continue;
      std::string path = std::string(dir) + "/" + name;
      if (generated) {
        StatusOr<std::optional<std::string>> unit = ansible::ReadFileIfExists(sys.Path(path));
        if (!unit.ok() || !*unit || (*unit)->find("SourcePath=/etc/fstab") != std::string::npos) {
          continue;
        }
      }
      out.emplace(name, path);
    }
  }
}

// zram-generator's swap devices: dev-zramN.swap -> the file defining it.
void AddZramDevices(const SystemPaths& sys, std::map<std::string, std::string>& out) {
  std::vector<std::string> files;
  for (std::string_view dir : kZramConfigDirs) {
    std::string main = std::string(dir) + "/zram-generator.conf";
    if (PathExists(sys.Path(main))) {
      files.push_back(main);
      break;
    }
  }
  for (const auto& [name, path] : ConfDirFiles(sys, kZramDropinDirs, PlannedFiles())) {
    files.push_back(path);
  }
  std::map<std::string, std::string> sections;  // section -> file; "" when not swap
  for (const std::string& file : files) {
    StatusOr<std::optional<std::string>> text = ansible::ReadFileIfExists(sys.Path(file));
    if (!text.ok() || !*text) continue;
    std::string section;
    for (std::string_view line : Lines(**text)) {
      std::string t = Trim(line);
      if (t.size() > 2 && t.front() == '[' && t.back() == ']') {
        section = t.substr(1, t.size() - 2);
        if (section.rfind("zram", 0) == 0) sections[section] = file;
      } else if (!section.empty() && t.rfind("mount-point", 0) == 0) {
        sections[section] = "";  // A zram file system, not swap.
      }
    }
  }
  for (const auto& [section, file] : sections) {
    if (!file.empty()) out.emplace("dev-" + section + ".swap", file);
  }
}

// Services that turn swap on themselves, when a *.wants link enables them.
void AddSwapServices(const SystemPaths& sys, std::map<std::string, std::string>& out) {
  for (const std::string& entry : DirEntries(sys, "/etc/systemd/system")) {
    if (!EndsWith(entry, ".wants")) continue;
    std::string wants = "/etc/systemd/system/" + entry;
    for (std::string_view service : kSwapServices) {
      std::string link = wants + "/" + std::string(service);
      struct stat st {};
      if (::lstat(sys.Path(link).c_str(), &st) == 0) {
        out.emplace(std::string(service), link);
      }
    }
  }
}

bool Masked(const SystemPaths& sys, const std::string& unit) {
  for (std::string_view dir : {"/etc/systemd/system/", "/run/systemd/system/"}) {
    char target[256];
    ssize_t n = ::readlink(sys.Path(std::string(dir) + unit).c_str(), target, sizeof(target) - 1);
    if (n > 0 && std::string_view(target, static_cast<size_t>(n)) == "/dev/null") return true;
  }
  return false;
}

}  // namespace

std::vector<SwapSource> BootSwapSources(const SystemPaths& sys) {
  std::map<std::string, std::string> units;  // unit -> where it comes from
  AddZramDevices(sys, units);  // Named after its configuration, not the generator's output.
  AddSwapUnits(sys, units);
  AddSwapServices(sys, units);
  std::vector<SwapSource> out;
  for (const auto& [unit, origin] : units) {
    if (Masked(sys, unit)) continue;
    // A unit file the admin wrote in /etc/systemd/system cannot be masked
    // there without deleting it.
    bool own = origin == "/etc/systemd/system/" + unit;
    out.push_back({unit, origin, !own});
  }
  return out;
}

std::string DescribeSwapSource(const SwapSource& s) { return s.unit + " (" + s.origin + ")"; }

Status CheckBootSwap(Work& w, const SystemPaths& sys, const std::string& mode) {
  std::vector<std::string> refused;
  for (const SwapSource& s : BootSwapSources(sys)) {
    if (mode == "fail" || (mode == "override" && !s.maskable)) {
      refused.push_back(DescribeSwapSource(s));
    }
  }
  if (refused.empty()) return Status::Ok();
  w.extra["swap_boot"] = refused;
  if (mode == "fail") {
    return FailedPreconditionError(
        "swap would be turned on again at boot by: " + JoinList(refused, "; ") +
        ". Disable those yourself, or set swap_conflicts=override to mask them or "
        "swap_conflicts=report to go on");
  }
  return FailedPreconditionError(
      "swap would be turned on again at boot by unit files defined in /etc/systemd/system: " +
      JoinList(refused, "; ") +
      ". Remove or disable them yourself (the module masks units only by a link there), or set "
      "swap_conflicts=report to go on");
}

}  // namespace pvek8s::kernel_tuning
