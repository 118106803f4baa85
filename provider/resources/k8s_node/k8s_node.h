// proxmox_k8s_node: one Kubernetes node VM cloned from a cloud-init template,
// with the data sources that help place it (proxmox_nodes,
// proxmox_vm_template).
#ifndef PROVIDER_RESOURCES_K8S_NODE_K8S_NODE_H_
#define PROVIDER_RESOURCES_K8S_NODE_K8S_NODE_H_

#include <memory>
#include <string>

#include "provider/framework/resource.h"
#include "provider/resources/provider_data.h"

namespace pvek8s::resources {

std::unique_ptr<framework::Resource> NewK8sNodeResource(ProviderData* data);
std::unique_ptr<framework::DataSource> NewNodesDataSource(ProviderData* data);
std::unique_ptr<framework::DataSource> NewVmTemplateDataSource(ProviderData* data);

// The ownership marker written as the last line of a VM's description.
struct OwnerMarker {
  std::string owner;  // random id of the Terraform resource that made the VM
  std::string template_name;
  std::string role;
  bool full_clone = true;
};
std::string FormatMarker(const OwnerMarker& m);
// Splits a description into the user's text and our marker, if any.
std::optional<OwnerMarker> ParseMarker(const std::string& description, std::string* user_text);

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_K8S_NODE_K8S_NODE_H_
