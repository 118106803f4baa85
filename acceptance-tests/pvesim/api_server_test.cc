// Black-box tests of pvesim as a server: the ready line, TLS, the envelope and
// error shapes, flags that change the wire, restarts and malformed bytes.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "acceptance-tests/pvesim/api_test_helpers.h"
#include "acceptance-tests/pvesim/test_support.h"

namespace pvek8s::pvesim::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("ready line, TLS and the certificate fingerprint") {
  Sim s;
  const json& ready = s.proc.ready();
  CHECK(ready["url"].get<std::string>().starts_with("https://127.0.0.1:"));
  CHECK(std::regex_match(s.proc.fingerprint(), std::regex("^([0-9A-F]{2}:){31}[0-9A-F]{2}$")));
  CHECK(std::filesystem::exists(s.proc.ca_pem()));
  CHECK(ready["data"].get<std::string>() == std::filesystem::absolute(s.data).string());
  Response r = s.client.Call("GET", "/version");
  CHECK(r.status == 200);
  CHECK(r.data()["version"] == "9.1.1");  // the default --pve-version
  CHECK(r.data()["release"] == "9.1");
  CHECK(r.headers["content-type"] == "application/json;charset=UTF-8");
  CHECK(r.headers["server"] == "pve-api-daemon/3.0");
  CHECK(s.client.Call("GET", "/nodes").data()[0]["ssl_fingerprint"] == s.proc.fingerprint());
  CHECK(s.proc.Stop() == 0);
}

TEST_CASE("a certificate given with --cert/--key is used instead of a generated one") {
  Sim first;
  std::string cert = first.data + "/pvesim-cert.pem";
  std::string key = first.data + "/pvesim-key.pem";
  Sim second({"--cert", cert, "--key", key});
  CHECK(second.proc.fingerprint() == first.proc.fingerprint());
  CHECK(second.proc.ca_pem() == cert);
  CHECK_FALSE(std::filesystem::exists(second.data + "/pvesim-cert.pem"));
  CHECK(second.client.Call("GET", "/version").status == 200);
}

TEST_CASE("envelope and error shapes") {
  Sim s;
  Client& c = s.client;
  Response r = c.Call("GET", "/nodes/pve1/foo");
  CHECK(r.status == 501);
  CHECK(r.reason == "Method 'GET /nodes/pve1/foo' not implemented");
  CHECK(r.json ==
        json{{"data", nullptr}, {"message", "Method 'GET /nodes/pve1/foo' not implemented"}});
  r = c.Call("PUT", "/version");
  CHECK(r.status == 501);
  r = c.Raw("PATCH", "/version", "", "");
  CHECK(r.status == 501);
  CHECK(r.reason == "method 'PATCH' not available");
  r = c.Raw("DELETE", "/nodes/pve1/qemu/9000", "purge=1", "application/x-www-form-urlencoded");
  CHECK(r.status == 501);
  CHECK(r.reason == "Unexpected content for method 'DELETE'");
  r = c.Raw("POST", "/pools", "poolid=x", "text/plain");
  CHECK(r.status == 506);

  r = c.Call("GET", "/nodes/pve1/qemu/123/config");
  CHECK(r.status == 500);
  CHECK(r.reason == "Configuration file 'nodes/pve1/qemu-server/123.conf' does not exist");
  CHECK(r.json["message"] ==
        "Configuration file 'nodes/pve1/qemu-server/123.conf' does not exist\n");
  // The VM exists, but on another node.
  r = c.Call("GET", "/nodes/pve2/qemu/9000/config");
  CHECK(r.reason == "Configuration file 'nodes/pve2/qemu-server/9000.conf' does not exist");
  r = c.Call("GET", "/nodes/nosuch/qemu");
  CHECK(r.status == 500);
  CHECK(r.reason.starts_with("hostname lookup 'nosuch' failed"));

  r = c.Call("PUT", "/nodes/pve1/qemu/9000/config", {{"onboot", "true"}, {"bogus", "1"}});
  CHECK(r.status == 400);
  CHECK(r.reason == "Parameter verification failed.");
  CHECK(r.json["message"] == "Parameter verification failed.\n");
  CHECK(r.json["errors"]["onboot"] == "type check ('boolean') failed - got 'true'");
  CHECK(r.json["errors"]["bogus"] ==
        "property is not defined in schema and the schema does not allow additional properties");
  r = c.Call("GET", "/nodes/pve1/qemu/abc/config");
  CHECK(r.status == 400);
  CHECK(r.json["errors"]["vmid"] == "type check ('integer') failed - got 'abc'");
  r = c.Call("PUT", "/nodes/pve1/qemu/9000/resize", {{"disk", "scsi0"}, {"size", "+1G;rm"}});
  CHECK(r.json["errors"]["size"] == "value does not match the regex pattern");
  r = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "200"}, {"vmid", "9001"}});
  CHECK(r.json["errors"]["vmid"] ==
        "duplicate parameter (already defined in URI) with conflicting values!");

  // JSON bodies take true/false for booleans.
  CloneOk(c, 101);
  r = c.Raw("PUT", "/nodes/pve1/qemu/101/config", R"({"onboot": true, "cores": 3})",
            "application/json");
  CHECK(r.status == 200);
  CHECK(r.json == json{{"data", nullptr}});
  r = c.Call("GET", "/nodes/pve1/qemu/101/config");
  CHECK(r.data()["onboot"] == 1);
  CHECK(r.data()["cores"] == 3);
  r = c.Raw("PUT", "/nodes/pve1/qemu/101/config", "{not json", "application/json");
  CHECK(r.status == 500);
  r = c.Call("PUT", "/nodes/pve1/qemu/101/config");
  CHECK(r.status == 500);
  CHECK(r.reason == "no options specified");
}

