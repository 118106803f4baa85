// Proxmox VE's privileges and built-in roles per major release, and the
// privileges the guest-agent endpoints demand. PVE 9 (libpve-access-control
// 9.0.2) dropped VM.Monitor and added VM.GuestAgent.* and VM.Replicate, so
// the same role or ACL means different things on 8.x and 9.x; pvesim follows
// the release it reports in /version (facts: pve-access-control
// src/PVE/AccessControl.pm and the 8.4/9.1 API schema dumps).
#ifndef ACCEPTANCE_TESTS_PVESIM_PRIVILEGES_H_
#define ACCEPTANCE_TESTS_PVESIM_PRIVILEGES_H_

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "provider/base/status.h"

namespace pvek8s::pvesim {

// The Proxmox VE major releases pvesim can act as.
inline constexpr int kOldestPveMajor = 8;
inline constexpr int kNewestPveMajor = 9;

// The major release of an "X.Y.Z" version ("9.1.1" -> 9); an error naming
// --pve-version for anything that is not three numbers or outside
// kOldestPveMajor..kNewestPveMajor.
StatusOr<int> ParsePveMajor(std::string_view version);

// Every privilege name `major` knows (42 on 8.x, 47 on 9.x), sorted.
const std::vector<std::string>& ValidPrivileges(int major);

// Whether `name` is a built-in role of `major` (Administrator, PVEVMAdmin, ...).
bool IsBuiltinRole(std::string_view name, int major);

// The privileges of built-in role `name` on `major`; empty for an unknown name.
std::set<std::string> BuiltinRolePrivs(std::string_view name, int major);

// Splits `pveum role add -privs` text: names separated by ',', ';', spaces or
// any character of `extra` (pvesim's --acl joins roles with '+').
std::vector<std::string> SplitPrivs(std::string_view privs, std::string_view extra = "");

// The privileges that allow the guest-agent call `command` ("ping",
// "network-get-interfaces", "get-osinfo", "info") on `major`; holding any one
// of them is enough. 8.x: VM.Monitor; 9.x: VM.GuestAgent.Audit or
// VM.GuestAgent.Unrestricted.
std::vector<std::string> AgentReadPrivs(int major);

// One endpoint's permission check as pvesim enforces it on /vms/{vmid}, for
// the conformance test against the schema's `permissions.check`.
struct EndpointPrivs {
  std::string method;
  std::string path;  // With {placeholders}, as in params.h.
  std::vector<std::string> privs;
  bool any = false;  // One of `privs` suffices (else all are needed).
};

// The VM endpoints whose simple privilege check pvesim makes, on `major`.
std::vector<EndpointPrivs> VmEndpointPrivs(int major);

}  // namespace pvek8s::pvesim

#endif  // ACCEPTANCE_TESTS_PVESIM_PRIVILEGES_H_
