#include "provider/framework/schema.h"

#include <map>

namespace pvek8s::framework {

const Attribute* Block::FindAttribute(const std::string& name) const {
  for (const auto& a : attributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const NestedBlock* Block::FindBlock(const std::string& name) const {
  for (const auto& b : blocks) {
    if (b.type_name == name) return &b;
  }
  return nullptr;
}

tftypes::Type ImpliedType(const Block& block) {
  std::map<std::string, tftypes::Type> attrs;
  for (const auto& a : block.attributes) attrs.emplace(a.name, a.type);
  for (const auto& b : block.blocks) {
    tftypes::Type inner = ImpliedType(b.block);
    switch (b.nesting) {
      case NestedBlock::Nesting::kSingle:
        attrs.emplace(b.type_name, inner);
        break;
      case NestedBlock::Nesting::kList:
        attrs.emplace(b.type_name, tftypes::Type::List(inner));
        break;
      case NestedBlock::Nesting::kSet:
        attrs.emplace(b.type_name, tftypes::Type::Set(inner));
        break;
    }
  }
  return tftypes::Type::Object(std::move(attrs));
}

namespace {

bool ValidName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> CheckSchema(const Block& block, const std::string& where) {
  std::vector<std::string> problems;
  for (const auto& a : block.attributes) {
    std::string at = where + "." + a.name;
    if (!ValidName(a.name)) problems.push_back(at + ": invalid name");
    int kinds = (a.required ? 1 : 0) + ((a.optional || a.computed) ? 1 : 0);
    if (kinds != 1) problems.push_back(at + ": must be required, optional and/or computed");
    if (a.required && a.computed) problems.push_back(at + ": required and computed");
    if (a.default_value && !(a.optional && a.computed)) {
      problems.push_back(at + ": a default needs optional + computed");
    }
    if (a.description.empty()) problems.push_back(at + ": no description");
  }
  for (const auto& b : block.blocks) {
    std::string at = where + "." + b.type_name;
    if (!ValidName(b.type_name)) problems.push_back(at + ": invalid name");
    if (b.block.description.empty()) problems.push_back(at + ": block has no description");
    auto sub = CheckSchema(b.block, at);
    problems.insert(problems.end(), sub.begin(), sub.end());
  }
  return problems;
}

}  // namespace pvek8s::framework
