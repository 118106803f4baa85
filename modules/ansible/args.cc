#include "modules/ansible/args.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>

namespace pvek8s::ansible {
namespace {

using nlohmann::json;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Ansible names the Python type in conversion errors; users read these names in
// their playbooks' terms, so keep them.
std::string JsonTypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return "str";
    case json::value_t::boolean:
      return "bool";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "int";
    case json::value_t::number_float:
      return "float";
    case json::value_t::array:
      return "list";
    case json::value_t::object:
      return "dict";
    case json::value_t::null:
      return "NoneType";
    default:
      return "unknown";
  }
}

Status ConversionError(const json& value, ParamType type, std::string_view name,
                       std::string_view why) {
  std::string msg = "argument '" + std::string(name) + "' is of type " + JsonTypeName(value) +
                    " and we were unable to convert to " + std::string(ParamTypeName(type));
  if (!why.empty()) msg += ": " + std::string(why);
  return InvalidArgumentError(std::move(msg));
}

std::string ScalarText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
      return std::to_string(static_cast<long long>(d)) + ".0";
    }
  }
  return v.dump();
}

std::optional<long long> ParseInteger(std::string_view text) {
  std::string t = Trim(text);
  if (t.empty()) return std::nullopt;
  size_t i = (t[0] == '-' || t[0] == '+') ? 1 : 0;
  if (i == t.size()) return std::nullopt;
  // Python's int(): digits, each underscore between two digits ("1_000").
  for (size_t j = i; j < t.size(); ++j) {
    if (std::isdigit(static_cast<unsigned char>(t[j]))) continue;
    if (t[j] != '_' || j == i || j + 1 == t.size() || t[j - 1] == '_') return std::nullopt;
  }
  std::string digits;
  for (char c : t) {
    if (c != '_') digits += c;
  }
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(digits.c_str(), &end, 10);
  if (errno != 0 || end == nullptr || *end != '\0') return std::nullopt;
  return v;
}

std::vector<std::string> SplitCommas(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    std::string item = Trim(s.substr(start, comma - start));
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

// "k=v k2='v 2'" or "k=v,k2=v2", the key=value form Ansible accepts for dicts.
std::optional<json> ParseKeyValues(std::string_view s) {
  json out = json::object();
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (std::isspace(static_cast<unsigned char>(s[i])) || s[i] == ',')) ++i;
    if (i >= s.size()) break;
    size_t eq = s.find('=', i);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string key = Trim(s.substr(i, eq - i));
    if (key.empty()) return std::nullopt;
    i = eq + 1;
    std::string value;
    if (i < s.size() && (s[i] == '\'' || s[i] == '"')) {
      char quote = s[i++];
      size_t close = s.find(quote, i);
      if (close == std::string_view::npos) return std::nullopt;
      value = std::string(s.substr(i, close - i));
      i = close + 1;
    } else {
      size_t end = i;
      while (end < s.size() && !std::isspace(static_cast<unsigned char>(s[end])) && s[end] != ',') {
        ++end;
      }
      value = std::string(s.substr(i, end - i));
      i = end;
    }
    out[key] = value;
  }
  return out;
}

std::string ExpandUser(const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home != nullptr && *home != '\0') return std::string(home) + path.substr(1);
  }
  return path;
}

std::string JoinNames(const std::vector<std::string>& names, std::string_view sep) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += sep;
    out += n;
  }
  return out;
}

// Booleans are skipped, as AnsibleModule does: one bit is no secret, and
// masking every "true" in the output would garble it.
void CollectNoLogValues(const json& v, std::vector<std::string>& out) {
  if (v.is_null() || v.is_boolean()) return;
  if (v.is_array() || v.is_object()) {
    for (const json& item : v) CollectNoLogValues(item, out);
    return;
  }
  std::string text = v.is_string() ? v.get<std::string>() : v.dump();
  if (!text.empty() && std::find(out.begin(), out.end(), text) == out.end()) {
    out.push_back(std::move(text));
  }
}

}  // namespace

std::string_view ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kStr:
      return "str";
    case ParamType::kInt:
      return "int";
    case ParamType::kBool:
      return "bool";
    case ParamType::kList:
      return "list";
    case ParamType::kDict:
      return "dict";
    case ParamType::kPath:
      return "path";
    case ParamType::kRaw:
      return "raw";
  }
  return "raw";
}

std::optional<bool> ParseBoolean(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number_integer() || value.is_number_unsigned()) {
    long long n = value.get<long long>();
    if (n == 0 || n == 1) return n == 1;
    return std::nullopt;
  }
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (d == 0.0 || d == 1.0) return d == 1.0;
    return std::nullopt;
  }
  if (!value.is_string()) return std::nullopt;
  static const std::set<std::string> kTrue = {"y", "yes", "on", "1", "true", "t", "1.0"};
  static const std::set<std::string> kFalse = {"n", "no", "off", "0", "false", "f", "0.0"};
  std::string s = Lower(Trim(value.get<std::string>()));
  if (kTrue.count(s) != 0) return true;
  if (kFalse.count(s) != 0) return false;
  return std::nullopt;
}

