#include "provider/framework/diagnostics.h"

namespace pvek8s::framework {

void Diagnostics::AddError(std::string summary, std::string detail,
                           std::optional<tftypes::AttributePath> path) {
  items_.push_back(
      {Diagnostic::Severity::kError, std::move(summary), std::move(detail), std::move(path)});
}

void Diagnostics::AddWarning(std::string summary, std::string detail,
                             std::optional<tftypes::AttributePath> path) {
  items_.push_back(
      {Diagnostic::Severity::kWarning, std::move(summary), std::move(detail), std::move(path)});
}

void Diagnostics::AddStatus(const Status& status, std::string summary,
                            std::optional<tftypes::AttributePath> path) {
  if (status.ok()) return;
  AddError(std::move(summary), status.message(), std::move(path));
}

void Diagnostics::Append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

bool Diagnostics::HasError() const {
  for (const auto& d : items_) {
    if (d.severity == Diagnostic::Severity::kError) return true;
  }
  return false;
}

}  // namespace pvek8s::framework
