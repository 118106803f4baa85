// The ownership marker pvek8s writes as the last line of a VM's description:
// which resource made the VM, from which template, and whether its create is
// still unfinished (ADR 0004).
#ifndef PROVIDER_RESOURCES_K8S_NODE_MARKER_H_
#define PROVIDER_RESOURCES_K8S_NODE_MARKER_H_

#include <optional>
#include <string>
#include <vector>

namespace pvek8s::resources {

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
  // The optional blocks (cpu, disk) the configuration that made or last
  // changed the VM wrote, so that an import with that configuration fills
  // exactly those (ADR 0006). nullopt in markers written before 0.2.0.
  std::optional<std::vector<std::string>> blocks;
  // The configuration's `target_nodes` (empty when it sets `target_node`),
  // which an import cannot read from Proxmox either.
  std::vector<std::string> target_nodes;
};

// "[pvek8s] owner=...;template=...;role=...;full=1[;blocks=cpu,disk][;nodes=pve1,pve2]
// [;pending=1;origin=...]".
std::string FormatMarker(const OwnerMarker& m);

// Splits a description into the user's text and our marker, if any. A marker
// without an owner is no marker.
std::optional<OwnerMarker> ParseMarker(const std::string& description, std::string* user_text);

// The user's text, a blank line, and the marker.
std::string DescriptionWithMarker(const std::string& user_text, const OwnerMarker& m);

// Who asked for a VM named `vm_name`: a short digest of this machine's host
// name, the working directory Terraform runs the provider in, and the name.
// Stable across runs of the same configuration, different for another
// checkout or machine, so an interrupted create is resumed only by its own
// configuration.
std::string CreateOrigin(const std::string& vm_name);

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_K8S_NODE_MARKER_H_
