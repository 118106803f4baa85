#include "modules/kubeadm_token/kubeadm_token.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <sstream>

#include "modules/ansible/command.h"
#include "modules/kubeadm_join/kubeadm_join.h"

namespace pvek8s::kubeadm {
namespace {

using ansible::Param;
using ansible::ParamType;
using ansible::Result;
using nlohmann::json;

std::string FormatUtc(std::time_t t) {
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string TokenId(const std::string& token) { return token.substr(0, token.find('.')); }

}  // namespace

std::optional<long long> ParseTokenTtl(std::string_view text) {
  if (text == "0") return 0;
  long long total = 0;
  bool any = false;
  size_t i = 0;
  int last_unit = -1;  // h=0, m=1, s=2: each at most once, in that order.
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start || i == text.size() || i - start > 9) return std::nullopt;
    long long n = std::stoll(std::string(text.substr(start, i - start)));
    int unit = text[i] == 'h' ? 0 : text[i] == 'm' ? 1 : text[i] == 's' ? 2 : -1;
    if (unit <= last_unit) return std::nullopt;
    last_unit = unit;
    total += n * (unit == 0 ? 3600 : unit == 1 ? 60 : 1);
    any = true;
    ++i;
  }
  if (!any) return std::nullopt;
  return total;
}

std::vector<ListedToken> ParseTokenList(std::string_view output) {
  std::vector<ListedToken> rows;
  std::istringstream in{std::string(output)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string token, ttl, expires;
    if (!(fields >> token >> ttl >> expires) || !IsBootstrapToken(token)) continue;
    if (expires == "<never>") {
      rows.push_back({token, std::nullopt});
    } else if (std::optional<std::time_t> at = ParseRfc3339(expires)) {
      rows.push_back({token, *at});
    }
  }
  return rows;
}

ansible::ArgSpec TokenSpec() {
  ansible::ArgSpec spec;
  spec.params = {
      Param("token").Required().NoLog(),
      Param("ttl"),
      Param("expires_at"),
      Param("description"),
      Param("kubeconfig").Default("/etc/kubernetes/admin.conf"),
      Param("kubeadm_path").Default("kubeadm"),
      Param("timeout", ParamType::kInt).Default(60),
  };
  spec.mutually_exclusive = {{"ttl", "expires_at"}};
  return spec;
}

