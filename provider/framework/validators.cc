#include "provider/framework/validators.h"

#include <arpa/inet.h>

#include <charconv>
#include <regex>
#include <utility>

namespace pvek8s::framework {
namespace {

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

bool ValidDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    if (c == '.') {
      if (label == 0 || host[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c == '-' && label > 0);
    if (!ok || ++label > 63) return false;
  }
  return host.back() != '-';
}

}  // namespace

Validator OneOf(std::vector<std::string> choices) {
  return [choices = std::move(choices)](const tftypes::Value& v, const tftypes::AttributePath& path,
                                        Diagnostics& diags) {
    for (const auto& c : choices) {
      if (v.AsString() == c) return;
    }
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + Quote(c);
    diags.AddError("Invalid value for " + path.ToString(),
                   Quote(v.AsString()) + " is not one of " + list + ".", path);
  };
}

Validator Matches(const std::string& pattern, std::string expected) {
  auto re = std::make_shared<std::regex>(pattern, std::regex::ECMAScript);
  return [re, expected = std::move(expected)](
             const tftypes::Value& v, const tftypes::AttributePath& path, Diagnostics& diags) {
    if (!std::regex_match(v.AsString(), *re)) {
      diags.AddError("Invalid value for " + path.ToString(),
                     Quote(v.AsString()) + " is not valid: expected " + expected + ".", path);
    }
  };
}

Validator IntBetween(int64_t min, int64_t max) {
  return
      [min, max](const tftypes::Value& v, const tftypes::AttributePath& path, Diagnostics& diags) {
        auto n = v.AsInt64();
        if (!n || *n < min || *n > max) {
          diags.AddError("Invalid value for " + path.ToString(),
                         v.NumberText() + " is not a whole number between " + std::to_string(min) +
                             " and " + std::to_string(max) + ".",
                         path);
        }
      };
}

Validator Duration(int64_t min_seconds) {
  return [min_seconds](const tftypes::Value& v, const tftypes::AttributePath& path,
                       Diagnostics& diags) {
    auto secs = ParseDurationSeconds(v.AsString());
    if (!secs.ok()) {
      diags.AddError("Invalid duration for " + path.ToString(), secs.status().message(), path);
    } else if (*secs < min_seconds) {
      diags.AddError("Invalid duration for " + path.ToString(),
                     Quote(v.AsString()) + " is shorter than the minimum of " +
                         std::to_string(min_seconds) + " seconds.",
                     path);
    }
  };
}

Validator HostPort() {
  return [](const tftypes::Value& v, const tftypes::AttributePath& path, Diagnostics& diags) {
    std::string host;
    int port = 0;
    Status s = ParseHostPort(v.AsString(), &host, &port);
    if (!s.ok()) diags.AddError("Invalid value for " + path.ToString(), s.message(), path);
  };
}

Validator Cidr() {
  return [](const tftypes::Value& v, const tftypes::AttributePath& path, Diagnostics& diags) {
    auto c = ParseCidr(v.AsString());
    if (!c.ok()) {
      diags.AddError("Invalid CIDR for " + path.ToString(), c.status().message(), path);
    } else if (c->host_bits_set) {
      diags.AddWarning(
          "Host bits set in " + path.ToString(),
          Quote(v.AsString()) + " has host bits set; the network is " + c->network + ".", path);
    }
  };
}

StatusOr<int64_t> ParseDurationSeconds(std::string_view text) {
  auto bad = [&]() {
    return InvalidArgumentError(Quote(std::string(text)) +
                                " is not a duration such as \"24h\", \"1h30m\" or \"90s\"");
  };
  if (text.empty()) return bad();
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start || i >= text.size()) return bad();
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data() + start, text.data() + i, n);
    if (ec != std::errc() || n > 100000000) return bad();
    (void)ptr;
    char unit = text[i++];
    switch (unit) {
      case 'h':
        total += n * 3600;
        break;
      case 'm':
        total += n * 60;
        break;
      case 's':
        total += n;
        break;
      default:
        return bad();
    }
  }
  return total;
}

StatusOr<CidrBlock> ParseCidr(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError(Quote(std::string(text)) + " is not a CIDR block (" + why +
                                "), e.g. 10.244.0.0/16");
  };
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return bad("no /prefix");
  std::string ip(text.substr(0, slash));
  std::string_view pfx = text.substr(slash + 1);
  CidrBlock c;
  c.v6 = ip.find(':') != std::string::npos;
  if (inet_pton(c.v6 ? AF_INET6 : AF_INET, ip.c_str(), c.addr) != 1) return bad("bad address");
  int max = c.v6 ? 128 : 32;
  auto [ptr, ec] = std::from_chars(pfx.data(), pfx.data() + pfx.size(), c.prefix);
  if (pfx.empty() || ec != std::errc() || ptr != pfx.data() + pfx.size() || c.prefix < 0 ||
      c.prefix > max) {
    return bad("prefix must be 0.." + std::to_string(max));
  }
  int bytes = c.v6 ? 16 : 4;
  unsigned char net[16] = {};
  for (int b = 0; b < bytes; ++b) {
    int bits = std::min(8, std::max(0, c.prefix - 8 * b));
    unsigned char mask = bits == 0 ? 0 : static_cast<unsigned char>(0xff << (8 - bits));
    net[b] = c.addr[b] & mask;
    if (net[b] != c.addr[b]) c.host_bits_set = true;
  }
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(c.v6 ? AF_INET6 : AF_INET, net, buf, sizeof buf);
  c.network = std::string(buf) + "/" + std::to_string(c.prefix);
  return c;
}

bool CidrOverlap(const CidrBlock& a, const CidrBlock& b) {
  if (a.v6 != b.v6) return false;
  int prefix = std::min(a.prefix, b.prefix);
  for (int bit = 0; bit < prefix; ++bit) {
    int byte = bit / 8;
    int mask = 0x80 >> (bit % 8);
    if ((a.addr[byte] & mask) != (b.addr[byte] & mask)) return false;
  }
  return true;
}

Status ParseHostPort(std::string_view text, std::string* host, int* port) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError(Quote(std::string(text)) + " is not host:port (" + why +
                                "), e.g. 192.168.100.171:6443");
  };
  if (size_t scheme = text.find("://"); scheme != std::string_view::npos) {
    return bad("a URL: leave out " + std::string(text.substr(0, scheme + 3)));
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view h = text.substr(0, colon);
  std::string_view p = text.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), *port);
  if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || *port < 1 || *port > 65535) {
    return bad("port must be 1..65535");
  }
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    std::string v6(h.substr(1, h.size() - 2));
    unsigned char buf[16];
    if (inet_pton(AF_INET6, v6.c_str(), buf) != 1) return bad("bad IPv6 address");
    *host = v6;
    return Status::Ok();
  }
  std::string hs(h);
  unsigned char buf[4];
  if (hs.find_first_not_of("0123456789.") == std::string::npos &&
      inet_pton(AF_INET, hs.c_str(), buf) != 1) {
    return bad("bad IPv4 address");
  }
  if (inet_pton(AF_INET, hs.c_str(), buf) == 1 || ValidDnsName(hs)) {
    *host = hs;
    return Status::Ok();
  }
  return bad("bad host name");
}

}  // namespace pvek8s::framework
