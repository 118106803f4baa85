#include "provider/resources/k8s_node/node_schema.h"

#include <cstdlib>
#include <regex>

#include "provider/framework/validators.h"
#include "provider/pve/propstring.h"
#include "provider/resources/k8s_node/node_model.h"

namespace pvek8s::resources::node {
namespace {

using framework::Attribute;
using framework::Diagnostics;
using framework::NestedBlock;
using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

constexpr char kDnsLabel[] = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";

Attribute Str(const char* name, const char* desc) {
  return {.name = name, .type = Type::String(), .description = desc, .optional = true};
}

// Which changes replace the VM. Decided before the framework marks computed
// values unknown, so a replacement plans id, vmid, target_node and the MACs
// as "known after apply" without the resource's help.
void AddReplacements(framework::Block& block) {
  auto attr = [&](const char* name) -> Attribute& {
    for (auto& a : block.attributes) {
      if (a.name == name) return a;
    }
    std::abort();  // a name below is not in the schema
  };
  auto nested = [&](const char* name) -> NestedBlock& {
    for (auto& b : block.blocks) {
      if (b.type_name == name) return b;
    }
    std::abort();
  };
  // Only matter at creation; left alone when the prior value is unknown to
  // us (imported without a marker).
  for (const char* name : {"template", "full_clone", "pool"}) {
    attr(name).requires_replace_if = [name](const Value& prior, const Value&, const Value&) {
      return !prior.Attr(name).IsNull();
    };
  }
  // An id the user sets. Another node is reached by migration (moves.h).
  attr("vmid").requires_replace_if = [](const Value&, const Value&, const Value& config) {
    return config.Attr("vmid").HasValue();
  };
  // Another storage means another disk: a new clone.
  for (auto& a : nested("disk").block.attributes) {
    if (a.name != "storage") continue;
    a.requires_replace_if = [](const Value& prior, const Value& planned, const Value&) {
      return prior.Attr("storage").HasValue() && planned.Attr("storage").HasValue();
    };
  }
  // Cloud-init settings replace the VM when on_cloudinit_change says so.
  auto by_policy = [](const Value&, const Value& planned, const Value&) {
    return planned.GetString("on_cloudinit_change") == std::string("replace");
  };
  for (const char* name : {"ssh_public_keys", "ssh_user", "nameservers", "search_domain"}) {
    attr(name).requires_replace_if = by_policy;
  }
  nested("ip").requires_replace_if = by_policy;
}

}  // namespace

framework::Schema NodeSchema() {
  framework::Schema s;
  s.block.description =
      "A Kubernetes node: a VM cloned from a cloud-init template, configured, started, and "
      "reachable at a known address. Creates are safe at any parallelism (VM ids cannot "
      "collide, template/storage lock timeouts are retried), and the provider only stops or "
      "deletes VMs that carry its ownership marker. A create plan checks the cluster (connection, "
      "template, nodes, vmid, storage, pool, privileges) so mistakes show at plan, and fails when "
      "a VM of the planned name exists, printing the import block that adopts it; an import "
      "with the configuration that made the VM plans no change. An apply "
      "killed halfway leaves nothing behind: the next apply from the same working directory "
      "resumes the half-made VM or deletes it. Refresh never waits on a guest agent. A VM moved "
      "by HA, maintenance or an administrator is followed by vmid (never created again); one "
      "whose Proxmox node is down is kept in state with a warning. Moving a VM to another node "
      "migrates it in place (through HA when HA manages it); the plan warns, and refuses what "
      "Proxmox would (a linked clone on local storage, a missing VM.Migrate privilege, no room "
      "on the target).";
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
       .description = "Proxmox node of the VM. Set this or `target_nodes`. Changing it "
                      "migrates the VM in place (online when it runs; vmid, MACs and disks "
                      "stay). A VM moved outside Terraform is followed: the state names its "
                      "node, and the plan moves it back unless `ignore_changes` lists "
                      "`target_node`.",
       .optional = true,
       .computed = true,
       .use_state_for_unknown = true},
      {.name = "target_nodes",
       .type = Type::List(Type::String()),
       .description = "Candidate nodes: the VM goes to the one with the most free memory, then "
                      "the fewest VMs. The choice is kept in `target_node`; a VM on any "
                      "candidate (also one moved there outside Terraform) stays put, one on a "
                      "node no longer listed is migrated to the candidate with the most free "
                      "memory.",
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
       .default_value = Value::Bool(kDefaultFullClone)},
      Str("description", "Notes shown in Proxmox (the ownership marker is added below them)."),
      {.name = "role",
       .type = Type::String(),
       .description = "`control-plane` or `worker` (default).",
       .optional = true,
       .computed = true,
       .validators = {framework::OneOf({"control-plane", "worker"})},
       .default_value = Value::String(kDefaultRole)},
      Str("cluster", "Id of the `proxmox_k8s_cluster` this node belongs to."),
      {.name = "memory",
       .type = Type::Number(),
       .description = "Memory in MiB (default 2048).",
       .optional = true,
       .computed = true,
       .validators = {framework::IntBetween(16, 4194304)},
       .default_value = Value::Int(kDefaultMemoryMib)},
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
       .default_value = Value::Bool(kDefaultOnBoot)},
      {.name = "started",
       .type = Type::Bool(),
       .description = "Keep the VM running (default true).",
       .optional = true,
       .computed = true,
       .default_value = Value::Bool(kDefaultStarted)},
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
       .default_value = Value::String(kDefaultCloudInitPolicy)},
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
       .block = {.attributes = {num("cores", "Cores per socket (default 2).", kDefaultCores, 1,
                                    512),
                                num("sockets", "Sockets (default 1).", kDefaultSockets, 1, 4),
                                {.name = "type",
                                 .type = Type::String(),
                                 .description = "CPU model (default `host`).",
                                 .optional = true,
                                 .computed = true,
                                 .default_value = Value::String(kDefaultCpuType)}},
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
                       .default_value = Value::Bool(kDefaultIoThread)}},
                 .description = "The boot disk (the template's first disk)."}},
      {.type_name = "network",
       .nesting = NestedBlock::Nesting::kList,
       .block = {.attributes = {{.name = "bridge",
                                 .type = Type::String(),
                                 .description = "Bridge (default `vmbr0`).",
                                 .optional = true,
                                 .computed = true,
                                 .default_value = Value::String(kDefaultBridge)},
                                {.name = "model",
                                 .type = Type::String(),
                                 .description = "NIC model (default `virtio`).",
                                 .optional = true,
                                 .computed = true,
                                 .default_value = Value::String(kDefaultNicModel)},
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
                                 .default_value = Value::String(kDefaultWaitForIpTimeout)},
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
       .block = {.attributes = {Str("create",
                                    "Create timeout (default `20m`); also bounds "
                                    "the wait for a locked template."),
                                Str("update",
                                    "Update timeout (default `20m`); also bounds "
                                    "the wait for the VM's lock (a backup, say)."),
                                Str("delete",
                                    "Delete timeout (default `10m`); also bounds "
                                    "the wait for the VM's lock.")},
                 .description = "Operation timeouts, as durations. A VM locked by a task "
                                "(`backup`, `snapshot`, `migrate`, `clone`, ...) is waited for "
                                "until the deadline, which then fails naming the lock; a lock "
                                "that never clears by itself (`suspended`, or one no task "
                                "holds) fails at once with the `qm unlock` advice."}},
  };
  for (auto& b : s.block.blocks) {
    if (b.type_name == "timeouts") {
      for (auto& a : b.block.attributes) a.validators = {framework::Duration(1)};
    }
  }
  AddReplacements(s.block);
  return s;
}

}  // namespace pvek8s::resources::node
