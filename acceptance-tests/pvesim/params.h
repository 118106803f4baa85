// pvesim's own definitions of the API parameters it accepts, and the
// validator that reproduces PVE::JSONSchema's error strings.
//
// The table is written by the pvek8s project from the Proxmox VE API
// documentation; conformance_test.cc checks it against the official schema
// dumps when they are available.
#ifndef ACCEPTANCE_TESTS_PVESIM_PARAMS_H_
#define ACCEPTANCE_TESTS_PVESIM_PARAMS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pvek8s::pvesim {

enum class ParamType { kString, kInteger, kNumber, kBoolean };

// The schema type name used in error messages and in the API dump.
std::string_view ParamTypeName(ParamType type);

// Marks a parameter whose value is a property string with an inline sub-schema
// (in the dump, `format` is an object rather than a name).
inline constexpr std::string_view kPropertyString = "<property-string>";

struct ParamDef {
  std::string name;  // "net[n]" for indexed options.
  ParamType type = ParamType::kString;
  bool optional = true;
  std::string format;   // A named format, kPropertyString, or empty.
  std::string pattern;  // Matched anchored, as Proxmox does.
  std::vector<std::string> enum_values;
  std::optional<double> minimum;
  std::optional<double> maximum;
  int max_length = 0;     // 0 = unlimited.
  std::string requires_;  // Another parameter that must be present with this one.
  int max_index = -1;     // For "name[n]": the highest n accepted.
  int since_major = 0;    // The first Proxmox VE major release that has it; 0: all.

  // Chainable setters keep the table readable.
  ParamDef& Required() {
    optional = false;
    return *this;
  }
  ParamDef& Format(std::string f) {
    format = std::move(f);
    return *this;
  }
  ParamDef& PropertyString() {
    format = std::string(kPropertyString);
    return *this;
  }
  ParamDef& Pattern(std::string p) {
    pattern = std::move(p);
    return *this;
  }
  ParamDef& Enum(std::vector<std::string> e) {
    enum_values = std::move(e);
    return *this;
  }
  ParamDef& Min(double m) {
    minimum = m;
    return *this;
  }
  ParamDef& Max(double m) {
    maximum = m;
    return *this;
  }
  ParamDef& MaxLength(int n) {
    max_length = n;
    return *this;
  }
  ParamDef& Requires(std::string p) {
    requires_ = std::move(p);
    return *this;
  }
  ParamDef& Indexed(int max) {
    max_index = max;
    return *this;
  }
  ParamDef& Since(int major) {
    since_major = major;
    return *this;
  }
};

struct MethodDef {
  std::string method;  // GET, POST, PUT, DELETE.
  std::string path;    // With {placeholders}, relative to /api2/json.
  std::vector<ParamDef> params;
  bool allowtoken = true;
};

// Every method pvesim serves, in no particular order, with every parameter
// of every release (see ParamDef::since_major).
const std::vector<MethodDef>& MethodDefs();

// MethodDefs() as Proxmox VE `major` has them: without the parameters of
// later releases (9.x adds allow-ksm and intel-tdx to the VM options and
// with-conntrack-state to status/start).
std::vector<MethodDef> MethodDefsFor(int major);

// The definition for `method` on the templated `path`, or nullptr.
const MethodDef* FindMethodDef(std::string_view method, std::string_view path);

// The definition `name` resolves to in `def` ("net3" -> "net[n]" if 3 is in
// range), or nullptr.
const ParamDef* FindParam(const MethodDef& def, std::string_view name);

// The definition of a VM configuration option (as accepted by PUT config), or nullptr.
const ParamDef* FindVmOption(std::string_view name);

// Parameter name -> value, all as strings (booleans "0"/"1").
using ParamMap = std::map<std::string, std::string>;
// Parameter name -> reason, as in the `errors` object of a 400 answer.
using ErrorMap = std::map<std::string, std::string>;

// Checks one value against its definition: "" when valid, else Proxmox's
// reason string (e.g. "type check ('boolean') failed - got 'true'").
std::string CheckValue(const ParamDef& def, std::string_view value);

// Validates `params` against `def` the way PVE::JSONSchema::validate does:
// unknown names, missing required ones, types, formats, patterns, ranges,
// enums and `requires`. A parameter newer than `major` is unknown.
ErrorMap Validate(const MethodDef& def, const ParamMap& params, int major = 99);

// Splits a Proxmox list value on ',', ';' and whitespace, dropping empties.
std::vector<std::string> SplitList(std::string_view value);

}  // namespace pvek8s::pvesim

#endif  // ACCEPTANCE_TESTS_PVESIM_PARAMS_H_
