// Typed calls below /access.
#ifndef PROVIDER_PVE_ACCESS_H_
#define PROVIDER_PVE_ACCESS_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "provider/base/status.h"
#include "provider/pve/client.h"

namespace pvek8s::pve {

// GET /access/permissions?path=PATH: the caller's own effective privileges
// on `path` (ACL path such as "/vms/100", "/storage/local-lvm"); empty when it
// has none there.
StatusOr<std::set<std::string>> GetPermissions(Client& client, const std::string& path);

// ACL paths: "/vms/ID" (or "/vms" for any VM), "/storage/ID", "/pool/ID".
std::string VmAclPath(std::optional<int64_t> vmid);
std::string StorageAclPath(const std::string& storage);
std::string PoolAclPath(const std::string& pool);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_ACCESS_H_
