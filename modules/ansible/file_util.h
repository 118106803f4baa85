// File operations for modules that edit system configuration.
//
// Configuration files under /etc are read by daemons at any moment and may be
// symlinks (e.g. /etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf). Writes
// therefore go through a temporary file in the destination's own directory
// (rename never crosses a mount), keep the owner and mode of the file they
// replace, and refuse to follow a symlink that leads out of that directory, so a
// planted link cannot redirect a root-owned write elsewhere.
#ifndef MODULES_ANSIBLE_FILE_UTIL_H_
#define MODULES_ANSIBLE_FILE_UTIL_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "provider/base/status.h"

namespace pvek8s::ansible {

// Reads a whole file. nullopt (not an error) when it does not exist; an error
// for anything else (permission, a directory, I/O).
StatusOr<std::optional<std::string>> ReadFileIfExists(const std::string& path);

// Atomically replaces the content of `path` with `content`.
// - The directory of `path` must exist; it is not created.
// - When `path` is a symlink whose target is a plain name in the same directory
//   (also transitively, up to 8 links), the target is written instead; any other
//   symlink is refused with kPermissionDenied and nothing is written.
// - An existing file keeps its owner, group and mode; a new one gets
//   `new_file_mode` and the caller's owner.
// - The data is fsynced before the rename and the directory after it.
Status AtomicWriteFile(const std::string& path, std::string_view content,
                       mode_t new_file_mode = 0644);

// Removes `path` (a symlink itself, never its target). OK when it is already gone.
Status RemoveFile(const std::string& path);

// The directory part and the last component of `path` ("/a/b" -> "/a", "b";
// "b" -> ".", "b").
std::pair<std::string, std::string> SplitPath(const std::string& path);

// A file only its owner can read (mode 0600) holding secrets for a command,
// removed when this object goes away, whatever happens in between.
class PrivateTempFile {
 public:
  // Creates the file from `prefix` (e.g. "/tmp/pvek8s-join-") and writes `content`.
  static StatusOr<std::unique_ptr<PrivateTempFile>> Create(const std::string& prefix,
                                                           std::string_view content);
  ~PrivateTempFile();
  PrivateTempFile(const PrivateTempFile&) = delete;
  PrivateTempFile& operator=(const PrivateTempFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  explicit PrivateTempFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace pvek8s::ansible

#endif  // MODULES_ANSIBLE_FILE_UTIL_H_
