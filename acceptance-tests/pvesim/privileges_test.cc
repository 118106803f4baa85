// Privileges and roles per Proxmox VE release (pve-access-control 8.2 vs
// 9.x; counts from research/proxmox-moves-and-ve9.md section 1).
#include "acceptance-tests/pvesim/privileges.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "acceptance-tests/pvesim/auth.h"

namespace pvek8s::pvesim {
namespace {

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_CASE("8.x has 42 privileges with VM.Monitor; 9.x has 47 without it") {
  CHECK(ValidPrivileges(8).size() == 42);
  CHECK(ValidPrivileges(9).size() == 47);
  CHECK(Has(ValidPrivileges(8), "VM.Monitor"));
  CHECK_FALSE(Has(ValidPrivileges(9), "VM.Monitor"));
  for (const char* p : {"VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted", "VM.Replicate"}) {
    CHECK(Has(ValidPrivileges(9), p));
    CHECK_FALSE(Has(ValidPrivileges(8), p));
  }
}

TEST_CASE("built-in roles: the 9.x deltas") {
  CHECK(BuiltinRolePrivs("PVEVMAdmin", 8).size() == 18);
  CHECK(BuiltinRolePrivs("PVEVMAdmin", 9).size() == 23);
  CHECK(BuiltinRolePrivs("PVEVMUser", 8).size() == 6);
  CHECK(BuiltinRolePrivs("PVEVMUser", 9).size() == 10);
  CHECK_FALSE(BuiltinRolePrivs("PVEAuditor", 8).contains("VM.GuestAgent.Audit"));
  CHECK(BuiltinRolePrivs("PVEAuditor", 9).contains("VM.GuestAgent.Audit"));
  CHECK(BuiltinRolePrivs("PVETemplateUser", 9) == std::set<std::string>{"VM.Audit", "VM.Clone"});
  CHECK(IsBuiltinRole("NoAccess", 9));
  CHECK_FALSE(IsBuiltinRole("PVEK8S", 9));
}

TEST_CASE("--pve-version is X.Y.Z of 8.x or 9.x") {
  CHECK(*ParsePveMajor("9.1.1") == 9);
  CHECK(*ParsePveMajor("8.4.17") == 8);
  for (const char* bad :
       {"", "9", "9.1", "9.1.", "9.1.1.1", "x.1.1", "10.0.1", "7.4.1", "9.1.1a"}) {
    CHECK_MESSAGE(!ParsePveMajor(bad).ok(), bad);
  }
}

TEST_CASE("a custom role grants exactly its privileges; VM.Monitor is refused on 9.x") {
  AuthConfig config;
  REQUIRE(AddRoleSpec(&config, "TF:VM.Audit, VM.Clone;VM.GuestAgent.Audit").ok());
  REQUIRE(AddTokenSpec(&config, "tf@pve!tt=s,privsep=1").ok());
  REQUIRE(AddAclSpec(&config, "/vms:TF:tf@pve!tt").ok());
  config.pve_major = 9;
  CHECK(CheckAuthConfig(config).ok());
  Auth auth(config, std::string(32, 'k'));
  Identity who{"tf@pve", "tt"};
  CHECK(auth.Privileges(who, "/vms/100") ==
        std::set<std::string>{"VM.Audit", "VM.Clone", "VM.GuestAgent.Audit"});
  CHECK(auth.Privileges(who, "/storage/local").empty());
  config.pve_major = 8;
  CHECK(CheckAuthConfig(config).message() ==
        "--role TF: invalid privilege 'VM.GuestAgent.Audit' (Proxmox VE 8.x has no such "
        "privilege)");
  config.roles["TF"] = {"VM.Monitor"};
  CHECK(CheckAuthConfig(config).ok());
  config.pve_major = 9;
  CHECK(CheckAuthConfig(config).message() ==
        "--role TF: invalid privilege 'VM.Monitor' (Proxmox VE 9.x has no such privilege)");
  config.roles["TF"] = {"VM.Audit"};
  REQUIRE(AddAclSpec(&config, "/:PVEAuditor+Nope:tf@pve").ok());
  CHECK(CheckAuthConfig(config).message() ==
        "--acl /: Proxmox VE 9.x has no role or privilege 'Nope'");
}

TEST_CASE("agent reads: VM.Monitor on 8.x, either GuestAgent privilege on 9.x") {
  CHECK(AgentReadPrivs(8) == std::vector<std::string>{"VM.Monitor"});
  CHECK(AgentReadPrivs(9) ==
        std::vector<std::string>{"VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted"});
}

}  // namespace
}  // namespace pvek8s::pvesim
