// Argument specifications for Ansible binary modules, and their validation.
//
// Ansible does no argument checking for binary modules: the args file holds the
// task's options exactly as YAML typed them (1 and '1' differ) next to the
// internal _ansible_* keys. This file gives modules what AnsibleModule gives
// Python modules: types with the same coercions, required, defaults, choices,
// aliases, mutually exclusive groups and no_log, with error messages worded like
// Ansible's so that users recognise them.
#ifndef MODULES_ANSIBLE_ARGS_H_
#define MODULES_ANSIBLE_ARGS_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "provider/base/status.h"

namespace pvek8s::ansible {

// The option types of AnsibleModule that binary modules need.
enum class ParamType {
  kStr,   // Strings; ints, floats and bools are converted to their text.
  kInt,   // Integers; integral strings ("12") and integral floats are accepted.
  kBool,  // Booleans; also yes/no/on/off/true/false/y/n/t/f/1/0 in any case.
  kList,  // Lists; a string is split on commas, any other scalar becomes [x].
  kDict,  // Objects; a string may hold JSON or "k=v k2=v2" / "k=v,k2=v2".
  kPath,  // Strings with a leading "~" or "~/" expanded from $HOME.
  kRaw,   // Anything, passed through unchanged.
};

// "str", "int", ... as Ansible spells them.
std::string_view ParamTypeName(ParamType type);

// One option of a module.
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kStr;
  bool required = false;
  // Used when the option is absent or null. A null default leaves the option
  // null in the validated parameters.
  nlohmann::json default_value = nullptr;
  // When not empty, the (converted) value must equal one of these.
  std::vector<std::string> choices;
  // Other names the option may be given under.
  std::vector<std::string> aliases;
  // The value is a secret: it is masked in `invocation` and in every message.
  bool no_log = false;
  // For kList: the type every element is converted to.
  ParamType elements = ParamType::kRaw;

  // Fluent setters, so that specs read as one expression per option.
  ParamSpec& Required() {
    required = true;
    return *this;
  }
  ParamSpec& Default(nlohmann::json value) {
    default_value = std::move(value);
    return *this;
  }
  ParamSpec& Choices(std::vector<std::string> values) {
    choices = std::move(values);
    return *this;
  }
  ParamSpec& Aliases(std::vector<std::string> names) {
    aliases = std::move(names);
    return *this;
  }
  ParamSpec& NoLog() {
    no_log = true;
    return *this;
  }
  ParamSpec& Elements(ParamType element_type) {
    elements = element_type;
    return *this;
  }
};

// An option named `name` of type `type`, to be refined with the setters above.
inline ParamSpec Param(std::string name, ParamType type = ParamType::kStr) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = type;
  return p;
}

// All options of a module.
struct ArgSpec {
  std::vector<ParamSpec> params;
  // Groups of option names of which at most one may be given.
  std::vector<std::vector<std::string>> mutually_exclusive;
};

// What validation produced.
struct ValidatedArgs {
  // Every option of the spec under its canonical name: converted value, default, or null.
  nlohmann::json params = nlohmann::json::object();
  // The string forms of the values of no_log options, as given (RawNoLogValues)
  // and as converted, without duplicates: to be masked in output.
  std::vector<std::string> no_log_values;
  // The canonical names of the no_log options.
  std::vector<std::string> no_log_params;
  // Non-fatal remarks such as "both an option and its alias were given".
  std::vector<std::string> warnings;
};

// Validates the task options in `raw` (the args file object; keys starting with
// "_ansible_" are ignored) against `spec`. `module_name` is used in messages,
// e.g. "Unsupported parameters for (gcid.k8s.kernel_tuning) module: foo.".
// Returns kInvalidArgument with an Ansible-style message naming the parameter.
// Precondition: `raw` is an object.
StatusOr<ValidatedArgs> ValidateArgs(const nlohmann::json& raw, const ArgSpec& spec,
                                     std::string_view module_name);

// The string forms of the values `raw` gives for no_log options (under their
// names or aliases), as given, before any conversion: what output must mask
// even when validation fails (AnsibleModule collects them the same way).
// Strings and numbers count, also inside lists and dict values; booleans and
// nulls carry no secret. Empty when `raw` is not an object.
std::vector<std::string> RawNoLogValues(const nlohmann::json& raw, const ArgSpec& spec);

// Converts `value` to `type` the way AnsibleModule does. On failure returns
// kInvalidArgument with a message that names `name`.
StatusOr<nlohmann::json> ConvertValue(const nlohmann::json& value, ParamType type,
                                      std::string_view name);

// Parses Ansible's boolean spellings (bools, 0/1, yes/no, on/off, true/false,
// y/n, t/f, any case). nullopt when `value` is none of them.
std::optional<bool> ParseBoolean(const nlohmann::json& value);

}  // namespace pvek8s::ansible

#endif  // MODULES_ANSIBLE_ARGS_H_
