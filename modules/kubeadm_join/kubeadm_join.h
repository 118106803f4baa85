// gcid.k8s.kubeadm_join: joins a node to a kubeadm cluster, idempotently,
// always verifying the cluster CA, and never hanging silently.
//
// The join material (endpoint, bootstrap token, CA pin, certificate key) comes
// from the proxmox_k8s_cluster resource. The module refuses an expired token
// before calling kubeadm, writes a JoinConfiguration that pins the CA (never
// unsafeSkipCAVerification), bounds kubeadm with a deadline, and turns kubeadm's
// failures into one-line messages by class.
#ifndef MODULES_KUBEADM_JOIN_KUBEADM_JOIN_H_
#define MODULES_KUBEADM_JOIN_KUBEADM_JOIN_H_

#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modules/ansible/args.h"
#include "modules/ansible/module.h"
#include "provider/base/status.h"

namespace pvek8s::kubeadm {

// Where the module looks; tests point `root` at a directory tree and `kubeadm`
// at a stand-in.
struct JoinSystem {
  std::string root;  // Prefix of /etc/kubernetes paths ("" = /).
  std::string tmp_dir = "/tmp";
  std::time_t now = 0;  // 0: the real clock.

  // Real paths unless PVEK8S_KUBEADM_TEST_ROOT is set (tests only).
  static JoinSystem FromEnvironment();
};

inline constexpr const char* kJoinTestRootEnv = "PVEK8S_KUBEADM_TEST_ROOT";

// Why a join failed, as reported in `failure_class`.
enum class FailureClass {
  kNone,
  kTokenInvalid,  // Expired, deleted or mistyped bootstrap token.
  kCaMismatch,    // The cluster CA does not match ca_cert_hashes.
  kUnreachable,   // The API server endpoint cannot be reached.
  kPreflight,     // kubeadm preflight checks failed.
  kTimeout,       // kubeadm did not finish before `timeout`.
  kOther,
};
std::string_view FailureClassName(FailureClass c);

// The class of a failed `kubeadm join` from its output, the names of failed
// preflight checks (e.g. "FileAvailable--etc-kubernetes-kubelet.conf"), and
// whether the failure is a known partial-join signature that `kubeadm reset`
// cures.
struct Classified {
  FailureClass cls = FailureClass::kOther;
  std::vector<std::string> preflight_checks;
  bool partial_join = false;
};
Classified ClassifyFailure(std::string_view output);

// True for a bootstrap token "[a-z0-9]{6}.[a-z0-9]{16}".
bool IsBootstrapToken(std::string_view token);
// True for "host:port" with a DNS name, IPv4 or [IPv6] host and a port 1..65535.
bool IsEndpoint(std::string_view endpoint);
// Seconds since the epoch of an RFC 3339 UTC or offset time, e.g.
// "2026-12-01T10:00:00Z"; nullopt when malformed.
std::optional<std::time_t> ParseRfc3339(std::string_view text);
// The `server:` of a kubeconfig, without scheme ("10.0.0.1:6443"); nullopt if none.
std::optional<std::string> KubeconfigServer(std::string_view kubeconfig);

// The `taints` option as kubeadm's nodeRegistration.taints: each element is
// kubectl's "key[=value]:Effect" (the form proxmox_k8s_node and the inventory's
// k8s_node_taints use) or a mapping {key, value, effect}; Effect is NoSchedule,
// PreferNoSchedule or NoExecute. kInvalidArgument names the first bad element.
StatusOr<nlohmann::json> ParseTaints(const nlohmann::json& taints);

// Whether kubeadm `version` (e.g. "v1.31.2") reads kubeadm.k8s.io/v1beta4.
bool SupportsV1Beta4(std::string_view version);

// The JoinConfiguration for validated parameters, as JSON (which kubeadm reads
// as YAML). `v1beta4` selects the newer field layout.
nlohmann::json JoinConfiguration(const nlohmann::json& params,
                                 const std::vector<std::string>& ca_cert_hashes, bool v1beta4);

ansible::ArgSpec JoinSpec();
ansible::Result RunJoin(ansible::Module& module, const JoinSystem& system);

}  // namespace pvek8s::kubeadm

#endif  // MODULES_KUBEADM_JOIN_KUBEADM_JOIN_H_
