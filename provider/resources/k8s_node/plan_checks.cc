#include "provider/resources/k8s_node/plan_checks.h"

#include <algorithm>
#include <optional>

#include "provider/pve/access.h"
#include "provider/pve/cluster.h"
#include "provider/pve/nodes.h"
#include "provider/pve/pools.h"
#include "provider/pve/qemu.h"
#include "provider/pve/storage.h"
#include "provider/resources/k8s_node/marker.h"
#include "provider/resources/k8s_node/node_model.h"
#include "provider/resources/k8s_node/placement.h"
#include "provider/resources/k8s_node/text.h"

namespace pvek8s::resources::node {
namespace {

using tftypes::AttributePath;
using tftypes::Value;

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// A pvek8s VM with the planned name may be this very node: the one a
// replacement deletes first (Terraform plans the new object of a
// replacement as a create, without the prior state), or the one an
// interrupted apply left behind, which the create resumes. Its id is not
// "in use" at plan time; a real conflict still fails the clone.
bool SameNodeMaybe(pve::Client& c, const std::string& node, const pve::VmSummary& vm,
                   const Value& plan) {
  auto name = plan.GetString("name");
  if (!name || vm.name != *name) return false;
  auto conf = pve::GetVmConfig(c, {node, vm.vmid});
  if (!conf.ok()) return false;
  std::string user;
  return ParseMarker(conf->description, &user).has_value();
}

// Terraform does not tell a provider the address of the instance it plans;
// its diagnostic shows it on the "with" line, next to this text.
std::string DuplicateDetail(const std::string& name, const std::string& node, int64_t vmid,
                            const std::optional<OwnerMarker>& marker) {
  std::string id = node + "/" + std::to_string(vmid);
  std::string out = "A VM named \"" + name + "\" already exists: vmid " + std::to_string(vmid) +
                    " on " + node +
                    ". Kubernetes node names must be unique, so it is not cloned again.";
  if (!marker) {
    return out +
           " It does not carry pvek8s's ownership marker: choose another name, or rename or "
           "remove that VM.";
  }
  return out +
         " It carries pvek8s's ownership marker: a configuration like this one made it. To "
         "adopt it as this resource, add an import block with this resource's address (the "
         "\"with\" line above) and apply:\n\nimport {\n  to = <address, e.g. "
         "proxmox_k8s_node.n[0]>\n  id = \"" +
         id +
         "\"\n}\n\nIf this apply replaces that node with lifecycle { create_before_destroy = "
         "true }, remove that setting: a node and its replacement cannot exist at once (same "
         "name and address). The default replacement deletes the old VM first; replace nodes "
         "one at a time, drained. Should a failed apply have left the old node deposed (the "
         "plan lists a \"deposed object\"), drain it, delete its VM (qm destroy), then "
         "apply.";
}

}  // namespace

void AddTemplateNotOnNode(framework::Diagnostics& diags, const std::string& tmpl,
                          const std::string& node) {
  diags.AddError("Template not on the target node",
                 "Template \"" + tmpl + "\" is not on node " + node +
                     "; clones are made on the node that holds the template.",
                 AttributePath("template"));
}

void ClusterSnapshot::Check(pve::Client& c, const Value& plan, framework::Diagnostics& diags) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!fetched_ || std::chrono::steady_clock::now() - fetched_at_ > std::chrono::seconds(10)) {
    Fetch(c);
  }
  if (!reach_.ok()) {
    diags.AddStatus(reach_, "Proxmox VE API call failed");
    return;
  }
  std::vector<TemplateRef> holders;
  if (auto tmpl = plan.GetString("template")) {
    holders = Holders(*tmpl);
    if (holders.empty()) {
      diags.AddStatus(TemplateNotFound(*tmpl), "Template not found", AttributePath("template"));
    }
  }
  CheckPlacement(plan, holders, diags);
  CheckVmid(c, plan, diags);
  CheckDuplicate(c, plan, diags);
  CheckDisk(c, plan, holders, diags);
  if (auto pool = plan.GetString("pool")) {
    Status found = pve::CheckPool(c, *pool);
    if (pve::Client::IsNotFound(found)) {
      diags.AddError(
          "Unknown pool",
          "Pool \"" + *pool + "\" does not exist. Create it first (pveum pool add " + *pool + ").",
          AttributePath("pool"));
    }
  }
  if (!holders.empty()) CheckPrivileges(c, plan, holders, diags);
}

void ClusterSnapshot::ClaimPrior(int64_t vmid) {
  std::lock_guard<std::mutex> lock(mu_);
  claimed_.insert(vmid);
}

