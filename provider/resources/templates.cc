#include "provider/resources/templates.h"

#include "provider/pve/propstring.h"
#include "provider/pve/qemu.h"

namespace pvek8s::resources {

bool IsTemplate(const pve::VmSummary& vm, const std::string& tmpl) {
  bool numeric = !tmpl.empty() && tmpl.find_first_not_of("0123456789") == std::string::npos;
  return vm.template_ && (numeric ? std::to_string(vm.vmid) == tmpl : vm.name == tmpl);
}

void CollectTemplates(const std::string& node, const std::vector<pve::VmSummary>& vms,
                      const std::string& tmpl, std::vector<TemplateRef>& out) {
  for (const auto& vm : vms) {
    if (IsTemplate(vm, tmpl)) out.push_back({node, vm.vmid, vm.name});
  }
}

Status TemplateNotFound(const std::string& tmpl) {
  return NotFoundError("no template \"" + tmpl + "\" on any online node");
}

std::optional<int64_t> TemplateDiskBytes(pve::Client& client, const TemplateRef& tmpl,
                                         int64_t maxdisk) {
  auto conf = pve::GetVmConfig(client, {tmpl.node, tmpl.vmid});
  if (conf.ok() && conf->boot_disk) {
    auto size = pve::ParseSize(conf->boot_disk->Size());
    if (size.ok()) return *size;
  }
  if (maxdisk > 0) return maxdisk;
  return std::nullopt;
}

std::optional<std::string> DiskTooSmall(pve::Client& client, const TemplateRef& tmpl,
                                        const std::string& size) {
  auto want = pve::ParseSize(size);
  if (!want.ok()) return std::nullopt;
  auto have = TemplateDiskBytes(client, tmpl);
  if (!have || *want >= *have) return std::nullopt;
  return "disk.size " + size + " is smaller than the disk of template \"" + tmpl.name + "\" (" +
         pve::FormatSize(*have) + "); disks can only grow. Use at least " + pve::FormatSize(*have) +
         ".";
}

}  // namespace pvek8s::resources
