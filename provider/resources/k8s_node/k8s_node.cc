// proxmox_k8s_node: orchestrates plan, create, read, update, delete and
// import; the pieces live beside it (schema, model, configuration, plan
// checks, placement, crash recovery, VM operations).
#include "provider/resources/k8s_node/k8s_node.h"

#include <algorithm>
#include <functional>
#include <regex>

#include "provider/base/encoding.h"
#include "provider/base/log.h"
#include "provider/pve/nodes.h"
#include "provider/pve/propstring.h"
#include "provider/pve/qemu.h"
#include "provider/resources/cluster_view.h"
#include "provider/resources/k8s_node/locks.h"
#include "provider/resources/k8s_node/marker.h"
#include "provider/resources/k8s_node/moves.h"
#include "provider/resources/k8s_node/node_apply.h"
#include "provider/resources/k8s_node/node_config.h"
#include "provider/resources/k8s_node/node_model.h"
#include "provider/resources/k8s_node/node_schema.h"
#include "provider/resources/k8s_node/plan_checks.h"
#include "provider/resources/k8s_node/private_data.h"
#include "provider/resources/k8s_node/status_cache.h"
#include "provider/resources/k8s_node/vm_ops.h"

namespace pvek8s::resources {
namespace {

using framework::ApplyResponse;
using framework::Diagnostics;
using node::NodeModel;
using node::PrivateData;
using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

// How long refresh waits for a VM locked `migrate` to land on one node.
constexpr int64_t kMigrationWaitSeconds = 600;

// The single ask of a refresh: refresh never waits on a guest agent.
constexpr std::chrono::milliseconds kAgentReadTimeout(2000);

// The attributes whose change regenerates the cloud-init drive.
constexpr const char* kCloudInitAttrs[] = {"ip", "ssh_public_keys", "ssh_user", "nameservers",
                                           "search_domain"};

std::chrono::steady_clock::time_point After(int64_t seconds) {
  return std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
}

class K8sNodeResource : public framework::Resource {
 public:
  explicit K8sNodeResource(ProviderData* data) : data_(data), schema_(node::NodeSchema()) {}

  std::string TypeName() const override { return "proxmox_k8s_node"; }
  const framework::Schema& GetSchema() const override { return schema_; }

  void ValidateConfig(const Value& config, Diagnostics& diags) const override;
  void ModifyPlan(const framework::PlanRequest& req, framework::PlanResponse& resp) const override;
  void ModifyDestroyPlan(const framework::PlanRequest& req, Diagnostics& diags) const override {
    NodeModel prior = NodeModel::FromValue(req.prior_state);
    WarnLocked(req, req.prior_state, "delete", prior.timeouts.delete_seconds, diags);
  }

  void Create(const framework::CreateRequest& req, ApplyResponse& resp) override {
    auto client = data_->Client(req.ctx);
    if (!client.ok()) {
      resp.diagnostics.AddStatus(client.status(), ClientErrorSummary(client.status()));
      resp.state = Value();
      return;
    }
    node::CreateNode(**client, req, resp);
  }

  void Read(const framework::ReadRequest& req, framework::ReadResponse& resp) override;
  void Update(const framework::UpdateRequest& req, ApplyResponse& resp) override;
  void Delete(const framework::DeleteRequest& req, Diagnostics& diags) override;

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
  void PlanCreate(const framework::PlanRequest& req, framework::PlanResponse& resp,
                  const std::optional<std::string>& static_ip) const;
  void PlanDisk(const Value& prior, Value& plan, Diagnostics& diags) const;
  void WarnReboots(const Value& prior, const Value& plan, Diagnostics& diags) const;
  // A plan that changes or deletes a locked VM says so (one config read, and
  // only when the provider is configured from known values).
  void WarnLocked(const framework::PlanRequest& req, const Value& prior, const std::string& op,
                  int64_t timeout_seconds, Diagnostics& diags) const;
  void PlanMove(const framework::PlanRequest& req, framework::PlanResponse& resp) const;
  bool MoveIfPlanned(pve::Client& c, pve::VmRef& vm, const NodeModel& plan,
                     std::chrono::steady_clock::time_point deadline, ApplyResponse& resp) const;

