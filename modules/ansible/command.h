// Running helper programs (modprobe, swapoff, kubeadm) from a module.
//
// Over SSH a module's stdin is a pty and its stdout is the JSON channel to
// Ansible, so children must never inherit either: they get /dev/null as stdin
// and pipes for stdout and stderr. Their output is parsed, so they run with a C
// locale. A hung child must not hang the play, so every run has a deadline.
#ifndef MODULES_ANSIBLE_COMMAND_H_
#define MODULES_ANSIBLE_COMMAND_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "provider/base/status.h"

namespace pvek8s::ansible {

struct CommandResult {
  int exit_code = -1;      // Exit status, or -1 when killed by a signal.
  int signal = 0;          // The terminating signal, 0 when it exited.
  bool timed_out = false;  // The deadline passed and the process group was killed.
  std::string out;         // Everything written to stdout.
  std::string err;         // Everything written to stderr.

  bool ok() const { return exit_code == 0 && !timed_out; }
};

// Runs argv[0] (a path, or a name searched in $PATH) with the remaining
// arguments, stdin from /dev/null, LC_ALL=C and LANG=C replacing the caller's
// locale variables, plus `extra_env` ("NAME=value") entries, which replace
// variables of the same name (LC_ALL included). The child leads its
// own process group; when `timeout` passes the whole group gets SIGKILL and
// timed_out is set. Returns an error only when the program cannot be started
// (not found, not executable); a failing program is a CommandResult.
StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout,
                                   const std::vector<std::string>& extra_env = {});

// The first executable `name` in $PATH, then in `fallback_dirs`; nullopt if none.
// A name containing '/' is returned as is when it is executable.
std::optional<std::string> FindExecutable(const std::string& name,
                                          const std::vector<std::string>& fallback_dirs = {
                                              "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                              "/usr/bin", "/sbin", "/bin"});

// A one-line description of a finished command for error messages, e.g.
// "modprobe br_netfilter failed (exit 1): FATAL: Module br_netfilter not found".
std::string DescribeFailure(const std::vector<std::string>& argv, const CommandResult& result);

}  // namespace pvek8s::ansible

#endif  // MODULES_ANSIBLE_COMMAND_H_
