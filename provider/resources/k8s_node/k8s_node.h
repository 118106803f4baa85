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
  // Set from the clone until Create has returned the VM to Terraform. A VM
  // still pending after its apply was killed was never saved in any state;
  // the next Create of the same VM name from the same working directory
  // (same `origin`, see CreateOrigin) adopts it instead of cloning again.
  bool pending = false;
  std::string origin;
};
std::string FormatMarker(const OwnerMarker& m);
// Splits a description into the user's text and our marker, if any.
std::optional<OwnerMarker> ParseMarker(const std::string& description, std::string* user_text);
// Who asked for a VM named `vm_name`: a short digest of this machine's host
// name, the working directory Terraform runs the provider in, and the name.
// Stable across runs of the same configuration, different for another
// checkout or machine, so an interrupted create is resumed only by its own
// configuration.
std::string CreateOrigin(const std::string& vm_name);

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_K8S_NODE_K8S_NODE_H_
