#include "modules/ansible/args.h"

#include <doctest/doctest.h>

namespace pvek8s::ansible {
namespace {

using nlohmann::json;

ArgSpec Spec() {
  ArgSpec spec;
  spec.params = {
      Param("name").Required().Aliases({"key"}),
      Param("count", ParamType::kInt).Default(3),
      Param("enabled", ParamType::kBool).Default(false),
      Param("items", ParamType::kList).Elements(ParamType::kStr),
      Param("labels", ParamType::kDict),
      Param("dest", ParamType::kPath),
      Param("state").Default("present").Choices({"present", "absent"}),
      Param("token").NoLog(),
      Param("anything", ParamType::kRaw),
  };
  spec.mutually_exclusive = {{"items", "labels"}};
  return spec;
}

TEST_CASE("defaults fill absent options and _ansible_ keys are ignored") {
  auto r = ValidateArgs(json{{"name", "x"}, {"_ansible_check_mode", true}}, Spec(), "m");
  REQUIRE(r.ok());
  CHECK(r->params["name"] == "x");
  CHECK(r->params["count"] == 3);
  CHECK(r->params["enabled"] == false);
  CHECK(r->params["state"] == "present");
  CHECK(r->params["items"].is_null());
  CHECK(r->params.size() == Spec().params.size());
}

TEST_CASE("unsupported parameters are named with the supported list") {
  auto r = ValidateArgs(json{{"name", "x"}, {"bogus", 1}, {"zzz", 2}}, Spec(), "gcid.k8s.m");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().rfind(
            "Unsupported parameters for (gcid.k8s.m) module: bogus, zzz. Supported parameters "
            "include: anything, count, dest, enabled, items, key, labels, name, state, token.",
            0) == 0);
}

TEST_CASE("missing required arguments are named") {
  auto r = ValidateArgs(json::object(), Spec(), "m");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "missing required arguments: name");
  CHECK(!ValidateArgs(json{{"name", nullptr}}, Spec(), "m").ok());
}

TEST_CASE("aliases map to the canonical name; both given warns") {
  auto r = ValidateArgs(json{{"key", "k"}}, Spec(), "m");
  REQUIRE(r.ok());
  CHECK(r->params["name"] == "k");
  auto both = ValidateArgs(json{{"key", "k"}, {"name", "n"}}, Spec(), "m");
  REQUIRE(both.ok());
  CHECK(both->params["name"] == "n");
  REQUIRE(both->warnings.size() == 1);
  CHECK(both->warnings[0] == "Both option name and its alias key are set.");
}

TEST_CASE("choices are enforced with Ansible's wording") {
  auto r = ValidateArgs(json{{"name", "x"}, {"state", "gone"}}, Spec(), "m");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "value of state must be one of: present, absent, got: gone");
}

TEST_CASE("mutually exclusive options") {
  auto r = ValidateArgs(json{{"name", "x"}, {"items", "a"}, {"labels", "a=b"}}, Spec(), "m");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "parameters are mutually exclusive: items|labels");
  CHECK(ValidateArgs(json{{"name", "x"}, {"items", "a"}, {"labels", nullptr}}, Spec(), "m").ok());
}

