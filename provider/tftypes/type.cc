#include "provider/tftypes/type.h"

namespace pvek8s::tftypes {

Type Type::List(Type element) {
  Type t(Kind::kList);
  t.element_ = std::make_shared<const Type>(std::move(element));
  return t;
}

Type Type::Set(Type element) {
  Type t(Kind::kSet);
  t.element_ = std::make_shared<const Type>(std::move(element));
  return t;
}

Type Type::Map(Type element) {
  Type t(Kind::kMap);
  t.element_ = std::make_shared<const Type>(std::move(element));
  return t;
}

Type Type::Object(std::map<std::string, Type> attributes) {
  Type t(Kind::kObject);
  t.attributes_ = std::make_shared<const std::map<std::string, Type>>(std::move(attributes));
  return t;
}

Type Type::Tuple(std::vector<Type> elements) {
  Type t(Kind::kTuple);
  t.elements_ = std::make_shared<const std::vector<Type>>(std::move(elements));
  return t;
}

nlohmann::json Type::ToJson() const {
  switch (kind_) {
    case Kind::kString:
      return "string";
    case Kind::kNumber:
      return "number";
    case Kind::kBool:
      return "bool";
    case Kind::kDynamic:
      return "dynamic";
    case Kind::kList:
      return nlohmann::json::array({"list", element_->ToJson()});
    case Kind::kSet:
      return nlohmann::json::array({"set", element_->ToJson()});
    case Kind::kMap:
      return nlohmann::json::array({"map", element_->ToJson()});
    case Kind::kObject: {
      nlohmann::json attrs = nlohmann::json::object();
      for (const auto& [name, type] : *attributes_) attrs[name] = type.ToJson();
      return nlohmann::json::array({"object", attrs});
    }
    case Kind::kTuple: {
      nlohmann::json elems = nlohmann::json::array();
      for (const auto& type : *elements_) elems.push_back(type.ToJson());
      return nlohmann::json::array({"tuple", elems});
    }
  }
  return "dynamic";
}

StatusOr<Type> Type::FromJson(const nlohmann::json& j) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "string") return String();
    if (s == "number") return Number();
    if (s == "bool") return Bool();
    if (s == "dynamic") return Dynamic();
    return InvalidArgumentError("unknown primitive type \"" + s + "\"");
  }
  if (!j.is_array() || j.size() != 2 || !j[0].is_string()) {
    return InvalidArgumentError("a type must be a string or a two-element array");
  }
  const auto& kind = j[0].get_ref<const std::string&>();
  if (kind == "list" || kind == "set" || kind == "map") {
    PVEK8S_ASSIGN_OR_RETURN(Type element, FromJson(j[1]));
    if (kind == "list") return List(std::move(element));
    if (kind == "set") return Set(std::move(element));
    return Map(std::move(element));
  }
  if (kind == "object") {
    if (!j[1].is_object()) return InvalidArgumentError("object type needs an attribute map");
    std::map<std::string, Type> attrs;
    for (const auto& [name, sub] : j[1].items()) {
      PVEK8S_ASSIGN_OR_RETURN(Type t, FromJson(sub));
      attrs.emplace(name, std::move(t));
    }
    return Object(std::move(attrs));
  }
  if (kind == "tuple") {
    if (!j[1].is_array()) return InvalidArgumentError("tuple type needs an element list");
    std::vector<Type> elems;
    for (const auto& sub : j[1]) {
      PVEK8S_ASSIGN_OR_RETURN(Type t, FromJson(sub));
      elems.push_back(std::move(t));
    }
    return Tuple(std::move(elems));
  }
  return InvalidArgumentError("unknown type kind \"" + kind + "\"");
}

std::string Type::ToString() const {
  switch (kind_) {
    case Kind::kString:
      return "string";
    case Kind::kNumber:
      return "number";
    case Kind::kBool:
      return "bool";
    case Kind::kDynamic:
      return "dynamic";
    case Kind::kList:
      return "list(" + element_->ToString() + ")";
    case Kind::kSet:
      return "set(" + element_->ToString() + ")";
    case Kind::kMap:
      return "map(" + element_->ToString() + ")";
    case Kind::kObject: {
      std::string out = "object({";
      bool first = true;
      for (const auto& [name, type] : *attributes_) {
        if (!first) out += ",";
        first = false;
        out += name + "=" + type.ToString();
      }
      return out + "})";
    }
    case Kind::kTuple: {
      std::string out = "tuple([";
      for (size_t i = 0; i < elements_->size(); ++i) {
        if (i) out += ",";
        out += (*elements_)[i].ToString();
      }
      return out + "])";
    }
  }
  return "dynamic";
}

bool operator==(const Type& a, const Type& b) {
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case Type::Kind::kList:
    case Type::Kind::kSet:
    case Type::Kind::kMap:
      return *a.element_ == *b.element_;
    case Type::Kind::kObject:
      return *a.attributes_ == *b.attributes_;
    case Type::Kind::kTuple:
      return *a.elements_ == *b.elements_;
    default:
      return true;
  }
}

}  // namespace pvek8s::tftypes
