// Typed calls below /nodes/{node}/storage.
#ifndef PROVIDER_PVE_STORAGE_H_
#define PROVIDER_PVE_STORAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/pve/client.h"

namespace pvek8s::pve {

// GET /nodes/{node}/storage/{storage}/status: OK when the storage exists on
// `node`; kNotFound when it does not. Asked by id because a listing shows
// only the storages the caller may use.
Status CheckStorage(Client& client, const std::string& node, const std::string& storage);

// GET /nodes/{node}/storage/{storage}/status read for its figures: what a
// migration's copy of local disks needs (`avail`, bytes) and whether the
// storage is shared (nothing is copied then). kNotFound as CheckStorage.
struct StorageStatus {
  int64_t avail = 0;
  int64_t total = 0;
  bool shared = false;
};
StatusOr<StorageStatus> GetStorageStatus(Client& client, const std::string& node,
                                         const std::string& storage);

// GET /nodes/{node}/storage: the ids of the storages the caller sees there,
// sorted.
StatusOr<std::vector<std::string>> ListStorages(Client& client, const std::string& node);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_STORAGE_H_
