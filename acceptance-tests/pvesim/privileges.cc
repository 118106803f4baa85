#include "acceptance-tests/pvesim/privileges.h"

#include <algorithm>
#include <charconv>

namespace pvek8s::pvesim {
namespace {

// The privileges 8.x and 9.x share (41 of them).
const std::vector<std::string>& CommonPrivs() {
  static const std::vector<std::string>* privs =
      new std::vector<std::string>{"Datastore.Allocate",
                                   "Datastore.AllocateSpace",
                                   "Datastore.AllocateTemplate",
                                   "Datastore.Audit",
                                   "Group.Allocate",
                                   "Mapping.Audit",
                                   "Mapping.Modify",
                                   "Mapping.Use",
                                   "Permissions.Modify",
                                   "Pool.Allocate",
                                   "Pool.Audit",
                                   "Realm.Allocate",
                                   "Realm.AllocateUser",
                                   "SDN.Allocate",
                                   "SDN.Audit",
                                   "SDN.Use",
                                   "Sys.AccessNetwork",
                                   "Sys.Audit",
                                   "Sys.Console",
                                   "Sys.Incoming",
                                   "Sys.Modify",
                                   "Sys.PowerMgmt",
                                   "Sys.Syslog",
                                   "User.Modify",
                                   "VM.Allocate",
                                   "VM.Audit",
                                   "VM.Backup",
                                   "VM.Clone",
                                   "VM.Config.CDROM",
                                   "VM.Config.CPU",
                                   "VM.Config.Cloudinit",
                                   "VM.Config.Disk",
                                   "VM.Config.HWType",
                                   "VM.Config.Memory",
                                   "VM.Config.Network",
                                   "VM.Config.Options",
                                   "VM.Console",
                                   "VM.Migrate",
                                   "VM.PowerMgmt",
                                   "VM.Snapshot",
                                   "VM.Snapshot.Rollback"};
  return *privs;
}

std::vector<std::string> Build(int major) {
  std::vector<std::string> out = CommonPrivs();
  if (major >= 9) {
    for (const char* p :
         {"VM.GuestAgent.Audit", "VM.GuestAgent.FileRead", "VM.GuestAgent.FileSystemMgmt",
          "VM.GuestAgent.FileWrite", "VM.GuestAgent.Unrestricted", "VM.Replicate"}) {
      out.emplace_back(p);
    }
  } else {
    out.emplace_back("VM.Monitor");
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

StatusOr<int> ParsePveMajor(std::string_view version) {
  int parts[3] = {0, 0, 0};
  std::string_view rest = version;
  for (int i = 0; i < 3; ++i) {
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), parts[i]);
    bool last = i == 2;
    if (ec != std::errc() || ptr == rest.data() ||
        (last ? ptr != rest.data() + rest.size()
              : (ptr == rest.data() + rest.size() || *ptr != '.'))) {
      return InvalidArgumentError("--pve-version wants X.Y.Z (e.g. 9.1.1 or 8.4.1), got '" +
                                  std::string(version) + "'");
    }
    rest.remove_prefix(static_cast<size_t>(ptr - rest.data()) + (last ? 0 : 1));
  }
  if (parts[0] < kOldestPveMajor || parts[0] > kNewestPveMajor) {
    return InvalidArgumentError(
        "--pve-version: pvesim acts as Proxmox VE " + std::to_string(kOldestPveMajor) + ".x or " +
        std::to_string(kNewestPveMajor) + ".x, got '" + std::string(version) + "'");
  }
  return parts[0];
}

const std::vector<std::string>& ValidPrivileges(int major) {
  static const std::vector<std::string>* v8 = new std::vector<std::string>(Build(8));
  static const std::vector<std::string>* v9 = new std::vector<std::string>(Build(9));
  return major >= 9 ? *v9 : *v8;
}

std::set<std::string> BuiltinRolePrivs(std::string_view name, int major) {
  const std::vector<std::string>& all = ValidPrivileges(major);
  std::set<std::string> out;
  bool nine = major >= 9;
  if (name == "Administrator") {
    out.insert(all.begin(), all.end());
  } else if (name == "PVEAdmin") {
    out.insert(all.begin(), all.end());
    for (const char* p : {"Permissions.Modify", "Realm.Allocate", "Sys.Modify"}) out.erase(p);
  } else if (name == "PVEVMAdmin") {
    for (const std::string& p : all) {
      if (p.starts_with("VM.")) out.insert(p);
    }
  } else if (name == "PVEVMUser") {
    out = {"VM.Audit",   "VM.Backup",   "VM.Config.CDROM", "VM.Config.Cloudinit",
           "VM.Console", "VM.PowerMgmt"};
    if (nine) {
      out.insert({"VM.GuestAgent.Audit", "VM.GuestAgent.FileRead", "VM.GuestAgent.FileWrite",
                  "VM.GuestAgent.FileSystemMgmt"});
    }
  } else if (name == "PVEAuditor") {
    out = {"Datastore.Audit", "Mapping.Audit", "Pool.Audit", "SDN.Audit", "Sys.Audit", "VM.Audit"};
    if (nine) out.insert("VM.GuestAgent.Audit");
  } else if (name == "PVEDatastoreAdmin") {
    out = {"Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate",
           "Datastore.Audit"};
  } else if (name == "PVEDatastoreUser") {
    out = {"Datastore.AllocateSpace", "Datastore.Audit"};
  } else if (name == "PVEPoolAdmin") {
    out = {"Pool.Allocate", "Pool.Audit"};
  } else if (name == "PVEPoolUser") {
    out = {"Pool.Audit"};
  } else if (name == "PVESDNUser") {
    out = {"SDN.Audit", "SDN.Use"};
  } else if (name == "PVETemplateUser") {
    out = {"VM.Audit", "VM.Clone"};
  }
  return out;
}

bool IsBuiltinRole(std::string_view name, int major) {
  return name == "NoAccess" || !BuiltinRolePrivs(name, major).empty();
}

std::vector<std::string> SplitPrivs(std::string_view privs, std::string_view extra) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : privs) {
    if (c == ',' || c == ';' || c == ' ' || c == '\t' || extra.find(c) != std::string_view::npos) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::vector<std::string> AgentReadPrivs(int major) {
  if (major >= 9) return {"VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted"};
  return {"VM.Monitor"};
}

std::vector<EndpointPrivs> VmEndpointPrivs(int major) {
  const std::string q = "/nodes/{node}/qemu/{vmid}";
  std::vector<std::string> agent = AgentReadPrivs(major);
  bool agent_any = agent.size() > 1;
  return {
      {"GET", q + "/config", {"VM.Audit"}},
      {"GET", q + "/pending", {"VM.Audit"}},
      {"GET", q + "/status/current", {"VM.Audit"}},
      {"POST", q + "/status/start", {"VM.PowerMgmt"}},
      {"POST", q + "/status/stop", {"VM.PowerMgmt"}},
      {"POST", q + "/status/shutdown", {"VM.PowerMgmt"}},
      {"POST", q + "/status/reboot", {"VM.PowerMgmt"}},
      {"POST", q + "/agent/ping", agent, agent_any},
      {"GET", q + "/agent/network-get-interfaces", agent, agent_any},
      {"PUT", q + "/resize", {"VM.Config.Disk"}},
      {"DELETE", q, {"VM.Allocate"}},
      {"GET", q + "/migrate", {"VM.Migrate"}},
      {"POST", q + "/migrate", {"VM.Migrate"}},
  };
}

}  // namespace pvek8s::pvesim
