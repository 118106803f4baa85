// The seam under pve::Client: one HTTP exchange with the Proxmox VE API.
// The client keeps everything that decides what to send and what an answer
// means (authentication, retries, error mapping, task waiting); a transport
// only carries a request and brings back what the server said. CurlTransport
// (curl_transport.h) talks to a real server; FakeTransport (fake_transport.h,
// tests only) answers from a script.
#ifndef PROVIDER_PVE_TRANSPORT_H_
#define PROVIDER_PVE_TRANSPORT_H_

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "provider/base/status.h"

namespace pvek8s::pve {

// Form parameters in order; values are sent as given (booleans as 0/1).
using Params = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // GET, POST, PUT, DELETE
  std::string path;    // below /api2/json, e.g. "/nodes/pve1/qemu/100/config"
  // As given to Client::Call, not encoded: a form body for POST and PUT, the
  // query string otherwise.
  Params params;
  // Bound of this attempt; zero means the transport's own default.
  std::chrono::milliseconds timeout{0};
  // Name and value, e.g. {"Authorization", "PVEAPIToken=..."}. The client
  // sets Authorization, CSRFPreventionToken and Cookie; values may be secret.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpResponse {
  long status = 0;
  // The status line's reason phrase: Proxmox puts its message there (before
  // PVE 8.3 the only place).
  std::string reason;
  std::string body;
};

// Sends one request. Transport errors (connection refused, TLS failure, pin
// mismatch, timeout, cancelled) are a Status whose message names the method
// and path; an HTTP answer of any status is a response. The client retries
// kUnavailable where repeating is harmless, so a transport reports a failed
// exchange as kUnavailable, a timeout as kDeadlineExceeded and a cancelled
// one as kCancelled. Implementations are called from many threads at once.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual StatusOr<HttpResponse> Send(const HttpRequest& req) = 0;
};

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_TRANSPORT_H_
