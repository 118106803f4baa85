// Finding a cloud-init template in the cluster: the one matcher that
// proxmox_k8s_node (apply and plan checks) and proxmox_vm_template share.
#ifndef PROVIDER_RESOURCES_TEMPLATES_H_
#define PROVIDER_RESOURCES_TEMPLATES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "provider/base/status.h"
#include "provider/pve/client.h"
#include "provider/pve/qemu.h"

namespace pvek8s::resources {

// A copy of a template on one node.
struct TemplateRef {
  std::string node;
  int64_t vmid = 0;
  std::string name;
};

// Whether `vm` is the template `tmpl` names: its vmid when `tmpl` is all
// digits, else its name.
bool IsTemplate(const pve::VmSummary& vm, const std::string& tmpl);

// The copies of `tmpl` among `vms` of `node`, appended to `out`.
void CollectTemplates(const std::string& node, const std::vector<pve::VmSummary>& vms,
                      const std::string& tmpl, std::vector<TemplateRef>& out);

// kNotFound "no template "X" on any online node".
Status TemplateNotFound(const std::string& tmpl);

// The size in bytes of the template's boot disk (from its config; the
// listing's maxdisk when the config says nothing), which is the smallest
// disk a clone may have. nullopt when Proxmox cannot tell.
std::optional<int64_t> TemplateDiskBytes(pve::Client& client, const TemplateRef& tmpl,
                                         int64_t maxdisk = 0);

// The detail of the error when `size` is smaller than the template's boot
// disk (clones can only grow); nullopt when it fits or cannot be judged.
std::optional<std::string> DiskTooSmall(pve::Client& client, const TemplateRef& tmpl,
                                        const std::string& size);

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_TEMPLATES_H_
