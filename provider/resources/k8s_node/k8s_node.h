// proxmox_k8s_node: one Kubernetes node VM cloned from a cloud-init template.
#ifndef PROVIDER_RESOURCES_K8S_NODE_K8S_NODE_H_
#define PROVIDER_RESOURCES_K8S_NODE_K8S_NODE_H_

#include <memory>

#include "provider/framework/resource.h"
#include "provider/resources/provider_data.h"

namespace pvek8s::resources {

std::unique_ptr<framework::Resource> NewK8sNodeResource(ProviderData* data);

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_K8S_NODE_K8S_NODE_H_
