#include "provider/resources/k8s_node/k8s_node.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "provider/base/encoding.h"
#include "provider/base/log.h"
#include "provider/framework/validators.h"
#include "provider/pve/propstring.h"

namespace pvek8s::resources {

using framework::ApplyResponse;
using framework::Attribute;
using framework::Diagnostics;
using framework::NestedBlock;
using nlohmann::json;
using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

namespace {

constexpr char kMarkerPrefix[] = "[pvek8s] ";
constexpr char kDnsLabel[] = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";

// ---------------------------------------------------------------------------
// Schema.

Attribute Str(const char* name, const char* desc) {
  return {.name = name, .type = Type::String(), .description = desc, .optional = true};
}

framework::Schema NodeSchema() {
  framework::Schema s;
  s.block.description =
      "A Kubernetes node: a VM cloned from a cloud-init template, configured, started, and "
      "reachable at a known address. Creates are safe at any parallelism (VM ids cannot "
      "collide, template/storage lock timeouts are retried), and the provider only stops or "
      "deletes VMs that carry its ownership marker. A create plan checks the cluster (connection, "
      "template, nodes, vmid, storage, pool, privileges) so mistakes show at plan. An apply "
      "killed halfway leaves nothing behind: the next apply from the same working directory "
      "resumes the half-made VM or deletes it. Refresh never waits on a guest agent.";
  s.block.attributes = {
      {.name = "id",
       .type = Type::String(),
       .description = "`<node>/<vmid>`.",
       .computed = true,
       .use_state_for_unknown = true},
      {.name = "name",
       .type = Type::String(),
       .description = "VM and host name (a DNS label).",
       .required = true,
       .validators = {framework::Matches(kDnsLabel, "a DNS label: a-z, 0-9 and '-'")}},
      {.name = "target_node",
       .type = Type::String(),
       .description = "Proxmox node to create the VM on. Set this or `target_nodes`. "
                      "Changing it replaces the VM.",
       .optional = true,
       .computed = true,
       .use_state_for_unknown = true},
      {.name = "target_nodes",
       .type = Type::List(Type::String()),
       .description = "Candidate nodes: the VM goes to the one with the most free memory, then "
                      "the fewest VMs. The choice is kept in `target_node` and never re-made.",
       .optional = true},
      {.name = "vmid",
       .type = Type::Number(),
       .description = "VM id. Chosen safely when not set.",
       .optional = true,
       .computed = true,
       .validators = {framework::IntBetween(100, 999999999)},
       .use_state_for_unknown = true},
      {.name = "vmid_range",
       .type = Type::List(Type::Number()),
       .description = "`[first, last]`: choose the VM id within this range (when `vmid` is "
                      "not set), e.g. to keep Kubernetes nodes apart from other VMs.",
       .optional = true},
      {.name = "template",
       .type = Type::String(),
       .description = "Template to clone: its name (e.g. `ubuntu-2204-template`) or vmid. "
                      "Changing it replaces the VM.",
       .required = true},
      {.name = "full_clone",
       .type = Type::Bool(),
       .description = "Full copy (default) instead of a linked clone.",
       .optional = true,
       .computed = true,
       .default_value = Value::Bool(true)},
      Str("description", "Notes shown in Proxmox (the ownership marker is added below them)."),
      {.name = "role",
       .type = Type::String(),
       .description = "`control-plane` or `worker` (default).",
       .optional = true,
       .computed = true,
       .validators = {framework::OneOf({"control-plane", "worker"})},
       .default_value = Value::String("worker")},
      Str("cluster", "Id of the `proxmox_k8s_cluster` this node belongs to."),
      {.name = "memory",
       .type = Type::Number(),
       .description = "Memory in MiB (default 2048).",
       .optional = true,
       .computed = true,
       .validators = {framework::IntBetween(16, 4194304)},
       .default_value = Value::Int(2048)},
      {.name = "nameservers",
       .type = Type::List(Type::String()),
       .description = "DNS servers given by cloud-init.",
       .optional = true},
      Str("search_domain", "DNS search domain given by cloud-init."),
      Str("ssh_user", "User cloud-init creates (`ciuser`)."),
      {.name = "ssh_public_keys",
       .type = Type::List(Type::String()),
       .description = "SSH public keys for `ssh_user`.",
       .optional = true},
      {.name = "tags",
       .type = Type::Set(Type::String()),
       .description = "Proxmox tags (lower case).",
       .optional = true,
       .validators = {[](const Value& v, const AttributePath& p, Diagnostics& d) {
         static const std::regex re("[a-z0-9_][a-z0-9_+.-]*");
         for (const auto& t : v.Elements()) {
           if (t.HasValue() && !std::regex_match(t.AsString(), re)) {
             d.AddError("Invalid tag",
                        "\"" + t.AsString() +
                            "\" is not a Proxmox tag: lower-case letters, "
                            "digits, and _ + . -",
                        p);
           }
         }
       }}},
      Str("pool", "Resource pool to put the VM in. Changing it replaces the VM."),
      {.name = "on_boot",
       .type = Type::Bool(),
       .description = "Start with the Proxmox host (default true).",
       .optional = true,
       .computed = true,
       .default_value = Value::Bool(true)},
      {.name = "started",
       .type = Type::Bool(),
       .description = "Keep the VM running (default true).",
       .optional = true,
       .computed = true,
       .default_value = Value::Bool(true)},
      {.name = "labels",
       .type = Type::Map(Type::String()),
       .description = "Kubernetes node labels, passed on to the join (inventory).",
       .optional = true},
      {.name = "taints",
       .type = Type::List(Type::String()),
       .description = "Kubernetes taints (`key=value:Effect`), passed on to the join.",
       .optional = true},
      {.name = "on_cloudinit_change",
       .type = Type::String(),
       .description = "What a change of `ip`, `ssh_public_keys`, `ssh_user`, `nameservers` or "
                      "`search_domain` does: `reboot` (default; regenerate the cloud-init drive "
                      "and reboot in place), `replace` (new VM) or `ignore`.",
       .optional = true,
       .computed = true,
       .validators = {framework::OneOf({"reboot", "replace", "ignore"})},
       .default_value = Value::String("reboot")},
      {.name = "ipv4_address",
       .type = Type::String(),
       .description = "The node's IPv4 address (the static one, or what the guest agent "
                      "reports).",
       .computed = true,
       .use_state_for_unknown = true},
      {.name = "ssh_host",
       .type = Type::String(),
       .description = "Address to reach the node over SSH.",
       .computed = true,
       .use_state_for_unknown = true},
      {.name = "mac_addresses",
       .type = Type::List(Type::String()),
       .description = "MAC address of each network device, by slot.",
       .computed = true,
       .use_state_for_unknown = true},
  };
  auto num = [](const char* name, const char* desc, int64_t def, int64_t lo, int64_t hi) {
    return Attribute{.name = name,
                     .type = Type::Number(),
                     .description = desc,
                     .optional = true,
                     .computed = true,
                     .validators = {framework::IntBetween(lo, hi)},
                     .default_value = Value::Int(def)};
  };
  s.block.blocks = {
      {.type_name = "cpu",
       .nesting = NestedBlock::Nesting::kSingle,
       .block = {.attributes = {num("cores", "Cores per socket (default 2).", 2, 1, 512),
                                num("sockets", "Sockets (default 1).", 1, 1, 4),
                                {.name = "type",
                                 .type = Type::String(),
                                 .description = "CPU model (default `host`).",
                                 .optional = true,
                                 .computed = true,
                                 .default_value = Value::String("host")}},
                 .description = "Processors."}},
      {.type_name = "disk",
       .nesting = NestedBlock::Nesting::kSingle,
       .block = {.attributes =
                     {{.name = "size",
                       .type = Type::String(),
                       .description = "Size of the boot disk, e.g. `20G`. Disks only grow: "
                                      "a smaller size is an error at plan time.",
                       .required = true,
                       .validators = {[](const Value& v, const AttributePath& p, Diagnostics& d) {
                         if (!pve::ParseSize(v.AsString()).ok()) {
                           d.AddError("Invalid disk size",
                                      "\"" + v.AsString() + "\" is not a size such as 20G.", p);
                         }
                       }}},
                      {.name = "storage",
                       .type = Type::String(),
                       .description = "Storage of the boot disk (default: the template's). "
                                      "Changing it replaces the VM.",
                       .optional = true,
                       .computed = true,
                       .use_state_for_unknown = true},
                      {.name = "iothread",
                       .type = Type::Bool(),
                       .description = "Give the disk its own I/O thread (default false).",
                       .optional = true,
                       .computed = true,
                       .default_value = Value::Bool(false)}},
                 .description = "The boot disk (the template's first disk)."}},
      {.type_name = "network",
       .nesting = NestedBlock::Nesting::kList,
       .block = {.attributes = {{.name = "bridge",
                                 .type = Type::String(),
                                 .description = "Bridge (default `vmbr0`).",
                                 .optional = true,
                                 .computed = true,
                                 .default_value = Value::String("vmbr0")},
                                {.name = "model",
                                 .type = Type::String(),
                                 .description = "NIC model (default `virtio`).",
                                 .optional = true,
                                 .computed = true,
                                 .default_value = Value::String("virtio")},
                                {.name = "vlan",
                                 .type = Type::Number(),
                                 .description = "VLAN tag.",
                                 .optional = true,
                                 .validators = {framework::IntBetween(1, 4094)}},
                                {.name = "mtu",
                                 .type = Type::Number(),
                                 .description = "MTU.",
                                 .optional = true,
                                 .validators = {framework::IntBetween(576, 65520)}}},
                 .description = "Network devices, in slot order (net0, net1, ...)."},
       .max_items = 8},
      {.type_name = "ip",
       .nesting = NestedBlock::Nesting::kSingle,
       .block =
           {.attributes = {{.name = "address",
                            .type = Type::String(),
                            .description = "IPv4 address with prefix "
                                           "(`192.168.100.171/24`), or `dhcp`.",
                            .required = true,
                            .validators = {[](const Value& v, const AttributePath& p,
                                              Diagnostics& d) {
                              if (v.AsString() == "dhcp") return;
                              auto c = framework::ParseCidr(v.AsString());
                              if (!c.ok() || c->v6) {
                                d.AddError("Invalid address",
                                           "\"" + v.AsString() +
                                               "\" is not an IPv4 address with prefix "
                                               "(192.168.100.171/24) or \"dhcp\".",
                                           p);
                              }
                            }}},
                           {.name = "gateway",
                            .type = Type::String(),
                            .description = "IPv4 gateway.",
                            .optional = true,
                            .validators = {framework::Matches(
                                R"(((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9]))",
                                "an IPv4 address")}}},
            .description = "Address of the first network device, given by cloud-init."}},
      {.type_name = "wait_for_ip",
       .nesting = NestedBlock::Nesting::kSingle,
       .block = {.attributes = {{.name = "timeout",
                                 .type = Type::String(),
                                 .description = "How long create/update wait (default `5m`).",
                                 .optional = true,
                                 .computed = true,
                                 .validators = {framework::Duration(1)},
                                 .default_value = Value::String("5m")},
                                {.name = "ipv4",
                                 .type = Type::Bool(),
                                 .description = "Wait for an IPv4 address (default true).",
                                 .optional = true,
                                 .computed = true,
                                 .default_value = Value::Bool(true)},
                                {.name = "ipv6",
                                 .type = Type::Bool(),
                                 .description = "Also wait for an IPv6 address (default false).",
                                 .optional = true,
                                 .computed = true,
                                 .default_value = Value::Bool(false)}},
                 .description = "Waiting for the guest agent to report the address after "
                                "start. Refresh never waits."}},
      {.type_name = "timeouts",
       .nesting = NestedBlock::Nesting::kSingle,
       .block = {.attributes = {Str("create", "Create timeout (default `20m`)."),
                                Str("update", "Update timeout (default `20m`)."),
                                Str("delete", "Delete timeout (default `10m`).")},
                 .description = "Operation timeouts, as durations."}},
  };
  for (auto& b : s.block.blocks) {
    if (b.type_name == "timeouts") {
      for (auto& a : b.block.attributes) a.validators = {framework::Duration(1)};
    }
  }
  return s;
}

// ---------------------------------------------------------------------------
// Small helpers.

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::vector<std::string> Split(const std::string& s, const std::string& seps) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (seps.find(c) != std::string::npos) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::vector<std::string> Strings(const Value& v) {
  std::vector<std::string> out;
  if (!v.HasValue()) return out;
  for (const auto& e : v.Elements()) {
    if (e.HasValue()) out.push_back(e.AsString());
  }
  return out;
}

Value StringList(const std::vector<std::string>& v) {
  std::vector<Value> elems;
  for (const auto& s : v) elems.push_back(Value::String(s));
  return Value::List(Type::String(), std::move(elems));
}

int64_t TimeoutSeconds(const Value& state, const char* op, int64_t def) {
  auto t = state.Attr("timeouts").GetString(op);
  if (!t) return def;
  auto s = framework::ParseDurationSeconds(*t);
  return s.ok() ? *s : def;
}

std::string HostPart(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

// The boot disk key of a config: the first of scsi0, virtio0, sata0, ide0
// that is a disk (not a CD-ROM or cloud-init drive).
std::string BootDiskKey(const json& conf) {
  for (const char* key : {"scsi0", "virtio0", "sata0", "ide0"}) {
    if (!conf.contains(key)) continue;
    std::string v = pve::JsonString(conf[key]);
    if (v.find("media=cdrom") != std::string::npos || v.find("cloudinit") != std::string::npos) {
      continue;
    }
    return key;
  }
  return "";
}

std::string SshKeysParam(const std::vector<std::string>& keys) {
  // Proxmox wants the value itself percent-encoded (and stores it so).
  return UrlEncode(Join(keys, "\n") + "\n");
}

std::string IpConfig(const Value& ip) {
  std::string addr = *ip.GetString("address");
  std::string out = "ip=" + addr;
  if (auto gw = ip.GetString("gateway")) out += ",gw=" + *gw;
  return out;
}

// A counting semaphore keyed by name: queues clones that contend for the same
// template and storage so they do not time out on Proxmox's locks.
class KeyedQueue {
 public:
  explicit KeyedQueue(int width) : width_(width) {}
  void Acquire(const std::string& key) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return busy_[key] < width_; });
    ++busy_[key];
  }
  void Release(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    --busy_[key];
    cv_.notify_all();
  }

