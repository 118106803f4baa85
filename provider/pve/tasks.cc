#include "provider/pve/tasks.h"

namespace pvek8s::pve {

Status WaitForTask(Client& client, const std::string& upid,
                   std::chrono::steady_clock::time_point deadline, const std::string& what) {
  if (upid.rfind("UPID:", 0) != 0) return Status::Ok();
  auto left =
      std::chrono::duration_cast<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() < 1) left = std::chrono::seconds(1);
  return client.WaitTaskOk(upid, left, what);
}

StatusOr<std::vector<ActiveTask>> ListActiveTasks(Client& client, const std::string& node) {
  PVEK8S_ASSIGN_OR_RETURN(
      nlohmann::json list,
      client.Call("GET", "/nodes/" + node + "/tasks", {{"source", "active"}, {"limit", "500"}}));
  std::vector<ActiveTask> out;
  if (!list.is_array()) return out;
  for (const auto& t : list) {
    if (!t.is_object()) continue;
    out.push_back({JsonString(t.value("upid", nlohmann::json())),
                   JsonString(t.value("type", nlohmann::json())),
                   JsonString(t.value("id", nlohmann::json())),
                   JsonString(t.value("user", nlohmann::json()))});
  }
  return out;
}

}  // namespace pvek8s::pve
