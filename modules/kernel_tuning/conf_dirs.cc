#include <dirent.h>

#include "modules/ansible/file_util.h"
#include "modules/kernel_tuning/internal.h"

namespace pvek8s::kernel_tuning {
namespace {

bool IsConfName(std::string_view name) {
  return name.size() > 5 && name.substr(name.size() - 5) == ".conf" && name[0] != '.';
}

// The directory part of an absolute path ("/etc/sysctl.d/x.conf" -> "/etc/sysctl.d").
std::string_view DirOf(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

}  // namespace

std::map<std::string, std::string> ConfDirFiles(const SystemPaths& sys,
                                                std::span<const std::string_view> dirs,
                                                const PlannedFiles& planned) {
  std::map<std::string, std::string> files;
  for (std::string_view dir : dirs) {
    std::map<std::string, bool> names;  // name -> present after this run
    if (DIR* d = ::opendir(sys.Path(dir).c_str())) {
      while (const dirent* e = ::readdir(d)) {
        if (e->d_type != DT_DIR && IsConfName(e->d_name)) names[e->d_name] = true;
      }
      ::closedir(d);
    }
    for (const auto& [path, content] : planned) {
      if (DirOf(path) != dir || !IsConfName(path.substr(dir.size() + 1))) continue;
      names[path.substr(dir.size() + 1)] = content.has_value();
    }
    for (const auto& [name, present] : names) {
      if (present) files.emplace(name, std::string(dir) + "/" + name);
    }
  }
  return files;
}

StatusOr<std::optional<std::string>> ReadPlanned(const SystemPaths& sys,
                                                 const PlannedFiles& planned,
                                                 const std::string& path) {
  if (auto p = planned.find(path); p != planned.end()) return p->second;
  return ansible::ReadFileIfExists(sys.Path(path));
}

}  // namespace pvek8s::kernel_tuning
