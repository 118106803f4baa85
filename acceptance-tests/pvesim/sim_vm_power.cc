// Power (status/*) and the guest agent.
#include <cstdio>
#include <cstdlib>

#include "acceptance-tests/pvesim/privileges.h"
#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"

namespace pvek8s::pvesim {

using nlohmann::json;

// ---------------------------------------------------------------------------
// Power.

Simulator::Result Simulator::GetStatusIndex(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  json out = json::array();
  for (const char* sub : {"current", "start", "stop", "reset", "shutdown", "suspend", "reboot"}) {
    out.push_back({{"subdir", sub}});
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::GetStatusCurrent(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vm->vmid), {"VM.Audit"})) return *e;
  auto& conf = vm->conf;
  int64_t maxmem = MemoryBytes(conf.count("memory") ? conf["memory"] : "2048");
  int64_t maxdisk = 0;
  if (conf.count("scsi0")) maxdisk = ParseSize(PropertyValue(conf["scsi0"], "size")).value_or(0);
  int cores = conf.count("cores") ? std::atoi(conf["cores"].c_str()) : 1;
  int sockets = conf.count("sockets") ? std::atoi(conf["sockets"].c_str()) : 1;
  json j = {{"vmid", vm->vmid},
            {"status", vm->running ? "running" : "stopped"},
            {"qmpstatus", vm->running ? "running" : "stopped"},
            {"name", conf.count("name") ? conf["name"] : "VM " + std::to_string(vm->vmid)},
            {"cpus", cores * sockets},
            {"cpu", vm->running ? 0.01 : 0},
            {"maxmem", maxmem},
            {"mem", vm->running ? maxmem / 4 : 0},
            {"maxdisk", maxdisk},
            {"disk", 0},
            {"uptime", vm->running ? static_cast<int64_t>(r.now - vm->started_at) : 0},
            {"netin", 0},
            {"netout", 0},
            {"diskread", 0},
            {"diskwrite", 0},
            {"ha", {{"managed", 0}}}};
  if (vm->running) {
    j["pid"] = QemuPid(vm->vmid, vm->started_at);
    j["running-machine"] = "pc-i440fx-9.2+pve1";
    j["running-qemu"] = "9.2.0";
  }
  if (conf.count("lock")) j["lock"] = conf["lock"];
  if (conf.count("tags")) j["tags"] = conf["tags"];
  if (conf.count("template") && conf["template"] == "1") j["template"] = 1;
  if (AgentEnabled(conf)) j["agent"] = 1;
  if (conf.count("serial0")) j["serial"] = 1;
  return Result::Ok(j);
}

Simulator::Result Simulator::PowerAction(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  int vmid = vm->vmid;
  if (auto e = CheckPriv(r, "/vms/" + std::to_string(vmid), {"VM.PowerMgmt"})) return *e;
  if (r.Has("skiplock") && r.who.TaskUser() != "root@pam") {
    return Result::ParamError("skiplock", "Only root may use this option.");
  }
  std::string action = r.path.substr(r.path.rfind('/') + 1);
  const Timings& tm = options_.timings;
  double duration = action == "start"      ? tm.start
                    : action == "stop"     ? tm.stop
                    : action == "shutdown" ? tm.shutdown
                                           : tm.reboot;
  std::string type = action == "start"      ? "qmstart"
                     : action == "stop"     ? "qmstop"
                     : action == "shutdown" ? "qmshutdown"
                                            : "qmreboot";
  if (action == "shutdown" && !vm->running) duration = 0;
  if (action == "stop" && !vm->running) duration = 0;
  Task& task = NewTask(vm->node, type, std::to_string(vmid), r);
  std::string upid = task.upid;
  bool fault = FaultFires(FaultSpec::Kind::kLockTimeout, action, "");
  auto start = fault ? std::nullopt
                     : locks_.Reserve(VmLockPath(vmid), r.now, duration, tm.vm_lock_timeout, true);
  bool skiplock = r.Bool("skiplock");
  double delay = start ? *start - r.now + duration : (fault ? 0 : tm.vm_lock_timeout);
  scheduler_.Schedule(delay, [=, this] {
    Task& t = tasks_[upid];
    if (!start) return FinishTask(t, LockTimeoutMessage(VmLockPath(vmid)));
    Vm* v = FindVm(vmid);
    if (v == nullptr) return FinishTask(t, NoConfigMessage(t.node, vmid));
    if (v->conf.contains("lock") && !skiplock) {
      return FinishTask(t, "VM is locked (" + v->conf["lock"] + ")");
    }
    std::string id = std::to_string(vmid);
    int warnings = 0;
    if (action == "start" || action == "reboot") {
      if (action == "start" && v->running) return FinishTask(t, "VM " + id + " already running");
      if (action == "reboot" && !v->running) return FinishTask(t, "VM " + id + " not running");
      if (v->conf.contains("template") && v->conf["template"] == "1") {
        return FinishTask(t, "you can't start a vm if it's a template");
      }
      ApplyPending(*v, false, &warnings);
      bool has_ci = false;
      for (const auto& [k, val] : v->conf) {
        has_ci = has_ci || (IsDiskKey(k) && val.find("cloudinit") != std::string::npos);
      }
      if (has_ci) {
        GenerateCloudinit(*v);
        t.log.emplace_back("generating cloud-init ISO");
      }
      std::string ip = PropertyValue(v->conf.count("ipconfig0") ? v->conf["ipconfig0"] : "", "ip");
      if (ip.empty() || ip == "dhcp") AllocateDhcp(*v);
      v->running = true;
      v->started_at = WallNow();
      v->boot_id = RandomUuid();
    } else {
      if (!v->running) {
        if (action == "shutdown") t.log.push_back("VM " + id + " not running");
      } else {
        v->running = false;
        v->started_at = 0;
        v->boot_id.clear();
      }
    }
    RecordHistory(*v);
    SaveVm(*v);
    FinishTask(t, "");
  });
  return Result::Ok(upid);
}

