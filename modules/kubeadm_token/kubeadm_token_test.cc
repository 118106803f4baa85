// kubeadm_token against the kubeadm stand-in (modules/kubeadm_join/testdata:
// kubeadm and its sourced kubeadm-token.sh). What the stand-in proves: the
// module lists before it creates, passes the token, --ttl and --kubeconfig as
// kubeadm reads them, deletes a stale token with the same ID first (kubeadm
// refuses a duplicate ID), and never echoes kubeadm's output, which holds the
// token. What it cannot prove: that a real API server stores the token.
#include "modules/kubeadm_token/kubeadm_token.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>

#include "modules/ansible/testing.h"

namespace pvek8s::kubeadm {
namespace {

using ansible::testing::Exists;
using ansible::testing::ReadText;
using ansible::testing::TempDir;
using ansible::testing::WriteText;
using nlohmann::json;

constexpr const char* kToken = "abcdef.0123456789abcdef";
const std::string kStandins = KUBEADM_STANDIN_DIR;

// A control plane: the stand-in with its token subcommands, an admin.conf and
// the fake cluster's tokens file (initially holding `tokens`).
class ControlPlane {
 public:
  explicit ControlPlane(const std::string& tokens = "") {
    WriteText(dir_ / "kubeadm", ReadText(kStandins + "/kubeadm"), 0755);
    WriteText(dir_ / "kubeadm-token.sh", ReadText(kStandins + "/kubeadm-token.sh"));
    WriteText(dir_ / "version", "v1.26.1\n");
    WriteText(dir_ / "etc/kubernetes/admin.conf", "apiVersion: v1\n");
    WriteText(dir_ / "cluster/tokens", tokens, 0600);
    ::setenv(kTestRootEnv, dir_.path().c_str(), 1);
    sys_.root = dir_.path();
  }
  std::string Path(const std::string& rel) const { return dir_ / rel; }
  // The fake cluster's tokens file: "<token> <expiry> [description]" lines.
  std::string Tokens() const { return ReadText(dir_ / "cluster/tokens"); }
  // Seconds since the epoch at which the stand-in says `token` expires; -1 if absent.
  long long Expiry(const std::string& token) const {
    std::istringstream in(Tokens());
    std::string t;
    long long exp = 0;
    std::string rest;
    while (in >> t >> exp) {
      std::getline(in, rest);
      if (t == token) return exp;
    }
    return -1;
  }
  // How many times the stand-in ran `kubeadm token <verb>`.
  int Calls(const std::string& verb) const {
    std::istringstream in(ReadText(dir_ / "kubeadm.log"));
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.rfind("token " + verb, 0) == 0;
    return n;
  }

  ansible::Result Run(json args, bool check = false) {
    args["kubeadm_path"] = dir_ / "kubeadm";
    args["_ansible_check_mode"] = check;
    args["_ansible_diff"] = true;
    args.emplace("token", kToken);
    auto validated = ansible::ValidateArgs(args, TokenSpec(), "gcid.k8s.kubeadm_token");
    REQUIRE_MESSAGE(validated.ok(), validated.status().message());
    ansible::Module module(ansible::ParseAnsibleFlags(args), std::move(validated).value(), args);
    ansible::Result r = RunToken(module, sys_);
    rendered_ = module.Render(r);
    return r;
  }
  const std::string& rendered() const { return rendered_; }

 private:
  TempDir dir_;
  System sys_;
  std::string rendered_;
};

TEST_CASE("token lifetimes are Go durations of hours, minutes and seconds") {
  CHECK(ParseTokenTtl("24h") == 86400);
  CHECK(ParseTokenTtl("24h0m0s") == 86400);
  CHECK(ParseTokenTtl("1h30m") == 5400);
  CHECK(ParseTokenTtl("90s") == 90);
  CHECK(ParseTokenTtl("0") == 0);
  for (const char* bad : {"", "1d", "h", "30m1h", "1h1h", "-1h", "1.5h", "24"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseTokenTtl(bad).has_value());
  }
}

TEST_CASE("kubeadm token list: tokens and their expiry, descriptions with blanks ignored") {
  auto rows = ParseTokenList(
      "TOKEN                     TTL         EXPIRES                USAGES                   "
      "DESCRIPTION   EXTRA GROUPS\n"
      "abcdef.0123456789abcdef   23h         2026-12-01T10:00:00Z   authentication,signing   "
      "the lab, rotated   system:bootstrappers:kubeadm:default-node-token\n"
      "zzzzzz.0123456789abcdef   <forever>   <never>                authentication,signing   "
      "<none>        system:bootstrappers:kubeadm:default-node-token\n");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].token == kToken);
  CHECK(rows[0].expires == 1796119200);
  CHECK(rows[1].token == "zzzzzz.0123456789abcdef");
  CHECK_FALSE(rows[1].expires.has_value());
}

TEST_CASE("registers a token the cluster lacks, then reports unchanged; never prints it") {
  ControlPlane cp("xxxxxx.0123456789abcdef 0\n");
  const auto before = std::time(nullptr);
  ansible::Result first = cp.Run({{"ttl", "2h"}, {"description", "lab, rotated"}});
  CHECK_MESSAGE(!first.failed, first.msg);
  CHECK(first.changed);
  CHECK(first.msg == "registered bootstrap token abcdef");
  CHECK(first.extra["token_id"] == "abcdef");
  const long long exp = cp.Expiry(kToken);
  CHECK(exp >= before + 7200);
  CHECK(exp <= std::time(nullptr) + 7200);
  CHECK(cp.Tokens().find("xxxxxx.0123456789abcdef 0") != std::string::npos);  // kept
  CHECK(cp.rendered().find(kToken) == std::string::npos);
  CHECK(cp.rendered().find("0123456789abcdef") == std::string::npos);
  REQUIRE(first.diffs.size() == 1);
  CHECK(first.diffs[0].before == "bootstrap token abcdef: absent\n");
  CHECK(first.diffs[0].after.rfind("bootstrap token abcdef: registered, expires 20", 0) == 0);

  ansible::Result second = cp.Run({{"ttl", "2h"}});
  CHECK_FALSE(second.failed);
  CHECK_FALSE(second.changed);
  CHECK(second.msg == "bootstrap token abcdef is already registered");
  CHECK(cp.Calls("create") == 1);
  CHECK(cp.rendered().find("0123456789abcdef") == std::string::npos);
}

