#include "acceptance-tests/pvesim/auth.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <regex>

#include "acceptance-tests/pvesim/privileges.h"
#include "provider/base/encoding.h"

namespace pvek8s::pvesim {
namespace {

bool ValidUserid(std::string_view u) {
  static const std::regex re(R"([^\s:/]+@[A-Za-z][A-Za-z0-9\.\-_]+)");
  return std::regex_match(u.begin(), u.end(), re);
}

std::string HexTime(int64_t t) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08llX", static_cast<unsigned long long>(t));
  return buf;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The value of cookie `name` in a Cookie header, or nullopt.
std::optional<std::string> CookieValue(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view part = header.substr(pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.starts_with(name) && part.size() > name.size() && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

}  // namespace

Status AddUserSpec(AuthConfig* config, std::string_view spec) {
  size_t colon = spec.find(':');
  if (colon == std::string_view::npos) {
    return InvalidArgumentError("--user wants USER@REALM:PASSWORD, got '" + std::string(spec) +
                                "'");
  }
  std::string user(spec.substr(0, colon));
  if (!ValidUserid(user)) return InvalidArgumentError("invalid user id '" + user + "'");
  config->passwords[user] = std::string(spec.substr(colon + 1));
  return Status::Ok();
}

Status AddTokenSpec(AuthConfig* config, std::string_view spec) {
  AuthConfig::Token t;
  std::string s(spec);
  // Options follow the secret: ",privsep=0|1" and ",expire=UNIXTIME", in any order.
  for (;;) {
    size_t comma = s.rfind(',');
    if (comma == std::string::npos) break;
    std::string opt = s.substr(comma + 1);
    if (opt.starts_with("privsep=")) {
      std::string v = opt.substr(8);
      if (v != "0" && v != "1") return InvalidArgumentError("privsep must be 0 or 1");
      t.privsep = v == "1";
    } else if (opt.starts_with("expire=")) {
      std::string v = opt.substr(7);
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), t.expire);
      if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || t.expire < 0) {
        return InvalidArgumentError("expire must be a Unix time (0 = never)");
      }
    } else {
      break;
    }
    s.resize(comma);
  }
  size_t bang = s.find('!');
  size_t eq = s.rfind('=');
  if (bang == std::string::npos || eq == std::string::npos || eq < bang) {
    return InvalidArgumentError("--token wants USER@REALM!ID=SECRET, got '" + std::string(spec) +
                                "'");
  }
  t.userid = s.substr(0, bang);
  t.tokenid = s.substr(bang + 1, eq - bang - 1);
  t.secret = s.substr(eq + 1);
  static const std::regex id_re(R"([A-Za-z][A-Za-z0-9\.\-_]+)");
  if (!ValidUserid(t.userid) || !std::regex_match(t.tokenid, id_re) || t.secret.empty()) {
    return InvalidArgumentError("invalid token spec '" + std::string(spec) + "'");
  }
  config->tokens.push_back(std::move(t));
  return Status::Ok();
}

Status AddAclSpec(AuthConfig* config, std::string_view spec) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : spec) {
    if (c == ':') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  if (parts.size() < 3 || parts.size() > 4 || parts[0].empty() || parts[0][0] != '/' ||
      parts[1].empty() || parts[2].empty() ||
      (parts.size() == 4 && parts[3] != "0" && parts[3] != "1")) {
    return InvalidArgumentError("--acl wants PATH:ROLES:SUBJECT[:PROPAGATE], got '" +
                                std::string(spec) + "'");
  }
  AuthConfig::Acl acl{parts[0], parts[1], parts[2], parts.size() < 4 || parts[3] == "1"};
  if (acl.path.size() > 1 && acl.path.back() == '/') acl.path.pop_back();
  config->acls.push_back(std::move(acl));
  return Status::Ok();
}

Status AddRoleSpec(AuthConfig* config, std::string_view spec) {
  size_t colon = spec.find(':');
  std::string name(spec.substr(0, colon));
  static const std::regex role_re(R"([A-Za-z][A-Za-z0-9\.\-_]+)");
  if (colon == std::string_view::npos || !std::regex_match(name, role_re)) {
    return InvalidArgumentError("--role wants NAME:PRIV[,PRIV...], got '" + std::string(spec) +
                                "'");
  }
  config->roles[name] = SplitPrivs(spec.substr(colon + 1));
  return Status::Ok();
}

