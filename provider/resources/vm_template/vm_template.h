// proxmox_vm_template: which nodes hold a template, its vmids and disk size.
#ifndef PROVIDER_RESOURCES_VM_TEMPLATE_VM_TEMPLATE_H_
#define PROVIDER_RESOURCES_VM_TEMPLATE_VM_TEMPLATE_H_

#include <memory>

#include "provider/framework/resource.h"
#include "provider/resources/provider_data.h"

namespace pvek8s::resources {

std::unique_ptr<framework::DataSource> NewVmTemplateDataSource(ProviderData* data);

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_VM_TEMPLATE_VM_TEMPLATE_H_
