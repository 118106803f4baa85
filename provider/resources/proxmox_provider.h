// The proxmox provider: its configuration and the resources it offers.
#ifndef PROVIDER_RESOURCES_PROXMOX_PROVIDER_H_
#define PROVIDER_RESOURCES_PROXMOX_PROVIDER_H_

#include <memory>

#include "provider/framework/resource.h"
#include "provider/resources/provider_config.h"

namespace pvek8s::resources {

// The provider version reported in logs and docs.
inline constexpr char kProviderVersion[] = "0.1.0";

// A new provider; `env` is where PROXMOX_VE_* settings are looked up.
std::unique_ptr<framework::Provider> NewProxmoxProvider(EnvLookup env = ProcessEnv());

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_PROXMOX_PROVIDER_H_
