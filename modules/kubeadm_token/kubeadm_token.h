// gcid.k8s.kubeadm_token: makes a bootstrap token known to an initialised
// control plane, so that nodes added after Terraform rotated the token
// (proxmox_k8s_cluster issues a new one once the old one's TTL has passed) can
// join. Idempotent: a token the cluster already has, unexpired and with the
// same secret, is changed=false. The token never appears in any output.
#ifndef MODULES_KUBEADM_TOKEN_KUBEADM_TOKEN_H_
#define MODULES_KUBEADM_TOKEN_KUBEADM_TOKEN_H_

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

// Seconds of a Go duration made of hours, minutes and seconds ("24h",
// "1h30m", "24h0m0s", "90s"); "0" is 0 (kubeadm: never expires). nullopt when
// malformed, negative or using other units.
std::optional<long long> ParseTokenTtl(std::string_view text);

// One row of `kubeadm token list`.
struct ListedToken {
  std::string token;                   // "<id>.<secret>", as kubeadm prints it.
  std::optional<std::time_t> expires;  // nullopt: never (EXPIRES "<never>").
};

// The rows of `kubeadm token list` text output: every line whose first field
// is a bootstrap token, with its EXPIRES column (RFC 3339 or "<never>"). Rows
// whose EXPIRES is neither are skipped. Descriptions (which may hold blanks)
// are not read.
std::vector<ListedToken> ParseTokenList(std::string_view output);

// The module's options.
ansible::ArgSpec TokenSpec();

// Runs the module on a control plane: `system.root` prefixes the kubeconfig
// path, `system.now` (when non-zero) replaces the clock.
ansible::Result RunToken(ansible::Module& module, const System& system);

}  // namespace pvek8s::kubeadm

#endif  // MODULES_KUBEADM_TOKEN_KUBEADM_TOKEN_H_
