// pve::Client over the scripted FakeTransport: authentication, error
// mapping, retries, cancellation and task waiting, without a server.
#include "provider/pve/client.h"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <utility>

#include "provider/pve/cluster.h"
#include "provider/pve/fake_transport.h"
#include "provider/pve/nodes.h"

namespace pvek8s::pve {
namespace {

using std::chrono::milliseconds;

constexpr char kUpid[] = "UPID:pve1:0000ABCD:00012345:65F00000:qmclone:100:root@pam:";
std::string TaskPath() { return std::string("/nodes/pve1/tasks/") + kUpid + "/status"; }
constexpr char kLockTimeout[] =
    "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout";
const char* const kMethods[] = {"GET", "POST", "PUT", "DELETE"};

ClientOptions TokenOptions() {
  ClientOptions o;
  o.endpoint = "https://pve.invalid:8006";
  o.token_id = "root@pam!tf";
  o.token_secret = "s3cret";
  o.max_attempts = 4;
  o.backoff_base = milliseconds(1);
  return o;
}

ClientOptions TicketOptions() {
  ClientOptions o = TokenOptions();
  o.token_id.clear();
  o.token_secret.clear();
  o.username = "root@pam";
  o.password = "pw";
  return o;
}

// A client over a fresh fake; the fake stays owned by the client.
struct Harness {
  explicit Harness(ClientOptions options = TokenOptions()) {
    auto transport = std::make_unique<FakeTransport>();
    fake = transport.get();
    client = std::make_unique<Client>(std::move(options), std::move(transport));
  }
  FakeTransport* fake = nullptr;
  std::unique_ptr<Client> client;
};

std::optional<std::string> Header(const HttpRequest& req, const std::string& name) {
  for (const auto& [k, v] : req.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

FakeTransport::Handler Always(const StatusOr<HttpResponse>& answer) {
  return [answer](const HttpRequest&) { return answer; };
}

// ---------------------------------------------------------------------------
// The fake itself.

TEST_CASE("FakeTransport uses queued answers in order, then the persistent handler") {
  FakeTransport fake;
  fake.Queue("GET", "/a", FakeTransport::Error(500, "first"));
  fake.Queue("GET", "/a", UnavailableError("second"));
  fake.On("GET", "/a", Always(FakeTransport::Data("third")));
  HttpRequest req{.method = "GET", .path = "/a"};
  auto r1 = fake.Send(req);
  REQUIRE(r1.ok());
  CHECK(r1->status == 500);
  CHECK(r1->reason == "first");
  auto r2 = fake.Send(req);
  CHECK(r2.status().code() == StatusCode::kUnavailable);
  CHECK(r2.status().message() == "second");
  for (int i = 0; i < 2; ++i) {
    auto r = fake.Send(req);
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->body == R"({"data":"third"})");
  }
  CHECK(fake.Count("GET", "/a") == 4);
  CHECK(fake.Count("POST", "/a") == 0);
  // A queue for one method does not answer another.
  fake.Queue("PUT", "/a", FakeTransport::Data(1));
  CHECK(fake.Send(HttpRequest{.method = "DELETE", .path = "/a"})->status == 501);
  CHECK(fake.Send(HttpRequest{.method = "PUT", .path = "/a"})->status == 200);
  CHECK(fake.Send(HttpRequest{.method = "PUT", .path = "/a"})->status == 501);
}

TEST_CASE("FakeTransport answers unscripted requests with 501 and records every request") {
  FakeTransport fake;
  auto r = fake.Send(HttpRequest{.method = "POST", .path = "/x", .params = {{"k", "v"}}});
  REQUIRE(r.ok());
  CHECK(r->status == 501);
  CHECK(r->reason == "no fake answer for POST /x");
  CHECK(fake.Send(HttpRequest{.method = "GET", .path = "/y"})->status == 501);
  auto seen = fake.Requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].params == Params{{"k", "v"}});
  CHECK(seen[1].path == "/y");

