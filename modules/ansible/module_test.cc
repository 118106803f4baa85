#include "modules/ansible/module.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>

#include "modules/ansible/testing.h"

namespace pvek8s::ansible {
namespace {

using nlohmann::json;
using testing::Exists;
using testing::TempDir;
using testing::WriteText;

ArgSpec Spec() {
  ArgSpec spec;
  spec.params = {
      Param("name").Required(),
      Param("token").NoLog(),
  };
  return spec;
}

// Runs RunModule on an args file holding `args` and returns what it printed.
struct Run {
  int rc = -1;
  std::string stdout_text;
  json result;
  bool args_file_left = false;
};

Run RunWith(const json& args, const std::function<Result(Module&)>& body,
            const ArgSpec& spec = Spec()) {
  TempDir dir;
  std::string args_path = dir / "args";
  WriteText(args_path, args.dump());
  std::string argv0 = dir / "AnsiballZ_m";
  std::vector<char*> argv = {argv0.data(), args_path.data(), nullptr};
  std::FILE* out = std::tmpfile();
  Run run;
  run.rc = RunModule(2, argv.data(), "gcid.k8s.m", spec, body, out);
  std::rewind(out);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), out)) > 0) run.stdout_text.append(buf, n);
  std::fclose(out);
  run.result = json::parse(run.stdout_text, nullptr, false);
  run.args_file_left = Exists(args_path);
  return run;
}

Result Ok(Module&) {
  Result r;
  r.changed = true;
  r.msg = "done";
  return r;
}

TEST_CASE("prints exactly one JSON line and deletes the args file") {
  Run run = RunWith(json{{"name", "x"}}, Ok);
  CHECK(run.rc == 0);
  CHECK(std::count(run.stdout_text.begin(), run.stdout_text.end(), '\n') == 1);
  REQUIRE_FALSE(run.result.is_discarded());
  CHECK(run.result["changed"] == true);
  CHECK(run.result["msg"] == "done");
  CHECK_FALSE(run.result.contains("failed"));
  CHECK(run.result["invocation"]["module_args"]["name"] == "x");
  CHECK_FALSE(run.args_file_left);
}

TEST_CASE("_ansible_keep_remote_files keeps the args file") {
  Run run = RunWith(json{{"name", "x"}, {"_ansible_keep_remote_files", true}}, Ok);
  CHECK(run.args_file_left);
}

TEST_CASE("validation failures are failed results naming the parameter") {
  Run run = RunWith(json{{"nme", "x"}, {"_ansible_module_name", "kt"}}, Ok);
  CHECK(run.rc == 1);
  CHECK(run.result["failed"] == true);
  CHECK(run.result["changed"] == false);
  CHECK(run.result["msg"].get<std::string>().find("Unsupported parameters for (kt) module: nme") ==
        0);
  CHECK_FALSE(run.args_file_left);
}

TEST_CASE("an unreadable args file is a failed result, not silence") {
  std::string argv0 = "m";
  std::string missing = "/nonexistent/args";
  std::vector<char*> argv = {argv0.data(), missing.data(), nullptr};
  std::FILE* out = std::tmpfile();
  CHECK(RunModule(2, argv.data(), "m", Spec(), Ok, out) == 1);
  std::rewind(out);
  char buf[1024] = {};
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, out);
  std::fclose(out);
  json r = json::parse(std::string(buf, n), nullptr, false);
  CHECK(r["failed"] == true);
  CHECK(r["msg"].get<std::string>().find("/nonexistent/args") != std::string::npos);

  TempDir dir;
  WriteText(dir / "args", "{not json");
  std::string bad = dir / "args";
  argv[1] = bad.data();
  out = std::tmpfile();
  CHECK(RunModule(2, argv.data(), "m", Spec(), Ok, out) == 1);
  std::fclose(out);
  CHECK_FALSE(Exists(bad));  // Deleted even though it did not parse: it may hold secrets.
}

TEST_CASE("no_log values are masked everywhere, _ansible_no_log hides all arguments") {
  auto leak = [](Module& m) {
    Result r = Failure("join failed with token " + m.params()["token"].get<std::string>());
    r.extra["cmd"] = "kubeadm join --token " + m.params()["token"].get<std::string>();
    m.Warn("retrying with " + m.params()["token"].get<std::string>());
    return r;
  };
  Run run = RunWith(json{{"name", "x"}, {"token", "abcdef.0123456789abcdef"}}, leak);
  CHECK(run.rc == 1);
  CHECK(run.stdout_text.find("abcdef.0123456789abcdef") == std::string::npos);
  CHECK(run.result["invocation"]["module_args"]["token"] == std::string(kNoLogMask));
  CHECK(run.result["invocation"]["module_args"]["name"] == "x");
  CHECK(run.result["msg"] == "join failed with token " + std::string(kNoLogMask));

  Run hidden = RunWith(json{{"name", "x"}, {"_ansible_no_log", true}}, Ok);
  CHECK(hidden.result["invocation"]["module_args"].is_string());
  CHECK(hidden.stdout_text.find("\"x\"") == std::string::npos);
}

