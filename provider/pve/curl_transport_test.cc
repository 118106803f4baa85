// CurlTransport against a loopback TLS server made here (OpenSSL, a fresh
// self-signed certificate): the certificate checks, the pin, request
// encoding, timeouts and cancellation. No Proxmox, no root.
#include "provider/pve/curl_transport.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "provider/base/encoding.h"
#include "provider/base/x509.h"
#include "provider/pve/client.h"
#include "provider/pve/cluster.h"

namespace pvek8s::pve {
namespace {

CaBundle ServerCert(const std::string& cn = "127.0.0.1") {
  SelfSignedSpec spec;
  spec.common_name = cn;
  spec.subject_alt_name = "IP:127.0.0.1";
  spec.basic_constraints = "critical,CA:TRUE";
  spec.not_before_offset_seconds = -60;
  spec.validity_seconds = 3600;
  auto cert = GenerateSelfSigned(spec);
  REQUIRE(cert.ok());
  return *cert;
}

std::string Fingerprint(const CaBundle& cert) { return HexEncode(Sha256(cert.cert_der)); }

// A listening loopback socket; port() is where it listens.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(0x7f000001U);  // 127.0.0.1
    socklen_t len = sizeof(addr);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(listen(fd_, 16) == 0);
    REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  int fd() const { return fd_; }
  std::string endpoint() const { return "https://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Serves HTTPS on a loopback port from a thread: every request gets
// `answer` (a whole HTTP response) and is recorded as it arrived. With
// `keep_alive`, each connection gets a thread of its own and serves requests
// until the client closes it, so connection reuse can be counted.
class TlsServer {
 public:
  TlsServer(const CaBundle& cert, std::string answer, bool keep_alive = false)
      : answer_(std::move(answer)), keep_alive_(keep_alive) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    BIO* cb = BIO_new_mem_buf(cert.cert_pem.data(), static_cast<int>(cert.cert_pem.size()));
    BIO* kb = BIO_new_mem_buf(cert.key_pem.data(), static_cast<int>(cert.key_pem.size()));
    X509* x = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    bool loaded =
        x && key && SSL_CTX_use_certificate(ctx_, x) == 1 && SSL_CTX_use_PrivateKey(ctx_, key) == 1;
    X509_free(x);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
    REQUIRE(loaded);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsServer() {
    // Wakes the accept() below: it fails once the socket is shut down.
    shutdown(listener_.fd(), SHUT_RDWR);
    thread_.join();
    for (std::thread& t : workers_) t.join();
    SSL_CTX_free(ctx_);
  }
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  std::string endpoint() const { return listener_.endpoint(); }
  std::vector<std::string> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int Connections() const { return connections_.load(); }

 private:
  void Serve() {
    for (;;) {
      int c = accept(listener_.fd(), nullptr, nullptr);
      if (c < 0) return;
      ++connections_;
      timeval tv{.tv_sec = 5, .tv_usec = 0};  // a stuck client never hangs the test
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      if (keep_alive_) {
        workers_.emplace_back([this, c] { Handle(c); });
      } else {
        Handle(c);
      }
    }
  }

  void Handle(int c) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      for (;;) {
        std::string req = ReadRequest(ssl);
        if (req.empty()) break;  // the client closed the connection
        {
          std::lock_guard<std::mutex> lock(mu_);
          requests_.push_back(req);
        }
        SSL_write(ssl, answer_.data(), static_cast<int>(answer_.size()));
        if (!keep_alive_) break;
      }
      SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(c);
  }

  // Head and body (by Content-Length) of one request.
  static std::string ReadRequest(SSL* ssl) {
    std::string req;
    char buf[4096];
    for (;;) {
      size_t head_end = req.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t want = 0;
        size_t cl = req.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) want = std::stoul(req.substr(cl + 16));
        if (req.size() >= head_end + 4 + want) return req;
      }
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) return req;
      req.append(buf, static_cast<size_t>(n));
    }
  }

  Listener listener_;
  SSL_CTX* ctx_ = nullptr;
  std::string answer_;
  bool keep_alive_;
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::vector<std::thread> workers_;  // keep-alive connections; only thread_ adds
  std::mutex mu_;
  std::vector<std::string> requests_;
};