  // Through the client the 501 is loud, naming the missing script line.
  Harness h;
  auto c = h.client->Call("GET", "/cluster/resources");
  CHECK(c.status().code() == StatusCode::kUnimplemented);
  CHECK(c.status().message().find("no fake answer for GET /cluster/resources") !=
        std::string::npos);
}

TEST_CASE("FakeTransport's Data and Error have Proxmox's body shape") {
  auto data = nlohmann::json::parse(FakeTransport::Data({{"vmid", 100}}).body);
  CHECK(data == nlohmann::json{{"data", {{"vmid", 100}}}});
  auto e = FakeTransport::Error(400, "Parameter verification failed.", {{"vmid", "bad"}});
  CHECK(e.status == 400);
  auto body = nlohmann::json::parse(e.body);
  CHECK(body["message"] == "Parameter verification failed.\n");
  CHECK(body["errors"]["vmid"] == "bad");
  CHECK(body["data"].is_null());
  CHECK_FALSE(nlohmann::json::parse(FakeTransport::Error(500, "x").body).contains("errors"));
}

// ---------------------------------------------------------------------------
// Requests as the transport sees them.

TEST_CASE("Call returns data and hands the transport structured params and the timeout") {
  Harness h;
  const std::string path = "/nodes/pve1/qemu/100/config";
  h.fake->On("GET", path, Always(FakeTransport::Data({{"memory", "2048"}})));
  auto conf = h.client->Call("GET", path, {{"current", "1"}});
  REQUIRE(conf.ok());
  CHECK((*conf)["memory"] == "2048");
  h.fake->On("POST", "/nodes/pve1/qemu/100/agent/ping", Always(FakeTransport::Data(nullptr)));
  auto ping = h.client->Call("POST", "/nodes/pve1/qemu/100/agent/ping", {{"a b", "c&d"}},
                             milliseconds(1500));
  REQUIRE(ping.ok());
  CHECK(ping->is_null());
  auto seen = h.fake->Requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].path == path);
  CHECK(seen[0].params == Params{{"current", "1"}});
  CHECK(seen[0].timeout == milliseconds(60000));    // ClientOptions::timeout_seconds
  CHECK(seen[1].params == Params{{"a b", "c&d"}});  // not encoded: that is the transport's
  CHECK(seen[1].timeout == milliseconds(1500));
}

TEST_CASE("the typed calls decode what the transport brings") {
  Harness h;
  h.fake->On("GET", "/version", Always(FakeTransport::Data({{"version", "8.2.4"}})));
  h.fake->On("GET", "/cluster/nextid", [](const HttpRequest& req) {
    return FakeTransport::Data(req.params.empty() ? "100" : req.params[0].second);
  });
  h.fake->On(
      "GET", "/nodes",
      Always(FakeTransport::Data({{{"node", "pve1"}, {"status", "online"}, {"maxcpu", 8}}})));
  CHECK(*GetVersion(*h.client) == "8.2.4");
  CHECK(*NextFreeId(*h.client) == 100);
  CHECK(*NextFreeId(*h.client, 250) == 250);
  auto nodes = ListNodes(*h.client);
  REQUIRE(nodes.ok());
  REQUIRE(nodes->size() == 1);
  CHECK((*nodes)[0].name == "pve1");
  CHECK((*nodes)[0].maxcpu == 8);
}

TEST_CASE("a 200 that is not JSON is an internal error") {
  Harness h;
  h.fake->On("GET", "/version", Always(HttpResponse{.status = 200, .body = "<html>"}));
  auto r = h.client->Call("GET", "/version");
  CHECK(r.status().code() == StatusCode::kInternal);
  CHECK(h.fake->Count("GET", "/version") == 1);
}

// ---------------------------------------------------------------------------
// Error classes and retries.

TEST_CASE("errors that retrying cannot fix are mapped and sent once, whatever the method") {
  struct Case {
    long status;
    std::string message;
    nlohmann::json errors;
    StatusCode code;
  };
  const Case cases[] = {
      {403, "Permission check failed (/vms/100, VM.Config.Disk)", nullptr,
       StatusCode::kPermissionDenied},
      {400,
       "Parameter verification failed.",
       {{"vmid", "invalid format"}},
       StatusCode::kInvalidArgument},
      {500, "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist", nullptr,
       StatusCode::kNotFound},
      {500, "unable to create VM 100: config file already exists", nullptr,
       StatusCode::kAlreadyExists},
      {501, "Method 'GET /nodes/x' not implemented", nullptr, StatusCode::kUnimplemented},
  };
  for (const auto& c : cases) {
    for (const char* method : kMethods) {
      CAPTURE(c.status);
      CAPTURE(std::string(method));
      Harness h;
      h.fake->On(method, "/p", Always(FakeTransport::Error(c.status, c.message, c.errors)));
      auto r = h.client->Call(method, "/p");
      CHECK(r.status().code() == c.code);
      std::string m = r.status().message();
      CHECK(m.find(std::string(method) + " /p: HTTP " + std::to_string(c.status) + " " +
                   c.message) != std::string::npos);
      if (!c.errors.is_null()) CHECK(m.find("; vmid: invalid format") != std::string::npos);
      CHECK(h.fake->Count(method, "/p") == 1);
    }
  }
  Harness nf;
  nf.fake->On("GET", "/p", Always(FakeTransport::Error(500, "VM 100 does not exist")));
  CHECK(Client::IsNotFound(nf.client->Call("GET", "/p").status()));
}

