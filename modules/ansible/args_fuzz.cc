// libFuzzer target for the binary-module runtime's input path: the bytes are
// the args file Ansible would write, and RunModule reads, validates and
// answers it exactly as a module binary does. Built only with clang (see
// CMakeLists.txt). Checked on every input, besides memory safety:
//  - exactly one line is printed, and it is a JSON object with a boolean
//    `changed`, `failed` true exactly when the exit code is 1, and an
//    `invocation` holding `module_args`;
//  - the args file is gone afterwards unless it asked to be kept;
//  - no value given for a no_log option (nor its converted form) appears in
//    the output: not in messages, warnings, diffs, invocation or module keys.
// A violation aborts, so libFuzzer reports it like a crash.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "modules/ansible/args.h"
#include "modules/ansible/module.h"

namespace {

using nlohmann::json;
using pvek8s::ansible::ArgSpec;
using pvek8s::ansible::kNoLogMask;
using pvek8s::ansible::Module;
using pvek8s::ansible::Param;
using pvek8s::ansible::ParamType;
using pvek8s::ansible::Result;

void Check(bool ok) {
  if (!ok) std::abort();
}

// Every option type, required, defaults, choices, aliases, no_log on scalars,
// lists and dicts, and mutually exclusive groups: the features the gcid.k8s
// modules use, in one spec.
const ArgSpec& Spec() {
  static const ArgSpec* spec = [] {
    auto* s = new ArgSpec;
    s->params = {
        Param("name").Required().Aliases({"host"}),
        Param("token").NoLog().Aliases({"join_token"}),
        Param("pin", ParamType::kInt).NoLog(),
        Param("count", ParamType::kInt).Default(3),
        Param("level", ParamType::kInt).Choices({"1", "2", "3"}),
        Param("enabled", ParamType::kBool).Default(false),
        Param("secret_flag", ParamType::kBool).NoLog(),
        Param("state").Choices({"present", "absent", "check"}).Default("present"),
        Param("mode").Choices({"fast", "safe"}).NoLog(),
        Param("sans", ParamType::kList).Elements(ParamType::kStr),
        Param("ports", ParamType::kList).Elements(ParamType::kInt),
        Param("keys", ParamType::kList).NoLog(),
        Param("labels", ParamType::kDict),
        Param("settings", ParamType::kDict).NoLog(),
        Param("config_path", ParamType::kPath).Default("~/.kube/config"),
        Param("key_path", ParamType::kPath).NoLog(),
        Param("extra", ParamType::kRaw),
    };
    s->mutually_exclusive = {{"token", "pin"}, {"sans", "labels"}};
    return s;
  }();
  return *spec;
}

// The string forms of a no_log value, as Ansible collects them: strings and
// numbers, inside lists and dict values too; booleans and nulls carry nothing.
void Secrets(const json& v, std::set<std::string>& out) {
  if (v.is_array() || v.is_object()) {
    for (const json& item : v) Secrets(item, out);
  } else if (v.is_string()) {
    if (!v.get<std::string>().empty()) out.insert(v.get<std::string>());
  } else if (v.is_number()) {
    out.insert(v.dump());
  }
}

// Names the module itself defines (result keys, the invocation's and diffs'
// structure, option names): these may coincide with a secret's text.
const std::set<std::string>& DefinedNames() {
  static const std::set<std::string>* names = [] {
    auto* n = new std::set<std::string>{
        "changed",     "failed", "msg",           "warnings",     "diff",
        "before",      "after",  "before_header", "after_header", "invocation",
        "module_args", "params", "secrets_seen"};
    for (const auto& p : Spec().params) {
      n->insert(p.name);
      n->insert(p.aliases.begin(), p.aliases.end());
    }
    return n;
  }();
  return *names;
}

// True when `text`, cut at every mask, has a piece holding a secret.
bool Leaks(std::string_view text, const std::set<std::string>& secrets) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(kNoLogMask, start);
    std::string_view piece = text.substr(start, end == std::string_view::npos ? end : end - start);
    for (const std::string& s : secrets) {
      if (piece.find(s) != std::string_view::npos) return true;
    }
    if (end == std::string_view::npos) break;
    start = end + kNoLogMask.size();
  }
  return false;
}