std::vector<TemplateRef> ClusterSnapshot::Holders(const std::string& tmpl) const {
  std::vector<TemplateRef> out;
  for (const auto& [node, vms] : vms_) CollectTemplates(node, vms, tmpl, out);
  return out;
}

void ClusterSnapshot::CheckPlacement(const Value& plan, const std::vector<TemplateRef>& holders,
                                     framework::Diagnostics& diags) const {
  std::string node_list = Join(node_names_, ", ");
  if (auto node = plan.GetString("target_node")) {
    if (!online_.contains(*node)) {
      bool known = Contains(node_names_, *node);
      diags.AddError(known ? "Target node offline" : "Unknown target node",
                     "Node \"" + *node + "\" is " + (known ? "not online" : "not in the cluster") +
                         "; the cluster's nodes are " + node_list + ".",
                     AttributePath("target_node"));
    } else if (!holders.empty() &&
               std::none_of(holders.begin(), holders.end(),
                            [&](const TemplateRef& t) { return t.node == *node; })) {
      AddTemplateNotOnNode(diags, *plan.GetString("template"), *node);
    }
  }
  const Value& candidates = plan.Attr("target_nodes");
  if (!candidates.HasValue() || !candidates.IsWhollyKnown()) return;
  std::vector<std::string> unknown;
  bool any = false;
  for (const auto& n : NodeModel::FromValue(plan).target_nodes) {
    if (!Contains(node_names_, n)) unknown.push_back(n);
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

void ClusterSnapshot::CheckVmid(pve::Client& c, const Value& plan,
                                framework::Diagnostics& diags) const {
  auto vmid = plan.GetInt("vmid");
  if (!vmid) return;
  for (const auto& [node, vms] : vms_) {
    for (const auto& vm : vms) {
      if (vm.vmid != *vmid || SameNodeMaybe(c, node, vm, plan)) continue;
      diags.AddError("VM id in use",
                     "VM id " + std::to_string(*vmid) + " is already used by " +
                         (vm.name.empty() ? std::string("a VM") : "\"" + vm.name + "\"") + " on " +
                         node + ". Choose another vmid, or leave it out.",
                     AttributePath("vmid"));
    }
  }
}

// The listing may be up to ten seconds old: a VM in it is read again, and
// one that is gone (the replaced VM an apply has just deleted) is no
// duplicate.
void ClusterSnapshot::CheckDuplicate(pve::Client& c, const Value& plan,
                                     framework::Diagnostics& diags) const {
  auto name = plan.GetString("name");
  if (!name) return;
  for (const auto& [node, vms] : vms_) {
    for (const auto& vm : vms) {
      if (vm.template_ || vm.name != *name || claimed_.contains(vm.vmid)) continue;
      auto conf = pve::GetVmConfig(c, {node, vm.vmid});
      if (pve::Client::IsNotFound(conf.status())) continue;
      if (!conf.ok()) {
        diags.AddStatus(conf.status(), "Reading VM " + std::to_string(vm.vmid) + " on " + node +
                                           " (named " + *name + ") failed");
        continue;
      }
      std::string user;
      auto marker = ParseMarker(conf->description, &user);
      if (marker && marker->pending && marker->origin == CreateOrigin(*name)) continue;
      diags.AddError("Node already exists", DuplicateDetail(*name, node, vm.vmid, marker),
                     AttributePath("name"));
    }
  }
}

void ClusterSnapshot::CheckDisk(pve::Client& c, const Value& plan,
                                const std::vector<TemplateRef>& holders,
                                framework::Diagnostics& diags) const {
  const Value& disk = plan.Attr("disk");
  if (!disk.HasValue() || holders.empty()) return;
  auto target = plan.GetString("target_node");
  std::vector<TemplateRef> used;
  for (const auto& t : holders) {
    if (!target || t.node == *target) used.push_back(t);
  }
  if (used.empty()) return;
  if (auto storage = disk.GetString("storage")) {
    const std::string& node = used.front().node;
    if (pve::Client::IsNotFound(pve::CheckStorage(c, node, *storage))) {
      auto have = pve::ListStorages(c, node);
      std::string list = have.ok() ? Join(*have, ", ") : "";
      diags.AddError("Unknown storage",
                     "Storage \"" + *storage + "\" does not exist on " + node +
                         (list.empty() ? std::string(".") : "; it has " + list + "."),
                     AttributePath("disk").Attr("storage"));
    }
  }
  if (auto size = disk.GetString("size")) {
    if (auto detail = DiskTooSmall(c, used.front(), *size)) {
      diags.AddError("Disk smaller than the template's", *detail,
                     AttributePath("disk").Attr("size"));
    }
  }
}

void ClusterSnapshot::Fetch(pve::Client& c) {
  fetched_ = true;
  fetched_at_ = std::chrono::steady_clock::now();
  node_names_.clear();
  online_.clear();
  vms_.clear();
  permissions_.clear();
  auto version = pve::GetVersion(c);
  reach_ = version.ok() ? Status::Ok() : version.status();
  if (!reach_.ok()) return;
  pve_major_ = pve::ParseRelease(*version).major;
  auto nodes = pve::ListNodes(c);
  if (!nodes.ok()) {
    reach_ = nodes.status();
    return;
  }
  for (const auto& n : *nodes) {
    node_names_.push_back(n.name);
    if (n.status != "online") continue;
    auto vms = pve::ListVms(c, n.name);
    if (!vms.ok()) continue;
    online_.insert(n.name);
    vms_[n.name] = *vms;
  }
  std::sort(node_names_.begin(), node_names_.end());
}

// The privileges a create needs (clone, configure, grow, start, and, for a
// node without a static address, reading it from the guest agent), checked
// with the caller's own effective privileges so that every missing one is
// named at once. Skipped when Proxmox will not say. docs/proxmox-privileges.md
// lists the same set as a role; keep the two in step.
void ClusterSnapshot::CheckPrivileges(pve::Client& c, const Value& plan,
                                      const std::vector<TemplateRef>& holders,
                                      framework::Diagnostics& diags) {
  const TemplateRef* source = &holders.front();
  auto target = plan.GetString("target_node");
  for (const auto& t : holders) {
    if (target && t.node == *target) source = &t;
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> need = {
      {pve::VmAclPath(source->vmid), {"VM.Audit", "VM.Clone"}}};
  auto vmid = plan.GetInt("vmid");
  std::string vm_path = pve::VmAclPath(vmid);
  need.push_back(
      {vm_path,
       {"VM.Allocate", "VM.Audit", "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk",
        "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.PowerMgmt"}});
  auto storage = plan.Attr("disk").GetString("storage");
  if (storage && plan.GetBool("full_clone").value_or(kDefaultFullClone)) {
    need.push_back({pve::StorageAclPath(*storage), {"Datastore.AllocateSpace"}});
  }
  NodeModel model = NodeModel::FromValue(plan);
  for (const auto& n : model.networks) {
    if (!n.bridge.empty()) need.push_back({pve::BridgeAclPath(n.bridge), {"SDN.Use"}});
  }
  // The address of a node without a static one comes from the guest agent.
  bool reads_agent =
      model.started && plan.Attr("ip").IsWhollyKnown() && (!model.ip || model.ip->Dhcp());
  auto pool = plan.GetString("pool");
  std::vector<std::string> missing;
  for (const auto& [path, privs] : need) {
    auto have = Permissions(c, path);
    if (!have.ok()) return;
    std::set<std::string> all = *have;
    if (pool && path == vm_path) {
      // A VM made in a pool also gets the pool's privileges.
      auto via_pool = Permissions(c, pve::PoolAclPath(*pool));
      if (via_pool.ok()) all.insert(via_pool->begin(), via_pool->end());
    }
    std::vector<std::string> lack;
    for (const auto& p : privs) {
      if (!all.contains(p)) lack.push_back(p);
    }
    if (path == vm_path && reads_agent && !pve::CanReadAgent(all, pve_major_)) {
      lack.push_back(pve::AgentReadPrivilege(pve_major_));
    }
    if (!lack.empty()) missing.push_back(Join(lack, ", ") + " on " + path);
  }
  if (missing.empty()) return;
  std::string who = c.options().token_id.empty() ? "user " + c.options().username
                                                 : "API token " + c.options().token_id;
  std::string release =
      pve_major_ > 0 ? " (Proxmox VE " + std::to_string(pve_major_) + ".x names)" : "";
  diags.AddError("Missing privileges",
                 "The " + who + " lacks " + Join(missing, "; ") + release +
                     ". Grant them, e.g. the PVEVMAdmin role on /vms, PVEDatastoreUser on "
                     "the storage and PVESDNUser on /sdn (pveum acl modify), or, for a "
                     "privilege-separated token, give the token itself those roles. The "
                     "provider's docs (proxmox-privileges) give a minimal role per release.");
}

StatusOr<std::set<std::string>> ClusterSnapshot::Permissions(pve::Client& c,
                                                             const std::string& path) {
  auto it = permissions_.find(path);
  if (it != permissions_.end()) return it->second;
  auto got = pve::GetPermissions(c, path);
  permissions_.emplace(path, got);
  return got;
}

}  // namespace pvek8s::resources::node
