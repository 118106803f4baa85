// gcid.k8s.kubeadm_init: initialises the first control-plane node with the CA
// and bootstrap token that the proxmox_k8s_cluster resource owns, idempotently,
// and returns the join material computed locally.
#ifndef MODULES_KUBEADM_INIT_KUBEADM_INIT_H_
#define MODULES_KUBEADM_INIT_KUBEADM_INIT_H_

#include <nlohmann/json.hpp>
#include <string>

#include "modules/ansible/args.h"
#include "modules/ansible/module.h"
#include "modules/kubeadm/kubeadm.h"

namespace pvek8s::kubeadm {

// The module's options.
ansible::ArgSpec InitSpec();

// The InitConfiguration and ClusterConfiguration for validated parameters, as
// a two-document YAML text whose documents are JSON. `extra_config` entries
// `init` and `cluster` are merged (JSON merge patch) into the two documents.
std::string InitConfigurationText(const nlohmann::json& params, bool v1beta4);

// Runs the module. `system.root` prefixes /etc/kubernetes. The returned
// api_server_endpoint is control_plane_endpoint, else advertise_address:6443,
// else the server of admin.conf; ca_cert_hashes is the pin of the cluster CA.
ansible::Result RunInit(ansible::Module& module, const System& system);

}  // namespace pvek8s::kubeadm

#endif  // MODULES_KUBEADM_INIT_KUBEADM_INIT_H_
