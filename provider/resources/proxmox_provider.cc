#include "provider/resources/proxmox_provider.h"

#include <mutex>
#include <optional>

#include "provider/base/log.h"
#include "provider/resources/k8s_cluster/k8s_cluster.h"

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
    std::lock_guard<std::mutex> lock(mu_);
    connection_ = std::move(settings);
    if (!connection_->ok()) {
      log::Debug("no usable Proxmox connection settings yet",
                 {{"reason", connection_->status().message()}});
    }
  }

  std::vector<std::unique_ptr<framework::Resource>> Resources() override {
    std::vector<std::unique_ptr<framework::Resource>> out;
    out.push_back(NewK8sClusterResource());
    return out;
  }

  std::vector<std::unique_ptr<framework::DataSource>> DataSources() override { return {}; }

 private:
  EnvLookup env_;
  framework::Schema schema_;
  std::mutex mu_;
  std::optional<StatusOr<ConnectionSettings>> connection_;
};

}  // namespace

std::unique_ptr<framework::Provider> NewProxmoxProvider(EnvLookup env) {
  return std::make_unique<ProxmoxProvider>(std::move(env));
}

}  // namespace pvek8s::resources
