#include "modules/ansible/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace pvek8s::ansible {
namespace {

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

bool IsLocaleVariable(std::string_view entry) {
  return entry.rfind("LC_", 0) == 0 || entry.rfind("LANG=", 0) == 0 ||
         entry.rfind("LANGUAGE=", 0) == 0;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::optional<std::string> FindExecutable(const std::string& name,
                                          const std::vector<std::string>& fallback_dirs) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    if (IsExecutableFile(name)) return name;
    return std::nullopt;
  }
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::string_view p(path);
    size_t start = 0;
    while (start <= p.size()) {
      size_t colon = p.find(':', start);
      if (colon == std::string_view::npos) colon = p.size();
      std::string dir(p.substr(start, colon - start));
      if (!dir.empty()) dirs.push_back(dir);
      start = colon + 1;
    }
  }
  dirs.insert(dirs.end(), fallback_dirs.begin(), fallback_dirs.end());
  for (const std::string& dir : dirs) {
    std::string candidate = dir + "/" + name;
    if (IsExecutableFile(candidate)) return candidate;
  }
  return std::nullopt;
}

namespace {

// The child's environment: the caller's, without its locale variables, with a C
// locale and `extra_env` added. A variable appears once: programs differ in
// which duplicate they read.
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& extra_env) {
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  auto overridden = [&](std::string_view entry) {
    return std::any_of(extra_env.begin(), extra_env.end(),
                       [&](const std::string& x) { return name_of(x) == name_of(entry); });
  };
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (!IsLocaleVariable(*e) && !overridden(*e)) env_strings.emplace_back(*e);
  }
  for (const char* locale : {"LC_ALL=C", "LANG=C"}) {
    if (!overridden(locale)) env_strings.emplace_back(locale);
  }
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  return env_strings;
}

// A null-terminated array pointing into `strings`, which must outlive it.
std::vector<char*> PointerArray(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The child's stdout and stderr, and a pipe on which a failed execve reports
// its errno (it closes on a successful exec: every end is close-on-exec).
struct ChildPipes {
  int out[2];
  int err[2];
  int exec[2];
};

// Opens all three pipes, or none.
Status OpenPipes(ChildPipes& p) {
  if (::pipe2(p.out, O_CLOEXEC) != 0)
    return InternalError("pipe: " + std::string(std::strerror(errno)));
  if (::pipe2(p.err, O_CLOEXEC) != 0) {
    ::close(p.out[0]);
    ::close(p.out[1]);
    return InternalError("pipe: " + std::string(std::strerror(errno)));
  }
  if (::pipe2(p.exec, O_CLOEXEC) != 0) {
    for (int fd : {p.out[0], p.out[1], p.err[0], p.err[1]}) ::close(fd);
    return InternalError("pipe: " + std::string(std::strerror(errno)));
  }
  return Status::Ok();
}

// Runs in the forked child: only async-signal-safe calls from here on.
[[noreturn]] void ExecChild(const char* program, char* const* argp, char* const* envp,
                            const ChildPipes& p, int devnull) {
  ::setpgid(0, 0);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(p.out[1], 1);
  ::dup2(p.err[1], 2);
  ::signal(SIGPIPE, SIG_DFL);
  ::execve(program, argp, envp);
  int err = errno;
  ssize_t ignored = ::write(p.exec[1], &err, sizeof(err));
  (void)ignored;
  ::_exit(127);
}

// Reads the child's stdout and stderr into `result` until both close or the
// deadline passes (then the child's process group is killed). Closes both fds.
void CollectOutput(int out_fd, int err_fd, pid_t pid, std::chrono::milliseconds timeout,
                   CommandResult& result) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t r = ::read(fds[i].fd, buf, sizeof(buf));
      if (r > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
}

}  // namespace

StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout,
                                   const std::vector<std::string>& extra_env) {
  if (argv.empty()) return InvalidArgumentError("empty command");
  std::optional<std::string> program = FindExecutable(argv[0]);
  if (!program) return NotFoundError(argv[0] + ": command not found");

  // Everything the child needs is prepared before fork: after fork only
  // async-signal-safe calls are allowed.
  std::vector<std::string> env_strings = ChildEnvironment(extra_env);
  std::vector<char*> envp = PointerArray(env_strings);
  std::vector<std::string> args = argv;
  std::vector<char*> argp = PointerArray(args);

  ChildPipes pipes;
  PVEK8S_RETURN_IF_ERROR(OpenPipes(pipes));
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    for (int fd : {pipes.out[0], pipes.out[1], pipes.err[0], pipes.err[1], pipes.exec[0],
                   pipes.exec[1], devnull}) {
      if (fd >= 0) ::close(fd);
    }
    return InternalError("fork: " + std::string(std::strerror(err)));
  }
  if (pid == 0) ExecChild(program->c_str(), argp.data(), envp.data(), pipes, devnull);
  ::setpgid(pid, pid);  // Also from the parent, so the group exists before any kill.
  ::close(pipes.out[1]);
  ::close(pipes.err[1]);
  ::close(pipes.exec[1]);
  if (devnull >= 0) ::close(devnull);

  CommandResult result;
  int exec_errno = 0;
  ssize_t got = ::read(pipes.exec[0], &exec_errno, sizeof(exec_errno));
  ::close(pipes.exec[0]);
  CollectOutput(pipes.out[0], pipes.err[0], pid, timeout, result);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof(exec_errno))) {
    return Status(exec_errno == ENOENT ? StatusCode::kNotFound : StatusCode::kPermissionDenied,
                  "cannot execute " + *program + ": " + std::strerror(exec_errno));
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

std::string DescribeFailure(const std::vector<std::string>& argv, const CommandResult& result) {
  std::string cmd;
  for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  std::string how;
  if (result.timed_out) {
    how = "timed out";
  } else if (result.signal != 0) {
    how = "killed by signal " + std::to_string(result.signal);
  } else {
    how = "failed (exit " + std::to_string(result.exit_code) + ")";
  }
  std::string detail = Trimmed(result.err.empty() ? result.out : result.err);
  return cmd + " " + how + (detail.empty() ? "" : ": " + detail);
}

}  // namespace pvek8s::ansible
