#include "acceptance-tests/pvesim/api_test_helpers.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

namespace pvek8s::pvesim::testing {

using nlohmann::json;

const std::regex kUpid(
    R"(^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$)");

Sim::Sim(std::vector<std::string> extra, const std::string& dir)
    : data(dir), proc(dir, WithToken(std::move(extra))), client(proc) {
  REQUIRE(proc.ok());
  client.UseToken(kToken);
}

std::vector<std::string> Sim::WithToken(std::vector<std::string> extra) {
  extra.insert(extra.begin(), {"--token", kToken, "--user", "root@pam:secret", "--seed", "7"});
  return extra;
}

Sim::~Sim() { std::filesystem::remove_all(data); }

std::string CloneOk(Client& c, int newid, std::vector<std::pair<std::string, std::string>> extra,
                    const std::string& node, int source) {
  extra.emplace_back("newid", std::to_string(newid));
  Response r =
      c.Call("POST", "/nodes/" + node + "/qemu/" + std::to_string(source) + "/clone", extra);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  std::string upid = r.data().get<std::string>();
  json st = c.WaitTask(upid);
  REQUIRE_MESSAGE(st.value("exitstatus", "") == "OK", st.dump());
  return upid;
}

Response PlainGet(const std::string& url) {
  Response r;
  std::string rest = url.substr(7);
  std::string hostport = rest.substr(0, rest.find('/'));
  std::string path = rest.substr(hostport.size());
  int port = std::stoi(hostport.substr(hostport.find(':') + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + hostport + "\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) r.body.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  if (r.body.starts_with("HTTP/1.1 ")) r.status = std::stoi(r.body.substr(9, 3));
  size_t loc = r.body.find("Location: ");
  if (loc != std::string::npos) {
    r.headers["location"] = r.body.substr(loc + 10, r.body.find("\r\n", loc) - loc - 10);
  }
  return r;
}

std::string RawExchange(const PveSimProcess& p, const std::string& bytes) {
  int port = std::stoi(p.url().substr(p.url().rfind(':') + 1));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return "";
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  std::string out;
  if (SSL_connect(ssl) == 1) {
    SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size()));
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return out;
}

}  // namespace pvek8s::pvesim::testing
