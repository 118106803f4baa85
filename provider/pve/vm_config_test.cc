#include "provider/pve/vm_config.h"

#include <doctest/doctest.h>

#include "provider/pve/cluster.h"

namespace pvek8s::pve {
namespace {

using nlohmann::json;

TEST_CASE("a config answer decodes into the managed settings, with Proxmox's defaults") {
  VmConfig empty = DecodeVmConfig(json::object());
  CHECK(empty.memory_mib == 2048);
  CHECK(empty.cores == 1);
  CHECK(empty.cpu_type == "kvm64");
  CHECK_FALSE(empty.onboot);
  CHECK_FALSE(empty.boot_disk.has_value());

  json conf = {{"name", "n1"},
               {"memory", "current=4096,min=1024"},
               {"cores", 4},
               {"cpu", "host,flags=+aes"},
               {"onboot", "1"},
               {"ide0", "local-lvm:vm-1-cloudinit,media=cdrom"},
               {"scsi0", "local-lvm:vm-1-disk-0,iothread=1,size=32G"},
               {"net0", "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=5"},
               {"net2", "garbage"},
               {"ipconfig0", "ip=10.0.0.5/24,gw=10.0.0.1"},
               {"sshkeys", "ssh-ed25519%20AAAA%0A"},
               {"lock", "backup"},
               {"template", 1}};
  VmConfig c = DecodeVmConfig(conf);
  CHECK(c.memory_mib == 4096);
  CHECK(c.cores == 4);
  CHECK(c.cpu_type == "host");
  CHECK(c.onboot);
  REQUIRE(c.boot_disk.has_value());
  CHECK(c.boot_disk->key == "scsi0");
  CHECK(c.boot_disk->Storage() == "local-lvm");
  CHECK(c.boot_disk->Size() == "32G");
  CHECK(c.boot_disk->IoThread());
  REQUIRE(c.nets.size() == 2);
  CHECK(c.nets.at(0)->mac == "BC:24:11:AA:BB:CC");
  CHECK(c.nets.at(0)->vlan == 5);
  CHECK_FALSE(c.nets.at(2).has_value());  // present but unreadable
  REQUIRE(c.ipconfig0.has_value());
  CHECK(c.ipconfig0->gateway == std::optional<std::string>("10.0.0.1"));
  CHECK(c.sshkeys == std::optional<std::string>("ssh-ed25519 AAAA\n"));
  CHECK(c.lock == "backup");
  CHECK(c.is_template);
  CHECK(DecodeVmConfig(json{{"memory", 1024}}).memory_mib == 1024);
}

TEST_CASE("a patch encodes in a fixed order with deletions last") {
  VmConfigPatch p;
  CHECK(p.Empty());
  p.memory_mib = 4096;
  p.name = "n1";
  p.remove.nets = {3};
  p.remove.tags = true;
  p.ipconfig0 = IpConfig{"dhcp", std::nullopt};
  Params got = EncodeVmConfigPatch(p);
  REQUIRE(got.size() == 4);
  CHECK(got[0] == std::pair<std::string, std::string>("name", "n1"));
  CHECK(got[1] == std::pair<std::string, std::string>("memory", "4096"));
  CHECK(got[2] == std::pair<std::string, std::string>("ipconfig0", "ip=dhcp"));
  CHECK(got[3] == std::pair<std::string, std::string>("delete", "tags,net3"));
  CHECK_FALSE(p.Empty());
}

TEST_CASE("release versions") {
  CHECK(ParseRelease("9.1.2").major == 9);
  CHECK(ParseRelease("8.4").minor == 4);
  CHECK(ParseRelease("garbage").major == 0);
}

}  // namespace
}  // namespace pvek8s::pve
