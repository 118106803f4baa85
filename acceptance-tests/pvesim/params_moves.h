// The parameter table of the methods behind VM moves: migrate, HA resources,
// HA groups (PVE 8) or rules (PVE 9), and pvesim's own test control. Kept
// apart from params.cc because it depends on the simulated PVE version.
#ifndef ACCEPTANCE_TESTS_PVESIM_PARAMS_MOVES_H_
#define ACCEPTANCE_TESTS_PVESIM_PARAMS_MOVES_H_

#include <string_view>
#include <vector>

#include "acceptance-tests/pvesim/params.h"

namespace pvek8s::pvesim {

// The move methods as PVE 8.4 (`pve9` false) or 9.1 (`pve9` true) declares
// them; 9.x adds `with-conntrack-state`, `failback`, `purge` and
// /cluster/ha/rules. Methods under /pvesim/ exist in no Proxmox version.
const std::vector<MethodDef>& MoveMethodDefs(bool pve9);

// Whether `path` (a method template) is pvesim's own, absent from Proxmox.
inline bool IsPveSimOnlyPath(std::string_view path) { return path.starts_with("/pvesim/"); }

}  // namespace pvek8s::pvesim

#endif  // ACCEPTANCE_TESTS_PVESIM_PARAMS_MOVES_H_
