#include "provider/pve/client.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <random>
#include <thread>

#include "provider/base/encoding.h"
#include "provider/base/log.h"
#include "provider/pve/curl_loader.h"

namespace pvek8s::pve {
namespace {

constexpr char kApiPrefix[] = "/api2/json";
// More idle connections than Terraform's default parallelism (10) would
// only hold sockets open on the Proxmox side.
constexpr size_t kMaxIdleHandles = 16;

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// Keeps the status line's reason phrase: Proxmox puts its message there, and
// before PVE 8.3 that was the only place.
size_t ReadHeader(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
    std::string reason = sp2 == std::string::npos ? "" : line.substr(sp2 + 1);
    while (!reason.empty() && (reason.back() == '\r' || reason.back() == '\n')) reason.pop_back();
    *static_cast<std::string*>(user) = reason;
  }
  return size * n;
}

struct PinState {
  std::string expected;  // lower-case hex
  std::string seen;      // what the server presented
};

int PinVerify(int preverified, X509_STORE_CTX* store) {
  (void)preverified;
  // Only the leaf certificate is pinned; the chain is not consulted.
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* pin = static_cast<PinState*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!pin || !cert || X509_digest(cert, EVP_sha256(), md, &len) != 1) return 0;
  pin->seen = HexEncode(std::string(reinterpret_cast<char*>(md), len));
  return pin->seen == pin->expected ? 1 : 0;
}

CURLcode InstallPin(CURL*, void* ssl_ctx, void* user) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_app_data(ctx, user);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, PinVerify);
  return CURLE_OK;
}

int Progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* cancelled = static_cast<std::function<bool()>*>(user);
  return (*cancelled && (*cancelled)()) ? 1 : 0;
}

std::string EncodeParams(const Params& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += UrlEncode(k) + "=" + UrlEncode(v);
  }
  return out;
}

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
  static std::atomic<uint64_t> next_id{1};
  id_ = next_id.fetch_add(1);
}
Client::~Client() {
  if (idle_handles_.empty()) return;
  auto api = Curl();
  for (void* h : idle_handles_) (*api)->easy_cleanup(static_cast<CURL*>(h));
}

bool Client::IsNotFound(const Status& status) { return status.code() == StatusCode::kNotFound; }

bool Client::IsLockTimeout(const std::string& message) {
  return message.find("got timeout") != std::string::npos ||
         message.find("got lock request timeout") != std::string::npos ||
         message.find("VM is locked") != std::string::npos;
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

StatusOr<Client::Response> Client::Send(const std::string& method, const std::string& path,
                                        const Params& params, std::chrono::milliseconds timeout) {
  PVEK8S_ASSIGN_OR_RETURN(const CurlApi* api, Curl());
  CURL* curl = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!idle_handles_.empty()) {
      curl = static_cast<CURL*>(idle_handles_.back());
      idle_handles_.pop_back();
    }
  }
  if (!curl) curl = api->easy_init();
  if (!curl) return InternalError("curl_easy_init failed");
  // Back to the pool whatever happens; easy_reset keeps the connection.
  auto give_back = [this, api](CURL* h) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (idle_handles_.size() < kMaxIdleHandles) {
      idle_handles_.push_back(h);
    } else {
      api->easy_cleanup(h);
    }
  };
  std::unique_ptr<CURL, decltype(give_back)> returned(curl, give_back);
  api->easy_reset(curl);

  std::string url = options_.endpoint + kApiPrefix + path;
  std::string body = EncodeParams(params);
  bool has_body = method == "POST" || method == "PUT";
  if (!has_body && !body.empty()) url += (url.find('?') == std::string::npos ? "?" : "&") + body;

  Response resp;
  std::string reason;
  api->easy_setopt(curl, CURLOPT_URL, url.c_str());
  api->easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  api->easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  api->easy_setopt(curl, CURLOPT_WRITEDATA, &resp.body);
  api->easy_setopt(curl, CURLOPT_HEADERFUNCTION, ReadHeader);
  api->easy_setopt(curl, CURLOPT_HEADERDATA, &reason);
  if (timeout.count() > 0) {
    api->easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  } else {
    api->easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(options_.timeout_seconds));
  }
  api->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 15L);
  api->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  api->easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  api->easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, Progress);
  api->easy_setopt(curl, CURLOPT_XFERINFODATA, &options_.cancelled);
  if (has_body) {
    api->easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    api->easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }

  PinState pin;
  if (options_.insecure) {
    api->easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    api->easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!options_.fingerprint_sha256.empty()) {
    // The pin replaces chain and name checks: Proxmox certificates are
    // self-signed and often reached by IP.
    pin.expected = options_.fingerprint_sha256;
    api->easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    api->easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    api->easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, InstallPin);
    api->easy_setopt(curl, CURLOPT_SSL_CTX_DATA, &pin);
  } else if (!options_.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(options_.ca_pem.data()), options_.ca_pem.size(),
                   CURL_BLOB_COPY};
    api->easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
  }

  curl_slist* headers = nullptr;
  std::string auth;
  if (!options_.token_id.empty()) {
    auth = "Authorization: PVEAPIToken=" + options_.token_id + "=" + options_.token_secret;
    headers = api->slist_append(headers, auth.c_str());
  } else if (path != "/access/ticket") {
    std::lock_guard<std::mutex> lock(ticket_mu_);
    std::string cookie = "PVEAuthCookie=" + ticket_;
    api->easy_setopt(curl, CURLOPT_COOKIE, cookie.c_str());
    if (method != "GET") {
      auth = "CSRFPreventionToken: " + csrf_token_;
      headers = api->slist_append(headers, auth.c_str());
    }
  }
  headers = api->slist_append(headers, "Accept: application/json");
  api->easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = api->easy_perform(curl);
  api->slist_free_all(headers);
  // Scrub the secret-bearing header copy.
  std::fill(auth.begin(), auth.end(), '\0');

  std::string what = method + " " + path;
  if (rc != CURLE_OK) {
    if (rc == CURLE_ABORTED_BY_CALLBACK) return CancelledError(what + ": cancelled");
    if (!pin.expected.empty() && !pin.seen.empty() && pin.seen != pin.expected) {
      return UnavailableError(what + ": the server's certificate has SHA-256 fingerprint " +
                              pin.seen + ", not the pinned " + pin.expected +
                              " (tls.fingerprint_sha256)");
    }
    std::string msg = what + ": " + api->easy_strerror(rc);
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
      if (!options_.ca_pem.empty()) {
        return UnavailableError(msg +
                                " — the server's certificate is not signed by the CA in "
                                "tls.ca_pem; give the CA of this Proxmox VE cluster "
                                "(/etc/pve/pve-root-ca.pem) or pin the server with "
                                "tls.fingerprint_sha256");
      }
      return UnavailableError(msg +
                              " — the server's certificate is not trusted; set tls.ca_pem "
                              "or tls.fingerprint_sha256 (tls.insecure only as a last "
                              "resort)");
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) return DeadlineExceededError(msg);
    return UnavailableError(msg + " (is " + options_.endpoint + " reachable?)");
  }
  api->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.status);
  resp.reason = reason;
  return resp;
}

