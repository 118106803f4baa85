#include "provider/tfplugin/provider_service.h"

#include <chrono>

#include "proto/tfplugin6.grpc.pb.h"
#include "proto/tfplugin6.pb.h"
#include "provider/base/log.h"

namespace pvek8s::tfplugin {
namespace {

using framework::Diagnostics;
using framework::WireValue;
namespace pb = ::tfplugin6;

WireValue FromProto(const pb::DynamicValue& v) { return WireValue{v.msgpack(), v.json()}; }

void ToProto(const WireValue& v, pb::DynamicValue* out) {
  out->set_msgpack(v.msgpack);
  if (v.msgpack.empty()) out->set_json(v.json);
}

void ToProto(const tftypes::AttributePath& path, pb::AttributePath* out) {
  for (const auto& step : path.steps()) {
    auto* s = out->add_steps();
    switch (step.kind) {
      case tftypes::PathStep::Kind::kAttribute:
        s->set_attribute_name(step.name);
        break;
      case tftypes::PathStep::Kind::kKeyString:
        s->set_element_key_string(step.name);
        break;
      case tftypes::PathStep::Kind::kKeyInt:
        s->set_element_key_int(step.index);
        break;
    }
  }
}

template <typename RepeatedDiag>
void ToProto(const Diagnostics& diags, RepeatedDiag* out) {
  for (const auto& d : diags.items()) {
    auto* pd = out->Add();
    pd->set_severity(d.severity == framework::Diagnostic::Severity::kError
                         ? pb::Diagnostic::ERROR
                         : pb::Diagnostic::WARNING);
    pd->set_summary(d.summary);
    pd->set_detail(d.detail);
    if (d.path && !d.path->empty()) ToProto(*d.path, pd->mutable_attribute());
  }
}

void ToProto(const framework::Block& block, pb::Schema::Block* out) {
  out->set_description(block.description);
  out->set_description_kind(pb::MARKDOWN);
  for (const auto& a : block.attributes) {
    auto* pa = out->add_attributes();
    pa->set_name(a.name);
    pa->set_type(a.type.ToJson().dump());
    pa->set_description(a.description);
    pa->set_description_kind(pb::MARKDOWN);
    pa->set_required(a.required);
    pa->set_optional(a.optional);
    pa->set_computed(a.computed);
    pa->set_sensitive(a.sensitive);
  }
  for (const auto& nb : block.blocks) {
    auto* pn = out->add_block_types();
    pn->set_type_name(nb.type_name);
    switch (nb.nesting) {
      case framework::NestedBlock::Nesting::kSingle:
        pn->set_nesting(pb::Schema::NestedBlock::SINGLE);
        break;
      case framework::NestedBlock::Nesting::kList:
        pn->set_nesting(pb::Schema::NestedBlock::LIST);
        break;
      case framework::NestedBlock::Nesting::kSet:
        pn->set_nesting(pb::Schema::NestedBlock::SET);
        break;
    }
    pn->set_min_items(nb.min_items);
    // Terraform requires min == max for single blocks (0: optional, 1: required).
    pn->set_max_items(nb.nesting == framework::NestedBlock::Nesting::kSingle ? nb.min_items
                                                                             : nb.max_items);
    ToProto(nb.block, pn->mutable_block());
  }
}

void ToProto(const framework::Schema& schema, pb::Schema* out) {
  out->set_version(schema.version);
  ToProto(schema.block, out->mutable_block());
}

// Logs an RPC's name and duration at trace level; never its payload.
class RpcTrace {
 public:
  explicit RpcTrace(const char* rpc, std::string type = "")
      : rpc_(rpc), type_(std::move(type)), start_(std::chrono::steady_clock::now()) {}
  ~RpcTrace() {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start_)
                  .count();
    log::Trace("rpc done", {{"rpc", rpc_}, {"type", type_}, {"duration_us", us}});
  }

 private:
  const char* rpc_;
  std::string type_;
  std::chrono::steady_clock::time_point start_;
};

class ProviderService final : public pb::Provider::Service {
 public:
  explicit ProviderService(framework::Server* server) : server_(server) {}

