#include "provider/pve/cluster.h"

#include <cstdio>

namespace pvek8s::pve {

using nlohmann::json;

StatusOr<std::string> GetVersion(Client& client) {
  PVEK8S_ASSIGN_OR_RETURN(auto j, client.Call("GET", "/version"));
  return JsonString(j.value("version", json()));
}

ReleaseVersion ParseRelease(const std::string& version) {
  ReleaseVersion v;
  if (std::sscanf(version.c_str(), "%d.%d", &v.major, &v.minor) != 2) return {};
  return v;
}

StatusOr<int64_t> NextFreeId(Client& client, std::optional<int64_t> candidate) {
  Params p;
  if (candidate) p.push_back({"vmid", std::to_string(*candidate)});
  PVEK8S_ASSIGN_OR_RETURN(auto j, client.Call("GET", "/cluster/nextid", p));
  auto id = JsonInt(j);
  if (!id) return InternalError("GET /cluster/nextid: not a number");
  return *id;
}

StatusOr<std::vector<ClusterVm>> ListClusterVms(Client& client) {
  PVEK8S_ASSIGN_OR_RETURN(auto j, client.Call("GET", "/cluster/resources", {{"type", "vm"}}));
  std::vector<ClusterVm> out;
  if (!j.is_array()) return out;
  for (const auto& r : j) {
    if (JsonString(r.value("type", json())) != "qemu") continue;
    ClusterVm vm;
    vm.node = JsonString(r.value("node", json()));
    vm.vmid = JsonInt(r.value("vmid", json(0))).value_or(0);
    vm.name = JsonString(r.value("name", json()));
    vm.status = JsonString(r.value("status", json()));
    vm.template_ = JsonInt(r.value("template", json(0))).value_or(0) == 1;
    vm.lock = JsonString(r.value("lock", json()));
    out.push_back(std::move(vm));
  }
  return out;
}

}  // namespace pvek8s::pve
