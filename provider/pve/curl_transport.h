// The production transport: HTTPS with libcurl (loaded on first use, see
// curl_loader.h), a pool of kept-alive connections, and the TLS checks the
// provider's `tls` block asks for.
#ifndef PROVIDER_PVE_CURL_TRANSPORT_H_
#define PROVIDER_PVE_CURL_TRANSPORT_H_

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "provider/pve/client.h"
#include "provider/pve/transport.h"

namespace pvek8s::pve {

struct CurlApi;

class CurlTransport : public Transport {
 public:
  // Takes the endpoint, the TLS settings (insecure, ca_pem,
  // fingerprint_sha256; the pin wins over the CA, insecure over both), the
  // default timeout and the cancellation hook from `options`; the
  // credentials stay with the client.
  explicit CurlTransport(const ClientOptions& options);
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  // Sends `req` to endpoint + "/api2/json" + req.path with params
  // percent-encoded into the query (GET, DELETE) or a form body (POST, PUT)
  // and "Accept: application/json". A pinned certificate that does not match
  // is a kUnavailable naming both fingerprints; an untrusted one a
  // kUnavailable saying which tls setting to use; a timeout
  // kDeadlineExceeded; `cancelled` turning true mid-transfer kCancelled.
  StatusOr<HttpResponse> Send(const HttpRequest& req) override;

 private:
  // One exchange on `curl` (a CURL*, reset, from the pool).
  StatusOr<HttpResponse> Perform(const CurlApi* api, void* curl, const HttpRequest& req);

  std::string endpoint_;
  bool insecure_ = false;
  std::string ca_pem_;
  std::string fingerprint_sha256_;
  std::chrono::milliseconds default_timeout_;
  std::function<bool()> cancelled_;
  // Idle curl handles (CURL*, kept opaque: libcurl is loaded on first use).
  // Each keeps its connection alive, so a call made from any gRPC thread
  // reuses one instead of paying a TLS handshake. Per transport, and so per
  // client: a connection made under one client's certificate checks never
  // serves another client.
  std::mutex pool_mu_;
  std::vector<void*> idle_handles_;
};

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_CURL_TRANSPORT_H_
