#include "provider/tftypes/codec.h"

#include <doctest/doctest.h>

#include "provider/base/encoding.h"
#include "provider/tftypes/path.h"

namespace pvek8s::tftypes {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

Type StubType() {
  return Type::Object({{"id", Type::String()},
                       {"name", Type::String()},
                       {"size", Type::Number()},
                       {"tags", Type::Map(Type::String())}});
}

TEST_CASE("decodes the planned state Terraform sends with a plain unknown id") {
  // 84 a2 "id" d4 00 00 a4 "name" a3 "one" a4 "size" 01 a4 "tags" c0
  std::string wire =
      Bytes({0x84, 0xa2, 'i',  'd', 0xd4, 0x00, 0x00, 0xa4, 'n',  'a', 'm', 'e', 0xa3, 'o',
             'n',  'e',  0xa4, 's', 'i',  'z',  'e',  0x01, 0xa4, 't', 'a', 'g', 's',  0xc0});
  auto v = DecodeMsgpack(wire, StubType());
  REQUIRE(v.ok());
  CHECK(v->Attr("id").IsUnknown());
  CHECK(v->Attr("name").AsString() == "one");
  CHECK(v->Attr("size").AsInt64() == 1);
  CHECK(v->Attr("tags").IsNull());
  CHECK_FALSE(v->IsWhollyKnown());
  // Re-encoding gives equal bytes modulo key order, which is sorted here too.
  auto back = EncodeMsgpack(*v, StubType());
  REQUIRE(back.ok());
  CHECK(*back == wire);
}

TEST_CASE("a refined unknown (ext 12 with a payload) is an unknown") {
  // The value Terraform sends for "node-${x.id}": ext 12, {1: false, 2: "node-"}.
  std::string payload = Bytes({0x82, 0x01, 0xc2, 0x02, 0xa5, 'n', 'o', 'd', 'e', '-'});
  std::string wire = Bytes({0xc7, static_cast<int>(payload.size()), 0x0c}) + payload;
  auto v = DecodeMsgpack(wire, Type::String());
  REQUIRE(v.ok());
  CHECK(v->IsUnknown());
  // We always answer with the plain unknown.
  CHECK(*EncodeMsgpack(*v, Type::String()) == Bytes({0xd4, 0x00, 0x00}));
}

TEST_CASE("numbers arrive as int, float or decimal string without losing precision") {
  CHECK(DecodeMsgpack(Bytes({0x05}), Type::Number())->AsInt64() == 5);
  CHECK(DecodeMsgpack(Bytes({0xff}), Type::Number())->AsInt64() == -1);
  CHECK(DecodeMsgpack(Bytes({0xd0, 0x80}), Type::Number())->AsInt64() == -128);
  CHECK(DecodeMsgpack(Bytes({0xcd, 0x20, 0x00}), Type::Number())->AsInt64() == 8192);
  CHECK(DecodeMsgpack(Bytes({0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}), Type::Number())->AsInt64() ==
        INT64_MIN);
  auto big =
      DecodeMsgpack(Bytes({0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), Type::Number());
  REQUIRE(big.ok());
  CHECK(big->NumberText() == "18446744073709551615");
  CHECK_FALSE(big->AsInt64().has_value());
  // 1.5 as float64.
  auto f = DecodeMsgpack(Bytes({0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}), Type::Number());
  CHECK(f->NumberText() == "1.5");
  // A decimal string beyond float precision stays exact and round-trips.
  std::string digits = "123456789012345678901234567890";
  std::string wire = Bytes({0xbe}) + digits;
  auto s = DecodeMsgpack(wire, Type::Number());
  REQUIRE(s.ok());
  CHECK(s->NumberText() == digits);
  CHECK(*EncodeMsgpack(*s, Type::Number()) == wire);
  // Integral floats become ints.
  CHECK(*EncodeMsgpack(Value::Double(3.0), Type::Number()) == Bytes({0x03}));
  CHECK_FALSE(DecodeMsgpack(Bytes({0xa2, 'x', 'y'}), Type::Number()).ok());
}

TEST_CASE("dynamic values carry their type as JSON bytes") {
  auto inner = Value::List(Type::String(), {Value::String("a")});
  auto wire = EncodeMsgpack(inner, Type::Dynamic());
  REQUIRE(wire.ok());
  std::string type_json = R"(["list","string"])";
  CHECK(*wire == Bytes({0x92, 0xc4, static_cast<int>(type_json.size())}) + type_json +
                     Bytes({0x91, 0xa1, 'a'}));
  auto back = DecodeMsgpack(*wire, Type::Dynamic());
  REQUIRE(back.ok());
  CHECK(*back == inner);
  CHECK(DecodeMsgpack(Bytes({0xd4, 0, 0}), Type::Dynamic())->IsUnknown());
  CHECK(DecodeMsgpack(Bytes({0xc0}), Type::Dynamic())->IsNull());
}

TEST_CASE("objects are written with every attribute, nulls included") {
  Type t = Type::Object({{"a", Type::String()}, {"b", Type::List(Type::Number())}});
  auto v = Value::Object(t, {{"a", Value::String("x")}});
  auto wire = EncodeMsgpack(v, t);
  REQUIRE(wire.ok());
  CHECK(*wire == Bytes({0x82, 0xa1, 'a', 0xa1, 'x', 0xa1, 'b', 0xc0}));
  auto empty_list = Value::Object(t, {{"b", Value::List(Type::Number(), {})}});
  CHECK(*EncodeMsgpack(empty_list, t) == Bytes({0x82, 0xa1, 'a', 0xc0, 0xa1, 'b', 0x90}));
}

TEST_CASE("sets, tuples and nested blocks round-trip") {
  Type block = Type::Object({{"bridge", Type::String()}, {"mtu", Type::Number()}});
  Type t = Type::Object({{"network", Type::List(block)},
                         {"keys", Type::Set(Type::String())},
                         {"pair", Type::Tuple({Type::String(), Type::Bool()})}});
  auto v = Value::Object(
      t, {{"network", Value::List(block, {Value::Object(block, {{"bridge", Value::String("vmbr0")},
                                                                {"mtu", Value::Int(1500)}})})},
          {"keys", Value::Set(Type::String(), {Value::String("k1"), Value::String("k2")})},
          {"pair", Value::Tuple({Value::String("x"), Value::Bool(true)})}});
  auto wire = EncodeMsgpack(v, t);
  REQUIRE(wire.ok());
  auto back = DecodeMsgpack(*wire, t);
  REQUIRE(back.ok());
  CHECK(*back == v);
  auto reordered = Value::Set(Type::String(), {Value::String("k2"), Value::String("k1")});
  CHECK(reordered == v.Attr("keys"));
}

TEST_CASE("hostile msgpack is rejected, never crashes") {
  CHECK_FALSE(DecodeMsgpack(Bytes({0x81}), StubType()).ok());  // truncated map
  CHECK_FALSE(
      DecodeMsgpack(Bytes({0xdd, 0xff, 0xff, 0xff, 0xff}), Type::List(Type::String())).ok());
  CHECK_FALSE(DecodeMsgpack(Bytes({0xc1}), Type::String()).ok());               // reserved tag
  CHECK_FALSE(DecodeMsgpack(Bytes({0xa1, 'x', 0x00}), Type::String()).ok());    // trailing
  CHECK_FALSE(DecodeMsgpack(Bytes({0x81, 0xa1, 'z', 0xc0}), StubType()).ok());  // bad attribute
  std::string deep(200, static_cast<char>(0x91));
  CHECK_FALSE(DecodeMsgpack(deep, Type::Dynamic()).ok());
  Type nested = Type::String();
  for (int i = 0; i < 100; ++i) nested = Type::List(nested);
  CHECK_FALSE(DecodeMsgpack(deep, nested).ok());
  CHECK(DecodeMsgpack("", StubType())->IsNull());
}

TEST_CASE("state JSON, pretty or compact, decodes to the same value") {
  std::string compact = R"({"id":"c1","name":"one","size":2,"tags":{"a":"b"}})";
  std::string pretty =
      "{\n  \"id\": \"c1\",\n  \"name\": \"one\",\n  \"size\": 2,\n"
      "  \"tags\": {\"a\": \"b\"}\n}";
  auto a = DecodeJson(compact, StubType());
  auto b = DecodeJson(pretty, StubType());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(*a == *b);
  CHECK(a->Attr("tags").Entries().at("a").AsString() == "b");
  // A missing attribute (schema grew) is null; an extra one is refused unless allowed.
  auto partial = DecodeJson(R"({"id":"x"})", StubType());
  REQUIRE(partial.ok());
  CHECK(partial->Attr("size").IsNull());
  CHECK_FALSE(DecodeJson(R"({"gone":1})", StubType()).ok());
  CHECK(DecodeJson(R"({"gone":1})", StubType(), true).ok());
  auto j = EncodeJson(*a, StubType());
  REQUIRE(j.ok());
  CHECK(*DecodeJsonValue(*j, StubType()) == *a);
  CHECK_FALSE(EncodeJson(Value::Unknown(Type::String()), Type::String()).ok());
  auto dyn = DecodeJson(R"({"type":"string","value":"v"})", Type::Dynamic());
  REQUIRE(dyn.ok());
  CHECK(dyn->AsString() == "v");
}

// Found by UBSan in .ci/sanitize: encoding an object to JSON took a reference
// to the object type's (null) element type before looking at the attributes.
TEST_CASE("objects and maps encode to JSON through their own element types") {
  Type obj = Type::Object({{"n", Type::Number()}, {"m", Type::Map(Type::String())}});
  Value v = Value::Object(
      obj, {{"n", Value::Int(7)}, {"m", Value::Map(Type::String(), {{"k", Value::String("v")}})}});
  auto j = EncodeJson(v, obj);
  REQUIRE(j.ok());
  CHECK(*j == nlohmann::json{{"n", 7}, {"m", {{"k", "v"}}}});
}

TEST_CASE("type JSON matches Terraform's schema encoding") {
  Type t = Type::Object({{"a", Type::List(Type::String())}, {"b", Type::Number()}});
  CHECK(t.ToJson().dump() == R"(["object",{"a":["list","string"],"b":"number"}])");
  CHECK(Type::String().ToJson().dump() == "\"string\"");
  CHECK(*Type::FromJson(t.ToJson()) == t);
  CHECK_FALSE(Type::FromJson(nlohmann::json("strong")).ok());
}

TEST_CASE("attribute paths print like HCL") {
  AttributePath p = AttributePath("network").Index(0).Attr("bridge");
  CHECK(p.ToString() == "network[0].bridge");
  CHECK(AttributePath("tags").Key("env").ToString() == "tags[\"env\"]");
}

}  // namespace
}  // namespace pvek8s::tftypes