TEST_CASE("--seed makes runs reproducible; --legacy-errors drops the message") {
  auto mac_of_clone = [](const std::vector<std::string>& args) {
    Sim s(args);
    CloneOk(s.client, 170);
    return s.client.Call("GET", "/nodes/pve1/qemu/170/config").data()["net0"].get<std::string>();
  };
  std::string a = mac_of_clone({"--seed", "42"});
  CHECK(a == mac_of_clone({"--seed", "42"}));
  CHECK(a != mac_of_clone({"--seed", "43"}));

  Sim legacy({"--legacy-errors"});
  Response r = legacy.client.Call("GET", "/nodes/pve1/qemu/123/config");
  CHECK(r.status == 500);
  CHECK(r.reason == "Configuration file 'nodes/pve1/qemu-server/123.conf' does not exist");
  CHECK(r.json == json{{"data", nullptr}});
}

TEST_CASE("restart keeps every VM and the certificate") {
  std::string dir = MakeTempDir();
  std::string fingerprint, digest;
  {
    PveSimProcess p(dir, Sim::WithToken({}));
    REQUIRE(p.ok());
    fingerprint = p.fingerprint();
    Client c(p);
    c.UseToken(kToken);
    CloneOk(c, 160, {{"name", "persist"}});
    REQUIRE(c.Call("PUT", "/nodes/pve1/qemu/160/config", {{"cores", "6"}}).status == 200);
    REQUIRE(c.Call("POST", "/pools", {{"poolid", "kept"}}).status == 200);
    Response r = c.Call("POST", "/nodes/pve1/qemu/160/status/start");
    REQUIRE(c.WaitTask(r.data().get<std::string>())["exitstatus"] == "OK");
    digest = c.Call("GET", "/nodes/pve1/qemu/160/config").data()["digest"].get<std::string>();
    CHECK(p.Stop() == 0);
  }
  // Damaged files are skipped with a warning, not fatal.
  {
    std::ofstream(dir + "/vms/123.json") << R"({"vmid": 123, "node": 5, "conf": []})";
    std::ofstream(dir + "/vms/124.json") << "{garbage";
  }
  {
    PveSimProcess p(dir, Sim::WithToken({}));
    REQUIRE(p.ok());
    CHECK(p.fingerprint() == fingerprint);
    Client c(p);
    c.UseToken(kToken);
    json cfg = c.Call("GET", "/nodes/pve1/qemu/160/config").data();
    CHECK(cfg["name"] == "persist");
    CHECK(cfg["cores"] == 6);
    CHECK(cfg["digest"] == digest);
    CHECK(c.Call("GET", "/nodes/pve1/qemu/160/status/current").data()["status"] == "running");
    CHECK(c.Call("GET", "/pools").data()[0]["poolid"] == "kept");
    CHECK(c.Call("GET", "/nodes/pve2/qemu/9001/config").data()["name"] == "ubuntu-2204-template");
    CHECK(c.Call("GET", "/nodes/pve1/qemu/123/config").status == 500);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("malformed requests get HTTP errors and the server survives") {
  Sim s;
  CHECK(RawExchange(s.proc, "GARBAGE\r\n\r\n").starts_with("HTTP/1.1 400"));
  CHECK(RawExchange(s.proc, "GET / HTTP/9.9\r\n\r\n").starts_with("HTTP/1.1 505"));
  CHECK(RawExchange(s.proc, "POST /api2/json/pools HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            .starts_with("HTTP/1.1 501"));
  CHECK(RawExchange(s.proc,
                    "GET /api2/json/version HTTP/1.1\r\nX: " + std::string(10000, 'a') + "\r\n\r\n")
            .starts_with("HTTP/1.1 431"));
  CHECK(RawExchange(s.proc, "GET /nothing HTTP/1.1\r\nConnection: close\r\n\r\n")
            .starts_with("HTTP/1.1 501"));
  // Keep-alive: two requests on one connection, both answered.
  std::string two = RawExchange(
      s.proc, std::string("GET /api2/json/version HTTP/1.1\r\nAuthorization: PVEAPIToken=") +
                  kToken +
                  "\r\n\r\nGET /api2/json/version HTTP/1.1\r\nConnection: close\r\n"
                  "Authorization: PVEAPIToken=" +
                  kToken + "\r\n\r\n");
  size_t first = two.find("HTTP/1.1 200");
  CHECK(first != std::string::npos);
  CHECK(two.find("HTTP/1.1 200", first + 1) != std::string::npos);
  CHECK(s.client.Call("GET", "/version").status == 200);
}

}  // namespace
}  // namespace pvek8s::pvesim::testing
