#include "acceptance-tests/pvesim/http_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "provider/base/encoding.h"

namespace pvek8s::pvesim {
namespace {

bool IsTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ParseResult Error(int status, std::string reason) {
  ParseResult r;
  r.state = ParseState::kError;
  r.status = status;
  r.reason = std::move(reason);
  return r;
}

// Lines end in CRLF; a bare LF is tolerated as many servers do.
size_t FindLineEnd(std::string_view s, size_t from, size_t* eol_len) {
  size_t lf = s.find('\n', from);
  if (lf == std::string_view::npos) return lf;
  *eol_len = (lf > from && s[lf - 1] == '\r') ? 2 : 1;
  return lf - (*eol_len - 1);
}

// METHOD SP TARGET SP VERSION: fills method, target, version, path and query.
std::optional<ParseResult> ParseRequestLine(std::string_view line, HttpRequest* req) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return Error(400, "bad request");
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return Error(400, "bad request");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!std::all_of(method.begin(), method.end(), IsTokenChar)) return Error(400, "bad request");
  if (target.find(' ') != std::string_view::npos) return Error(400, "bad request");
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return Error(400, "bad request");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return Error(505, "HTTP Version Not Supported");
  }
  req->method = std::string(method);
  req->target = std::string(target);
  req->version = std::string(version);
  size_t q = target.find('?');
  req->path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) req->query = std::string(target.substr(q + 1));
  return std::nullopt;
}

// The header lines of `head` from `cursor` on, appended to req->headers.
std::optional<ParseResult> ParseHeaderLines(std::string_view head, size_t cursor,
                                            const ParseLimits& limits, HttpRequest* req) {
  size_t eol_len = 0;
  while (cursor < head.size()) {
    size_t e = FindLineEnd(head, cursor, &eol_len);
    std::string_view hl = head.substr(cursor, e == std::string_view::npos ? head.npos : e - cursor);
    cursor = (e == std::string_view::npos) ? head.size() : e + eol_len;
    if (hl.empty()) continue;
    if (hl.front() == ' ' || hl.front() == '\t') return Error(400, "bad request");  // obs-fold
    size_t colon = hl.find(':');
    if (colon == std::string_view::npos || colon == 0) return Error(400, "bad request");
    std::string_view name = hl.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), IsTokenChar)) return Error(400, "bad request");
    std::string_view value = Trim(hl.substr(colon + 1));
    for (char c : value) {
      if (c == '\0' || c == '\r' || c == '\n') return Error(400, "bad request");
    }
    if (req->headers.size() >= limits.max_header_lines) return Error(431, "too many headers");
    req->headers.emplace_back(Lower(name), std::string(value));
  }
  return std::nullopt;
}

// The body length from Content-Length (every copy must agree); no chunking.
std::optional<ParseResult> BodyLength(const HttpRequest& req, const ParseLimits& limits,
                                      size_t* content_length) {
  if (const std::string* te = req.Header("transfer-encoding")) {
    if (!te->empty()) return Error(501, "chunked transfer encoding not supported");
  }
  *content_length = 0;
  bool have_length = false;
  for (const auto& [name, value] : req.headers) {
    if (name != "content-length") continue;
    size_t v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
      return Error(400, "bad request");
    }
    if (have_length && v != *content_length) return Error(400, "bad request");
    *content_length = v;
    have_length = true;
  }
  if (*content_length > limits.max_body_bytes) return Error(501, "for data too large");
  return std::nullopt;
}

}  // namespace

const std::string* HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

ParseResult ParseHttpRequest(std::string_view input, const ParseLimits& limits) {
  // Tolerate empty lines before the request line (RFC 9112 section 2.2).
  size_t pos = 0;
  while (pos < input.size() && (input[pos] == '\r' || input[pos] == '\n')) ++pos;

  size_t end_of_headers = std::string_view::npos;
  size_t header_block_len = 0;
  {
    size_t crlf = input.find("\r\n\r\n", pos);
    size_t lflf = input.find("\n\n", pos);
    if (crlf != std::string_view::npos && (lflf == std::string_view::npos || crlf < lflf)) {
      end_of_headers = crlf;
      header_block_len = crlf - pos + 4;
    } else if (lflf != std::string_view::npos) {
      end_of_headers = lflf;
      header_block_len = lflf - pos + 2;
    }
  }
  if (end_of_headers == std::string_view::npos) {
    if (input.size() - pos > limits.max_header_bytes) return Error(431, "header too large");
    return {};
  }
  if (end_of_headers - pos > limits.max_header_bytes) return Error(431, "header too large");

  ParseResult result;
  HttpRequest& req = result.request;
  std::string_view head = input.substr(pos, end_of_headers - pos);

  // Request line, then header lines.
  size_t eol_len = 0;
  size_t line_end = FindLineEnd(head, 0, &eol_len);
  if (auto e = ParseRequestLine(head.substr(0, line_end), &req)) return *e;
  size_t cursor = (line_end == std::string_view::npos) ? head.size() : line_end + eol_len;
  if (auto e = ParseHeaderLines(head, cursor, limits, &req)) return *e;
  size_t content_length = 0;
  if (auto e = BodyLength(req, limits, &content_length)) return *e;

  size_t body_start = pos + header_block_len;
  if (input.size() - body_start < content_length) {
    ParseResult waiting;
    const std::string* expect = req.Header("expect");
    waiting.expect_continue = expect != nullptr && Lower(*expect) == "100-continue";
    return waiting;
  }
  req.body = std::string(input.substr(body_start, content_length));

  std::string connection = req.Header("connection") ? Lower(*req.Header("connection")) : "";
  if (req.version == "HTTP/1.0") {
    req.keep_alive = connection.find("keep-alive") != std::string::npos;
  } else {
    req.keep_alive = connection.find("close") == std::string::npos;
  }
  result.state = ParseState::kComplete;
  result.consumed = body_start + content_length;
  return result;
}

std::optional<std::vector<std::pair<std::string, std::string>>> ParseFormUrlEncoded(
    std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find_first_of("&;", start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string_view k = part.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
      auto dk = UrlDecode(k, true);
      auto dv = UrlDecode(v, true);
      if (!dk || !dv) return std::nullopt;
      out.emplace_back(std::move(*dk), std::move(*dv));
    }
    start = end + 1;
  }
  return out;
}

}  // namespace pvek8s::pvesim
