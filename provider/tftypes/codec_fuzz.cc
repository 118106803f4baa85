// libFuzzer target for the MessagePack and JSON value decoders: any bytes,
// decoded against a schema-like type, must either fail cleanly or give a
// value that re-encodes and decodes to itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "provider/tftypes/codec.h"

namespace {

using pvek8s::tftypes::Type;

const Type& FuzzType() {
  static const Type* t = new Type(Type::Object(
      {{"id", Type::String()},
       {"size", Type::Number()},
       {"on", Type::Bool()},
       {"tags", Type::Set(Type::String())},
       {"labels", Type::Map(Type::String())},
       {"any", Type::Dynamic()},
       {"net", Type::List(Type::Object({{"bridge", Type::String()}, {"mtu", Type::Number()}}))},
       {"pair", Type::Tuple({Type::String(), Type::Number()})}}));
  return *t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (const Type& type : {FuzzType(), Type::Dynamic()}) {
    auto v = pvek8s::tftypes::DecodeMsgpack(bytes, type);
    if (v.ok()) {
      auto again = pvek8s::tftypes::EncodeMsgpack(*v, type);
      if (!again.ok()) __builtin_trap();
      auto back = pvek8s::tftypes::DecodeMsgpack(*again, type);
      if (!back.ok() || !(*back == *v)) __builtin_trap();
    }
    (void)pvek8s::tftypes::DecodeJson(bytes, type);
  }
  return 0;
}