 private:
  int width_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> busy_;
};

// VM ids handed out by this process and not yet visible in Proxmox: nextid
// reserves nothing, so without this two parallel creates would get the same.
class IdLedger {
 public:
  // Proxmox's next free id that this process has not handed out.
  // Within [lo, hi] when given.
  StatusOr<int64_t> Reserve(pve::Client& client, std::optional<int64_t> lo = std::nullopt,
                            std::optional<int64_t> hi = std::nullopt) {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t id = 0;
    if (lo) {
      id = *lo;
    } else {
      PVEK8S_ASSIGN_OR_RETURN(id, client.NextId());
    }
    for (int i = 0; i < 1000 && (!hi || id <= *hi); ++i) {
      if (!inflight_.contains(id)) {
        auto free = client.NextId(id);
        if (free.ok() && *free == id) {
          inflight_.insert(id);
          return id;
        }
        if (!free.ok() && free.status().code() != StatusCode::kInvalidArgument) {
          return free.status();
        }
      }
      ++id;
    }
    return ResourceExhausted();
  }
  void Release(int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    inflight_.erase(id);
  }
  // Marks an existing VM as being worked on by one Create of this process;
  // false when another one has it already.
  bool Claim(int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    return inflight_.insert(id).second;
  }
  bool Held(int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    return inflight_.contains(id);
  }

 private:
  static Status ResourceExhausted() {
    return FailedPreconditionError("no free VM id found (vmid_range full?)");
  }
  std::mutex mu_;
  std::set<int64_t> inflight_;
};

// Placements made by this process whose VMs Proxmox may not list yet:
// parallel creates would otherwise all see the same "emptiest" node.
struct PendingPlacements {
  std::mutex mu;
  std::map<std::string, std::pair<int64_t, size_t>> by_node;  // bytes, VMs
};

PendingPlacements& Pending() {
  static auto* p = new PendingPlacements();
  return *p;
}

// Undoes one placement's reservation as Proxmox starts to show it: the VM
// count once the clone exists, its memory once it runs (or the create ends),
// so that later placements do not count it twice.
class PendingRelease {
 public:
  PendingRelease(std::string node, int64_t bytes) : node_(std::move(node)), bytes_(bytes) {}
  ~PendingRelease() {
    ReleaseCount();
    std::lock_guard<std::mutex> lock(Pending().mu);
    Pending().by_node[node_].first -= bytes_;
  }
  void ReleaseCount() {
    if (!count_held_) return;
    count_held_ = false;
    std::lock_guard<std::mutex> lock(Pending().mu);
    Pending().by_node[node_].second -= 1;
  }

 private:
  std::string node_;
  int64_t bytes_;
  bool count_held_ = true;
};

// Two clones at a time per template and storage: Proxmox takes a shared lock
// on a stopped source, and a copy waits for the storage lock only while
// another copy holds it, which one copy ahead never makes time out (10 s).
// One at a time cost 10 nodes 1.38x one node's time; lock timeouts that do
// happen are retried.
KeyedQueue& CloneQueue() {
  static auto* q = new KeyedQueue(2);
  return *q;
}

IdLedger& Ledger() {
  static auto* l = new IdLedger();
  return *l;
}

// Keeps an id in the ledger until the end of a scope.
class LedgerHold {
 public:
  explicit LedgerHold(int64_t id) : id_(id) {}
  LedgerHold(const LedgerHold&) = delete;
  LedgerHold& operator=(const LedgerHold&) = delete;
  ~LedgerHold() { Ledger().Release(id_); }

 private:
  int64_t id_;
};

struct TemplateRef {
  std::string node;
  int64_t vmid = 0;
  std::string name;
};

// A VM (not a template) that FindTemplates saw with the name it was asked
// for, or still being cloned (Proxmox shows no name until the clone is done).
struct NamedVm {
  std::string node;
  int64_t vmid = 0;
  bool cloning = false;
};

// Whether `vm` is the template `tmpl` names: its vmid when `tmpl` is all
// digits, else its name.
bool IsTemplate(const pve::VmSummary& vm, const std::string& tmpl) {
  bool numeric = !tmpl.empty() && tmpl.find_first_not_of("0123456789") == std::string::npos;
  return vm.template_ && (numeric ? std::to_string(vm.vmid) == tmpl : vm.name == tmpl);
}

Status TemplateNotFound(const std::string& tmpl) {
  return NotFoundError("no template \"" + tmpl + "\" on any online node");
}

// Clones are made where the template is: `node` must hold one.
void AddTemplateNotOnNode(Diagnostics& diags, const std::string& tmpl, const std::string& node) {
  diags.AddError("Template not on the target node",
                 "Template \"" + tmpl + "\" is not on node " + node +
                     "; clones are made on the node that holds the template.",
                 AttributePath("template"));
}

constexpr char kNoPlacement[] = "none of the candidate nodes is online and holds the template";

// Finds `tmpl` (a name or a vmid) on every online node. With `named`, also
// collects the VMs called `vm_name` and the VMs being cloned on those nodes
// (from the same listings).
StatusOr<std::vector<TemplateRef>> FindTemplates(pve::Client& c, const std::string& tmpl,
                                                 const std::string& vm_name = "",
                                                 std::vector<NamedVm>* named = nullptr) {
  PVEK8S_ASSIGN_OR_RETURN(auto nodes, c.Nodes());
  std::vector<TemplateRef> found;
  for (const auto& n : nodes) {
    if (n.status != "online") continue;
    auto vms = c.ListVms(n.name);
    if (!vms.ok()) continue;
    for (const auto& vm : *vms) {
      if (!vm.template_) {
        bool cloning = vm.name.empty() && vm.lock == "clone";
        if (named && !vm_name.empty() && (vm.name == vm_name || cloning)) {
          named->push_back({n.name, vm.vmid, cloning});
        }
        continue;
      }
      if (IsTemplate(vm, tmpl)) found.push_back({n.name, vm.vmid, vm.name});
    }
  }
  if (found.empty()) return TemplateNotFound(tmpl);
  return found;
}

// The detail of the error when `size` is smaller than the boot disk of
// template `tmpl` (clones can only grow); nullopt when it fits or is unknown.
std::optional<std::string> DiskTooSmall(pve::Client& c, const TemplateRef& tmpl,
                                        const std::string& size) {
  auto want = pve::ParseSize(size);
  auto conf = c.GetConfig(tmpl.node, tmpl.vmid);
  std::string key = conf.ok() ? BootDiskKey(*conf) : "";
  if (!want.ok() || key.empty()) return std::nullopt;
  auto ps = pve::PropertyString::Parse(pve::JsonString((*conf)[key]));
  auto have = ps.ok() ? pve::ParseSize(ps->Get("size").value_or("")) : StatusOr<int64_t>(0);
  if (!have.ok() || *want >= *have) return std::nullopt;
  return "disk.size " + size + " is smaller than the disk of template \"" + tmpl.name + "\" (" +
         pve::FormatSize(*have) + "); disks can only grow. Use at least " + pve::FormatSize(*have) +
         ".";
}

