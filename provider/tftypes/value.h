// Terraform values: known, null or unknown, of a Type.
#ifndef PROVIDER_TFTYPES_VALUE_H_
#define PROVIDER_TFTYPES_VALUE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "provider/base/status.h"
#include "provider/tftypes/type.h"

namespace pvek8s::tftypes {

// An immutable value. Cheap to copy: collections are shared.
//
// Numbers are kept as a canonical decimal string so that values Terraform sends
// as big integers or decimal strings round-trip without losing precision.
class Value {
 public:
  // A null of dynamic type.
  Value() = default;

  static Value Null(Type type);
  static Value Unknown(Type type);
  static Value String(std::string s);
  static Value Bool(bool b);
  static Value Int(int64_t n);
  static Value Double(double d);
  // `text` must be a decimal number (JSON number syntax, or a bare integer of
  // any length). Canonicalises integers that fit in 64 bits.
  static StatusOr<Value> NumberFromString(std::string_view text);
  static Value List(Type element, std::vector<Value> elements);
  static Value Set(Type element, std::vector<Value> elements);
  static Value Map(Type element, std::map<std::string, Value> entries);
  static Value Tuple(std::vector<Value> elements);
  // An object of `type`; attributes missing from `attrs` are null.
  // Precondition: type.kind() == kObject and every key of attrs is an attribute.
  static Value Object(const Type& type, std::map<std::string, Value> attrs);

  const Type& type() const { return type_; }
  bool IsNull() const { return state_ == State::kNull; }
  bool IsUnknown() const { return state_ == State::kUnknown; }
  bool IsKnown() const { return state_ != State::kUnknown; }
  // Known, and so is every nested value.
  bool IsWhollyKnown() const;
  // Known and not null.
  bool HasValue() const { return state_ == State::kKnown; }

  // Accessors. Preconditions: HasValue() and the matching kind.
  const std::string& AsString() const { return text_; }
  bool AsBool() const { return bool_; }
  // The canonical decimal form of a number.
  const std::string& NumberText() const { return text_; }
  // The number as int64 when it is an integer in range.
  std::optional<int64_t> AsInt64() const;
  double AsDouble() const;
  // Elements of a list, set or tuple.
  const std::vector<Value>& Elements() const;
  // Entries of a map or attributes of an object.
  const std::map<std::string, Value>& Entries() const;

  // The attribute `name` of an object; a null dynamic value when this value is
  // not a known object or has no such attribute.
  const Value& Attr(const std::string& name) const;
  // Convenience getters for optional attributes: nullopt when null or unknown.
  std::optional<std::string> GetString(const std::string& name) const;
  std::optional<int64_t> GetInt(const std::string& name) const;
  std::optional<bool> GetBool(const std::string& name) const;

  // A copy of this object with attribute `name` replaced.
  // Precondition: HasValue(), kind object, `name` is an attribute.
  Value WithAttr(const std::string& name, Value v) const;

  // Structural equality: same type, same null/unknown state, equal content.
  // Sets compare without regard to order.
  friend bool operator==(const Value& a, const Value& b);

  // A short form for debugging and test messages. Never use it on values that
  // may hold secrets outside tests.
  std::string DebugString() const;

 private:
  enum class State : uint8_t { kNull, kUnknown, kKnown };

  Type type_;
  State state_ = State::kNull;
  bool bool_ = false;
  std::string text_;  // string value, or canonical number
  std::shared_ptr<const std::vector<Value>> elements_;
  std::shared_ptr<const std::map<std::string, Value>> entries_;
};

}  // namespace pvek8s::tftypes

#endif  // PROVIDER_TFTYPES_VALUE_H_