TEST_CASE(
    "401 with an API token is kUnauthenticated, names the token settings, and is not retried") {
  Harness h;
  h.fake->On("GET", "/nodes", Always(FakeTransport::Error(401, "invalid token value!")));
  auto r = h.client->Call("GET", "/nodes");
  CHECK(r.status().code() == StatusCode::kUnauthenticated);
  CHECK(r.status().message().find("api_token_id") != std::string::npos);
  CHECK(h.fake->Count("GET", "/nodes") == 1);
}

TEST_CASE("a lock timeout in an HTTP 500 is kAborted and retried on every method") {
  for (const char* method : kMethods) {
    CAPTURE(std::string(method));
    Harness h;
    h.fake->Queue(method, "/p", FakeTransport::Error(500, kLockTimeout));
    h.fake->On(method, "/p", Always(FakeTransport::Data("done")));
    auto ok = h.client->Call(method, "/p");
    REQUIRE(ok.ok());
    CHECK(*ok == "done");
    CHECK(h.fake->Count(method, "/p") == 2);

    Harness stuck;
    stuck.fake->On(method, "/p", Always(FakeTransport::Error(500, kLockTimeout)));
    auto r = stuck.client->Call(method, "/p");
    CHECK(r.status().code() == StatusCode::kAborted);
    CHECK(stuck.fake->Count(method, "/p") == 4);  // max_attempts
  }
}

TEST_CASE("a VM's config lock is kFailedPrecondition at once: its holder may take minutes") {
  for (const char* method : kMethods) {
    CAPTURE(std::string(method));
    Harness h;
    h.fake->On(method, "/p", Always(FakeTransport::Error(500, "VM is locked (backup)")));
    auto r = h.client->Call(method, "/p");
    CHECK(r.status().code() == StatusCode::kFailedPrecondition);
    CHECK(r.status().message().find("VM is locked (backup)") != std::string::npos);
    CHECK(h.fake->Count(method, "/p") == 1);
  }
}

TEST_CASE("other 5xx answers are retried on GET only") {
  for (const char* method : kMethods) {
    CAPTURE(std::string(method));
    Harness h;
    h.fake->On(method, "/p", Always(FakeTransport::Error(503, "Service Unavailable")));
    auto r = h.client->Call(method, "/p");
    CHECK(r.status().code() == StatusCode::kUnavailable);
    CHECK(h.fake->Count(method, "/p") == (std::string(method) == "GET" ? 4 : 1));
  }
  Harness h;
  h.fake->Queue("GET", "/p", FakeTransport::Error(500, "Internal Server Error"));
  h.fake->On("GET", "/p", Always(FakeTransport::Data(7)));
  CHECK(*h.client->Call("GET", "/p") == 7);
}

TEST_CASE("transport failures are retried on GET, PUT and DELETE but not POST") {
  for (const char* method : kMethods) {
    CAPTURE(std::string(method));
    Harness h;
    h.fake->On(method, "/p", Always(UnavailableError("connection refused")));
    auto r = h.client->Call(method, "/p");
    CHECK(r.status().code() == StatusCode::kUnavailable);
    CHECK(r.status().message() == "connection refused");
    CHECK(h.fake->Count(method, "/p") == (std::string(method) == "POST" ? 1 : 4));
  }
  Harness h;
  h.fake->Queue("PUT", "/p", UnavailableError("connection reset"));
  h.fake->On("PUT", "/p", Always(FakeTransport::Data(nullptr)));
  CHECK(h.client->Call("PUT", "/p").ok());
  CHECK(h.fake->Count("PUT", "/p") == 2);
}

