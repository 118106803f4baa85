#include "provider/pve/fake_transport.h"

namespace pvek8s::pve {

void FakeTransport::On(const std::string& method, const std::string& path, Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handlers_[{method, path}] = std::move(handler);
}

void FakeTransport::Queue(const std::string& method, const std::string& path,
                          StatusOr<HttpResponse> answer) {
  std::lock_guard<std::mutex> lock(mu_);
  queued_[{method, path}].push_back(std::move(answer));
}

StatusOr<HttpResponse> FakeTransport::Send(const HttpRequest& req) {
  Handler handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(req);
    Key key{req.method, req.path};
    auto q = queued_.find(key);
    if (q != queued_.end() && !q->second.empty()) {
      StatusOr<HttpResponse> answer = std::move(q->second.front());
      q->second.pop_front();
      return answer;
    }
    auto h = handlers_.find(key);
    if (h != handlers_.end()) handler = h->second;
  }
  if (handler) return handler(req);
  return Error(501, "no fake answer for " + req.method + " " + req.path);
}

namespace {

// Never throws: invalid UTF-8 in a scripted answer is replaced, not fatal.
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

HttpResponse FakeTransport::Data(const nlohmann::json& data) {
  nlohmann::json body = nlohmann::json::object();
  body["data"] = data;
  return HttpResponse{.status = 200, .reason = "OK", .body = Dump(body)};
}

HttpResponse FakeTransport::Error(long status, const std::string& reason,
                                  const nlohmann::json& errors) {
  nlohmann::json body = nlohmann::json::object();
  body["data"] = nullptr;
  body["message"] = reason + "\n";
  if (!errors.is_null()) body["errors"] = errors;
  return HttpResponse{.status = status, .reason = reason, .body = Dump(body)};
}

std::vector<HttpRequest> FakeTransport::Requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

int FakeTransport::Count(const std::string& method, const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& r : requests_) n += r.method == method && r.path == path ? 1 : 0;
  return n;
}

}  // namespace pvek8s::pve