std::string Answer(const std::string& status_line, const std::string& body) {
  return status_line + "\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

ClientOptions Options(const std::string& endpoint) {
  ClientOptions o;
  o.endpoint = endpoint;
  o.token_id = "root@pam!tf";
  o.token_secret = "s3cret";
  o.timeout_seconds = 10;
  o.max_attempts = 1;
  o.backoff_base = std::chrono::milliseconds(1);
  return o;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_CASE("a pinned certificate that matches is trusted; the request is encoded as Proxmox wants") {
  CaBundle cert = ServerCert();
  TlsServer server(cert, Answer("HTTP/1.1 200 OK", R"({"data":{"version":"8.2.4"}})"));
  ClientOptions o = Options(server.endpoint());
  o.fingerprint_sha256 = Fingerprint(cert);
  CurlTransport transport(o);
  HttpRequest req{.method = "GET",
                  .path = "/cluster/nextid",
                  .params = {{"vmid", "100"}, {"note", "a b&c"}},
                  .headers = {{"Authorization", "PVEAPIToken=root@pam!tf=s3cret"}}};
  auto r = transport.Send(req);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->reason == "OK");
  CHECK(r->body == R"({"data":{"version":"8.2.4"}})");
  auto seen = server.Requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].starts_with("GET /api2/json/cluster/nextid?vmid=100&note=a%20b%26c HTTP/1.1\r\n"));
  CHECK(Contains(seen[0], "\r\nAuthorization: PVEAPIToken=root@pam!tf=s3cret\r\n"));
  CHECK(Contains(seen[0], "\r\nAccept: application/json\r\n"));

  // And the same through the client's own constructor.
  Client client(o);
  auto version = GetVersion(client);
  REQUIRE(version.ok());
  CHECK(*version == "8.2.4");
}

TEST_CASE("a pinned certificate that does not match is refused, naming both fingerprints") {
  CaBundle cert = ServerCert();
  TlsServer server(cert, Answer("HTTP/1.1 200 OK", R"({"data":null})"));
  ClientOptions o = Options(server.endpoint());
  o.fingerprint_sha256 = std::string(64, 'a');
  CurlTransport transport(o);
  auto r = transport.Send(HttpRequest{.method = "GET", .path = "/version"});
  CHECK(r.status().code() == StatusCode::kUnavailable);
  std::string m = r.status().message();
  CHECK(m.rfind("GET /version: ", 0) == 0);
  // Upper-case colon-separated pairs, the form users paste and compare.
  std::string seen;
  for (size_t i = 0; i < Fingerprint(cert).size(); i += 2) {
    seen += (i ? ":" : "") + Fingerprint(cert).substr(i, 2);
  }
  for (char& c : seen) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string pinned = "AA";
  for (int i = 1; i < 32; ++i) pinned += ":AA";
  CHECK(Contains(m, "the server's certificate has SHA-256 fingerprint " + seen +
                        ", not the pinned " + pinned + " (tls.fingerprint_sha256)"));
  CHECK(Contains(m, "tls.fingerprint_sha256"));
  CHECK(server.Requests().empty());  // nothing was sent to the impostor
}

