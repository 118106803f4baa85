#include "modules/kubeadm_certs/kubeadm_certs.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <thread>

#include "modules/ansible/command.h"

namespace pvek8s::kubeadm {
namespace {

using ansible::Param;
using ansible::ParamType;
using ansible::Result;
using nlohmann::json;
namespace fs = std::filesystem;

std::vector<std::string> Fields(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) out.emplace_back(line.substr(start, i - start));
  }
  return out;
}

std::string Rfc3339(std::time_t t) {
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::optional<std::time_t> ParseExpiryDate(std::string_view text) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::vector<std::string> f = Fields(text);
  // "Dec", "30,", "2020", "23:36", "UTC"
  if (f.size() != 5 || f[4] != "UTC" || f[1].size() < 2 || f[1].back() != ',') return std::nullopt;
  struct tm tm {};
  tm.tm_mon = -1;
  for (int m = 0; m < 12; ++m) {
    if (f[0] == kMonths[m]) tm.tm_mon = m;
  }
  int day = 0, year = 0, hour = 0, minute = 0;
  char tail = 0;
  if (tm.tm_mon < 0 || std::sscanf(f[1].c_str(), "%d,%c", &day, &tail) != 1 ||
      std::sscanf(f[2].c_str(), "%d%c", &year, &tail) != 1 ||
      std::sscanf(f[3].c_str(), "%d:%d%c", &hour, &minute, &tail) != 2 || day < 1 || day > 31 ||
      year < 1970 || hour > 23 || minute > 59 || hour < 0 || minute < 0) {
    return std::nullopt;
  }
  tm.tm_mday = day;
  tm.tm_year = year - 1900;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  return ::timegm(&tm);
}

StatusOr<std::vector<CertExpiry>> ParseCheckExpiration(std::string_view output) {
  std::vector<CertExpiry> rows;
  int table = 0;  // 0: none yet, 1: CERTIFICATE, 2: CERTIFICATE AUTHORITY.
  bool seen_table = false;
  size_t start = 0;
  while (start < output.size()) {
    size_t nl = output.find('\n', start);
    if (nl == std::string_view::npos) nl = output.size();
    std::string_view line = output.substr(start, nl - start);
    start = nl + 1;
    std::vector<std::string> f = Fields(line);
    if (f.empty()) continue;
    if (f[0] == "CERTIFICATE") {
      table = f.size() > 1 && f[1] == "AUTHORITY" ? 2 : 1;
      seen_table = true;
      continue;
    }
    if (table == 0 || line[0] == '[') continue;
    CertExpiry row;
    row.authority = table == 2;
    if (f[0] == "!MISSING!" && f.size() == 2) {
      row.name = f[1];
      row.missing = true;
      rows.push_back(std::move(row));
      continue;
    }
    // NAME, 5 date fields, RESIDUAL, [CA], EXTERNALLY MANAGED.
    std::optional<std::time_t> expires;
    if (f.size() >= 8) {
      expires = ParseExpiryDate(f[1] + " " + f[2] + " " + f[3] + " " + f[4] + " " + f[5]);
    }
    if (!expires || (f.back() != "yes" && f.back() != "no")) {
      return InvalidArgumentError("cannot read this kubeadm certs check-expiration line: '" +
                                  std::string(line) + "'");
    }
    row.name = f[0];
    row.expires = *expires;
    row.external = f.back() == "yes";
    rows.push_back(std::move(row));
  }
  if (!seen_table) {
    return InvalidArgumentError("kubeadm certs check-expiration printed no CERTIFICATE table");
  }
  return rows;
}

long long ResidualDays(std::time_t expires, std::time_t now) {
  long long seconds = static_cast<long long>(expires) - static_cast<long long>(now);
  return seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
}

ansible::ArgSpec CertsSpec() {
  ansible::ArgSpec spec;
  spec.params = {
      Param("renew_before", ParamType::kInt).Default(30),
      Param("restart_static_pods", ParamType::kBool).Default(true),
      Param("static_pod_wait", ParamType::kInt).Default(20),
      Param("kubeadm_path").Default("kubeadm"),
      Param("timeout", ParamType::kInt).Default(300),
  };
  return spec;
}

