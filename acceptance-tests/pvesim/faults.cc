#include "acceptance-tests/pvesim/faults.h"

#include <cstdlib>
#include <vector>

namespace pvek8s::pvesim {
namespace {

std::vector<std::string> SplitColon(std::string_view s, size_t max_parts) {
  std::vector<std::string> out;
  size_t start = 0;
  while (out.size() + 1 < max_parts) {
    size_t c = s.find(':', start);
    if (c == std::string_view::npos) break;
    out.emplace_back(s.substr(start, c - start));
    start = c + 1;
  }
  out.emplace_back(s.substr(start));
  return out;
}

bool ParseProbability(const std::string& s, double* out) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || v < 0 || v > 1) return false;
  *out = v;
  return true;
}

bool ParseDuration(std::string s, double* out) {
  double scale = 1;
  if (s.ends_with("ms")) {
    scale = 0.001;
    s.resize(s.size() - 2);
  } else if (s.ends_with("s")) {
    s.resize(s.size() - 1);
  }
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || v < 0 || v > 600) return false;
  *out = v * scale;
  return true;
}

}  // namespace

StatusOr<FaultSpec> ParseFaultSpec(std::string_view spec) {
  auto bad = [&](const std::string& why) {
    return InvalidArgumentError("bad --fault '" + std::string(spec) + "': " + why);
  };
  FaultSpec f;
  if (spec.starts_with("lock-timeout:")) {
    auto p = SplitColon(spec, 3);
    if (p.size() != 3) return bad("want lock-timeout:OP:P");
    static const char* kOps[] = {"clone",  "config", "start",     "stop",   "shutdown", "reboot",
                                 "resize", "delete", "cloudinit", "create", "*"};
    bool known = false;
    for (const char* op : kOps) known = known || p[1] == op;
    if (!known) return bad("unknown operation '" + p[1] + "'");
    f.kind = FaultSpec::Kind::kLockTimeout;
    f.op = p[1];
    if (!ParseProbability(p[2], &f.probability)) return bad("probability must be in [0,1]");
    return f;
  }
  if (spec.starts_with("http-500:")) {
    auto p = SplitColon(spec, 5);
    if (p.size() < 4) return bad("want http-500:METHOD:PATH:P[:MESSAGE]");
    f.kind = FaultSpec::Kind::kHttp500;
    f.method = p[1];
    if (f.method != "GET" && f.method != "POST" && f.method != "PUT" && f.method != "DELETE" &&
        f.method != "*") {
      return bad("method must be GET, POST, PUT, DELETE or *");
    }
    f.path = p[2];
    if (!ParseProbability(p[3], &f.probability)) return bad("probability must be in [0,1]");
    f.message = p.size() == 5 && !p[4].empty() ? p[4] : "pvesim: injected fault";
    return f;
  }
  if (spec.starts_with("drop-connection:")) {
    auto p = SplitColon(spec, 2);
    f.kind = FaultSpec::Kind::kDropConnection;
    if (!ParseProbability(p[1], &f.probability)) return bad("probability must be in [0,1]");
    return f;
  }
  if (spec.starts_with("latency:")) {
    auto p = SplitColon(spec, 4);
    f.kind = FaultSpec::Kind::kLatency;
    if (!ParseDuration(p[1], &f.latency_s)) return bad("duration like 50ms or 0.2s");
    if (p.size() >= 3 && !ParseProbability(p[2], &f.probability)) {
      return bad("probability must be in [0,1]");
    }
    if (p.size() == 4) f.path = p[3];
    return f;
  }
  if (spec.starts_with("migrate:")) {
    auto p = SplitColon(spec, 2);
    f.kind = FaultSpec::Kind::kMigrate;
    if (!ParseProbability(p[1], &f.probability)) return bad("probability must be in [0,1]");
    return f;
  }
  return bad("unknown kind (lock-timeout, http-500, drop-connection, latency, migrate)");
}

}  // namespace pvek8s::pvesim
