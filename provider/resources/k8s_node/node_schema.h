// proxmox_k8s_node's schema: attributes, validators, defaults (from
// node_model.h) and which changes replace the VM.
#ifndef PROVIDER_RESOURCES_K8S_NODE_NODE_SCHEMA_H_
#define PROVIDER_RESOURCES_K8S_NODE_NODE_SCHEMA_H_

#include "provider/framework/schema.h"

namespace pvek8s::resources::node {

framework::Schema NodeSchema();

}  // namespace pvek8s::resources::node

#endif  // PROVIDER_RESOURCES_K8S_NODE_NODE_SCHEMA_H_
