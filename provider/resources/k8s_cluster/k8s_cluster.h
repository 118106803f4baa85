// proxmox_k8s_cluster: a Kubernetes cluster's identity (CA, bootstrap token,
// CA hash, certificate key, kubeadm configuration), made locally so nodes can
// join without anyone copying secrets around. It calls no remote API.
#ifndef PROVIDER_RESOURCES_K8S_CLUSTER_K8S_CLUSTER_H_
#define PROVIDER_RESOURCES_K8S_CLUSTER_K8S_CLUSTER_H_

#include <chrono>
#include <functional>
#include <memory>

#include "provider/framework/resource.h"

namespace pvek8s::resources {

using Clock = std::function<std::chrono::system_clock::time_point()>;

// `clock` supplies "now" for token expiry (tests pass a fixed one).
std::unique_ptr<framework::Resource> NewK8sClusterResource(Clock clock = nullptr);

// The kubeadm API version for a Kubernetes version: v1beta4 from 1.31 on,
// v1beta3 before.
std::string KubeadmApiVersion(const std::string& kubernetes_version);

// Formats a time as RFC 3339 in UTC with seconds ("2026-11-30T04:00:00Z").
std::string FormatRfc3339(std::chrono::system_clock::time_point t);
// Parses what FormatRfc3339 writes (and offsets like +02:00).
std::optional<std::chrono::system_clock::time_point> ParseRfc3339(const std::string& text);

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_K8S_CLUSTER_K8S_CLUSTER_H_