namespace {

// What the validated options ask for.
struct Wanted {
  std::string token;
  std::string ttl;                    // For --ttl: Go duration text, "0" = never.
  std::optional<std::time_t> expiry;  // nullopt: never.
};

StatusOr<Wanted> Validate(const json& p, std::time_t now) {
  Wanted w;
  if (p["timeout"].get<long long>() <= 0) return InvalidArgumentError("timeout must be positive");
  w.token = p["token"].get<std::string>();
  if (!IsBootstrapToken(w.token)) {
    return InvalidArgumentError(
        "token is not a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}");
  }
  if (p["expires_at"].is_string()) {
    const std::string at = p["expires_at"].get<std::string>();
    std::optional<std::time_t> expiry = ParseRfc3339(at);
    if (!expiry) {
      return InvalidArgumentError(
          "expires_at must be an RFC 3339 time such as 2026-12-01T10:00:00Z, got '" + at + "'");
    }
    if (*expiry <= now) {
      return FailedPreconditionError("expires_at " + at +
                                     " has passed: this token is expired; re-apply the "
                                     "proxmox_k8s_cluster resource to issue a new one");
    }
    w.expiry = *expiry;
    w.ttl = std::to_string(*expiry - now) + "s";
    return w;
  }
  const std::string ttl = p["ttl"].is_string() ? p["ttl"].get<std::string>() : "24h0m0s";
  std::optional<long long> seconds = ParseTokenTtl(ttl);
  if (!seconds) {
    return InvalidArgumentError(
        "ttl must be a duration in hours, minutes and seconds such as 24h or 1h30m (0: never "
        "expires), got '" +
        ttl + "'");
  }
  w.ttl = ttl;
  if (*seconds > 0) w.expiry = now + *seconds;
  return w;
}

std::string Describe(const std::string& id, const std::optional<std::time_t>& expiry) {
  return "bootstrap token " + id + ": registered, expires " +
         (expiry ? FormatUtc(*expiry) : std::string("never")) + "\n";
}

// Runs `kubeadm token ARGS... --kubeconfig K`; a failure becomes a Result
// whose message names the subcommand only (the token is an argument).
StatusOr<ansible::CommandResult> RunTokenCommand(const Kubeadm& kubeadm,
                                                 const std::string& kubeconfig,
                                                 std::vector<std::string> args,
                                                 std::chrono::seconds deadline) {
  std::vector<std::string> argv = {kubeadm.path, "token"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--kubeconfig", kubeconfig});
  return ansible::RunCommand(argv, deadline);
}

Result Failed(Result r, std::string msg, std::string cls) {
  r.failed = true;
  r.msg = std::move(msg);
  r.extra["failure_class"] = std::move(cls);
  return r;
}

// `kubeadm token <verb>` failed: a one-line message without its arguments.
std::string RunFailure(const std::string& verb, const ansible::CommandResult& run,
                       std::chrono::seconds deadline) {
  if (run.timed_out) return TimeoutMessage("token " + verb, deadline);
  std::string line = ErrorLine(run.out + "\n" + run.err);
  return "kubeadm token " + verb + " failed" +
         (line.empty() ? " (exit " + std::to_string(run.exit_code) + ")" : ": " + line);
}

}  // namespace

Result RunToken(ansible::Module& module, const System& sys) {
  const json& p = module.params();
  const std::time_t now = sys.now != 0 ? sys.now : std::time(nullptr);
  Result r;
  StatusOr<Wanted> wanted = Validate(p, now);
  if (!wanted.ok()) {
    return Failed(std::move(r), wanted.status().message(),
                  wanted.status().code() == StatusCode::kFailedPrecondition ? "token_invalid"
                                                                            : "invalid_argument");
  }
  const std::string id = TokenId(wanted->token);
  r.extra["token_id"] = id;

  // Only an initialised control plane can hold tokens; say so before kubeadm
  // fails with a less helpful text.
  const std::string kubeconfig = sys.root + p["kubeconfig"].get<std::string>();
  if (::access(kubeconfig.c_str(), R_OK) != 0) {
    return Failed(std::move(r),
                  p["kubeconfig"].get<std::string>() +
                      " is not readable: kubeadm_token runs on an initialised control plane "
                      "(run gcid.k8s.kubeadm_init there first, or set kubeconfig)",
                  "not_initialised");
  }
  StatusOr<Kubeadm> kubeadm = ProbeKubeadm(p["kubeadm_path"].get<std::string>());
  if (!kubeadm.ok()) return ansible::Failure(kubeadm.status().message());
  const auto deadline = std::chrono::seconds(p["timeout"].get<long long>());

  StatusOr<ansible::CommandResult> list = RunTokenCommand(*kubeadm, kubeconfig, {"list"}, deadline);
  if (!list.ok()) return ansible::Failure(list.status().message());
  if (!list->ok()) return Failed(std::move(r), RunFailure("list", *list, deadline), "other");

  // Same ID: usable when the secret matches and it has not expired; anything
  // else must go first (kubeadm refuses a second token with the same ID).
  bool stale = false;
  for (const ListedToken& t : ParseTokenList(list->out)) {
    if (TokenId(t.token) != id) continue;
    if (t.token == wanted->token && (!t.expires || *t.expires > now)) {
      r.msg = "bootstrap token " + id + " is already registered";
      r.extra["expires"] = t.expires ? FormatUtc(*t.expires) : "never";
      return r;
    }
    stale = true;
  }
  r.changed = true;
  r.extra["expires"] = wanted->expiry ? FormatUtc(*wanted->expiry) : "never";
  r.diffs.push_back({stale ? "bootstrap token " + id + ": expired or a different secret\n"
                           : "bootstrap token " + id + ": absent\n",
                     Describe(id, wanted->expiry), "control plane", "control plane"});
  if (module.check_mode()) {
    r.msg = "would register bootstrap token " + id + (stale ? " (replacing a stale one)" : "");
    return r;
  }
  if (stale) {
    StatusOr<ansible::CommandResult> del =
        RunTokenCommand(*kubeadm, kubeconfig, {"delete", id}, deadline);
    if (!del.ok()) return ansible::Failure(del.status().message());
    if (!del->ok()) return Failed(std::move(r), RunFailure("delete", *del, deadline), "other");
  }
  std::vector<std::string> args = {"create", wanted->token, "--ttl", wanted->ttl};
  if (p["description"].is_string()) {
    args.insert(args.end(), {"--description", p["description"].get<std::string>()});
  }
  // kubeadm prints the token it created: its output is never returned.
  StatusOr<ansible::CommandResult> create = RunTokenCommand(*kubeadm, kubeconfig, args, deadline);
  if (!create.ok()) return ansible::Failure(create.status().message());
  if (!create->ok()) return Failed(std::move(r), RunFailure("create", *create, deadline), "other");
  r.msg = "registered bootstrap token " + id + (stale ? " (replaced a stale one)" : "");
  return r;
}

}  // namespace pvek8s::kubeadm
