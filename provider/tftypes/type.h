// Terraform's type system as it appears on the wire (cty types).
#ifndef PROVIDER_TFTYPES_TYPE_H_
#define PROVIDER_TFTYPES_TYPE_H_

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "provider/base/status.h"

namespace pvek8s::tftypes {

// An immutable type. Cheap to copy: composite parts are shared.
class Type {
 public:
  enum class Kind { kString, kNumber, kBool, kDynamic, kList, kSet, kMap, kObject, kTuple };

  // Default-constructed Type is dynamic ("any").
  Type() = default;

  static Type String() { return Type(Kind::kString); }
  static Type Number() { return Type(Kind::kNumber); }
  static Type Bool() { return Type(Kind::kBool); }
  static Type Dynamic() { return Type(Kind::kDynamic); }
  static Type List(Type element);
  static Type Set(Type element);
  static Type Map(Type element);
  static Type Object(std::map<std::string, Type> attributes);
  static Type Tuple(std::vector<Type> elements);

  Kind kind() const { return kind_; }
  bool IsPrimitive() const {
    return kind_ == Kind::kString || kind_ == Kind::kNumber || kind_ == Kind::kBool;
  }
  // True for list, set and map: collections of one element type.
  bool IsCollection() const {
    return kind_ == Kind::kList || kind_ == Kind::kSet || kind_ == Kind::kMap;
  }

  // Precondition: IsCollection().
  const Type& element() const { return *element_; }
  // Precondition: kind() == kObject.
  const std::map<std::string, Type>& attributes() const { return *attributes_; }
  // Precondition: kind() == kTuple.
  const std::vector<Type>& elements() const { return *elements_; }

  // The JSON form Terraform uses in schemas and for dynamic values:
  // "string", ["list","string"], ["object",{"a":"number"}], ...
  nlohmann::json ToJson() const;
  static StatusOr<Type> FromJson(const nlohmann::json& j);

  // A readable form for messages, e.g. list(string), object({a=number}).
  std::string ToString() const;

  friend bool operator==(const Type& a, const Type& b);

 private:
  explicit Type(Kind kind) : kind_(kind) {}

  Kind kind_ = Kind::kDynamic;
  std::shared_ptr<const Type> element_;
  std::shared_ptr<const std::map<std::string, Type>> attributes_;
  std::shared_ptr<const std::vector<Type>> elements_;
};

}  // namespace pvek8s::tftypes

#endif  // PROVIDER_TFTYPES_TYPE_H_
