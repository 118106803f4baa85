// Typed calls below /pools.
#ifndef PROVIDER_PVE_POOLS_H_
#define PROVIDER_PVE_POOLS_H_

#include <string>

#include "provider/base/status.h"
#include "provider/pve/client.h"

namespace pvek8s::pve {

// GET /pools?poolid=ID: OK when the pool exists, kNotFound when it does not.
// Asked by id because a listing shows only the pools the caller may audit.
Status CheckPool(Client& client, const std::string& pool);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_POOLS_H_
