// Compares pvesim's own parameter table and privilege checks with the
// official Proxmox VE API schema dumps, each release against its own dump
// (8.4 as pvesim --pve-version 8.4.x, 9.1 as 9.1.x), the endpoints of moves
// included, when they are available
// (they are not part of the project).
// Without them the binary exits with kSkipExitCode after its other cases, so
// CTest reports the test as skipped (SKIP_RETURN_CODE), never as passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "acceptance-tests/pvesim/params.h"
#include "acceptance-tests/pvesim/params_moves.h"
#include "acceptance-tests/pvesim/privileges.h"

namespace pvek8s::pvesim {
namespace {

using nlohmann::json;

// CTest's SKIP_RETURN_CODE for every pvek8s test (CMakeLists.txt).
constexpr int kSkipExitCode = 77;
// Schema dumps that were not found; non-empty means the test skipped.
std::vector<std::string>& MissingSchemas() {
  static std::vector<std::string> missing;
  return missing;
}

std::string SchemaDir() {
  if (const char* env = std::getenv("PVEK8S_PVE_API_SCHEMA_DIR"); env && *env) return env;
#ifdef PVESIM_SCHEMA_DIR
  return PVESIM_SCHEMA_DIR;
#else
  return "";
#endif
}

const json* FindPath(const json& nodes, const std::string& path) {
  for (const auto& n : nodes) {
    if (n.value("path", "") == path) return &n;
    if (n.contains("children") && n["children"].is_array()) {
      if (const json* found = FindPath(n["children"], path)) return found;
    }
  }
  return nullptr;
}

// Differences between our table and one schema dump, one line each.
std::vector<std::string> Compare(const json& schema, const std::vector<MethodDef>& table) {
  std::vector<std::string> problems;
  for (const MethodDef& m : table) {
    std::string where = m.method + " " + m.path;
    const json* node = FindPath(schema, m.path);
    if (node == nullptr || !(*node)["info"].contains(m.method)) {
      problems.push_back(where + ": method not in schema");
      continue;
    }
    const json& info = (*node)["info"][m.method];
    if (info.value("allowtoken", 1) != (m.allowtoken ? 1 : 0)) {
      problems.push_back(where + ": allowtoken differs");
    }
    const json& props = info["parameters"]["properties"];
    for (const ParamDef& p : m.params) {
      std::string at = where + " " + p.name;
      if (!props.contains(p.name)) {
        problems.push_back(at + ": parameter not in schema");
        continue;
      }
      const json& s = props[p.name];
      if (s.value("type", "") != std::string(ParamTypeName(p.type))) {
        problems.push_back(at + ": type " + std::string(ParamTypeName(p.type)) + " vs " +
                           s.value("type", ""));
      }
      bool schema_optional = s.value("optional", 0) == 1;
      if (schema_optional != p.optional) problems.push_back(at + ": optional differs");
      std::string ours = p.format;
      if (ours == kPropertyString) {
        if (!s.contains("format") || !s["format"].is_object()) {
          problems.push_back(at + ": schema format is not a property string");
        }
      } else if (ours.empty()) {
        if (s.contains("format")) problems.push_back(at + ": schema has a format, we have none");
      } else if (!s.contains("format") || !s["format"].is_string() ||
                 s["format"].get<std::string>() != ours) {
        problems.push_back(at + ": format " + ours + " vs " +
                           (s.contains("format") ? s["format"].dump() : "none"));
      }
      if (!p.pattern.empty() && s.value("pattern", "") != p.pattern) {
        problems.push_back(at + ": pattern differs");
      }
    }
  }
  return problems;
}

// The methods whose every schema parameter pvesim must know (the ones the
// provider sends options to), so a release that adds one shows up here.
const std::vector<std::pair<std::string, std::string>>& CompleteMethods() {
  static const auto* methods = new std::vector<std::pair<std::string, std::string>>{
      {"PUT", "/nodes/{node}/qemu/{vmid}/config"},
      {"POST", "/nodes/{node}/qemu/{vmid}/config"},
      {"POST", "/nodes/{node}/qemu/{vmid}/status/start"}};
  return *methods;
}

// Schema parameters of CompleteMethods() that `table` lacks, one line each.
std::vector<std::string> CompareComplete(const json& schema, const std::vector<MethodDef>& table) {
  std::vector<std::string> problems;
  for (const auto& [method, path] : CompleteMethods()) {
    const json* node = FindPath(schema, path);
    const MethodDef* ours = nullptr;
    for (const MethodDef& m : table) {
      if (m.method == method && m.path == path) ours = &m;
    }
    if (node == nullptr || ours == nullptr || !(*node)["info"].contains(method)) continue;
    for (const auto& item : (*node)["info"][method]["parameters"]["properties"].items()) {
      const std::string& name = item.key();
      // Indexed options are "net[n]" in both.
      bool known = std::any_of(ours->params.begin(), ours->params.end(),
                               [&](const ParamDef& p) { return p.name == name; });
      if (!known) {
        problems.push_back(method + " " + path + " " + name + ": in schema, not in pvesim");
      }
    }
  }
  return problems;
}

// Differences between the privileges pvesim checks and the schema's
// `permissions.check` (["perm", PATH, [PRIVS], "any", 1]), one line each.
std::vector<std::string> ComparePermissions(const json& schema,
                                            const std::vector<EndpointPrivs>& ours) {
  std::vector<std::string> problems;
  for (const EndpointPrivs& e : ours) {
    std::string where = e.method + " " + e.path;
    const json* node = FindPath(schema, e.path);
    if (node == nullptr || !(*node)["info"].contains(e.method)) {
      problems.push_back(where + ": method not in schema");
      continue;
    }
    const json& perm = (*node)["info"][e.method].value("permissions", json::object());
    const json check = perm.value("check", json::array());
    if (check.size() < 3 || check[0] != "perm" || check[1] != "/vms/{vmid}" ||
        !check[2].is_array()) {
      problems.push_back(where + ": schema check is " + perm.dump());
      continue;
    }
    std::set<std::string> theirs;
    for (const auto& p : check[2]) theirs.insert(p.get<std::string>());
    bool any = check.size() >= 5 && check[3] == "any" && check[4] == 1;
    std::set<std::string> mine(e.privs.begin(), e.privs.end());
    // A one-privilege "any" is the same check as a plain one.
    if (mine != theirs || (any != e.any && theirs.size() > 1)) {
      problems.push_back(where + ": pvesim checks " + json(mine).dump() + (e.any ? " (any)" : "") +
                         ", schema " + check.dump());
    }
  }
  return problems;
}

void CheckAgainst(const std::string& file, int major) {
  std::string path = SchemaDir() + "/" + file;
  if (SchemaDir().empty() || !std::filesystem::exists(path)) {
    MissingSchemas().push_back(path);
    return;
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  json schema = json::parse(ss.str(), nullptr, false);
  REQUIRE_FALSE(schema.is_discarded());
  std::vector<MethodDef> table = MethodDefsFor(major);
  // The endpoints of moves (migrate, HA resources, groups and rules) have
  // their own table, one per release; /pvesim/ is the simulator's own
  // control API (a node going down), not Proxmox's.
  for (const MethodDef& m : MoveMethodDefs(major >= 9)) {
    if (!m.path.starts_with("/pvesim/")) table.push_back(m);
  }
  std::vector<std::string> problems = Compare(schema, table);
  for (const auto& p : CompareComplete(schema, table)) problems.push_back(p);
  for (const auto& p : ComparePermissions(schema, VmEndpointPrivs(major))) problems.push_back(p);
  for (const auto& p : problems) MESSAGE(file << ": " << p);
  CHECK(problems.empty());
}

TEST_CASE("the comparison reports wrong types, formats and unknown parameters") {
  json schema = json::parse(R"([{"path": "/version", "info": {"GET": {"allowtoken": 1,
      "parameters": {"properties": {"a": {"type": "integer", "format": "pve-vmid", "optional": 1},
                                    "b": {"type": "string", "optional": 1, "format": {"x": {}}}}}}}}])");
  ParamDef a{.name = "a", .type = ParamType::kString};
  ParamDef b{.name = "b"};
  ParamDef c{.name = "c"};
  std::vector<MethodDef> table = {{"GET", "/version", {a, b, c}}, {"PUT", "/version", {}}};
  std::vector<std::string> problems = Compare(schema, table);
  CHECK(problems.size() == 5);  // a: type + format; b: format; c: unknown; PUT: no method.
  b.format = std::string(kPropertyString);
  a.type = ParamType::kInteger;
  a.format = "pve-vmid";
  CHECK(Compare(schema, {{"GET", "/version", {a, b}}}).empty());
}

