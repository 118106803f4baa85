#include "modules/ansible/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <tuple>

namespace pvek8s::ansible {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return InternalError(ErrnoText(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// A random suffix; the name is created with O_EXCL, so a collision only retries.
std::string TempName(const std::string& base) {
  static constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string suffix;
  unsigned long long seed = static_cast<unsigned long long>(::getpid()) * 2654435761ULL;
  static unsigned long long counter = 0;
  seed ^= reinterpret_cast<unsigned long long>(&suffix) + (++counter) * 0x9E3779B97F4A7C15ULL;
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  seed ^= static_cast<unsigned long long>(ts.tv_nsec) << 17;
  for (int i = 0; i < 10; ++i) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    suffix += kAlphabet[seed % kAlphabet.size()];
  }
  return "." + base + ".tmp" + suffix;
}

}  // namespace

std::pair<std::string, std::string> SplitPath(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  std::string dir = path.substr(0, slash);
  if (dir.empty()) dir = "/";
  return {dir, path.substr(slash + 1)};
}

StatusOr<std::optional<std::string>> ReadFileIfExists(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>();
    return Status(errno == EACCES ? StatusCode::kPermissionDenied : StatusCode::kInternal,
                  "cannot open " + path + ": " + ErrnoText(errno));
  }
  Fd guard(fd);
  std::string text;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return InternalError("cannot read " + path + ": " + ErrnoText(errno));
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return std::optional<std::string>(std::move(text));
}

Status AtomicWriteFile(const std::string& path, std::string_view content, mode_t new_file_mode) {
  // Named variables, not a structured binding: the lambda below captures them
  // (clang before 16 refuses to capture bindings).
  std::string dir;
  std::string name;
  std::tie(dir, name) = SplitPath(path);
  if (name.empty() || name == "." || name == "..") {
    return InvalidArgumentError("not a file path: " + path);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return NotFoundError("cannot open directory " + dir + ": " + ErrnoText(errno));
  Fd dir_guard(dfd);

  // Follow symlinks only while they stay inside `dir`.
  struct stat st {};
  bool exists = false;
  for (int depth = 0;; ++depth) {
    if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) {
        return InternalError("cannot stat " + dir + "/" + name + ": " + ErrnoText(errno));
      }
      break;
    }
    if (!S_ISLNK(st.st_mode)) {
      if (!S_ISREG(st.st_mode)) {
        return FailedPreconditionError(dir + "/" + name + " exists and is not a regular file");
      }
      exists = true;
      break;
    }
    char target[4096];
    ssize_t n = ::readlinkat(dfd, name.c_str(), target, sizeof(target) - 1);
    if (n < 0)
      return InternalError("cannot read link " + dir + "/" + name + ": " + ErrnoText(errno));
    std::string link(target, static_cast<size_t>(n));
    if (link.rfind("./", 0) == 0) link = link.substr(2);
    if (depth >= 8 || link.empty() || link.find('/') != std::string::npos || link == "." ||
        link == "..") {
      return PermissionDeniedError("refusing to write " + path + ": it is a symlink to " +
                                   std::string(target, static_cast<size_t>(n)) + ", which leaves " +
                                   dir);
    }
    name = link;
  }

  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    tmp = TempName(name);
    fd = ::openat(dfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  exists ? (st.st_mode & 07777) : new_file_mode);
    if (fd < 0 && errno != EEXIST) {
      return Status(
          errno == EACCES || errno == EROFS ? StatusCode::kPermissionDenied : StatusCode::kInternal,
          "cannot create a temporary file in " + dir + ": " + ErrnoText(errno));
    }
  }
  if (fd < 0) return InternalError("cannot create a temporary file in " + dir);
  Fd file_guard(fd);
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::unlinkat(dfd, tmp.c_str(), 0);
    return InternalError(what + " " + dir + "/" + name + ": " + ErrnoText(err));
  };
  // The umask applies to openat's mode; set the mode explicitly.
  mode_t mode = exists ? (st.st_mode & 07777) : new_file_mode;
  if (::fchmod(fd, mode) != 0) return fail("cannot set the mode of");
  if (exists && (st.st_uid != ::geteuid() || st.st_gid != ::getegid())) {
    if (::fchown(fd, st.st_uid, st.st_gid) != 0) return fail("cannot keep the owner of");
    // chown clears set-id bits; restore them.
    if (::fchmod(fd, mode) != 0) return fail("cannot set the mode of");
  }
  if (Status s = WriteAll(fd, content); !s.ok()) return fail("cannot write");
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::renameat(dfd, tmp.c_str(), dfd, name.c_str()) != 0) return fail("cannot replace");
  ::fsync(dfd);
  return Status::Ok();
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return Status::Ok();
  return InternalError("cannot remove " + path + ": " + ErrnoText(errno));
}

StatusOr<std::unique_ptr<PrivateTempFile>> PrivateTempFile::Create(const std::string& prefix,
                                                                   std::string_view content) {
  std::string path = prefix + "XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) return InternalError("cannot create a temporary file " + path);
  // The owner's object removes the file from here on, even on failure.
  std::unique_ptr<PrivateTempFile> file(new PrivateTempFile(path));
  ::fchmod(fd, 0600);
  ssize_t written = ::write(fd, content.data(), content.size());
  ::close(fd);
  if (written != static_cast<ssize_t>(content.size())) {
    return InternalError("cannot write the temporary file " + path);
  }
  return file;
}

PrivateTempFile::~PrivateTempFile() { ::unlink(path_.c_str()); }

}  // namespace pvek8s::ansible
