#include "provider/tftypes/path.h"

namespace pvek8s::tftypes {

AttributePath AttributePath::Attr(std::string name) const {
  AttributePath p = *this;
  p.Push({PathStep::Kind::kAttribute, std::move(name), 0});
  return p;
}

AttributePath AttributePath::Key(std::string key) const {
  AttributePath p = *this;
  p.Push({PathStep::Kind::kKeyString, std::move(key), 0});
  return p;
}

AttributePath AttributePath::Index(int64_t index) const {
  AttributePath p = *this;
  p.Push({PathStep::Kind::kKeyInt, "", index});
  return p;
}

std::string AttributePath::ToString() const {
  std::string out;
  for (const auto& step : steps_) {
    switch (step.kind) {
      case PathStep::Kind::kAttribute:
        if (!out.empty()) out += '.';
        out += step.name;
        break;
      case PathStep::Kind::kKeyString:
        out += "[\"" + step.name + "\"]";
        break;
      case PathStep::Kind::kKeyInt:
        out += "[" + std::to_string(step.index) + "]";
        break;
    }
  }
  return out;
}

}  // namespace pvek8s::tftypes
