// libFuzzer entry point for the request parser and the form decoder. Built
// only with clang (see CMakeLists.txt). Besides memory safety it checks the
// parser's contract: consumed bytes stay within the input, and a complete
// request re-parses identically from exactly the bytes it consumed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "acceptance-tests/pvesim/http_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  using pvek8s::pvesim::ParseState;
  pvek8s::pvesim::ParseResult r = pvek8s::pvesim::ParseHttpRequest(in);
  if (r.state == ParseState::kComplete) {
    if (r.consumed == 0 || r.consumed > size) std::abort();
    pvek8s::pvesim::ParseResult again = pvek8s::pvesim::ParseHttpRequest(in.substr(0, r.consumed));
    if (again.state != ParseState::kComplete || again.consumed != r.consumed ||
        again.request.body != r.request.body || again.request.target != r.request.target) {
      std::abort();
    }
    (void)pvek8s::pvesim::ParseFormUrlEncoded(r.request.body);
    (void)pvek8s::pvesim::ParseFormUrlEncoded(r.request.query);
  } else if (r.state == ParseState::kError) {
    if (r.status < 400 || r.status > 599) std::abort();
  } else if (r.consumed != 0) {
    std::abort();
  }
  return 0;
}
