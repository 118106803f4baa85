#include "acceptance-tests/pvesim/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace pvek8s::pvesim {
namespace {

constexpr int kPollSliceMs = 200;

SSL_CTX* Ctx(void* p) { return static_cast<SSL_CTX*>(p); }

std::string FirstLine(std::string_view s) {
  size_t nl = s.find_first_of("\r\n");
  return std::string(s.substr(0, nl));
}

std::string Serialize(const HttpResponse& r, bool close) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " ";
  out += r.reason.empty() ? StandardReason(r.status) : FirstLine(r.reason);
  out += "\r\n";
  for (const auto& [k, v] : r.headers) {
    out += k;
    out += ": ";
    out += FirstLine(v);
    out += "\r\n";
  }
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += close ? "Connection: close\r\n" : "Connection: Keep-Alive\r\n";
  out += "\r\n";
  out += r.body;
  return out;
}

// Waits until `fd` is readable, the deadline passes or the server stops.
// Returns 1 readable, 0 timeout/stop, -1 error.
int WaitReadable(int fd, const std::atomic<bool>& stopping, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!stopping.load()) {
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, kPollSliceMs);
    if (rc > 0) return 1;
    if (rc < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= deadline) return 0;
  }
  return 0;
}

bool WriteAll(SSL* ssl, std::string_view data) {
  while (!data.empty()) {
    int n = SSL_write(ssl, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Answers one plain-HTTP request with a redirect to the same URL over https,
// 301 for GET/HEAD and 308 otherwise, as pveproxy does.
void RedirectPlainHttp(int fd) {
  std::string buffer;
  char chunk[4096];
  ParseResult parsed;
  while (true) {
    parsed = ParseHttpRequest(buffer);
    if (parsed.state != ParseState::kIncomplete) break;
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return;
    buffer.append(chunk, static_cast<size_t>(n));
  }
  HttpResponse r;
  r.status = 400;
  if (parsed.state == ParseState::kComplete) {
    const std::string* host = parsed.request.Header("host");
    bool safe = parsed.request.method == "GET" || parsed.request.method == "HEAD";
    r.status = safe ? 301 : 308;
    r.reason = safe ? "Moved Permanently" : "Permanent Redirect";
    r.headers.emplace_back(
        "Location", "https://" + (host ? *host : std::string("localhost")) + parsed.request.target);
  }
  std::string out = Serialize(r, true);
  [[maybe_unused]] ssize_t w = send(fd, out.data(), out.size(), MSG_NOSIGNAL);
}

}  // namespace

const char* StandardReason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 301:
      return "Moved Permanently";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    case 506:
      return "Variant Also Negotiates";
    default:
      return "Unknown";
  }
}

StatusOr<std::unique_ptr<HttpsServer>> HttpsServer::Start(const HttpsServerOptions& options,
                                                          HttpHandler handler) {
  std::unique_ptr<HttpsServer> s(new HttpsServer());
  s->options_ = options;
  s->handler_ = std::move(handler);

  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return InternalError("SSL_CTX_new failed");
  s->ssl_ctx_ = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_path.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, options.key_path.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return InvalidArgumentError("cannot load certificate " + options.cert_path + " / key " +
                                options.key_path);
  }

  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  int family = AF_INET;
  std::string host = options.host;
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(options.port));
    addr_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(options.port));
    addr_len = sizeof(sockaddr_in6);
  } else {
    return InvalidArgumentError("listen address must be a numeric IP: " + options.host);
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return InternalError(std::string("socket: ") + std::strerror(errno));
  s->listen_fd_ = fd;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    return UnavailableError("bind " + options.host + ":" + std::to_string(options.port) + ": " +
                            std::strerror(errno));
  }
  if (listen(fd, 128) != 0) return InternalError(std::string("listen: ") + std::strerror(errno));
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  s->port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                     : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  if (pipe2(s->wake_pipe_, O_CLOEXEC) != 0) return InternalError("pipe2 failed");
  s->accept_thread_ = std::thread([srv = s.get()] { srv->AcceptLoop(); });
  return s;
}