void CheckNoLeak(const json& v, const std::set<std::string>& secrets) {
  if (v.is_string()) {
    Check(!Leaks(v.get<std::string>(), secrets));
  } else if (v.is_number()) {
    Check(secrets.count(v.dump()) == 0);
  } else if (v.is_array()) {
    for (const json& item : v) CheckNoLeak(item, secrets);
  } else if (v.is_object()) {
    for (const auto& item : v.items()) {
      if (DefinedNames().count(item.key()) == 0) Check(!Leaks(item.key(), secrets));
      CheckNoLeak(item.value(), secrets);
    }
  }
}

std::string Text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// What the module body saw as no_log values after conversion.
std::set<std::string>* g_converted_secrets = nullptr;

// A careless module: it echoes every parameter, secrets included, in its
// message, a warning, a diff and its own keys; Render has to mask them all.
Result Body(Module& m) {
  Result r;
  std::string all;
  for (const auto& p : Spec().params) {
    const json& v = m.params()[p.name];
    all += p.name + "=" + Text(v) + "\n";
    if (p.no_log) Secrets(v, *g_converted_secrets);
  }
  r.msg = all;
  r.changed = m.params()["enabled"] == true;
  r.failed = m.params()["state"] == "absent";
  r.extra["params"] = m.params();
  r.diffs.push_back({"", all, "before", Text(m.params()["token"])});
  m.Warn(Text(m.params()["mode"]));
  return r;
}

// A directory for the args file: under $TMPDIR, else /dev/shm (memory, as
// every input writes a file), else /tmp. Removed when the run ends normally.
std::string g_dir;

void RemoveDir() {
  ::unlink((g_dir + "/args").c_str());
  ::rmdir(g_dir.c_str());
}

std::string TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = base != nullptr && *base != '\0'  ? base
                     : ::access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                       : "/tmp";
  tmpl += "/ansible_args_fuzz-XXXXXX";
  Check(::mkdtemp(tmpl.data()) != nullptr);
  g_dir = tmpl;
  std::atexit(RemoveDir);
  return tmpl;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = TempDir();
  static const std::string args_path = dir + "/args";
  {
    int fd = ::open(args_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    Check(fd >= 0);
    Check(::write(fd, data, size) == static_cast<ssize_t>(size));
    ::close(fd);
  }
  // What the test knows independently of the runtime: the secrets as given.
  std::set<std::string> secrets;
  bool keep = false;
  json raw = json::parse(reinterpret_cast<const char*>(data),
                         reinterpret_cast<const char*>(data) + size, nullptr, false);
  if (!raw.is_discarded() && raw.is_object()) {
    for (const auto& p : Spec().params) {
      if (!p.no_log) continue;
      if (raw.contains(p.name)) Secrets(raw[p.name], secrets);
      for (const std::string& a : p.aliases) {
        if (raw.contains(a)) Secrets(raw[a], secrets);
      }
    }
    keep = pvek8s::ansible::ParseAnsibleFlags(raw).keep_remote_files;
  }

  std::set<std::string> converted;
  g_converted_secrets = &converted;
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* out = ::open_memstream(&buf, &len);
  Check(out != nullptr);
  std::string argv0 = dir + "/AnsiballZ_fuzz";
  std::string argv1 = args_path;
  char* argv[] = {argv0.data(), argv1.data(), nullptr};
  int rc = pvek8s::ansible::RunModule(2, argv, "gcid.k8s.fuzz", Spec(), Body, out);
  std::fclose(out);
  std::string printed(buf, len);
  std::free(buf);
  g_converted_secrets = nullptr;

  struct stat st;
  const bool left = ::stat(args_path.c_str(), &st) == 0;
  Check(left == keep);
  if (left) ::unlink(args_path.c_str());

  // One line, one JSON object, the protocol keys with their types.
  Check(!printed.empty() && printed.back() == '\n');
  Check(printed.find('\n') == printed.size() - 1);
  json result = json::parse(printed, nullptr, false);
  Check(!result.is_discarded() && result.is_object());
  Check(result.contains("changed") && result["changed"].is_boolean());
  const bool failed = result.contains("failed");
  Check(!failed || result["failed"] == true);
  Check(failed == (rc == 1));
  Check(result.contains("invocation") && result["invocation"].contains("module_args"));

  secrets.insert(converted.begin(), converted.end());
  CheckNoLeak(result, secrets);
  return 0;
}
