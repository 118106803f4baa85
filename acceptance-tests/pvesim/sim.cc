// The simulator's construction, route table, random identities and the
// lookups every handler shares. The handlers live in sim_<area>.cc.
#include "acceptance-tests/pvesim/sim.h"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "acceptance-tests/pvesim/privileges.h"
#include "acceptance-tests/pvesim/sim_internal.h"
#include "provider/base/encoding.h"

namespace pvek8s::pvesim {

using nlohmann::json;

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Construction, persistence.

Simulator::Simulator(SimOptions options) : options_(std::move(options)) {
  uint64_t seed = options_.seed_given ? options_.seed : std::random_device{}();
  rng_.seed(seed);
  fault_rng_.seed(seed ^ 0x9e3779b97f4a7c15ULL);
  storages_ = {
      {"local", "dir", "backup,import,iso,snippets,vztmpl", 100LL << 30, false},
      {"local-lvm", "lvmthin", "images,rootdir", 1800LL << 30, false},
  };
  for (const StorageSpec& extra : options_.storages) {
    storages_.push_back(
        {extra.id, extra.type, extra.content, extra.shared ? 10LL << 40 : 1LL << 40, extra.shared});
  }
  started_wall_ = WallNow();
  next_pid_ = 0x10000 + static_cast<uint32_t>(rng_() % 0x100000);
}

Simulator::~Simulator() { Shutdown(); }

void Simulator::Shutdown() { scheduler_.Stop(); }

StatusOr<std::unique_ptr<Simulator>> Simulator::Create(SimOptions options) {
  std::unique_ptr<Simulator> sim(new Simulator(std::move(options)));
  std::error_code ec;
  fs::create_directories(fs::path(sim->options_.data_dir) / "vms", ec);
  if (ec) return InternalError("cannot create " + sim->options_.data_dir + ": " + ec.message());
  // The ticket key must survive restarts so that clients' tickets stay valid.
  fs::path key_path = fs::path(sim->options_.data_dir) / "ticket.key";
  std::string key;
  if (std::ifstream in(key_path, std::ios::binary); in) {
    std::stringstream ss;
    ss << in.rdbuf();
    key = ss.str();
  }
  if (key.size() < 32) {
    key = RandomBytes(32);
    PVEK8S_RETURN_IF_ERROR(WriteFileAtomic(key_path, key));
    fs::permissions(key_path, fs::perms::owner_read | fs::perms::owner_write, ec);
  }
  AuthConfig auth = sim->options_.auth;
  PVEK8S_ASSIGN_OR_RETURN(sim->options_.pve_major, ParsePveMajor(sim->options_.version));
  auth.pve_major = sim->options_.pve_major;
  PVEK8S_RETURN_IF_ERROR(CheckAuthConfig(auth));
  if (auth.passwords.empty() && auth.tokens.empty()) auth.passwords["root@pam"] = "pvesim";
  sim->auth_ = std::make_unique<Auth>(std::move(auth), key);
  PVEK8S_RETURN_IF_ERROR(sim->Load());
  sim->scheduler_.Start();

  sim->RegisterRoutes();
  return sim;
}

// "METHOD /path/{template}" -> handler; params.cc declares the same paths.
void Simulator::RegisterRoutes() {
  auto add = [&](const char* m, const char* p, Handler h) {
    routes_[std::string(m) + " " + p] = h;
  };
  const std::string q = "/nodes/{node}/qemu/{vmid}";
  add("GET", "/version", &Simulator::GetVersion);
  add("GET", "/nodes", &Simulator::GetNodes);
  add("GET", "/nodes/{node}", &Simulator::GetNode);
  add("GET", "/nodes/{node}/status", &Simulator::GetNodeStatus);
  add("GET", "/cluster/resources", &Simulator::GetClusterResources);
  add("GET", "/cluster/nextid", &Simulator::GetNextId);
  add("GET", "/cluster/ha/resources/{sid}", &Simulator::GetHaResource);
  add("GET", "/access/domains", &Simulator::GetDomains);
  add("GET", "/access/permissions", &Simulator::GetPermissions);
  add("GET", "/access/ticket", &Simulator::GetTicket);
  add("POST", "/access/ticket", &Simulator::PostTicket);
  add("GET", "/nodes/{node}/qemu", &Simulator::ListVms);
  add("POST", "/nodes/{node}/qemu", &Simulator::CreateVm);
  routes_["GET " + q] = &Simulator::GetVmIndex;
  routes_["DELETE " + q] = &Simulator::DeleteVm;
  routes_["GET " + q + "/config"] = &Simulator::GetConfig;
  routes_["PUT " + q + "/config"] = &Simulator::PutConfig;
  routes_["POST " + q + "/config"] = &Simulator::PostConfig;
  routes_["GET " + q + "/pending"] = &Simulator::GetPending;
  routes_["GET " + q + "/cloudinit"] = &Simulator::GetCloudinit;
  routes_["PUT " + q + "/cloudinit"] = &Simulator::PutCloudinit;
  routes_["POST " + q + "/clone"] = &Simulator::Clone;
  routes_["PUT " + q + "/resize"] = &Simulator::Resize;
  routes_["POST " + q + "/template"] = &Simulator::MakeTemplate;
  routes_["GET " + q + "/migrate"] = &Simulator::GetMigrate;
  routes_["POST " + q + "/migrate"] = &Simulator::Migrate;
  routes_["GET " + q + "/status"] = &Simulator::GetStatusIndex;
  routes_["GET " + q + "/status/current"] = &Simulator::GetStatusCurrent;
  for (const char* a : {"start", "stop", "shutdown", "reboot"}) {
    routes_["POST " + q + "/status/" + a] = &Simulator::PowerAction;
  }
  routes_["GET " + q + "/agent"] = &Simulator::GetAgentIndex;
  routes_["POST " + q + "/agent/ping"] = &Simulator::AgentPing;
  routes_["GET " + q + "/agent/network-get-interfaces"] = &Simulator::AgentNetwork;
  add("POST", "/nodes/{node}/vzdump", &Simulator::Vzdump);
  add("GET", "/nodes/{node}/tasks", &Simulator::ListTasks);
  add("GET", "/nodes/{node}/tasks/{upid}", &Simulator::GetTaskIndex);
  add("DELETE", "/nodes/{node}/tasks/{upid}", &Simulator::StopTask);
  add("GET", "/nodes/{node}/tasks/{upid}/status", &Simulator::GetTaskStatus);
  add("GET", "/nodes/{node}/tasks/{upid}/log", &Simulator::GetTaskLog);
  add("GET", "/nodes/{node}/storage", &Simulator::ListStorage);
  add("GET", "/nodes/{node}/storage/{storage}/status", &Simulator::GetStorageStatus);
  add("GET", "/nodes/{node}/storage/{storage}/content", &Simulator::GetStorageContent);
  add("GET", "/pools", &Simulator::ListPools);
  add("POST", "/pools", &Simulator::CreatePool);
  add("PUT", "/pools", &Simulator::UpdatePool);
  add("DELETE", "/pools", &Simulator::DeletePool);
  add("GET", "/pools/{poolid}", &Simulator::GetPool);
  // Moves: params_moves.cc declares these paths.
  add("GET", "/cluster/ha/resources", &Simulator::ListHaResources);
  add("POST", "/cluster/ha/resources", &Simulator::CreateHaResource);
  add("PUT", "/cluster/ha/resources/{sid}", &Simulator::UpdateHaResource);
  add("DELETE", "/cluster/ha/resources/{sid}", &Simulator::DeleteHaResource);
  add("POST", "/cluster/ha/resources/{sid}/migrate", &Simulator::HaResourceMigrate);
  for (const char* kind : {"/cluster/ha/groups", "/cluster/ha/rules"}) {
    const std::string one = std::string(kind) + (kind[12] == 'g' ? "/{group}" : "/{rule}");
    routes_["GET " + std::string(kind)] = &Simulator::ListHaConfig;
    routes_["POST " + std::string(kind)] = &Simulator::CreateHaConfig;
    routes_["GET " + one] = &Simulator::GetHaConfig;
    routes_["DELETE " + one] = &Simulator::DeleteHaConfig;
  }
  add("PUT", "/pvesim/nodes/{node}", &Simulator::SetNodeState);
  add("PUT", "/pools/{poolid}", &Simulator::UpdatePool);
  add("DELETE", "/pools/{poolid}", &Simulator::DeletePool);
}
bool Simulator::FaultFires(FaultSpec::Kind kind, std::string_view a, std::string_view b) {
  std::lock_guard<std::mutex> lock(fault_mu_);
  for (const FaultSpec& f : options_.faults) {
    if (f.kind != kind) continue;
    if (kind == FaultSpec::Kind::kLockTimeout && f.op != "*" && f.op != a) continue;
    if (kind == FaultSpec::Kind::kHttp500 &&
        ((f.method != "*" && f.method != a) || b.find(f.path) == std::string_view::npos)) {
      continue;
    }
    if (std::uniform_real_distribution<double>(0, 1)(fault_rng_) < f.probability) return true;
  }
  return false;
}

std::string Simulator::RandomMac() {
  // BC:24:11 is Proxmox Server Solutions' OUI, which PVE uses for new NICs.
  uint64_t r = rng_();
  char buf[32];
  std::snprintf(buf, sizeof(buf), "BC:24:11:%02X:%02X:%02X", static_cast<unsigned>(r & 0xff),
                static_cast<unsigned>((r >> 8) & 0xff), static_cast<unsigned>((r >> 16) & 0xff));
  return buf;
}

std::string Simulator::RandomUuid() {
  uint64_t a = rng_(), b = rng_();
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string Simulator::AllocateDhcp(Vm& vm) {
  if (!vm.dhcp_ip.empty()) return vm.dhcp_ip;
  std::string cidr = options_.dhcp_cidr;
  size_t slash = cidr.find('/');
  in_addr base{};
  inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &base);
  int bits = std::atoi(cidr.substr(slash + 1).c_str());
  uint32_t size = bits >= 32 ? 1u : (1u << (32 - bits));
  uint32_t host = ntohl(base.s_addr) & ~(size - 1);
  uint32_t usable = size > 20 ? size - 20 : 1;
  uint32_t offset = 10 + (dhcp_next_++ % usable);
  in_addr out{htonl(host + offset)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &out, buf, sizeof(buf));
  vm.dhcp_ip = buf;
  SaveCluster();
  return vm.dhcp_ip;
}
// ---------------------------------------------------------------------------
// Lookups and views.

bool Simulator::NodeExists(const std::string& node) const {
  return std::find(options_.nodes.begin(), options_.nodes.end(), node) != options_.nodes.end();
}

Simulator::Vm* Simulator::FindVm(int vmid) {
  auto it = vms_.find(vmid);
  return it == vms_.end() ? nullptr : &it->second;
}

const Simulator::Storage* Simulator::FindStorage(const std::string& id) const {
  for (const Storage& s : storages_) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::optional<Simulator::Result> Simulator::CheckNode(Request& r) {
  auto it = r.uri.find("node");
  if (it == r.uri.end() || NodeExists(it->second)) return std::nullopt;
  // A node outside the cluster falls back to DNS in pveproxy's proxy step.
  return Result::Fail(500, "hostname lookup '" + it->second +
                               "' failed - failed to get address "
                               "info for: " +
                               it->second + ": Name or service not known");
}

std::optional<Simulator::Result> Simulator::LoadVm(Request& r, Vm** vm) {
  if (auto e = CheckNode(r)) return e;
  int vmid = std::atoi(r.uri["vmid"].c_str());
  Vm* v = FindVm(vmid);
  if (v == nullptr || v->node != r.uri["node"]) {
    return Result::Fail(500, NoConfigMessage(r.uri["node"], vmid));
  }
  *vm = v;
  return std::nullopt;
}

std::optional<Simulator::Result> Simulator::CheckPriv(Request& r, const std::string& path,
                                                      const std::vector<std::string>& privs,
                                                      bool any) {
  bool ok = !any;
  for (const std::string& p : privs) {
    bool has = auth_->HasPriv(r.who, path, p);
    if (any && has) ok = true;
    if (!any && !has) {
      return Result::Fail(403, "Permission check failed (" + path + ", " + p + ")");
    }
  }
  if (ok) return std::nullopt;
  std::string joined;
  for (const std::string& p : privs) joined += (joined.empty() ? "" : "|") + p;
  return Result::Fail(403, "Permission check failed (" + path + ", " + joined + ")");
}

json Simulator::TypedConfig(const std::map<std::string, std::string>& conf) const {
  json out = json::object();
  for (const auto& [k, v] : conf) {
    const ParamDef* def = FindVmOption(k);
    if (def != nullptr && (def->type == ParamType::kBoolean || def->type == ParamType::kInteger)) {
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (!v.empty() && end == v.c_str() + v.size()) {
        out[k] = n;
        continue;
      }
    }
    out[k] = k == "cipassword" ? std::string("**********") : v;
  }
  return out;
}

std::map<std::string, std::string> Simulator::EffectiveConfig(const Vm& vm) const {
  std::map<std::string, std::string> c = vm.conf;
  for (const auto& [k, v] : vm.pending) c[k] = v;
  for (const auto& k : vm.pending_delete) c.erase(k);
  return c;
}

std::string Simulator::ConfigDigest(const Vm& vm) const {
  std::string text;
  for (const auto& [k, v] : vm.conf) {
    if (k == "description") continue;
    text += k + ": " + v + "\n";
  }
  if (vm.conf.contains("description")) text = "#" + vm.conf.at("description") + "\n" + text;
  if (!vm.pending.empty() || !vm.pending_delete.empty()) {
    text += "\n[PENDING]\n";
    for (const auto& [k, v] : vm.pending) text += k + ": " + v + "\n";
    std::string del;
    for (const auto& k : vm.pending_delete) del += (del.empty() ? "" : ",") + k;
    if (!del.empty()) text += "delete: " + del + "\n";
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha1(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
}

void Simulator::RecordHistory(Vm& vm) {
  Snapshot s{WallNow(), vm.conf.contains("name") ? vm.conf.at("name") : "",
             vm.running ? "running" : "stopped",
             vm.conf.contains("template") && vm.conf.at("template") == "1" ? 1 : 0};
  if (!vm.history.empty() && vm.history.back().name == s.name &&
      vm.history.back().status == s.status && vm.history.back().tmpl == s.tmpl) {
    return;
  }
  vm.history.push_back(s);
  // Drop snapshots that can no longer be the visible one.
  double horizon = s.at - options_.timings.resources_lag;
  while (vm.history.size() > 2 && vm.history[1].at <= horizon) {
    vm.history.erase(vm.history.begin());
  }
}

}  // namespace pvek8s::pvesim
