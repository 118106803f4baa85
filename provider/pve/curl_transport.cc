#include "provider/pve/curl_transport.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "provider/base/encoding.h"
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

// The form users compare and paste (Proxmox's certificate view and
// `openssl x509 -fingerprint -sha256` print it): upper-case hex pairs joined
// by colons.
std::string ColonHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); ++i) {
    if (i > 0 && i % 2 == 0) out += ':';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
  }
  return out;
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

// Sets the certificate checks; `pin->expected` non-empty asks for the pin.
void ConfigureTls(const CurlApi* api, CURL* curl, bool insecure, const std::string& ca_pem,
                  PinState* pin) {
  if (insecure) {
    api->easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    api->easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!pin->expected.empty()) {
    // The pin replaces chain and name checks: Proxmox certificates are
    // self-signed and often reached by IP.
    api->easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    api->easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    api->easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, InstallPin);
    api->easy_setopt(curl, CURLOPT_SSL_CTX_DATA, pin);
  } else if (!ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(ca_pem.data()), ca_pem.size(), CURL_BLOB_COPY};
    api->easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
  }
}

// What a failed exchange means, in the words of the provider's settings.
Status TransportError(const HttpRequest& req, CURLcode rc, const char* curl_message,
                      const PinState& pin, const std::string& ca_pem, const std::string& endpoint) {
  std::string what = req.method + " " + req.path;
  if (rc == CURLE_ABORTED_BY_CALLBACK) return CancelledError(what + ": cancelled");
  if (!pin.expected.empty() && !pin.seen.empty() && pin.seen != pin.expected) {
    return UnavailableError(what + ": the server's certificate has SHA-256 fingerprint " +
                            ColonHex(pin.seen) + ", not the pinned " + ColonHex(pin.expected) +
                            " (tls.fingerprint_sha256)");
  }
  std::string msg = what + ": " + curl_message;
  if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
    if (!ca_pem.empty()) {
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
  return UnavailableError(msg + " (is " + endpoint + " reachable?)");
}

}  // namespace

CurlTransport::CurlTransport(const ClientOptions& options)
    : endpoint_(options.endpoint),
      insecure_(options.insecure),
      ca_pem_(options.ca_pem),
      fingerprint_sha256_(options.fingerprint_sha256),
      default_timeout_(std::chrono::seconds(options.timeout_seconds)),
      cancelled_(options.cancelled) {}

CurlTransport::~CurlTransport() {
  if (idle_handles_.empty()) return;
  auto api = Curl();
  for (void* h : idle_handles_) (*api)->easy_cleanup(static_cast<CURL*>(h));
}

StatusOr<HttpResponse> CurlTransport::Send(const HttpRequest& req) {
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
  return Perform(api, curl, req);
}

StatusOr<HttpResponse> CurlTransport::Perform(const CurlApi* api, void* curl,
                                              const HttpRequest& req) {
  std::string url = endpoint_ + kApiPrefix + req.path;
  std::string body = EncodeParams(req.params);
  bool has_body = req.method == "POST" || req.method == "PUT";
  if (!has_body && !body.empty()) url += (url.find('?') == std::string::npos ? "?" : "&") + body;

  HttpResponse resp;
  std::string reason;
  api->easy_setopt(curl, CURLOPT_URL, url.c_str());
  api->easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  api->easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  api->easy_setopt(curl, CURLOPT_WRITEDATA, &resp.body);
  api->easy_setopt(curl, CURLOPT_HEADERFUNCTION, ReadHeader);
  api->easy_setopt(curl, CURLOPT_HEADERDATA, &reason);
  auto timeout = req.timeout.count() > 0 ? req.timeout : default_timeout_;
  api->easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  api->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 15L);
  api->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  api->easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  api->easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, Progress);
  api->easy_setopt(curl, CURLOPT_XFERINFODATA, &cancelled_);
  if (has_body) {
    api->easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    api->easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  PinState pin;
  if (!insecure_) pin.expected = fingerprint_sha256_;
  ConfigureTls(api, curl, insecure_, ca_pem_, &pin);

  // The lines carry secrets (token, ticket): scrubbed once curl is done.
  std::vector<std::string> lines;
  lines.reserve(req.headers.size() + 1);
  for (const auto& [name, value] : req.headers) lines.push_back(name + ": " + value);
  lines.emplace_back("Accept: application/json");
  curl_slist* headers = nullptr;
  for (const auto& line : lines) headers = api->slist_append(headers, line.c_str());
  api->easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = api->easy_perform(curl);
  api->slist_free_all(headers);
  for (auto& line : lines) std::fill(line.begin(), line.end(), '\0');

  if (rc != CURLE_OK) {
    return TransportError(req, rc, api->easy_strerror(rc), pin, ca_pem_, endpoint_);
  }
  api->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.status);
  resp.reason = reason;
  return resp;
}

}  // namespace pvek8s::pve
