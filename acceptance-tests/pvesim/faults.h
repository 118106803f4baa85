// Fault injection for pvesim (--fault SPEC), so that clients' retry logic can
// be tested: lock timeouts, injected HTTP 500s, dropped connections, latency.
#ifndef ACCEPTANCE_TESTS_PVESIM_FAULTS_H_
#define ACCEPTANCE_TESTS_PVESIM_FAULTS_H_

#include <string>
#include <string_view>

#include "provider/base/status.h"

namespace pvek8s::pvesim {

struct FaultSpec {
  enum class Kind { kLockTimeout, kHttp500, kDropConnection, kLatency, kMigrate };
  Kind kind = Kind::kLatency;
  std::string op;          // kLockTimeout: clone, config, start, stop, shutdown, reboot,
                           // resize, delete, cloudinit, create, or "*".
  std::string method;      // kHttp500: GET/POST/PUT/DELETE or "*".
  std::string path;        // kHttp500, kLatency: substring of the path below /api2/json
                           // (empty: every path).
  std::string message;     // kHttp500: the error message.
  double probability = 1;  // 0..1
  double latency_s = 0;    // kLatency
};

// Parses one of
//   lock-timeout:OP:P
//   http-500:METHOD:PATH:P[:MESSAGE]
//   drop-connection:P
//   latency:DURATION[:P[:PATH]] (DURATION like 50ms, 0.2s or 2)
//   migrate:P (per request: a random VM is migrated to another online node)
StatusOr<FaultSpec> ParseFaultSpec(std::string_view spec);

}  // namespace pvek8s::pvesim

#endif  // ACCEPTANCE_TESTS_PVESIM_FAULTS_H_