TEST_CASE("a timed-out attempt is returned as kDeadlineExceeded, not repeated") {
  Harness h;
  h.fake->On("GET", "/p", Always(DeadlineExceededError("GET /p: Timeout was reached")));
  CHECK(h.client->Call("GET", "/p").status().code() == StatusCode::kDeadlineExceeded);
  CHECK(h.fake->Count("GET", "/p") == 1);
}

TEST_CASE("retries stop after max_attempts") {
  for (int attempts : {1, 2, 5}) {
    CAPTURE(attempts);
    ClientOptions o = TokenOptions();
    o.max_attempts = attempts;
    Harness h(o);
    h.fake->On("GET", "/p", Always(FakeTransport::Error(502, "Bad Gateway")));
    CHECK(h.client->Call("GET", "/p").status().code() == StatusCode::kUnavailable);
    CHECK(h.fake->Count("GET", "/p") == attempts);
  }
}

TEST_CASE("cancellation stops a retry loop during its backoff") {
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  ClientOptions o = TokenOptions();
  o.backoff_base = milliseconds(30000);  // a wait only cancellation can cut short
  o.cancelled = [cancelled] { return cancelled->load(); };
  Harness h(o);
  h.fake->On("GET", "/p", [cancelled](const HttpRequest&) {
    cancelled->store(true);
    return StatusOr<HttpResponse>(FakeTransport::Error(503, "Service Unavailable"));
  });
  auto start = std::chrono::steady_clock::now();
  auto r = h.client->Call("GET", "/p");
  CHECK(r.status().code() == StatusCode::kCancelled);
  CHECK(h.fake->Count("GET", "/p") == 1);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  // Already cancelled: nothing is sent.
  CHECK(h.client->Call("GET", "/q").status().code() == StatusCode::kCancelled);
  CHECK(h.fake->Count("GET", "/q") == 0);
}

TEST_CASE("IsLockTimeout knows Proxmox's lock messages") {
  CHECK(Client::IsLockTimeout(kLockTimeout));
  CHECK(Client::IsLockTimeout("trying to acquire lock...got lock request timeout"));
  CHECK_FALSE(Client::IsLockTimeout("VM is locked (clone)"));
  CHECK(Client::VmLockIn("VM is locked (clone)\n") == "clone");
  CHECK(Client::VmLockIn("stop failed: VM is locked (snapshot-delete)") == "snapshot-delete");
  CHECK_FALSE(Client::VmLockIn("VM is locked ()").has_value());
  CHECK_FALSE(Client::VmLockIn(kLockTimeout).has_value());
  CHECK_FALSE(Client::IsLockTimeout("VM 100 does not exist"));
  CHECK_FALSE(Client::IsLockTimeout("command 'qm start' failed: exit code 1"));
}

// ---------------------------------------------------------------------------
// Tasks.

Harness TaskHarness(const std::string& exitstatus, int running_polls = 1) {
  Harness h;
  for (int i = 0; i < running_polls; ++i) {
    h.fake->Queue("GET", TaskPath(), FakeTransport::Data({{"status", "running"}}));
  }
  h.fake->On("GET", TaskPath(),
             Always(FakeTransport::Data({{"status", "stopped"}, {"exitstatus", exitstatus}})));
  return h;
}

TEST_CASE("WaitTask polls the task's node until the task stops") {
  Harness h = TaskHarness("OK");
  auto r = h.client->WaitTask(kUpid, std::chrono::seconds(30));
  REQUIRE(r.ok());
  CHECK(r->exitstatus == "OK");
  CHECK(r->ok());
  CHECK(h.fake->Count("GET", TaskPath()) == 2);
  CHECK(h.client->WaitTaskOk(kUpid, std::chrono::seconds(30), "clone VM 100").ok());
}

TEST_CASE("WaitTask polls again while a fresh task is briefly unknown") {
  Harness h = TaskHarness("OK", 0);
  h.fake->Queue("GET", TaskPath(), FakeTransport::Error(400, "no such task"));
  CHECK(h.client->WaitTaskOk(kUpid, std::chrono::seconds(30), "start VM 100").ok());
  CHECK(h.fake->Count("GET", TaskPath()) == 2);
}

TEST_CASE("a task that ends with WARNINGS succeeded") {
  Harness h = TaskHarness("WARNINGS: 2", 0);
  auto r = h.client->WaitTask(kUpid, std::chrono::seconds(30));
  REQUIRE(r.ok());
  CHECK(r->ok());
  CHECK(h.client->WaitTaskOk(kUpid, std::chrono::seconds(30), "resize").ok());
}

