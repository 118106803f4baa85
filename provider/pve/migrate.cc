#include "provider/pve/migrate.h"

namespace pvek8s::pve {
namespace {

using nlohmann::json;

std::vector<std::string> Strings(const json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& s : j) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace

StatusOr<MigratePreconditions> GetMigratePreconditions(Client& client, const VmRef& vm,
                                                       const std::string& target) {
  PVEK8S_ASSIGN_OR_RETURN(
      auto j,
      client.Call("GET", "/nodes/" + vm.node + "/qemu/" + std::to_string(vm.vmid) + "/migrate",
                  {{"target", target}}));
  MigratePreconditions p;
  if (!j.is_object()) return p;
  p.running = JsonInt(j.value("running", json(0))).value_or(0) == 1;
  p.allowed_nodes = Strings(j.value("allowed_nodes", json()));
  // Proxmox sends not_allowed_nodes as an object keyed by node (reasons
  // inside); only the names matter here.
  if (const json& na = j.value("not_allowed_nodes", json()); na.is_object()) {
    for (const auto& [name, why] : na.items()) p.not_allowed_nodes.push_back(name);
  } else {
    p.not_allowed_nodes = Strings(na);
  }
  if (const json& ld = j.value("local_disks", json()); ld.is_array()) {
    for (const auto& d : ld) {
      if (!d.is_object()) continue;
      LocalDisk disk;
      disk.volid = JsonString(d.value("volid", json()));
      disk.size = JsonInt(d.value("size", json(0))).value_or(0);
      disk.cdrom = JsonInt(d.value("cdrom", json(0))).value_or(0) == 1;
      p.local_disks.push_back(std::move(disk));
    }
  }
  if (const json& lr = j.value("local_resources", json()); lr.is_array()) {
    for (const auto& r : lr) p.local_resources.push_back(JsonString(r));
  }
  return p;
}

bool IsLinkedClone(const LocalDisk& disk) {
  size_t colon = disk.volid.find(':');
  return colon != std::string::npos && disk.volid.find('/', colon) != std::string::npos;
}

StatusOr<bool> IsHaManaged(Client& client, int64_t vmid) {
  auto r = client.Call("GET", "/cluster/ha/resources/vm:" + std::to_string(vmid));
  if (r.ok()) return true;
  // A copy: status() returns by value, and a reference to its message
  // would dangle.
  const Status status = r.status();
  if (status.message().find("no such resource") != std::string::npos ||
      Client::IsNotFound(status) || status.code() == StatusCode::kUnimplemented) {
    return false;
  }
  return status;
}

Status HaMigrate(Client& client, int64_t vmid, const std::string& target) {
  return client
      .Call("POST", "/cluster/ha/resources/vm:" + std::to_string(vmid) + "/migrate",
            {{"node", target}})
      .status();
}

bool IsNodeUnreachable(const Status& status) {
  return !status.ok() && status.message().find(": HTTP 595") != std::string::npos;
}

}  // namespace pvek8s::pve
