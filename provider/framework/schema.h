// Schemas as resource authors write them: attributes with their behaviour
// (required/optional/computed, validators, defaults, plan modifiers), and
// nested blocks.
#ifndef PROVIDER_FRAMEWORK_SCHEMA_H_
#define PROVIDER_FRAMEWORK_SCHEMA_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "provider/framework/diagnostics.h"
#include "provider/tftypes/path.h"
#include "provider/tftypes/type.h"
#include "provider/tftypes/value.h"

namespace pvek8s::framework {

// Checks one configured value. Called only when the value is known and not
// null; reports problems at `path`.
using Validator = std::function<void(const tftypes::Value& value,
                                     const tftypes::AttributePath& path, Diagnostics& diags)>;

struct Attribute {
  std::string name;
  tftypes::Type type;
  // Shown in docs and editors. Every attribute must have one (a test checks).
  std::string description;
  bool required = false;
  bool optional = false;
  bool computed = false;
  bool sensitive = false;
  std::vector<Validator> validators;
  // Planned when the configuration leaves the attribute null. Needs
  // optional + computed.
  std::optional<tftypes::Value> default_value;
  // A change to this attribute replaces the resource.
  bool requires_replace = false;
  // A change to this attribute replaces the resource when this returns true.
  // Called at plan time, only when the attribute's planned value differs
  // from its prior value and the object exists; it sees the enclosing
  // block's prior, planned (defaults applied) and configured objects, which
  // may hold unknowns. Evaluated before computed attributes are marked
  // unknown, so a replacement plans them unknown without the resource's help.
  std::function<bool(const tftypes::Value& prior, const tftypes::Value& planned,
                     const tftypes::Value& config)>
      requires_replace_if;
  // While the resource is updated in place, a computed value keeps its prior
  // value instead of becoming "known after apply".
  bool use_state_for_unknown = false;
};

struct NestedBlock;

struct Block {
  std::vector<Attribute> attributes;
  std::vector<NestedBlock> blocks;
  std::string description;

  const Attribute* FindAttribute(const std::string& name) const;
  const NestedBlock* FindBlock(const std::string& name) const;
};

struct NestedBlock {
  enum class Nesting { kSingle, kList, kSet };
  std::string type_name;
  Nesting nesting = Nesting::kSingle;
  Block block;
  int64_t min_items = 0;
  int64_t max_items = 0;  // 0: unlimited
  // Any change inside the block replaces the resource.
  bool requires_replace = false;
  // A change inside the block replaces the resource when this returns true;
  // called like Attribute::requires_replace_if, with the objects of the
  // block that holds this one.
  std::function<bool(const tftypes::Value& prior, const tftypes::Value& planned,
                     const tftypes::Value& config)>
      requires_replace_if;
};

struct Schema {
  int64_t version = 0;
  Block block;
};

// The object type a block's values have on the wire.
tftypes::Type ImpliedType(const Block& block);

// Checks the rules Terraform expects of a schema but does not check itself:
// names match ^[a-z0-9_]+$, each attribute is exactly one of required /
// optional / computed / optional+computed, defaults need optional+computed,
// every attribute and block has a description. Returns one message per
// problem, naming it.
std::vector<std::string> CheckSchema(const Block& block, const std::string& where);

}  // namespace pvek8s::framework

#endif  // PROVIDER_FRAMEWORK_SCHEMA_H_
