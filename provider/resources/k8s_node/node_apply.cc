#include "provider/resources/k8s_node/node_apply.h"

#include <algorithm>
#include <tuple>

#include "provider/base/encoding.h"
#include "provider/base/log.h"
#include "provider/pve/qemu.h"
#include "provider/pve/tasks.h"
#include "provider/resources/cluster_view.h"
#include "provider/resources/k8s_node/locks.h"
#include "provider/resources/k8s_node/moves.h"
#include "provider/resources/k8s_node/node_config.h"
#include "provider/resources/k8s_node/placement.h"
#include "provider/resources/k8s_node/plan_checks.h"
#include "provider/resources/k8s_node/private_data.h"
#include "provider/resources/k8s_node/recovery.h"

namespace pvek8s::resources::node {
namespace {

using framework::ApplyResponse;
using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

// Bound of each guest agent ask while waiting for the address after a start.
constexpr std::chrono::milliseconds kAgentAskTimeout(10000);

// Where a new VM goes: the template copies, the node, and the interrupted
// create of this VM that will be resumed instead of cloning, if any.
struct Placement {
  std::vector<TemplateRef> templates;
  const TemplateRef* source = nullptr;
  std::string node;
  std::optional<NamedVm> resumed;
  std::vector<NamedVm> leftovers;  // clones of unknown origin still being made
  std::optional<PendingRelease> pending;
};

// Step 1: template and placement. The listings also show whether an earlier,
// interrupted apply of this configuration left this VM half-made.
bool Place(pve::Client& c, const NodeModel& m, OwnerMarker& marker, Placement& p,
           framework::Diagnostics& diags) {
  std::vector<NamedVm> named;
  auto templates = FindTemplates(c, m.template_name, m.name, &named);
  if (!templates.ok()) {
    if (templates.status().code() == StatusCode::kNotFound) {
      diags.AddStatus(templates.status(), "Template not found", AttributePath("template"));
    } else {
      diags.AddStatus(templates.status(), "Proxmox VE API call failed");
    }
    return false;
  }
  p.templates = std::move(*templates);
  p.resumed = FindInterrupted(c, named, {m.vmid, m.target_node}, marker, p.leftovers);
  if (p.resumed) {
    p.node = p.resumed->node;
  } else if (m.target_node) {
    p.node = *m.target_node;
  } else {
    auto chosen = Pending().Place(c, p.templates, m.target_nodes, m.memory_mib);
    if (!chosen.ok()) {
      diags.AddStatus(chosen.status(), "No node to place the VM on", AttributePath("target_nodes"));
      return false;
    }
    p.node = *chosen;
    p.pending.emplace(p.node, m.memory_mib << 20);
  }
  for (const auto& t : p.templates) {
    if (t.node == p.node) p.source = &t;
  }
  if (!p.source) {
    AddTemplateNotOnNode(diags, m.template_name, p.node);
    return false;
  }
  return true;
}

// Create is done with the VM (it is in the state returned to Terraform):
// drop the pending flag. Best effort; a flag left behind only matters if
// that state is lost too.
Status ClearPending(pve::Client& c, const pve::VmRef& vm, const NodeModel& m, OwnerMarker marker) {
  marker.pending = false;
  pve::VmConfigPatch patch;
  patch.description = DescriptionWithMarker(m.description, marker);
  Status s = pve::UpdateVmConfig(c, vm, patch);
  if (!s.ok())
    log::Warn("could not clear the pending mark", {{"vmid", vm.vmid}, {"error", s.message()}});
  return s;
}

Value WithNode(const Value& state, const pve::VmRef& vm) {
  return state.WithAttr("target_node", Value::String(vm.node))
      .WithAttr("id", Value::String(vm.node + "/" + std::to_string(vm.vmid)));
}

// Step 2: a new clone, or the interrupted one taken over.
StatusOr<int64_t> CloneOrResume(pve::Client& c, const framework::Context& ctx, const NodeModel& m,
                                Placement& p, OwnerMarker& marker, PrivateData& priv,
                                Deadline deadline) {
  if (!p.resumed) {
    priv.owner = HexEncode(RandomBytes(8));
    marker.owner = priv.owner;
    return CloneTemplate(c, ctx, m, *p.source, marker, deadline);
  }
  priv.owner = marker.owner;
  auto unlocked = WaitUnlocked(c, {p.node, p.resumed->vmid}, deadline);
  if (!unlocked.ok()) {
    Ledger().Release(p.resumed->vmid);
    return unlocked.status();
  }
  log::Info("resuming a create that an earlier apply left unfinished",
            {{"vmid", p.resumed->vmid}, {"node", p.node}});
  return p.resumed->vmid;
}

// Asks the agent until it reports `want` (any address when empty), following
// the VM should it be migrated meanwhile (`*vm` is where it ends up). Stops
// at once when the token may not ask (`*denied` says why): that never clears.
std::optional<std::string> WaitForAddress(pve::Client& c, pve::VmRef* vm, const std::string& want,
                                          Deadline until, bool& cancelled, Status* denied) {
  auto delay = std::chrono::milliseconds(200);
  auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(until -
                                                                 std::chrono::steady_clock::now());
  };
  std::optional<std::string> got;
  Status error;
  while (!(got = AgentIpv4(c, *vm, want,
                           std::clamp(left(), std::chrono::milliseconds(1000), kAgentAskTimeout),
                           &error))) {
    if (error.code() == StatusCode::kPermissionDenied) {
      *denied = error;
      break;
    }
    if (std::chrono::steady_clock::now() >= until) break;
    if (pve::Client::IsNotFound(error)) {
      if (auto found = LocateVm(c, SharedClusterListing(), *vm, until);
          found.ok() && !found->unreachable) {
        *vm = found->vm;
      }
    }
    if (!c.Backoff(std::min(delay, left()))) {
      cancelled = true;
      break;
    }
    delay = std::min(delay * 2, std::chrono::milliseconds(2000));
  }
  return got;
}

}  // namespace

