#include "provider/resources/proxmox_provider.h"

#include <mutex>
#include <optional>

#include "provider/base/log.h"
#include "provider/resources/k8s_cluster/k8s_cluster.h"
#include "provider/resources/k8s_inventory/k8s_inventory.h"
#include "provider/resources/k8s_node/k8s_node.h"
#include "provider/resources/nodes/nodes.h"
#include "provider/resources/provider_data.h"
#include "provider/resources/vm_template/vm_template.h"

namespace pvek8s::resources {
namespace {

class ProxmoxProvider : public framework::Provider {
 public:
  explicit ProxmoxProvider(EnvLookup env) : env_(std::move(env)), schema_(ProviderSchema()) {}

  std::string TypeName() const override { return "proxmox"; }
  const framework::Schema& GetSchema() const override { return schema_; }

  void ValidateConfig(const tftypes::Value& config, framework::Diagnostics& diags) const override {
    ValidateProviderConfig(config, diags);
  }

  void Configure(const std::string& terraform_version, const tftypes::Value& config,
                 framework::Diagnostics& diags) override {
    (void)terraform_version;
    // Resolution errors are kept, not reported: a configuration that uses only
    // local resources needs no connection settings. Resources that call the
    // API report the error with their own context.
    auto settings = ResolveConnection(config, env_, diags);
    if (!settings.ok()) {
      log::Debug("no usable Proxmox connection settings yet",
                 {{"reason", settings.status().message()}});
    }
    data_.SetConnection(std::move(settings), config.IsWhollyKnown());
  }

  std::vector<std::unique_ptr<framework::Resource>> Resources() override {
    std::vector<std::unique_ptr<framework::Resource>> out;
    out.push_back(NewK8sClusterResource());
    out.push_back(NewK8sNodeResource(&data_));
    return out;
  }

  std::vector<std::unique_ptr<framework::DataSource>> DataSources() override {
    std::vector<std::unique_ptr<framework::DataSource>> out;
    out.push_back(NewNodesDataSource(&data_));
    out.push_back(NewVmTemplateDataSource(&data_));
    out.push_back(NewK8sInventoryDataSource());
    return out;
  }

 private:
  EnvLookup env_;
  framework::Schema schema_;
  ProviderData data_;
};

}  // namespace

std::unique_ptr<framework::Provider> NewProxmoxProvider(EnvLookup env) {
  return std::make_unique<ProxmoxProvider>(std::move(env));
}

}  // namespace pvek8s::resources
