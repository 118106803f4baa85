#include "provider/pve/pools.h"

namespace pvek8s::pve {

Status CheckPool(Client& client, const std::string& pool) {
  return client.Call("GET", "/pools", {{"poolid", pool}}).status();
}

}  // namespace pvek8s::pve