TEST_CASE("the comparison reports missing parameters and privileges that differ") {
  json schema = json::parse(R"([{"path": "/nodes/{node}/qemu/{vmid}/status/start", "info": {
      "POST": {"permissions": {"check": ["perm", "/vms/{vmid}", ["A", "B"], "any", 1]},
               "parameters": {"properties": {"node": {}, "new-one": {}}}}}}])");
  std::vector<MethodDef> table = {
      {"POST", "/nodes/{node}/qemu/{vmid}/status/start", {ParamDef{.name = "node"}}}};
  CHECK(CompareComplete(schema, table) ==
        std::vector<std::string>{
            "POST /nodes/{node}/qemu/{vmid}/status/start new-one: in schema, not in pvesim"});
  table[0].params.push_back(ParamDef{.name = "new-one"});
  CHECK(CompareComplete(schema, table).empty());
  const std::string start = "/nodes/{node}/qemu/{vmid}/status/start";
  CHECK(ComparePermissions(schema, {{"POST", start, {"A", "B"}, true}}).empty());
  CHECK(ComparePermissions(schema, {{"POST", start, {"A", "B"}, false}}).size() == 1);
  CHECK(ComparePermissions(schema, {{"POST", start, {"A"}, false}}).size() == 1);
  CHECK(ComparePermissions(schema, {{"GET", start, {"A"}, false}}).size() == 1);
}

TEST_CASE("pvesim 8.x matches the PVE 8.4 schema") { CheckAgainst("pve-api-schema-8.4.json", 8); }
TEST_CASE("pvesim 9.x matches the PVE 9.1 schema") { CheckAgainst("pve-api-schema-9.1.json", 9); }

}  // namespace
}  // namespace pvek8s::pvesim

// doctest's own main, plus the skip: a missing schema dump is reported as a
// skip (exit kSkipExitCode) once every other case has passed.
int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int rc = context.run();
  if (context.shouldExit() || rc != 0) return rc;
  const auto& missing = pvek8s::pvesim::MissingSchemas();
  if (missing.empty()) return 0;
  for (const auto& path : missing) {
    std::cout << "SKIP: " << path
              << " not found (set PVEK8S_PVE_API_SCHEMA_DIR to the proxmox-api dumps)\n";
  }
  return pvek8s::pvesim::kSkipExitCode;
}
