#include "modules/kubeadm/version.h"

#include <cctype>

namespace pvek8s::kubeadm {
namespace {

// Reads a decimal number without sign or leading zeros (as Kubernetes
// versions are written) from the front of `text`; nullopt if there is none.
std::optional<int> TakeNumber(std::string_view& text) {
  size_t n = 0;
  while (n < text.size() && std::isdigit(static_cast<unsigned char>(text[n]))) ++n;
  if (n == 0 || n > 6 || (n > 1 && text[0] == '0')) return std::nullopt;
  int value = 0;
  for (size_t i = 0; i < n; ++i) value = value * 10 + (text[i] - '0');
  text.remove_prefix(n);
  return value;
}

std::string Minor(const Version& v) {
  return "v" + std::to_string(v.major) + "." + std::to_string(v.minor);
}

}  // namespace

std::string Version::ToString() const {
  return "v" + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::optional<Version> ParseVersion(std::string_view text, bool lenient) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  if (!text.empty() && text[0] == 'v') text.remove_prefix(1);
  Version v;
  int* parts[] = {&v.major, &v.minor, &v.patch};
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (text.empty() || text[0] != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    std::optional<int> n = TakeNumber(text);
    if (!n) return std::nullopt;
    *parts[i] = *n;
  }
  if (!text.empty() && !(lenient && (text[0] == '-' || text[0] == '+'))) return std::nullopt;
  return v;
}

Status CheckUpgrade(const UpgradeFacts& f) {
  const std::string target = f.target.ToString();
  const std::string cluster = f.cluster.ToString();
  if (f.target < f.cluster) {
    if (f.mode == UpgradeMode::kNode) {
      return FailedPreconditionError(
          "version " + target + " is older than the control plane's " + cluster +
          ": kubeadm upgrade node brings this node to the control plane's version; pass "
          "version: " +
          cluster);
    }
    return FailedPreconditionError("version " + target + " is older than the control plane's " +
                                   cluster +
                                   ": kubeadm does not downgrade; restore the control plane from "
                                   "a backup instead, or pass version: " +
                                   cluster + " or newer");
  }
  const bool same_minor = f.target.major == f.cluster.major && f.target.minor == f.cluster.minor;
  if (f.mode == UpgradeMode::kApply && !same_minor &&
      !(f.target.major == f.cluster.major && f.target.minor == f.cluster.minor + 1)) {
    Version next{f.cluster.major, f.cluster.minor + 1, 0};
    return FailedPreconditionError(
        "version " + target + " skips a minor version: the control plane is at " + cluster +
        " and kubeadm upgrades one minor version at a time; upgrade to the latest " + Minor(next) +
        ".x first, then to " + target);
  }
  if (f.mode == UpgradeMode::kNode && f.target != f.cluster) {
    return FailedPreconditionError(
        "version " + target + " is ahead of the control plane, which is at " + cluster +
        ": upgrade the control plane first (mode: apply on the first control-plane node), then "
        "run mode: node on the other nodes");
  }
  if (f.kubeadm != f.target) {
    return FailedPreconditionError(
        "kubeadm on this node is " + f.kubeadm.ToString() + ", not the target " + target +
        ": upgrade the kubeadm package to " + target +
        " first (e.g. apt-get install kubeadm=" + target.substr(1) + "-*), then run this again");
  }
  return Status::Ok();
}

}  // namespace pvek8s::kubeadm
