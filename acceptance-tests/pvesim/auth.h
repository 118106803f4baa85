// Users, API tokens, tickets and ACLs for pvesim, following Proxmox VE's rules
// (pve-access-control): tokens in the Authorization header, tickets in the
// PVEAuthCookie cookie with a CSRFPreventionToken on non-GET requests, and
// privilege-separated tokens limited to their own ACL intersected with the user's.
#ifndef ACCEPTANCE_TESTS_PVESIM_AUTH_H_
#define ACCEPTANCE_TESTS_PVESIM_AUTH_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "acceptance-tests/pvesim/http_parser.h"
#include "provider/base/status.h"

namespace pvek8s::pvesim {

struct AuthConfig {
  struct Token {
    std::string userid;   // user@realm
    std::string tokenid;  // the part after '!'
    std::string secret;
    bool privsep = false;
    int64_t expire = 0;  // Unix time after which the token is refused; 0 = never.
  };
  struct Acl {
    std::string path;     // "/", "/vms", "/vms/100", "/storage/local-lvm", "/pool/k8s", ...
    std::string roles;    // Role names or privilege names joined by '+'.
    std::string subject;  // "user@realm" or "user@realm!tokenid".
    bool propagate = true;
  };
  // Custom roles, like `pveum role add NAME -privs "..."`: name -> privileges.
  std::map<std::string, std::vector<std::string>> roles;
  // The Proxmox VE major release whose privileges and built-in roles apply
  // (Simulator::Create sets it from --pve-version).
  int pve_major = 9;
  std::map<std::string, std::string> passwords;  // userid -> password
  std::vector<Token> tokens;
  std::vector<Acl> acls;
  // Seconds a ticket is accepted after it was issued (PVE: 2 hours).
  int64_t ticket_lifetime = int64_t{2} * 3600;
};

// "USER@REALM:PASSWORD".
Status AddUserSpec(AuthConfig* config, std::string_view spec);
// "USER@REALM!ID=SECRET" with optional ",privsep=1" (default 0: the token
// has exactly its user's rights) and ",expire=UNIXTIME" (default 0: never; an
// expired token is refused like a wrong one, as PVE does).
Status AddTokenSpec(AuthConfig* config, std::string_view spec);
// "PATH:ROLES:SUBJECT[:0]" (a trailing ":0" turns propagation off), like
// `pveum acl modify PATH --roles ROLES --users|--tokens SUBJECT`.
Status AddAclSpec(AuthConfig* config, std::string_view spec);

// "NAME:PRIV[,PRIV...]" (privileges separated by ',', ';' or spaces), like
// `pveum role add NAME -privs "PRIV PRIV"`.
Status AddRoleSpec(AuthConfig* config, std::string_view spec);

// What Proxmox refuses when a role or ACL is written: a custom role with a
// privilege its release does not have (VM.Monitor on 9.x), redefining a
// built-in role, or an ACL naming a role or privilege that does not exist.
// The error names the flag and the offending name.
Status CheckAuthConfig(const AuthConfig& config);

// Who made a request.
struct Identity {
  std::string userid;   // user@realm
  std::string tokenid;  // empty for ticket logins
  // A ticket login's non-GET request carried a CSRFPreventionToken signed
  // for this user (for the request log; such requests fail without one).
  bool csrf_valid = false;
  bool via_token() const { return !tokenid.empty(); }
  // The UPID user field: "user@realm" or "user@realm!tokenid".
  std::string TaskUser() const { return tokenid.empty() ? userid : userid + "!" + tokenid; }
};

enum class AuthOutcome {
  kOk,
  kNoTicket,     // 401 No ticket
  kFailed,       // 401 Authentication failed!
  kInvalidCsrf,  // 401 Permission denied - invalid csrf token
};

struct Ticket {
  std::string username;
  std::string ticket;
  std::string csrf_token;
  std::string time_hex;  // when it was issued: the ticket's HEXTIME field
  bool renewal = false;  // the password was a valid ticket
};

class Auth {
 public:
  // `key` signs tickets; keep it stable across restarts so tickets survive.
  Auth(AuthConfig config, std::string key);

  // Identifies the caller from the Authorization or Cookie headers. CSRF is
  // checked for ticket logins when `method` is not GET.
  AuthOutcome Authenticate(const HttpRequest& request, std::string_view method,
                           Identity* identity) const;

  // Password login (or renewal with a valid ticket as password).
  std::optional<Ticket> Login(std::string_view username, std::string_view password,
                              std::string_view realm) const;

  // Whether `who` holds `priv` on `path` (ACL inheritance, privsep tokens).
  bool HasPriv(const Identity& who, std::string_view path, std::string_view priv) const;

  // The privileges `who` holds on `path`, for the ticket's `cap` answer.
  std::set<std::string> Privileges(const Identity& who, std::string_view path) const;

 private:
  std::set<std::string> RolePrivs(const std::string& role) const;
  std::set<std::string> SubjectPrivs(std::string_view subject, std::string_view path) const;
  std::string Sign(std::string_view data) const;

  AuthConfig config_;
  std::string key_;
  std::set<std::string> subjects_with_acl_;
};

}  // namespace pvek8s::pvesim

#endif  // ACCEPTANCE_TESTS_PVESIM_AUTH_H_