TEST_CASE("a failed task is an error carrying its exit status, classified") {
  struct Case {
    std::string exitstatus;
    StatusCode code;
  };
  const Case cases[] = {
      {"command '/usr/bin/qemu-img convert' failed: exit code 1", StatusCode::kInternal},
      {kLockTimeout, StatusCode::kAborted},
      {"unable to create VM 101: config file already exists", StatusCode::kAlreadyExists},
      {"storage 'fast' does not exist", StatusCode::kNotFound},
      {"VM is locked (backup)", StatusCode::kFailedPrecondition},
  };
  for (const auto& c : cases) {
    CAPTURE(c.exitstatus);
    Harness h = TaskHarness(c.exitstatus, 0);
    auto r = h.client->WaitTask(kUpid, std::chrono::seconds(30));
    REQUIRE(r.ok());
    CHECK_FALSE(r->ok());
    CHECK(r->exitstatus == c.exitstatus);
    Status s = h.client->WaitTaskOk(kUpid, std::chrono::seconds(30), "clone VM 100");
    CHECK(s.code() == c.code);
    CHECK(s.message().find("clone VM 100") == 0);
    CHECK(s.message().find(c.exitstatus) != std::string::npos);
    CHECK(Client::IsLockTimeout(s.message()) == (c.code == StatusCode::kAborted));
  }
}

TEST_CASE("WaitTask gives up at its deadline") {
  Harness h;
  h.fake->On("GET", TaskPath(), Always(FakeTransport::Data({{"status", "running"}})));
  auto r = h.client->WaitTask(kUpid, std::chrono::seconds(0));
  CHECK(r.status().code() == StatusCode::kDeadlineExceeded);
  CHECK(r.status().message().find("still running after 0 s") != std::string::npos);
  Status s = h.client->WaitTaskOk(kUpid, std::chrono::seconds(0), "clone VM 100");
  CHECK(s.code() == StatusCode::kDeadlineExceeded);
  CHECK(s.message().find("clone VM 100") == 0);
}