TEST_CASE("type conversions follow AnsibleModule") {
  CHECK(ConvertValue(json("12"), ParamType::kInt, "n").value() == 12);
  CHECK(ConvertValue(json(12.0), ParamType::kInt, "n").value() == 12);
  CHECK(ConvertValue(json(-7), ParamType::kInt, "n").value() == -7);
  auto bad_int = ConvertValue(json("12a"), ParamType::kInt, "count");
  REQUIRE_FALSE(bad_int.ok());
  CHECK(bad_int.status().message() ==
        "argument 'count' is of type str and we were unable to convert to int: invalid literal "
        "for int() with base 10: '12a'");
  CHECK_FALSE(ConvertValue(json(1.5), ParamType::kInt, "n").ok());
  CHECK_FALSE(ConvertValue(json::array(), ParamType::kInt, "n").ok());
  // Underscores as Python's int() takes them: one at a time, between digits.
  // ("_" alone used to convert to 0.)
  CHECK(ConvertValue(json(" 1_000 "), ParamType::kInt, "n").value() == 1000);
  CHECK(ConvertValue(json("-1_2_3"), ParamType::kInt, "n").value() == -123);
  for (const char* bad : {"_", "-_", "_1", "1_", "1__0", "+_1"}) {
    CHECK_MESSAGE(!ConvertValue(json(bad), ParamType::kInt, "n").ok(), bad);
  }

  for (const char* t : {"yes", "YES", "on", "true", "1", "y", "t", "True"}) {
    CHECK(ConvertValue(json(t), ParamType::kBool, "b").value() == true);
  }
  for (const char* f : {"no", "off", "false", "0", "n", "f", "False"}) {
    CHECK(ConvertValue(json(f), ParamType::kBool, "b").value() == false);
  }
  CHECK(ConvertValue(json(1), ParamType::kBool, "b").value() == true);
  auto bad_bool = ConvertValue(json("maybe"), ParamType::kBool, "enabled");
  REQUIRE_FALSE(bad_bool.ok());
  CHECK(bad_bool.status().message().find("argument 'enabled'") == 0);
  CHECK(bad_bool.status().message().find("'maybe' is not a valid boolean") != std::string::npos);

  CHECK(ConvertValue(json(5), ParamType::kStr, "s").value() == "5");
  CHECK(ConvertValue(json(true), ParamType::kStr, "s").value() == "True");
  CHECK_FALSE(ConvertValue(json::object(), ParamType::kStr, "s").ok());

  CHECK(ConvertValue(json("a, b,,c"), ParamType::kList, "l").value() == json{"a", "b", "c"});
  CHECK(ConvertValue(json(3), ParamType::kList, "l").value() == json{3});
  CHECK(ConvertValue(json("{\"a\": 1}"), ParamType::kDict, "d").value() == json{{"a", 1}});
  CHECK(ConvertValue(json("a=1 b='x y',c=3"), ParamType::kDict, "d").value() ==
        json{{"a", "1"}, {"b", "x y"}, {"c", "3"}});
  CHECK_FALSE(ConvertValue(json("novalue"), ParamType::kDict, "d").ok());
  CHECK_FALSE(ConvertValue(json(1), ParamType::kDict, "d").ok());

  ::setenv("HOME", "/home/tester", 1);
  CHECK(ConvertValue(json("~/x"), ParamType::kPath, "p").value() == "/home/tester/x");
  CHECK(ConvertValue(json("/a/~b"), ParamType::kPath, "p").value() == "/a/~b");
  CHECK(ConvertValue(json{{"x", 1}}, ParamType::kRaw, "r").value() == json{{"x", 1}});
}

TEST_CASE("list elements are converted and errors name the option") {
  auto r = ValidateArgs(json{{"name", "x"}, {"items", json{1, "b"}}}, Spec(), "m");
  REQUIRE(r.ok());
  CHECK(r->params["items"] == json{"1", "b"});
  // json::array, not json{...}: a one-element brace list is a copy under clang.
  auto bad =
      ValidateArgs(json{{"name", "x"}, {"items", json::array({json::object()})}}, Spec(), "m");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("option 'items'") != std::string::npos);
}

TEST_CASE("no_log values are collected and never quoted in errors") {
  auto r = ValidateArgs(json{{"name", "x"}, {"token", "abc.0123456789abcdef"}}, Spec(), "m");
  REQUIRE(r.ok());
  REQUIRE(r->no_log_values.size() == 1);
  CHECK(r->no_log_values[0] == "abc.0123456789abcdef");
  ArgSpec spec;
  spec.params = {Param("pin", ParamType::kInt).NoLog()};
  auto bad = ValidateArgs(json{{"pin", "s3cret"}}, spec, "m");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("s3cret") == std::string::npos);
  CHECK(bad.status().message().find("'pin'") != std::string::npos);
}

// Found by ansible_args_fuzz: a no_log option with choices quoted the value it
// refused ("got: ..."), and the message reached the output unmasked.
TEST_CASE("a refused choice of a no_log option is not quoted") {
  ArgSpec spec;
  spec.params = {Param("mode").Choices({"fast", "safe"}).NoLog()};
  auto bad = ValidateArgs(json{{"mode", "s3cret"}}, spec, "m");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "value of mode must be one of: fast, safe");
}

TEST_CASE("raw no_log values: as given, under aliases too, without booleans") {
  ArgSpec spec;
  spec.params = {Param("token").NoLog().Aliases({"join_token"}),
                 Param("pin", ParamType::kInt).NoLog(), Param("flag", ParamType::kBool).NoLog(),
                 Param("keys", ParamType::kList).NoLog(), Param("name")};
  json raw = {{"join_token", "abc"},
              {"pin", " 12 "},
              {"flag", true},
              {"keys", json::array({"k1", 2, nullptr})},
              {"name", "public"}};
  std::vector<std::string> raw_values = RawNoLogValues(raw, spec);
  CHECK(raw_values == std::vector<std::string>{"abc", " 12 ", "k1", "2"});
  auto r = ValidateArgs(raw, spec, "m");
  REQUIRE(r.ok());
  // As given and as converted (" 12 " became 12), each once.
  CHECK(r->no_log_values == std::vector<std::string>{"abc", " 12 ", "k1", "2", "12"});
  CHECK(r->no_log_params == std::vector<std::string>{"token", "pin", "flag", "keys"});
  CHECK(RawNoLogValues(json::array(), spec).empty());
}

}  // namespace
}  // namespace pvek8s::ansible
