// gcid.k8s.kubeadm_certs: reports the expiry of every kubeadm-managed
// certificate on a control-plane node (`kubeadm certs check-expiration`) and,
// when any leaf certificate has fewer than `renew_before` days left, runs
// `kubeadm certs renew all` and restarts the control-plane static pods so that
// they load the new certificates.
//
// Static pods read their certificates once: kubeadm's documented way to
// restart them without the kubelet's API is to move their manifests out of
// /etc/kubernetes/manifests, wait for the kubelet to stop them (it looks
// every 20 s), and move them back. The manifests wait in
// /etc/kubernetes/tmp/pvek8s-certs-restart, from where a run interrupted in
// between puts them back first.
#ifndef MODULES_KUBEADM_CERTS_KUBEADM_CERTS_H_
#define MODULES_KUBEADM_CERTS_KUBEADM_CERTS_H_

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modules/ansible/args.h"
#include "modules/ansible/module.h"
#include "modules/kubeadm/kubeadm.h"
#include "provider/base/status.h"

namespace pvek8s::kubeadm {

// One row of `kubeadm certs check-expiration`.
struct CertExpiry {
  std::string name;         // "apiserver", "admin.conf", "ca", ...
  bool authority = false;   // From the CERTIFICATE AUTHORITY table.
  bool missing = false;     // "!MISSING! <name>": the file does not exist.
  bool external = false;    // EXTERNALLY MANAGED "yes": kubeadm cannot renew it.
  std::time_t expires = 0;  // Unset when missing.
};

// Seconds since the epoch of kubeadm's "Dec 30, 2020 23:36 UTC"; nullopt when
// malformed.
std::optional<std::time_t> ParseExpiryDate(std::string_view text);

// The rows of `kubeadm certs check-expiration` text output (both tables).
// kInvalidArgument naming the line when a row cannot be read, or when there is
// no CERTIFICATE table at all.
StatusOr<std::vector<CertExpiry>> ParseCheckExpiration(std::string_view output);

// Whole days left until `expires` at `now`, rounded down (negative once expired).
long long ResidualDays(std::time_t expires, std::time_t now);

// The manifests of the control-plane static pods restarted after a renewal.
inline constexpr const char* kStaticPods[] = {"kube-apiserver.yaml", "kube-controller-manager.yaml",
                                              "kube-scheduler.yaml", "etcd.yaml"};
// Where their manifests wait while the pods stop (relative to System::root).
inline constexpr const char* kRestartDir = "/etc/kubernetes/tmp/pvek8s-certs-restart";

// The module's options.
ansible::ArgSpec CertsSpec();
// Runs the module. `system.root` prefixes /etc/kubernetes; `system.now` fixes
// the clock.
ansible::Result RunCerts(ansible::Module& module, const System& system);

}  // namespace pvek8s::kubeadm

#endif  // MODULES_KUBEADM_CERTS_KUBEADM_CERTS_H_
