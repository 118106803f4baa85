#include "provider/resources/k8s_node/marker.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "provider/base/encoding.h"
#include "provider/resources/k8s_node/text.h"

namespace pvek8s::resources {
namespace {

constexpr char kMarkerPrefix[] = "[pvek8s] ";

}  // namespace

std::string FormatMarker(const OwnerMarker& m) {
  std::string out = std::string(kMarkerPrefix) + "owner=" + m.owner +
                    ";template=" + m.template_name + ";role=" + m.role +
                    ";full=" + (m.full_clone ? "1" : "0");
  if (m.blocks) out += ";blocks=" + node::Join(*m.blocks, ",");
  if (!m.target_nodes.empty()) out += ";nodes=" + node::Join(m.target_nodes, ",");
  if (m.pending) out += ";pending=1;origin=" + m.origin;
  return out;
}

std::string DescriptionWithMarker(const std::string& user_text, const OwnerMarker& m) {
  return (user_text.empty() ? "" : user_text + "\n\n") + FormatMarker(m);
}

std::string CreateOrigin(const std::string& vm_name) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  std::error_code ec;
  std::string cwd = std::filesystem::current_path(ec).string();
  std::string key = std::string(host) + '\0' + cwd + '\0' + vm_name;
  return HexEncode(Sha256(key)).substr(0, 16);
}

std::optional<OwnerMarker> ParseMarker(const std::string& description, std::string* user_text) {
  size_t pos = description.rfind(kMarkerPrefix);
  if (pos == std::string::npos || (pos != 0 && description[pos - 1] != '\n')) {
    *user_text = description;
    return std::nullopt;
  }
  std::string line = description.substr(pos + std::strlen(kMarkerPrefix));
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  OwnerMarker m;
  for (const auto& kv : node::Split(line, ";")) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string k = kv.substr(0, eq);
    std::string v = kv.substr(eq + 1);
    if (k == "owner") m.owner = v;
    if (k == "template") m.template_name = v;
    if (k == "role") m.role = v;
    if (k == "full") m.full_clone = v == "1";
    if (k == "pending") m.pending = v == "1";
    if (k == "origin") m.origin = v;
    if (k == "nodes") m.target_nodes = node::Split(v, ",");
    if (k == "blocks") m.blocks = v.empty() ? std::vector<std::string>{} : node::Split(v, ",");
  }
  std::string user = description.substr(0, pos);
  while (!user.empty() && user.back() == '\n') user.pop_back();
  *user_text = user;
  if (m.owner.empty()) return std::nullopt;
  return m;
}

}  // namespace pvek8s::resources
