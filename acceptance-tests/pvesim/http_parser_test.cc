#include "acceptance-tests/pvesim/http_parser.h"

#include <doctest/doctest.h>

#include <string>

namespace pvek8s::pvesim {
namespace {

TEST_CASE("a complete GET with query and headers") {
  std::string in =
      "GET /api2/json/cluster/resources?type=vm HTTP/1.1\r\nHost: x\r\n"
      "Authorization: PVEAPIToken=root@pam!tf=s\r\n\r\n";
  ParseResult r = ParseHttpRequest(in);
  REQUIRE(r.state == ParseState::kComplete);
  CHECK(r.consumed == in.size());
  CHECK(r.request.method == "GET");
  CHECK(r.request.path == "/api2/json/cluster/resources");
  CHECK(r.request.query == "type=vm");
  REQUIRE(r.request.Header("authorization") != nullptr);
  CHECK(*r.request.Header("authorization") == "PVEAPIToken=root@pam!tf=s");
  CHECK(r.request.keep_alive);
}

TEST_CASE("a body is read by Content-Length and the rest stays for the next request") {
  std::string first = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  std::string in = first + "GET /b HTTP/1.1\r\n\r\n";
  ParseResult r = ParseHttpRequest(in);
  REQUIRE(r.state == ParseState::kComplete);
  CHECK(r.request.body == "hello");
  CHECK(r.consumed == first.size());
  ParseResult next = ParseHttpRequest(std::string_view(in).substr(r.consumed));
  REQUIRE(next.state == ParseState::kComplete);
  CHECK(next.request.path == "/b");
}

TEST_CASE("every strict prefix of a request is incomplete") {
  std::string in = "PUT /x?y=1 HTTP/1.1\r\nContent-Length: 3\r\nX: y\r\n\r\nabc";
  for (size_t n = 0; n < in.size(); ++n) {
    CHECK_MESSAGE(
        ParseHttpRequest(std::string_view(in).substr(0, n)).state == ParseState::kIncomplete, n);
  }
  CHECK(ParseHttpRequest(in).state == ParseState::kComplete);
}

TEST_CASE("malformed requests are errors with a status") {
  struct Case {
    const char* in;
    int status;
  } cases[] = {
      {"GET\r\n\r\n", 400},
      {"GET /x\r\n\r\n", 400},
      {"GET /x HTTP/2.0\r\n\r\n", 505},
      {"G(T /x HTTP/1.1\r\n\r\n", 400},
      {"GET /x HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"GET /x HTTP/1.1\r\n folded\r\n\r\n", 400},
      {"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
      {"POST /x HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 501},
  };
  for (const Case& c : cases) {
    ParseResult r = ParseHttpRequest(c.in);
    CHECK_MESSAGE(r.state == ParseState::kError, c.in);
    CHECK_MESSAGE(r.status == c.status, c.in);
  }
}

TEST_CASE("Expect: 100-continue is reported once the headers are complete") {
  std::string in = "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  ParseResult r = ParseHttpRequest(in);
  CHECK(r.state == ParseState::kIncomplete);
  CHECK(r.expect_continue);
  CHECK_FALSE(ParseHttpRequest(in.substr(0, in.size() - 2)).expect_continue);
  CHECK(ParseHttpRequest(in + "body").state == ParseState::kComplete);
}

TEST_CASE("header limits match pveproxy") {
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 65; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  many += "\r\n";
  CHECK(ParseHttpRequest(many).state == ParseState::kError);
  std::string huge = "GET / HTTP/1.1\r\nX: " + std::string(9000, 'a');
  ParseResult r = ParseHttpRequest(huge);
  CHECK(r.state == ParseState::kError);
  CHECK(r.status == 431);
}

TEST_CASE("connection persistence follows the HTTP version and Connection header") {
  CHECK_FALSE(ParseHttpRequest("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").request.keep_alive);
  CHECK_FALSE(ParseHttpRequest("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  CHECK(ParseHttpRequest("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").request.keep_alive);
}

TEST_CASE("form decoding splits on & and ;, decodes + and escapes") {
  auto f = ParseFormUrlEncoded("a=1&b=x+y;c=%2520&d&=e");
  REQUIRE(f.has_value());
  REQUIRE(f->size() == 5);
  CHECK((*f)[1].second == "x y");
  CHECK((*f)[2].second == "%20");
  CHECK((*f)[3].first == "d");
  CHECK((*f)[3].second.empty());
  CHECK_FALSE(ParseFormUrlEncoded("a=%zz").has_value());
}

}  // namespace
}  // namespace pvek8s::pvesim
