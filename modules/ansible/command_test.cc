#include "modules/ansible/command.h"

#include <doctest/doctest.h>

#include <chrono>

#include "modules/ansible/testing.h"

namespace pvek8s::ansible {
namespace {

using namespace std::chrono_literals;

TEST_CASE("captures stdout, stderr and the exit code separately") {
  auto r = RunCommand({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, 10s);
  REQUIRE(r.ok());
  CHECK(r->out == "out\n");
  CHECK(r->err == "err\n");
  CHECK(r->exit_code == 3);
  CHECK_FALSE(r->ok());
  CHECK(DescribeFailure({"sh", "x"}, *r) == "sh x failed (exit 3): err");
}

TEST_CASE("children get a C locale, /dev/null as stdin and extra variables") {
  ::setenv("LANG", "de_DE.UTF-8", 1);
  ::setenv("LC_MESSAGES", "de_DE.UTF-8", 1);
  auto r = RunCommand({"sh", "-c", "echo \"$LC_ALL $LANG ${LC_MESSAGES:-unset} $EXTRA\"; cat"}, 10s,
                      {"EXTRA=yes"});
  REQUIRE(r.ok());
  CHECK(r->out == "C C unset yes\n");  // `cat` read /dev/null: no hang, no output.
  CHECK(r->ok());
  auto utf8 =
      RunCommand({"sh", "-c", "env | grep -c '^LC_ALL='; echo $LC_ALL"}, 10s, {"LC_ALL=C.UTF-8"});
  REQUIRE(utf8.ok());
  CHECK(utf8->out == "1\nC.UTF-8\n");
}

TEST_CASE("a hung child is killed with its process group at the deadline") {
  auto start = std::chrono::steady_clock::now();
  auto r = RunCommand({"sh", "-c", "sleep 30 & sleep 30; echo never"}, 300ms);
  REQUIRE(r.ok());
  CHECK(r->timed_out);
  CHECK_FALSE(r->ok());
  CHECK(r->out.empty());
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  CHECK(DescribeFailure({"sh"}, *r).find("timed out") != std::string::npos);
}

TEST_CASE("a missing or non-executable program is an error, not a result") {
  CHECK(RunCommand({"pvek8s-no-such-program"}, 1s).status().code() == StatusCode::kNotFound);
  testing::TempDir d;
  testing::WriteText(d / "noexec", "#!/bin/sh\n", 0644);
  CHECK_FALSE(RunCommand({d / "noexec"}, 1s).ok());
  testing::WriteText(d / "badinterp", "#!/nonexistent/interp\n", 0755);
  CHECK_FALSE(RunCommand({d / "badinterp"}, 1s).ok());
}

TEST_CASE("FindExecutable searches PATH then the fallbacks") {
  testing::TempDir d;
  testing::WriteText(d / "bin/tool", "#!/bin/sh\n", 0755);
  CHECK(FindExecutable("tool", {d / "bin"}).value() == d / "bin/tool");
  CHECK_FALSE(FindExecutable("tool", {}).has_value());
  CHECK(FindExecutable("sh").has_value());
  CHECK(FindExecutable(d / "bin/tool").value() == d / "bin/tool");
}

TEST_CASE("large output does not deadlock") {
  auto r = RunCommand({"sh", "-c", "head -c 1000000 /dev/zero; head -c 300000 /dev/zero >&2"}, 20s);
  REQUIRE(r.ok());
  CHECK(r->out.size() == 1000000);
  CHECK(r->err.size() == 300000);
}

}  // namespace
}  // namespace pvek8s::ansible
