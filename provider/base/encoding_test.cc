#include "provider/base/encoding.h"

#include <doctest/doctest.h>

#include <set>

#include "provider/base/log.h"
#include "provider/base/status.h"

namespace pvek8s {
namespace {

TEST_CASE("base64 round-trips every length, with and without padding") {
  CHECK(Base64Encode("") == "");
  CHECK(Base64Encode("f") == "Zg==");
  CHECK(Base64Encode("fo") == "Zm8=");
  CHECK(Base64Encode("foo") == "Zm9v");
  CHECK(Base64Encode("f", false) == "Zg");
  CHECK(Base64Encode("fo", false) == "Zm8");
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes += static_cast<char>(i & 0xff);
    CHECK(Base64Decode(Base64Encode(bytes)).value() == bytes);
    CHECK(Base64Decode(Base64Encode(bytes, false)).value() == bytes);
  }
  CHECK_FALSE(Base64Decode("Zm9v!").has_value());
  CHECK_FALSE(Base64Decode("Z").has_value());
}

TEST_CASE("sha256 and hex match the FIPS 180-4 examples and block boundaries") {
  CHECK(HexEncode(Sha256("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(HexEncode(Sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(HexEncode(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(HexEncode(Sha256(std::string(1000000, 'a'))) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // 55, 56 and 64 bytes: the length field fits, just does not fit, and a full block.
  CHECK(HexEncode(Sha256(std::string(55, 'a'))) ==
        "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  CHECK(HexEncode(Sha256(std::string(56, 'a'))) ==
        "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  CHECK(HexEncode(Sha256(std::string(64, 'a'))) ==
        "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST_CASE("random bytes have the asked length and differ") {
  CHECK(RandomBytes(0).empty());
  CHECK(RandomBytes(1000).size() == 1000);
  CHECK(RandomBytes(32) != RandomBytes(32));
}

TEST_CASE("random strings use only the alphabet and differ") {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    std::string s = RandomString(16, "abc");
    CHECK(s.size() == 16);
    CHECK(s.find_first_not_of("abc") == std::string::npos);
    seen.insert(s);
  }
  CHECK(seen.size() > 45);
}

TEST_CASE("url encoding round-trips and rejects bad escapes") {
  CHECK(UrlEncode("ssh-ed25519 AAAA+/= x@y") == "ssh-ed25519%20AAAA%2B%2F%3D%20x%40y");
  CHECK(UrlDecode(UrlEncode("a b+c/%")).value() == "a b+c/%");
  CHECK(UrlDecode("a+b").value() == "a b");
  CHECK(UrlDecode("a+b", false).value() == "a+b");
  CHECK_FALSE(UrlDecode("%4").has_value());
  CHECK_FALSE(UrlDecode("%zz").has_value());
}

TEST_CASE("status carries code and message; StatusOr holds one of them") {
  Status s = NotFoundError("vm 100");
  CHECK_FALSE(s.ok());
  CHECK(s.ToString() == "not_found: vm 100");
  CHECK(s.WithPrefix("read").message() == "read: vm 100");
  StatusOr<int> v = 3;
  CHECK(v.ok());
  CHECK(*v == 3);
  StatusOr<int> e = s;
  CHECK(e.status() == s);
  StatusOr<int> bad = Status::Ok();
  CHECK(bad.status().code() == StatusCode::kInternal);
}

TEST_CASE("log timestamps use Terraform's layout") {
  CHECK(log::FormatTimestamp(1764474874123456) == "2025-11-30T03:54:34.123456Z");
}

}  // namespace
}  // namespace pvek8s
