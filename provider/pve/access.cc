#include "provider/pve/access.h"

namespace pvek8s::pve {

StatusOr<std::set<std::string>> GetPermissions(Client& client, const std::string& path) {
  PVEK8S_ASSIGN_OR_RETURN(auto got, client.Call("GET", "/access/permissions", {{"path", path}}));
  std::set<std::string> privs;
  if (got.is_object() && got.contains(path) && got[path].is_object()) {
    for (const auto& [priv, v] : got[path].items()) privs.insert(priv);
  }
  return privs;
}

std::string VmAclPath(std::optional<int64_t> vmid) {
  return vmid ? "/vms/" + std::to_string(*vmid) : "/vms";
}

std::string StorageAclPath(const std::string& storage) { return "/storage/" + storage; }

std::string PoolAclPath(const std::string& pool) { return "/pool/" + pool; }

std::string NodeAclPath(const std::string& node) { return "/nodes/" + node; }

std::string BridgeAclPath(const std::string& bridge) { return "/sdn/zones/localnetwork/" + bridge; }

std::string AgentReadPrivilege(int major) {
  return major != 0 && major < 9 ? "VM.Monitor" : "VM.GuestAgent.Audit";
}

bool CanReadAgent(const std::set<std::string>& have, int major) {
  if (have.contains(AgentReadPrivilege(major))) return true;
  return AgentReadPrivilege(major) != "VM.Monitor" && have.contains("VM.GuestAgent.Unrestricted");
}

}  // namespace pvek8s::pve