namespace {

Result Fail(Result r, std::string_view cls, std::string msg) {
  r.failed = true;
  r.extra["failure_class"] = cls;
  r.msg = std::move(msg);
  return r;
}

// Runs `kubeadm certs <args>`; a failed Result (classified) in `r` on failure.
std::optional<std::string> Certs(const std::string& kubeadm, std::vector<std::string> args,
                                 std::chrono::seconds deadline, Result& r) {
  std::vector<std::string> argv = {kubeadm, "certs"};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string verb = "certs " + args[0];
  StatusOr<ansible::CommandResult> run = ansible::RunCommand(argv, deadline);
  if (!run.ok()) {
    r = Fail(r, "other", run.status().message());
    return std::nullopt;
  }
  if (run->ok()) return run->out;
  Classified c = ClassifyRun(*run);
  std::string detail = ErrorLine(run->out + "\n" + run->err);
  if (c.cls == FailureClass::kTimeout) {
    r = Fail(r, "timeout", TimeoutMessage(verb, deadline));
  } else {
    r = Fail(r, FailureClassName(c.cls),
             "kubeadm " + verb + " failed: " +
                 (detail.empty() ? ansible::DescribeFailure({"kubeadm", "certs", args[0]}, *run)
                                 : detail));
  }
  return std::nullopt;
}

json Report(const std::vector<CertExpiry>& rows, std::time_t now) {
  json out = json::array();
  for (const CertExpiry& c : rows) {
    json item = {{"name", c.name}, {"authority", c.authority}, {"missing", c.missing}};
    if (!c.missing) {
      item["expires"] = Rfc3339(c.expires);
      item["residual_days"] = ResidualDays(c.expires, now);
      item["externally_managed"] = c.external;
    }
    out.push_back(std::move(item));
  }
  return out;
}

bool Renewable(const CertExpiry& c) { return !c.authority && !c.missing && !c.external; }

// Puts back manifests an interrupted restart left in kRestartDir; the names.
std::vector<std::string> Recover(const System& sys, bool check_mode) {
  std::vector<std::string> back;
  for (const char* m : kStaticPods) {
    fs::path parked = sys.root + kRestartDir + "/" + m;
    fs::path live = sys.root + "/etc/kubernetes/manifests/" + m;
    std::error_code ec;
    if (!fs::exists(parked, ec) || fs::exists(live, ec)) continue;
    if (!check_mode) fs::rename(parked, live, ec);
    if (!ec) back.emplace_back(m);
  }
  return back;
}

// Moves each control-plane manifest out, waits `wait` for the kubelet to stop
// the pods, and moves them back. The names restarted, or the error.
StatusOr<std::vector<std::string>> RestartStaticPods(const System& sys, std::chrono::seconds wait) {
  std::vector<std::string> moved;
  std::error_code ec;
  fs::create_directories(sys.root + kRestartDir, ec);
  if (ec) return InternalError("cannot create " + std::string(kRestartDir) + ": " + ec.message());
  for (const char* m : kStaticPods) {
    fs::path live = sys.root + "/etc/kubernetes/manifests/" + m;
    if (!fs::exists(live, ec)) continue;
    fs::rename(live, sys.root + kRestartDir + "/" + m, ec);
    if (ec) break;
    moved.emplace_back(m);
  }
  if (!ec && !moved.empty()) std::this_thread::sleep_for(wait);
  Status status = Status::Ok();
  if (ec) status = InternalError("cannot move a static pod manifest: " + ec.message());
  for (const std::string& m : moved) {
    std::error_code back;
    fs::rename(sys.root + kRestartDir + "/" + m, sys.root + "/etc/kubernetes/manifests/" + m, back);
    if (back && status.ok()) {
      status = InternalError("cannot move " + m + " back into /etc/kubernetes/manifests: " +
                             back.message() + " (the next run puts it back)");
    }
  }
  if (!status.ok()) return status;
  return moved;
}

std::string Names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

namespace {

// The rows of check-expiration, or nullopt with the failed Result in `r`.
std::optional<std::vector<CertExpiry>> CheckExpiration(const std::string& kubeadm,
                                                       std::chrono::seconds deadline, Result& r) {
  std::optional<std::string> out = Certs(kubeadm, {"check-expiration"}, deadline, r);
  if (!out) return std::nullopt;
  StatusOr<std::vector<CertExpiry>> rows = ParseCheckExpiration(*out);
  if (!rows.ok()) {
    r = Fail(r, "other", rows.status().message());
    return std::nullopt;
  }
  return *rows;
}

// Renews, checks that every certificate due was renewed, restarts the pods.
Result Renew(ansible::Module& module, const System& sys, const std::string& kubeadm,
             const std::vector<CertExpiry>& before, const std::vector<std::string>& due,
             std::time_t now, Result r) {
  const json& p = module.params();
  const auto deadline = std::chrono::seconds(p["timeout"].get<long long>());
  if (!Certs(kubeadm, {"renew", "all"}, deadline, r)) return r;
  r.changed = true;
  std::optional<std::vector<CertExpiry>> after = CheckExpiration(kubeadm, deadline, r);
  if (!after) return r;
  r.extra["certificates"] = Report(*after, now);
  std::vector<std::string> renewed, still;
  const long long renew_before = p["renew_before"].get<long long>();
  for (const CertExpiry& a : *after) {
    for (const CertExpiry& b : before) {
      if (a.name != b.name || !Renewable(a) || !Renewable(b)) continue;
      if (a.expires > b.expires) renewed.push_back(a.name);
      if (ResidualDays(a.expires, now) < renew_before) still.push_back(a.name);
    }
  }
  r.extra["renewed"] = renewed;
  if (!still.empty()) {
    return Fail(std::move(r), "other",
                "kubeadm certs renew all ran, but " + Names(still) + " still expire within " +
                    std::to_string(renew_before) +
                    " days: check the certificate validity period in the kubeadm configuration");
  }
  std::vector<std::string> restarted;
  if (p["restart_static_pods"] == true) {
    StatusOr<std::vector<std::string>> done =
        RestartStaticPods(sys, std::chrono::seconds(p["static_pod_wait"].get<long long>()));
    if (!done.ok()) return Fail(std::move(r), "other", done.status().message());
    restarted = *done;
  }
  r.extra["restarted"] = restarted;
  r.msg = "renewed " + std::to_string(renewed.size()) + " certificates (" + Names(due) +
          " had fewer than " + std::to_string(renew_before) + " days left)" +
          (restarted.empty() ? "" : "; restarted the static pods " + Names(restarted));
  return r;
}

}  // namespace

Result RunCerts(ansible::Module& module, const System& sys) {
  const json& p = module.params();
  const std::time_t now = sys.now != 0 ? sys.now : std::time(nullptr);
  Result r;
  r.extra["renewed"] = json::array();
  const long long renew_before = p["renew_before"].get<long long>();
  if (renew_before < 0 || p["static_pod_wait"].get<long long>() < 0 ||
      p["timeout"].get<long long>() <= 0) {
    return Fail(std::move(r), "invalid_argument",
                "renew_before and static_pod_wait must be 0 or more days/seconds, timeout "
                "positive seconds");
  }
  std::vector<std::string> recovered = Recover(sys, module.check_mode());
  if (!recovered.empty()) {
    r.changed = true;
    module.Warn("an interrupted restart had left " + Names(recovered) + " out of " +
                "/etc/kubernetes/manifests; " + (module.check_mode() ? "would put" : "put") +
                " them back");
  }
  std::optional<std::string> kubeadm =
      ansible::FindExecutable(p["kubeadm_path"].get<std::string>());
  if (!kubeadm)
    return Fail(std::move(r), "other", p["kubeadm_path"].get<std::string>() + " not found");
  const auto deadline = std::chrono::seconds(p["timeout"].get<long long>());
  std::optional<std::vector<CertExpiry>> rows = CheckExpiration(*kubeadm, deadline, r);
  if (!rows) return r;
  r.extra["certificates"] = Report(*rows, now);
  std::vector<std::string> due, renewable;
  for (const CertExpiry& c : *rows) {
    long long days = ResidualDays(c.expires, now);
    if (Renewable(c)) {
      renewable.push_back(c.name);
      if (days < renew_before) due.push_back(c.name);
    } else if (c.authority && !c.missing && days < renew_before) {
      module.Warn("the certificate authority " + c.name + " expires in " + std::to_string(days) +
                  " days; kubeadm certs renew does not renew authorities (see kubeadm's manual "
                  "rotation of CA certificates)");
    }
  }
  if (renewable.empty()) {
    return Fail(std::move(r), "not_control_plane",
                "no kubeadm-managed certificate on this node (kubeadm certs check-expiration "
                "lists each as missing or externally managed): run kubeadm_certs on "
                "control-plane nodes");
  }
  r.extra["due"] = due;
  if (due.empty()) {
    r.msg = "every certificate has at least " + std::to_string(renew_before) + " days left";
    return r;
  }
  r.diffs.push_back({"certificates due for renewal: " + Names(due) + "\n",
                     "renewed: " + Names(renewable) + "\n", "kubeadm certificates",
                     "kubeadm certificates"});
  if (module.check_mode()) {
    r.changed = true;
    r.extra["renewed"] = renewable;
    r.msg = "would renew " + std::to_string(renewable.size()) + " certificates (" + Names(due) +
            " have fewer than " + std::to_string(renew_before) + " days left)";
    return r;
  }
  return Renew(module, sys, *kubeadm, *rows, due, now, std::move(r));
}

}  // namespace pvek8s::kubeadm