HttpsServer::~HttpsServer() {
  Stop();
  if (ssl_ctx_ != nullptr) SSL_CTX_free(Ctx(ssl_ctx_));
  if (listen_fd_ >= 0) close(listen_fd_);
  for (int p : wake_pipe_) {
    if (p >= 0) close(p);
  }
}

void HttpsServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_pipe_[1] >= 0) {
    char c = 'x';
    [[maybe_unused]] ssize_t n = write(wake_pipe_[1], &c, 1);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  std::list<std::unique_ptr<Connection>> all;
  {
    std::lock_guard<std::mutex> lock(connections_mu_);
    all.swap(connections_);
  }
  for (auto& c : all) {
    if (c->thread.joinable()) c->thread.join();
  }
}

void HttpsServer::ReapFinished() {
  std::list<std::unique_ptr<Connection>> finished;
  {
    std::lock_guard<std::mutex> lock(connections_mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->done.load()) {
        finished.push_back(std::move(*it));
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) c->thread.join();
}

void HttpsServer::AcceptLoop() {
  while (!stopping_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int rc = poll(fds, 2, 1000);
    ReapFinished();
    if (rc <= 0 || (fds[1].revents & POLLIN)) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto conn = std::make_unique<Connection>();
    Connection* raw = conn.get();
    std::lock_guard<std::mutex> lock(connections_mu_);
    connections_.push_back(std::move(conn));
    raw->thread = std::thread([this, fd, raw] { Serve(fd, raw); });
  }
}

void HttpsServer::Serve(int fd, Connection* self) {
  // A stuck peer must not pin the thread during the handshake or a write.
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  SSL* ssl = SSL_new(Ctx(ssl_ctx_));
  SSL_set_fd(ssl, fd);
  std::string buffer;
  bool readable = WaitReadable(fd, stopping_, 10000) == 1;
  unsigned char first = 0;
  if (readable && recv(fd, &first, 1, MSG_PEEK) == 1 && first != 0x16) {
    // Plain HTTP on the TLS port: pveproxy redirects to https and closes.
    RedirectPlainHttp(fd);
    close(fd);
    SSL_free(ssl);
    self->done.store(true);
    return;
  }
  bool continued = false;
  if (readable && SSL_accept(ssl) == 1) {
    char chunk[16384];
    bool open = true;
    while (open && !stopping_.load()) {
      ParseResult parsed = ParseHttpRequest(buffer, options_.limits);
      if (parsed.state == ParseState::kIncomplete) {
        if (parsed.expect_continue && !continued) {
          continued = true;
          if (!WriteAll(ssl, "HTTP/1.1 100 Continue\r\n\r\n")) break;
        }
        if (SSL_pending(ssl) == 0 && WaitReadable(fd, stopping_, options_.idle_timeout_ms) != 1) {
          break;
        }
        int n = SSL_read(ssl, chunk, sizeof(chunk));
        if (n <= 0) break;
        buffer.append(chunk, static_cast<size_t>(n));
        continue;
      }
      if (parsed.state == ParseState::kError) {
        HttpResponse r;
        r.status = parsed.status;
        r.reason = parsed.reason;
        r.body = parsed.reason;
        WriteAll(ssl, Serialize(r, true));
        break;
      }
      buffer.erase(0, parsed.consumed);
      continued = false;
      HttpResponse r = handler_(parsed.request);
      if (r.drop) break;
      bool close_after = r.close || !parsed.request.keep_alive || stopping_.load();
      if (!WriteAll(ssl, Serialize(r, close_after)) || close_after) open = false;
    }
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  close(fd);
  ERR_clear_error();
  self->done.store(true);
}

}  // namespace pvek8s::pvesim
