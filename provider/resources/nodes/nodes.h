// proxmox_nodes: the Proxmox VE nodes of the cluster, for placement.
#ifndef PROVIDER_RESOURCES_NODES_NODES_H_
#define PROVIDER_RESOURCES_NODES_NODES_H_

#include <memory>

#include "provider/framework/resource.h"
#include "provider/resources/provider_data.h"

namespace pvek8s::resources {

std::unique_ptr<framework::DataSource> NewNodesDataSource(ProviderData* data);

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_NODES_NODES_H_
