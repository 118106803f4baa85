// Test helpers shared by the module unit tests. Not linked into modules.
#ifndef MODULES_ANSIBLE_TESTING_H_
#define MODULES_ANSIBLE_TESTING_H_

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace pvek8s::ansible::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its content on scope exit.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/pvek8s-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Writes `content` to `path`, creating parent directories.
inline void WriteText(const std::string& path, const std::string& content, mode_t mode = 0644) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  ::chmod(path.c_str(), mode);
}

// The content of `path`, or "<missing>".
inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "<missing>";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Module binaries are static and stripped, except in sanitizer builds
// (PVEK8S_SANITIZED_BUILD, see modules/CMakeLists.txt): the sanitizer runtime
// needs the dynamic loader, and reports need symbols. Tests check the shape
// the build promises, and allow an instrumented binary four times the size.
#ifdef PVEK8S_SANITIZED_BUILD
inline constexpr bool kStaticModuleBinaries = false;
inline constexpr size_t kModuleBinaryMaxBytes = size_t{12} * 1024 * 1024;
#else
inline constexpr bool kStaticModuleBinaries = true;
inline constexpr size_t kModuleBinaryMaxBytes = size_t{3} * 1024 * 1024;
#endif

// True when `path` is a 64-bit ELF executable without a program interpreter
// or dynamic section, i.e. statically linked: it needs no glibc of any version.
inline bool IsStaticElf(const std::string& path) {
  std::string elf = ReadText(path);
  Elf64_Ehdr eh;
  if (elf.size() < sizeof(eh)) return false;
  std::memcpy(&eh, elf.data(), sizeof(eh));
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
    return false;
  }
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    size_t off = eh.e_phoff + static_cast<size_t>(i) * eh.e_phentsize;
    if (off + sizeof(ph) > elf.size()) return false;
    std::memcpy(&ph, elf.data() + off, sizeof(ph));
    if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC) return false;
  }
  return true;
}

}  // namespace pvek8s::ansible::testing

#endif  // MODULES_ANSIBLE_TESTING_H_
