// Attribute paths: where in a value a diagnostic or a replacement applies.
#ifndef PROVIDER_TFTYPES_PATH_H_
#define PROVIDER_TFTYPES_PATH_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pvek8s::tftypes {

struct PathStep {
  enum class Kind { kAttribute, kKeyString, kKeyInt };
  Kind kind = Kind::kAttribute;
  std::string name;  // attribute name or string key
  int64_t index = 0;

  friend bool operator==(const PathStep&, const PathStep&) = default;
};

// An immutable-style path; the builders return extended copies.
class AttributePath {
 public:
  AttributePath() = default;
  // A one-step path naming a top-level attribute.
  explicit AttributePath(std::string attribute) {
    Push({PathStep::Kind::kAttribute, std::move(attribute), 0});
  }

  AttributePath Attr(std::string name) const;
  AttributePath Key(std::string key) const;
  AttributePath Index(int64_t index) const;

  const std::vector<PathStep>& steps() const { return steps_; }
  bool empty() const { return steps_.empty(); }

  // HCL-like text: cpu.cores, network[0].bridge, tags["a"].
  std::string ToString() const;

  friend bool operator==(const AttributePath&, const AttributePath&) = default;

 private:
  void Push(PathStep step) { steps_.push_back(std::move(step)); }
  std::vector<PathStep> steps_;
};

}  // namespace pvek8s::tftypes

#endif  // PROVIDER_TFTYPES_PATH_H_
