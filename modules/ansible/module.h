// The life cycle of an Ansible binary module: load the args file, validate,
// run, print exactly one JSON result.
//
// ansible-core 2.14 runs a binary module as `<module> <tmpdir>/args`, where the
// args file is one flat JSON object (task options plus _ansible_* keys). It
// parses the first JSON object on stdout and ignores the exit code, so the only
// hard rule is: exactly one JSON object on stdout and nothing else. Check mode
// and diff mode cannot be declared by binary modules; they arrive as
// _ansible_check_mode / _ansible_diff and the module must honour them itself.
#ifndef MODULES_ANSIBLE_MODULE_H_
#define MODULES_ANSIBLE_MODULE_H_

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "modules/ansible/args.h"
#include "provider/base/status.h"

namespace pvek8s::ansible {

// Replaces the values of no_log options wherever they appear in output.
inline constexpr std::string_view kNoLogMask = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER";

// The internal keys Ansible adds to every args file that modules act on.
struct AnsibleFlags {
  bool check_mode = false;         // _ansible_check_mode: change nothing, report.
  bool diff = false;               // _ansible_diff: return `diff`.
  bool no_log = false;             // _ansible_no_log: hide every parameter value.
  bool keep_remote_files = false;  // _ansible_keep_remote_files: keep the args file.
  int verbosity = 0;               // _ansible_verbosity.
  std::string module_name;         // _ansible_module_name, as written in the task.
};

// Reads the _ansible_* keys of an args object; missing or malformed keys keep
// their defaults. Precondition: `raw` is an object.
AnsibleFlags ParseAnsibleFlags(const nlohmann::json& raw);

// Reads and parses the args file at `path`, then deletes it unless it asks to
// be kept (_ansible_keep_remote_files): the file can hold secrets such as join
// tokens, and nothing reads it again. It is deleted even when it does not parse.
// Returns the parsed object, or kInvalidArgument / kNotFound.
StatusOr<nlohmann::json> LoadArgsFile(const std::string& path);

// One `diff` entry as Ansible's callbacks render it.
struct DiffEntry {
  std::string before;
  std::string after;
  std::string before_header;
  std::string after_header;
};

// What a module reports. Ansible reads `changed`, `failed`, `msg`, `diff`,
// `warnings`; everything in `extra` is returned as module-specific keys.
struct Result {
  bool changed = false;
  bool failed = false;
  std::string msg;
  std::vector<DiffEntry> diffs;
  nlohmann::json extra = nlohmann::json::object();
};

// A failed Result carrying `msg`.
Result Failure(std::string msg);

// A loaded and validated invocation, handed to the module's logic.
class Module {
 public:
  Module(AnsibleFlags flags, ValidatedArgs args, nlohmann::json raw_args);

  const AnsibleFlags& flags() const { return flags_; }
  bool check_mode() const { return flags_.check_mode; }
  bool diff_mode() const { return flags_.diff; }
  // Validated options under their canonical names (see ValidateArgs).
  const nlohmann::json& params() const { return args_.params; }

  // Adds a warning shown by Ansible as "[WARNING]: ...".
  void Warn(std::string message);
  // Registers one more secret to mask in output (e.g. a token read from disk).
  void AddSecret(std::string value);

  // Serialises `result` as the one JSON line to print: adds `invocation`
  // (module_args with no_log values masked, or hidden entirely under
  // _ansible_no_log), `warnings`, and `diff` only in diff mode; masks secrets in
  // every string. Invalid UTF-8 is replaced rather than failing.
  std::string Render(const Result& result) const;

 private:
  AnsibleFlags flags_;
  ValidatedArgs args_;
  nlohmann::json raw_args_;
  std::vector<std::string> warnings_;
};

// Renders a failure that happened before a Module existed (unreadable args
// file, failed validation), with whatever flags and invocation are known: the
// option names only, never their values. `secrets` (RawNoLogValues of the
// args) are masked in the message and the names.
std::string RenderEarlyFailure(std::string_view msg, const nlohmann::json& raw_args,
                               const std::vector<std::string>& secrets = {});

// The whole life cycle: loads argv[1], validates it against `spec` (naming the
// module `default_name` unless the task named it otherwise), runs `body`,
// prints exactly one JSON line to `out`, and returns the process exit code
// (0 on success, 1 on failure; Ansible itself only reads `failed`).
int RunModule(int argc, char** argv, std::string_view default_name, const ArgSpec& spec,
              const std::function<Result(Module&)>& body, std::FILE* out = stdout);

}  // namespace pvek8s::ansible

#endif  // MODULES_ANSIBLE_MODULE_H_
