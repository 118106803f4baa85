// kernel_tuning's view of the next boot for modules and swap: what
// systemd-modules-load would load and what would turn swap on again.
#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include "modules/kernel_tuning/fake_node.h"
#include "modules/kernel_tuning/internal.h"
#include "modules/kernel_tuning/kernel_tuning.h"

namespace pvek8s::kernel_tuning {
namespace {

using nlohmann::json;
using testing::FakeNode;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Files that keep br_netfilter and ip_vs_rr from loading at boot.
void AddModuleBlockers(FakeNode& node) {
  node.Write("/etc/modprobe.d/local.conf", "# site policy\nblacklist br_netfilter\n");
  node.Write("/usr/lib/modprobe.d/hardening.conf", "install ip_vs_rr /bin/true\n");
  node.Write("/lib/modprobe.d/hardening.conf", "install nf_conntrack /bin/false\n");  // Masked.
  node.Write("/usr/lib/modprobe.d/real.conf",
             "install ip_vs /sbin/modprobe --ignore-install ip_vs\n");
}

TEST_CASE(
    "modules at boot: modules-load.d lists them, modprobe.d and the command line block them") {
  FakeNode node;
  node.Write("/usr/lib/modules-load.d/vendor.conf", "; vendor\nip_vs\n");
  ansible::Result ok = node.Run(json{{"profile", "none"}, {"modules", {"ip_vs", "nf-conntrack"}}},
                                /*check=*/true);
  REQUIRE_FALSE(ok.failed);
  // The module's own file (2 header lines) sorts before vendor.conf.
  CHECK(ok.extra["modules_boot"]["ip_vs"] == "loaded (/etc/modules-load.d/k8s.conf:3)");
  CHECK(ok.extra["modules_boot"]["nf-conntrack"] == "loaded (/etc/modules-load.d/k8s.conf:4)");
  ansible::Result vendor = node.Run(
      json{{"profile", "none"}, {"modules", {"ip_vs"}}, {"modules_file", "/etc/modules"}}, true);
  REQUIRE_FALSE(vendor.failed);
  CHECK(vendor.extra["modules_boot"]["ip_vs"] == "loaded (/usr/lib/modules-load.d/vendor.conf:2)");
  CHECK(ok.extra["modules_boot_conflicts"].empty());

  AddModuleBlockers(node);
  node.Write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz ro module_blacklist=foo,nf_conntrack quiet\n");
  auto before = node.Snapshot();
  ansible::Result r = node.Run(json{{"modules", {"nf_conntrack", "ip_vs", "ip_vs_rr"}}});
  REQUIRE(r.failed);
  for (const char* where :
       {"br_netfilter: /etc/modprobe.d/local.conf:2: blacklist br_netfilter",
        "ip_vs_rr: /usr/lib/modprobe.d/hardening.conf:1: install ip_vs_rr /bin/true",
        "nf_conntrack: kernel command line: module_blacklist=foo,nf_conntrack",
        "modules_conflicts=report"}) {
    CHECK_MESSAGE(Has(r.msg, where), r.msg);
  }
  CHECK_FALSE(Has(r.msg, "install nf_conntrack"));  // /lib's file is masked by /usr/lib's.
  CHECK_FALSE(Has(r.msg, "ip_vs:"));                // Its install line loads it after all.
  CHECK_MESSAGE(r.extra["modules_boot_conflicts"].size() == 3, r.extra.dump());
  CHECK(node.Snapshot() == before);
}

TEST_CASE(
    "modules at boot: a file outside modules-load.d fails; built-ins never do; report goes on") {
  FakeNode node;
  node.Write("/lib/modules/6.1.0-test/modules.builtin", "kernel/net/bridge/br_netfilter.ko\n");
  node.Write("/etc/modprobe.d/local.conf", "blacklist br_netfilter\n");
  ansible::Result r = node.Run(json{{"modules_file", "/etc/modules"}, {"modules", {"ip_vs"}}});
  REQUIRE(r.failed);
  CHECK_MESSAGE(Has(r.msg, "ip_vs: no file that systemd-modules-load reads at boot lists it"),
                r.msg);
  CHECK_FALSE(Has(r.msg, "br_netfilter"));
  CHECK(r.extra["modules_boot"]["br_netfilter"] == "built in");

  AddModuleBlockers(node);
  ansible::Result report =
      node.Run(json{{"modules_conflicts", "report"}, {"modules", {"ip_vs_rr"}}});
  REQUIRE_FALSE(report.failed);
  const json& warnings = node.last_render()["warnings"];
  CHECK_MESSAGE(Has(warnings.dump(),
                    "kernel module at next boot: ip_vs_rr: "
                    "/usr/lib/modprobe.d/hardening.conf:1"),
                warnings.dump());
  CHECK(node.Read("/etc/modules-load.d/k8s.conf").find("ip_vs_rr") != std::string::npos);
}

// What turns swap on at boot on a typical zram host besides fstab.
void AddBootSwap(FakeNode& node) {
  node.Write("/usr/lib/systemd/zram-generator.conf", "[zram0]\nzram-size = ram / 2\n");
  node.Write("/etc/systemd/zram-generator.conf.d/tmp.conf",
             "[zram1]\nmount-point = /var/tmp\n[zram2]\n");
  node.Write("/usr/lib/systemd/system/zramswap.service", "[Service]\nExecStart=/sbin/zramswap\n");
  REQUIRE(::symlink(
              "/usr/lib/systemd/system/zramswap.service",
              node.Path("/etc/systemd/system/multi-user.target.wants/zramswap.service").c_str()) ==
          0);
}

TEST_CASE("swap at boot: zram devices, swap services and units are masked, then nothing is left") {
  FakeNode node;
  node.Write("/etc/systemd/system/multi-user.target.wants/.keep", "");
  AddBootSwap(node);
  ansible::Result check = node.Run(json::object(), /*check=*/true);
  REQUIRE_FALSE(check.failed);
  CHECK(check.extra["swap_boot"].empty());
  ansible::Result first = node.Run(json::object());
  REQUIRE_FALSE(first.failed);
  CHECK(first.extra["swap_units_masked"] ==
        json{"dev-zram0.swap", "dev-zram2.swap", "extra.swap", "zramswap.service"});
  CHECK(first.extra["swap_boot"].empty());
  // The generator's own output is masked too, as before.
  CHECK(first.extra["swap_units_masked"].size() + 0 == 4);
  for (const char* unit : {"dev-zram0.swap", "dev-zram2.swap", "zramswap.service"}) {
    CHECK(std::filesystem::read_symlink(node.Path(std::string("/etc/systemd/system/") + unit)) ==
          "/dev/null");
  }
  CHECK(BootSwapSources(node.sys()).empty());
  ansible::Result second = node.Run(json::object());
  CHECK_FALSE(second.changed);
}

TEST_CASE("swap_conflicts: fail names each source and changes nothing; report warns; admin units") {
  FakeNode node;
  node.Write("/etc/systemd/system/multi-user.target.wants/.keep", "");
  AddBootSwap(node);
  auto before = node.Snapshot();
  ansible::Result fail = node.Run(json{{"swap_conflicts", "fail"}});
  REQUIRE(fail.failed);
  for (const char* where : {"dev-zram0.swap (/usr/lib/systemd/zram-generator.conf)",
                            "dev-zram2.swap (/etc/systemd/zram-generator.conf.d/tmp.conf)",
                            "zramswap.service (/etc/systemd/system/multi-user.target.wants/",
                            "extra.swap (/usr/lib/systemd/system/extra.swap)"}) {
    CHECK_MESSAGE(Has(fail.msg, where), fail.msg);
  }
  CHECK_FALSE(Has(fail.msg, "zram1"));  // A zram file system, not swap.
  CHECK(node.Snapshot() == before);

  ansible::Result report = node.Run(json{{"swap_conflicts", "report"}});
  REQUIRE_FALSE(report.failed);
  CHECK(report.extra["swap_boot"].size() == 4);
  CHECK(report.extra["swap_units_masked"].empty());
  CHECK(Has(node.last_render()["warnings"].dump(), "swap at next boot: dev-zram0.swap"));

  node.Write("/etc/systemd/system/data.swap", "[Swap]\nWhat=/data/swapfile\n");
  ansible::Result admin = node.Run(json::object());
  REQUIRE(admin.failed);
  CHECK_MESSAGE(Has(admin.msg, "data.swap (/etc/systemd/system/data.swap)"), admin.msg);
  CHECK_FALSE(std::filesystem::is_symlink(node.Path("/etc/systemd/system/dev-zram0.swap")));
}

}  // namespace
}  // namespace pvek8s::kernel_tuning
