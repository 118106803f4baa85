// What provider, resource and data source authors implement. Nothing here
// knows about protobuf or gRPC; values are tftypes::Value objects shaped by
// the author's own schema.
#ifndef PROVIDER_FRAMEWORK_RESOURCE_H_
#define PROVIDER_FRAMEWORK_RESOURCE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "provider/framework/diagnostics.h"
#include "provider/framework/schema.h"
#include "provider/tftypes/value.h"

namespace pvek8s::framework {

// Shared by every call of one provider process. StopProvider sets `stop`;
// long-running work polls Cancelled() and returns promptly with what it has.
class Context {
 public:
  Context() : stop_(std::make_shared<std::atomic<bool>>(false)) {}
  bool Cancelled() const { return stop_->load(); }
  void Cancel() const { stop_->store(true); }

 private:
  std::shared_ptr<std::atomic<bool>> stop_;
};

struct PlanRequest {
  const Context* ctx = nullptr;
  tftypes::Value prior_state;  // null on create
  tftypes::Value config;
  std::string prior_private;
};

struct PlanResponse {
  // Starts as the framework's plan (config merged with prior state, defaults
  // applied, computed values unknown where they may change). The resource may
  // refine it; configured values must stay as configured.
  tftypes::Value planned_state;
  std::vector<tftypes::AttributePath> requires_replace;
  std::string planned_private;
  Diagnostics diagnostics;
};

struct CreateRequest {
  const Context* ctx = nullptr;
  tftypes::Value config;
  tftypes::Value planned_state;
  std::string planned_private;
};

struct UpdateRequest {
  const Context* ctx = nullptr;
  tftypes::Value prior_state;
  tftypes::Value config;
  tftypes::Value planned_state;
  std::string planned_private;
};

struct DeleteRequest {
  const Context* ctx = nullptr;
  tftypes::Value prior_state;
  std::string planned_private;
};

// Result of Create and Update: the new state must have every unknown of the
// plan resolved and every known planned value unchanged. On failure, leave in
// `state` what exists (null when nothing was made) so Terraform tracks it.
struct ApplyResponse {
  tftypes::Value state;
  std::string private_data;
  Diagnostics diagnostics;
};

struct ReadRequest {
  const Context* ctx = nullptr;
  tftypes::Value current_state;
  std::string private_data;
};

// Set `state` to null when the object no longer exists.
struct ReadResponse {
  tftypes::Value state;
  std::string private_data;
  Diagnostics diagnostics;
};

struct ImportResponse {
  // A state of the resource's type; at least what Read needs. The framework
  // starts it as an object with every attribute null.
  tftypes::Value state;
  std::string private_data;
  Diagnostics diagnostics;
};

// The contract between the framework's Server and a resource:
//
// Concurrency. Terraform runs up to `-parallelism` (default 10) operations at
// once, each on its own gRPC thread, against ONE Resource object per type: Create,
// Read, Update, Delete, ModifyPlan and ImportState of different instances
// run concurrently and must guard any state they share. GetSchema,
// TypeName and ValidateConfig may run concurrently with everything.
//
// Values. `config` holds exactly what the user wrote: null where an optional
// attribute is left out, unknown where it depends on something not yet
// applied (at validate and plan; never at apply). `prior_state` is null on
// create and wholly known otherwise. The plan the framework hands to
// ModifyPlan has defaults applied; requires-replace (the schema's
// `requires_replace` and `requires_replace_if`) is already decided, and,
// when the object changes, computed attributes the config leaves null are
// unknown ("known after apply"), except `use_state_for_unknown` ones in an
// in-place update, which keep their prior value. A resource never needs to
// mark values unknown because of a replacement.
//
// After apply the Server checks what Terraform would reject: a state of
// Create or Update that still holds unknowns is refused (an error naming the
// first such attribute; the unknowns are saved as null so that what exists is
// kept). Terraform itself then checks that every known planned value came
// back unchanged.
class Resource {
 public:
  virtual ~Resource() = default;

  virtual std::string TypeName() const = 0;
  virtual const Schema& GetSchema() const = 0;

  // Cross-attribute checks beyond per-attribute validators. `config` may hold
  // unknowns; skip what cannot be judged yet.
  virtual void ValidateConfig(const tftypes::Value& config, Diagnostics& diags) const {
    (void)config;
    (void)diags;
  }
  // Refines the framework's plan; not called for destroy. May add paths to
  // `requires_replace` (the framework's unknown marking has run already: a
  // replacement decided only here must mark what it changes itself; prefer
  // `requires_replace_if` in the schema).
  virtual void ModifyPlan(const PlanRequest& req, PlanResponse& resp) const {
    (void)req;
    (void)resp;
  }
  // Called for a destroy plan instead (req.config and the plan are null): it
  // may only add diagnostics, e.g. a warning about what the delete will meet.
  virtual void ModifyDestroyPlan(const PlanRequest& req, Diagnostics& diags) const {
    (void)req;
    (void)diags;
  }
  virtual void Create(const CreateRequest& req, ApplyResponse& resp) = 0;
  virtual void Read(const ReadRequest& req, ReadResponse& resp) = 0;
  virtual void Update(const UpdateRequest& req, ApplyResponse& resp) = 0;
  virtual void Delete(const DeleteRequest& req, Diagnostics& diags) = 0;
  // Default: import is not supported, said in an error diagnostic.
  virtual void ImportState(const Context& ctx, const std::string& id, ImportResponse& resp);
};

struct DataSourceReadRequest {
  const Context* ctx = nullptr;
  tftypes::Value config;
};

struct DataSourceReadResponse {
  // Starts as the config; fill every computed attribute.
  tftypes::Value state;
  Diagnostics diagnostics;
};

class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual std::string TypeName() const = 0;
  virtual const Schema& GetSchema() const = 0;
  virtual void ValidateConfig(const tftypes::Value& config, Diagnostics& diags) const {
    (void)config;
    (void)diags;
  }
  virtual void Read(const DataSourceReadRequest& req, DataSourceReadResponse& resp) = 0;
};

class Provider {
 public:
  virtual ~Provider() = default;
  // The provider's local name, e.g. "proxmox"; every type name starts with it.
  virtual std::string TypeName() const = 0;
  virtual const Schema& GetSchema() const = 0;
  virtual void ValidateConfig(const tftypes::Value& config, Diagnostics& diags) const {
    (void)config;
    (void)diags;
  }
  // Called once per working process, before any resource call. Must not
  // contact remote systems: connect lazily when a resource needs it.
  virtual void Configure(const std::string& terraform_version, const tftypes::Value& config,
                         Diagnostics& diags) = 0;
  // Called once, after construction; the objects live as long as the provider.
  virtual std::vector<std::unique_ptr<Resource>> Resources() = 0;
  virtual std::vector<std::unique_ptr<DataSource>> DataSources() = 0;
};

}  // namespace pvek8s::framework

#endif  // PROVIDER_FRAMEWORK_RESOURCE_H_