  ProviderData* data_;
  framework::Schema schema_;
  std::unique_ptr<node::ClusterSnapshot> snapshot_ = std::make_unique<node::ClusterSnapshot>();
  // Refresh reads power states from one listing per node.
  mutable node::StatusCache statuses_;
};

void K8sNodeResource::ValidateConfig(const Value& config, Diagnostics& diags) const {
  bool one = !config.Attr("target_node").IsNull();
  bool many = !config.Attr("target_nodes").IsNull();
  // An import keeps both (where the VM is, and the candidates the marker
  // recorded), so -generate-config-out writes both: consistent, that is
  // fine; target_node then decides.
  if (one && many && config.Attr("target_node").IsWhollyKnown() &&
      config.Attr("target_nodes").IsWhollyKnown()) {
    auto node = config.GetString("target_node");
    for (const auto& n : config.Attr("target_nodes").Elements()) {
      if (node && n.HasValue() && n.AsString() == *node) one = false;
    }
  }
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

void K8sNodeResource::PlanCreate(const framework::PlanRequest& req, framework::PlanResponse& resp,
                                 const std::optional<std::string>& static_ip) const {
  Value& plan = resp.planned_state;
  const Value& cfg = req.config;
  // A static address is known now; say so rather than "known after apply".
  if (static_ip) {
    plan = plan.WithAttr("ipv4_address", Value::String(*static_ip))
               .WithAttr("ssh_host", Value::String(*static_ip));
  }
  if (cfg.Attr("target_node").HasValue() && cfg.Attr("vmid").HasValue()) {
    plan = plan.WithAttr(
        "id", Value::String(*cfg.GetString("target_node") + "/" + cfg.Attr("vmid").NumberText()));
  }
  // With a provider configured from known values, what the cluster cannot
  // satisfy is an error now, not halfway through the apply.
  if (!data_->ConnectionFinal()) return;
  auto client = data_->Client(req.ctx);
  if (!client.ok()) {
    resp.diagnostics.AddStatus(client.status(), ClientErrorSummary(client.status()));
  } else {
    snapshot_->Check(**client, plan, resp.diagnostics);
  }
}

// Disks only grow; the same size written differently keeps the prior form.
void K8sNodeResource::PlanDisk(const Value& prior, Value& plan, Diagnostics& diags) const {
  const Value& pd = prior.Attr("disk");
  const Value& nd = plan.Attr("disk");
  if (!pd.HasValue() || !nd.HasValue()) return;
  auto before = pve::ParseSize(pd.GetString("size").value_or(""));
  auto after = pve::ParseSize(nd.GetString("size").value_or(""));
  if (before.ok() && after.ok() && *after < *before) {
    diags.AddError("Disks cannot shrink",
                   "disk.size " + *nd.GetString("size") + " is smaller than the current " +
                       *pd.GetString("size") +
                       ". Proxmox can only grow disks; keep the size or replace the node "
                       "(terraform apply -replace=...).",
                   AttributePath("disk").Attr("size"));
  } else if (before.ok() && after.ok() && *after == *before) {
    plan = plan.WithAttr("disk", nd.WithAttr("size", pd.Attr("size")));
  }
}

void K8sNodeResource::WarnReboots(const Value& prior, const Value& plan, Diagnostics& diags) const {
  auto changed = [&](const char* attr) { return !(plan.Attr(attr) == prior.Attr(attr)); };
  bool cloudinit = false;
  for (const char* attr : kCloudInitAttrs) cloudinit = cloudinit || changed(attr);
  std::string policy =
      plan.GetString("on_cloudinit_change").value_or(node::kDefaultCloudInitPolicy);
  std::string name = plan.GetString("name").value_or("");
  if (cloudinit && policy == "reboot" && plan.GetBool("started").value_or(node::kDefaultStarted)) {
    diags.AddWarning("Node will reboot",
                     "Cloud-init settings of " + name +
                         " change: the cloud-init drive is regenerated and the VM rebooted in "
                         "place.");
  }
  if ((changed("memory") || changed("cpu")) && prior.GetBool("started").value_or(false)) {
    diags.AddWarning("Node will reboot", "CPU or memory of " + name +
                                             " change while it runs; the VM is rebooted to "
                                             "apply them.");
  }
}

void K8sNodeResource::WarnLocked(const framework::PlanRequest& req, const Value& prior,
                                 const std::string& op, int64_t timeout_seconds,
                                 Diagnostics& diags) const {
  auto node_name = prior.GetString("target_node");
  auto vmid = prior.GetInt("vmid");
  if (!node_name || !vmid || !data_->ConnectionFinal()) return;
  auto client = data_->Client(req.ctx);
  if (!client.ok()) return;  // the apply reports it
  pve::VmRef vm{*node_name, *vmid};
  auto conf = pve::GetVmConfig(**client, vm);
  if (!conf.ok()) return;  // refresh has reported a VM that is gone
  std::string name = prior.GetString("name").value_or("");
  if (auto text = node::LockPlanWarning(vm, name, conf->lock, op, timeout_seconds)) {
    diags.AddWarning("VM is locked", *text);
  }
}

// A VM on another node than planned moves in place: target_node changed,
// or its node is no longer among target_nodes.
void K8sNodeResource::PlanMove(const framework::PlanRequest& req,
                               framework::PlanResponse& resp) const {
  Value& plan = resp.planned_state;
  auto from = req.prior_state.GetString("target_node");
  auto vmid = req.prior_state.GetInt("vmid");
  if (!from || from->empty() || !vmid || !resp.requires_replace.empty()) return;
  const std::string name = plan.GetString("name").value_or("");
  pve::Client* c = nullptr;
  if (data_->ConnectionFinal()) {
    if (auto client = data_->Client(req.ctx); client.ok()) c = *client;
  }
  const Value& cands = plan.Attr("target_nodes");
  if (req.config.Attr("target_node").IsNull() && cands.HasValue() && cands.IsWhollyKnown()) {
    std::vector<std::string> names;
    for (const auto& e : cands.Elements()) names.push_back(e.AsString());
    std::string to = *from;
    if (std::find(names.begin(), names.end(), *from) == names.end()) {
      auto nodes =
          c ? pve::ListNodes(*c)
            : StatusOr<std::vector<pve::NodeInfo>>(UnavailableError("not connected at plan"));
      to = nodes.ok() ? node::NodeAmong(*from, names, *nodes) : "";
    }
    if (to.empty()) {
      plan = plan.WithAttr("target_node", Value::Unknown(Type::String()))
                 .WithAttr("id", Value::Unknown(Type::String()));
      resp.diagnostics.AddWarning(name + " will be migrated",
                                  name + " will be migrated from " + *from +
                                      " to the target_nodes candidate with the most free memory.");
      return;
    }
    plan = plan.WithAttr("target_node", Value::String(to));
  }
  auto to = plan.GetString("target_node");
  if (!to || *to == *from) return;
  plan = plan.WithAttr("id", Value::String(*to + "/" + std::to_string(*vmid)));
  Diagnostics checks;
  if (c) node::CheckMove(*c, {*from, *vmid}, name, *to, checks);
  if (!checks.HasError()) {
    resp.diagnostics.AddWarning(name + " will be migrated",
                                name + " (VM " + std::to_string(*vmid) +
                                    ") will be migrated from " + *from + " to " + *to +
                                    " in place: online when it runs, keeping its vmid, MACs "
                                    "and disks.");
  }
  resp.diagnostics.Append(checks);
}

void K8sNodeResource::ModifyPlan(const framework::PlanRequest& req,
                                 framework::PlanResponse& resp) const {
  Value& plan = resp.planned_state;
  const Value& prior = req.prior_state;
  const Value& ip = plan.Attr("ip");
  std::optional<std::string> static_ip;
  if (ip.HasValue() && ip.Attr("address").HasValue() && ip.GetString("address") != "dhcp") {
    static_ip = ip.GetString("address")->substr(0, ip.GetString("address")->find('/'));
  }
  if (prior.IsNull()) {
    PlanCreate(req, resp, static_ip);
    return;
  }
  // Should Terraform replace this instance, its create plan comes next and
  // meets this VM under its own name.
  if (auto vmid = prior.GetInt("vmid")) snapshot_->ClaimPrior(*vmid);
  bool replacing = !resp.requires_replace.empty();
  PlanMove(req, resp);
  if (!(plan == prior)) {
    NodeModel m = NodeModel::FromValue(replacing ? prior : plan);
    if (replacing) {
      WarnLocked(req, prior, "delete", m.timeouts.delete_seconds, resp.diagnostics);
    } else {
      WarnLocked(req, prior, "update", m.timeouts.update_seconds, resp.diagnostics);
    }
  }
  PlanDisk(prior, plan, resp.diagnostics);
  WarnReboots(prior, plan, resp.diagnostics);
  if (!(plan.Attr("ip") == prior.Attr("ip")) || replacing) {
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

void K8sNodeResource::Read(const framework::ReadRequest& req, framework::ReadResponse& resp) {
  auto client = data_->Client(req.ctx);
  if (!client.ok()) {
    resp.diagnostics.AddStatus(client.status(), ClientErrorSummary(client.status()));
    return;
  }
  pve::Client& c = **client;
  const Value& prior = req.current_state;
  auto node_name = prior.GetString("target_node");
  auto vmid = prior.GetInt("vmid");
  if (!node_name || node_name->empty() || !vmid) {
    resp.diagnostics.AddError("Corrupt state", "target_node or vmid is missing.");
    return;
  }
  // A tainted instance is refreshed, then planned as a create without its
  // prior state: the claim tells that create its VM is the one it replaces.
  snapshot_->ClaimPrior(*vmid);
  pve::VmRef vm{*node_name, *vmid};
  auto found = node::LocateVm(c, SharedClusterListing(), vm, After(kMigrationWaitSeconds));
  if (!found.ok()) {
    if (pve::Client::IsNotFound(found.status())) {
      log::Info("VM is gone; removing it from state", {{"vmid", *vmid}});
      resp.state = Value();
      return;
    }
    resp.diagnostics.AddStatus(found.status(), "Reading VM " + std::to_string(*vmid) + " failed");
    return;
  }
  if (found->unreachable) {
    // Never "gone": a create plan for it would clone a second node.
    resp.diagnostics.AddWarning(
        prior.GetString("name").value_or("") + ": Proxmox node unreachable",
        prior.GetString("name").value_or("") + " (VM " + std::to_string(*vmid) + " on " + vm.node +
            ") cannot be read: its node does not answer (" + found->unreachable_why +
            "). It is kept in state as last known; nothing is planned for it until the node is "
            "back or HA restarts it elsewhere.");
    resp.state = prior;
    return;
  }
  PrivateData priv = PrivateData::Parse(req.private_data);
  node::VmView view{.config = std::move(found->config)};
  vm = found->vm;
  view.marker = ParseMarker(view.config.description, &view.user_description);
  if (!priv.owner.empty() && (!view.marker || view.marker->owner != priv.owner)) {
    // Same id, different VM: ours is gone (and this one is not ours to touch).
    resp.diagnostics.AddWarning(
        "VM replaced outside Terraform",
        "VM " + std::to_string(*vmid) + " on " + vm.node +
            " no longer carries this resource's ownership marker; it is treated as gone and "
            "will not be modified or deleted by this resource.");
    resp.state = Value();
    return;
  }
  if (auto status = statuses_.Get(c, vm); status.ok()) view.status = *status;
  Value state = node::StateFromVm(prior, view, priv.imported);
  if (!found->moved_from.empty()) {
    resp.diagnostics.AddWarning(
        prior.GetString("name").value_or("") + " moved outside Terraform",
        prior.GetString("name").value_or("") + " (VM " + std::to_string(vm.vmid) +
            ") was moved outside Terraform from " + found->moved_from + " to " + vm.node +
            "; the state follows it. A target_node naming another node moves it back; "
            "lifecycle { ignore_changes = [target_node] } keeps it where it is.");
    state = state.WithAttr("target_node", Value::String(vm.node))
                .WithAttr("id", Value::String(vm.node + "/" + std::to_string(vm.vmid)));
  }
  // Refresh never waits for the guest agent. A DHCP address is read once
  // per boot of the VM (a lease outlives neither), with a short bound; an
  // agent that does not answer leaves the address Terraform knew.
  bool priv_changed = false;
  if (state.Attr("ip").HasValue() && state.Attr("ip").GetString("address") == "dhcp" &&
      view.status && view.status->Running()) {
    node::BootId boot = node::BootId::Of(*view.status);
    bool known = state.Attr("ipv4_address").HasValue() && boot.Same(priv.ip_boot);
    if (!known) {
      if (auto addr = node::AgentIpv4(c, vm, "", kAgentReadTimeout)) {
        state = state.WithAttr("ipv4_address", Value::String(*addr))
                    .WithAttr("ssh_host", Value::String(*addr));
        priv.ip_boot = boot;
        priv_changed = true;
      }
    }
  }
  if (priv.imported) {
    priv.imported = false;
    if (view.marker) priv.owner = view.marker->owner;
    priv_changed = true;
  }
  if (priv_changed) resp.private_data = priv.Dump();
  resp.state = state;
}

// Migrates the VM first when the plan puts it on another node (moves.h);
// `vm` is then the new place. False, with `resp` holding the VM where it is
// in state and the error, when the move failed.
bool K8sNodeResource::MoveIfPlanned(pve::Client& c, pve::VmRef& vm, const NodeModel& plan,
                                    std::chrono::steady_clock::time_point deadline,
                                    ApplyResponse& resp) const {
  std::string to = plan.target_node.value_or("");
  if (to.empty()) {  // left to the apply: target_nodes without a connection at plan
    auto nodes = pve::ListNodes(c);
    if (nodes.ok()) to = node::NodeAmong(vm.node, plan.target_nodes, *nodes);
  }
  if (to.empty() || to == vm.node) return true;
  std::string now_on;
  Status s = node::MigrateVm(c, SharedClusterListing(), vm, to, deadline, &now_on);
  if (!s.ok()) {
    // The VM stays in state where it is; the next plan moves it again.
    resp.diagnostics.AddStatus(s, "Migrating VM " + std::to_string(vm.vmid) + " from " + vm.node +
                                      " to " + to + " failed");
    resp.state = resp.state.WithAttr("target_node", Value::String(now_on))
                     .WithAttr("id", Value::String(now_on + "/" + std::to_string(vm.vmid)));
    return false;
  }
  vm.node = to;
  return true;
}

void K8sNodeResource::Update(const framework::UpdateRequest& req, ApplyResponse& resp) {
  auto client = data_->Client(req.ctx);
  if (!client.ok()) {
    resp.diagnostics.AddStatus(client.status(), ClientErrorSummary(client.status()));
    return;
  }
  pve::Client& c = **client;
  const Value& prior_v = req.prior_state;
  NodeModel prior = NodeModel::FromValue(prior_v);
  NodeModel plan = NodeModel::FromValue(req.planned_state);
  pve::VmRef vm{prior.target_node.value_or(""), prior.vmid.value_or(0)};
  auto deadline = After(plan.timeouts.update_seconds);
  PrivateData priv = PrivateData::Parse(req.planned_private);
  // Every step acts where the VM is, should HA or an administrator move it
  // meanwhile.
  auto following = [&](const std::function<Status()>& op) {
    return node::FollowingMoves(c, SharedClusterListing(), &vm, deadline, op);
  };
  Status s = following([&] { return node::CheckOwner(c, vm, priv.owner); });
  if (!s.ok()) {
    resp.diagnostics.AddStatus(s, "Refusing to modify VM " + std::to_string(vm.vmid));
    resp.state = prior_v;
    return;
  }
  // A backup or snapshot holding the VM: wait for it before changing
  // anything, so that a deadline leaves the VM and the state as they were.
  node::LockWait wait{"update", plan.timeouts.update_seconds, deadline};
  auto retry = [&](const std::function<Status()>& op) {
    return following([&] { return node::RetryWhileLocked(c, vm, wait, op); });
  };
  s = following([&] { return node::AwaitUnlocked(c, vm, wait); });
  if (!s.ok()) {
    resp.diagnostics.AddStatus(s, "Updating VM " + std::to_string(vm.vmid) + " failed");
    resp.state = prior_v;
    return;
  }
  if (priv.owner.empty()) priv.owner = HexEncode(RandomBytes(8));  // adopt after import
  resp.private_data = priv.Dump();
  resp.state = prior_v;
  if (!MoveIfPlanned(c, vm, plan, deadline, resp)) return;
  Value planned = req.planned_state.WithAttr("target_node", Value::String(vm.node))
                      .WithAttr("id", Value::String(vm.node + "/" + std::to_string(vm.vmid)));
  OwnerMarker marker{priv.owner, plan.template_name, plan.role, plan.full_clone};
  marker.blocks = plan.WrittenBlocks();
  marker.target_nodes = plan.target_nodes;
  s = retry([&] { return node::ConfigureVm(c, vm, prior, plan, marker, deadline); });
  if (!s.ok()) {
    resp.diagnostics.AddStatus(s, "Updating VM " + std::to_string(vm.vmid) + " failed");
    resp.state = prior_v.WithAttr("target_node", planned.Attr("target_node"))
                     .WithAttr("id", planned.Attr("id"));
    return;
  }
  bool was = prior_v.GetBool("started").value_or(false);
  bool want = plan.started;
  bool cloudinit = node::CloudInitDiffers(prior, plan);
  bool hw = prior.memory_mib != plan.memory_mib || prior.cpu != plan.cpu;
  const std::string& policy = plan.on_cloudinit_change;
  auto power = [&](pve::PowerAction action) {
    return retry([&] { return node::Power(c, vm, action, deadline); });
  };
  if (cloudinit && policy != "ignore") {
    s = retry([&] { return pve::RegenerateCloudInit(c, vm); });
  }
  if (s.ok() && was && !want) {
    s = power(pve::PowerAction::kStop);
  } else if (s.ok() && !was && want) {
    s = power(pve::PowerAction::kStart);
  } else if (s.ok() && was && want && ((cloudinit && policy == "reboot") || hw)) {
    s = power(pve::PowerAction::kReboot);
  }
  if (!s.ok()) {
    resp.diagnostics.AddStatus(s, "Updating VM " + std::to_string(vm.vmid) + " failed");
    resp.state = planned;
    return;
  }
  node::FinishState(c, vm, planned, want && (cloudinit || (!was && want)), deadline, resp);
}

void K8sNodeResource::Delete(const framework::DeleteRequest& req, Diagnostics& diags) {
  auto client = data_->Client(req.ctx);
  if (!client.ok()) {
    diags.AddStatus(client.status(), ClientErrorSummary(client.status()));
    return;
  }
  pve::Client& c = **client;
  NodeModel prior = NodeModel::FromValue(req.prior_state);
  pve::VmRef vm{prior.target_node.value_or(""), prior.vmid.value_or(0)};
  auto deadline = After(prior.timeouts.delete_seconds);
  PrivateData priv = PrivateData::Parse(req.planned_private);
  // A VM moved since the refresh, or while it is deleted, is deleted where
  // it is (FollowingMoves finds it when its node says it is not there),
  // never reported gone.
  node::LockWait wait{"delete", prior.timeouts.delete_seconds, deadline};
  bool refused = false;
  Status s = node::FollowingMoves(c, SharedClusterListing(), &vm, deadline, [&] {
    Status own = node::CheckOwner(c, vm, priv.owner);
    refused = !own.ok() && !pve::Client::IsNotFound(own);
    if (!own.ok()) return own;
    PVEK8S_RETURN_IF_ERROR(node::AwaitUnlocked(c, vm, wait));
    return node::RetryWhileLocked(c, vm, wait, [&] { return node::DestroyVm(c, vm, deadline); });
  });
  if (pve::Client::IsNotFound(s)) return;  // no node holds it: gone
  if (refused) {
    diags.AddStatus(s, "Refusing to delete VM " + std::to_string(vm.vmid));
    return;
  }
  if (!s.ok()) diags.AddStatus(s, "Deleting VM " + std::to_string(vm.vmid) + " failed");
}

}  // namespace

std::unique_ptr<framework::Resource> NewK8sNodeResource(ProviderData* data) {
  return std::make_unique<K8sNodeResource>(data);
}

}  // namespace pvek8s::resources
