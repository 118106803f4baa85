// Typed calls below /access.
#ifndef PROVIDER_PVE_ACCESS_H_
#define PROVIDER_PVE_ACCESS_H_

#include <set>
#include <string>

#include "provider/base/status.h"
#include "provider/pve/client.h"

namespace pvek8s::pve {

// GET /access/permissions?path=PATH: the caller's own effective privileges
// on `path` (ACL path such as "/vms/100", "/storage/local-lvm"); empty when it
// has none there.
StatusOr<std::set<std::string>> GetPermissions(Client& client, const std::string& path);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_ACCESS_H_
