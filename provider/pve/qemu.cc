#include "provider/pve/qemu.h"

namespace pvek8s::pve {
namespace {

using nlohmann::json;

std::string VmPath(const VmRef& vm) {
  return "/nodes/" + vm.node + "/qemu/" + std::to_string(vm.vmid);
}

VmStatus DecodeStatus(const json& j) {
  VmStatus s;
  s.status = JsonString(j.value("status", json()));
  s.pid = JsonInt(j.value("pid", json())).value_or(0);
  s.uptime = JsonInt(j.value("uptime", json()));
  s.lock = JsonString(j.value("lock", json()));
  return s;
}

}  // namespace

StatusOr<std::vector<VmSummary>> ListVms(Client& client, const std::string& node) {
  PVEK8S_ASSIGN_OR_RETURN(auto j, client.Call("GET", "/nodes/" + node + "/qemu"));
  std::vector<VmSummary> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (!v.is_object()) continue;
    VmSummary s;
    s.vmid = JsonInt(v.value("vmid", json(0))).value_or(0);
    s.name = JsonString(v.value("name", json()));
    s.status = JsonString(v.value("status", json()));
    s.template_ = JsonInt(v.value("template", json(0))).value_or(0) == 1;
    s.maxdisk = JsonInt(v.value("maxdisk", json(0))).value_or(0);
    s.lock = JsonString(v.value("lock", json()));
    out.push_back(std::move(s));
  }
  return out;
}

StatusOr<VmConfig> GetVmConfig(Client& client, const VmRef& vm) {
  PVEK8S_ASSIGN_OR_RETURN(auto j, client.Call("GET", VmPath(vm) + "/config"));
  return DecodeVmConfig(j);
}

Status UpdateVmConfig(Client& client, const VmRef& vm, const VmConfigPatch& patch) {
  Params p = EncodeVmConfigPatch(patch);
  if (p.empty()) return Status::Ok();
  return client.Call("PUT", VmPath(vm) + "/config", p).status();
}

StatusOr<std::string> CloneVm(Client& client, const VmRef& source, const CloneRequest& req) {
  Params p{{"newid", std::to_string(req.newid)},
           {"name", req.name},
           {"full", req.full ? "1" : "0"},
           {"description", req.description}};
  if (req.pool) p.push_back({"pool", *req.pool});
  if (req.storage && req.full) p.push_back({"storage", *req.storage});
  PVEK8S_ASSIGN_OR_RETURN(auto upid, client.Call("POST", VmPath(source) + "/clone", p));
  return JsonString(upid);
}

StatusOr<std::string> ResizeDisk(Client& client, const VmRef& vm, const std::string& disk_key,
                                 const std::string& size) {
  PVEK8S_ASSIGN_OR_RETURN(
      auto r, client.Call("PUT", VmPath(vm) + "/resize", {{"disk", disk_key}, {"size", size}}));
  return JsonString(r);
}

StatusOr<VmStatus> GetVmStatus(Client& client, const VmRef& vm) {
  PVEK8S_ASSIGN_OR_RETURN(auto j, client.Call("GET", VmPath(vm) + "/status/current"));
  return DecodeStatus(j);
}

StatusOr<std::map<int64_t, VmStatus>> ListVmStatuses(Client& client, const std::string& node) {
  PVEK8S_ASSIGN_OR_RETURN(auto j, client.Call("GET", "/nodes/" + node + "/qemu"));
  std::map<int64_t, VmStatus> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (!v.is_object()) continue;
    if (auto id = JsonInt(v.value("vmid", json()))) out[*id] = DecodeStatus(v);
  }
  return out;
}

const char* PowerActionName(PowerAction action) {
  switch (action) {
    case PowerAction::kStart:
      return "start";
    case PowerAction::kStop:
      return "stop";
    case PowerAction::kReboot:
      return "reboot";
    case PowerAction::kShutdown:
      return "shutdown";
  }
  return "start";
}

StatusOr<std::string> PowerVm(Client& client, const VmRef& vm, PowerAction action) {
  PVEK8S_ASSIGN_OR_RETURN(auto upid,
                          client.Call("POST", VmPath(vm) + "/status/" + PowerActionName(action)));
  return JsonString(upid);
}

Status RegenerateCloudInit(Client& client, const VmRef& vm) {
  return client.Call("PUT", VmPath(vm) + "/cloudinit").status();
}

StatusOr<std::vector<GuestInterface>> GetGuestInterfaces(Client& client, const VmRef& vm,
                                                         std::chrono::milliseconds timeout) {
  PVEK8S_ASSIGN_OR_RETURN(
      auto r, client.Call("GET", VmPath(vm) + "/agent/network-get-interfaces", {}, timeout));
  json result = r.is_object() && r.contains("result") ? r["result"] : r;
  std::vector<GuestInterface> out;
  if (!result.is_array()) return out;
  for (const auto& iface : result) {
    if (!iface.is_object()) continue;
    GuestInterface gi;
    gi.name = JsonString(iface.value("name", json()));
    if (iface.contains("ip-addresses") && iface["ip-addresses"].is_array()) {
      for (const auto& a : iface["ip-addresses"]) {
        if (!a.is_object() || JsonString(a.value("ip-address-type", json())) != "ipv4") continue;
        gi.ipv4.push_back(JsonString(a.value("ip-address", json())));
      }
    }
    out.push_back(std::move(gi));
  }
  return out;
}

StatusOr<std::string> DeleteVm(Client& client, const VmRef& vm) {
  PVEK8S_ASSIGN_OR_RETURN(
      auto upid,
      client.Call("DELETE", VmPath(vm), {{"purge", "1"}, {"destroy-unreferenced-disks", "1"}}));
  return JsonString(upid);
}

StatusOr<std::string> MigrateVm(Client& client, const VmRef& vm, const MigrateRequest& req) {
  Params p{{"target", req.target}};
  if (req.online) p.push_back({"online", "1"});
  if (req.with_local_disks) p.push_back({"with-local-disks", "1"});
  PVEK8S_ASSIGN_OR_RETURN(auto upid, client.Call("POST", VmPath(vm) + "/migrate", p));
  return JsonString(upid);
}

}  // namespace pvek8s::pve
