// The protocol-independent provider server: one method per tfplugin6 RPC,
// taking and returning wire bytes (msgpack/json) so that the gRPC layer only
// copies fields. It decodes values with the schemas, enforces Terraform's
// rules (plans keep configured values, computed values unknown when they may
// change, no unknowns after apply) and routes Apply to Create/Update/Delete.
#ifndef PROVIDER_FRAMEWORK_SERVER_H_
#define PROVIDER_FRAMEWORK_SERVER_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "provider/framework/diagnostics.h"
#include "provider/framework/resource.h"
#include "provider/framework/schema.h"

namespace pvek8s::framework {

// A DynamicValue as it travels: msgpack, or json as a fallback. Both empty
// means null.
struct WireValue {
  std::string msgpack;
  std::string json;
};

struct ProviderSchemaResponse {
  const Schema* provider = nullptr;
  std::map<std::string, const Schema*> resources;
  std::map<std::string, const Schema*> data_sources;
  Diagnostics diagnostics;
};

struct WirePlanResponse {
  WireValue planned_state;
  std::vector<tftypes::AttributePath> requires_replace;
  std::string planned_private;
  Diagnostics diagnostics;
};

struct WireStateResponse {
  WireValue state;
  std::string private_data;
  Diagnostics diagnostics;
};

struct WireImportResponse {
  std::string type_name;
  WireValue state;
  std::string private_data;
  Diagnostics diagnostics;
};

class Server {
 public:
  explicit Server(std::unique_ptr<Provider> provider);

  const Context& context() const { return ctx_; }

  ProviderSchemaResponse GetProviderSchema() const;
  Diagnostics ValidateProviderConfig(const WireValue& config) const;
  Diagnostics ValidateResourceConfig(const std::string& type_name, const WireValue& config) const;
  Diagnostics ValidateDataResourceConfig(const std::string& type_name,
                                         const WireValue& config) const;
  Diagnostics ConfigureProvider(const std::string& terraform_version, const WireValue& config);
  WireStateResponse UpgradeResourceState(const std::string& type_name, int64_t version,
                                         const std::string& raw_json);
  WireStateResponse ReadResource(const std::string& type_name, const WireValue& current_state,
                                 const std::string& private_data);
  WirePlanResponse PlanResourceChange(const std::string& type_name, const WireValue& prior_state,
                                      const WireValue& proposed_new_state, const WireValue& config,
                                      const std::string& prior_private);
  WireStateResponse ApplyResourceChange(const std::string& type_name, const WireValue& prior_state,
                                        const WireValue& planned_state, const WireValue& config,
                                        const std::string& planned_private);
  std::vector<WireImportResponse> ImportResourceState(const std::string& type_name,
                                                      const std::string& id, Diagnostics& diags);
  WireStateResponse ReadDataSource(const std::string& type_name, const WireValue& config);
  // Asks in-flight work to stop; returns at once.
  void Stop();

 private:
  Resource* FindResource(const std::string& type_name, Diagnostics& diags) const;
  DataSource* FindDataSource(const std::string& type_name, Diagnostics& diags) const;

  std::unique_ptr<Provider> provider_;
  std::map<std::string, std::unique_ptr<Resource>> resources_;
  std::map<std::string, std::unique_ptr<DataSource>> data_sources_;
  // The wire types of the schemas, made once: every call decodes with them.
  std::map<std::string, tftypes::Type> types_;
  std::map<std::string, tftypes::Type> data_types_;
  tftypes::Type provider_type_;
  Context ctx_;
};

// Helpers shared with tests.

// Runs the validators of every known, non-null value in `config` and the
// block's item-count rules.
void ValidateBlock(const Block& block, const tftypes::Value& config,
                   const tftypes::AttributePath& path, Diagnostics& diags);

// Replaces every unknown inside `v` by null (used for partial states after a
// failed apply, which may not contain unknowns).
tftypes::Value UnknownsToNull(const tftypes::Value& v);

// The path of the first unknown inside `v`, if any.
std::optional<tftypes::AttributePath> FirstUnknown(const tftypes::Value& v);

}  // namespace pvek8s::framework

#endif  // PROVIDER_FRAMEWORK_SERVER_H_
