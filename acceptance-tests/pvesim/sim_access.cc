// /access: realms, permissions and ticket login.
#include <chrono>
#include <thread>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"
#include "provider/base/log.h"

namespace pvek8s::pvesim {

using nlohmann::json;

// ---------------------------------------------------------------------------
// Access.
Simulator::Result Simulator::GetDomains(Request&) {
  return Result::Ok(json::array(
      {{{"realm", "pam"}, {"type", "pam"}, {"comment", "Linux PAM standard authentication"}},
       {{"realm", "pve"}, {"type", "pve"}, {"comment", "Proxmox VE authentication server"}}}));
}

// The caller's own effective privileges (PVE also lets Sys.Audit holders ask
// for others; pvesim answers only for the caller). Without `path`, PVE dumps
// every ACL path; pvesim dumps "/" and the common roots, which is what clients
// look at.
Simulator::Result Simulator::GetPermissions(Request& r) {
  std::string userid = r.Get("userid");
  std::string self = r.who.via_token() ? r.who.TaskUser() : r.who.userid;
  if (!userid.empty() && userid != self && userid != r.who.userid) {
    return Result::Fail(403, "Permission check failed (/access, Sys.Audit)");
  }
  std::vector<std::string> paths;
  if (r.Has("path")) {
    paths.push_back(r.Get("path"));
  } else {
    paths = {"/", "/vms", "/storage", "/pool", "/nodes", "/sdn", "/access"};
  }
  json out = json::object();
  for (const auto& path : paths) {
    json privs = json::object();
    for (const auto& p : auth_->Privileges(r.who, path)) privs[p] = 1;
    out[path] = privs;
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::GetTicket(Request&) { return Result::Ok(nullptr); }

Simulator::Result Simulator::PostTicket(Request& r) {
  auto ticket = auth_->Login(r.Get("username"), r.Get("password"), r.Get("realm"));
  if (!ticket) {
    if (options_.timings.auth_fail_delay > 0) {
      r.lock->unlock();
      std::this_thread::sleep_for(std::chrono::duration<double>(options_.timings.auth_fail_delay));
      r.lock->lock();
    }
    return Result::Fail(401, "authentication failure");
  }
  if (options_.log_requests) {
    log::Info(
        "ticket issued",
        {{"user", ticket->username}, {"time", ticket->time_hex}, {"renewal", ticket->renewal}});
  }
  Identity who{ticket->username, ""};
  auto cap = [&](const std::string& path, std::string_view prefix) {
    json c = json::object();
    for (const auto& p : auth_->Privileges(who, path)) {
      if (p.starts_with(prefix)) c[p] = 1;
    }
    return c;
  };
  return Result::Ok({{"username", ticket->username},
                     {"ticket", ticket->ticket},
                     {"CSRFPreventionToken", ticket->csrf_token},
                     {"cap",
                      {{"vms", cap("/vms", "VM.")},
                       {"storage", cap("/storage", "Datastore.")},
                       {"nodes", cap("/nodes", "Sys.")},
                       {"dc", cap("/", "SDN.")},
                       {"access", cap("/access", "User.")}}}});
}

}  // namespace pvek8s::pvesim
