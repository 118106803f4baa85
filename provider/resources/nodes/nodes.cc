// proxmox_nodes: the cluster's nodes with what placement needs.
#include "provider/resources/nodes/nodes.h"

#include <algorithm>

#include "provider/pve/qemu.h"
#include "provider/resources/cluster_view.h"

namespace pvek8s::resources {

using framework::Attribute;
using framework::DataSourceReadRequest;
using framework::DataSourceReadResponse;
using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

namespace {

Type NodeObjectType() {
  return Type::Object({{"name", Type::String()},
                       {"status", Type::String()},
                       {"free_memory", Type::Number()},
                       {"max_memory", Type::Number()},
                       {"cpu_usage", Type::Number()},
                       {"max_cpus", Type::Number()},
                       {"vm_count", Type::Number()}});
}

class NodesDataSource : public framework::DataSource {
 public:
  explicit NodesDataSource(ProviderData* data) : data_(data) {
    schema_.block.description =
        "The Proxmox VE nodes of the cluster, sorted by name, with what placement needs.";
    schema_.block.attributes = {
        {.name = "id", .type = Type::String(), .description = "Always `nodes`.", .computed = true},
        {.name = "online_only",
         .type = Type::Bool(),
         .description = "List only nodes whose status is `online`.",
         .optional = true},
        {.name = "nodes",
         .type = Type::List(NodeObjectType()),
         .description = "Each node: `name`, `status`, `free_memory` and `max_memory` (bytes), "
                        "`cpu_usage` (0..1), `max_cpus`, `vm_count`.",
         .computed = true},
        {.name = "names",
         .type = Type::List(Type::String()),
         .description = "The node names, for `target_nodes`.",
         .computed = true},
    };
  }
  std::string TypeName() const override { return "proxmox_nodes"; }
  const framework::Schema& GetSchema() const override { return schema_; }

  void Read(const DataSourceReadRequest& req, DataSourceReadResponse& resp) override {
    auto cluster = ReadCluster(data_, req.ctx, resp.diagnostics);
    if (!cluster) return;
    pve::Client* c = cluster->client;
    auto* nodes = &cluster->nodes;
    std::sort(nodes->begin(), nodes->end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    bool online_only = req.config.GetBool("online_only").value_or(false);
    std::vector<Value> items, names;
    for (const auto& n : *nodes) {
      if (online_only && n.status != "online") continue;
      auto vms = pve::ListVms(*c, n.name);
      items.push_back(Value::Object(
          NodeObjectType(),
          {{"name", Value::String(n.name)},
           {"status", Value::String(n.status)},
           {"free_memory", Value::Int(n.maxmem - n.mem)},
           {"max_memory", Value::Int(n.maxmem)},
           {"cpu_usage", Value::Double(n.cpu)},
           {"max_cpus", Value::Int(n.maxcpu)},
           {"vm_count", Value::Int(vms.ok() ? static_cast<int64_t>(vms->size()) : 0)}}));
      names.push_back(Value::String(n.name));
    }
    resp.state = resp.state.WithAttr("id", Value::String("nodes"))
                     .WithAttr("nodes", Value::List(NodeObjectType(), items))
                     .WithAttr("names", Value::List(Type::String(), names));
  }

 private:
  ProviderData* data_;
  framework::Schema schema_;
};

}  // namespace

std::unique_ptr<framework::DataSource> NewNodesDataSource(ProviderData* data) {
  return std::make_unique<NodesDataSource>(data);
}

}  // namespace pvek8s::resources
