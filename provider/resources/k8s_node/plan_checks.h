// What a create plan checks against the cluster, so that mistakes show at
// `terraform plan` rather than halfway through an apply: connection,
// template, target node(s), vmid in use, a VM with the planned name already
// there (Kubernetes node names are unique), storage, pool, a disk smaller
// than the template's, and missing privileges (all named at once, as the
// Proxmox VE release in /version calls them: VM.Monitor up to 8.x,
// VM.GuestAgent.Audit from 9.0 on).
#ifndef PROVIDER_RESOURCES_K8S_NODE_PLAN_CHECKS_H_
#define PROVIDER_RESOURCES_K8S_NODE_PLAN_CHECKS_H_

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/framework/diagnostics.h"
#include "provider/pve/client.h"
#include "provider/pve/qemu.h"
#include "provider/resources/templates.h"
#include "provider/tftypes/value.h"

namespace pvek8s::resources::node {

// One view of the cluster per provider process (one plan), fetched on first
// use and kept for ten seconds; thread-safe (plans of many nodes run at once).
class ClusterSnapshot {
 public:
  // Adds an error for every planned value of a new node the cluster cannot
  // satisfy; values still unknown are left to the apply.
  // A VM that already has the planned name fails the plan ("Node already
  // exists", naming node and vmid, with the import block that adopts it
  // when it carries our marker), except the VM an interrupted create of
  // this configuration left (ADR 0004) and a VM claimed by ClaimPrior.
  void Check(pve::Client& client, const tftypes::Value& plan, framework::Diagnostics& diags);

  // Records that the prior state of an instance this process plans holds VM
  // `vmid`. Terraform plans the new object of a replacement as a create
  // without the prior state, right after planning the same instance with
  // it; the claim is how that create knows the VM of its name is the one
  // being replaced, not a duplicate. Claims last for the process.
  void ClaimPrior(int64_t vmid);

 private:
  void Fetch(pve::Client& client);
  std::vector<TemplateRef> Holders(const std::string& tmpl) const;
  void CheckPlacement(const tftypes::Value& plan, const std::vector<TemplateRef>& holders,
                      framework::Diagnostics& diags) const;
  void CheckVmid(pve::Client& client, const tftypes::Value& plan,
                 framework::Diagnostics& diags) const;
  void CheckDuplicate(pve::Client& client, const tftypes::Value& plan,
                      framework::Diagnostics& diags) const;
  void CheckDisk(pve::Client& client, const tftypes::Value& plan,
                 const std::vector<TemplateRef>& holders, framework::Diagnostics& diags) const;
  void CheckPrivileges(pve::Client& client, const tftypes::Value& plan,
                       const std::vector<TemplateRef>& holders, framework::Diagnostics& diags);
  StatusOr<std::set<std::string>> Permissions(pve::Client& client, const std::string& path);

  std::mutex mu_;
  bool fetched_ = false;
  std::chrono::steady_clock::time_point fetched_at_;
  Status reach_;
  int pve_major_ = 0;                    // of /version; 0 when unreadable
  std::vector<std::string> node_names_;  // sorted
  std::set<std::string> online_;
  std::map<std::string, std::vector<pve::VmSummary>> vms_;
  std::map<std::string, StatusOr<std::set<std::string>>> permissions_;
  std::set<int64_t> claimed_;
};

// Clones are made where the template is: adds "Template not on the target
// node" at `template`.
void AddTemplateNotOnNode(framework::Diagnostics& diags, const std::string& tmpl,
                          const std::string& node);

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_PLAN_CHECKS_H_
