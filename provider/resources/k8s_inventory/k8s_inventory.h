// proxmox_k8s_inventory: an Ansible inventory rendered from a cluster and its
// nodes, so nobody types an IP address by hand.
#ifndef PROVIDER_RESOURCES_K8S_INVENTORY_K8S_INVENTORY_H_
#define PROVIDER_RESOURCES_K8S_INVENTORY_K8S_INVENTORY_H_

#include <memory>
#include <nlohmann/json.hpp>

#include "provider/framework/resource.h"

namespace pvek8s::resources {

std::unique_ptr<framework::DataSource> NewK8sInventoryDataSource();

// Renders an Ansible inventory document (the JSON a dynamic inventory script
// prints, with _meta.hostvars) as YAML in the static-inventory layout.
std::string InventoryYaml(const nlohmann::json& inventory);

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_K8S_INVENTORY_K8S_INVENTORY_H_
