// Wire codecs for values: MessagePack (what Terraform sends and expects) and
// JSON (stored state handed to UpgradeResourceState).
//
// Both are driven by the schema's type: the same bytes mean different values
// for different types, and dynamic slots carry their own type on the wire.
#ifndef PROVIDER_TFTYPES_CODEC_H_
#define PROVIDER_TFTYPES_CODEC_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "provider/base/status.h"
#include "provider/tftypes/type.h"
#include "provider/tftypes/value.h"

namespace pvek8s::tftypes {

// Decodes MessagePack bytes as a value of `type`. Any extension type decodes as
// unknown (Terraform sends ext 0 and, for refined unknowns, ext 12); numbers may
// be ints, floats or decimal strings; objects must not carry unknown keys, and
// missing attributes decode as null. Empty input decodes as null. Never crashes
// on hostile input: errors come back as kInvalidArgument.
StatusOr<Value> DecodeMsgpack(std::string_view bytes, const Type& type);

// Encodes `value` for a slot of `type`: every object attribute is written
// (nulls included), unknown as fixext1 type 0 (d4 00 00), numbers as int when
// integral and in range, float64 when not integral, and as a decimal string
// otherwise; dynamic slots as [type JSON, value].
StatusOr<std::string> EncodeMsgpack(const Value& value, const Type& type);

// Decodes JSON (as found in state files) as a value of `type`. Attributes the
// object type lacks are an error unless `ignore_unknown_attributes`, which lets
// a newer schema drop attributes. JSON cannot express unknowns.
StatusOr<Value> DecodeJson(std::string_view text, const Type& type,
                           bool ignore_unknown_attributes = false);
StatusOr<Value> DecodeJsonValue(const nlohmann::json& j, const Type& type,
                                bool ignore_unknown_attributes = false);

// Encodes a wholly known value as JSON; unknowns are an error.
StatusOr<nlohmann::json> EncodeJson(const Value& value, const Type& type);

}  // namespace pvek8s::tftypes

#endif  // PROVIDER_TFTYPES_CODEC_H_
