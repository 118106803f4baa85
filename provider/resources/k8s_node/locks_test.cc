// Unit tests of waiting out a VM's config lock (locks.h) against a scripted
// Proxmox and an injected clock: nothing here sleeps, the fake clock moves
// only when the wait sleeps.
#include "provider/resources/k8s_node/locks.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "provider/pve/fake_transport.h"

namespace pvek8s::resources::node {
namespace {

using nlohmann::json;
using pve::FakeTransport;
using pve::HttpRequest;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Time = std::chrono::steady_clock::time_point;

// VM 100 on pve1 holding `lock` until the fake clock reaches `clears_at`;
// `holder` is the running task shown for it, `audit` whether the token may
// see every task on pve1.
struct LockedVm {
  LockedVm() {
    auto transport = std::make_unique<FakeTransport>();
    fake = transport.get();
    pve::ClientOptions o;
    o.endpoint = "https://pve.test:8006";
    o.token_id = "terraform@pam!test";
    o.token_secret = "00000000-0000-0000-0000-000000000000";
    o.backoff_base = milliseconds(1);
    o.max_attempts = 2;
    client = std::make_unique<pve::Client>(std::move(o), std::move(transport));
    fake->On("GET", "/nodes/pve1/qemu/100/config", [this](const HttpRequest&) {
      json conf = {{"name", "k8s-1"}, {"memory", "2048"}};
      if (now < clears_at) conf["lock"] = lock;
      return FakeTransport::Data(conf);
    });
    fake->On("GET", "/access/permissions", [this](const HttpRequest&) {
      json privs = audit ? json{{"Sys.Audit", 1}} : json::object();
      return FakeTransport::Data({{"/nodes/pve1", privs}});
    });
    fake->On("GET", "/nodes/pve1/tasks", [this](const HttpRequest&) {
      json list = json::array();
      if (!holder.empty() && now < clears_at) {
        list.push_back(
            {{"upid", "UPID:pve1:0001:0002:0003:" + holder + ":" + holder_id + ":root@pam:"},
             {"type", holder},
             {"id", holder_id},
             {"user", "root@pam"}});
      }
      return FakeTransport::Data(list);
    });
    clock.now = [this] { return now; };
    clock.sleep = [this](milliseconds d) {
      sleeps.push_back(d);
      now += d;
      return !cancel;
    };
  }
  LockWait Wait(int64_t timeout_s) { return {"update", timeout_s, start + seconds(timeout_s)}; }
  Status Await(int64_t timeout_s) { return AwaitUnlocked(*client, vm, Wait(timeout_s), clock); }
  int ConfigReads() const { return fake->Count("GET", "/nodes/pve1/qemu/100/config"); }

