// A Proxmox VE API client. Knows nothing about Terraform: token and ticket
// authentication, retries with backoff for what is safe to repeat, error
// mapping, task waiting with cancellation, and typed calls for the endpoints
// the provider uses. The bytes travel through a Transport (transport.h):
// HTTPS with libcurl by default (curl_transport.h), a script in tests
// (fake_transport.h).
#ifndef PROVIDER_PVE_CLIENT_H_
#define PROVIDER_PVE_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/pve/transport.h"

namespace pvek8s::pve {

struct ClientOptions {
  std::string endpoint;  // https://host:8006 (no /api2/json)
  std::string token_id;  // USER@REALM!TOKENID, or empty for ticket auth
  std::string token_secret;
  std::string username;
  std::string password;
  bool insecure = false;
  std::string ca_pem;              // trust only this CA when set
  std::string fingerprint_sha256;  // 64 lower-case hex; pins the server cert
  int64_t timeout_seconds = 60;    // per HTTP request
  int max_attempts = 6;            // for retryable failures
  std::chrono::milliseconds backoff_base{200};
  // Polled during waits and transfers; true stops the call with kCancelled.
  std::function<bool()> cancelled;
  // The clock a login ticket's age is read from; steady_clock when empty.
  // Tests move it forward to see a ticket renewed.
  std::function<std::chrono::steady_clock::time_point()> now;
};

// The final state of a task.
struct TaskResult {
  std::string exitstatus;  // "OK", "WARNINGS: n", or the error text
  bool ok() const { return exitstatus == "OK" || exitstatus.rfind("WARNINGS", 0) == 0; }
};

class Client {
 public:
  // Talks HTTPS through a CurlTransport made from `options`.
  explicit Client(ClientOptions options);
  // Talks through `transport` (a FakeTransport in tests); `options` still
  // give the credentials, timeout, retry policy and cancellation.
  Client(ClientOptions options, std::unique_ptr<Transport> transport);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Raw call: `path` below /api2/json (e.g. "/nodes"); GET/DELETE params go
  // in the query string, POST/PUT params in a form body. Returns "data".
  // Authenticates every request: with a token its Authorization header,
  // otherwise a ticket from POST /access/ticket (renewed after an hour, and
  // once after a 401) sent as a cookie, plus the CSRF token on every method
  // but GET.
  // Errors carry the method, path, HTTP status and Proxmox's message; codes:
  // 401 kUnauthenticated, 403 kPermissionDenied, 400 kInvalidArgument,
  // "does not exist" kNotFound, "already exists" kAlreadyExists, lock
  // timeouts kAborted, "VM is locked (<lock>)" kFailedPrecondition, other
  // 5xx and transport failures kUnavailable.
  // Retries transport failures on GET, PUT and DELETE (repeating them is
  // harmless), 5xx on GET, and lock timeouts on every method (Proxmox did
  // nothing when it could not take the lock). A VM's config lock is not
  // retried here: it may be held for minutes (a backup), so waiting for it is
  // the caller's, bounded by its own deadline (VmLockIn). A POST lost in transit is the
  // caller's to verify: it may have been carried out. A non-zero `timeout`
  // bounds each attempt instead of ClientOptions::timeout_seconds (for calls
  // that may hang, such as guest agent commands).
  StatusOr<nlohmann::json> Call(const std::string& method, const std::string& path,
                                const Params& params = {}, std::chrono::milliseconds timeout = {});

  // Waits for a task to stop, polling its status; kDeadlineExceeded after
  // `timeout`, kCancelled when cancelled.
  StatusOr<TaskResult> WaitTask(const std::string& upid, std::chrono::seconds timeout);
  // Waits and turns a failed task into an error naming `what`.
  Status WaitTaskOk(const std::string& upid, std::chrono::seconds timeout, const std::string& what);

  // True when `status` means the VM (or its config file) does not exist.
  static bool IsNotFound(const Status& status);
  // True for Proxmox's lock timeouts (a flock not taken within its 10 s or
  // 1 s), in an HTTP error or a task's exit status.
  static bool IsLockTimeout(const std::string& message);
  // The config lock named by Proxmox's "VM is locked (<lock>)" in `message`
  // (an HTTP error or a task's exit status), or nullopt.
  static std::optional<std::string> VmLockIn(const std::string& message);

  const ClientOptions& options() const { return options_; }
  // Sleeps `d` in small steps, returning false as soon as the client is
  // cancelled (StopProvider), so that no retry loop outlives a Ctrl-C.
  bool Backoff(std::chrono::milliseconds d);

 private:
  // One attempt through the transport, with the authentication headers.
  StatusOr<HttpResponse> Send(const std::string& method, const std::string& path,
                              const Params& params, std::chrono::milliseconds timeout);
  Status EnsureTicket();
  bool Cancelled() const { return options_.cancelled && options_.cancelled(); }
  std::chrono::steady_clock::time_point Now() const;

  ClientOptions options_;
  std::unique_ptr<Transport> transport_;
  std::mutex ticket_mu_;
  std::string ticket_;
  std::string csrf_token_;
  std::chrono::steady_clock::time_point ticket_time_;
};

// Splits a UPID's node ("UPID:pve1:...") or returns an empty string.
std::string UpidNode(const std::string& upid);

// Config values arrive as numbers or strings; these accept both.
std::optional<int64_t> JsonInt(const nlohmann::json& j);
std::string JsonString(const nlohmann::json& j);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_CLIENT_H_
