#include "provider/framework/server.h"

#include "provider/base/log.h"
#include "provider/tftypes/codec.h"

namespace pvek8s::framework {

using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

namespace {

StatusOr<Value> Decode(const WireValue& wire, const Type& type) {
  if (!wire.msgpack.empty()) return tftypes::DecodeMsgpack(wire.msgpack, type);
  if (!wire.json.empty()) return tftypes::DecodeJson(wire.json, type);
  return Value::Null(type);
}

WireValue Encode(const Value& value, const Type& type, Diagnostics& diags) {
  WireValue out;
  auto bytes = tftypes::EncodeMsgpack(value, type);
  if (!bytes.ok()) {
    diags.AddStatus(bytes.status(), "Provider bug: a value does not match its schema");
    // An explicit null keeps Terraform's decoder happy while the error shows.
    out.msgpack = std::string(1, static_cast<char>(0xc0));
    return out;
  }
  out.msgpack = std::move(*bytes);
  return out;
}

// Decodes or records a diagnostic; `what` names the value for the message.
bool DecodeInto(const WireValue& wire, const Type& type, const char* what, Value& out,
                Diagnostics& diags) {
  auto v = Decode(wire, type);
  if (!v.ok()) {
    diags.AddError(std::string("Invalid ") + what + " received from Terraform",
                   v.status().message());
    return false;
  }
  out = std::move(*v);
  return true;
}

void CountCheck(const NestedBlock& nb, const Value& v, const AttributePath& path,
                Diagnostics& diags) {
  if (!v.IsKnown()) return;
  int64_t n = v.IsNull() ? 0 : static_cast<int64_t>(v.Elements().size());
  if (nb.min_items > 0 && n < nb.min_items) {
    diags.AddError("Not enough " + nb.type_name + " blocks",
                   "At least " + std::to_string(nb.min_items) + " \"" + nb.type_name +
                       "\" block(s) are required.",
                   path);
  }
  if (nb.max_items > 0 && n > nb.max_items) {
    diags.AddError("Too many " + nb.type_name + " blocks",
                   "No more than " + std::to_string(nb.max_items) + " \"" + nb.type_name +
                       "\" block(s) are allowed.",
                   path);
  }
}

Value ApplyDefaults(const Block& block, const Value& config, const Value& planned) {
  if (!planned.HasValue()) return planned;
  Value out = planned;
  for (const auto& a : block.attributes) {
    if (a.default_value && config.Attr(a.name).IsNull()) {
      out = out.WithAttr(a.name, *a.default_value);
    }
  }
  for (const auto& nb : block.blocks) {
    const Value& pv = planned.Attr(nb.type_name);
    const Value& cv = config.Attr(nb.type_name);
    if (!pv.HasValue()) continue;
    if (nb.nesting == NestedBlock::Nesting::kSingle) {
      out = out.WithAttr(nb.type_name, ApplyDefaults(nb.block, cv, pv));
    } else if (nb.nesting == NestedBlock::Nesting::kList) {
      std::vector<Value> elems;
      for (size_t i = 0; i < pv.Elements().size(); ++i) {
        const Value& ce = i < cv.Elements().size() ? cv.Elements()[i] : Value();
        elems.push_back(ApplyDefaults(nb.block, ce, pv.Elements()[i]));
      }
      out = out.WithAttr(nb.type_name, Value::List(pv.type().element(), std::move(elems)));
    }
  }
  return out;
}

// Sets computed attributes the configuration leaves null to unknown, or to
// their prior value where the schema says the value survives an update.
Value MarkComputed(const Block& block, const Value& config, const Value& prior,
                   const Value& planned, bool replacing) {
  if (!planned.HasValue()) return planned;
  Value out = planned;
  for (const auto& a : block.attributes) {
    if (!a.computed || !config.Attr(a.name).IsNull() || a.default_value) continue;
    const Value& pv = prior.Attr(a.name);
    if (!replacing && a.use_state_for_unknown && prior.HasValue() && pv.IsWhollyKnown()) {
      out = out.WithAttr(a.name, pv);
    } else {
      out = out.WithAttr(a.name, Value::Unknown(a.type));
    }
  }
  for (const auto& nb : block.blocks) {
    const Value& pv = planned.Attr(nb.type_name);
    if (!pv.HasValue()) continue;
    const Value& cv = config.Attr(nb.type_name);
    const Value& prv = prior.Attr(nb.type_name);
    if (nb.nesting == NestedBlock::Nesting::kSingle) {
      out = out.WithAttr(nb.type_name, MarkComputed(nb.block, cv, prv, pv, replacing));
    } else if (nb.nesting == NestedBlock::Nesting::kList) {
      std::vector<Value> elems;
      for (size_t i = 0; i < pv.Elements().size(); ++i) {
        const Value& ce = i < cv.Elements().size() ? cv.Elements()[i] : Value();
        const Value& pe = prv.HasValue() && i < prv.Elements().size() ? prv.Elements()[i] : Value();
        elems.push_back(MarkComputed(nb.block, ce, pe, pv.Elements()[i], replacing));
      }
      out = out.WithAttr(nb.type_name, Value::List(pv.type().element(), std::move(elems)));
    }
  }
  return out;
}

void FindReplacements(const Block& block, const Value& prior, const Value& planned,
                      const Value& config, const AttributePath& path,
                      std::vector<AttributePath>& out) {
  if (!prior.HasValue() || !planned.HasValue()) return;
  for (const auto& a : block.attributes) {
    if (!a.requires_replace && !a.requires_replace_if) continue;
    if (prior.Attr(a.name) == planned.Attr(a.name)) continue;
    if (a.requires_replace || a.requires_replace_if(prior, planned, config)) {
      out.push_back(path.Attr(a.name));
    }
  }
  for (const auto& nb : block.blocks) {
    const Value& pv = prior.Attr(nb.type_name);
    const Value& nv = planned.Attr(nb.type_name);
    if (nb.requires_replace || nb.requires_replace_if) {
      if (!(pv == nv) && (nb.requires_replace || nb.requires_replace_if(prior, planned, config))) {
        out.push_back(path.Attr(nb.type_name));
      }
      if (nb.requires_replace) continue;
    }
    const Value& cv = config.Attr(nb.type_name);
    if (nb.nesting == NestedBlock::Nesting::kSingle) {
      FindReplacements(nb.block, pv, nv, cv, path.Attr(nb.type_name), out);
    } else if (nb.nesting == NestedBlock::Nesting::kList && pv.HasValue() && nv.HasValue()) {
      size_t n = std::min(pv.Elements().size(), nv.Elements().size());
      for (size_t i = 0; i < n; ++i) {
        const Value& ce = cv.HasValue() && i < cv.Elements().size() ? cv.Elements()[i] : Value();
        FindReplacements(nb.block, pv.Elements()[i], nv.Elements()[i], ce,
                         path.Attr(nb.type_name).Index(static_cast<int64_t>(i)), out);
      }
    }
  }
}

void FirstUnknownAt(const Value& v, const AttributePath& path,
                    std::optional<AttributePath>& found) {
  if (found) return;
  if (v.IsUnknown()) {
    found = path;
    return;
  }
  if (!v.HasValue()) return;
  switch (v.type().kind()) {
    case Type::Kind::kList:
    case Type::Kind::kSet:
    case Type::Kind::kTuple:
      for (size_t i = 0; i < v.Elements().size(); ++i) {
        FirstUnknownAt(v.Elements()[i], path.Index(static_cast<int64_t>(i)), found);
      }
      break;
    case Type::Kind::kMap:
      for (const auto& [k, e] : v.Entries()) FirstUnknownAt(e, path.Key(k), found);
      break;
    case Type::Kind::kObject:
      for (const auto& [k, e] : v.Entries()) FirstUnknownAt(e, path.Attr(k), found);
      break;
    default:
      break;
  }
}

}  // namespace

void Resource::ImportState(const Context& ctx, const std::string& id, ImportResponse& resp) {
  (void)ctx;
  (void)id;
  resp.diagnostics.AddError("Import not supported",
                            "The " + TypeName() + " resource cannot be imported.");
}

namespace {

// `text` with every occurrence of the string `secret` replaced: the quoted
// form by "the value", a bare occurrence by "(sensitive value)".
std::string MaskSecret(std::string text, const Value& secret) {
  if (secret.type().kind() != Type::Kind::kString) return text;
  const std::string& s = secret.AsString();
  if (s.empty()) return text;
  auto replace_all = [&text](const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
  };
  replace_all("\"" + s + "\"", "the value");
  if (s.size() >= 4) replace_all(s, "(sensitive value)");
  if (!text.empty() && text.starts_with("the value")) text[0] = 'T';
  return text;
}

}  // namespace

void ValidateBlock(const Block& block, const Value& config, const AttributePath& path,
                   Diagnostics& diags) {
  if (!config.HasValue()) return;
  for (const auto& a : block.attributes) {
    const Value& v = config.Attr(a.name);
    AttributePath at = path.Attr(a.name);
    if (!a.optional && !a.required && !v.IsNull()) {
      diags.AddError("Value for unconfigurable attribute",
                     "\"" + a.name + "\" is computed by the provider and cannot be set.", at);
      continue;
    }
    if (!v.HasValue() || !v.IsWhollyKnown()) continue;
    if (!a.sensitive) {
      for (const auto& validate : a.validators) validate(v, at, diags);
      continue;
    }
    // A validator may quote the value it refuses; a secret must not reach the
    // diagnostic (a mistyped secret is still mostly the secret).
    Diagnostics own;
    for (const auto& validate : a.validators) validate(v, at, own);
    for (const Diagnostic& d : own.items()) {
      std::string summary = MaskSecret(d.summary, v);
      std::string detail = MaskSecret(d.detail, v);
      if (d.severity == Diagnostic::Severity::kError) {
        diags.AddError(std::move(summary), std::move(detail), d.path);
      } else {
        diags.AddWarning(std::move(summary), std::move(detail), d.path);
      }
    }
  }
  for (const auto& nb : block.blocks) {
    const Value& v = config.Attr(nb.type_name);
    AttributePath at = path.Attr(nb.type_name);
    if (nb.nesting == NestedBlock::Nesting::kSingle) {
      ValidateBlock(nb.block, v, at, diags);
      continue;
    }
    CountCheck(nb, v, at, diags);
    if (!v.HasValue()) continue;
    for (size_t i = 0; i < v.Elements().size(); ++i) {
      ValidateBlock(
          nb.block, v.Elements()[i],
          nb.nesting == NestedBlock::Nesting::kList ? at.Index(static_cast<int64_t>(i)) : at,
          diags);
    }
  }
}

Value UnknownsToNull(const Value& v) {
  if (v.IsUnknown()) return Value::Null(v.type());
  if (!v.HasValue()) return v;
  switch (v.type().kind()) {
    case Type::Kind::kList:
    case Type::Kind::kSet: {
      std::vector<Value> elems;
      for (const auto& e : v.Elements()) elems.push_back(UnknownsToNull(e));
      return v.type().kind() == Type::Kind::kList ? Value::List(v.type().element(), elems)
                                                  : Value::Set(v.type().element(), elems);
    }
    case Type::Kind::kTuple: {
      std::vector<Value> elems;
      for (const auto& e : v.Elements()) elems.push_back(UnknownsToNull(e));
      return Value::Tuple(elems);
    }
    case Type::Kind::kMap: {
      std::map<std::string, Value> entries;
      for (const auto& [k, e] : v.Entries()) entries.emplace(k, UnknownsToNull(e));
      return Value::Map(v.type().element(), entries);
    }
    case Type::Kind::kObject: {
      std::map<std::string, Value> entries;
      for (const auto& [k, e] : v.Entries()) entries.emplace(k, UnknownsToNull(e));
      return Value::Object(v.type(), entries);
    }
    default:
      return v;
  }
}

std::optional<AttributePath> FirstUnknown(const Value& v) {
  std::optional<AttributePath> found;
  FirstUnknownAt(v, AttributePath(), found);
  return found;
}

Server::Server(std::unique_ptr<Provider> provider) : provider_(std::move(provider)) {
  for (auto& r : provider_->Resources()) {
    std::string name = r->TypeName();
    types_.emplace(name, ImpliedType(r->GetSchema().block));
    resources_.emplace(std::move(name), std::move(r));
  }
  for (auto& d : provider_->DataSources()) {
    std::string name = d->TypeName();
    data_types_.emplace(name, ImpliedType(d->GetSchema().block));
    data_sources_.emplace(std::move(name), std::move(d));
  }
  provider_type_ = ImpliedType(provider_->GetSchema().block);
}

Resource* Server::FindResource(const std::string& type_name, Diagnostics& diags) const {
  auto it = resources_.find(type_name);
  if (it == resources_.end()) {
    diags.AddError("Unknown resource type",
                   "This provider has no resource type \"" + type_name + "\".");
    return nullptr;
  }
  return it->second.get();
}

DataSource* Server::FindDataSource(const std::string& type_name, Diagnostics& diags) const {
  auto it = data_sources_.find(type_name);
  if (it == data_sources_.end()) {
    diags.AddError("Unknown data source type",
                   "This provider has no data source \"" + type_name + "\".");
    return nullptr;
  }
  return it->second.get();
}

ProviderSchemaResponse Server::GetProviderSchema() const {
  ProviderSchemaResponse resp;
  resp.provider = &provider_->GetSchema();
  for (const auto& [name, r] : resources_) resp.resources.emplace(name, &r->GetSchema());
  for (const auto& [name, d] : data_sources_) resp.data_sources.emplace(name, &d->GetSchema());
  return resp;
}

Diagnostics Server::ValidateProviderConfig(const WireValue& config) const {
  Diagnostics diags;
  const Block& block = provider_->GetSchema().block;
  Value cfg;
  if (!DecodeInto(config, provider_type_, "provider configuration", cfg, diags)) return diags;
  ValidateBlock(block, cfg, AttributePath(), diags);
  provider_->ValidateConfig(cfg, diags);
  return diags;
}

Diagnostics Server::ValidateResourceConfig(const std::string& type_name,
                                           const WireValue& config) const {
  Diagnostics diags;
  Resource* r = FindResource(type_name, diags);
  if (!r) return diags;
  const Block& block = r->GetSchema().block;
  Value cfg;
  if (!DecodeInto(config, types_.at(type_name), "configuration", cfg, diags)) return diags;
  ValidateBlock(block, cfg, AttributePath(), diags);
  r->ValidateConfig(cfg, diags);
  return diags;
}

Diagnostics Server::ValidateDataResourceConfig(const std::string& type_name,
                                               const WireValue& config) const {
  Diagnostics diags;
  DataSource* d = FindDataSource(type_name, diags);
  if (!d) return diags;
  const Block& block = d->GetSchema().block;
  Value cfg;
  if (!DecodeInto(config, data_types_.at(type_name), "configuration", cfg, diags)) return diags;
  ValidateBlock(block, cfg, AttributePath(), diags);
  d->ValidateConfig(cfg, diags);
  return diags;
}

Diagnostics Server::ConfigureProvider(const std::string& terraform_version,
                                      const WireValue& config) {
  Diagnostics diags;
  const Block& block = provider_->GetSchema().block;
  Value cfg;
  if (!DecodeInto(config, provider_type_, "provider configuration", cfg, diags)) return diags;
  ValidateBlock(block, cfg, AttributePath(), diags);
  if (diags.HasError()) return diags;
  provider_->Configure(terraform_version, cfg, diags);
  log::Debug("provider configured", {{"terraform_version", terraform_version}});
  return diags;
}

WireStateResponse Server::UpgradeResourceState(const std::string& type_name, int64_t version,
                                               const std::string& raw_json) {
  WireStateResponse resp;
  Resource* r = FindResource(type_name, resp.diagnostics);
  if (!r) return resp;
  const Schema& schema = r->GetSchema();
  const Type& type = types_.at(type_name);
  if (version > schema.version) {
    resp.diagnostics.AddError("State written by a newer provider",
                              "The stored state of this " + type_name + " has schema version " +
                                  std::to_string(version) +
                                  ", but this provider knows only up to version " +
                                  std::to_string(schema.version) + ". Upgrade the provider.");
    return resp;
  }
  // Attributes removed from the schema are dropped; new ones start null.
  auto v = tftypes::DecodeJson(raw_json, type, /*ignore_unknown_attributes=*/true);
  if (!v.ok()) {
    resp.diagnostics.AddStatus(v.status(), "Stored state cannot be read");
    return resp;
  }
  resp.state = Encode(*v, type, resp.diagnostics);
  return resp;
}

WireStateResponse Server::ReadResource(const std::string& type_name, const WireValue& current_state,
                                       const std::string& private_data) {
  WireStateResponse resp;
  Resource* r = FindResource(type_name, resp.diagnostics);
  if (!r) return resp;
  const Type& type = types_.at(type_name);
  ReadRequest req;
  req.ctx = &ctx_;
  req.private_data = private_data;
  if (!DecodeInto(current_state, type, "state", req.current_state, resp.diagnostics)) return resp;
  ReadResponse out;
  out.state = req.current_state;
  out.private_data = private_data;
  if (!req.current_state.IsNull()) r->Read(req, out);
  resp.diagnostics.Append(out.diagnostics);
  if (auto at = FirstUnknown(out.state)) {
    resp.diagnostics.AddError("Provider bug: unknown value after refresh",
                              "The refreshed state of " + type_name +
                                  " holds an unknown value at " + at->ToString() + ".");
    out.state = UnknownsToNull(out.state);
  }
  resp.state = Encode(out.state, type, resp.diagnostics);
  resp.private_data = std::move(out.private_data);
  return resp;
}

WirePlanResponse Server::PlanResourceChange(const std::string& type_name,
                                            const WireValue& prior_state,
                                            const WireValue& proposed_new_state,
                                            const WireValue& config,
                                            const std::string& prior_private) {
  WirePlanResponse resp;
  resp.planned_private = prior_private;
  Resource* r = FindResource(type_name, resp.diagnostics);
  if (!r) return resp;
  const Block& block = r->GetSchema().block;
  const Type& type = types_.at(type_name);
  Value prior, proposed, cfg;
  if (!DecodeInto(prior_state, type, "prior state", prior, resp.diagnostics) ||
      !DecodeInto(proposed_new_state, type, "proposed state", proposed, resp.diagnostics) ||
      !DecodeInto(config, type, "configuration", cfg, resp.diagnostics)) {
    return resp;
  }
  if (proposed.IsNull()) {
    // Destroy: the plan must be null, the private data kept for apply.
    resp.planned_state = Encode(Value::Null(type), type, resp.diagnostics);
    PlanRequest req{
        .ctx = &ctx_, .prior_state = prior, .config = cfg, .prior_private = prior_private};
    r->ModifyDestroyPlan(req, resp.diagnostics);
    return resp;
  }
  Value planned = ApplyDefaults(block, cfg, proposed);
  std::vector<AttributePath> replace;
  FindReplacements(block, prior, planned, cfg, AttributePath(), replace);
  bool changed = prior.IsNull() || !(planned == prior);
  if (changed) planned = MarkComputed(block, cfg, prior, planned, !replace.empty());

  PlanRequest req;
  req.ctx = &ctx_;
  req.prior_state = prior;
  req.config = cfg;
  req.prior_private = prior_private;
  PlanResponse out;
  out.planned_state = std::move(planned);
  out.requires_replace = std::move(replace);
  out.planned_private = prior_private;
  r->ModifyPlan(req, out);

  resp.diagnostics.Append(out.diagnostics);
  resp.planned_state = Encode(out.planned_state, type, resp.diagnostics);
  resp.requires_replace = std::move(out.requires_replace);
  resp.planned_private = std::move(out.planned_private);
  return resp;
}

WireStateResponse Server::ApplyResourceChange(const std::string& type_name,
                                              const WireValue& prior_state,
                                              const WireValue& planned_state,
                                              const WireValue& config,
                                              const std::string& planned_private) {
  WireStateResponse resp;
  Resource* r = FindResource(type_name, resp.diagnostics);
  if (!r) return resp;
  const Type& type = types_.at(type_name);
  Value prior, planned, cfg;
  if (!DecodeInto(prior_state, type, "prior state", prior, resp.diagnostics) ||
      !DecodeInto(planned_state, type, "planned state", planned, resp.diagnostics) ||
      !DecodeInto(config, type, "configuration", cfg, resp.diagnostics)) {
    return resp;
  }

  if (planned.IsNull()) {
    log::Debug("delete", {{"type", type_name}});
    DeleteRequest req{&ctx_, prior, planned_private};
    Diagnostics diags;
    r->Delete(req, diags);
    resp.diagnostics.Append(diags);
    // A failed delete keeps the object in state so nothing is forgotten.
    resp.state = Encode(diags.HasError() ? prior : Value::Null(type), type, resp.diagnostics);
    resp.private_data = planned_private;
    return resp;
  }

  ApplyResponse out;
  out.state = planned;
  out.private_data = planned_private;
  if (prior.IsNull()) {
    log::Debug("create", {{"type", type_name}});
    r->Create(CreateRequest{&ctx_, cfg, planned, planned_private}, out);
  } else {
    log::Debug("update", {{"type", type_name}});
    r->Update(UpdateRequest{&ctx_, prior, cfg, planned, planned_private}, out);
  }
  resp.diagnostics.Append(out.diagnostics);
  if (auto at = FirstUnknown(out.state)) {
    if (!out.diagnostics.HasError()) {
      resp.diagnostics.AddError(
          "Provider bug: unknown value after apply",
          "The new state of " + type_name + " still holds an unknown at " + at->ToString() + ".");
    }
    out.state = UnknownsToNull(out.state);
  }
  resp.state = Encode(out.state, type, resp.diagnostics);
  resp.private_data = std::move(out.private_data);
  return resp;
}

std::vector<WireImportResponse> Server::ImportResourceState(const std::string& type_name,
                                                            const std::string& id,
                                                            Diagnostics& diags) {
  std::vector<WireImportResponse> out;
  Resource* r = FindResource(type_name, diags);
  if (!r) return out;
  const Type& type = types_.at(type_name);
  ImportResponse resp;
  resp.state = Value::Object(type, {});
  r->ImportState(ctx_, id, resp);
  diags.Append(resp.diagnostics);
  if (resp.diagnostics.HasError()) return out;
  WireImportResponse item;
  item.type_name = type_name;
  item.state = Encode(UnknownsToNull(resp.state), type, diags);
  item.private_data = std::move(resp.private_data);
  out.push_back(std::move(item));
  return out;
}

WireStateResponse Server::ReadDataSource(const std::string& type_name, const WireValue& config) {
  WireStateResponse resp;
  DataSource* d = FindDataSource(type_name, resp.diagnostics);
  if (!d) return resp;
  const Type& type = data_types_.at(type_name);
  DataSourceReadRequest req;
  req.ctx = &ctx_;
  if (!DecodeInto(config, type, "configuration", req.config, resp.diagnostics)) return resp;
  DataSourceReadResponse out;
  out.state = req.config;
  d->Read(req, out);
  resp.diagnostics.Append(out.diagnostics);
  if (auto at = FirstUnknown(out.state)) {
    if (!out.diagnostics.HasError()) {
      resp.diagnostics.AddError(
          "Provider bug: unknown value in data source",
          "The result of " + type_name + " holds an unknown at " + at->ToString() + ".");
    }
    out.state = UnknownsToNull(out.state);
  }
  resp.state = Encode(out.state, type, resp.diagnostics);
  return resp;
}

void Server::Stop() {
  log::Info("stop requested: cancelling in-flight work");
  ctx_.Cancel();
}

}  // namespace pvek8s::framework
