// The MessagePack codec (codec.h), what Terraform sends and expects on every
// call. The JSON codec is in codec_json.cc.
#include "provider/tftypes/codec.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace pvek8s::tftypes {
namespace {

// Nesting deeper than any schema we serve; guards the recursive decoders
// against stack exhaustion on hostile input.
constexpr int kMaxDepth = 64;

// ---------------------------------------------------------------------------
// MessagePack reading.

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  bool AtEnd() const { return pos_ >= bytes_.size(); }
  size_t pos() const { return pos_; }

  StatusOr<uint8_t> Peek() const {
    if (AtEnd()) return Truncated();
    return static_cast<uint8_t>(bytes_[pos_]);
  }

  StatusOr<uint64_t> ReadBE(size_t n) {
    if (bytes_.size() - pos_ < n) return Truncated();
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(bytes_[pos_ + i]);
    pos_ += n;
    return v;
  }

  StatusOr<std::string_view> ReadBytes(uint64_t n) {
    if (bytes_.size() - pos_ < n) return Truncated();
    std::string_view out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  Status Skip(uint64_t n) {
    if (bytes_.size() - pos_ < n) return Truncated();
    pos_ += n;
    return Status::Ok();
  }

  static Status Truncated() { return InvalidArgumentError("msgpack: truncated input"); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// The header of the next item, with lengths resolved.
struct Head {
  enum class Kind { kNil, kBool, kInt, kUint, kFloat, kStr, kBin, kArray, kMap, kExt };
  Kind kind = Kind::kNil;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  uint64_t len = 0;  // str/bin/ext payload bytes, or array/map entries
};

// The single-byte forms whose value or length lives in the tag itself
// (fixint, fixstr, fixarray, fixmap). Fills `h` and returns true for them;
// leaves `h` alone and returns false for every other tag.
bool ReadFixHead(uint64_t tag, Head& h) {
  if (tag <= 0x7f) {
    h.kind = Head::Kind::kUint;
    h.u = tag;
  } else if (tag >= 0xe0) {
    h.kind = Head::Kind::kInt;
    h.i = static_cast<int64_t>(tag) - 0x100;  // negative fixint 111xxxxx: -32..-1
  } else if (tag >= 0xa0 && tag <= 0xbf) {
    h.kind = Head::Kind::kStr;
    h.len = tag & 0x1f;
  } else if (tag >= 0x90 && tag <= 0x9f) {
    h.kind = Head::Kind::kArray;
    h.len = tag & 0x0f;
  } else if (tag >= 0x80 && tag <= 0x8f) {
    h.kind = Head::Kind::kMap;
    h.len = tag & 0x0f;
  } else {
    return false;
  }
  return true;
}

Status UnsupportedTag(uint64_t tag) {
  return InvalidArgumentError("msgpack: unsupported tag 0x" + std::to_string(tag));
}

// nil, false, true, and the sized ints and floats (0xca..0xd3).
bool IsScalarTag(uint64_t tag) {
  return tag == 0xc0 || tag == 0xc2 || tag == 0xc3 || (tag >= 0xca && tag <= 0xd3);
}

// The scalar after its type byte; `tag` satisfies IsScalarTag.
Status ReadScalarHead(Reader& r, uint64_t tag, Head& h) {
  switch (tag) {
    case 0xc0:
      h.kind = Head::Kind::kNil;
      return Status::Ok();
    case 0xc2:
    case 0xc3:
      h.kind = Head::Kind::kBool;
      h.b = tag == 0xc3;
      return Status::Ok();
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
      h.kind = Head::Kind::kUint;
      PVEK8S_ASSIGN_OR_RETURN(h.u, r.ReadBE(size_t{1} << (tag - 0xcc)));
      return Status::Ok();
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      size_t n = size_t{1} << (tag - 0xd0);
      PVEK8S_ASSIGN_OR_RETURN(uint64_t raw, r.ReadBE(n));
      h.kind = Head::Kind::kInt;
      // Sign-extend from n bytes.
      int shift = static_cast<int>(64 - 8 * n);
      h.i = static_cast<int64_t>(raw << shift) >> shift;
      return Status::Ok();
    }
    case 0xca: {
      PVEK8S_ASSIGN_OR_RETURN(uint64_t raw, r.ReadBE(4));
      h.kind = Head::Kind::kFloat;
      h.f = std::bit_cast<float>(static_cast<uint32_t>(raw));
      return Status::Ok();
    }
    case 0xcb: {
      PVEK8S_ASSIGN_OR_RETURN(uint64_t raw, r.ReadBE(8));
      h.kind = Head::Kind::kFloat;
      h.f = std::bit_cast<double>(raw);
      return Status::Ok();
    }
    default:
      return UnsupportedTag(tag);
  }
}

// Strings, binaries, arrays, maps and extensions with an explicit length
// (or, for fixext, a length implied by the tag); any other tag is refused.
// An extension's type byte is skipped: the decoder treats every extension as
// an unknown value.
Status ReadSizedHead(Reader& r, uint64_t tag, Head& h) {
  auto len = [&](size_t n) -> Status {
    PVEK8S_ASSIGN_OR_RETURN(h.len, r.ReadBE(n));
    return Status::Ok();
  };
  switch (tag) {
    case 0xd9:
    case 0xda:
    case 0xdb:
      h.kind = Head::Kind::kStr;
      return len(size_t{1} << (tag - 0xd9));
    case 0xc4:
    case 0xc5:
    case 0xc6:
      h.kind = Head::Kind::kBin;
      return len(size_t{1} << (tag - 0xc4));
    case 0xdc:
    case 0xdd:
      h.kind = Head::Kind::kArray;
      return len(tag == 0xdc ? 2 : 4);
    case 0xde:
    case 0xdf:
      h.kind = Head::Kind::kMap;
      return len(tag == 0xde ? 2 : 4);
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      h.kind = Head::Kind::kExt;
      h.len = uint64_t{1} << (tag - 0xd4);
      return r.Skip(1);  // ext type
    case 0xc7:
    case 0xc8:
    case 0xc9:
      h.kind = Head::Kind::kExt;
      PVEK8S_RETURN_IF_ERROR(len(size_t{1} << (tag - 0xc7)));
      return r.Skip(1);  // ext type
    default:
      return UnsupportedTag(tag);
  }
}

StatusOr<Head> ReadHead(Reader& r) {
  PVEK8S_ASSIGN_OR_RETURN(uint64_t tag, r.ReadBE(1));
  Head h;
  if (ReadFixHead(tag, h)) return h;
  if (IsScalarTag(tag)) {
    PVEK8S_RETURN_IF_ERROR(ReadScalarHead(r, tag, h));
  } else {
    PVEK8S_RETURN_IF_ERROR(ReadSizedHead(r, tag, h));
  }
  return h;
}

Status TypeMismatch(const Type& type, const char* got) {
  return InvalidArgumentError(std::string("msgpack: expected ") + type.ToString() + ", got " + got);
}

StatusOr<Value> DecodeItem(Reader& r, const Type& type, int depth);

// A number arrives as any msgpack int, a float, or (beyond 64 bits) its
// decimal text in a str.
StatusOr<Value> DecodeNumber(Reader& r, const Head& h, const Type& type) {
  switch (h.kind) {
    case Head::Kind::kInt:
      return Value::Int(h.i);
    case Head::Kind::kUint:
      if (h.u > static_cast<uint64_t>(INT64_MAX)) {
        return Value::NumberFromString(std::to_string(h.u));
      }
      return Value::Int(static_cast<int64_t>(h.u));
    case Head::Kind::kFloat:
      if (!std::isfinite(h.f)) return InvalidArgumentError("msgpack: non-finite number");
      return Value::Double(h.f);
    case Head::Kind::kStr: {
      PVEK8S_ASSIGN_OR_RETURN(std::string_view s, r.ReadBytes(h.len));
      return Value::NumberFromString(s);
    }
    default:
      return TypeMismatch(type, "another kind");
  }
}

// A list or set: an array of `type.element()`.
StatusOr<Value> DecodeCollection(Reader& r, const Head& h, const Type& type, int depth) {
  if (h.kind != Head::Kind::kArray) return TypeMismatch(type, "another kind");
  std::vector<Value> elems;
  for (uint64_t k = 0; k < h.len; ++k) {
    PVEK8S_ASSIGN_OR_RETURN(Value e, DecodeItem(r, type.element(), depth + 1));
    elems.push_back(std::move(e));
  }
  if (type.kind() == Type::Kind::kList) return Value::List(type.element(), std::move(elems));
  return Value::Set(type.element(), std::move(elems));
}

StatusOr<Value> DecodeTuple(Reader& r, const Head& h, const Type& type, int depth) {
  if (h.kind != Head::Kind::kArray) return TypeMismatch(type, "another kind");
  if (h.len != type.elements().size()) {
    return InvalidArgumentError("msgpack: tuple length mismatch");
  }
  std::vector<Value> elems;
  for (const auto& et : type.elements()) {
    PVEK8S_ASSIGN_OR_RETURN(Value e, DecodeItem(r, et, depth + 1));
    elems.push_back(std::move(e));
  }
  return Value::Tuple(std::move(elems));
}

// A map or object: a msgpack map with string keys. An object refuses a key
// its type does not declare; a later duplicate key wins.
StatusOr<Value> DecodeMapOrObject(Reader& r, const Head& h, const Type& type, int depth) {
  if (h.kind != Head::Kind::kMap) return TypeMismatch(type, "another kind");
  std::map<std::string, Value> entries;
  for (uint64_t k = 0; k < h.len; ++k) {
    PVEK8S_ASSIGN_OR_RETURN(Head kh, ReadHead(r));
    if (kh.kind != Head::Kind::kStr) return InvalidArgumentError("msgpack: map key not a string");
    PVEK8S_ASSIGN_OR_RETURN(std::string_view key, r.ReadBytes(kh.len));
    const Type* vt = nullptr;
    if (type.kind() == Type::Kind::kMap) {
      vt = &type.element();
    } else {
      auto it = type.attributes().find(std::string(key));
      if (it == type.attributes().end()) {
        return InvalidArgumentError("msgpack: unsupported attribute \"" + std::string(key) + "\"");
      }
      vt = &it->second;
    }
    PVEK8S_ASSIGN_OR_RETURN(Value v, DecodeItem(r, *vt, depth + 1));
    entries.insert_or_assign(std::string(key), std::move(v));
  }
  if (type.kind() == Type::Kind::kMap) return Value::Map(type.element(), std::move(entries));
  return Value::Object(type, std::move(entries));
}

// A value of a dynamic slot: the pair [type JSON as bytes, value].
StatusOr<Value> DecodeDynamic(Reader& r, const Head& h, int depth) {
  if (h.kind != Head::Kind::kArray || h.len != 2) {
    return InvalidArgumentError("msgpack: dynamic value must be a [type, value] pair");
  }
  PVEK8S_ASSIGN_OR_RETURN(Head th, ReadHead(r));
  if (th.kind != Head::Kind::kBin && th.kind != Head::Kind::kStr) {
    return InvalidArgumentError("msgpack: dynamic type must be bytes");
  }
  PVEK8S_ASSIGN_OR_RETURN(std::string_view tj, r.ReadBytes(th.len));
  auto parsed = nlohmann::json::parse(tj, nullptr, false);
  if (parsed.is_discarded()) return InvalidArgumentError("msgpack: bad dynamic type JSON");
  PVEK8S_ASSIGN_OR_RETURN(Type actual, Type::FromJson(parsed));
  return DecodeItem(r, actual, depth + 1);
}

// Decodes the item whose head `h` was just read, as a value of `type`.
StatusOr<Value> DecodeWithHead(Reader& r, const Head& h, const Type& type, int depth) {
  if (depth > kMaxDepth) return InvalidArgumentError("msgpack: nesting too deep");
  if (h.kind == Head::Kind::kNil) return Value::Null(type);
  if (h.kind == Head::Kind::kExt) {
    // Any extension is an unknown; refinement payloads are not needed here.
    PVEK8S_RETURN_IF_ERROR(r.Skip(h.len));
    return Value::Unknown(type);
  }
  switch (type.kind()) {
    case Type::Kind::kString: {
      if (h.kind != Head::Kind::kStr) return TypeMismatch(type, "another kind");
      PVEK8S_ASSIGN_OR_RETURN(std::string_view s, r.ReadBytes(h.len));
      return Value::String(std::string(s));
    }
    case Type::Kind::kBool:
      if (h.kind != Head::Kind::kBool) return TypeMismatch(type, "another kind");
      return Value::Bool(h.b);
    case Type::Kind::kNumber:
      return DecodeNumber(r, h, type);
    case Type::Kind::kList:
    case Type::Kind::kSet:
      return DecodeCollection(r, h, type, depth);
    case Type::Kind::kTuple:
      return DecodeTuple(r, h, type, depth);
    case Type::Kind::kMap:
    case Type::Kind::kObject:
      return DecodeMapOrObject(r, h, type, depth);
    case Type::Kind::kDynamic:
      return DecodeDynamic(r, h, depth);
  }
  return InternalError("msgpack: unhandled type");
}

StatusOr<Value> DecodeItem(Reader& r, const Type& type, int depth) {
  PVEK8S_ASSIGN_OR_RETURN(Head h, ReadHead(r));
  return DecodeWithHead(r, h, type, depth);
}

// ---------------------------------------------------------------------------
// MessagePack writing.

class Writer {
 public:
  void Byte(uint8_t b) { out_ += static_cast<char>(b); }
  void BE(uint64_t v, size_t n) {
    for (size_t i = n; i-- > 0;) Byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Nil() { Byte(0xc0); }
  void Unknown() {
    Byte(0xd4);
    Byte(0);
    Byte(0);
  }
  void Bool(bool b) { Byte(b ? 0xc3 : 0xc2); }
  void Int(int64_t v) {
    if (v >= 0 && v <= 0x7f) {
      Byte(static_cast<uint8_t>(v));
    } else if (v < 0 && v >= -32) {
      Byte(static_cast<uint8_t>(static_cast<int8_t>(v)));
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      Byte(0xd2);
      BE(static_cast<uint32_t>(static_cast<int32_t>(v)), 4);
    } else {
      Byte(0xd3);
      BE(static_cast<uint64_t>(v), 8);
    }
  }
  void Float(double d) {
    Byte(0xcb);
    BE(std::bit_cast<uint64_t>(d), 8);
  }
  void Str(std::string_view s, bool bin = false) {
    size_t n = s.size();
    if (bin) {
      if (n <= 0xff) {
        Byte(0xc4);
        BE(n, 1);
      } else if (n <= 0xffff) {
        Byte(0xc5);
        BE(n, 2);
      } else {
        Byte(0xc6);
        BE(n, 4);
      }
    } else if (n <= 31) {
      Byte(static_cast<uint8_t>(0xa0 | n));
    } else if (n <= 0xff) {
      Byte(0xd9);
      BE(n, 1);
    } else if (n <= 0xffff) {
      Byte(0xda);
      BE(n, 2);
    } else {
      Byte(0xdb);
      BE(n, 4);
    }
    out_.append(s);
  }
  void ArrayHead(size_t n) {
    if (n <= 15) {
      Byte(static_cast<uint8_t>(0x90 | n));
    } else if (n <= 0xffff) {
      Byte(0xdc);
      BE(n, 2);
    } else {
      Byte(0xdd);
      BE(n, 4);
    }
  }
  void MapHead(size_t n) {
    if (n <= 15) {
      Byte(static_cast<uint8_t>(0x80 | n));
    } else if (n <= 0xffff) {
      Byte(0xde);
      BE(n, 2);
    } else {
      Byte(0xdf);
      BE(n, 4);
    }
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

Status EncodeItem(Writer& w, const Value& v, const Type& type);

// An int64 as the smallest msgpack int; a decimal with a fraction or exponent
// as a float64; a larger integer as its decimal text, which Terraform reads
// back exactly.
void EncodeNumber(Writer& w, const Value& v) {
  if (auto i = v.AsInt64()) {
    w.Int(*i);
    return;
  }
  const std::string& text = v.NumberText();
  if (text.find_first_of(".eE") != std::string::npos) {
    w.Float(v.AsDouble());
  } else {
    w.Str(text);  // an integer too large for 64 bits
  }
}

Status EncodeTuple(Writer& w, const Value& v, const Type& type) {
  const auto& types = type.elements();
  if (types.size() != v.Elements().size()) {
    return InvalidArgumentError("encode: tuple length mismatch");
  }
  w.ArrayHead(types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    PVEK8S_RETURN_IF_ERROR(EncodeItem(w, v.Elements()[i], types[i]));
  }
  return Status::Ok();
}

Status EncodeObject(Writer& w, const Value& v, const Type& type) {
  // Terraform requires every attribute, so walk the type, not the value.
  w.MapHead(type.attributes().size());
  for (const auto& [name, attr_type] : type.attributes()) {
    w.Str(name);
    auto it = v.Entries().find(name);
    if (it == v.Entries().end()) {
      w.Nil();
    } else {
      PVEK8S_RETURN_IF_ERROR(EncodeItem(w, it->second, attr_type));
    }
  }
  return Status::Ok();
}

// A known, non-null value whose type kind matches the slot's (not dynamic).
Status EncodeKnown(Writer& w, const Value& v, const Type& type) {
  switch (type.kind()) {
    case Type::Kind::kString:
      w.Str(v.AsString());
      return Status::Ok();
    case Type::Kind::kBool:
      w.Bool(v.AsBool());
      return Status::Ok();
    case Type::Kind::kNumber:
      EncodeNumber(w, v);
      return Status::Ok();
    case Type::Kind::kList:
    case Type::Kind::kSet:
      w.ArrayHead(v.Elements().size());
      for (const auto& e : v.Elements()) PVEK8S_RETURN_IF_ERROR(EncodeItem(w, e, type.element()));
      return Status::Ok();
    case Type::Kind::kTuple:
      return EncodeTuple(w, v, type);
    case Type::Kind::kMap:
      w.MapHead(v.Entries().size());
      for (const auto& [k, e] : v.Entries()) {
        w.Str(k);
        PVEK8S_RETURN_IF_ERROR(EncodeItem(w, e, type.element()));
      }
      return Status::Ok();
    case Type::Kind::kObject:
      return EncodeObject(w, v, type);
    case Type::Kind::kDynamic:
      break;
  }
  return InternalError("encode: unhandled type");
}

// Writes `v` into a slot of `type`. A dynamic slot carries the value's own
// type as JSON bytes next to it; unknown and null need no type.
Status EncodeItem(Writer& w, const Value& v, const Type& type) {
  if (type.kind() == Type::Kind::kDynamic) {
    if (v.IsUnknown()) {
      w.Unknown();
      return Status::Ok();
    }
    if (v.IsNull()) {
      w.Nil();
      return Status::Ok();
    }
    w.ArrayHead(2);
    w.Str(v.type().ToJson().dump(), /*bin=*/true);
    return EncodeItem(w, v, v.type());
  }
  if (v.IsUnknown()) {
    w.Unknown();
    return Status::Ok();
  }
  if (v.IsNull()) {
    w.Nil();
    return Status::Ok();
  }
  if (!(v.type().kind() == type.kind())) {
    return InvalidArgumentError("encode: value of type " + v.type().ToString() +
                                " in a slot of type " + type.ToString());
  }
  return EncodeKnown(w, v, type);
}

}  // namespace

StatusOr<Value> DecodeMsgpack(std::string_view bytes, const Type& type) {
  if (bytes.empty()) return Value::Null(type);
  Reader r(bytes);
  PVEK8S_ASSIGN_OR_RETURN(Value v, DecodeItem(r, type, 0));
  if (!r.AtEnd()) return InvalidArgumentError("msgpack: trailing bytes after value");
  return v;
}

StatusOr<std::string> EncodeMsgpack(const Value& value, const Type& type) {
  Writer w;
  PVEK8S_RETURN_IF_ERROR(EncodeItem(w, value, type));
  return w.Take();
}

}  // namespace pvek8s::tftypes
