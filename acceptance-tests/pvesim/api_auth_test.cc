// Black-box tests of authentication and permissions: tokens, tickets, CSRF,
// expiry and privilege-separated tokens.
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

TEST_CASE("authentication: tokens, tickets, CSRF and the 401 shapes") {
  Sim s;
  Client c(s.proc);
  Response r = c.Call("GET", "/version");
  CHECK(r.status == 401);
  CHECK(r.reason == "No ticket");
  CHECK(r.body.empty());
  CHECK(r.headers.count("content-type") == 0);

  c.UseToken("root@pam!tf=wrong");
  r = c.Call("GET", "/version");
  CHECK(r.status == 401);
  CHECK(r.reason == "Authentication failed!");
  CHECK(r.body.empty());

  // Both separators after PVEAPIToken: '=' and a space.
  c.ClearAuth();
  c.SetHeader("Authorization", std::string("PVEAPIToken ") + kToken);
  CHECK(c.Call("GET", "/version").status == 200);
  c.SetHeader("Authorization", std::string("PVEAPIToken=") + kToken);
  CHECK(c.Call("POST", "/pools", {{"poolid", "viatoken"}}).status == 200);  // No CSRF for tokens.

  Client t(s.proc);
  r = t.Login("root@pam", "nope");
  CHECK(r.status == 401);
  CHECK(r.reason == "authentication failure");
  CHECK(r.json["message"] == "authentication failure\n");
  CHECK(r.json["data"].is_null());

  r = t.Login("root@pam", "secret");
  REQUIRE(r.status == 200);
  CHECK(r.data()["username"] == "root@pam");
  CHECK(std::regex_match(r.data()["ticket"].get<std::string>(),
                         std::regex(R"(^PVE:root@pam:[0-9A-F]{8}::\S+$)")));
  CHECK(std::regex_match(r.data()["CSRFPreventionToken"].get<std::string>(),
                         std::regex(R"(^[0-9A-F]{8}:\S+$)")));
  CHECK(t.Call("GET", "/nodes").status == 200);
  CHECK(t.Call("POST", "/pools", {{"poolid", "viaticket"}}).status == 200);

  // A ticket without the CSRF header on a POST.
  Client bare(s.proc);
  bare.SetHeader("Cookie", "PVEAuthCookie=" + r.data()["ticket"].get<std::string>());
  CHECK(bare.Call("GET", "/version").status == 200);
  Response no_csrf = bare.Call("POST", "/pools", {{"poolid", "nocsrf"}});
  CHECK(no_csrf.status == 401);
  CHECK(no_csrf.reason == "Permission denied - invalid csrf token");
  // The same ticket in the Authorization header (Telmate's way).
  Client hdr(s.proc);
  hdr.SetHeader("Authorization", "PVEAuthCookie=" + r.data()["ticket"].get<std::string>());
  CHECK(hdr.Call("GET", "/version").status == 200);
  // A forged ticket.
  Client forged(s.proc);
  forged.SetHeader("Cookie", "PVEAuthCookie=PVE:root@pam:6650A1B2::c2ln");
  CHECK(forged.Call("GET", "/version").reason == "Authentication failed!");
  // Tickets cannot be fetched with a token (allowtoken 0), but the endpoint is public.
  CHECK(s.client.Call("GET", "/access/domains").status == 200);
}

TEST_CASE("an expired token is refused like a wrong one") {
  Sim s({"--token", "tf@pve!old=old-secret,expire=1000000000,privsep=0", "--token",
         "tf@pve!new=new-secret,expire=4102444800"});
  Client old(s.proc);
  old.UseToken("tf@pve!old=old-secret");
  Response r = old.Call("GET", "/version");
  CHECK(r.status == 401);
  CHECK(r.reason == "Authentication failed!");
  Client fresh(s.proc);
  fresh.UseToken("tf@pve!new=new-secret");
  CHECK(fresh.Call("GET", "/version").status == 200);
}

TEST_CASE("privilege-separated tokens get only their own ACL") {
  Sim s({"--token", "tf@pve!ro=ro-secret,privsep=1", "--acl", "/vms/9000:PVEAuditor:tf@pve!ro",
         "--acl", "/storage:PVEDatastoreUser:tf@pve!ro"});
  Client c(s.proc);
  c.UseToken("tf@pve!ro=ro-secret");
  CHECK(c.Call("GET", "/nodes/pve1/qemu/9000/config").status == 200);
  Response r = c.Call("GET", "/nodes/pve2/qemu/9001/config");
  CHECK(r.status == 403);
  CHECK(r.reason == "Permission check failed (/vms/9001, VM.Audit)");
  CHECK(r.json["message"] == "Permission check failed (/vms/9001, VM.Audit)\n");
  r = c.Call("GET", "/cluster/resources", {{"type", "vm"}});
  REQUIRE(r.status == 200);
  REQUIRE(r.data().size() == 1);
  CHECK(r.data()[0]["vmid"] == 9000);
  r = c.Call("POST", "/nodes/pve1/qemu/9000/clone", {{"newid", "150"}});
  CHECK(r.status == 403);
  CHECK(r.reason == "Permission check failed (/vms/9000, VM.Clone)");
  r = c.Call("GET", "/nodes/pve1/status");
  CHECK(r.status == 403);
  CHECK(r.reason == "Permission check failed (/nodes/pve1, Sys.Audit)");
  CHECK(c.Call("GET", "/nodes/pve1/storage").data().size() == 2);
  // What the token may do, as clients ask before acting.
  r = c.Call("GET", "/access/permissions", {{"path", "/vms/9000"}});
  REQUIRE(r.status == 200);
  CHECK(r.data()["/vms/9000"].contains("VM.Audit"));
  CHECK_FALSE(r.data()["/vms/9000"].contains("VM.Clone"));
  r = c.Call("GET", "/access/permissions", {{"path", "/vms/9001"}});
  CHECK(r.data()["/vms/9001"].empty());
  CHECK(c.Call("GET", "/access/permissions", {{"userid", "root@pam"}}).status == 403);
}

}  // namespace
}  // namespace pvek8s::pvesim::testing
