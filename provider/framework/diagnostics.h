// Diagnostics: what the user sees when something is wrong, with the attribute
// it is about. Every user-facing failure travels as a diagnostic, never as a
// gRPC error.
#ifndef PROVIDER_FRAMEWORK_DIAGNOSTICS_H_
#define PROVIDER_FRAMEWORK_DIAGNOSTICS_H_

#include <optional>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/tftypes/path.h"

namespace pvek8s::framework {

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string summary;
  std::string detail;
  std::optional<tftypes::AttributePath> path;
};

class Diagnostics {
 public:
  void AddError(std::string summary, std::string detail,
                std::optional<tftypes::AttributePath> path = std::nullopt);
  void AddWarning(std::string summary, std::string detail,
                  std::optional<tftypes::AttributePath> path = std::nullopt);
  // An error whose detail is the status message.
  void AddStatus(const Status& status, std::string summary,
                 std::optional<tftypes::AttributePath> path = std::nullopt);
  void Append(const Diagnostics& other);

  bool HasError() const;
  bool empty() const { return items_.empty(); }
  const std::vector<Diagnostic>& items() const { return items_; }

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace pvek8s::framework

#endif  // PROVIDER_FRAMEWORK_DIAGNOSTICS_H_
