// proxmox_vm_template: where a template is, by the matcher proxmox_k8s_node
// uses (templates.h).
#include "provider/resources/vm_template/vm_template.h"

#include <algorithm>
#include <map>

#include "provider/pve/qemu.h"
#include "provider/resources/cluster_view.h"
#include "provider/resources/templates.h"

namespace pvek8s::resources {

using framework::Attribute;
using framework::DataSourceReadRequest;
using framework::DataSourceReadResponse;
using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

namespace {

class VmTemplateDataSource : public framework::DataSource {
 public:
  explicit VmTemplateDataSource(ProviderData* data) : data_(data) {
    schema_.block.description =
        "A VM template by name (or vmid, as `proxmox_k8s_node` matches it): which nodes hold a "
        "copy, its vmid on each, and its disk size.";
    schema_.block.attributes = {
        {.name = "id",
         .type = Type::String(),
         .description = "The template name.",
         .computed = true},
        {.name = "name",
         .type = Type::String(),
         .description = "Template name, e.g. `ubuntu-2204-template`, or its vmid.",
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
    std::vector<TemplateRef> holders;
    std::map<std::string, int64_t> maxdisk;
    for (const auto& n : *nodes) {
      if (n.status != "online") continue;
      auto vms = pve::ListVms(*c, n.name);
      if (!vms.ok()) continue;
      CollectTemplates(n.name, *vms, name, holders);
      for (const auto& vm : *vms) {
        if (IsTemplate(vm, name)) maxdisk[n.name] = vm.maxdisk;
      }
    }
    for (const auto& t : holders) {
      found.push_back(t.node);
      vmids[t.node] = Value::Int(t.vmid);
      size = std::max(size, TemplateDiskBytes(*c, t, maxdisk[t.node]).value_or(0));
    }
    if (found.empty()) {
      resp.diagnostics.AddError("Template not found",
                                "No online node holds a template named \"" + name + "\".",
                                AttributePath("name"));
      return;
    }
    std::sort(found.begin(), found.end());
    std::vector<Value> node_values;
    node_values.reserve(found.size());
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

std::unique_ptr<framework::DataSource> NewVmTemplateDataSource(ProviderData* data) {
  return std::make_unique<VmTemplateDataSource>(data);
}

}  // namespace pvek8s::resources