TEST_CASE("check mode lists only and reports what it would register") {
  ControlPlane cp;
  ansible::Result r = cp.Run({{"ttl", "24h"}}, /*check=*/true);
  CHECK_FALSE(r.failed);
  CHECK(r.changed);
  CHECK(r.msg == "would register bootstrap token abcdef");
  CHECK(cp.Tokens().empty());
  CHECK(cp.Calls("list") == 1);
  CHECK(cp.Calls("create") == 0);
}

TEST_CASE("an expired token or another secret under the same ID is replaced") {
  const std::string expired =
      std::string(kToken) + " " + std::to_string(std::time(nullptr) - 10) + "\n";
  for (const std::string& tokens : {expired, std::string("abcdef.ffffffffffffffff 0\n")}) {
    CAPTURE(tokens);
    ControlPlane cp(tokens);
    ansible::Result check = cp.Run({{"ttl", "1h"}}, true);
    CHECK(check.msg == "would register bootstrap token abcdef (replacing a stale one)");
    CHECK(cp.Tokens() == tokens);
    ansible::Result r = cp.Run({{"ttl", "1h"}});
    CHECK_MESSAGE(!r.failed, r.msg);
    CHECK(r.changed);
    CHECK(r.msg == "registered bootstrap token abcdef (replaced a stale one)");
    CHECK(cp.Calls("delete") == 1);
    CHECK(cp.Expiry(kToken) > std::time(nullptr) + 3000);
    CHECK(cp.Tokens().find("ffffffffffffffff") == std::string::npos);
    CHECK_FALSE(cp.Run({{"ttl", "1h"}}).changed);
  }
}

TEST_CASE("expires_at sets the token's expiry to Terraform's token_expires_at") {
  ControlPlane cp;
  const std::time_t at = std::time(nullptr) + std::time_t{3} * 86400;
  char text[32];
  struct tm tm {};
  ::gmtime_r(&at, &tm);
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  ansible::Result r = cp.Run({{"expires_at", text}});
  CHECK_MESSAGE(!r.failed, r.msg);
  CHECK(r.extra["expires"] == text);
  CHECK(cp.Expiry(kToken) >= at - 2);
  CHECK(cp.Expiry(kToken) <= at + 2);
}

TEST_CASE("bad inputs and an uninitialised node fail before kubeadm runs, naming the option") {
  struct Case {
    json args;
    const char* cls;
    const char* msg;
  };
  for (const Case& c : {
           Case{{{"token", "ABCDEF.0123456789abcdef"}},
                "invalid_argument",
                "token is not a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}"},
           Case{{{"ttl", "1d"}},
                "invalid_argument",
                "ttl must be a duration in hours, minutes and seconds such as 24h or 1h30m (0: "
                "never expires), got '1d'"},
           Case{{{"expires_at", "tomorrow"}},
                "invalid_argument",
                "expires_at must be an RFC 3339 time such as 2026-12-01T10:00:00Z, got "
                "'tomorrow'"},
           Case{{{"expires_at", "2020-01-01T00:00:00Z"}},
                "token_invalid",
                "expires_at 2020-01-01T00:00:00Z has passed: this token is expired; re-apply the "
                "proxmox_k8s_cluster resource to issue a new one"},
           Case{{{"kubeconfig", "/etc/kubernetes/missing.conf"}},
                "not_initialised",
                "/etc/kubernetes/missing.conf is not readable: kubeadm_token runs on an "
                "initialised control plane (run gcid.k8s.kubeadm_init there first, or set "
                "kubeconfig)"},
       }) {
    CAPTURE(c.args.dump());
    ControlPlane cp;
    ansible::Result r = cp.Run(c.args);
    CHECK(r.failed);
    CHECK(r.extra["failure_class"] == c.cls);
    CHECK(r.msg == c.msg);
    CHECK_FALSE(Exists(cp.Path("kubeadm.log")));
  }
}

TEST_CASE("a failing kubeadm is reported in one line without the token") {
  ControlPlane cp("abcdef.ffffffffffffffff 0\n");
  // A token file kubeadm cannot read stands for an API server that refuses.
  std::filesystem::remove(cp.Path("cluster/tokens"));
  ansible::Result r = cp.Run({{"ttl", "1h"}});
  CHECK(r.failed);
  CHECK(r.extra["failure_class"] == "other");
  CHECK(r.msg ==
        "kubeadm token list failed: error: the cluster has no bootstrap tokens file (not "
        "initialised)");
  CHECK(cp.rendered().find("0123456789abcdef") == std::string::npos);
}

TEST_CASE("the binary is static and small") {
  std::string elf = ReadText(KUBEADM_TOKEN_BINARY);
  CHECK(elf.size() < ansible::testing::kModuleBinaryMaxBytes);
  CHECK(ansible::testing::IsStaticElf(KUBEADM_TOKEN_BINARY) ==
        ansible::testing::kStaticModuleBinaries);
  MESSAGE("kubeadm_token binary: " << elf.size() << " bytes");
}

}  // namespace
}  // namespace pvek8s::kubeadm