// What a create plan checks against the cluster, so that mistakes show at
// `terraform plan` rather than halfway through an apply: fetched once per
// provider process (one plan) and kept for a few seconds.
class ClusterSnapshot {
 public:
  // Adds an error for every planned value the cluster cannot satisfy; values
  // still unknown are left to the apply.
  void Check(pve::Client& c, const Value& plan, Diagnostics& diags) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fetched_ || std::chrono::steady_clock::now() - fetched_at_ > std::chrono::seconds(10)) {
      Fetch(c);
    }
    if (!reach_.ok()) {
      diags.AddStatus(reach_, "Proxmox VE API call failed");
      return;
    }
    std::string node_list = Join(node_names_, ", ");
    std::vector<TemplateRef> holders;
    const Value& tmpl_v = plan.Attr("template");
    if (tmpl_v.HasValue()) {
      std::string tmpl = tmpl_v.AsString();
      for (const auto& [node, vms] : vms_) {
        for (const auto& vm : vms) {
          if (IsTemplate(vm, tmpl)) holders.push_back({node, vm.vmid, vm.name});
        }
      }
      if (holders.empty()) {
        diags.AddStatus(TemplateNotFound(tmpl), "Template not found", AttributePath("template"));
      }
    }
    const Value& target = plan.Attr("target_node");
    if (target.HasValue()) {
      std::string node = target.AsString();
      if (!online_.contains(node)) {
        bool known = std::find(node_names_.begin(), node_names_.end(), node) != node_names_.end();
        diags.AddError(known ? "Target node offline" : "Unknown target node",
                       "Node \"" + node + "\" is " + (known ? "not online" : "not in the cluster") +
                           "; the cluster's nodes are " + node_list + ".",
                       AttributePath("target_node"));
      } else if (!holders.empty() &&
                 std::none_of(holders.begin(), holders.end(),
                              [&](const TemplateRef& t) { return t.node == node; })) {
        AddTemplateNotOnNode(diags, tmpl_v.AsString(), node);
      }
    }
    const Value& candidates = plan.Attr("target_nodes");
    if (candidates.HasValue() && candidates.IsWhollyKnown()) {
      std::vector<std::string> unknown;
      bool any = false;
      for (const auto& n : Strings(candidates)) {
        if (std::find(node_names_.begin(), node_names_.end(), n) == node_names_.end()) {
          unknown.push_back(n);
        }
        for (const auto& t : holders) any = any || (t.node == n && online_.contains(n));
      }
      if (!unknown.empty()) {
        diags.AddError("Unknown node in target_nodes",
                       Join(unknown, ", ") + (unknown.size() == 1 ? " is" : " are") +
                           " not in the cluster; its nodes are " + node_list + ".",
                       AttributePath("target_nodes"));
      } else if (!holders.empty() && !any) {
        diags.AddError("No node to place the VM on", kNoPlacement, AttributePath("target_nodes"));
      }
    }
    if (auto vmid = plan.GetInt("vmid")) {
      for (const auto& [node, vms] : vms_) {
        for (const auto& vm : vms) {
          if (vm.vmid != *vmid || SameNodeMaybe(c, node, vm, plan)) continue;
          diags.AddError("VM id in use",
                         "VM id " + std::to_string(*vmid) + " is already used by " +
                             (vm.name.empty() ? std::string("a VM") : "\"" + vm.name + "\"") +
                             " on " + node + ". Choose another vmid, or leave it out.",
                         AttributePath("vmid"));
        }
      }
    }
    const Value& disk = plan.Attr("disk");
    if (disk.HasValue() && !holders.empty()) {
      std::vector<TemplateRef> used;
      for (const auto& t : holders) {
        if (!target.HasValue() || t.node == target.AsString()) used.push_back(t);
      }
      if (auto storage = disk.GetString("storage"); storage && !used.empty()) {
        // Asked by id: a listing shows only the storages the token may use.
        const std::string& node = used.front().node;
        auto st = c.Call("GET", "/nodes/" + node + "/storage/" + *storage + "/status");
        if (!st.ok() && pve::Client::IsNotFound(st.status())) {
          std::string have = Join(Storages(c, node), ", ");
          diags.AddError("Unknown storage",
                         "Storage \"" + *storage + "\" does not exist on " + node +
                             (have.empty() ? std::string(".") : "; it has " + have + "."),
                         AttributePath("disk").Attr("storage"));
        }
      }
      if (auto size = disk.GetString("size"); size && !used.empty()) {
        if (auto detail = DiskTooSmall(c, used.front(), *size)) {
          diags.AddError("Disk smaller than the template's", *detail,
                         AttributePath("disk").Attr("size"));
        }
      }
    }
    if (auto pool = plan.GetString("pool")) {
      // Asked by id: a listing shows only the pools the token may audit.
      auto found = c.Call("GET", "/pools", {{"poolid", *pool}});
      if (!found.ok() && pve::Client::IsNotFound(found.status())) {
        diags.AddError("Unknown pool",
                       "Pool \"" + *pool + "\" does not exist. Create it first (pveum pool add " +
                           *pool + ").",
                       AttributePath("pool"));
      }
    }
    if (!holders.empty()) CheckPrivileges(c, plan, holders, target, diags);
  }

 private:
  void Fetch(pve::Client& c) {
    fetched_ = true;
    fetched_at_ = std::chrono::steady_clock::now();
    node_names_.clear();
    online_.clear();
    vms_.clear();
    permissions_.clear();
    auto version = c.Version();
    reach_ = version.ok() ? Status::Ok() : version.status();
    if (!reach_.ok()) return;
    auto nodes = c.Nodes();
    if (!nodes.ok()) {
      reach_ = nodes.status();
      return;
    }
    for (const auto& n : *nodes) {
      node_names_.push_back(n.name);
      if (n.status != "online") continue;
      auto vms = c.ListVms(n.name);
      if (!vms.ok()) continue;
      online_.insert(n.name);
      vms_[n.name] = *vms;
    }
    std::sort(node_names_.begin(), node_names_.end());
  }

  static std::vector<std::string> Storages(pve::Client& c, const std::string& node) {
    std::vector<std::string> out;
    auto list = c.Call("GET", "/nodes/" + node + "/storage");
    if (list.ok() && list->is_array()) {
      for (const auto& s : *list) out.push_back(pve::JsonString(s.value("storage", json())));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // The privileges a create needs (clone, configure, grow, start), checked
  // with the caller's own effective privileges so that every missing one is
  // named at once. Skipped when Proxmox will not say.
  void CheckPrivileges(pve::Client& c, const Value& plan, const std::vector<TemplateRef>& holders,
                       const Value& target, Diagnostics& diags) {
    const TemplateRef* source = &holders.front();
    for (const auto& t : holders) {
      if (target.HasValue() && t.node == target.AsString()) source = &t;
    }
    std::vector<std::pair<std::string, std::vector<std::string>>> need = {
        {"/vms/" + std::to_string(source->vmid), {"VM.Clone"}}};
    auto vmid = plan.GetInt("vmid");
    std::string vm_path = vmid ? "/vms/" + std::to_string(*vmid) : "/vms";
    need.push_back(
        {vm_path,
         {"VM.Allocate", "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk",
          "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.PowerMgmt"}});
    auto storage = plan.Attr("disk").GetString("storage");
    if (storage && plan.GetBool("full_clone").value_or(true)) {
      need.push_back({"/storage/" + *storage, {"Datastore.AllocateSpace"}});
    }
    auto pool = plan.GetString("pool");
    std::vector<std::string> missing;
    for (const auto& [path, privs] : need) {
      auto have = Permissions(c, path);
      if (!have.ok()) return;
      std::set<std::string> all = *have;
      if (pool && path == vm_path) {
        // A VM made in a pool also gets the pool's privileges.
        auto via_pool = Permissions(c, "/pool/" + *pool);
        if (via_pool.ok()) all.insert(via_pool->begin(), via_pool->end());
      }
      std::vector<std::string> lack;
      for (const auto& p : privs) {
        if (!all.contains(p)) lack.push_back(p);
      }
      if (!lack.empty()) missing.push_back(Join(lack, ", ") + " on " + path);
    }
    if (missing.empty()) return;
    std::string who = c.options().token_id.empty() ? "user " + c.options().username
                                                   : "API token " + c.options().token_id;
    diags.AddError("Missing privileges",
                   "The " + who + " lacks " + Join(missing, "; ") +
                       ". Grant them, e.g. the PVEVMAdmin role on /vms and PVEDatastoreUser on "
                       "the storage (pveum acl modify), or, for a privilege-separated token, "
                       "give the token itself those roles.");
  }

  StatusOr<std::set<std::string>> Permissions(pve::Client& c, const std::string& path) {
    auto it = permissions_.find(path);
    if (it != permissions_.end()) return it->second;
    auto got = c.Call("GET", "/access/permissions", {{"path", path}});
    StatusOr<std::set<std::string>> out = got.status();
    if (got.ok()) {
      std::set<std::string> privs;
      if (got->is_object() && got->contains(path) && (*got)[path].is_object()) {
        for (const auto& [priv, v] : (*got)[path].items()) privs.insert(priv);
      }
      out = std::move(privs);
    }
    permissions_.emplace(path, out);
    return out;
  }

  // A pvek8s VM with the planned name may be this very node: the one a
  // replacement deletes first (Terraform plans the new object of a
  // replacement as a create, without the prior state), or the one an
  // interrupted apply left behind, which the create resumes. Its id is not
  // "in use" at plan time; a real conflict still fails the clone.
  static bool SameNodeMaybe(pve::Client& c, const std::string& node, const pve::VmSummary& vm,
                            const Value& plan) {
    auto name = plan.GetString("name");
    if (!name || vm.name != *name) return false;
    auto conf = c.GetConfig(node, vm.vmid);
    if (!conf.ok()) return false;
    std::string user;
    return ParseMarker(pve::JsonString(conf->value("description", json())), &user).has_value();
  }

  std::mutex mu_;
  bool fetched_ = false;
  std::chrono::steady_clock::time_point fetched_at_;
  Status reach_;
  std::vector<std::string> node_names_;
  std::set<std::string> online_;
  std::map<std::string, std::vector<pve::VmSummary>> vms_;
  std::map<std::string, StatusOr<std::set<std::string>>> permissions_;
};

// ---------------------------------------------------------------------------
// The resource.

// Which boot of a VM an address was read in: the QEMU process and when it
// started (from status/current; `uptime` makes the start time drift by a
// second or two between reads).
struct BootId {
  int64_t pid = 0;
  int64_t started = 0;  // Unix time

  static BootId Of(const json& status) {
    BootId b;
    auto pid = pve::JsonInt(status.value("pid", json()));
    auto up = pve::JsonInt(status.value("uptime", json()));
    if (pid && up) {
      b.pid = *pid;
      b.started = static_cast<int64_t>(std::time(nullptr)) - *up;
    }
    return b;
  }
  bool Same(const BootId& o) const {
    return pid != 0 && pid == o.pid && std::llabs(started - o.started) <= 5;
  }
};

// Bounds for guest agent calls: while waiting for the address after a start,
// and the single ask of a refresh.
constexpr std::chrono::milliseconds kAgentAskTimeout(10000);
constexpr std::chrono::milliseconds kAgentReadTimeout(2000);

struct PrivateData {
  std::string owner;
  bool imported = false;
  BootId ip_boot;  // the boot ipv4_address was read in (DHCP only)

  static PrivateData Parse(const std::string& bytes) {
    PrivateData p;
    auto j = json::parse(bytes, nullptr, false);
    if (j.is_object()) {
      p.owner = j.value("owner", "");
      p.imported = j.value("imported", false);
      p.ip_boot.pid = j.value("ip_pid", int64_t{0});
      p.ip_boot.started = j.value("ip_started", int64_t{0});
    }
    return p;
  }
  std::string Dump() const {
    json j{{"owner", owner}};
    if (imported) j["imported"] = true;
    if (ip_boot.pid != 0) {
      j["ip_pid"] = ip_boot.pid;
      j["ip_started"] = ip_boot.started;
    }
    return j.dump();
  }
};

class K8sNodeResource : public framework::Resource {
 public:
  explicit K8sNodeResource(ProviderData* data) : data_(data), schema_(NodeSchema()) {
    type_ = framework::ImpliedType(schema_.block);
  }

  std::string TypeName() const override { return "proxmox_k8s_node"; }
  const framework::Schema& GetSchema() const override { return schema_; }

  void ValidateConfig(const Value& config, Diagnostics& diags) const override {
    bool one = !config.Attr("target_node").IsNull();
    bool many = !config.Attr("target_nodes").IsNull();
    if (one && many) {
      diags.AddError("Conflicting placement", "Set target_node or target_nodes, not both.",
                     AttributePath("target_nodes"));
    }
    if (!one && !many) {
      diags.AddError("Missing placement",
                     "Set target_node (one Proxmox node) or target_nodes (candidates).",
                     AttributePath("target_node"));
    }
    if (const Value& r = config.Attr("vmid_range"); r.HasValue() && r.IsWhollyKnown()) {
      auto lo = r.Elements().size() == 2 ? r.Elements()[0].AsInt64() : std::nullopt;
      auto hi = r.Elements().size() == 2 ? r.Elements()[1].AsInt64() : std::nullopt;
      if (!lo || !hi || *lo < 100 || *lo > *hi || *hi > 999999999) {
        diags.AddError("Invalid vmid_range",
                       "vmid_range must be [first, last] with 100 <= first <= last <= 999999999.",
                       AttributePath("vmid_range"));
      } else if (auto v = config.Attr("vmid").AsInt64(); v && (*v < *lo || *v > *hi)) {
        diags.AddError("vmid outside vmid_range",
                       "vmid " + std::to_string(*v) + " is not within vmid_range [" +
                           std::to_string(*lo) + ", " + std::to_string(*hi) + "].",
                       AttributePath("vmid"));
      }
    }
    const Value& ip = config.Attr("ip");
    if (ip.HasValue() && ip.GetString("address") == std::string("dhcp") &&
        !ip.Attr("gateway").IsNull()) {
      diags.AddError("Gateway with DHCP", "A gateway comes from DHCP when address is \"dhcp\".",
                     AttributePath("ip").Attr("gateway"));
    }
    const Value& nets = config.Attr("network");
    if (ip.HasValue() && nets.HasValue() && nets.IsWhollyKnown() && nets.Elements().empty()) {
      diags.AddError("No network device", "ip needs at least one network block.",
                     AttributePath("ip"));
    }
  }

  void ModifyPlan(const framework::PlanRequest& req, framework::PlanResponse& resp) const override {
    Value& plan = resp.planned_state;
    const Value& prior = req.prior_state;
    const Value& cfg = req.config;
    const Value& ip = plan.Attr("ip");
    std::optional<std::string> static_ip;
    if (ip.HasValue() && ip.Attr("address").HasValue() && ip.GetString("address") != "dhcp") {
      static_ip = HostPart(*ip.GetString("address"));
    }
    if (prior.IsNull()) {
      // A static address is known now; say so rather than "known after apply".
      if (static_ip) {
        plan = plan.WithAttr("ipv4_address", Value::String(*static_ip))
                   .WithAttr("ssh_host", Value::String(*static_ip));
      }
      if (cfg.Attr("target_node").HasValue() && cfg.Attr("vmid").HasValue()) {
        plan = plan.WithAttr("id", Value::String(*cfg.GetString("target_node") + "/" +
                                                 cfg.Attr("vmid").NumberText()));
      }
      // With a provider configured from known values, what the cluster
      // cannot satisfy is an error now, not halfway through the apply.
      if (data_->ConnectionFinal()) {
        auto client = data_->Client(req.ctx);
        if (!client.ok()) {
          resp.diagnostics.AddStatus(client.status(), "Cannot reach Proxmox VE");
        } else {
          snapshot_->Check(**client, plan, resp.diagnostics);
        }
      }
      return;
    }
    auto replace = [&](const char* attr) { resp.requires_replace.push_back(AttributePath(attr)); };
    auto changed = [&](const char* attr) { return !(plan.Attr(attr) == prior.Attr(attr)); };
    // Attributes that only matter at creation replace the VM, except where the
    // prior value is unknown to us (after an import without marker).
    for (const char* attr : {"template", "full_clone", "pool"}) {
      if (!prior.Attr(attr).IsNull() && changed(attr)) replace(attr);
    }
    if (cfg.Attr("target_node").HasValue() && changed("target_node")) replace("target_node");
    if (cfg.Attr("vmid").HasValue() && changed("vmid")) replace("vmid");
    // target_nodes only guides the first placement.
    if (cfg.Attr("target_node").IsNull())
      plan = plan.WithAttr("target_node", prior.Attr("target_node"));
    const Value& pd = prior.Attr("disk");
    const Value& nd = plan.Attr("disk");
    if (pd.HasValue() && nd.HasValue()) {
      if (nd.Attr("storage").HasValue() && pd.Attr("storage").HasValue() &&
          !(nd.Attr("storage") == pd.Attr("storage"))) {
        resp.requires_replace.push_back(AttributePath("disk").Attr("storage"));
      }
      auto before = pve::ParseSize(pd.GetString("size").value_or(""));
      auto after = pve::ParseSize(nd.GetString("size").value_or(""));
      if (before.ok() && after.ok() && *after < *before) {
        resp.diagnostics.AddError("Disks cannot shrink",
                                  "disk.size " + *nd.GetString("size") +
                                      " is smaller than the current " + *pd.GetString("size") +
                                      ". Proxmox can only grow disks; keep the size or replace "
                                      "the node (terraform apply -replace=...).",
                                  AttributePath("disk").Attr("size"));
      } else if (before.ok() && after.ok() && *after == *before) {
        // Same size written differently ("20480M"): keep the prior form.
        plan = plan.WithAttr("disk", nd.WithAttr("size", pd.Attr("size")));
      }
    }
    bool cloudinit = false;
    for (const char* attr : {"ip", "ssh_public_keys", "ssh_user", "nameservers", "search_domain"}) {
      if (changed(attr)) cloudinit = true;
    }
    std::string policy = plan.GetString("on_cloudinit_change").value_or("reboot");
    if (cloudinit && policy == "replace") {
      for (const char* attr :
           {"ip", "ssh_public_keys", "ssh_user", "nameservers", "search_domain"}) {
        if (changed(attr)) replace(attr);
      }
    } else if (cloudinit && policy == "reboot" && plan.GetBool("started").value_or(true)) {
      resp.diagnostics.AddWarning(
          "Node will reboot",
          "Cloud-init settings of " + plan.GetString("name").value_or("") +
              " change: the cloud-init drive is regenerated and the VM rebooted in place.");
    }
    if ((changed("memory") || changed("cpu")) && prior.GetBool("started").value_or(false)) {
      resp.diagnostics.AddWarning("Node will reboot",
                                  "CPU or memory of " + plan.GetString("name").value_or("") +
                                      " change while it runs; the VM is rebooted to apply them.");
    }
    if (!resp.requires_replace.empty()) {
      for (const char* attr : {"id", "vmid", "mac_addresses"}) {
        if (cfg.Attr(attr).IsNull())
          plan = plan.WithAttr(attr, Value::Unknown(type_.attributes().at(attr)));
      }
      if (cfg.Attr("target_node").IsNull()) {
        plan = plan.WithAttr("target_node", Value::Unknown(Type::String()));
      }
    }
    if (changed("ip") || !resp.requires_replace.empty()) {
      if (static_ip) {
        plan = plan.WithAttr("ipv4_address", Value::String(*static_ip))
                   .WithAttr("ssh_host", Value::String(*static_ip));
      } else {
        plan = plan.WithAttr("ipv4_address", Value::Unknown(Type::String()))
                   .WithAttr("ssh_host", Value::Unknown(Type::String()));
      }
    }
    if (plan.Attr("network").IsKnown() && prior.Attr("network").HasValue() &&
        plan.Attr("network").HasValue() &&
        plan.Attr("network").Elements().size() != prior.Attr("network").Elements().size()) {
      plan = plan.WithAttr("mac_addresses", Value::Unknown(Type::List(Type::String())));
    }
  }

  void Create(const framework::CreateRequest& req, ApplyResponse& resp) override {
    auto client_or = data_->Client(req.ctx);
    if (!client_or.ok()) {
      resp.diagnostics.AddStatus(client_or.status(), "Cannot reach Proxmox VE");
      resp.state = Value();
      return;
    }
    pve::Client& c = **client_or;
    Value plan = req.planned_state;
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::seconds(TimeoutSeconds(plan, "create", 1200));

    // 1. Template and placement. The listings also show whether an earlier,
    // interrupted apply of this configuration left this VM half-made.
    std::string name = *plan.GetString("name");
    std::vector<NamedVm> named;
    auto templates = FindTemplates(c, *plan.GetString("template"), name, &named);
    if (!templates.ok()) {
      if (templates.status().code() == StatusCode::kNotFound) {
        resp.diagnostics.AddStatus(templates.status(), "Template not found",
                                   AttributePath("template"));
      } else {
        resp.diagnostics.AddStatus(templates.status(), "Proxmox VE API call failed");
      }
      resp.state = Value();
      return;
    }
    OwnerMarker marker{"",
                       *plan.GetString("template"),
                       plan.GetString("role").value_or("worker"),
                       plan.GetBool("full_clone").value_or(true),
                       /*pending=*/true,
                       CreateOrigin(name)};
    std::vector<NamedVm> leftovers;  // clones of unknown origin still being made
    std::optional<NamedVm> resumed = FindInterrupted(c, named, plan, marker, leftovers);
    std::string node;
    std::optional<PendingRelease> pending;
    if (resumed) {
      node = resumed->node;
    } else if (auto t = plan.GetString("target_node")) {
      node = *t;
    } else {
      auto chosen = Place(c, *templates, Strings(plan.Attr("target_nodes")),
                          plan.GetInt("memory").value_or(2048));
      if (!chosen.ok()) {
        resp.diagnostics.AddStatus(chosen.status(), "No node to place the VM on",
                                   AttributePath("target_nodes"));
        resp.state = Value();
        return;
      }
      node = *chosen;
      pending.emplace(node, plan.GetInt("memory").value_or(2048) << 20);
    }
    const TemplateRef* tmpl = nullptr;
    for (const auto& t : *templates) {
      if (t.node == node) tmpl = &t;
    }
    if (!tmpl) {
      AddTemplateNotOnNode(resp.diagnostics, *plan.GetString("template"), node);
      resp.state = Value();
      return;
    }

    // A clone cannot be smaller than its template: refuse before making it.
    if (auto size = plan.Attr("disk").GetString("size"); size && !resumed) {
      if (auto detail = DiskTooSmall(c, *tmpl, *size)) {
        resp.diagnostics.AddError("Disk smaller than the template's", *detail,
                                  AttributePath("disk").Attr("size"));
        resp.state = Value();
        return;
      }
    }

    // 2. Clone with a safe id, or take over the interrupted one.
    PrivateData priv;
    StatusOr<int64_t> vmid = 0;
    if (resumed) {
      priv.owner = marker.owner;
      auto unlocked = WaitUnlocked(c, node, resumed->vmid, deadline);
      if (!unlocked.ok()) {
        Ledger().Release(resumed->vmid);
        resp.diagnostics.AddStatus(
            unlocked.status(),
            "Resuming the interrupted create of VM " + std::to_string(resumed->vmid) + " failed");
        resp.state = Value();
        return;
      }
      log::Info("resuming a create that an earlier apply left unfinished",
                {{"vmid", resumed->vmid}, {"node", node}});
      vmid = resumed->vmid;
    } else {
      priv.owner = HexEncode(RandomBytes(8));
      marker.owner = priv.owner;
      vmid = Clone(c, req, plan, *tmpl, marker, deadline);
    }
    if (!vmid.ok()) {
      resp.diagnostics.AddStatus(vmid.status(), "Cloning the template failed");
      resp.state = Value();
      return;
    }
    if (pending) pending->ReleaseCount();  // Proxmox lists it now
    // From here on the VM exists: every exit keeps it in state.
    plan = plan.WithAttr("vmid", Value::Int(*vmid))
               .WithAttr("target_node", Value::String(node))
               .WithAttr("id", Value::String(node + "/" + std::to_string(*vmid)));
    resp.private_data = priv.Dump();
    resp.state = plan;
    // Until Create returns, a Create of the same name in this process must
    // not take this pending VM for an interrupted one.
    LedgerHold hold(*vmid);

    Status s = Configure(c, node, *vmid, Value(), plan, marker, deadline);
    if (s.ok() && plan.GetBool("started").value_or(true)) {
      s = Power(c, node, *vmid, "start", deadline);
    }
    if (!s.ok()) {
      resp.diagnostics.AddStatus(s, "Configuring VM " + std::to_string(*vmid) + " failed");
      ClearPending(c, node, *vmid, plan, marker);
      CleanUpLeftovers(c, leftovers, name, marker.origin, deadline);
      return;  // Terraform keeps the VM (tainted) so nothing is orphaned.
    }
    FinishState(c, node, *vmid, plan, /*wait_ip=*/plan.GetBool("started").value_or(true), deadline,
                resp);
    ClearPending(c, node, *vmid, plan, marker);
    CleanUpLeftovers(c, leftovers, name, marker.origin, deadline);
  }

  void Read(const framework::ReadRequest& req, framework::ReadResponse& resp) override {
    auto client_or = data_->Client(req.ctx);
    if (!client_or.ok()) {
      resp.diagnostics.AddStatus(client_or.status(), "Cannot reach Proxmox VE");
      return;
    }
    pve::Client& c = **client_or;
    const Value& prior = req.current_state;
    std::string node = prior.GetString("target_node").value_or("");
    auto vmid = prior.GetInt("vmid");
    if (node.empty() || !vmid) {
      resp.diagnostics.AddError("Corrupt state", "target_node or vmid is missing.");
      return;
    }
    auto conf = c.GetConfig(node, *vmid);
    if (!conf.ok()) {
      if (pve::Client::IsNotFound(conf.status())) {
        log::Info("VM is gone; removing it from state", {{"vmid", *vmid}});
        resp.state = Value();
        return;
      }
      resp.diagnostics.AddStatus(conf.status(), "Reading VM " + std::to_string(*vmid) + " failed");
      return;
    }
    PrivateData priv = PrivateData::Parse(req.private_data);
    std::string user_desc;
    auto marker = ParseMarker(pve::JsonString(conf->value("description", json())), &user_desc);
    if (!priv.owner.empty() && (!marker || marker->owner != priv.owner)) {
      // Same id, different VM: ours is gone (and this one is not ours to touch).
      resp.diagnostics.AddWarning(
          "VM replaced outside Terraform",
          "VM " + std::to_string(*vmid) + " on " + node +
              " no longer carries this resource's ownership marker; it is treated as gone and "
              "will not be modified or deleted by this resource.");
      resp.state = Value();
      return;
    }
    auto status = c.CurrentStatus(node, *vmid);
    Value state =
        FromConfig(prior, *conf, status.ok() ? *status : json(), user_desc, marker, priv.imported);
    // Refresh never waits for the guest agent. A DHCP address is read once
    // per boot of the VM (a lease outlives neither), with a short bound; an
    // agent that does not answer leaves the address Terraform knew.
    bool priv_changed = false;
    if (state.Attr("ip").HasValue() && state.Attr("ip").GetString("address") == "dhcp" &&
        status.ok() && pve::JsonString(status->value("status", json())) == "running") {
      BootId boot = BootId::Of(*status);
      bool known = state.Attr("ipv4_address").HasValue() && boot.Same(priv.ip_boot);
      if (!known) {
        if (auto addr = AgentIpv4(c, node, *vmid, "", kAgentReadTimeout)) {
          state = state.WithAttr("ipv4_address", Value::String(*addr))
                      .WithAttr("ssh_host", Value::String(*addr));
          priv.ip_boot = boot;
          priv_changed = true;
        }
      }
    }
    if (priv.imported) {
      priv.imported = false;
      if (marker) priv.owner = marker->owner;
      priv_changed = true;
    }
    if (priv_changed) resp.private_data = priv.Dump();
    resp.state = state;
  }

  void Update(const framework::UpdateRequest& req, ApplyResponse& resp) override {
    auto client_or = data_->Client(req.ctx);
    if (!client_or.ok()) {
      resp.diagnostics.AddStatus(client_or.status(), "Cannot reach Proxmox VE");
      return;
    }
    pve::Client& c = **client_or;
    const Value& prior = req.prior_state;
    Value plan = req.planned_state;
    std::string node = *prior.GetString("target_node");
    int64_t vmid = *prior.GetInt("vmid");
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::seconds(TimeoutSeconds(plan, "update", 1200));
    PrivateData priv = PrivateData::Parse(req.planned_private);
    Status own = CheckOwner(c, node, vmid, priv);
    if (!own.ok()) {
      resp.diagnostics.AddStatus(own, "Refusing to modify VM " + std::to_string(vmid));
      resp.state = prior;
      return;
    }
    if (priv.owner.empty()) priv.owner = HexEncode(RandomBytes(8));  // adopt after import
    resp.private_data = priv.Dump();
    OwnerMarker marker{priv.owner, plan.GetString("template").value_or(""),
                       plan.GetString("role").value_or("worker"),
                       plan.GetBool("full_clone").value_or(true)};
    Status s = Configure(c, node, vmid, prior, plan, marker, deadline);
    if (!s.ok()) {
      resp.diagnostics.AddStatus(s, "Updating VM " + std::to_string(vmid) + " failed");
      resp.state = prior;
      return;
    }
    bool was = prior.GetBool("started").value_or(false);
    bool want = plan.GetBool("started").value_or(true);
    bool cloudinit = false;
    for (const char* attr : {"ip", "ssh_public_keys", "ssh_user", "nameservers", "search_domain"}) {
      if (!(plan.Attr(attr) == prior.Attr(attr))) cloudinit = true;
    }
    bool hw =
        !(plan.Attr("memory") == prior.Attr("memory")) || !(plan.Attr("cpu") == prior.Attr("cpu"));
    std::string policy = plan.GetString("on_cloudinit_change").value_or("reboot");
    if (cloudinit && policy != "ignore") {
      auto r = c.Call("PUT", "/nodes/" + node + "/qemu/" + std::to_string(vmid) + "/cloudinit");
      if (!r.ok()) s = r.status();
    }
    if (s.ok() && was && !want) {
      s = Power(c, node, vmid, "stop", deadline);
    } else if (s.ok() && !was && want) {
      s = Power(c, node, vmid, "start", deadline);
    } else if (s.ok() && was && want && ((cloudinit && policy == "reboot") || hw)) {
      s = Power(c, node, vmid, "reboot", deadline);
    }
    if (!s.ok()) {
      resp.diagnostics.AddStatus(s, "Updating VM " + std::to_string(vmid) + " failed");
      resp.state = plan;
      return;
    }
    FinishState(c, node, vmid, plan, want && (cloudinit || (!was && want)), deadline, resp);
  }

  void Delete(const framework::DeleteRequest& req, Diagnostics& diags) override {
    auto client_or = data_->Client(req.ctx);
    if (!client_or.ok()) {
      diags.AddStatus(client_or.status(), "Cannot reach Proxmox VE");
      return;
    }
    pve::Client& c = **client_or;
    const Value& prior = req.prior_state;
    std::string node = prior.GetString("target_node").value_or("");
    int64_t vmid = prior.GetInt("vmid").value_or(0);
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::seconds(TimeoutSeconds(prior, "delete", 600));
    PrivateData priv = PrivateData::Parse(req.planned_private);
    Status own = CheckOwner(c, node, vmid, priv);
    if (pve::Client::IsNotFound(own)) return;  // already gone
    if (!own.ok()) {
      diags.AddStatus(own, "Refusing to delete VM " + std::to_string(vmid));
      return;
    }
    Status s = DestroyVm(c, node, vmid, deadline);
    if (!s.ok()) diags.AddStatus(s, "Deleting VM " + std::to_string(vmid) + " failed");
  }

  // Stops VM `vmid` if it runs, then destroys it with its disks. OK when it
  // is gone already. Callers have checked the ownership marker.
  Status DestroyVm(pve::Client& c, const std::string& node, int64_t vmid,
                   std::chrono::steady_clock::time_point deadline) {
    auto st = c.CurrentStatus(node, vmid);
    if (st.ok() && pve::JsonString(st->value("status", json())) == "running") {
      Status s = Power(c, node, vmid, "stop", deadline);
      if (!s.ok()) return s;
    }
    auto upid = c.Call("DELETE", "/nodes/" + node + "/qemu/" + std::to_string(vmid),
                       {{"purge", "1"}, {"destroy-unreferenced-disks", "1"}});
    if (!upid.ok()) return pve::Client::IsNotFound(upid.status()) ? Status::Ok() : upid.status();
    return WaitUntil(c, pve::JsonString(*upid), deadline, "destroy");
  }

  void ImportState(const framework::Context& ctx, const std::string& id,
                   framework::ImportResponse& resp) override {
    (void)ctx;
    static const std::regex re(R"(([A-Za-z0-9][A-Za-z0-9-]*)/([1-9][0-9]{2,8}))");
    std::smatch m;
    if (!std::regex_match(id, m, re)) {
      resp.diagnostics.AddError("Invalid import id",
                                "Expected <node>/<vmid>, e.g. pve1/701; got \"" + id + "\".");
      return;
    }
    resp.state = resp.state.WithAttr("id", Value::String(id))
                     .WithAttr("target_node", Value::String(m[1]))
                     .WithAttr("vmid", Value::Int(std::stoll(m[2])));
    PrivateData priv;
    priv.imported = true;
    resp.private_data = priv.Dump();
  }

 private:
  // Most free memory, then fewest VMs, among candidates holding the template,
  // counting what this process has already placed; reserves `memory_mib`.
  StatusOr<std::string> Place(pve::Client& c, const std::vector<TemplateRef>& templates,
                              const std::vector<std::string>& candidates, int64_t memory_mib) {
    PVEK8S_ASSIGN_OR_RETURN(auto nodes, c.Nodes());
    std::map<std::string, size_t> vm_counts;
    for (const auto& n : nodes) {
      auto vms = n.status == "online"
                     ? c.ListVms(n.name)
                     : StatusOr<std::vector<pve::VmSummary>>(std::vector<pve::VmSummary>());
      vm_counts[n.name] = vms.ok() ? vms->size() : 0;
    }
    std::lock_guard<std::mutex> lock(Pending().mu);
    std::string best;
    // Proxmox lets memory be overcommitted, so a node with less free memory
    // than asked for is still a candidate: the emptiest one wins.
    int64_t best_free = INT64_MIN;
    size_t best_vms = 0;
    for (const auto& n : nodes) {
      if (n.status != "online") continue;
      if (!candidates.empty() &&
          std::find(candidates.begin(), candidates.end(), n.name) == candidates.end()) {
        continue;
      }
      bool has = std::any_of(templates.begin(), templates.end(),
                             [&](const TemplateRef& t) { return t.node == n.name; });
      if (!has) continue;
      auto& pending = Pending().by_node[n.name];
      size_t count = vm_counts[n.name] + pending.second;
      int64_t free = n.maxmem - n.mem - pending.first;
      if (free > best_free || (free == best_free && count < best_vms) ||
          (free == best_free && count == best_vms && n.name < best)) {
        best = n.name;
        best_free = free;
        best_vms = count;
      }
    }
    if (best.empty()) {
      return NotFoundError(kNoPlacement);
    }
    auto& reserved = Pending().by_node[best];
    reserved.first += memory_mib << 20;
    reserved.second += 1;
    return best;
  }

  StatusOr<int64_t> Clone(pve::Client& c, const framework::CreateRequest& req, const Value& plan,
                          const TemplateRef& tmpl, const OwnerMarker& marker,
                          std::chrono::steady_clock::time_point deadline) {
    std::string queue = tmpl.node + "/" + std::to_string(tmpl.vmid) + "/" +
                        plan.Attr("disk").GetString("storage").value_or("");
    auto fixed = plan.GetInt("vmid");
    Status last;
    for (int attempt = 0; attempt < 30; ++attempt) {
      if (req.ctx->Cancelled()) return CancelledError("cancelled");
      if (std::chrono::steady_clock::now() > deadline) {
        return DeadlineExceededError("create timeout while cloning: " + last.message());
      }
      int64_t id = 0;
      if (fixed) {
        id = *fixed;
      } else {
        std::optional<int64_t> lo, hi;
        if (const Value& r = plan.Attr("vmid_range"); r.HasValue() && r.Elements().size() == 2) {
          lo = r.Elements()[0].AsInt64();
          hi = r.Elements()[1].AsInt64();
        }
        PVEK8S_ASSIGN_OR_RETURN(id, Ledger().Reserve(c, lo, hi));
      }
      pve::Params p{{"newid", std::to_string(id)},
                    {"name", *plan.GetString("name")},
                    {"full", plan.GetBool("full_clone").value_or(true) ? "1" : "0"},
                    {"description", Description(plan, marker)}};
      if (auto pool = plan.GetString("pool")) p.push_back({"pool", *pool});
      if (auto st = plan.Attr("disk").GetString("storage");
          st && plan.GetBool("full_clone").value_or(true)) {
        p.push_back({"storage", *st});
      }
      CloneQueue().Acquire(queue);
      auto upid = c.Call(
          "POST", "/nodes/" + tmpl.node + "/qemu/" + std::to_string(tmpl.vmid) + "/clone", p);
      Status s =
          upid.ok() ? WaitUntil(c, pve::JsonString(*upid), deadline, "clone") : upid.status();
      if (!upid.ok() && upid.status().code() == StatusCode::kUnavailable) {
        // The answer was lost, not necessarily the clone: look for our marker.
        s = AdoptLostClone(c, tmpl.node, id, marker, deadline, upid.status());
      }
      CloneQueue().Release(queue);
      if (s.ok()) return id;
      if (!fixed) Ledger().Release(id);
      last = s;
      if (s.code() == StatusCode::kAlreadyExists && !fixed) continue;  // lost the id race
      if (s.code() == StatusCode::kAborted) {                          // a lock timeout
        log::Info("clone hit a lock timeout; retrying", {{"attempt", attempt + 1}});
        if (!c.Backoff(std::chrono::milliseconds(200 * (1 + attempt % 5)))) {
          return CancelledError("cancelled while retrying the clone");
        }
        continue;
      }
      return s;
    }
    return last;
  }

  // After a clone request whose answer was lost: OK when VM `id` exists with
  // our marker (waiting for its clone lock to go); `lost` when it does not.
  Status AdoptLostClone(pve::Client& c, const std::string& node, int64_t id,
                        const OwnerMarker& marker, std::chrono::steady_clock::time_point deadline,
                        const Status& lost) {
    auto conf = WaitUnlocked(c, node, id, deadline);
    if (!conf.ok()) return pve::Client::IsNotFound(conf.status()) ? lost : conf.status();
    std::string user;
    auto found = ParseMarker(pve::JsonString(conf->value("description", json())), &user);
    if (found && found->owner == marker.owner) {
      log::Info("adopted a clone whose answer was lost", {{"vmid", id}});
      return Status::Ok();
    }
    return AlreadyExistsError("VM " + std::to_string(id) + " exists but is not ours");
  }

  // The config of VM `id` once no lock (clone, create, ...) is held on it.
  StatusOr<json> WaitUnlocked(pve::Client& c, const std::string& node, int64_t id,
                              std::chrono::steady_clock::time_point deadline) {
    for (auto delay = std::chrono::milliseconds(100);;
         delay = std::min(delay * 2, std::chrono::milliseconds(1000))) {
      PVEK8S_ASSIGN_OR_RETURN(json conf, c.GetConfig(node, id));
      if (!conf.contains("lock")) return conf;
      if (std::chrono::steady_clock::now() > deadline) {
        return DeadlineExceededError("VM " + std::to_string(id) + " stays locked (" +
                                     pve::JsonString(conf["lock"]) + ")");
      }
      if (!c.Backoff(delay)) return CancelledError("waiting for VM " + std::to_string(id));
    }
  }

  // Among the VMs named like the plan's, the one an interrupted apply of this
  // configuration left behind: our marker still pending, the same origin, and
  // compatible with what the plan fixes (node, vmid). Claimed for this Create.
  // Clones still being made (not by this process) and interrupted VMs that no
  // longer fit the plan go to `leftovers`: one may be this VM's, from an apply
  // killed during the clone.
  std::optional<NamedVm> FindInterrupted(pve::Client& c, const std::vector<NamedVm>& named,
                                         const Value& plan, OwnerMarker& marker,
                                         std::vector<NamedVm>& leftovers) {
    auto fixed_id = plan.GetInt("vmid");
    auto fixed_node = plan.GetString("target_node");
    std::optional<NamedVm> adopted;
    for (const auto& vm : named) {
      if (Ledger().Held(vm.vmid)) continue;  // another Create of this process has it
      if (vm.cloning) {
        leftovers.push_back(vm);
        continue;
      }
      auto conf = c.GetConfig(vm.node, vm.vmid);
      if (!conf.ok()) continue;
      std::string user;
      auto found = ParseMarker(pve::JsonString(conf->value("description", json())), &user);
      if (!found || !found->pending || found->origin != marker.origin) continue;
      bool fits = !adopted && (!fixed_id || *fixed_id == vm.vmid) &&
                  (!fixed_node || *fixed_node == vm.node) &&
                  found->template_name == marker.template_name &&
                  found->full_clone == marker.full_clone;
      if (fits && Ledger().Claim(vm.vmid)) {
        marker.owner = found->owner;
        adopted = vm;
      } else {
        leftovers.push_back(vm);  // from an older configuration: not reusable
      }
    }
    return adopted;
  }

  // Leftovers that turn out to be this VM's, left by an interrupted apply
  // (pending, same origin, same name): this Create has the VM now, so they
  // are deleted.
  void CleanUpLeftovers(pve::Client& c, const std::vector<NamedVm>& leftovers,
                        const std::string& name, const std::string& origin,
                        std::chrono::steady_clock::time_point deadline) {
    for (const auto& vm : leftovers) {
      auto conf = WaitUnlocked(c, vm.node, vm.vmid, deadline);
      if (!conf.ok()) continue;
      std::string user;
      auto found = ParseMarker(pve::JsonString(conf->value("description", json())), &user);
      if (!found || !found->pending || found->origin != origin ||
          pve::JsonString(conf->value("name", json())) != name || !Ledger().Claim(vm.vmid)) {
        continue;
      }
      log::Info("deleting a clone an interrupted apply left behind",
                {{"vmid", vm.vmid}, {"node", vm.node}});
      Status s = DestroyVm(c, vm.node, vm.vmid, deadline);
      if (!s.ok()) {
        log::Warn("could not delete a left-over clone",
                  {{"vmid", vm.vmid}, {"error", s.message()}});
      }
      Ledger().Release(vm.vmid);
    }
  }

  // Create is done with the VM (it is in the state returned to Terraform):
  // drop the pending flag. Best effort; a flag left behind only matters if
  // that state is lost too.
  void ClearPending(pve::Client& c, const std::string& node, int64_t vmid, const Value& plan,
                    OwnerMarker marker) {
    marker.pending = false;
    auto r = c.Call("PUT", "/nodes/" + node + "/qemu/" + std::to_string(vmid) + "/config",
                    {{"description", Description(plan, marker)}});
    if (!r.ok()) {
      log::Warn("could not clear the pending mark",
                {{"vmid", vmid}, {"error", r.status().message()}});
    }
  }

  Status WaitUntil(pve::Client& c, const std::string& upid,
                   std::chrono::steady_clock::time_point deadline, const std::string& what) {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline -
                                                                 std::chrono::steady_clock::now());
    if (left.count() < 1) left = std::chrono::seconds(1);
    if (upid.rfind("UPID:", 0) != 0) return Status::Ok();  // synchronous answer
    return c.WaitTaskOk(upid, left, what);
  }

  Status Power(pve::Client& c, const std::string& node, int64_t vmid, const std::string& action,
               std::chrono::steady_clock::time_point deadline) {
    Status s;
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto upid =
          c.Call("POST", "/nodes/" + node + "/qemu/" + std::to_string(vmid) + "/status/" + action);
      s = upid.ok() ? WaitUntil(c, pve::JsonString(*upid), deadline, action) : upid.status();
      if (s.ok()) return s;
      // start and stop are idempotent in effect: check where the VM is.
      if (action == "start" || action == "stop") {
        auto st = c.CurrentStatus(node, vmid);
        std::string want = action == "start" ? "running" : "stopped";
        if (st.ok() && pve::JsonString(st->value("status", json())) == want) return Status::Ok();
      }
      if (s.code() != StatusCode::kUnavailable && s.code() != StatusCode::kAborted) return s;
      if (!c.Backoff(std::chrono::milliseconds(200 * (attempt + 1)))) {
        return CancelledError(action + " of VM " + std::to_string(vmid) + ": cancelled");
      }
    }
    return s;
  }

  static std::string Description(const Value& plan, const OwnerMarker& marker) {
    std::string user = plan.GetString("description").value_or("");
    return (user.empty() ? "" : user + "\n\n") + FormatMarker(marker);
  }

  // Refuses when the VM carries another owner's marker, or none although we
  // made it. kNotFound when the VM is gone.
  Status CheckOwner(pve::Client& c, const std::string& node, int64_t vmid,
                    const PrivateData& priv) {
    auto conf = c.GetConfig(node, vmid);
    if (!conf.ok()) return conf.status();
    std::string user;
    auto marker = ParseMarker(pve::JsonString(conf->value("description", json())), &user);
    if (priv.owner.empty()) {
      // Imported and never applied: the user adopted it explicitly.
      return Status::Ok();
    }
    if (!marker) {
      return PermissionDeniedError("VM " + std::to_string(vmid) + " on " + node +
                                   " has no pvek8s ownership marker; it was not made by this "
                                   "resource");
    }
    if (marker->owner != priv.owner) {
      return PermissionDeniedError("VM " + std::to_string(vmid) + " on " + node +
                                   " belongs to another pvek8s resource (owner " + marker->owner +
                                   ")");
    }
    return Status::Ok();
  }

  // Writes every setting that differs from `prior` (all of them when prior is
  // null), grows the disk, and sets the marker.
  Status Configure(pve::Client& c, const std::string& node, int64_t vmid, const Value& prior,
                   const Value& plan, const OwnerMarker& marker,
                   std::chrono::steady_clock::time_point deadline) {
    PVEK8S_ASSIGN_OR_RETURN(json conf, c.GetConfig(node, vmid));
    auto differs = [&](const char* attr) {
      return prior.IsNull() || !(prior.Attr(attr) == plan.Attr(attr));
    };
    pve::Params p;
    std::vector<std::string> del;
    if (differs("name")) p.push_back({"name", *plan.GetString("name")});
    std::string desc = Description(plan, marker);
    if (pve::JsonString(conf.value("description", json())) != desc) {
      p.push_back({"description", desc});
    }
    const Value& cpu = plan.Attr("cpu");
    if (cpu.HasValue() && differs("cpu")) {
      p.push_back({"cores", cpu.Attr("cores").NumberText()});
      p.push_back({"sockets", cpu.Attr("sockets").NumberText()});
      p.push_back({"cpu", *cpu.GetString("type")});
    }
    if (differs("memory")) p.push_back({"memory", plan.Attr("memory").NumberText()});
    if (differs("on_boot"))
      p.push_back({"onboot", plan.GetBool("on_boot").value_or(true) ? "1" : "0"});
    if (prior.IsNull()) p.push_back({"agent", "1"});
    if (differs("tags")) {
      auto tags = Strings(plan.Attr("tags"));
      if (tags.empty()) {
        if (!prior.IsNull()) del.push_back("tags");
      } else {
        std::sort(tags.begin(), tags.end());
        p.push_back({"tags", Join(tags, ";")});
      }
    }
    const Value& nets = plan.Attr("network");
    const Value& prior_nets = prior.Attr("network");
    size_t n_new = nets.HasValue() ? nets.Elements().size() : 0;
    size_t n_old = prior.IsNull() ? 0 : (prior_nets.HasValue() ? prior_nets.Elements().size() : 0);
    for (size_t i = 0; i < n_new; ++i) {
      const Value& n = nets.Elements()[i];
      if (!prior.IsNull() && i < n_old && prior_nets.Elements()[i] == n) continue;
      std::string key = "net" + std::to_string(i);
      pve::NetDevice dev{.model = *n.GetString("model"), .bridge = *n.GetString("bridge")};
      if (conf.contains(key)) {
        // Keep the MAC the clone got, so DHCP leases and udev names survive.
        auto old = pve::ParseNet(pve::JsonString(conf[key]));
        if (old.ok() && old->model == dev.model) {
          dev.mac = old->mac;
          dev.firewall = old->firewall;
        }
      }
      dev.vlan = n.GetInt("vlan");
      dev.mtu = n.GetInt("mtu");
      p.push_back({key, pve::FormatNet(dev)});
    }
    for (size_t i = n_new; i < std::max(n_old, n_new); ++i)
      del.push_back("net" + std::to_string(i));
    if (differs("ip")) {
      if (plan.Attr("ip").HasValue()) {
        p.push_back({"ipconfig0", IpConfig(plan.Attr("ip"))});
      } else if (!prior.IsNull()) {
        del.push_back("ipconfig0");
      }
    }
    auto opt_string = [&](const char* attr, const char* key, const std::string& value) {
      if (!differs(attr)) return;
      if (plan.Attr(attr).HasValue()) {
        p.push_back({key, value});
      } else if (!prior.IsNull()) {
        del.push_back(key);
      }
    };
    opt_string("nameservers", "nameserver", Join(Strings(plan.Attr("nameservers")), " "));
    opt_string("search_domain", "searchdomain", plan.GetString("search_domain").value_or(""));
    opt_string("ssh_user", "ciuser", plan.GetString("ssh_user").value_or(""));
    opt_string("ssh_public_keys", "sshkeys", SshKeysParam(Strings(plan.Attr("ssh_public_keys"))));

    // The boot disk: iothread lives in its property string.
    std::string disk_key = BootDiskKey(conf);
    const Value& disk = plan.Attr("disk");
    if (disk.HasValue() && !disk_key.empty()) {
      auto ps = pve::PropertyString::Parse(pve::JsonString(conf[disk_key]));
      if (ps.ok()) {
        bool want = disk.GetBool("iothread").value_or(false);
        bool have = ps->Get("iothread") == std::string("1");
        if (want != have) {
          if (want) {
            ps->Set("iothread", "1");
          } else {
            ps->Remove("iothread");
          }
          p.push_back({disk_key, ps->ToString()});
        }
      }
    }
    if (!del.empty()) p.push_back({"delete", Join(del, ",")});
    if (!p.empty()) {
      PVEK8S_ASSIGN_OR_RETURN(
          auto r, c.Call("PUT", "/nodes/" + node + "/qemu/" + std::to_string(vmid) + "/config", p));
      (void)r;
    }
    if (disk.HasValue() && !disk_key.empty()) {
      auto ps = pve::PropertyString::Parse(pve::JsonString(conf[disk_key]));
      auto have = ps.ok() ? pve::ParseSize(ps->Get("size").value_or("")) : StatusOr<int64_t>(0);
      auto want = pve::ParseSize(*disk.GetString("size"));
      if (want.ok() && (!have.ok() || *want > *have)) {
        PVEK8S_ASSIGN_OR_RETURN(
            auto r, c.Call("PUT", "/nodes/" + node + "/qemu/" + std::to_string(vmid) + "/resize",
                           {{"disk", disk_key}, {"size", *disk.GetString("size")}}));
        PVEK8S_RETURN_IF_ERROR(WaitUntil(c, pve::JsonString(r), deadline, "resize"));
      }
    }
    return Status::Ok();
  }

  // The first IPv4 the agent reports (or `want` exactly when given); nullopt
  // while the agent is not answering.
  // A frozen agent makes Proxmox wait for its QMP timeout: each ask is
  // bounded by `timeout`.
  std::optional<std::string> AgentIpv4(pve::Client& c, const std::string& node, int64_t vmid,
                                       const std::string& want, std::chrono::milliseconds timeout) {
    auto r = c.Call(
        "GET", "/nodes/" + node + "/qemu/" + std::to_string(vmid) + "/agent/network-get-interfaces",
        {}, timeout);
    if (!r.ok()) return std::nullopt;
    json result = r->is_object() && r->contains("result") ? (*r)["result"] : *r;
    if (!result.is_array()) return std::nullopt;
    for (const auto& iface : result) {
      if (iface.value("name", "") == "lo" || !iface.contains("ip-addresses")) continue;
      for (const auto& a : iface["ip-addresses"]) {
        if (a.value("ip-address-type", "") != "ipv4") continue;
        std::string ip = a.value("ip-address", "");
        if (ip.rfind("127.", 0) == 0) continue;
        if (want.empty() || ip == want) return ip;
      }
    }
    return std::nullopt;
  }

  // Fills computed values after create/update, waiting for the address when
  // asked to (bounded by wait_for_ip.timeout).
  void FinishState(pve::Client& c, const std::string& node, int64_t vmid, Value plan, bool wait_ip,
                   std::chrono::steady_clock::time_point deadline, ApplyResponse& resp) {
    auto conf = c.GetConfig(node, vmid);
    if (conf.ok()) {
      plan = plan.WithAttr("mac_addresses", Value(Macs(*conf, plan)));
      // The boot disk's storage, when left to the template.
      const Value& disk = plan.Attr("disk");
      std::string key = BootDiskKey(*conf);
      if (disk.HasValue() && disk.Attr("storage").IsUnknown() && !key.empty()) {
        auto ps = pve::PropertyString::Parse(pve::JsonString((*conf)[key]));
        std::string volume = ps.ok() ? ps->Get("").value_or("") : "";
        plan = plan.WithAttr(
            "disk", disk.WithAttr("storage", Value::String(volume.substr(0, volume.find(':')))));
      }
    }
    const Value& ip = plan.Attr("ip");
    std::string want;
    if (ip.HasValue() && ip.GetString("address") != "dhcp")
      want = HostPart(*ip.GetString("address"));
    const Value& w = plan.Attr("wait_for_ip");
    bool wait_v4 = w.HasValue() ? w.GetBool("ipv4").value_or(true) : true;
    int64_t wait_s =
        framework::ParseDurationSeconds(w.HasValue() ? w.GetString("timeout").value_or("5m") : "5m")
            .value_or(300);
    std::optional<std::string> got;
    if (wait_ip && wait_v4) {
      auto until =
          std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(wait_s));
      auto delay = std::chrono::milliseconds(200);
      bool cancelled = false;
      auto ask_timeout = [&] {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        return std::clamp(left, std::chrono::milliseconds(1000), kAgentAskTimeout);
      };
      while (!(got = AgentIpv4(c, node, vmid, want, ask_timeout()))) {
        if (std::chrono::steady_clock::now() >= until) break;
        if (!c.Backoff(std::min(delay, std::chrono::duration_cast<std::chrono::milliseconds>(
                                           until - std::chrono::steady_clock::now())))) {
          cancelled = true;
          break;
        }
        delay = std::min(delay * 2, std::chrono::milliseconds(2000));
      }
      if (!got && cancelled) {
        resp.diagnostics.AddError("Interrupted while waiting for the IP address",
                                  "Terraform was interrupted while VM " + std::to_string(vmid) +
                                      " on " + node +
                                      " was starting. The VM is kept (tainted) in the state.");
      } else if (!got) {
        resp.diagnostics.AddError(
            "No IP address from the guest agent",
            "VM " + std::to_string(vmid) + " on " + node + " did not report " +
                (want.empty() ? std::string("an IPv4 address") : want) + " within " +
                std::to_string(wait_s) +
                " s. Check that the template has qemu-guest-agent installed and enabled, or "
                "raise wait_for_ip.timeout. The VM is kept (tainted).");
      }
    }
    std::string addr = !want.empty() ? want : got.value_or("");
    if (want.empty() && got) {
      // Refreshes of this boot need not ask the agent again.
      if (auto st = c.CurrentStatus(node, vmid); st.ok()) {
        PrivateData priv = PrivateData::Parse(resp.private_data);
        priv.ip_boot = BootId::Of(*st);
        resp.private_data = priv.Dump();
      }
    }
    if (!addr.empty()) {
      plan = plan.WithAttr("ipv4_address", Value::String(addr))
                 .WithAttr("ssh_host", Value::String(addr));
    } else if (plan.Attr("ipv4_address").IsUnknown()) {
      plan = plan.WithAttr("ipv4_address", Value::Null(Type::String()))
                 .WithAttr("ssh_host", Value::Null(Type::String()));
    }
    resp.state = plan;
  }

  static Value Macs(const json& conf, const Value& plan) {
    std::vector<std::string> macs;
    size_t n = plan.Attr("network").HasValue() ? plan.Attr("network").Elements().size() : 0;
    for (size_t i = 0; i < n; ++i) {
      std::string key = "net" + std::to_string(i);
      auto dev = conf.contains(key) ? pve::ParseNet(pve::JsonString(conf[key]))
                                    : StatusOr<pve::NetDevice>(NotFoundError(key));
      macs.push_back(dev.ok() ? dev->mac : "");
    }
    return StringList(macs);
  }

  // The state as Proxmox reports it, shaped like `prior` (what the user
  // manages) so that unmanaged settings never show as drift.
  Value FromConfig(const Value& prior, const json& conf, const json& status,
                   const std::string& user_desc, const std::optional<OwnerMarker>& marker,
                   bool full) const {
    Value s = prior;
    auto blocks = [&](const char* b) { return full || prior.Attr(b).HasValue(); };
    s = s.WithAttr("name", Value::String(pve::JsonString(conf.value("name", json()))));
    s = s.WithAttr("description", user_desc.empty() && prior.Attr("description").IsNull()
                                      ? Value::Null(Type::String())
                                      : Value::String(user_desc));
    if (auto mem = pve::JsonInt(conf.value("memory", json("2048")))) {
      s = s.WithAttr("memory", Value::Int(*mem));
    } else if (auto ps = pve::PropertyString::Parse(pve::JsonString(conf["memory"])); ps.ok()) {
      auto cur = ps->Get("current") ? ps->Get("current") : ps->Get("");
      if (cur) s = s.WithAttr("memory", Value::Int(std::stoll(*cur)));
    }
    s = s.WithAttr("on_boot",
                   Value::Bool(pve::JsonInt(conf.value("onboot", json(0))).value_or(0) == 1));
    if (status.is_object()) {
      s = s.WithAttr("started",
                     Value::Bool(pve::JsonString(status.value("status", json())) == "running"));
    }
    if (blocks("cpu")) {
      Type ct = type_.attributes().at("cpu");
      auto cpu_type = pve::PropertyString::Parse(pve::JsonString(conf.value("cpu", json("kvm64"))));
      s = s.WithAttr(
          "cpu",
          Value::Object(
              ct,
              {{"cores", Value::Int(pve::JsonInt(conf.value("cores", json(1))).value_or(1))},
               {"sockets", Value::Int(pve::JsonInt(conf.value("sockets", json(1))).value_or(1))},
               {"type",
                Value::String(cpu_type.ok() ? cpu_type->Get("").value_or("kvm64") : "kvm64")}}));
    }
    std::string disk_key = BootDiskKey(conf);
    if (blocks("disk") && !disk_key.empty()) {
      Type dt = type_.attributes().at("disk");
      auto ps = pve::PropertyString::Parse(pve::JsonString(conf[disk_key]));
      if (ps.ok()) {
        std::string volume = ps->Get("").value_or("");
        std::string size = ps->Get("size").value_or("");
        const Value& pd = prior.Attr("disk");
        auto have = pve::ParseSize(size);
        auto was = pve::ParseSize(pd.GetString("size").value_or(""));
        if (have.ok() && was.ok() && *have == *was) size = *pd.GetString("size");
        s = s.WithAttr(
            "disk", Value::Object(
                        dt, {{"size", Value::String(size)},
                             {"storage", Value::String(volume.substr(0, volume.find(':')))},
                             {"iothread", Value::Bool(ps->Get("iothread") == std::string("1"))}}));
      }
    }
    Type nt = type_.attributes().at("network").element();
    std::vector<Value> nets;
    size_t prior_count =
        prior.Attr("network").HasValue() ? prior.Attr("network").Elements().size() : 0;
    for (size_t i = 0; i < 32; ++i) {
      std::string key = "net" + std::to_string(i);
      if (!conf.contains(key)) {
        if (i >= prior_count) break;
        continue;
      }
      if (!full && i >= prior_count) break;
      auto dev = pve::ParseNet(pve::JsonString(conf[key]));
      if (!dev.ok()) continue;
      auto opt_int = [](std::optional<int64_t> v) {
        return v ? Value::Int(*v) : Value::Null(Type::Number());
      };
      nets.push_back(Value::Object(nt, {{"bridge", Value::String(dev->bridge)},
                                        {"model", Value::String(dev->model)},
                                        {"vlan", opt_int(dev->vlan)},
                                        {"mtu", opt_int(dev->mtu)}}));
    }
    s = s.WithAttr("network", Value::List(nt, nets));
    s = s.WithAttr("mac_addresses", Macs(conf, s));
    if (conf.contains("ipconfig0")) {
      auto ps = pve::PropertyString::Parse(pve::JsonString(conf["ipconfig0"]));
      if (ps.ok() && ps->Get("ip")) {
        Type it = type_.attributes().at("ip");
        std::map<std::string, Value> ip{{"address", Value::String(*ps->Get("ip"))}};
        if (auto gw = ps->Get("gw")) ip["gateway"] = Value::String(*gw);
        s = s.WithAttr("ip", Value::Object(it, ip));
        if (*ps->Get("ip") != "dhcp") {
          std::string host = HostPart(*ps->Get("ip"));
          s = s.WithAttr("ipv4_address", Value::String(host))
                  .WithAttr("ssh_host", Value::String(host));
        }
      }
    } else {
      s = s.WithAttr("ip", Value::Null(type_.attributes().at("ip")));
    }
    auto cfg_string = [&](const char* key) -> std::optional<std::string> {
      if (!conf.contains(key)) return std::nullopt;
      return pve::JsonString(conf[key]);
    };
    if (auto ns = cfg_string("nameserver")) {
      s = s.WithAttr("nameservers", StringList(Split(*ns, " ,;")));
    } else {
      s = s.WithAttr("nameservers", Value::Null(Type::List(Type::String())));
    }
    auto set_opt = [&](const char* attr, std::optional<std::string> v) {
      s = s.WithAttr(attr, v ? Value::String(*v) : Value::Null(Type::String()));
    };
    set_opt("search_domain", cfg_string("searchdomain"));
    set_opt("ssh_user", cfg_string("ciuser"));
    if (auto keys = cfg_string("sshkeys")) {
      auto decoded = UrlDecode(*keys, false);
      s = s.WithAttr("ssh_public_keys", StringList(Split(decoded.value_or(*keys), "\n")));
    } else {
      s = s.WithAttr("ssh_public_keys", Value::Null(Type::List(Type::String())));
    }
    if (auto tags = cfg_string("tags")) {
      std::vector<Value> elems;
      for (const auto& t : Split(*tags, ";, ")) elems.push_back(Value::String(t));
      s = s.WithAttr("tags", Value::Set(Type::String(), elems));
    } else {
      s = s.WithAttr("tags", Value::Null(Type::Set(Type::String())));
    }
    if (full) {
      // After an import: what only the marker (or Proxmox defaults) can tell.
      if (marker) {
        s = s.WithAttr("template", Value::String(marker->template_name))
                .WithAttr("role", Value::String(marker->role))
                .WithAttr("full_clone", Value::Bool(marker->full_clone));
      }
      for (const auto& [attr, def] : std::vector<std::pair<const char*, Value>>{
               {"role", Value::String("worker")},
               {"full_clone", Value::Bool(true)},
               {"on_cloudinit_change", Value::String("reboot")}}) {
        if (s.Attr(attr).IsNull()) s = s.WithAttr(attr, def);
      }
      Type wt = type_.attributes().at("wait_for_ip");
      s = s.WithAttr("wait_for_ip", Value::Null(wt));
    }
    return s;
  }

  ProviderData* data_;
  framework::Schema schema_;
  Type type_;
  std::unique_ptr<ClusterSnapshot> snapshot_ = std::make_unique<ClusterSnapshot>();
};

}  // namespace

