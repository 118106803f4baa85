#include "provider/pve/nodes.h"

namespace pvek8s::pve {

StatusOr<std::vector<NodeInfo>> ListNodes(Client& client) {
  using nlohmann::json;
  PVEK8S_ASSIGN_OR_RETURN(auto j, client.Call("GET", "/nodes"));
  std::vector<NodeInfo> out;
  if (!j.is_array()) return out;
  for (const auto& n : j) {
    if (!n.is_object()) continue;
    NodeInfo info;
    info.name = JsonString(n.value("node", json()));
    info.status = JsonString(n.value("status", json()));
    info.mem = JsonInt(n.value("mem", json(0))).value_or(0);
    info.maxmem = JsonInt(n.value("maxmem", json(0))).value_or(0);
    info.maxcpu = JsonInt(n.value("maxcpu", json(0))).value_or(0);
    auto cpu = n.value("cpu", json(0));
    info.cpu = cpu.is_number() ? cpu.get<double>() : 0;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace pvek8s::pve
