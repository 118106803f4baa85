// A pure HTTP/1.1 request parser for pvesim: bytes in, one request (or an error) out.
//
// Kept free of sockets and TLS so that it can be unit-tested and fuzzed on its own.
#ifndef ACCEPTANCE_TESTS_PVESIM_HTTP_PARSER_H_
#define ACCEPTANCE_TESTS_PVESIM_HTTP_PARSER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pvek8s::pvesim {

// One parsed request. Header names are lower-cased; values are trimmed of
// surrounding blanks; the order and repetitions of the wire are kept.
struct HttpRequest {
  std::string method;   // As sent, e.g. "GET".
  std::string target;   // The raw request target, e.g. "/api2/json/nodes?x=1".
  std::string path;     // Target up to '?', still percent-encoded.
  std::string query;    // Target after '?', without the '?'; empty if none.
  std::string version;  // "HTTP/1.1" or "HTTP/1.0".
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Whether the client allows the connection to stay open after the answer.
  bool keep_alive = true;

  // The first header named `lower_name`, or nullptr.
  const std::string* Header(std::string_view lower_name) const;
};

// Limits mirror pveproxy: 64 header lines, 8 KiB of headers, 512 KiB of body.
struct ParseLimits {
  size_t max_header_bytes = size_t{8} * 1024;
  size_t max_header_lines = 64;
  size_t max_body_bytes = size_t{512} * 1024;
};

enum class ParseState {
  kIncomplete,  // More bytes are needed; nothing was consumed.
  kComplete,    // `request` holds a request that used the first `consumed` bytes.
  kError,       // The input can never become a valid request; answer `status` and close.
};

struct ParseResult {
  ParseState state = ParseState::kIncomplete;
  HttpRequest request;
  size_t consumed = 0;
  // For kIncomplete: the header block is complete and the client sent
  // "Expect: 100-continue", so it waits for an interim answer before the body.
  bool expect_continue = false;
  int status = 0;      // For kError: the HTTP status to answer with.
  std::string reason;  // For kError: the reason phrase (also used as plain-text body).
};

// Parses the request at the start of `input`. Never throws, never reads past
// `input`, and is deterministic: the same bytes always give the same result.
ParseResult ParseHttpRequest(std::string_view input, const ParseLimits& limits = {});

// Decodes an application/x-www-form-urlencoded string ('&' or ';' separated,
// '+' as space, %XX escapes). Pairs without '=' get an empty value. nullopt on
// a malformed escape.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseFormUrlEncoded(
    std::string_view text);

}  // namespace pvek8s::pvesim

#endif  // ACCEPTANCE_TESTS_PVESIM_HTTP_PARSER_H_