StatusOr<int64_t> CloneTemplate(pve::Client& c, const framework::Context& ctx, const NodeModel& m,
                                const TemplateRef& tmpl, const OwnerMarker& marker,
                                Deadline deadline) {
  std::string queue = tmpl.node + "/" + std::to_string(tmpl.vmid) + "/" +
                      (m.disk && m.disk->storage ? *m.disk->storage : "");
  Status last;
  int64_t lost_id = 0;  // the id of a clone whose answer was lost and not found
  int lost = 0;
  for (int attempt = 0; attempt < 30; ++attempt) {
    if (ctx.Cancelled()) return CancelledError("cancelled");
    if (std::chrono::steady_clock::now() > deadline) {
      return DeadlineExceededError("create timeout while cloning: " + last.message());
    }
    int64_t id = 0;
    if (m.vmid) {
      id = *m.vmid;
    } else if (lost_id != 0) {
      id = lost_id;  // still reserved
    } else {
      std::optional<int64_t> lo, hi;
      if (m.vmid_range) std::tie(lo, hi) = *m.vmid_range;
      PVEK8S_ASSIGN_OR_RETURN(id, Ledger().Reserve(c, lo, hi));
    }
    pve::CloneRequest req{.newid = id,
                          .name = m.name,
                          .full = m.full_clone,
                          .description = DescriptionWithMarker(m.description, marker),
                          .pool = m.pool};
    if (m.disk) req.storage = m.disk->storage;
    CloneQueue().Acquire(queue);
    auto upid = pve::CloneVm(c, {tmpl.node, tmpl.vmid}, req);
    Status s = upid.ok() ? pve::WaitForTask(c, *upid, deadline, "clone") : upid.status();
    bool answer_lost = !upid.ok() && upid.status().code() == StatusCode::kUnavailable;
    // Retried with the same id after a lost answer: "already exists" may be
    // the first request, which landed after all.
    bool landed_late = lost_id != 0 && s.code() == StatusCode::kAlreadyExists;
    if (answer_lost || landed_late) {
      // The answer was lost, not necessarily the clone: look for our marker.
      s = AdoptLostClone(c, {tmpl.node, id}, marker, deadline, upid.status());
    }
    CloneQueue().Release(queue);
    if (s.ok()) return id;
    if (answer_lost && s.code() == StatusCode::kUnavailable && ++lost < 3) {
      // Proxmox writes the new VM's config before it answers a clone: with
      // none there, the request did not get through. Again with the same id,
      // so that a request that lands late is refused, never doubled.
      log::Info("the clone's answer was lost and no clone exists; retrying",
                {{"vmid", id}, {"attempt", attempt + 1}});
      lost_id = id;
      if (!c.Backoff(std::chrono::milliseconds(300 * lost))) {
        return CancelledError("cancelled while retrying the clone");
      }
      continue;
    }
    lost_id = 0;
    if (!m.vmid) Ledger().Release(id);
    last = s;
    if (s.code() == StatusCode::kAlreadyExists && !m.vmid) {
      // Another client took the id between nextid and the clone.
      log::Info("VM id taken by another client; retrying with another id",
                {{"vmid", id}, {"attempt", attempt + 1}});
      continue;
    }
    if (s.code() == StatusCode::kFailedPrecondition && pve::Client::VmLockIn(s.message())) {
      // The template is locked (a backup of it, say): wait for it as an
      // update waits for its VM, bounded by the create timeout.
      PVEK8S_RETURN_IF_ERROR(AwaitUnlocked(c, {tmpl.node, tmpl.vmid},
                                           {"create", m.timeouts.create_seconds, deadline}));
      continue;
    }
    if (s.code() == StatusCode::kAborted) {  // a lock timeout
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

void CreateNode(pve::Client& c, const framework::CreateRequest& req, ApplyResponse& resp) {
  Value plan = req.planned_state;
  NodeModel m = NodeModel::FromValue(plan);
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(m.timeouts.create_seconds);
  OwnerMarker marker{"",           m.template_name,  m.role,
                     m.full_clone, /*pending=*/true, CreateOrigin(m.name)};
  marker.blocks = m.WrittenBlocks();
  marker.target_nodes = m.target_nodes;
  Placement p;
  resp.state = Value();
  if (!Place(c, m, marker, p, resp.diagnostics)) return;
  // A clone cannot be smaller than its template: refuse before making it.
  if (m.disk && !p.resumed) {
    if (auto detail = DiskTooSmall(c, *p.source, m.disk->size)) {
      resp.diagnostics.AddError("Disk smaller than the template's", *detail,
                                AttributePath("disk").Attr("size"));
      return;
    }
  }
  PrivateData priv;
  auto vmid = CloneOrResume(c, *req.ctx, m, p, marker, priv, deadline);
  if (!vmid.ok()) {
    resp.diagnostics.AddStatus(vmid.status(), p.resumed
                                                  ? "Resuming the interrupted create of VM " +
                                                        std::to_string(p.resumed->vmid) + " failed"
                                                  : std::string("Cloning the template failed"));
    return;
  }
  if (p.pending) p.pending->ReleaseCount();  // Proxmox lists it now
  // From here on the VM exists: every exit keeps it in state.
  pve::VmRef vm{p.node, *vmid};
  plan = plan.WithAttr("vmid", Value::Int(*vmid))
             .WithAttr("target_node", Value::String(p.node))
             .WithAttr("id", Value::String(p.node + "/" + std::to_string(*vmid)));
  resp.private_data = priv.Dump();
  resp.state = plan;
  // Until Create returns, a Create of the same name in this process must
  // not take this pending VM for an interrupted one.
  LedgerHold hold(*vmid);
  // HA or an administrator may migrate the new VM while it is configured.
  Status s = FollowingMoves(c, SharedClusterListing(), &vm, deadline, [&] {
    PVEK8S_RETURN_IF_ERROR(ConfigureVm(c, vm, std::nullopt, m, marker, deadline));
    return m.started ? Power(c, vm, pve::PowerAction::kStart, deadline) : Status::Ok();
  });
  bool node_left_to_apply = req.planned_state.Attr("target_node").IsUnknown();
  if (!s.ok()) {
    resp.diagnostics.AddStatus(s, "Configuring VM " + std::to_string(*vmid) + " failed");
    if (node_left_to_apply) resp.state = WithNode(plan, vm);
  } else {
    FinishState(c, vm, plan, /*wait_ip=*/m.started, deadline, resp, node_left_to_apply);
  }
  std::ignore = FollowingMoves(c, SharedClusterListing(), &vm, deadline,
                               [&] { return ClearPending(c, vm, m, marker); });
  CleanUpLeftovers(c, p.leftovers, m.name, marker.origin, deadline);
}

Status ConfigureVm(pve::Client& c, const pve::VmRef& vm, const std::optional<NodeModel>& prior,
                   const NodeModel& plan, const OwnerMarker& marker, Deadline deadline) {
  PVEK8S_ASSIGN_OR_RETURN(pve::VmConfig conf, pve::GetVmConfig(c, vm));
  pve::VmConfigPatch patch =
      ConfigPatch(prior, plan, conf, DescriptionWithMarker(plan.description, marker));
  PVEK8S_RETURN_IF_ERROR(pve::UpdateVmConfig(c, vm, patch));
  if (auto size = DiskGrowth(plan, conf)) {
    PVEK8S_ASSIGN_OR_RETURN(auto upid, pve::ResizeDisk(c, vm, conf.boot_disk->key, *size));
    PVEK8S_RETURN_IF_ERROR(pve::WaitForTask(c, upid, deadline, "resize"));
  }
  return Status::Ok();
}

void FinishState(pve::Client& c, pve::VmRef vm, Value plan, bool wait_ip, Deadline deadline,
                 ApplyResponse& resp, bool record_node) {
  NodeModel m = NodeModel::FromValue(plan);
  StatusOr<pve::VmConfig> conf = NotFoundError("not read");
  std::ignore = FollowingMoves(c, SharedClusterListing(), &vm, deadline, [&] {
    conf = pve::GetVmConfig(c, vm);
    return conf.status();
  });
  if (conf.ok()) {
    plan = plan.WithAttr("mac_addresses", MacAddresses(*conf, m.networks.size()));
    // The boot disk's storage, when left to the template.
    const Value& disk = plan.Attr("disk");
    if (disk.HasValue() && disk.Attr("storage").IsUnknown() && conf->boot_disk) {
      plan = plan.WithAttr("disk",
                           disk.WithAttr("storage", Value::String(conf->boot_disk->Storage())));
    }
  }
  std::string want = m.ip && !m.ip->Dhcp() ? m.ip->Host() : "";
  int64_t wait_s = m.wait_for_ip.timeout_seconds;
  std::optional<std::string> got;
  if (wait_ip && m.wait_for_ip.ipv4) {
    auto until =
        std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(wait_s));
    bool cancelled = false;
    Status denied;
    got = WaitForAddress(c, &vm, want, until, cancelled, &denied);
    std::string what = "VM " + std::to_string(vm.vmid) + " on " + vm.node;
    if (!got && !denied.ok()) {
      // The privilege is only required for DHCP nodes (the plan checks it);
      // a static address is recorded without the agent's confirmation.
      std::string detail = "The API token may not ask " + what +
                           "'s guest agent for its address (" + denied.message() + "). ";
      if (want.empty()) {
        resp.diagnostics.AddError("No IP address from the guest agent",
                                  detail +
                                      "Grant the guest-agent privilege of "
                                      "docs/proxmox-privileges.md. The VM is kept (tainted).");
      } else {
        resp.diagnostics.AddWarning(
            "Address not confirmed by the guest agent",
            detail + want +
                " is recorded as configured, without waiting for the guest to report "
                "it; set wait_for_ip { ipv4 = false } to say so explicitly.");
      }
    } else if (!got && cancelled) {
      resp.diagnostics.AddError("Interrupted while waiting for the IP address",
                                "Terraform was interrupted while " + what +
                                    " was starting. The VM is kept (tainted) in the state.");
    } else if (!got) {
      resp.diagnostics.AddError(
          "No IP address from the guest agent",
          what + " did not report " + (want.empty() ? std::string("an IPv4 address") : want) +
              " within " + std::to_string(wait_s) +
              " s. Check that the template has qemu-guest-agent installed and enabled, or "
              "raise wait_for_ip.timeout. The VM is kept (tainted).");
    }
  }
  std::string addr = !want.empty() ? want : got.value_or("");
  if (want.empty() && got) {
    // Refreshes of this boot need not ask the agent again.
    if (auto st = pve::GetVmStatus(c, vm); st.ok()) {
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
  resp.state = record_node ? WithNode(plan, vm) : plan;
}

}  // namespace pvek8s::resources::node
