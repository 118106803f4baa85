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

}  // namespace pvek8s::pve
