// A small HTTPS/1.1 server over OpenSSL: one thread per connection, keep-alive,
// requests parsed by ParseHttpRequest.
#ifndef ACCEPTANCE_TESTS_PVESIM_HTTP_SERVER_H_
#define ACCEPTANCE_TESTS_PVESIM_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "acceptance-tests/pvesim/http_parser.h"
#include "provider/base/status.h"

namespace pvek8s::pvesim {

struct HttpResponse {
  int status = 200;
  std::string reason;  // Empty means the standard phrase. Only the first line is sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close = false;  // Close the connection after this answer.
  bool drop = false;   // Close the connection without answering at all.
};

// Called concurrently from connection threads; must be thread-safe.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpsServerOptions {
  std::string host = "127.0.0.1";  // Numeric address to bind; nothing else is listened on.
  int port = 0;                    // 0 picks a free port.
  std::string cert_path;
  std::string key_path;
  ParseLimits limits;
  int idle_timeout_ms = 60000;  // Keep-alive connections idle longer are closed.
};

class HttpsServer {
 public:
  // Binds, starts the accept thread and returns. Errors if the address cannot
  // be bound or the certificate/key cannot be loaded.
  static StatusOr<std::unique_ptr<HttpsServer>> Start(const HttpsServerOptions& options,
                                                      HttpHandler handler);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  int port() const { return port_; }

  // Stops accepting, closes every connection once its current request is
  // answered, and joins all threads. Idempotent.
  void Stop();

 private:
  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  HttpsServer() = default;
  void AcceptLoop();
  void Serve(int fd, Connection* self);
  void ReapFinished();

  HttpsServerOptions options_;
  HttpHandler handler_;
  void* ssl_ctx_ = nullptr;  // SSL_CTX*, kept opaque to keep OpenSSL out of the header.
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex connections_mu_;
  std::list<std::unique_ptr<Connection>> connections_;
};

// The standard reason phrase for `status`, or "Unknown".
const char* StandardReason(int status);

}  // namespace pvek8s::pvesim

#endif  // ACCEPTANCE_TESTS_PVESIM_HTTP_SERVER_H_
