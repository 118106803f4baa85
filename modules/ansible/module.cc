#include "modules/ansible/module.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace pvek8s::ansible {
namespace {

using nlohmann::json;

std::string ReplaceAll(std::string text, const std::string& needle, std::string_view with) {
  if (needle.empty()) return text;
  size_t pos = 0;
  while ((pos = text.find(needle, pos)) != std::string::npos) {
    text.replace(pos, needle.size(), with);
    pos += with.size();
  }
  return text;
}

// Masks secrets in every string of `v`, object keys included: a secret can
// surface anywhere, e.g. inside a command line echoed in an error.
json Mask(const json& v, const std::vector<std::string>& secrets) {
  if (secrets.empty()) return v;
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    for (const std::string& secret : secrets) s = ReplaceAll(std::move(s), secret, kNoLogMask);
    return s;
  }
  if (v.is_array()) {
    json out = json::array();
    for (const json& item : v) out.push_back(Mask(item, secrets));
    return out;
  }
  if (v.is_object()) {
    json out = json::object();
    for (const auto& item : v.items()) {
      out[Mask(json(item.key()), secrets).get<std::string>()] = Mask(item.value(), secrets);
    }
    return out;
  }
  // A secret can be a number (no_log: true on an int): mask it as a whole.
  if (v.is_number() || v.is_boolean()) {
    std::string text = v.dump();
    for (const std::string& secret : secrets) {
      if (text == secret) return std::string(kNoLogMask);
    }
  }
  return v;
}

std::string Dump(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

// Longest secrets first, so that a secret containing a shorter one is masked whole.
std::vector<std::string> SortedSecrets(std::vector<std::string> secrets) {
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  secrets.erase(std::unique(secrets.begin(), secrets.end()), secrets.end());
  return secrets;
}

json TaskArgs(const json& raw) {
  json out = json::object();
  if (!raw.is_object()) return out;
  for (const auto& item : raw.items()) {
    if (item.key().rfind("_ansible_", 0) != 0) out[item.key()] = item.value();
  }
  return out;
}

constexpr std::string_view kHiddenInvocation =
    "The output has been hidden due to the fact that 'no_log: true' was specified for this result";

}  // namespace

AnsibleFlags ParseAnsibleFlags(const json& raw) {
  AnsibleFlags f;
  if (!raw.is_object()) return f;
  auto flag = [&](const char* key, bool& dst) {
    auto it = raw.find(key);
    if (it == raw.end()) return;
    if (std::optional<bool> b = ParseBoolean(*it)) dst = *b;
  };
  flag("_ansible_check_mode", f.check_mode);
  flag("_ansible_diff", f.diff);
  flag("_ansible_no_log", f.no_log);
  flag("_ansible_keep_remote_files", f.keep_remote_files);
  if (auto it = raw.find("_ansible_verbosity"); it != raw.end() && it->is_number_integer()) {
    f.verbosity = it->get<int>();
  }
  if (auto it = raw.find("_ansible_module_name"); it != raw.end() && it->is_string()) {
    f.module_name = it->get<std::string>();
  }
  return f;
}

StatusOr<json> LoadArgsFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    return Status(err == ENOENT ? StatusCode::kNotFound : StatusCode::kInvalidArgument,
                  "cannot open the arguments file " + path + ": " + std::strerror(err));
  }
  std::string text;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return InvalidArgumentError("cannot read the arguments file " + path + ": " +
                                  std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  json parsed = json::parse(text, nullptr, false);
  bool keep =
      !parsed.is_discarded() && parsed.is_object() && ParseAnsibleFlags(parsed).keep_remote_files;
  if (!keep) ::unlink(path.c_str());
  if (parsed.is_discarded() || !parsed.is_object()) {
    return InvalidArgumentError("the arguments file " + path + " does not hold a JSON object");
  }
  return parsed;
}

Result Failure(std::string msg) {
  Result r;
  r.failed = true;
  r.msg = std::move(msg);
  return r;
}

Module::Module(AnsibleFlags flags, ValidatedArgs args, json raw_args)
    : flags_(std::move(flags)), args_(std::move(args)), raw_args_(std::move(raw_args)) {
  warnings_ = args_.warnings;
}

void Module::Warn(std::string message) { warnings_.push_back(std::move(message)); }

void Module::AddSecret(std::string value) {
  if (!value.empty()) args_.no_log_values.push_back(std::move(value));
}

std::string Module::Render(const Result& result) const {
  json out = result.extra.is_object() ? result.extra : json::object();
  out["changed"] = result.changed;
  if (result.failed) out["failed"] = true;
  if (!result.msg.empty()) out["msg"] = result.msg;
  if (flags_.diff && !result.diffs.empty()) {
    json diffs = json::array();
    for (const DiffEntry& d : result.diffs) {
      json entry = {{"before", d.before}, {"after", d.after}};
      if (!d.before_header.empty()) entry["before_header"] = d.before_header;
      if (!d.after_header.empty()) entry["after_header"] = d.after_header;
      diffs.push_back(std::move(entry));
    }
    out["diff"] = std::move(diffs);
  }
  if (!warnings_.empty()) out["warnings"] = warnings_;
  if (flags_.no_log) {
    out["invocation"] = {{"module_args", kHiddenInvocation}};
  } else {
    out["invocation"] = {{"module_args", params()}};
  }
  return Dump(Mask(out, SortedSecrets(args_.no_log_values)));
}

std::string RenderEarlyFailure(std::string_view msg, const json& raw_args) {
  AnsibleFlags flags = ParseAnsibleFlags(raw_args);
  json out = {{"failed", true}, {"changed", false}, {"msg", msg}};
  // The spec was not applied, so which values are secret is unknown: show the
  // option names only.
  json names = json::object();
  const json task_args = TaskArgs(raw_args);
  for (const auto& item : task_args.items()) names[item.key()] = kNoLogMask;
  out["invocation"] = {{"module_args", flags.no_log ? json(kHiddenInvocation) : names}};
  return Dump(out);
}

int RunModule(int argc, char** argv, std::string_view default_name, const ArgSpec& spec,
              const std::function<Result(Module&)>& body, std::FILE* out) {
  auto emit = [out](const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), out);
    std::fputc('\n', out);
    std::fflush(out);
  };
  if (argc != 2) {
    emit(RenderEarlyFailure("usage: " + std::string(default_name) +
                                " ARGS_FILE (the JSON arguments file Ansible writes)",
                            json::object()));
    return 1;
  }
  StatusOr<json> raw = LoadArgsFile(argv[1]);
  if (!raw.ok()) {
    emit(RenderEarlyFailure(raw.status().message(), json::object()));
    return 1;
  }
  AnsibleFlags flags = ParseAnsibleFlags(*raw);
  std::string name = flags.module_name.empty() ? std::string(default_name) : flags.module_name;
  StatusOr<ValidatedArgs> args = ValidateArgs(*raw, spec, name);
  if (!args.ok()) {
    emit(RenderEarlyFailure(args.status().message(), *raw));
    return 1;
  }
  Module module(std::move(flags), std::move(args).value(), *raw);
  Result result = body(module);
  emit(module.Render(result));
  return result.failed ? 1 : 0;
}

}  // namespace pvek8s::ansible