// ---------------------------------------------------------------------------
// Guest agent.

Simulator::Result Simulator::GetAgentIndex(Request& r) {
  Vm* vm = nullptr;
  if (auto e = LoadVm(r, &vm)) return *e;
  json out = json::array();
  for (const char* c : {"ping", "network-get-interfaces", "get-osinfo", "info"}) {
    out.push_back({{"name", c}});
  }
  return Result::Ok(out);
}

std::optional<Simulator::Result> Simulator::AgentReady(Request& r, Vm** vm) {
  if (auto e = LoadVm(r, vm)) return e;
  // 8.x: VM.Monitor; 9.x: VM.GuestAgent.Audit or .Unrestricted (any one).
  std::vector<std::string> privs = AgentReadPrivs(options_.pve_major);
  if (auto e = CheckPriv(r, "/vms/" + std::to_string((*vm)->vmid), privs, privs.size() > 1)) {
    return e;
  }
  if (!AgentEnabled((*vm)->conf)) return Result::Fail(500, "No QEMU guest agent configured");
  if (!(*vm)->running) {
    return Result::Fail(500, "VM " + std::to_string((*vm)->vmid) + " is not running");
  }
  if (r.now < (*vm)->started_at + options_.timings.agent) {
    return Result::Fail(500, "QEMU guest agent is not running");
  }
  return std::nullopt;
}

Simulator::Result Simulator::AgentPing(Request& r) {
  Vm* vm = nullptr;
  if (auto e = AgentReady(r, &vm)) return *e;
  return Result::Ok({{"result", json::object()}});
}

Simulator::Result Simulator::AgentNetwork(Request& r) {
  Vm* vm = nullptr;
  if (auto e = AgentReady(r, &vm)) return *e;
  auto stats = [](int64_t seed) {
    return json{
        {"rx-bytes", 123456 + seed}, {"rx-dropped", 0}, {"rx-errs", 0}, {"rx-packets", 1234 + seed},
        {"tx-bytes", 65432 + seed},  {"tx-dropped", 0}, {"tx-errs", 0}, {"tx-packets", 987 + seed}};
  };
  json result = json::array();
  result.push_back({{"name", "lo"},
                    {"hardware-address", "00:00:00:00:00:00"},
                    {"ip-addresses",
                     {{{"ip-address-type", "ipv4"}, {"ip-address", "127.0.0.1"}, {"prefix", 8}},
                      {{"ip-address-type", "ipv6"}, {"ip-address", "::1"}, {"prefix", 128}}}},
                    {"statistics", stats(0)}});
  const auto& ci = vm->cloudinit;
  for (int i = 0; i < 32; ++i) {
    std::string net_key = "net" + std::to_string(i);
    auto net = vm->conf.find(net_key);
    if (net == vm->conf.end()) continue;
    std::string model = FirstPart(net->second);
    std::string mac = model.find('=') == std::string::npos ? "" : model.substr(model.find('=') + 1);
    std::string mac_lower = LowerAscii(mac);
    json addrs = json::array();
    auto ipc = ci.find("ipconfig" + std::to_string(i));
    std::string ipcfg = ipc == ci.end() ? "" : ipc->second;
    std::string ip = PropertyValue(ipcfg, "ip");
    if (!ip.empty() && ip != "dhcp" && ip != "manual") {
      size_t slash = ip.find('/');
      addrs.push_back({{"ip-address-type", "ipv4"},
                       {"ip-address", ip.substr(0, slash)},
                       {"prefix", std::atoi(ip.substr(slash + 1).c_str())}});
    } else if (i == 0 && (ip.empty() || ip == "dhcp")) {
      addrs.push_back(
          {{"ip-address-type", "ipv4"},
           {"ip-address", AllocateDhcp(*vm)},
           {"prefix",
            std::atoi(options_.dhcp_cidr.substr(options_.dhcp_cidr.find('/') + 1).c_str())}});
    }
    std::string ip6 = PropertyValue(ipcfg, "ip6");
    if (!ip6.empty() && ip6 != "dhcp" && ip6 != "auto" && ip6 != "manual") {
      size_t slash = ip6.find('/');
      addrs.push_back({{"ip-address-type", "ipv6"},
                       {"ip-address", ip6.substr(0, slash)},
                       {"prefix", std::atoi(ip6.substr(slash + 1).c_str())}});
    }
    if (mac_lower.size() == 17) {
      // EUI-64 link-local address from the MAC, as the guest kernel makes it.
      unsigned b[6] = {0};
      std::sscanf(mac_lower.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]);
      char ll[64];
      std::snprintf(ll, sizeof(ll), "fe80::%x:%xff:fe%02x:%x", ((b[0] ^ 2) << 8) | b[1], b[2], b[3],
                    (b[4] << 8) | b[5]);
      addrs.push_back({{"ip-address-type", "ipv6"}, {"ip-address", ll}, {"prefix", 64}});
    }
    result.push_back({{"name", "eth" + std::to_string(i)},
                      {"hardware-address", mac_lower},
                      {"ip-addresses", addrs},
                      {"statistics", stats(i + 1)}});
  }
  return Result::Ok({{"result", result}});
}

}  // namespace pvek8s::pvesim
