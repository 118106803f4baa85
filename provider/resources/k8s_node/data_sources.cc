// proxmox_nodes and proxmox_vm_template: read-only views used for placement.
#include <algorithm>

#include "provider/resources/k8s_node/k8s_node.h"

namespace pvek8s::resources {

using framework::Attribute;
using framework::DataSourceReadRequest;
using framework::DataSourceReadResponse;
using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

namespace {

// The client and the cluster's nodes, or nullopt with a diagnostic saying why.
struct Cluster {
  pve::Client* client;
  std::vector<pve::NodeInfo> nodes;
};
std::optional<Cluster> ReadCluster(ProviderData* data, const framework::Context* ctx,
                                   framework::Diagnostics& diags) {
  auto c = data->Client(ctx);
  if (!c.ok()) {
    diags.AddStatus(c.status(), "Cannot reach Proxmox VE");
    return std::nullopt;
  }
  auto nodes = (*c)->Nodes();
  if (!nodes.ok()) {
    diags.AddStatus(nodes.status(), "Listing nodes failed");
    return std::nullopt;
  }
  return Cluster{*c, std::move(*nodes)};
}

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
      auto vms = c->ListVms(n.name);
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

class VmTemplateDataSource : public framework::DataSource {
 public:
  explicit VmTemplateDataSource(ProviderData* data) : data_(data) {
    schema_.block.description =
        "A VM template by name: which nodes hold a copy, its vmid on each, and its disk size.";
    schema_.block.attributes = {
        {.name = "id",
         .type = Type::String(),
         .description = "The template name.",
         .computed = true},
        {.name = "name",
         .type = Type::String(),
         .description = "Template name, e.g. `ubuntu-2204-template`.",
         .required = true},
        {.name = "nodes",
         .type = Type::List(Type::String()),
         .description = "Nodes holding the template, sorted.",
         .computed = true},
        {.name = "vmids",
         .type = Type::Map(Type::Number()),
         .description = "The template's vmid on each node.",
         .computed = true},
        {.name = "vmid",
         .type = Type::Number(),
         .description = "The vmid on the first node of `nodes`.",
         .computed = true},
        {.name = "disk_size",
         .type = Type::Number(),
         .description = "Size of its disk in bytes (the smallest `disk.size` a clone may have).",
         .computed = true},
    };
  }
  std::string TypeName() const override { return "proxmox_vm_template"; }
  const framework::Schema& GetSchema() const override { return schema_; }

  void Read(const DataSourceReadRequest& req, DataSourceReadResponse& resp) override {
    auto cluster = ReadCluster(data_, req.ctx, resp.diagnostics);
    if (!cluster) return;
    pve::Client* c = cluster->client;
    auto* nodes = &cluster->nodes;
    std::string name = *req.config.GetString("name");
    std::vector<std::string> found;
    std::map<std::string, Value> vmids;
    int64_t size = 0;
    for (const auto& n : *nodes) {
      if (n.status != "online") continue;
      auto vms = c->ListVms(n.name);
      if (!vms.ok()) continue;
      for (const auto& vm : *vms) {
        if (vm.template_ && vm.name == name) {
          found.push_back(n.name);
          vmids[n.name] = Value::Int(vm.vmid);
          size = std::max(size, vm.maxdisk);
        }
      }
    }
    if (found.empty()) {
      resp.diagnostics.AddError("Template not found",
                                "No online node holds a template named \"" + name + "\".",
                                AttributePath("name"));
      return;
    }
    std::sort(found.begin(), found.end());
    std::vector<Value> node_values;
    for (const auto& n : found) node_values.push_back(Value::String(n));
    resp.state = resp.state.WithAttr("id", Value::String(name))
                     .WithAttr("nodes", Value::List(Type::String(), node_values))
                     .WithAttr("vmids", Value::Map(Type::Number(), vmids))
                     .WithAttr("vmid", vmids[found.front()])
                     .WithAttr("disk_size", Value::Int(size));
  }

 private:
  ProviderData* data_;
  framework::Schema schema_;
};

}  // namespace

std::unique_ptr<framework::DataSource> NewNodesDataSource(ProviderData* data) {
  return std::make_unique<NodesDataSource>(data);
}

std::unique_ptr<framework::DataSource> NewVmTemplateDataSource(ProviderData* data) {
  return std::make_unique<VmTemplateDataSource>(data);
}

}  // namespace pvek8s::resources
