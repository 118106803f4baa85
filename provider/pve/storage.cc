#include "provider/pve/storage.h"

#include <algorithm>

namespace pvek8s::pve {

Status CheckStorage(Client& client, const std::string& node, const std::string& storage) {
  auto st = client.Call("GET", "/nodes/" + node + "/storage/" + storage + "/status");
  return st.status();
}

StatusOr<StorageStatus> GetStorageStatus(Client& client, const std::string& node,
                                         const std::string& storage) {
  PVEK8S_ASSIGN_OR_RETURN(auto j,
                          client.Call("GET", "/nodes/" + node + "/storage/" + storage + "/status"));
  StorageStatus s;
  if (!j.is_object()) return s;
  s.avail = JsonInt(j.value("avail", nlohmann::json(0))).value_or(0);
  s.total = JsonInt(j.value("total", nlohmann::json(0))).value_or(0);
  s.shared = JsonInt(j.value("shared", nlohmann::json(0))).value_or(0) == 1;
  return s;
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
