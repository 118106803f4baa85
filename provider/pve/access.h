// Typed calls below /access.
#ifndef PROVIDER_PVE_ACCESS_H_
#define PROVIDER_PVE_ACCESS_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "provider/base/status.h"
#include "provider/pve/client.h"

namespace pvek8s::pve {

// GET /access/permissions?path=PATH: the caller's own effective privileges
// on `path` (ACL path such as "/vms/100", "/storage/local-lvm"); empty when it
// has none there.
StatusOr<std::set<std::string>> GetPermissions(Client& client, const std::string& path);

// ACL paths: "/vms/ID" (or "/vms" for any VM), "/storage/ID", "/pool/ID",
// "/nodes/NODE".
std::string VmAclPath(std::optional<int64_t> vmid);
std::string NodeAclPath(const std::string& node);
std::string StorageAclPath(const std::string& storage);
std::string PoolAclPath(const std::string& pool);
// "/sdn/zones/localnetwork/BRIDGE": where Proxmox checks SDN.Use for a NIC on
// a plain Linux bridge (clone and net[n] changes).
std::string BridgeAclPath(const std::string& bridge);

// The privilege that lets the caller read guest-agent answers
// (agent/network-get-interfaces, agent/ping) on `major`: VM.Monitor up to
// 8.x; VM.GuestAgent.Audit from 9.0 on, where VM.Monitor no longer exists
// (pve-access-control 9.0.2). `major` is ParseRelease(version).major; an
// unreadable version (0) counts as 9.
std::string AgentReadPrivilege(int major);

// Whether `have` lets the caller read guest-agent answers on `major` (on 9.x
// VM.GuestAgent.Unrestricted also does).
bool CanReadAgent(const std::set<std::string>& have, int major);

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_ACCESS_H_