  FakeTransport* fake = nullptr;
  std::unique_ptr<pve::Client> client;
  pve::VmRef vm{"pve1", 100};
  Time start{seconds(1000)};
  Time now = start;
  Time clears_at = start + seconds(3);
  std::string lock = "backup";
  std::string holder = "vzdump";
  std::string holder_id = "100";
  bool audit = true;
  bool cancel = false;
  std::vector<milliseconds> sleeps;
  WaitClock clock;
};

TEST_CASE("a backup lock that clears within the timeout is waited for, with backoff") {
  LockedVm t;
  Status s = t.Await(60);
  CHECK(s.ok());
  CHECK(t.now >= t.clears_at);
  CHECK(t.now - t.clears_at < seconds(3));  // noticed within one backoff step
  REQUIRE(t.sleeps.size() >= 2);
  CHECK(t.sleeps[0] == kLockPollFirst);
  CHECK(t.sleeps[1] > t.sleeps[0]);                         // backs off
  CHECK(t.fake->Count("GET", "/access/permissions") == 1);  // asked once per wait
}

TEST_CASE("backoff is capped and the wait ends exactly at the deadline, naming lock and VM") {
  LockedVm t;
  t.clears_at = t.start + seconds(3600);
  Status s = t.Await(120);
  CHECK(s.code() == StatusCode::kDeadlineExceeded);
  CHECK(t.now == t.start + seconds(120));  // not a poll past it
  for (auto d : t.sleeps) CHECK(d <= kLockPollMax);
  CHECK(t.sleeps.size() < 25);  // 120 s in at most 10 s steps: no hammering
  CHECK(s.message().find("VM 100 on pve1 is still locked (backup)") != std::string::npos);
  CHECK(s.message().find("timeouts.update = 2m") != std::string::npos);
  // A running vzdump holds it: no stale-lock advice.
  CHECK(s.message().find("qm unlock") == std::string::npos);
}

TEST_CASE("suspended never clears by itself: fails at once with the qm unlock advice") {
  LockedVm t;
  t.lock = "suspended";
  t.holder = "";
  Status s = t.Await(1200);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(t.sleeps.empty());
  CHECK(t.ConfigReads() == 1);
  CHECK(s.message().find("VM 100 on pve1 is locked (suspended)") != std::string::npos);
  CHECK(s.message().find("`qm unlock 100` on pve1") != std::string::npos);
}

TEST_CASE("a lock with no task holding it is stale: fails after a second look") {
  LockedVm t;
  t.holder = "";
  t.clears_at = t.start + seconds(3600);
  Status s = t.Await(1200);
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  CHECK(t.now - t.start <= seconds(1));  // at once, not at the deadline
  CHECK(t.ConfigReads() == 2);
  CHECK(s.message().find("locked (backup) but no vzdump task for it runs on pve1") !=
        std::string::npos);
  CHECK(s.message().find("`qm unlock 100` on pve1") != std::string::npos);
}

TEST_CASE("a task of another kind or another VM does not hold the lock") {
  LockedVm t;
  t.clears_at = t.start + seconds(3600);
  t.holder = "qmstart";
  CHECK(t.Await(1200).code() == StatusCode::kFailedPrecondition);
  LockedVm u;
  u.clears_at = u.start + seconds(3600);
  u.holder_id = "101";
  CHECK(u.Await(1200).code() == StatusCode::kFailedPrecondition);
  // A backup job of several VMs is one vzdump task without an id: it may hold it.
  LockedVm v;
  v.clears_at = v.start + seconds(20);
  v.holder_id = "";
  CHECK(v.Await(1200).ok());
}

TEST_CASE("without Sys.Audit on the node a lock is never called stale; the deadline advises") {
  LockedVm t;
  t.audit = false;
  t.holder = "";
  t.clears_at = t.start + seconds(3600);
  Status s = t.Await(30);
  CHECK(s.code() == StatusCode::kDeadlineExceeded);
  CHECK(t.now == t.start + seconds(30));
  CHECK(t.fake->Count("GET", "/nodes/pve1/tasks") == 0);  // its list would prove nothing
  CHECK(s.message().find("If no task is working on the VM, the lock is stale: run `qm unlock 100`"
                         " on pve1") != std::string::npos);
}

TEST_CASE("migrate and clone locks are waited for, never called stale") {
  for (const char* lock : {"migrate", "clone"}) {
    CAPTURE(std::string(lock));
    LockedVm t;
    t.lock = lock;
    t.holder = "";
    t.clears_at = t.start + seconds(40);
    CHECK(t.Await(1200).ok());
    CHECK(t.fake->Count("GET", "/nodes/pve1/tasks") == 0);
  }
  CHECK(LockHolderTaskTypes("backup") == std::vector<std::string>{"vzdump"});
  CHECK(LockHolderTaskTypes("something-new").empty());
  CHECK_FALSE(LockClearsByItself("suspended"));
  CHECK(LockClearsByItself("backup"));
}

TEST_CASE("a cancelled wait stops at once") {
  LockedVm t;
  t.cancel = true;
  Status s = t.Await(1200);
  CHECK(s.code() == StatusCode::kCancelled);
  CHECK(t.sleeps.size() == 1);
}

TEST_CASE("RetryWhileLocked waits when the change itself meets a lock, then repeats it") {
  LockedVm t;
  t.clears_at = t.start;  // unlocked at the first look
  int calls = 0;
  auto op = [&]() -> Status {
    ++calls;
    if (calls == 1) {
      t.clears_at = t.now + seconds(5);  // a backup started just now
      return FailedPreconditionError(
          "PUT /nodes/pve1/qemu/100/config: HTTP 500 VM is locked (backup)");
    }
    return Status::Ok();
  };
  CHECK(RetryWhileLocked(*t.client, t.vm, t.Wait(60), op, t.clock).ok());
  CHECK(calls == 2);
  CHECK(t.now >= t.start + seconds(5));

  // Other failures are returned as they are, and the deadline bounds it all.
  calls = 0;
  auto broken = [&]() -> Status {
    ++calls;
    return FailedPreconditionError("something else");
  };
  CHECK(RetryWhileLocked(*t.client, t.vm, t.Wait(60), broken, t.clock).message() ==
        "something else");
  CHECK(calls == 1);
  LockedVm late;
  late.now = late.start + seconds(61);
  Status s = RetryWhileLocked(
      *late.client, late.vm, late.Wait(60),
      [] { return FailedPreconditionError("HTTP 500 VM is locked (snapshot)"); }, late.clock);
  CHECK(s.code() == StatusCode::kDeadlineExceeded);
  CHECK(s.message().find("locked (snapshot)") != std::string::npos);
}

TEST_CASE("the plan warning names the VM, the lock and what the apply will do") {
  pve::VmRef vm{"pve1", 100};
  CHECK_FALSE(LockPlanWarning(vm, "k8s-1", "", "update", 1200).has_value());
  auto w = LockPlanWarning(vm, "k8s-1", "backup", "update", 1200);
  REQUIRE(w.has_value());
  CHECK(w->find("VM 100 (k8s-1) on pve1 is locked (backup)") != std::string::npos);
  CHECK(w->find("at most timeouts.update (20m)") != std::string::npos);
  w = LockPlanWarning(vm, "k8s-1", "suspended", "delete", 600);
  REQUIRE(w.has_value());
  CHECK(w->find("the delete will fail") != std::string::npos);
  CHECK(w->find("`qm unlock 100` on pve1") != std::string::npos);
}

}  // namespace
}  // namespace pvek8s::resources::node
