// The JSON codec (codec.h): state as Terraform stores it, handed back to
// UpgradeResourceState. The MessagePack codec is in codec.cc.
#include <map>
#include <string>
#include <vector>

#include "provider/tftypes/codec.h"

namespace pvek8s::tftypes {
namespace {

// The same bound as the MessagePack decoder's: deeper than any schema we
// serve, and a guard for the recursion against hostile input.
constexpr int kMaxDepth = 64;

StatusOr<Value> FromJson(const nlohmann::json& j, const Type& type, bool ignore_unknown,
                         int depth) {
  if (depth > kMaxDepth) return InvalidArgumentError("json: nesting too deep");
  if (j.is_null()) return Value::Null(type);
  auto mismatch = [&]() {
    return InvalidArgumentError("json: expected " + type.ToString() + ", got " + j.type_name());
  };
  switch (type.kind()) {
    case Type::Kind::kString:
      if (!j.is_string()) return mismatch();
      return Value::String(j.get<std::string>());
    case Type::Kind::kBool:
      if (!j.is_boolean()) return mismatch();
      return Value::Bool(j.get<bool>());
    case Type::Kind::kNumber:
      if (j.is_number_integer() && !j.is_number_unsigned()) return Value::Int(j.get<int64_t>());
      if (j.is_number_unsigned()) return Value::NumberFromString(std::to_string(j.get<uint64_t>()));
      if (j.is_number_float()) return Value::Double(j.get<double>());
      if (j.is_string()) return Value::NumberFromString(j.get<std::string>());
      return mismatch();
    case Type::Kind::kList:
    case Type::Kind::kSet: {
      if (!j.is_array()) return mismatch();
      std::vector<Value> elems;
      for (const auto& e : j) {
        PVEK8S_ASSIGN_OR_RETURN(Value v, FromJson(e, type.element(), ignore_unknown, depth + 1));
        elems.push_back(std::move(v));
      }
      if (type.kind() == Type::Kind::kList) return Value::List(type.element(), std::move(elems));
      return Value::Set(type.element(), std::move(elems));
    }
    case Type::Kind::kTuple: {
      if (!j.is_array() || j.size() != type.elements().size()) return mismatch();
      std::vector<Value> elems;
      for (size_t i = 0; i < j.size(); ++i) {
        PVEK8S_ASSIGN_OR_RETURN(Value v,
                                FromJson(j[i], type.elements()[i], ignore_unknown, depth + 1));
        elems.push_back(std::move(v));
      }
      return Value::Tuple(std::move(elems));
    }
    case Type::Kind::kMap: {
      if (!j.is_object()) return mismatch();
      std::map<std::string, Value> entries;
      for (const auto& [k, e] : j.items()) {
        PVEK8S_ASSIGN_OR_RETURN(Value v, FromJson(e, type.element(), ignore_unknown, depth + 1));
        entries.emplace(k, std::move(v));
      }
      return Value::Map(type.element(), std::move(entries));
    }
    case Type::Kind::kObject: {
      if (!j.is_object()) return mismatch();
      std::map<std::string, Value> entries;
      for (const auto& [k, e] : j.items()) {
        auto it = type.attributes().find(k);
        if (it == type.attributes().end()) {
          if (ignore_unknown) continue;
          return InvalidArgumentError("json: unsupported attribute \"" + k + "\"");
        }
        PVEK8S_ASSIGN_OR_RETURN(Value v, FromJson(e, it->second, ignore_unknown, depth + 1));
        entries.emplace(k, std::move(v));
      }
      return Value::Object(type, std::move(entries));
    }
    case Type::Kind::kDynamic: {
      if (!j.is_object() || !j.contains("type") || !j.contains("value")) {
        return InvalidArgumentError("json: dynamic value needs \"type\" and \"value\"");
      }
      PVEK8S_ASSIGN_OR_RETURN(Type actual, Type::FromJson(j["type"]));
      return FromJson(j["value"], actual, ignore_unknown, depth + 1);
    }
  }
  return InternalError("json: unhandled type");
}

StatusOr<nlohmann::json> ToJson(const Value& v, const Type& type) {
  if (v.IsUnknown()) return InvalidArgumentError("json: cannot encode an unknown value");
  if (type.kind() == Type::Kind::kDynamic) {
    if (v.IsNull()) return nlohmann::json(nullptr);
    PVEK8S_ASSIGN_OR_RETURN(nlohmann::json inner, ToJson(v, v.type()));
    return nlohmann::json{{"type", v.type().ToJson()}, {"value", std::move(inner)}};
  }
  if (v.IsNull()) return nlohmann::json(nullptr);
  switch (type.kind()) {
    case Type::Kind::kString:
      return nlohmann::json(v.AsString());
    case Type::Kind::kBool:
      return nlohmann::json(v.AsBool());
    case Type::Kind::kNumber: {
      if (auto i = v.AsInt64()) return nlohmann::json(*i);
      auto parsed = nlohmann::json::parse(v.NumberText(), nullptr, false);
      if (parsed.is_discarded()) return InternalError("json: bad number");
      return parsed;
    }
    case Type::Kind::kList:
    case Type::Kind::kSet:
    case Type::Kind::kTuple: {
      nlohmann::json arr = nlohmann::json::array();
      for (size_t i = 0; i < v.Elements().size(); ++i) {
        const Type& et = type.kind() == Type::Kind::kTuple ? type.elements()[i] : type.element();
        PVEK8S_ASSIGN_OR_RETURN(nlohmann::json e, ToJson(v.Elements()[i], et));
        arr.push_back(std::move(e));
      }
      return arr;
    }
    case Type::Kind::kMap:
    case Type::Kind::kObject: {
      nlohmann::json obj = nlohmann::json::object();
      for (const auto& [k, e] : v.Entries()) {
        // element() only for a map: an object has no element type (and
        // dereferencing its null pointer is undefined even when unused).
        const Type* et = nullptr;
        if (type.kind() == Type::Kind::kObject) {
          auto it = type.attributes().find(k);
          if (it == type.attributes().end()) continue;
          et = &it->second;
        } else {
          et = &type.element();
        }
        PVEK8S_ASSIGN_OR_RETURN(nlohmann::json ej, ToJson(e, *et));
        obj[k] = std::move(ej);
      }
      return obj;
    }
    case Type::Kind::kDynamic:
      break;
  }
  return InternalError("json: unhandled type");
}

}  // namespace

StatusOr<Value> DecodeJson(std::string_view text, const Type& type,
                           bool ignore_unknown_attributes) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidArgumentError("json: malformed document");
  return FromJson(j, type, ignore_unknown_attributes, 0);
}

StatusOr<Value> DecodeJsonValue(const nlohmann::json& j, const Type& type,
                                bool ignore_unknown_attributes) {
  return FromJson(j, type, ignore_unknown_attributes, 0);
}

StatusOr<nlohmann::json> EncodeJson(const Value& value, const Type& type) {
  return ToJson(value, type);
}

}  // namespace pvek8s::tftypes
