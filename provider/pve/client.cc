#include "provider/pve/client.h"

#include <algorithm>
#include <random>
#include <thread>

#include "provider/base/log.h"
#include "provider/pve/curl_transport.h"

namespace pvek8s::pve {
namespace {

std::string FirstLine(std::string s) {
  size_t nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

}  // namespace

std::string UpidNode(const std::string& upid) {
  if (upid.rfind("UPID:", 0) != 0) return "";
  size_t end = upid.find(':', 5);
  return end == std::string::npos ? "" : upid.substr(5, end - 5);
}

std::optional<int64_t> JsonInt(const nlohmann::json& j) {
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number()) return static_cast<int64_t>(j.get<double>());
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s.empty() || s.find_first_not_of("-0123456789") != std::string::npos) return std::nullopt;
    return std::stoll(s);
  }
  return std::nullopt;
}

std::string JsonString(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "";
  return j.dump();
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  transport_ = std::make_unique<CurlTransport>(options_);
}

Client::Client(ClientOptions options, std::unique_ptr<Transport> transport)
    : options_(std::move(options)), transport_(std::move(transport)) {}

Client::~Client() = default;

std::chrono::steady_clock::time_point Client::Now() const {
  return options_.now ? options_.now() : std::chrono::steady_clock::now();
}

bool Client::IsNotFound(const Status& status) { return status.code() == StatusCode::kNotFound; }

bool Client::IsLockTimeout(const std::string& message) {
  return message.find("got timeout") != std::string::npos ||
         message.find("got lock request timeout") != std::string::npos;
}

std::optional<std::string> Client::VmLockIn(const std::string& message) {
  static constexpr std::string_view kPrefix = "VM is locked (";
  size_t at = message.find(kPrefix);
  if (at == std::string::npos) return std::nullopt;
  size_t begin = at + kPrefix.size();
  size_t end = message.find(')', begin);
  if (end == std::string::npos || end == begin) return std::nullopt;
  return message.substr(begin, end - begin);
}

bool Client::Backoff(std::chrono::milliseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (Cancelled()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(50), std::chrono::duration_cast<std::chrono::milliseconds>(
                                           until - std::chrono::steady_clock::now())));
  }
  return !Cancelled();
}

StatusOr<HttpResponse> Client::Send(const std::string& method, const std::string& path,
                                    const Params& params, std::chrono::milliseconds timeout) {
  HttpRequest req{.method = method,
                  .path = path,
                  .params = params,
                  .timeout = timeout.count() > 0
                                 ? timeout
                                 : std::chrono::milliseconds(options_.timeout_seconds * 1000)};
  if (!options_.token_id.empty()) {
    req.headers.emplace_back("Authorization",
                             "PVEAPIToken=" + options_.token_id + "=" + options_.token_secret);
  } else if (path != "/access/ticket") {
    std::lock_guard<std::mutex> lock(ticket_mu_);
    req.headers.emplace_back("Cookie", "PVEAuthCookie=" + ticket_);
    if (method != "GET") req.headers.emplace_back("CSRFPreventionToken", csrf_token_);
  }
  auto resp = transport_->Send(req);
  // Scrub the secret-bearing header copies.
  for (auto& [name, value] : req.headers) std::fill(value.begin(), value.end(), '\0');
  return resp;
}

Status Client::EnsureTicket() {
  if (!options_.token_id.empty()) return Status::Ok();
  {
    std::lock_guard<std::mutex> lock(ticket_mu_);
    // Tickets live two hours; renew well before.
    if (!ticket_.empty() && Now() - ticket_time_ < std::chrono::minutes(60)) {
      return Status::Ok();
    }
  }
  auto resp = Send("POST", "/access/ticket",
                   {{"username", options_.username}, {"password", options_.password}}, {});
  if (!resp.ok()) return resp.status();
  if (resp->status != 200) {
    return UnauthenticatedError("login as " + options_.username + " failed: HTTP " +
                                std::to_string(resp->status) + " " + resp->reason);
  }
  auto j = nlohmann::json::parse(resp->body, nullptr, false);
  if (j.is_discarded() || !j.contains("data") || !j["data"].is_object()) {
    return UnauthenticatedError("login answer is not JSON");
  }
  std::lock_guard<std::mutex> lock(ticket_mu_);
  ticket_ = JsonString(j["data"].value("ticket", nlohmann::json()));
  csrf_token_ = JsonString(j["data"].value("CSRFPreventionToken", nlohmann::json()));
  ticket_time_ = Now();
  return Status::Ok();
}