// Found by ansible_args_fuzz: when validation failed, the message could quote
// a no_log value (a refused choice, or the same text given to another option)
// and was printed unmasked.
TEST_CASE("a validation failure masks the no_log values given") {
  ArgSpec spec;
  spec.params = {Param("name").Required(), Param("token").NoLog().Aliases({"join_token"}),
                 Param("count", ParamType::kInt)};
  Run run = RunWith(json{{"name", "x"}, {"join_token", "s3cret"}, {"count", "s3cret"}}, Ok, spec);
  CHECK(run.rc == 1);
  CHECK(run.result["failed"] == true);
  CHECK(run.stdout_text.find("s3cret") == std::string::npos);
  CHECK(run.result["msg"].get<std::string>().find("invalid literal for int() with base 10: '" +
                                                  std::string(kNoLogMask) + "'") !=
        std::string::npos);
  // The module name and unsupported option names are masked too.
  Run named = RunWith(json{{"name", "x"}, {"token", "s3cret"}, {"s3cret", 1}}, Ok, spec);
  CHECK(named.rc == 1);
  CHECK(named.stdout_text.find("s3cret") == std::string::npos);
  CHECK(named.result["invocation"]["module_args"].contains("name"));
}

// Found by ansible_args_fuzz: a secret such as "an" was masked inside the
// result's own keys, so `changed` became "ch<mask>ged" and Ansible saw no
// change (or no failure).
TEST_CASE("masking leaves the keys Ansible reads intact") {
  auto body = [](Module& m) {
    Result r = Failure("token " + m.params()["token"].get<std::string>());
    r.changed = true;
    r.extra["manifest"] = json{{"an", "an"}};
    r.diffs.push_back({"an\n", "b\n", "before an", "after"});
    return r;
  };
  Run run = RunWith(json{{"name", "x"}, {"token", "an"}, {"_ansible_diff", true}}, body);
  const std::string mask(kNoLogMask);
  CHECK(run.result["changed"] == true);
  CHECK(run.result["failed"] == true);
  CHECK(run.result["msg"] == "token " + mask);
  REQUIRE(run.result["diff"].is_array());
  CHECK(run.result["diff"][0]["before"] == mask + "\n");
  CHECK(run.result["diff"][0]["before_header"] == "before " + mask);
  CHECK(run.result["invocation"]["module_args"]["token"] == mask);
  CHECK(run.result["invocation"]["module_args"]["name"] == "x");
  // Keys below the module's own are data, and masked.
  CHECK(run.result["manifest"] == json{{mask, mask}});

  // A secret equal to a boolean's text does not turn `changed` into a string.
  Run truthy = RunWith(json{{"name", "x"}, {"token", "false"}}, Ok);
  CHECK(truthy.result["changed"] == true);
  CHECK(truthy.result["invocation"]["module_args"]["token"] == mask);
}

// Seen while writing ansible_args_fuzz's leak check: secrets were replaced one
// after the other, so of two overlapping ones the second was left in part
// ("abcdef" with "abc" and "cde" printed "<mask>def"), and a mask could combine
// with the text after it into something a shorter secret then cut.
TEST_CASE("overlapping secrets are masked whole") {
  ArgSpec spec = Spec();
  spec.params.push_back(Param("pin").NoLog());
  auto body = [](Module& m) {
    m.AddSecret("cde");
    return Failure("abcdef");
  };
  Run run = RunWith(json{{"name", "x"}, {"token", "abc"}}, body, spec);
  CHECK(run.result["msg"] == std::string(kNoLogMask) + "f");
  Run adjacent = RunWith(
      json{{"name", "x"}, {"token", "ET"}, {"pin", "Rz"}}, [](Module&) { return Failure("ETz"); },
      spec);
  CHECK(adjacent.result["msg"] == std::string(kNoLogMask) + "z");
}

// A no_log boolean is not a masked text (every "true" would be garbled), but
// the invocation still hides it.
TEST_CASE("a no_log boolean is hidden in the invocation only") {
  ArgSpec spec = Spec();
  spec.params.push_back(Param("secret_flag", ParamType::kBool).NoLog());
  Run run = RunWith(
      json{{"name", "x"}, {"secret_flag", true}}, [](Module&) { return Failure("it is true"); },
      spec);
  CHECK(run.result["msg"] == "it is true");
  CHECK(run.result["invocation"]["module_args"]["secret_flag"] == std::string(kNoLogMask));
  CHECK(run.result["invocation"]["module_args"]["token"] == nullptr);
}

TEST_CASE("check and diff flags reach the module; diff is returned only in diff mode") {
  auto body = [](Module& m) {
    Result r;
    r.changed = true;
    r.extra["saw_check"] = m.check_mode();
    r.diffs.push_back({"a\n", "b\n", "/etc/x (before)", "/etc/x (after)"});
    return r;
  };
  Run plain = RunWith(json{{"name", "x"}}, body);
  CHECK(plain.result["saw_check"] == false);
  CHECK_FALSE(plain.result.contains("diff"));
  Run both =
      RunWith(json{{"name", "x"}, {"_ansible_check_mode", true}, {"_ansible_diff", "yes"}}, body);
  CHECK(both.result["saw_check"] == true);
  REQUIRE(both.result["diff"].is_array());
  CHECK(both.result["diff"][0]["before"] == "a\n");
  CHECK(both.result["diff"][0]["after_header"] == "/etc/x (after)");
}

TEST_CASE("warnings and invalid UTF-8 survive rendering") {
  auto body = [](Module& m) {
    m.Warn("careful");
    Result r;
    r.msg = std::string("bad \xff byte");
    return r;
  };
  Run run = RunWith(json{{"name", "x"}}, body);
  REQUIRE_FALSE(run.result.is_discarded());
  CHECK(run.result["warnings"] == json{"careful"});
}

TEST_CASE("wrong argument count fails cleanly") {
  std::string argv0 = "m";
  std::vector<char*> argv = {argv0.data(), nullptr};
  std::FILE* out = std::tmpfile();
  CHECK(RunModule(1, argv.data(), "m", Spec(), Ok, out) == 1);
  std::fclose(out);
}

}  // namespace
}  // namespace pvek8s::ansible
