#include "provider/resources/k8s_node/private_data.h"

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

namespace pvek8s::resources::node {

using nlohmann::json;

BootId BootId::Of(const pve::VmStatus& status) {
  BootId b;
  if (status.pid != 0 && status.uptime) {
    b.pid = status.pid;
    b.started = static_cast<int64_t>(std::time(nullptr)) - *status.uptime;
  }
  return b;
}

bool BootId::Same(const BootId& o) const {
  return pid != 0 && pid == o.pid && std::llabs(started - o.started) <= 5;
}

PrivateData PrivateData::Parse(const std::string& bytes) {
  PrivateData p;
  auto j = json::parse(bytes, nullptr, false);
  if (!j.is_object()) return p;
  auto str = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  auto num = [&](const char* k) {
    return j.contains(k) && j[k].is_number_integer() ? j[k].get<int64_t>() : int64_t{0};
  };
  p.owner = str("owner");
  p.imported = j.contains("imported") && j["imported"].is_boolean() && j["imported"].get<bool>();
  p.ip_boot.pid = num("ip_pid");
  p.ip_boot.started = num("ip_started");
  return p;
}

std::string PrivateData::Dump() const {
  json j{{"owner", owner}};
  if (imported) j["imported"] = true;
  if (ip_boot.pid != 0) {
    j["ip_pid"] = ip_boot.pid;
    j["ip_started"] = ip_boot.started;
  }
  return j.dump();
}

}  // namespace pvek8s::resources::node