// architecture.md: calls from any of gRPC's threads reuse the client's kept-alive
// connections, so connections follow concurrency, not the number of calls.
TEST_CASE("connections are kept alive and shared: one per concurrent caller, not per request") {
  CaBundle cert = ServerCert();
  const std::string body = R"({"data":{"version":"8.4.1"}})";
  TlsServer server(cert,
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n"
                   "Content-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body,
                   /*keep_alive=*/true);
  ClientOptions o = Options(server.endpoint());
  o.fingerprint_sha256 = Fingerprint(cert);
  CurlTransport transport(o);
  HttpRequest req{.method = "GET", .path = "/version"};
  for (int i = 0; i < 10; ++i) REQUIRE(transport.Send(req).ok());
  CHECK(server.Connections() == 1);

  constexpr int kCallers = 4;
  std::atomic<int> failures{0};
  std::vector<std::thread> callers;
  callers.reserve(kCallers);
  for (int t = 0; t < kCallers; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (!transport.Send(req).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : callers) t.join();
  CHECK(failures.load() == 0);
  CHECK(server.Requests().size() == 50);
  CHECK(server.Connections() >= 1);
  CHECK(server.Connections() <= kCallers);
}

TEST_CASE("POST and PUT send params as a form body; the reason phrase is kept") {
  CaBundle cert = ServerCert();
  TlsServer server(cert, Answer("HTTP/1.1 500 VM 100 does not exist", R"({"data":null})"));
  ClientOptions o = Options(server.endpoint());
  o.insecure = true;
  CurlTransport transport(o);
  auto r = transport.Send(HttpRequest{.method = "POST",
                                      .path = "/nodes/pve1/qemu/100/clone",
                                      .params = {{"newid", "101"}, {"name", "k8s-1"}},
                                      .headers = {{"CSRFPreventionToken", "C1"}}});
  REQUIRE(r.ok());
  CHECK(r->status == 500);
  CHECK(r->reason == "VM 100 does not exist");
  auto seen = server.Requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].starts_with("POST /api2/json/nodes/pve1/qemu/100/clone HTTP/1.1\r\n"));
  CHECK(Contains(seen[0], "\r\nCSRFPreventionToken: C1\r\n"));
  CHECK(seen[0].ends_with("\r\n\r\nnewid=101&name=k8s-1"));
}

TEST_CASE("without a pin, a self-signed certificate needs tls.ca_pem") {
  CaBundle cert = ServerCert();
  TlsServer server(cert, Answer("HTTP/1.1 200 OK", R"({"data":1})"));
  HttpRequest req{.method = "GET", .path = "/version"};

  CurlTransport system_trust(Options(server.endpoint()));
  auto untrusted = system_trust.Send(req);
  CHECK(untrusted.status().code() == StatusCode::kUnavailable);
  CHECK(Contains(untrusted.status().message(), "set tls.ca_pem or tls.fingerprint_sha256"));

  ClientOptions with_ca = Options(server.endpoint());
  with_ca.ca_pem = cert.cert_pem;
  auto trusted = CurlTransport(with_ca).Send(req);
  REQUIRE(trusted.ok());
  CHECK(trusted->status == 200);

  ClientOptions other_ca = Options(server.endpoint());
  other_ca.ca_pem = ServerCert("another CA").cert_pem;
  auto wrong = CurlTransport(other_ca).Send(req);
  CHECK(wrong.status().code() == StatusCode::kUnavailable);
  CHECK(Contains(wrong.status().message(), "not signed by the CA in tls.ca_pem"));
}

TEST_CASE("a server that never answers: timeout, cancellation, and a closed port") {
  Listener silent;  // the kernel accepts the connection; nobody speaks TLS
  HttpRequest req{.method = "GET", .path = "/version", .timeout = std::chrono::milliseconds(300)};
  auto timed_out = CurlTransport(Options(silent.endpoint())).Send(req);
  CHECK(timed_out.status().code() == StatusCode::kDeadlineExceeded);

  ClientOptions cancelled = Options(silent.endpoint());
  cancelled.cancelled = [] { return true; };
  req.timeout = std::chrono::milliseconds(10000);
  auto stopped = CurlTransport(cancelled).Send(req);
  CHECK(stopped.status().code() == StatusCode::kCancelled);
  CHECK(stopped.status().message() == "GET /version: cancelled");

  std::string closed_endpoint;
  {
    Listener gone;
    closed_endpoint = gone.endpoint();
  }
  auto refused = CurlTransport(Options(closed_endpoint)).Send(req);
  CHECK(refused.status().code() == StatusCode::kUnavailable);
  CHECK(Contains(refused.status().message(), "(is " + closed_endpoint + " reachable?)"));
}

}  // namespace
}  // namespace pvek8s::pve