Status Client::EnsureTicket() {
  if (!options_.token_id.empty()) return Status::Ok();
  {
    std::lock_guard<std::mutex> lock(ticket_mu_);
    // Tickets live two hours; renew well before.
    if (!ticket_.empty() &&
        std::chrono::steady_clock::now() - ticket_time_ < std::chrono::minutes(60)) {
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
  ticket_time_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

StatusOr<nlohmann::json> Client::Call(const std::string& method, const std::string& path,
                                      const Params& params, std::chrono::milliseconds timeout) {
  std::string what = method + " " + path;
  static thread_local std::mt19937 rng(std::random_device{}());
  Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (Cancelled()) return CancelledError(what + ": cancelled");
    if (attempt > 1) {
      // Exponential backoff with full jitter, capped at 5 s.
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
  if (IsLockTimeout(e)) return AbortedError(what + ": " + e);
  if (e.find("already exists") != std::string::npos) return AlreadyExistsError(what + ": " + e);
  if (e.find("does not exist") != std::string::npos) return NotFoundError(what + ": " + e);
  return InternalError(what + ": task failed: " + e);
}

StatusOr<std::string> Client::Version() {
  PVEK8S_ASSIGN_OR_RETURN(auto j, Call("GET", "/version"));
  return JsonString(j.value("version", nlohmann::json()));
}

StatusOr<std::vector<NodeInfo>> Client::Nodes() {
  PVEK8S_ASSIGN_OR_RETURN(auto j, Call("GET", "/nodes"));
  std::vector<NodeInfo> out;
  if (!j.is_array()) return out;
  for (const auto& n : j) {
    NodeInfo info;
    info.name = JsonString(n.value("node", nlohmann::json()));
    info.status = JsonString(n.value("status", nlohmann::json()));
    info.mem = JsonInt(n.value("mem", nlohmann::json(0))).value_or(0);
    info.maxmem = JsonInt(n.value("maxmem", nlohmann::json(0))).value_or(0);
    info.maxcpu = JsonInt(n.value("maxcpu", nlohmann::json(0))).value_or(0);
    auto cpu = n.value("cpu", nlohmann::json(0));
    info.cpu = cpu.is_number() ? cpu.get<double>() : 0;
    out.push_back(std::move(info));
  }
  return out;
}

StatusOr<std::vector<VmSummary>> Client::ListVms(const std::string& node) {
  PVEK8S_ASSIGN_OR_RETURN(auto j, Call("GET", "/nodes/" + node + "/qemu"));
  std::vector<VmSummary> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    VmSummary s;
    s.vmid = JsonInt(v.value("vmid", nlohmann::json(0))).value_or(0);
    s.name = JsonString(v.value("name", nlohmann::json()));
    s.status = JsonString(v.value("status", nlohmann::json()));
    s.template_ = JsonInt(v.value("template", nlohmann::json(0))).value_or(0) == 1;
    s.maxdisk = JsonInt(v.value("maxdisk", nlohmann::json(0))).value_or(0);
    s.lock = JsonString(v.value("lock", nlohmann::json()));
    out.push_back(std::move(s));
  }
  return out;
}

StatusOr<int64_t> Client::NextId(std::optional<int64_t> candidate) {
  Params p;
  if (candidate) p.push_back({"vmid", std::to_string(*candidate)});
  PVEK8S_ASSIGN_OR_RETURN(auto j, Call("GET", "/cluster/nextid", p));
  auto id = JsonInt(j);
  if (!id) return InternalError("GET /cluster/nextid: not a number");
  return *id;
}

StatusOr<nlohmann::json> Client::GetConfig(const std::string& node, int64_t vmid, bool current) {
  Params p;
  if (current) p.push_back({"current", "1"});
  return Call("GET", "/nodes/" + node + "/qemu/" + std::to_string(vmid) + "/config", p);
}

StatusOr<nlohmann::json> Client::CurrentStatus(const std::string& node, int64_t vmid) {
  return Call("GET", "/nodes/" + node + "/qemu/" + std::to_string(vmid) + "/status/current");
}

}  // namespace pvek8s::pve