std::string FormatMarker(const OwnerMarker& m) {
  std::string out = std::string(kMarkerPrefix) + "owner=" + m.owner +
                    ";template=" + m.template_name + ";role=" + m.role +
                    ";full=" + (m.full_clone ? "1" : "0");
  if (m.pending) out += ";pending=1;origin=" + m.origin;
  return out;
}

std::string CreateOrigin(const std::string& vm_name) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  std::error_code ec;
  std::string cwd = std::filesystem::current_path(ec).string();
  std::string key = std::string(host) + '\0' + cwd + '\0' + vm_name;
  return HexEncode(Sha256(key)).substr(0, 16);
}

std::optional<OwnerMarker> ParseMarker(const std::string& description, std::string* user_text) {
  size_t pos = description.rfind(kMarkerPrefix);
  if (pos == std::string::npos || (pos != 0 && description[pos - 1] != '\n')) {
    *user_text = description;
    return std::nullopt;
  }
  std::string line = description.substr(pos + std::strlen(kMarkerPrefix));
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  OwnerMarker m;
  for (const auto& kv : Split(line, ";")) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "owner") m.owner = v;
    if (k == "template") m.template_name = v;
    if (k == "role") m.role = v;
    if (k == "full") m.full_clone = v == "1";
    if (k == "pending") m.pending = v == "1";
    if (k == "origin") m.origin = v;
  }
  std::string user = description.substr(0, pos);
  while (!user.empty() && user.back() == '\n') user.pop_back();
  *user_text = user;
  if (m.owner.empty()) return std::nullopt;
  return m;
}

std::unique_ptr<framework::Resource> NewK8sNodeResource(ProviderData* data) {
  return std::make_unique<K8sNodeResource>(data);
}

}  // namespace pvek8s::resources
