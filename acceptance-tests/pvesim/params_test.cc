#include "acceptance-tests/pvesim/params.h"

#include <doctest/doctest.h>

#include "acceptance-tests/pvesim/faults.h"

namespace pvek8s::pvesim {
namespace {

const MethodDef& Def(const char* method, const char* path) {
  const MethodDef* d = FindMethodDef(method, path);
  REQUIRE(d != nullptr);
  return *d;
}

TEST_CASE("booleans are only 0 or 1") {
  const ParamDef* onboot = FindVmOption("onboot");
  REQUIRE(onboot != nullptr);
  CHECK(CheckValue(*onboot, "1").empty());
  CHECK(CheckValue(*onboot, "0").empty());
  CHECK(CheckValue(*onboot, "true") == "type check ('boolean') failed - got 'true'");
}

TEST_CASE("indexed options resolve within their range only") {
  CHECK(FindVmOption("net0") != nullptr);
  CHECK(FindVmOption("net31") != nullptr);
  CHECK(FindVmOption("net32") == nullptr);
  CHECK(FindVmOption("scsi30") != nullptr);
  CHECK(FindVmOption("scsi31") == nullptr);
  CHECK(FindVmOption("net01") == nullptr);
  CHECK(FindVmOption("net") == nullptr);
}

TEST_CASE("validation reproduces Proxmox reasons") {
  const MethodDef& clone = Def("POST", "/nodes/{node}/qemu/{vmid}/clone");
  ErrorMap e =
      Validate(clone, {{"node", "pve1"}, {"vmid", "9000"}, {"bogus", "1"}, {"full", "yes"}});
  CHECK(e["bogus"] ==
        "property is not defined in schema and the schema does not allow additional properties");
  CHECK(e["newid"] == "property is missing and it is not optional");
  CHECK(e["full"] == "type check ('boolean') failed - got 'yes'");

  e = Validate(clone, {{"node", "pve1"}, {"vmid", "9000"}, {"newid", "99"}});
  CHECK(e["newid"] == "invalid format - value does not look like a valid VM ID\n");
  e = Validate(clone, {{"node", "pve1"}, {"vmid", "9000"}, {"newid", "101"}, {"name", "a_b"}});
  CHECK(e["name"] == "invalid format - value does not look like a valid DNS name\n");
  e = Validate(clone, {{"node", "pve1"}, {"vmid", "9000"}, {"newid", "101"}, {"format", "vhd"}});
  CHECK(e["format"] == "value 'vhd' does not have a value in the enumeration 'raw, qcow2, vmdk'");
}

TEST_CASE("patterns are anchored") {
  const MethodDef& resize = Def("PUT", "/nodes/{node}/qemu/{vmid}/resize");
  ParamMap ok = {{"node", "pve1"}, {"vmid", "100"}, {"disk", "scsi0"}, {"size", "+10G"}};
  CHECK(Validate(resize, ok).empty());
  ParamMap bad = ok;
  bad["size"] = "10G junk";
  CHECK(Validate(resize, bad)["size"] == "value does not match the regex pattern");
  bad["size"] = "x10G";
  CHECK(Validate(resize, bad)["size"] == "value does not match the regex pattern");
}

TEST_CASE("named formats: sshkeys, tags, ipconfig, ranges, requires") {
  const MethodDef& put = Def("PUT", "/nodes/{node}/qemu/{vmid}/config");
  ParamMap base = {{"node", "pve1"}, {"vmid", "100"}};
  auto check = [&](const char* k, const char* v) {
    ParamMap p = base;
    p[k] = v;
    return Validate(put, p)[k];
  };
  CHECK(check("sshkeys", "ssh-ed25519%20AAAA%2B%20me%40host").empty());
  CHECK(check("sshkeys", "ssh-ed25519 AAAA me@host") ==
        "invalid format - invalid urlencoded string: ssh-ed25519 AAAA me@host\n");
  CHECK(check("tags", "k8s;worker,a.b").empty());
  CHECK(check("tags", "bad/tag") == "invalid format - invalid characters in tag\n");
  CHECK(check("ipconfig0", "ip=10.0.0.5/24,gw=10.0.0.1").empty());
  CHECK(check("ipconfig0", "ip=dhcp").empty());
  CHECK_FALSE(check("ipconfig0", "ip=10.0.0.5").empty());
  CHECK(check("cores", "0") == "value must have a minimum value of 1");
  CHECK(check("description", std::string(9000, 'x').c_str()) ==
        "value may only be 8192 characters long");
  ParamMap force = base;
  force["force"] = "1";
  CHECK(Validate(put, force)["delete"] == "missing property - 'force' requires this property");
}

TEST_CASE("list splitting accepts , ; and blanks") {
  auto v = SplitList("a, b;c  d,,");
  REQUIRE(v.size() == 4);
  CHECK(v[3] == "d");
}

TEST_CASE("fault specs") {
  auto f = ParseFaultSpec("lock-timeout:clone:0.2");
  REQUIRE(f.ok());
  CHECK(f->kind == FaultSpec::Kind::kLockTimeout);
  CHECK(f->probability == doctest::Approx(0.2));
  f = ParseFaultSpec("http-500:PUT:/config:0.1");
  REQUIRE(f.ok());
  CHECK(f->method == "PUT");
  CHECK(f->path == "/config");
  f = ParseFaultSpec("latency:50ms");
  REQUIRE(f.ok());
  CHECK(f->latency_s == doctest::Approx(0.05));
  CHECK(f->path.empty());
  f = ParseFaultSpec("latency:5s:1:/agent/");
  REQUIRE(f.ok());
  CHECK(f->latency_s == doctest::Approx(5));
  CHECK(f->path == "/agent/");
  CHECK(ParseFaultSpec("drop-connection:0.05").ok());
  CHECK_FALSE(ParseFaultSpec("drop-connection:2").ok());
  CHECK_FALSE(ParseFaultSpec("lock-timeout:fly:0.1").ok());
  CHECK_FALSE(ParseFaultSpec("nonsense").ok());
}

}  // namespace
}  // namespace pvek8s::pvesim