std::vector<std::string> RawNoLogValues(const json& raw, const ArgSpec& spec) {
  std::vector<std::string> out;
  if (!raw.is_object()) return out;
  for (const ParamSpec& p : spec.params) {
    if (!p.no_log) continue;
    if (auto it = raw.find(p.name); it != raw.end()) CollectNoLogValues(*it, out);
    for (const std::string& a : p.aliases) {
      if (auto it = raw.find(a); it != raw.end()) CollectNoLogValues(*it, out);
    }
  }
  return out;
}

StatusOr<json> ConvertValue(const json& value, ParamType type, std::string_view name) {
  switch (type) {
    case ParamType::kRaw:
      return value;
    case ParamType::kStr:
    case ParamType::kPath: {
      if (value.is_array() || value.is_object() || value.is_null()) {
        return ConversionError(value, type, name, "");
      }
      std::string text = ScalarText(value);
      if (type == ParamType::kPath) text = ExpandUser(text);
      return json(text);
    }
    case ParamType::kInt: {
      if (value.is_number_integer() || value.is_number_unsigned()) return value;
      if (value.is_number_float()) {
        double d = value.get<double>();
        if (std::isfinite(d) && d == std::floor(d) &&
            std::fabs(d) < static_cast<double>(std::numeric_limits<long long>::max())) {
          return json(static_cast<long long>(d));
        }
        return ConversionError(value, type, name, "it has a fractional part");
      }
      if (value.is_string()) {
        if (std::optional<long long> n = ParseInteger(value.get<std::string>())) return json(*n);
        return ConversionError(
            value, type, name,
            "invalid literal for int() with base 10: '" + value.get<std::string>() + "'");
      }
      return ConversionError(value, type, name, "");
    }
    case ParamType::kBool: {
      if (std::optional<bool> b = ParseBoolean(value)) return json(*b);
      return ConversionError(value, type, name,
                             "The value '" + ScalarText(value) + "' is not a valid boolean. " +
                                 "Valid booleans include: 0, 1, yes, no, true, false, on, off");
    }
    case ParamType::kList: {
      if (value.is_array()) return value;
      if (value.is_string()) {
        json out = json::array();
        for (std::string& item : SplitCommas(value.get<std::string>())) out.push_back(item);
        return out;
      }
      if (value.is_number() || value.is_boolean()) return json::array({value});
      return ConversionError(value, type, name, "");
    }
    case ParamType::kDict: {
      if (value.is_object()) return value;
      if (value.is_string()) {
        std::string text = Trim(value.get<std::string>());
        if (text.empty()) return json::object();
        if (text.front() == '{') {
          json parsed = json::parse(text, nullptr, false);
          if (!parsed.is_discarded() && parsed.is_object()) return parsed;
          return ConversionError(value, type, name, "it is not valid JSON");
        }
        if (std::optional<json> kv = ParseKeyValues(text)) return *kv;
        return ConversionError(value, type, name,
                               "dictionary requested, could not parse JSON or key=value");
      }
      return ConversionError(value, type, name, "");
    }
  }
  return InternalError("unknown parameter type");
}

