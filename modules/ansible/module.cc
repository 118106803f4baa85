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

// Replaces every stretch of `text` covered by an occurrence of a secret with
// one mask. Occurrences are found in the original text, so overlapping secrets
// ("abc" and "cde" in "abcde") are masked whole, and a mask never combines with
// the text around it into something that is replaced again.
std::string MaskText(const std::string& text, const std::vector<std::string>& secrets) {
  std::vector<bool> covered;
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + 1)) {
      if (covered.empty()) covered.resize(text.size(), false);
      std::fill_n(covered.begin() + static_cast<std::ptrdiff_t>(pos), secret.size(), true);
    }
  }
  if (covered.empty()) return text;
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!covered[i]) {
      out += text[i];
    } else if (i == 0 || !covered[i - 1]) {
      out += kNoLogMask;
    }
  }
  return out;
}

// Masks secrets in every string of `v`, object keys included: a secret can
// surface anywhere, e.g. inside a command line echoed in an error. (The keys
// of the result itself are the module's names; Render does not pass them.)
json Mask(const json& v, const std::vector<std::string>& secrets) {
  if (secrets.empty()) return v;
  if (v.is_string()) return MaskText(v.get_ref<const std::string&>(), secrets);
  if (v.is_array()) {
    json out = json::array();
    for (const json& item : v) out.push_back(Mask(item, secrets));
    return out;
  }
  if (v.is_object()) {
    json out = json::object();
    for (const auto& item : v.items())
      out[MaskText(item.key(), secrets)] = Mask(item.value(), secrets);
    return out;
  }
  // A secret can be a number (no_log: true on an int): mask it as a whole.
  if (v.is_number()) {
    std::string text = v.dump();
    for (const std::string& secret : secrets) {
      if (text == secret) return std::string(kNoLogMask);
    }
  }
  return v;
}

std::string Dump(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

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
  const std::vector<std::string>& secrets = args_.no_log_values;
  // Values are masked; the keys Ansible reads (`changed`, `failed`, `msg`,
  // `diff` and its entries, `invocation`, the module's own result keys and the
  // option names) are the module's words and stay intact, or a secret such as
  // "an" would turn `changed` into something Ansible does not read.
  json out = json::object();
  if (result.extra.is_object()) {
    for (const auto& item : result.extra.items()) out[item.key()] = Mask(item.value(), secrets);
  }
  out["changed"] = result.changed;
  if (result.failed) out["failed"] = true;
  if (!result.msg.empty()) out["msg"] = Mask(json(result.msg), secrets);
  if (flags_.diff && !result.diffs.empty()) {
    json diffs = json::array();
    for (const DiffEntry& d : result.diffs) {
      json entry = {{"before", MaskText(d.before, secrets)}, {"after", MaskText(d.after, secrets)}};
      if (!d.before_header.empty()) entry["before_header"] = MaskText(d.before_header, secrets);
      if (!d.after_header.empty()) entry["after_header"] = MaskText(d.after_header, secrets);
      diffs.push_back(std::move(entry));
    }
    out["diff"] = std::move(diffs);
  }
  if (!warnings_.empty()) out["warnings"] = Mask(json(warnings_), secrets);
  if (flags_.no_log) {
    out["invocation"] = {{"module_args", MaskText(std::string(kHiddenInvocation), secrets)}};
  } else {
    // A no_log option is masked whole, whatever its type (a boolean, too,
    // which is not among the masked texts).
    json module_args = json::object();
    for (const auto& item : params().items()) {
      const bool no_log = std::find(args_.no_log_params.begin(), args_.no_log_params.end(),
                                    item.key()) != args_.no_log_params.end();
      module_args[item.key()] =
          no_log && !item.value().is_null() ? json(kNoLogMask) : Mask(item.value(), secrets);
    }
    out["invocation"] = {{"module_args", std::move(module_args)}};
  }
  return Dump(out);
}

std::string RenderEarlyFailure(std::string_view msg, const json& raw_args,
                               const std::vector<std::string>& secrets) {
  AnsibleFlags flags = ParseAnsibleFlags(raw_args);
  json out = {{"failed", true}, {"changed", false}, {"msg", MaskText(std::string(msg), secrets)}};
  // The values were not validated: show the option names only (the message
  // may quote a value that was meant for a no_log option, hence the mask).
  json names = json::object();
  const json task_args = TaskArgs(raw_args);
  for (const auto& item : task_args.items()) {
    names[MaskText(item.key(), secrets)] = kNoLogMask;
  }
  out["invocation"] = {{"module_args", flags.no_log
                                           ? json(MaskText(std::string(kHiddenInvocation), secrets))
                                           : names}};
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
    emit(RenderEarlyFailure(args.status().message(), *raw, RawNoLogValues(*raw, spec)));
    return 1;
  }
  Module module(std::move(flags), std::move(args).value(), *raw);
  Result result = body(module);
  emit(module.Render(result));
  return result.failed ? 1 : 0;
}

}  // namespace pvek8s::ansible
