#include "acceptance-tests/pvesim/params_moves.h"

#include <string>
#include <utility>

namespace pvek8s::pvesim {
namespace {

ParamDef Str(std::string name) { return ParamDef{.name = std::move(name)}; }
ParamDef Int(std::string name) {
  return ParamDef{.name = std::move(name), .type = ParamType::kInteger};
}
ParamDef Bool(std::string name) {
  return ParamDef{.name = std::move(name), .type = ParamType::kBoolean};
}
ParamDef Node(const char* name = "node") { return Str(name).Required().Format("pve-node"); }
ParamDef Vmid() { return Int("vmid").Required().Format("pve-vmid").Min(100).Max(999999999); }
ParamDef Sid() { return Str("sid").Required().Format("pve-ha-resource-or-vm-id"); }

std::vector<MethodDef> Build(bool pve9) {
  const std::string q = "/nodes/{node}/qemu/{vmid}";
  std::vector<ParamDef> migrate = {Node(),
                                   Vmid(),
                                   Int("bwlimit").Min(0),
                                   Bool("force"),
                                   Str("migration_network").Format("CIDR"),
                                   Str("migration_type").Enum({"secure", "insecure"}),
                                   Bool("online"),
                                   Node("target"),
                                   Str("targetstorage").Format("storage-pair-list"),
                                   Bool("with-local-disks")};
  if (pve9) migrate.push_back(Bool("with-conntrack-state"));
  const std::vector<std::string> states = {"started", "stopped", "enabled", "disabled", "ignored"};
  std::vector<ParamDef> res_create = {Str("comment").MaxLength(4096),
                                      Str("group").Format("pve-configid"),
                                      Int("max_relocate").Min(0),
                                      Int("max_restart").Min(0),
                                      Sid(),
                                      Str("state").Enum(states),
                                      Str("type").Enum({"ct", "vm"})};
  std::vector<ParamDef> res_update = {Str("comment").MaxLength(4096),
                                      Str("delete").Format("pve-configid-list").MaxLength(4096),
                                      Str("digest").MaxLength(64),
                                      Str("group").Format("pve-configid"),
                                      Int("max_relocate").Min(0),
                                      Int("max_restart").Min(0),
                                      Sid(),
                                      Str("state").Enum(states)};
  std::vector<ParamDef> res_delete = {Sid()};
  if (pve9) {
    res_create.push_back(Bool("failback"));
    res_update.push_back(Bool("failback"));
    res_delete.push_back(Bool("purge"));
  }
  const char* node_list = pve9 ? "pve-ha-node-list" : "pve-ha-group-node-list";
  std::vector<MethodDef> defs = {
      {"GET", q + "/migrate", {Node(), Vmid(), Str("target").Format("pve-node")}},
      {"POST", q + "/migrate", migrate},
      {"GET", "/cluster/ha/resources", {Str("type").Enum({"ct", "vm"})}},
      {"POST", "/cluster/ha/resources", res_create},
      {"PUT", "/cluster/ha/resources/{sid}", res_update},
      {"DELETE", "/cluster/ha/resources/{sid}", res_delete},
      {"POST", "/cluster/ha/resources/{sid}/migrate", {Node(), Sid()}},
      {"GET", "/cluster/ha/groups", {}},
      {"POST",
       "/cluster/ha/groups",
       {Str("comment").MaxLength(4096), Str("group").Required().Format("pve-configid"),
        Str("nodes").Required().Format(node_list), Bool("nofailback"), Bool("restricted"),
        Str("type").Enum({"group"})}},
      {"GET", "/cluster/ha/groups/{group}", {Str("group").Required().Format("pve-configid")}},
      {"DELETE", "/cluster/ha/groups/{group}", {Str("group").Required().Format("pve-configid")}},
      // pvesim only: what an operator does at the console or the power switch.
      {"PUT",
       "/pvesim/nodes/{node}",
       {Node(), Str("status").Enum({"online", "offline"}), Bool("maintenance")}},
  };
  if (pve9) {
    defs.push_back({"GET",
                    "/cluster/ha/rules",
                    {Str("resource"), Str("type").Enum({"node-affinity", "resource-affinity"})}});
    defs.push_back({"POST",
                    "/cluster/ha/rules",
                    {Str("affinity").Enum({"positive", "negative"}), Str("comment").MaxLength(4096),
                     Bool("disable"), Str("nodes").Format("pve-ha-node-list"),
                     Str("resources").Required().Format("pve-ha-resource-id-list"),
                     Str("rule").Required().Format("pve-configid"), Bool("strict"),
                     Str("type").Required().Enum({"node-affinity", "resource-affinity"})}});
    defs.push_back(
        {"GET", "/cluster/ha/rules/{rule}", {Str("rule").Required().Format("pve-configid")}});
    defs.push_back(
        {"DELETE", "/cluster/ha/rules/{rule}", {Str("rule").Required().Format("pve-configid")}});
  }
  return defs;
}

}  // namespace

const std::vector<MethodDef>& MoveMethodDefs(bool pve9) {
  static const std::vector<MethodDef> k8 = Build(false);
  static const std::vector<MethodDef> k9 = Build(true);
  return pve9 ? k9 : k8;
}

}  // namespace pvek8s::pvesim