namespace {

// The names a caller may use for each option: canonical names and aliases.
struct NameIndex {
  std::map<std::string, const ParamSpec*> by_name;
  std::vector<std::string> supported;  // Sorted, for the error message.
};

NameIndex IndexNames(const ArgSpec& spec) {
  NameIndex index;
  for (const ParamSpec& p : spec.params) {
    index.by_name[p.name] = &p;
    index.supported.push_back(p.name);
    for (const std::string& a : p.aliases) {
      index.by_name[a] = &p;
      index.supported.push_back(a);
    }
  }
  std::sort(index.supported.begin(), index.supported.end());
  return index;
}

// Canonical name -> the names (canonical or alias) the caller used for it.
using GivenNames = std::map<std::string, std::vector<std::string>>;

// Groups the caller's keys by option; Ansible's internal `_ansible_*` keys are
// ignored. Fails, naming every unknown key, when any key is not an option.
Status GroupGivenNames(const json& raw, const NameIndex& index, std::string_view module_name,
                       GivenNames& given) {
  std::vector<std::string> unsupported;
  for (const auto& item : raw.items()) {
    const std::string& key = item.key();
    if (key.rfind("_ansible_", 0) == 0) continue;
    auto it = index.by_name.find(key);
    if (it == index.by_name.end()) {
      unsupported.push_back(key);
      continue;
    }
    given[it->second->name].push_back(key);
  }
  if (!unsupported.empty()) {
    std::sort(unsupported.begin(), unsupported.end());
    return InvalidArgumentError(
        "Unsupported parameters for (" + std::string(module_name) +
        ") module: " + JoinNames(unsupported, ", ") +
        ". Supported parameters include: " + JoinNames(index.supported, ", ") + ".");
  }
  return Status::Ok();
}

// A null value counts as not given, as in AnsibleModule.
Status CheckMutuallyExclusive(const json& raw, const ArgSpec& spec, const GivenNames& given) {
  for (const std::vector<std::string>& group : spec.mutually_exclusive) {
    std::vector<std::string> present;
    for (const std::string& n : group) {
      auto it = given.find(n);
      if (it != given.end()) {
        bool non_null = false;
        for (const std::string& used : it->second) non_null |= !raw[used].is_null();
        if (non_null) present.push_back(n);
      }
    }
    if (present.size() > 1) {
      return InvalidArgumentError("parameters are mutually exclusive: " + JoinNames(group, "|"));
    }
  }
  return Status::Ok();
}

// The raw value the caller gave for `p` (null when not given), warning when
// both the option and an alias are set.
json GivenValue(const json& raw, const ParamSpec& p, const GivenNames& given,
                std::vector<std::string>& warnings) {
  auto it = given.find(p.name);
  if (it == given.end()) return nullptr;
  if (it->second.size() > 1) {
    warnings.push_back("Both option " + p.name + " and its alias " +
                       (it->second[0] == p.name ? it->second[1] : it->second[0]) + " are set.");
  }
  // The canonical name wins over an alias, as in AnsibleModule.
  const std::string& used =
      std::find(it->second.begin(), it->second.end(), p.name) != it->second.end()
          ? p.name
          : it->second.front();
  return raw[used];
}

StatusOr<json> ConvertElements(const json& list, const ParamSpec& p) {
  json elements = json::array();
  for (const json& e : list) {
    StatusOr<json> ce = ConvertValue(e, p.elements, p.name);
    if (!ce.ok()) {
      return InvalidArgumentError("Elements value for option '" + p.name + "' is of type " +
                                  JsonTypeName(e) + " and we were unable to convert to " +
                                  std::string(ParamTypeName(p.elements)));
    }
    elements.push_back(std::move(ce).value());
  }
  return elements;
}

Status CheckChoice(const json& v, const ParamSpec& p) {
  std::string text = v.is_string() ? v.get<std::string>() : v.dump();
  if (std::find(p.choices.begin(), p.choices.end(), text) == p.choices.end()) {
    // A no_log value is not quoted: it may be a secret typed into the
    // wrong option.
    return InvalidArgumentError("value of " + p.name +
                                " must be one of: " + JoinNames(p.choices, ", ") +
                                (p.no_log ? std::string() : ", got: " + text));
  }
  return Status::Ok();
}

// Converts a non-null value of `p` to its type (and its list elements to
// theirs) and checks it against the choices.
StatusOr<json> ConvertParam(const json& value, const ParamSpec& p) {
  StatusOr<json> conversion = ConvertValue(value, p.type, p.name);
  if (!conversion.ok()) {
    if (!p.no_log) return conversion.status();
    // The message quotes the value, which is a secret here.
    return InvalidArgumentError("argument '" + p.name + "' is of type " + JsonTypeName(value) +
                                " and we were unable to convert to " +
                                std::string(ParamTypeName(p.type)));
  }
  json converted = std::move(conversion).value();
  if (p.type == ParamType::kList && p.elements != ParamType::kRaw) {
    PVEK8S_ASSIGN_OR_RETURN(converted, ConvertElements(converted, p));
  }
  if (!p.choices.empty()) {
    if (converted.is_array()) {
      for (const json& v : converted) PVEK8S_RETURN_IF_ERROR(CheckChoice(v, p));
    } else {
      PVEK8S_RETURN_IF_ERROR(CheckChoice(converted, p));
    }
  }
  return converted;
}

}  // namespace

StatusOr<ValidatedArgs> ValidateArgs(const json& raw, const ArgSpec& spec,
                                     std::string_view module_name) {
  ValidatedArgs out;
  if (!raw.is_object()) return InvalidArgumentError("module arguments must be a JSON object");
  out.no_log_values = RawNoLogValues(raw, spec);
  for (const ParamSpec& p : spec.params) {
    if (p.no_log) out.no_log_params.push_back(p.name);
  }
  GivenNames given;
  PVEK8S_RETURN_IF_ERROR(GroupGivenNames(raw, IndexNames(spec), module_name, given));
  PVEK8S_RETURN_IF_ERROR(CheckMutuallyExclusive(raw, spec, given));

  std::vector<std::string> missing;
  for (const ParamSpec& p : spec.params) {
    json value = GivenValue(raw, p, given, out.warnings);
    if (value.is_null()) {
      if (p.required) {
        missing.push_back(p.name);
        continue;
      }
      value = p.default_value;
      if (value.is_null()) {
        out.params[p.name] = nullptr;
        continue;
      }
    }
    PVEK8S_ASSIGN_OR_RETURN(json converted, ConvertParam(value, p));
    if (p.no_log) CollectNoLogValues(converted, out.no_log_values);
    out.params[p.name] = std::move(converted);
  }
  if (!missing.empty()) {
    return InvalidArgumentError("missing required arguments: " + JoinNames(missing, ", "));
  }
  return out;
}

}  // namespace pvek8s::ansible