Status CheckAuthConfig(const AuthConfig& config) {
  int major = config.pve_major;
  const std::vector<std::string>& valid = ValidPrivileges(major);
  auto is_priv = [&](const std::string& p) {
    return std::find(valid.begin(), valid.end(), p) != valid.end();
  };
  std::string release = "Proxmox VE " + std::to_string(major) + ".x";
  for (const auto& [name, privs] : config.roles) {
    if (IsBuiltinRole(name, major)) {
      return InvalidArgumentError("--role " + name + ": cannot change the built-in role");
    }
    for (const std::string& p : privs) {
      // pveum role add/modify: 400 "privs: invalid format - invalid privilege".
      if (!is_priv(p)) {
        return InvalidArgumentError("--role " + name + ": invalid privilege '" + p + "' (" +
                                    release + " has no such privilege)");
      }
    }
  }
  for (const auto& acl : config.acls) {
    for (const std::string& r : SplitPrivs(acl.roles, "+")) {
      if (!is_priv(r) && !IsBuiltinRole(r, major) && !config.roles.contains(r)) {
        return InvalidArgumentError("--acl " + acl.path + ": " + release +
                                    " has no role or privilege '" + r + "'");
      }
    }
  }
  return Status::Ok();
}

Auth::Auth(AuthConfig config, std::string key) : config_(std::move(config)), key_(std::move(key)) {
  for (const auto& acl : config_.acls) subjects_with_acl_.insert(acl.subject);
}

std::string Auth::Sign(std::string_view data) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(out), len), false);
}

AuthOutcome Auth::Authenticate(const HttpRequest& request, std::string_view method,
                               Identity* identity) const {
  const std::string* authz = request.Header("authorization");
  if (authz != nullptr) {
    static const std::regex token_re(R"((?:^|\s)PVEAPIToken(?:=| )([^;]*))");
    std::smatch m;
    if (std::regex_search(*authz, m, token_re)) {
      std::optional<std::string> value = UrlDecode(m[1].str(), false);
      if (!value) return AuthOutcome::kFailed;
      size_t eq = value->rfind('=');
      if (eq == std::string::npos) return AuthOutcome::kFailed;
      std::string full_id = value->substr(0, eq);
      std::string secret = value->substr(eq + 1);
      size_t bang = full_id.find('!');
      if (bang == std::string::npos) return AuthOutcome::kFailed;
      for (const auto& t : config_.tokens) {
        if (t.userid == full_id.substr(0, bang) && t.tokenid == full_id.substr(bang + 1) &&
            ConstantTimeEquals(t.secret, secret)) {
          if (t.expire != 0 && t.expire < std::time(nullptr)) return AuthOutcome::kFailed;
          identity->userid = t.userid;
          identity->tokenid = t.tokenid;
          return AuthOutcome::kOk;  // Tokens never need a CSRF token.
        }
      }
      return AuthOutcome::kFailed;
    }
  }
  std::optional<std::string> ticket;
  if (const std::string* cookie = request.Header("cookie")) {
    ticket = CookieValue(*cookie, "PVEAuthCookie");
  }
  if (!ticket && authz != nullptr) ticket = CookieValue(*authz, "PVEAuthCookie");
  if (!ticket) return AuthOutcome::kNoTicket;
  std::optional<std::string> decoded = UrlDecode(*ticket, false);
  if (!decoded) return AuthOutcome::kFailed;
  // PVE:<userid>:<HEXTIME>::<signature>
  static const std::regex ticket_re(R"(PVE:([^:\s]+):([0-9A-F]{8})::(\S+))");
  std::smatch m;
  if (!std::regex_match(*decoded, m, ticket_re)) return AuthOutcome::kFailed;
  std::string userid = m[1].str();
  std::string hex = m[2].str();
  if (!ConstantTimeEquals(Sign("PVE:" + userid + ":" + hex), m[3].str())) {
    return AuthOutcome::kFailed;
  }
  int64_t t = std::stoll(hex, nullptr, 16);
  int64_t now = std::time(nullptr);
  if (now - t > config_.ticket_lifetime || t - now > 300) return AuthOutcome::kFailed;
  if (!config_.passwords.contains(userid)) return AuthOutcome::kFailed;
  if (method != "GET") {
    const std::string* csrf = request.Header("csrfpreventiontoken");
    if (csrf == nullptr) return AuthOutcome::kInvalidCsrf;
    size_t colon = csrf->find(':');
    if (colon == std::string::npos) return AuthOutcome::kInvalidCsrf;
    std::string ctime_hex = csrf->substr(0, colon);
    if (!ConstantTimeEquals(Sign("CSRF:" + ctime_hex + ":" + userid), csrf->substr(colon + 1))) {
      return AuthOutcome::kInvalidCsrf;
    }
  }
  identity->userid = userid;
  identity->tokenid.clear();
  identity->csrf_valid = method != "GET";
  return AuthOutcome::kOk;
}

