#include "provider/tftypes/value.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace pvek8s::tftypes {
namespace {

const std::vector<Value>& EmptyElements() {
  static const auto* kEmpty = new std::vector<Value>();
  return *kEmpty;
}

const std::map<std::string, Value>& EmptyEntries() {
  static const auto* kEmpty = new std::map<std::string, Value>();
  return *kEmpty;
}

const Value& NullValue() {
  static const auto* kNull = new Value();
  return *kNull;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || !IsDigit(s[i])) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || !IsDigit(s[i])) return false;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !IsDigit(s[i])) return false;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  return i == s.size();
}

std::string ShortestDouble(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  (void)ec;
  return std::string(buf, end);
}

}  // namespace

Value Value::Null(Type type) {
  Value v;
  v.type_ = std::move(type);
  return v;
}

Value Value::Unknown(Type type) {
  Value v;
  v.type_ = std::move(type);
  v.state_ = State::kUnknown;
  return v;
}

Value Value::String(std::string s) {
  Value v;
  v.type_ = Type::String();
  v.state_ = State::kKnown;
  v.text_ = std::move(s);
  return v;
}

Value Value::Bool(bool b) {
  Value v;
  v.type_ = Type::Bool();
  v.state_ = State::kKnown;
  v.bool_ = b;
  return v;
}

Value Value::Int(int64_t n) {
  Value v;
  v.type_ = Type::Number();
  v.state_ = State::kKnown;
  v.text_ = std::to_string(n);
  return v;
}

Value Value::Double(double d) {
  double integral = 0;
  if (std::modf(d, &integral) == 0.0 && std::fabs(d) < 9.2e18) {
    return Int(static_cast<int64_t>(d));
  }
  Value v;
  v.type_ = Type::Number();
  v.state_ = State::kKnown;
  v.text_ = ShortestDouble(d);
  return v;
}

StatusOr<Value> Value::NumberFromString(std::string_view text) {
  if (!IsJsonNumber(text)) {
    return InvalidArgumentError("\"" + std::string(text) + "\" is not a number");
  }
  bool integral = text.find_first_of(".eE") == std::string_view::npos;
  if (integral) {
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc() && ptr == text.data() + text.size()) return Int(n);
    // An integer beyond 64 bits: keep its digits exactly.
    Value v;
    v.type_ = Type::Number();
    v.state_ = State::kKnown;
    v.text_ = std::string(text);
    return v;
  }
  return Double(std::strtod(std::string(text).c_str(), nullptr));
}

Value Value::List(Type element, std::vector<Value> elements) {
  Value v;
  v.type_ = Type::List(std::move(element));
  v.state_ = State::kKnown;
  v.elements_ = std::make_shared<const std::vector<Value>>(std::move(elements));
  return v;
}

Value Value::Set(Type element, std::vector<Value> elements) {
  Value v;
  v.type_ = Type::Set(std::move(element));
  v.state_ = State::kKnown;
  v.elements_ = std::make_shared<const std::vector<Value>>(std::move(elements));
  return v;
}

Value Value::Map(Type element, std::map<std::string, Value> entries) {
  Value v;
  v.type_ = Type::Map(std::move(element));
  v.state_ = State::kKnown;
  v.entries_ = std::make_shared<const std::map<std::string, Value>>(std::move(entries));
  return v;
}

Value Value::Tuple(std::vector<Value> elements) {
  std::vector<Type> types;
  types.reserve(elements.size());
  for (const auto& e : elements) types.push_back(e.type());
  Value v;
  v.type_ = Type::Tuple(std::move(types));
  v.state_ = State::kKnown;
  v.elements_ = std::make_shared<const std::vector<Value>>(std::move(elements));
  return v;
}

Value Value::Object(const Type& type, std::map<std::string, Value> attrs) {
  for (const auto& [name, attr_type] : type.attributes()) {
    if (attrs.find(name) == attrs.end()) attrs.emplace(name, Null(attr_type));
  }
  Value v;
  v.type_ = type;
  v.state_ = State::kKnown;
  v.entries_ = std::make_shared<const std::map<std::string, Value>>(std::move(attrs));
  return v;
}

