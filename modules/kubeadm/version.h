// Kubernetes versions and kubeadm's upgrade rules, as the gcid.k8s upgrade
// module applies them before running anything: no downgrade, one minor version
// at a time, the control plane before the other nodes, and a kubeadm binary of
// the target version (the package is upgraded first).
#ifndef MODULES_KUBEADM_VERSION_H_
#define MODULES_KUBEADM_VERSION_H_

#include <compare>
#include <optional>
#include <string>
#include <string_view>

#include "provider/base/status.h"

namespace pvek8s::kubeadm {

// A release version major.minor.patch; pre-release and build suffixes are not
// kept (the module refuses them as targets).
struct Version {
  int major = 0;
  int minor = 0;
  int patch = 0;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy misreads the defaulted <=>.
  auto operator<=>(const Version&) const = default;
  // "v1.27.3".
  std::string ToString() const;
};

// Parses "v1.27.3" or "1.27.3", ignoring trailing space. With `lenient`, a
// suffix after the patch ("-rc.1", "+build", kubeadm's "v1.27.3-1+abc") is
// ignored, as for versions a node reports; without it the text must be exactly
// a release version, as for the `version` option. nullopt when malformed.
std::optional<Version> ParseVersion(std::string_view text, bool lenient = false);

// Which upgrade kubeadm_upgrade is asked for.
enum class UpgradeMode { kApply, kNode };

// What is known before anything runs. `cluster` is the control plane's
// version (kubeadm-config's kubernetesVersion); `kubeadm` the node's kubeadm
// binary.
struct UpgradeFacts {
  UpgradeMode mode = UpgradeMode::kApply;
  Version target;
  Version cluster;
  Version kubeadm;
};

// Ok when the upgrade may run (or is already done), else kFailedPrecondition
// with a message that says what to do:
// - a target older than the control plane (downgrade; in mode node: the node
//   would be set to the control plane's version, so pass that);
// - mode apply to a minor version more than one above the control plane's
//   (kubeadm upgrades one minor version at a time; names the next one);
// - mode node to a version the control plane does not run yet (run mode apply
//   on the first control-plane node first);
// - a kubeadm binary whose version is not the target (upgrade the package).
// The checks run in that order: the first that fails is reported.
Status CheckUpgrade(const UpgradeFacts& facts);

}  // namespace pvek8s::kubeadm

#endif  // MODULES_KUBEADM_VERSION_H_
