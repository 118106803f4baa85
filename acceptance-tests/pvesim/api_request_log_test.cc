// Black-box tests of what the terraform acceptance tests of the claims rely
// on: --log-requests (counting calls), --ticket-lifetime (renewal) and a new
// QEMU pid per boot (refresh reads an address once per boot).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "acceptance-tests/pvesim/api_test_helpers.h"
#include "acceptance-tests/pvesim/test_support.h"

namespace pvek8s::pvesim::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The JSON lines of pvesim's log whose @message is `message`.
std::vector<json> LogLines(const std::string& data_dir, const std::string& message) {
  std::ifstream in(data_dir + "/pvesim.log");
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("@message", "") == message) out.push_back(j);
  }
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The one request line for METHOD PATH with `status`, or null.
json FindRequest(const std::vector<json>& lines, const std::string& method, const std::string& path,
                 int status) {
  json found;
  int n = 0;
  for (const json& j : lines) {
    if (j.value("method", "") == method && j.value("path", "") == path &&
        j.value("status", 0) == status) {
      found = j;
      ++n;
    }
  }
  return n == 1 ? found : json();
}

TEST_CASE("--log-requests: one line per request and per ticket, with who and CSRF, no secret") {
  Sim s({"--log-requests", "--user", "tf@pve:pw-Secret-42"});
  REQUIRE(s.client.Call("GET", "/version").status == 200);
  Client t(s.proc);
  Response login = t.Login("tf@pve", "pw-Secret-42");
  REQUIRE(login.status == 200);
  std::string ticket = login.data()["ticket"].get<std::string>();
  std::string csrf = login.data()["CSRFPreventionToken"].get<std::string>();
  REQUIRE(t.Call("POST", "/pools", {{"poolid", "withcsrf"}}).status == 200);
  Client bare(s.proc);
  bare.SetHeader("Cookie", "PVEAuthCookie=" + ticket);
  REQUIRE(bare.Call("POST", "/pools", {{"poolid", "nocsrf"}}).status == 401);
  Client renew(s.proc);
  REQUIRE(renew.Login("tf@pve", ticket).status == 200);

  std::vector<json> req = LogLines(s.data, "request");
  json token_get = FindRequest(req, "GET", "/version", 200);
  REQUIRE(token_get.is_object());
  CHECK(token_get["auth"] == "token");
  CHECK(token_get["user"] == "root@pam!tf");
  json with_csrf = FindRequest(req, "POST", "/pools", 200);
  REQUIRE(with_csrf.is_object());
  CHECK(with_csrf["auth"] == "ticket");
  CHECK(with_csrf["csrf"] == "valid");
  CHECK(with_csrf["user"] == "tf@pve");
  json refused = FindRequest(req, "POST", "/pools", 401);
  REQUIRE(refused.is_object());
  CHECK(refused["auth"] == "none");

  std::vector<json> issued = LogLines(s.data, "ticket issued");
  REQUIRE(issued.size() == 2);
  CHECK(issued[0]["user"] == "tf@pve");
  CHECK(issued[0]["renewal"] == false);
  CHECK(ticket.find(":" + issued[0]["time"].get<std::string>() + "::") != std::string::npos);
  CHECK(issued[1]["renewal"] == true);

  std::string log = ReadAll(s.data + "/pvesim.log");
  std::string token_secret = std::string(kToken).substr(std::string(kToken).find('=') + 1);
  for (const std::string& secret :
       {ticket.substr(ticket.rfind(':') + 1), csrf.substr(csrf.find(':') + 1),
        std::string("pw-Secret-42"), token_secret}) {
    CHECK_MESSAGE(log.find(secret) == std::string::npos, secret);
  }
}

TEST_CASE("without --log-requests nothing is logged per request") {
  Sim s;
  REQUIRE(s.client.Call("GET", "/version").status == 200);
  CHECK(LogLines(s.data, "request").empty());
}

TEST_CASE("--ticket-lifetime: a ticket is refused once it is older, renewal too, login again") {
  constexpr int kLifetime = 1;
  Sim s({"--ticket-lifetime", std::to_string(kLifetime), "--user", "tf@pve:pw"});
  Client t(s.proc);
  auto issued = std::chrono::steady_clock::now();
  Response login = t.Login("tf@pve", "pw");
  REQUIRE(login.status == 200);
  std::string ticket = login.data()["ticket"].get<std::string>();
  CHECK(t.Call("GET", "/version").status == 200);
  // Tickets carry whole seconds: refused within lifetime + 1 s, not before
  // the lifetime has passed.
  bool expired = WaitFor([&] { return t.Call("GET", "/version").status == 401; },
                         std::chrono::seconds(kLifetime + 3));
  REQUIRE(expired);
  CHECK(std::chrono::steady_clock::now() - issued >= std::chrono::seconds(kLifetime) - 50ms);
  CHECK(t.Call("GET", "/version").reason == "Authentication failed!");
  Client renew(s.proc);
  CHECK(renew.Login("tf@pve", ticket).status == 401);
  Client again(s.proc);
  REQUIRE(again.Login("tf@pve", "pw").status == 200);
  CHECK(again.Call("POST", "/pools", {{"poolid", "after"}}).status == 200);
}

TEST_CASE("a reboot starts a new QEMU process: the pid changes per boot, not per read") {
  Sim s;
  CloneOk(s.client, 120);
  auto pid = [&] {
    Response r = s.client.Call("GET", "/nodes/pve1/qemu/120/status/current");
    REQUIRE(r.status == 200);
    return r.data().value("pid", json(0)).get<int64_t>();
  };
  auto power = [&](const char* action) {
    Response r = s.client.Call("POST", std::string("/nodes/pve1/qemu/120/status/") + action);
    REQUIRE(r.status == 200);
    CHECK(s.client.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
  };
  power("start");
  int64_t first = pid();
  CHECK(first > 0);
  CHECK(pid() == first);
  power("reboot");
  int64_t second = pid();
  CHECK(second > 0);
  CHECK(second != first);
  CHECK(pid() == second);
  Response list = s.client.Call("GET", "/nodes/pve1/qemu");
  for (const json& vm : list.data()) {
    if (vm.value("vmid", json(0)).get<int>() == 120) CHECK(vm["pid"].get<int64_t>() == second);
  }
}

TEST_CASE("--ticket-lifetime wants a whole number of seconds") {
  for (const char* bad : {"0", "-1", "2s"}) {
    std::string cmd = std::string(PVESIM_BINARY) + " --data /nonexistent --ticket-lifetime '" +
                      bad + "' 2>&1 </dev/null";
    FILE* f = popen(cmd.c_str(), "r");
    REQUIRE(f != nullptr);
    std::string out;
    char buf[512];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), f)) > 0;) out.append(buf, n);
    int rc = pclose(f);
    CHECK_MESSAGE(WEXITSTATUS(rc) == 2, bad);
    CHECK_MESSAGE(
        out.find("--ticket-lifetime wants a whole number of seconds") != std::string::npos, out);
  }
}

}  // namespace
}  // namespace pvek8s::pvesim::testing