  grpc::Status GetMetadata(grpc::ServerContext*, const pb::GetMetadataMessages::Request*,
                           pb::GetMetadataMessages::Response* resp) override {
    RpcTrace t("GetMetadata");
    auto schemas = server_->GetProviderSchema();
    SetCapabilities(resp->mutable_server_capabilities());
    for (const auto& [name, s] : schemas.resources) resp->add_resources()->set_type_name(name);
    for (const auto& [name, s] : schemas.data_sources) {
      resp->add_data_sources()->set_type_name(name);
    }
    return grpc::Status::OK;
  }

  grpc::Status GetProviderSchema(grpc::ServerContext*, const pb::GetProviderSchema::Request*,
                                 pb::GetProviderSchema::Response* resp) override {
    RpcTrace t("GetProviderSchema");
    auto schemas = server_->GetProviderSchema();
    ToProto(*schemas.provider, resp->mutable_provider());
    for (const auto& [name, s] : schemas.resources) {
      ToProto(*s, &(*resp->mutable_resource_schemas())[name]);
    }
    for (const auto& [name, s] : schemas.data_sources) {
      ToProto(*s, &(*resp->mutable_data_source_schemas())[name]);
    }
    SetCapabilities(resp->mutable_server_capabilities());
    ToProto(schemas.diagnostics, resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status ValidateProviderConfig(grpc::ServerContext*,
                                      const pb::ValidateProviderConfig::Request* req,
                                      pb::ValidateProviderConfig::Response* resp) override {
    RpcTrace t("ValidateProviderConfig");
    ToProto(server_->ValidateProviderConfig(FromProto(req->config())), resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status ValidateResourceConfig(grpc::ServerContext*,
                                      const pb::ValidateResourceConfig::Request* req,
                                      pb::ValidateResourceConfig::Response* resp) override {
    RpcTrace t("ValidateResourceConfig", req->type_name());
    ToProto(server_->ValidateResourceConfig(req->type_name(), FromProto(req->config())),
            resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status ValidateDataResourceConfig(grpc::ServerContext*,
                                          const pb::ValidateDataResourceConfig::Request* req,
                                          pb::ValidateDataResourceConfig::Response* resp) override {
    RpcTrace t("ValidateDataResourceConfig", req->type_name());
    ToProto(server_->ValidateDataResourceConfig(req->type_name(), FromProto(req->config())),
            resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status UpgradeResourceState(grpc::ServerContext*,
                                    const pb::UpgradeResourceState::Request* req,
                                    pb::UpgradeResourceState::Response* resp) override {
    RpcTrace t("UpgradeResourceState", req->type_name());
    if (req->raw_state().json().empty() && !req->raw_state().flatmap().empty()) {
      Diagnostics d;
      d.AddError("Unsupported state format",
                 "This state was written in the pre-0.12 flatmap format, which this provider "
                 "never used.");
      ToProto(d, resp->mutable_diagnostics());
      return grpc::Status::OK;
    }
    auto out =
        server_->UpgradeResourceState(req->type_name(), req->version(), req->raw_state().json());
    ToProto(out.state, resp->mutable_upgraded_state());
    ToProto(out.diagnostics, resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status ConfigureProvider(grpc::ServerContext*, const pb::ConfigureProvider::Request* req,
                                 pb::ConfigureProvider::Response* resp) override {
    RpcTrace t("ConfigureProvider");
    ToProto(server_->ConfigureProvider(req->terraform_version(), FromProto(req->config())),
            resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status ReadResource(grpc::ServerContext*, const pb::ReadResource::Request* req,
                            pb::ReadResource::Response* resp) override {
    RpcTrace t("ReadResource", req->type_name());
    auto out =
        server_->ReadResource(req->type_name(), FromProto(req->current_state()), req->private_());
    ToProto(out.state, resp->mutable_new_state());
    resp->set_private_(out.private_data);
    ToProto(out.diagnostics, resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status PlanResourceChange(grpc::ServerContext*, const pb::PlanResourceChange::Request* req,
                                  pb::PlanResourceChange::Response* resp) override {
    RpcTrace t("PlanResourceChange", req->type_name());
    auto out = server_->PlanResourceChange(req->type_name(), FromProto(req->prior_state()),
                                           FromProto(req->proposed_new_state()),
                                           FromProto(req->config()), req->prior_private());
    ToProto(out.planned_state, resp->mutable_planned_state());
    for (const auto& p : out.requires_replace) ToProto(p, resp->add_requires_replace());
    resp->set_planned_private(out.planned_private);
    ToProto(out.diagnostics, resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status ApplyResourceChange(grpc::ServerContext*,
                                   const pb::ApplyResourceChange::Request* req,
                                   pb::ApplyResourceChange::Response* resp) override {
    RpcTrace t("ApplyResourceChange", req->type_name());
    auto out = server_->ApplyResourceChange(req->type_name(), FromProto(req->prior_state()),
                                            FromProto(req->planned_state()),
                                            FromProto(req->config()), req->planned_private());
    ToProto(out.state, resp->mutable_new_state());
    resp->set_private_(out.private_data);
    ToProto(out.diagnostics, resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status ImportResourceState(grpc::ServerContext*,
                                   const pb::ImportResourceState::Request* req,
                                   pb::ImportResourceState::Response* resp) override {
    RpcTrace t("ImportResourceState", req->type_name());
    Diagnostics diags;
    for (auto& item : server_->ImportResourceState(req->type_name(), req->id(), diags)) {
      auto* pi = resp->add_imported_resources();
      pi->set_type_name(item.type_name);
      ToProto(item.state, pi->mutable_state());
      pi->set_private_(item.private_data);
      diags.Append(item.diagnostics);
    }
    ToProto(diags, resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status MoveResourceState(grpc::ServerContext*, const pb::MoveResourceState::Request* req,
                                 pb::MoveResourceState::Response* resp) override {
    RpcTrace t("MoveResourceState", req->target_type_name());
    Diagnostics d;
    d.AddError("Move not supported", "Resources cannot be moved into " + req->target_type_name() +
                                         " from " + req->source_type_name() + ".");
    ToProto(d, resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status ReadDataSource(grpc::ServerContext*, const pb::ReadDataSource::Request* req,
                              pb::ReadDataSource::Response* resp) override {
    RpcTrace t("ReadDataSource", req->type_name());
    auto out = server_->ReadDataSource(req->type_name(), FromProto(req->config()));
    ToProto(out.state, resp->mutable_state());
    ToProto(out.diagnostics, resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status ValidateEphemeralResourceConfig(
      grpc::ServerContext*, const pb::ValidateEphemeralResourceConfig::Request* req,
      pb::ValidateEphemeralResourceConfig::Response* resp) override {
    NoEphemeral(req->type_name(), resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status OpenEphemeralResource(grpc::ServerContext*,
                                     const pb::OpenEphemeralResource::Request* req,
                                     pb::OpenEphemeralResource::Response* resp) override {
    NoEphemeral(req->type_name(), resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status RenewEphemeralResource(grpc::ServerContext*,
                                      const pb::RenewEphemeralResource::Request* req,
                                      pb::RenewEphemeralResource::Response* resp) override {
    NoEphemeral(req->type_name(), resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status CloseEphemeralResource(grpc::ServerContext*,
                                      const pb::CloseEphemeralResource::Request* req,
                                      pb::CloseEphemeralResource::Response* resp) override {
    NoEphemeral(req->type_name(), resp->mutable_diagnostics());
    return grpc::Status::OK;
  }

  grpc::Status GetFunctions(grpc::ServerContext*, const pb::GetFunctions::Request*,
                            pb::GetFunctions::Response*) override {
    return grpc::Status::OK;  // This provider offers no functions.
  }

  grpc::Status CallFunction(grpc::ServerContext*, const pb::CallFunction::Request* req,
                            pb::CallFunction::Response* resp) override {
    resp->mutable_error()->set_text("This provider has no function \"" + req->name() + "\".");
    return grpc::Status::OK;
  }

  grpc::Status StopProvider(grpc::ServerContext*, const pb::StopProvider::Request*,
                            pb::StopProvider::Response*) override {
    RpcTrace t("StopProvider");
    server_->Stop();
    return grpc::Status::OK;
  }

 private:
  static void SetCapabilities(pb::ServerCapabilities* caps) {
    caps->set_plan_destroy(true);
    // The schema never depends on configuration, so Terraform may cache it.
    caps->set_get_provider_schema_optional(true);
  }

  template <typename RepeatedDiag>
  static void NoEphemeral(const std::string& type, RepeatedDiag* out) {
    Diagnostics d;
    d.AddError("Unknown ephemeral resource type",
               "This provider has no ephemeral resource \"" + type + "\".");
    ToProto(d, out);
  }

  framework::Server* server_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewProviderService(framework::Server* server) {
  return std::make_unique<ProviderService>(server);
}

}  // namespace pvek8s::tfplugin
