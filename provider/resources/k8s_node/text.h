// Joining and splitting lists of words, as the node's Proxmox settings and
// the ownership marker write them.
#ifndef PROVIDER_RESOURCES_K8S_NODE_TEXT_H_
#define PROVIDER_RESOURCES_K8S_NODE_TEXT_H_

#include <string>
#include <string_view>
#include <vector>

namespace pvek8s::resources::node {

// The items separated by `sep`.
inline std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// The non-empty pieces of `s` between any of the characters in `seps`.
inline std::vector<std::string> Split(std::string_view s, std::string_view seps) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (seps.find(c) != std::string_view::npos) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_TEXT_H_
