// Byte encodings and digests shared by the provider, the modules and pvesim.
// Needs only the C library (no OpenSSL): the statically linked module binaries
// link it too.
#ifndef PROVIDER_BASE_ENCODING_H_
#define PROVIDER_BASE_ENCODING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pvek8s {

// Standard-alphabet base64. With pad=false the trailing '=' are omitted, which
// is what go-plugin's handshake line requires (Go's RawStdEncoding).
std::string Base64Encode(std::string_view bytes, bool pad = true);
// Accepts padded or unpadded standard base64; nullopt on any invalid character.
std::optional<std::string> Base64Decode(std::string_view text);

// Lower-case hex of every byte.
std::string HexEncode(std::string_view bytes);

// SHA-256 (FIPS 180-4) of `bytes`, as 32 raw bytes.
std::string Sha256(std::string_view bytes);

// `n` bytes from the kernel's CSPRNG (getrandom(2)). Aborts if it fails,
// because every caller uses these for secrets and a weak fallback would be worse.
std::string RandomBytes(size_t n);

// A string of `n` characters drawn uniformly (rejection sampling, no modulo
// bias) from `alphabet` with the CSPRNG. Precondition: 0 < alphabet.size() <= 256.
std::string RandomString(size_t n, std::string_view alphabet);

// Percent-encoding as in application/x-www-form-urlencoded components
// (RFC 3986 unreserved characters kept, everything else %XX, space as %20).
std::string UrlEncode(std::string_view text);
// Decodes %XX and, when plus_is_space, '+' as space; nullopt on a bad escape.
std::optional<std::string> UrlDecode(std::string_view text, bool plus_is_space = true);

}  // namespace pvek8s

#endif  // PROVIDER_BASE_ENCODING_H_