StatusOr<nlohmann::json> Client::Call(const std::string& method, const std::string& path,
                                      const Params& params, std::chrono::milliseconds timeout) {
  std::string what = method + " " + path;
  Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (Cancelled()) return CancelledError(what + ": cancelled");
    if (attempt > 1) {
      // Exponential backoff with full jitter, capped at 5 s. The generator
      // is seeded on a thread's first retry, not its first call: seeding
      // reads the kernel's entropy, and most threads never retry.
      static thread_local std::mt19937 rng(std::random_device{}());
      int64_t cap = std::min<int64_t>(5000, options_.backoff_base.count() << (attempt - 2));
      std::uniform_int_distribution<int64_t> jitter(cap / 2, cap);
      if (!Backoff(std::chrono::milliseconds(jitter(rng)))) {
        return CancelledError(what + ": cancelled");
      }
    }
    PVEK8S_RETURN_IF_ERROR(EnsureTicket());
    auto resp = Send(method, path, params, timeout);
    if (!resp.ok()) {
      last = resp.status();
      // A request lost in transit may have been carried out: repeat only
      // what is harmless to repeat.
      if (last.code() == StatusCode::kUnavailable && method != "POST") continue;
      return last;
    }
    auto j = nlohmann::json::parse(resp->body, nullptr, false);
    std::string message;
    if (!j.is_discarded() && j.is_object() && j.contains("message") && j["message"].is_string()) {
      message = FirstLine(j["message"].get<std::string>());
    }
    if (message.empty()) message = resp->reason;
    if (resp->status == 200) {
      if (j.is_discarded() || !j.is_object()) {
        return InternalError(what + ": the answer is not JSON");
      }
      return j.value("data", nlohmann::json());
    }
    std::string text = what + ": HTTP " + std::to_string(resp->status) + " " + message;
    if (!j.is_discarded() && j.is_object() && j.contains("errors") && j["errors"].is_object()) {
      for (const auto& [k, v] : j["errors"].items()) text += "; " + k + ": " + JsonString(v);
    }
    log::Debug("proxmox api error", {{"call", what}, {"status", resp->status}});
    switch (resp->status) {
      case 401:
        if (!options_.token_id.empty()) {
          return UnauthenticatedError(text +
                                      " (check api_token_id and api_token_secret; an expired "
                                      "or deleted token is refused the same way)");
        }
        {
          // A ticket may have expired under us: log in again once.
          std::lock_guard<std::mutex> lock(ticket_mu_);
          ticket_.clear();
        }
        last = UnauthenticatedError(text + " (check username and password)");
        if (attempt >= 2) return last;
        continue;
      case 403:
        return PermissionDeniedError(text);
      case 400:
        return InvalidArgumentError(text);
      case 501:
        return UnimplementedError(text);
      default:
        break;
    }
    if (VmLockIn(message)) return FailedPreconditionError(text);
    if (IsLockTimeout(message)) {
      last = AbortedError(text);
      continue;  // Proxmox did nothing; try again.
    }
    if (message.find("does not exist") != std::string::npos) return NotFoundError(text);
    if (message.find("already exists") != std::string::npos) return AlreadyExistsError(text);
    last = UnavailableError(text);
    if (method == "GET") continue;
    return last;
  }
  return last;
}

StatusOr<TaskResult> Client::WaitTask(const std::string& upid, std::chrono::seconds timeout) {
  std::string node = UpidNode(upid);
  if (node.empty()) return InvalidArgumentError("not a task id: " + upid);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto delay = std::chrono::milliseconds(50);
  for (;;) {
    auto st = Call("GET", "/nodes/" + node + "/tasks/" + upid + "/status");
    if (!st.ok() && st.status().code() != StatusCode::kInvalidArgument) return st.status();
    // A task just forked can be briefly unknown ("no such task"): poll again.
    if (st.ok() && JsonString(st->value("status", nlohmann::json())) == "stopped") {
      return TaskResult{JsonString(st->value("exitstatus", nlohmann::json("unexpected status")))};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceededError("task " + upid + " still running after " +
                                   std::to_string(timeout.count()) + " s");
    }
    if (!Backoff(delay)) return CancelledError("waiting for task " + upid + ": cancelled");
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }
}

Status Client::WaitTaskOk(const std::string& upid, std::chrono::seconds timeout,
                          const std::string& what) {
  auto r = WaitTask(upid, timeout);
  if (!r.ok()) return r.status().WithPrefix(what);
  if (r->ok()) return Status::Ok();
  const std::string& e = r->exitstatus;
  if (VmLockIn(e)) return FailedPreconditionError(what + ": " + e);
  if (IsLockTimeout(e)) return AbortedError(what + ": " + e);
  if (e.find("already exists") != std::string::npos) return AlreadyExistsError(what + ": " + e);
  if (e.find("does not exist") != std::string::npos) return NotFoundError(what + ": " + e);
  return InternalError(what + ": task failed: " + e);
}

}  // namespace pvek8s::pve
