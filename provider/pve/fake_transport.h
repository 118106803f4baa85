// A scripted Transport for tests: answers requests from handlers and queues
// instead of a server, and remembers every request it saw. Linked only by
// tests (library pvek8s_pve_testing).
//
//   auto fake = std::make_unique<FakeTransport>();
//   fake->Queue("GET", "/version", FakeTransport::Error(500, "boom"));
//   fake->On("GET", "/version", [](const HttpRequest&) {
//     return FakeTransport::Data({{"version", "8.2.4"}});
//   });
//   FakeTransport* script = fake.get();
//   Client client(options, std::move(fake));
#ifndef PROVIDER_PVE_FAKE_TRANSPORT_H_
#define PROVIDER_PVE_FAKE_TRANSPORT_H_

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "provider/pve/transport.h"

namespace pvek8s::pve {

class FakeTransport : public Transport {
 public:
  using Handler = std::function<StatusOr<HttpResponse>(const HttpRequest&)>;

  // Persistent answer for every request with this method and exact path
  // (no query: params arrive in HttpRequest::params). A later On() for the
  // same method and path replaces the earlier one. The handler runs without
  // the fake's lock held, so it may call the fake (Count, Queue, ...).
  void On(const std::string& method, const std::string& path, Handler handler);
  // One-shot answers, used in order before any On() handler of the same
  // method and path.
  void Queue(const std::string& method, const std::string& path, StatusOr<HttpResponse> answer);

  // Records `req`, then answers from the queue, else the handler, else
  // HTTP 501 "no fake answer for METHOD PATH" (which Client::Call maps to
  // kUnimplemented, so a missing script line fails loudly).
  StatusOr<HttpResponse> Send(const HttpRequest& req) override;

  // HTTP 200 with body {"data": data}.
  static HttpResponse Data(const nlohmann::json& data);
  // HTTP `status` as Proxmox sends an error: `reason` in the status line and
  // as "message" in the body, "errors" (per-parameter messages) when given.
  static HttpResponse Error(long status, const std::string& reason,
                            const nlohmann::json& errors = nullptr);

  // Every request seen, in order.
  std::vector<HttpRequest> Requests() const;
  // How many requests had this method and path.
  int Count(const std::string& method, const std::string& path) const;

 private:
  using Key = std::pair<std::string, std::string>;  // method, path

  mutable std::mutex mu_;
  std::map<Key, Handler> handlers_;
  std::map<Key, std::deque<StatusOr<HttpResponse>>> queued_;
  std::vector<HttpRequest> requests_;
};

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_FAKE_TRANSPORT_H_
