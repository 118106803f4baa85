// Test helpers for black-box pvesim tests: a pvesim child process on
// 127.0.0.1:0 and a small libcurl client that talks to it like any Proxmox
// client would (certificate verified against the printed CA file).
#ifndef ACCEPTANCE_TESTS_PVESIM_TEST_SUPPORT_H_
#define ACCEPTANCE_TESTS_PVESIM_TEST_SUPPORT_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pvek8s::pvesim::testing {

// A running pvesim. The destructor sends SIGTERM and reaps it.
class PveSimProcess {
 public:
  // Starts pvesim with --listen 127.0.0.1:0 --data `data_dir` plus `args`, and
  // waits (up to 10 s) for its ready line. Check ok() afterwards. Its stderr
  // goes to `data_dir`/pvesim.log.
  PveSimProcess(const std::string& data_dir, const std::vector<std::string>& args);
  ~PveSimProcess();
  PveSimProcess(const PveSimProcess&) = delete;
  PveSimProcess& operator=(const PveSimProcess&) = delete;

  bool ok() const { return pid_ > 0 && !url_.empty(); }
  // Sends SIGTERM and waits up to 10 s; returns the exit code (or -1).
  int Stop();

  const std::string& url() const { return url_; }  // https://127.0.0.1:PORT
  const std::string& ca_pem() const { return ca_pem_; }
  const std::string& fingerprint() const { return fingerprint_; }
  const nlohmann::json& ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  std::string url_, ca_pem_, fingerprint_;
  nlohmann::json ready_;
};

struct Response {
  int status = 0;      // 0 when the transport failed.
  std::string reason;  // Reason phrase of the status line.
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string curl_error;
  nlohmann::json json;  // Parsed body (discarded when not JSON).
  // A copy, so that `for (auto& x : client.Call(...).data())` never dangles.
  nlohmann::json data() const {
    return json.is_object() ? json.value("data", nlohmann::json()) : nlohmann::json();
  }
};

// One client session (token or ticket), like proxmoxer or the Go clients.
class Client {
 public:
  explicit Client(const PveSimProcess& sim);
  void UseToken(const std::string& token);  // "user@realm!id=secret"
  // POST /access/ticket; on success uses the cookie and CSRF token afterwards.
  Response Login(const std::string& user, const std::string& password);
  void SetHeader(const std::string& name, const std::string& value) { extra_[name] = value; }
  void ClearAuth();

  // `params` go in the query string for GET/DELETE and as a form body otherwise.
  Response Call(const std::string& method, const std::string& path,
                const std::vector<std::pair<std::string, std::string>>& params = {});
  // Sends `body` verbatim with `content_type`.
  Response Raw(const std::string& method, const std::string& path, const std::string& body,
               const std::string& content_type);

  // Polls the task's status until it stops (deadline 20 s); returns the last status JSON.
  nlohmann::json WaitTask(const std::string& upid);

 private:
  std::string base_, ca_;
  std::string token_, ticket_, csrf_;
  std::map<std::string, std::string> extra_;
};

// Polls `pred` until it is true or `timeout` passes; returns its last value.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// A fresh empty directory under $TMPDIR (or /tmp).
std::string MakeTempDir();

}  // namespace pvek8s::pvesim::testing

#endif  // ACCEPTANCE_TESTS_PVESIM_TEST_SUPPORT_H_