TEST_CASE("WaitTask stops on cancellation, on a poll error, and on a malformed task id") {
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  ClientOptions o = TokenOptions();
  o.cancelled = [cancelled] { return cancelled->load(); };
  Harness h(o);
  h.fake->On("GET", TaskPath(), [cancelled](const HttpRequest&) {
    cancelled->store(true);
    return StatusOr<HttpResponse>(FakeTransport::Data({{"status", "running"}}));
  });
  CHECK(h.client->WaitTask(kUpid, std::chrono::seconds(300)).status().code() ==
        StatusCode::kCancelled);
  CHECK(h.fake->Count("GET", TaskPath()) == 1);

  Harness denied;
  denied.fake->On("GET", TaskPath(), Always(FakeTransport::Error(403, "Permission check failed")));
  CHECK(denied.client->WaitTask(kUpid, std::chrono::seconds(30)).status().code() ==
        StatusCode::kPermissionDenied);

  Harness bad;
  CHECK(bad.client->WaitTask("not-a-upid", std::chrono::seconds(30)).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(bad.fake->Requests().empty());
  CHECK(UpidNode(kUpid) == "pve1");
}

// ---------------------------------------------------------------------------
// Authentication.

TEST_CASE("an API token goes in one Authorization header, with no ticket and no CSRF token") {
  Harness h;
  h.fake->On("GET", "/p", Always(FakeTransport::Data(nullptr)));
  h.fake->On("POST", "/p", Always(FakeTransport::Data(nullptr)));
  REQUIRE(h.client->Call("GET", "/p").ok());
  REQUIRE(h.client->Call("POST", "/p").ok());
  for (const auto& req : h.fake->Requests()) {
    CAPTURE(req.method);
    REQUIRE(req.headers.size() == 1);
    CHECK(Header(req, "Authorization") == "PVEAPIToken=root@pam!tf=s3cret");
  }
  CHECK(h.fake->Count("POST", "/access/ticket") == 0);
}

// Answers logins with numbered tickets: PVE:root@pam:T1, T2, ...
void ScriptLogin(FakeTransport* fake) {
  auto logins = std::make_shared<int>(0);
  fake->On("POST", "/access/ticket", [logins](const HttpRequest&) {
    ++*logins;
    return StatusOr<HttpResponse>(
        FakeTransport::Data({{"ticket", "PVE:root@pam:T" + std::to_string(*logins)},
                             {"CSRFPreventionToken", "C" + std::to_string(*logins)}}));
  });
}

TEST_CASE("ticket login: a cookie on every call, the CSRF token on all but GET") {
  Harness h(TicketOptions());
  ScriptLogin(h.fake);
  for (const char* method : kMethods) {
    h.fake->On(method, "/p", Always(FakeTransport::Data(nullptr)));
    REQUIRE(h.client->Call(method, "/p").ok());
  }
  auto seen = h.fake->Requests();
  REQUIRE(seen.size() == 5);
  CHECK(seen[0].path == "/access/ticket");
  CHECK(seen[0].params == Params{{"username", "root@pam"}, {"password", "pw"}});
  CHECK(seen[0].headers.empty());
  for (size_t i = 1; i < seen.size(); ++i) {
    CAPTURE(seen[i].method);
    CHECK(Header(seen[i], "Cookie") == "PVEAuthCookie=PVE:root@pam:T1");
    CHECK_FALSE(Header(seen[i], "Authorization").has_value());
    if (seen[i].method == "GET") {
      CHECK_FALSE(Header(seen[i], "CSRFPreventionToken").has_value());
    } else {
      CHECK(Header(seen[i], "CSRFPreventionToken") == "C1");
    }
  }
}

TEST_CASE("a ticket is renewed after an hour") {
  auto now = std::make_shared<std::chrono::steady_clock::time_point>();
  ClientOptions o = TicketOptions();
  o.now = [now] { return *now; };
  Harness h(o);
  ScriptLogin(h.fake);
  h.fake->On("GET", "/p", Always(FakeTransport::Data(nullptr)));
  REQUIRE(h.client->Call("GET", "/p").ok());
  *now += std::chrono::minutes(59);
  REQUIRE(h.client->Call("GET", "/p").ok());
  CHECK(h.fake->Count("POST", "/access/ticket") == 1);
  *now += std::chrono::minutes(2);
  REQUIRE(h.client->Call("GET", "/p").ok());
  CHECK(h.fake->Count("POST", "/access/ticket") == 2);
  auto seen = h.fake->Requests();
  CHECK(Header(seen.back(), "Cookie") == "PVEAuthCookie=PVE:root@pam:T2");
}

TEST_CASE("a 401 under a ticket logs in again once") {
  Harness h(TicketOptions());
  ScriptLogin(h.fake);
  h.fake->Queue("GET", "/p", FakeTransport::Error(401, "authentication failure"));
  h.fake->On("GET", "/p", Always(FakeTransport::Data(1)));
  CHECK(*h.client->Call("GET", "/p") == 1);
  CHECK(h.fake->Count("POST", "/access/ticket") == 2);
  CHECK(Header(h.fake->Requests().back(), "Cookie") == "PVEAuthCookie=PVE:root@pam:T2");

  Harness refused(TicketOptions());
  ScriptLogin(refused.fake);
  refused.fake->On("GET", "/p", Always(FakeTransport::Error(401, "authentication failure")));
  auto r = refused.client->Call("GET", "/p");
  CHECK(r.status().code() == StatusCode::kUnauthenticated);
  CHECK(r.status().message().find("check username and password") != std::string::npos);
  CHECK(refused.fake->Count("GET", "/p") == 2);
}

TEST_CASE("a refused or unreadable login stops the call before it is sent") {
  Harness h(TicketOptions());
  h.fake->On("POST", "/access/ticket", Always(FakeTransport::Error(401, "authentication failure")));
  auto r = h.client->Call("GET", "/p");
  CHECK(r.status().code() == StatusCode::kUnauthenticated);
  CHECK(r.status().message() == "login as root@pam failed: HTTP 401 authentication failure");
  CHECK(h.fake->Count("GET", "/p") == 0);

  Harness garbled(TicketOptions());
  garbled.fake->On("POST", "/access/ticket", Always(HttpResponse{.status = 200, .body = "x"}));
  CHECK(garbled.client->Call("GET", "/p").status().code() == StatusCode::kUnauthenticated);

  Harness down(TicketOptions());
  down.fake->On("POST", "/access/ticket", Always(UnavailableError("connection refused")));
  CHECK(down.client->Call("GET", "/p").status().code() == StatusCode::kUnavailable);
  CHECK(down.fake->Count("GET", "/p") == 0);
}

}  // namespace
}  // namespace pvek8s::pve