std::optional<Ticket> Auth::Login(std::string_view username, std::string_view password,
                                  std::string_view realm) const {
  std::string user(username);
  if (user.find('@') == std::string::npos && !realm.empty()) user += "@" + std::string(realm);
  auto it = config_.passwords.find(user);
  if (it == config_.passwords.end()) return std::nullopt;
  bool ok = ConstantTimeEquals(it->second, password);
  bool renewal = false;
  if (!ok && password.starts_with("PVE:")) {
    HttpRequest renew;
    renew.headers.emplace_back("cookie", "PVEAuthCookie=" + std::string(password));
    Identity who;
    ok = Authenticate(renew, "GET", &who) == AuthOutcome::kOk && who.userid == user;
    renewal = ok;
  }
  if (!ok) return std::nullopt;
  std::string hex = HexTime(std::time(nullptr));
  Ticket t;
  t.username = user;
  t.ticket = "PVE:" + user + ":" + hex + "::" + Sign("PVE:" + user + ":" + hex);
  t.csrf_token = hex + ":" + Sign("CSRF:" + hex + ":" + user);
  t.time_hex = hex;
  t.renewal = renewal;
  return t;
}

std::set<std::string> Auth::RolePrivs(const std::string& role) const {
  if (auto it = config_.roles.find(role); it != config_.roles.end()) {
    return {it->second.begin(), it->second.end()};
  }
  std::set<std::string> out = BuiltinRolePrivs(role, config_.pve_major);
  const std::vector<std::string>& valid = ValidPrivileges(config_.pve_major);
  if (std::find(valid.begin(), valid.end(), role) != valid.end()) out.insert(role);
  return out;
}

std::set<std::string> Auth::SubjectPrivs(std::string_view subject, std::string_view path) const {
  // Walk "/" -> "/vms" -> "/vms/100"; the deepest level with entries for the
  // subject decides (inherited entries only when they propagate).
  std::vector<std::string> levels = {"/"};
  std::string acc;
  size_t pos = 1;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    acc += "/" + std::string(path.substr(pos, slash - pos));
    levels.push_back(acc);
    pos = slash + 1;
  }
  std::set<std::string> current;
  for (const std::string& level : levels) {
    bool found = false;
    std::set<std::string> here;
    for (const auto& acl : config_.acls) {
      if (acl.subject != subject || acl.path != level) continue;
      if (!acl.propagate && level != levels.back()) continue;
      found = true;
      for (const std::string& role : SplitPrivs(acl.roles, "+")) {
        auto privs = RolePrivs(role);
        here.insert(privs.begin(), privs.end());
      }
    }
    if (found) current = std::move(here);
  }
  return current;
}

std::set<std::string> Auth::Privileges(const Identity& who, std::string_view path) const {
  std::set<std::string> user_privs;
  if (who.userid == "root@pam" || !subjects_with_acl_.contains(who.userid)) {
    // root@pam is all-powerful; other users without any ACL entry are
    // administrators, which keeps the simple command lines simple.
    const std::vector<std::string>& all = ValidPrivileges(config_.pve_major);
    user_privs.insert(all.begin(), all.end());
  } else {
    user_privs = SubjectPrivs(who.userid, path);
  }
  if (!who.via_token()) return user_privs;
  const AuthConfig::Token* token = nullptr;
  for (const auto& t : config_.tokens) {
    if (t.userid == who.userid && t.tokenid == who.tokenid) token = &t;
  }
  if (token == nullptr || !token->privsep) return user_privs;
  std::set<std::string> out;
  for (const std::string& p : SubjectPrivs(who.TaskUser(), path)) {
    if (user_privs.contains(p)) out.insert(p);
  }
  return out;
}

bool Auth::HasPriv(const Identity& who, std::string_view path, std::string_view priv) const {
  // Fast path for the common all-powerful callers: list endpoints check every VM.
  bool user_is_admin = who.userid == "root@pam" || !subjects_with_acl_.contains(who.userid);
  if (user_is_admin && !subjects_with_acl_.contains(who.TaskUser())) {
    bool privsep = false;
    for (const auto& t : config_.tokens) {
      if (who.via_token() && t.userid == who.userid && t.tokenid == who.tokenid)
        privsep = t.privsep;
    }
    if (!privsep) return true;
  }
  return Privileges(who, path).contains(std::string(priv));
}

}  // namespace pvek8s::pvesim
