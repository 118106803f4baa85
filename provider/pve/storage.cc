#include "provider/pve/storage.h"

#include <algorithm>

namespace pvek8s::pve {

Status CheckStorage(Client& client, const std::string& node, const std::string& storage) {
  auto st = client.Call("GET", "/nodes/" + node + "/storage/" + storage + "/status");
  return st.status();
}

StatusOr<std::vector<std::string>> ListStorages(Client& client, const std::string& node) {
  PVEK8S_ASSIGN_OR_RETURN(auto list, client.Call("GET", "/nodes/" + node + "/storage"));
  std::vector<std::string> out;
  if (list.is_array()) {
    for (const auto& s : list) out.push_back(JsonString(s.value("storage", nlohmann::json())));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pvek8s::pve