bool Value::IsWhollyKnown() const {
  if (state_ == State::kUnknown) return false;
  if (state_ == State::kNull) return true;
  if (elements_) {
    for (const auto& e : *elements_) {
      if (!e.IsWhollyKnown()) return false;
    }
  }
  if (entries_) {
    for (const auto& [k, e] : *entries_) {
      if (!e.IsWhollyKnown()) return false;
    }
  }
  return true;
}

std::optional<int64_t> Value::AsInt64() const {
  if (!HasValue() || type_.kind() != Type::Kind::kNumber) return std::nullopt;
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), n);
  if (ec != std::errc() || ptr != text_.data() + text_.size()) return std::nullopt;
  return n;
}

double Value::AsDouble() const { return std::strtod(text_.c_str(), nullptr); }

const std::vector<Value>& Value::Elements() const {
  return elements_ ? *elements_ : EmptyElements();
}

const std::map<std::string, Value>& Value::Entries() const {
  return entries_ ? *entries_ : EmptyEntries();
}

const Value& Value::Attr(const std::string& name) const {
  if (!HasValue() || !entries_) return NullValue();
  auto it = entries_->find(name);
  return it == entries_->end() ? NullValue() : it->second;
}

std::optional<std::string> Value::GetString(const std::string& name) const {
  const Value& v = Attr(name);
  if (!v.HasValue() || v.type().kind() != Type::Kind::kString) return std::nullopt;
  return v.AsString();
}

std::optional<int64_t> Value::GetInt(const std::string& name) const { return Attr(name).AsInt64(); }

std::optional<bool> Value::GetBool(const std::string& name) const {
  const Value& v = Attr(name);
  if (!v.HasValue() || v.type().kind() != Type::Kind::kBool) return std::nullopt;
  return v.AsBool();
}

Value Value::WithAttr(const std::string& name, Value v) const {
  Value out = *this;
  auto entries = std::make_shared<std::map<std::string, Value>>(Entries());
  (*entries)[name] = std::move(v);
  out.entries_ = std::move(entries);
  return out;
}

bool operator==(const Value& a, const Value& b) {
  if (a.state_ != b.state_) return false;
  if (!(a.type_ == b.type_)) return false;
  if (a.state_ != Value::State::kKnown) return true;
  switch (a.type_.kind()) {
    case Type::Kind::kString:
    case Type::Kind::kNumber:
      return a.text_ == b.text_;
    case Type::Kind::kBool:
      return a.bool_ == b.bool_;
    case Type::Kind::kList:
    case Type::Kind::kTuple:
      return a.Elements() == b.Elements();
    case Type::Kind::kSet: {
      const auto& ea = a.Elements();
      const auto& eb = b.Elements();
      if (ea.size() != eb.size()) return false;
      std::vector<bool> used(eb.size(), false);
      for (const auto& x : ea) {
        bool found = false;
        for (size_t i = 0; i < eb.size(); ++i) {
          if (!used[i] && x == eb[i]) {
            used[i] = true;
            found = true;
            break;
          }
        }
        if (!found) return false;
      }
      return true;
    }
    case Type::Kind::kMap:
    case Type::Kind::kObject:
      return a.Entries() == b.Entries();
    case Type::Kind::kDynamic:
      return true;
  }
  return false;
}

std::string Value::DebugString() const {
  if (state_ == State::kNull) return "null";
  if (state_ == State::kUnknown) return "(unknown)";
  switch (type_.kind()) {
    case Type::Kind::kString:
      return "\"" + text_ + "\"";
    case Type::Kind::kNumber:
      return text_;
    case Type::Kind::kBool:
      return bool_ ? "true" : "false";
    case Type::Kind::kList:
    case Type::Kind::kSet:
    case Type::Kind::kTuple: {
      std::string out = "[";
      for (size_t i = 0; i < Elements().size(); ++i) {
        if (i) out += ", ";
        out += Elements()[i].DebugString();
      }
      return out + "]";
    }
    case Type::Kind::kMap:
    case Type::Kind::kObject: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : Entries()) {
        if (!first) out += ", ";
        first = false;
        out += k + "=" + v.DebugString();
      }
      return out + "}";
    }
    case Type::Kind::kDynamic:
      return "?";
  }
  return "?";
}

}  // namespace pvek8s::tftypes
