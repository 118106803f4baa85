// Reusable attribute validators and the parsers behind them. Each validator
// reports one error naming the attribute and what was expected.
#ifndef PROVIDER_FRAMEWORK_VALIDATORS_H_
#define PROVIDER_FRAMEWORK_VALIDATORS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "provider/base/status.h"
#include "provider/framework/schema.h"

namespace pvek8s::framework {

// String is one of `choices`.
Validator OneOf(std::vector<std::string> choices);
// String matches the whole of ECMAScript regex `pattern`; `expected` says in
// words what a valid value looks like (it goes into the message).
Validator Matches(const std::string& pattern, std::string expected);
// Integer number within [min, max].
Validator IntBetween(int64_t min, int64_t max);
// A Go-style duration ("24h", "1h30m", "90s") of at least `min_seconds`.
Validator Duration(int64_t min_seconds);
// host:port with a port in 1..65535; host a DNS name, IPv4 or [IPv6].
Validator HostPort();
// An IPv4 or IPv6 network in CIDR notation (host bits allowed, warned about).
Validator Cidr();

// Parses a Go-style duration made of <number><unit> parts, units h, m, s.
StatusOr<int64_t> ParseDurationSeconds(std::string_view text);

// A parsed CIDR block.
struct CidrBlock {
  bool v6 = false;
  unsigned char addr[16] = {};
  int prefix = 0;
  bool host_bits_set = false;
  // The canonical network form, e.g. 172.16.0.0/16.
  std::string network;
};
StatusOr<CidrBlock> ParseCidr(std::string_view text);
// True when the two blocks share any address.
bool CidrOverlap(const CidrBlock& a, const CidrBlock& b);

// Splits "host:port" ("[v6]:port" for IPv6); checks both parts.
Status ParseHostPort(std::string_view text, std::string* host, int* port);

}  // namespace pvek8s::framework

#endif  // PROVIDER_FRAMEWORK_VALIDATORS_H_
