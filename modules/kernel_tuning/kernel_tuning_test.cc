#include "modules/kernel_tuning/kernel_tuning.h"

#include <doctest/doctest.h>
#include <elf.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <map>

#include "modules/ansible/command.h"
#include "modules/ansible/testing.h"
#include "modules/kernel_tuning/fake_node.h"
#include "modules/kernel_tuning/internal.h"

namespace pvek8s::kernel_tuning {
namespace {

using ansible::testing::Exists;
using ansible::testing::ReadText;
using ansible::testing::TempDir;
using ansible::testing::WriteText;
using nlohmann::json;
using namespace std::chrono_literals;
using testing::FakeNode;

TEST_CASE("profiles expand to modules and keys; user keys override") {
  auto k8s = BuildPlan("kubernetes", json::object(), json::array());
  REQUIRE(k8s.ok());
  CHECK(k8s->modules == std::vector<std::string>{"overlay", "br_netfilter"});
  REQUIRE(k8s->sysctls.size() == 3);
  CHECK(k8s->sysctls[0].key == "net.ipv4.ip_forward");
  CHECK(k8s->sysctls[1].if_exists);

  auto kf = BuildPlan("kubeflow", json{{"fs.inotify.max_user_watches", ">=1000000"}},
                      json{"ip_vs", "br-netfilter"});
  REQUIRE(kf.ok());
  CHECK(kf->modules == std::vector<std::string>{"overlay", "br_netfilter", "ip_vs"});
  REQUIRE(kf->sysctls.size() == 5);
  CHECK(kf->sysctls[3].key == "fs.inotify.max_user_instances");
  CHECK(kf->sysctls[3].minimum);
  CHECK(kf->sysctls[4].value == "1000000");

  auto none = BuildPlan("none", json{{"net.core.somaxconn", 32768}}, json::array());
  REQUIRE(none.ok());
  CHECK(none->modules.empty());
  REQUIRE(none->sysctls.size() == 1);
  CHECK(none->sysctls[0].value == "32768");

  CHECK_FALSE(BuildPlan("none", json{{"../etc/passwd", 1}}, json::array()).ok());
  CHECK_FALSE(BuildPlan("none", json{{"net..x", 1}}, json::array()).ok());
  auto bad_mod = BuildPlan("none", json::object(), json{"rm -rf"});
  REQUIRE_FALSE(bad_mod.ok());
  CHECK(bad_mod.status().message() == "modules: 'rm -rf' is not a kernel module name");
}

TEST_CASE("sysctl values: exact, minimum, lists, bools") {
  CHECK(ParseSysctlValue("k", json(true))->value == "1");
  CHECK(ParseSysctlValue("k", json{1024, 65000})->value == "1024 65000");
  CHECK(ParseSysctlValue("k", json(" a \t b "))->value == "a b");
  auto min = ParseSysctlValue("k", json(">= 5"));
  CHECK(min->minimum);
  CHECK(min->value == "5");
  CHECK(ParseSysctlValue("k", json{{"minimum", 7}})->minimum);
  CHECK_FALSE(ParseSysctlValue("k", json{{"value", 7}})->minimum);
  CHECK_FALSE(ParseSysctlValue("k", json{{"min", 7}}).ok());
  CHECK_FALSE(ParseSysctlValue("k", json(">=abc")).ok());
  CHECK_FALSE(ParseSysctlValue("k", json("")).ok());
  CHECK(KeyPath("net.ipv4.conf.eth0/100.forwarding") == "net.ipv4.conf.eth0/100.forwarding");
  CHECK(KeyPath("net.ipv4.ip_forward") == "net/ipv4/ip_forward");
}

TEST_CASE("sysctl file merge keeps foreign lines and owns only its keys") {
  std::vector<std::pair<std::string, std::string>> e = {{"net.ipv4.ip_forward", "1"},
                                                        {"vm.x", "2"}};
  auto fresh = MergeSysctlFile(std::nullopt, e, false);
  REQUIRE(fresh);
  CHECK(fresh->find("# Managed by gcid.k8s.kernel_tuning") == 0);
  CHECK(fresh->find("net.ipv4.ip_forward = 1\nvm.x = 2\n") != std::string::npos);

  std::string old = "# mine\nkernel.panic = 10\nnet.ipv4.ip_forward=0\nnet/ipv4/ip_forward = 0\n";
  CHECK(*MergeSysctlFile(old, e, false) ==
        "# mine\nkernel.panic = 10\nnet.ipv4.ip_forward = 1\nvm.x = 2\n");
  // A line that already says the same thing is left as the user wrote it.
  CHECK(*MergeSysctlFile(std::string("net.ipv4.ip_forward=1\nvm.x=2\n"), e, false) ==
        "net.ipv4.ip_forward=1\nvm.x=2\n");
  CHECK(*MergeSysctlFile(old, e, true) == "# mine\nkernel.panic = 10\n");
  CHECK_FALSE(MergeSysctlFile(*fresh, e, true).has_value());

  auto parsed = ParseSysctlFile("# c\n; c\n-net.a.b = 1  2\nx=y\nnonsense\n");
  REQUIRE(parsed.size() == 2);
  CHECK(parsed[0] == std::pair<std::string, std::string>{"net/a/b", "1 2"});
}

TEST_CASE("modules file merge") {
  auto fresh = MergeModulesFile(std::nullopt, {"overlay", "br_netfilter"}, false);
  CHECK(fresh->find("overlay\nbr_netfilter\n") != std::string::npos);
  CHECK(*MergeModulesFile(std::string("# x\nbr-netfilter\nnbd\n"), {"overlay", "br_netfilter"},
                          false) == "# x\nbr-netfilter\nnbd\noverlay\n");
  CHECK(*MergeModulesFile(std::string("nbd\noverlay\n"), {"overlay"}, true) == "nbd\n");
  CHECK_FALSE(MergeModulesFile(*fresh, {"overlay", "br_netfilter"}, true).has_value());
}

TEST_CASE("fstab swap entries are commented with a marker and restored") {
  std::string fstab =
      "# swap below\nUUID=1 / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n"
      "UUID=2 none swap sw 0 0\n#/old none swap sw 0 0\n";
  std::vector<std::string> changed;
  std::string off = EditFstab(fstab, false, &changed);
  CHECK(changed.size() == 2);
  CHECK(off.find(std::string(kFstabMarker) + "/swap.img none swap sw 0 0\n") != std::string::npos);
  CHECK(off.find("\nUUID=1 / ext4") != std::string::npos);
  CHECK(EditFstab(off, false, nullptr) == off);
  CHECK(EditFstab(off, true, nullptr) == fstab);
  CHECK(EditFstab("a b swap", false, nullptr) == std::string(kFstabMarker) + "a b swap");
}

TEST_CASE("/proc/swaps parsing and swap unit names") {
  auto swaps = ParseProcSwaps(
      "Filename\tType\tSize\tUsed\tPriority\n/swap\\040file file 1 0 -2\n/dev/zram0 partition 1 0 "
      "100\n");
  CHECK(swaps == std::vector<std::string>{"/swap file", "/dev/zram0"});
  CHECK(ParseProcSwaps("Filename\tType\tSize\tUsed\tPriority\n").empty());
  CHECK(SwapUnitName("/swap.img") == "swap.img.swap");
  CHECK(SwapUnitName("/dev/sda-2") == "dev-sda\\x2d2.swap");
}

TEST_CASE("kubernetes profile on a fresh node: loads, sets, persists, swap off; then idempotent") {
  FakeNode node;
  ansible::Result first = node.Run(json::object());
  REQUIRE_MESSAGE(!first.failed, first.msg);
  CHECK(first.changed);
  CHECK(node.Read("/calls.log") == "-- br_netfilter\nswapoff -- /swap.img\n");
  CHECK(node.Read("/proc/sys/net/ipv4/ip_forward") == "1\n");
  CHECK(node.Read("/proc/sys/net/bridge/bridge-nf-call-iptables") == "1\n");
  CHECK(node.Read("/proc/sys/fs/inotify/max_user_instances") == "128\n");  // Not in this profile.
  std::string sysctl_file = node.Read("/etc/sysctl.d/90-k8s.conf");
  CHECK(sysctl_file.find("net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\n"
                         "net.bridge.bridge-nf-call-ip6tables = 1\n") != std::string::npos);
  CHECK(node.Read("/etc/modules-load.d/k8s.conf").find("overlay\nbr_netfilter\n") !=
        std::string::npos);
  CHECK(node.Read("/etc/fstab").find(std::string(kFstabMarker) + "/swap.img") != std::string::npos);
  CHECK(std::filesystem::read_symlink(node.Path("/etc/systemd/system/extra.swap")) == "/dev/null");
  CHECK(first.extra["modules_loaded"] == json{"br_netfilter"});
  CHECK(first.extra["modules_builtin"] == json{"overlay"});
  CHECK(first.extra["swap_disabled"] == json{"/swap.img"});
  CHECK(first.extra["swap_units_masked"] == json{"dev-zram0.swap", "extra.swap"});
  CHECK(first.msg.find("Loaded 1 kernel module") == 0);
  // One diff per file and per kind of live state, each a real change.
  json diff = node.last_render()["diff"];
  REQUIRE(diff.is_array());
  std::vector<std::string> headers;
  for (const json& d : diff) headers.push_back(d["before_header"]);
  CHECK(headers == std::vector<std::string>{
                       "loaded kernel modules", "live kernel parameters (/proc/sys)",
                       "/etc/sysctl.d/90-k8s.conf", "kernel parameters at next boot (sysctl.d)",
                       "/etc/modules-load.d/k8s.conf", "active swap (/proc/swaps)", "/etc/fstab",
                       "systemd swap units", "swap turned on at next boot (besides fstab)"});
  CHECK(diff[1]["before"] ==
        "net.ipv4.ip_forward = 0\nnet.bridge.bridge-nf-call-iptables = 0\n"
        "net.bridge.bridge-nf-call-ip6tables = 0\n");

  auto snapshot = node.Snapshot();
  ansible::Result second = node.Run(json::object());
  CHECK_FALSE(second.failed);
  CHECK_FALSE(second.changed);
  CHECK(second.msg == "kernel already tuned");
  CHECK_FALSE(node.last_render().contains("diff"));
  CHECK(node.Snapshot() == snapshot);
}

TEST_CASE("check mode reports every change and changes nothing") {
  FakeNode node;
  auto before = node.Snapshot();
  ansible::Result r = node.Run(json{{"profile", "kubeflow"}}, /*check=*/true);
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.changed);
  CHECK(node.Snapshot() == before);
  CHECK(r.msg.find("Would load 1 kernel module") == 0);
  CHECK(r.extra["sysctl_changed"].size() == 4);  // ip_forward, 2 bridge keys, instances.
  CHECK(node.last_render()["diff"].size() == 9);
}

TEST_CASE("kubeflow minimums are only ever raised, live and in the file") {
  FakeNode node;
  node.Write("/etc/sysctl.d/90-k8s.conf", "fs.inotify.max_user_instances = 4096\n");
  ansible::Result r = node.Run(json{{"profile", "kubeflow"}, {"swap", "unchanged"}});
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(node.Read("/proc/sys/fs/inotify/max_user_instances") == "1280\n");
  CHECK(node.Read("/proc/sys/fs/inotify/max_user_watches") == "700000\n");  // Above 655360.
  std::string file = node.Read("/etc/sysctl.d/90-k8s.conf");
  CHECK(file.find("fs.inotify.max_user_instances = 4096\n") != std::string::npos);
  CHECK(file.find("fs.inotify.max_user_watches = 700000\n") != std::string::npos);
  CHECK(node.Read("/proc/swaps").find("/swap.img") != std::string::npos);  // swap: unchanged.
  CHECK_FALSE(node.Run(json{{"profile", "kubeflow"}, {"swap", "unchanged"}}).changed);
}

TEST_CASE("swap accepts YAML's unquoted off (false) and rejects anything else by name") {
  FakeNode node;
  ansible::Result r = node.Run(json{{"profile", "none"}, {"swap", false}});
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.extra["swap"] == "off");
  ansible::Result bad = node.Run(json{{"swap", "on"}});
  CHECK(bad.failed);
  CHECK(bad.msg == "value of swap must be one of: off, unchanged, got: on");
}

TEST_CASE("a missing key fails with a clear message before anything is persisted") {
  FakeNode node;
  ansible::Result r =
      node.Run(json{{"profile", "none"}, {"sysctl", {{"net.ipv4.conf.k8s0.forwarding", 1}}}});
  CHECK(r.failed);
  CHECK(r.msg.find("sysctl key not present on this host: net.ipv4.conf.k8s0.forwarding") == 0);
  CHECK_FALSE(Exists(node.Path("/etc/sysctl.d/90-k8s.conf")));
}

TEST_CASE("bridge keys are skipped when br_netfilter brings none") {
  FakeNode node;
  node.Write("/no-bridge", "");
  ansible::Result r = node.Run(json{{"swap", "unchanged"}});
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.extra["sysctl_skipped"].size() == 2);
  CHECK(node.Read("/etc/sysctl.d/90-k8s.conf").find("bridge") == std::string::npos);
}

TEST_CASE("modules already known from /proc/modules or modules.builtin are not loaded") {
  FakeNode node;
  node.Write("/proc/modules", "br_netfilter 32768 0 - Live 0x0\n");
  node.Write("/lib/modules/6.1.0-test/modules.builtin", "kernel/net/ipv4/ip_vs.ko\n");
  ansible::Result r = node.Run(json{{"modules", json{"ip_vs"}}, {"swap", "unchanged"}});
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.extra["modules_loaded"].empty());
  CHECK(r.extra["modules_builtin"] == json{"overlay", "ip_vs"});
}

TEST_CASE("a failing modprobe fails the task and names the module") {
  FakeNode node;
  node.Write("/sbin/modprobe",
             "#!/bin/sh\necho 'modprobe: FATAL: Module nope not found' >&2\nexit 1\n", 0755);
  ansible::Result r = node.Run(json{{"profile", "none"}, {"modules", json{"nope"}}});
  CHECK(r.failed);
  CHECK(r.msg ==
        "cannot load kernel module nope: modprobe nope failed (exit 1): modprobe: FATAL: "
        "Module nope not found");
}

TEST_CASE("state absent removes the module's settings and restores fstab") {
  FakeNode node;
  node.Write("/etc/sysctl.d/90-k8s.conf", "# admin\nkernel.panic = 10\n");
  REQUIRE_FALSE(node.Run(json::object()).failed);
  ansible::Result r = node.Run(json{{"state", "absent"}, {"swap", "off"}});
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.changed);
  CHECK(node.Read("/etc/sysctl.d/90-k8s.conf") == "# admin\nkernel.panic = 10\n");
  CHECK_FALSE(Exists(node.Path("/etc/modules-load.d/k8s.conf")));
  CHECK(node.Read("/etc/fstab").find("\n/swap.img none swap sw 0 0\n") != std::string::npos);
  CHECK_FALSE(node.Run(json{{"state", "absent"}, {"swap", "off"}}).changed);
}

TEST_CASE("custom files, exact list values, and symlinks leaving the directory are refused") {
  FakeNode node;
  ansible::Result r =
      node.Run(json{{"profile", "none"},
                    {"sysctl", {{"net.ipv4.ip_local_port_range", json{1024, 65000}}}},
                    {"sysctl_file", "/etc/sysctl.d/50-custom.conf"}});
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(node.Read("/proc/sys/net/ipv4/ip_local_port_range") == "1024 65000\n");
  CHECK(
      node.Read("/etc/sysctl.d/50-custom.conf").find("net.ipv4.ip_local_port_range = 1024 65000") !=
      std::string::npos);
  CHECK_FALSE(node.Run(json{{"profile", "none"},
                            {"sysctl", {{"net.ipv4.ip_local_port_range", "1024   65000"}}},
                            {"sysctl_file", "/etc/sysctl.d/50-custom.conf"}})
                  .changed);

  REQUIRE(::symlink("../sysctl.conf", node.Path("/etc/sysctl.d/99-sysctl.conf").c_str()) == 0);
  ansible::Result link = node.Run(json{{"sysctl_file", "/etc/sysctl.d/99-sysctl.conf"}});
  CHECK(link.failed);
  CHECK(link.msg.find("symlink") != std::string::npos);
  CHECK(node.Run(json{{"sysctl_file", "relative.conf"}}).failed);
}

// A node whose other sysctl files undo three kubeflow keys at boot: one in
// /etc/sysctl.d sorting after 90-k8s.conf, one in /usr/lib/sysctl.d, and one in
// /etc/sysctl.conf. A same-named /etc file masks a /usr/lib one.
void AddConflicts(FakeNode& node) {
  node.Write("/etc/sysctl.d/99-local.conf", "# local\nfs.inotify.max_user_watches = 8192\n");
  node.Write("/usr/lib/sysctl.d/95-vendor.conf", "; vendor\n-fs/inotify/max_user_instances=128\n");
  node.Write("/etc/sysctl.conf", "\n#net.ipv4.ip_forward=1\nnet.ipv4.ip_forward = 0\n");
  node.Write("/usr/lib/sysctl.d/99-masked.conf", "fs.inotify.max_user_watches = 1\n");
  node.Write("/etc/sysctl.d/99-masked.conf", "# masks the /usr/lib file of that name\n");
  node.Write("/usr/lib/sysctl.d/10-early.conf", "fs.inotify.max_user_watches = 2\n");
}

// The values systemd-sysctl would apply at boot, read back from the files alone.
std::map<std::string, std::string> BootOf(const FakeNode& node) {
  auto boot = BootSysctlValues(node.sys(), PlannedFiles());
  REQUIRE(boot.ok());
  std::map<std::string, std::string> out;
  for (const auto& [path, a] : *boot) out[path] = a.value;
  return out;
}

TEST_CASE("boot values follow systemd-sysctl: masking, name order, sysctl.conf once, key forms") {
  FakeNode node;
  AddConflicts(node);
  node.Write("/run/sysctl.d/50-run.conf", "net.ipv4.conf.eth0/100.forwarding = 1\n");
  node.Write("/lib/sysctl.d/50-run.conf", "kernel.masked = 1\n");  // Masked by /run.
  node.Write("/etc/sysctl.d/60-glob.conf", "net.ipv4.conf.*.rp_filter = 2\n-kernel.x\n");
  auto boot = BootSysctlValues(node.sys(), PlannedFiles());
  REQUIRE(boot.ok());
  CHECK((*boot)["fs/inotify/max_user_watches"].file == "/etc/sysctl.d/99-local.conf");
  CHECK((*boot)["fs/inotify/max_user_watches"].line == 2);
  CHECK((*boot)["fs/inotify/max_user_instances"].value == "128");
  CHECK((*boot)["net/ipv4/ip_forward"].file == "/etc/sysctl.conf");
  CHECK((*boot)["net/ipv4/ip_forward"].line == 3);
  CHECK((*boot)["net/ipv4/conf/eth0.100/forwarding"].value == "1");
  CHECK(boot->count("kernel/masked") == 0);
  CHECK(boot->size() == 4);  // Globs and bare "-key" lines set nothing.
  // Debian's link makes /etc/sysctl.conf the file named 99-sysctl.conf: counted once.
  REQUIRE(::symlink("../sysctl.conf", node.Path("/etc/sysctl.d/99-sysctl.conf").c_str()) == 0);
  auto linked = BootSysctlValues(node.sys(), PlannedFiles());
  REQUIRE(linked.ok());
  CHECK((*linked)["net/ipv4/ip_forward"].file == "/etc/sysctl.d/99-sysctl.conf");
  // A planned file takes part; a planned removal drops a file.
  auto planned = BootSysctlValues(node.sys(), {{"/etc/sysctl.d/99-local.conf", std::nullopt},
                                               {"/run/sysctl.d/zz.conf", "kernel.y = 3\n"}});
  REQUIRE(planned.ok());
  CHECK((*planned)["fs/inotify/max_user_watches"].value == "2");
  CHECK((*planned)["kernel/y"].value == "3");
}

TEST_CASE("sysctl_conflicts=fail (default) names each file and line and changes nothing") {
  FakeNode node;
  AddConflicts(node);
  auto before = node.Snapshot();
  ansible::Result r = node.Run(json{{"profile", "kubeflow"}});
  REQUIRE(r.failed);
  for (const char* where :
       {"fs.inotify.max_user_watches >= 655360: /etc/sysctl.d/99-local.conf:2 sets 8192",
        "fs.inotify.max_user_instances >= 1280: /usr/lib/sysctl.d/95-vendor.conf:2 sets 128",
        "net.ipv4.ip_forward = 1: /etc/sysctl.conf:3 sets 0", "sysctl_conflicts=override"}) {
    CHECK_MESSAGE(r.msg.find(where) != std::string::npos, r.msg);
  }
  CHECK(r.extra["sysctl_boot_conflicts"].size() == 3);
  CHECK(node.Snapshot() == before);
}

TEST_CASE("sysctl_conflicts=override persists the keys where they win at boot; idempotent") {
  FakeNode node;
  AddConflicts(node);
  auto before = node.Snapshot();
  json args{{"profile", "kubeflow"}, {"sysctl_conflicts", "override"}};
  ansible::Result check = node.Run(args, /*check=*/true);
  REQUIRE_MESSAGE(!check.failed, check.msg);
  CHECK(node.Snapshot() == before);
  CHECK(check.extra["sysctl_boot_values"]["fs.inotify.max_user_watches"] == "700000");
  ansible::Result r = node.Run(args);
  REQUIRE_MESSAGE(!r.failed, r.msg);
  CHECK(r.extra["files_changed"] == json{"/etc/sysctl.d/90-k8s.conf",
                                         "/etc/sysctl.d/99-zz-gcid-k8s.conf",
                                         "/etc/modules-load.d/k8s.conf"});
  CHECK(node.Read("/etc/sysctl.d/99-local.conf").find("8192") != std::string::npos);  // Untouched.
  std::map<std::string, std::string> boot = BootOf(node);
  CHECK(boot["net/ipv4/ip_forward"] == "1");
  CHECK(boot["fs/inotify/max_user_instances"] == "1280");
  CHECK(boot["fs/inotify/max_user_watches"] == "700000");  // Live was already above the minimum.
  CHECK(boot["net/bridge/bridge-nf-call-iptables"] == "1");
  CHECK(r.extra["sysctl_boot_values"] == json{{"net.ipv4.ip_forward", "1"},
                                              {"net.bridge.bridge-nf-call-iptables", "1"},
                                              {"net.bridge.bridge-nf-call-ip6tables", "1"},
                                              {"fs.inotify.max_user_instances", "1280"},
                                              {"fs.inotify.max_user_watches", "700000"}});
  bool boot_diff = false;
  for (const json& d : node.last_render()["diff"]) {
    if (d["before_header"] != "kernel parameters at next boot (sysctl.d)") continue;
    boot_diff = true;
    CHECK(d["before"].get<std::string>().find("fs.inotify.max_user_watches = 8192") !=
          std::string::npos);
  }
  CHECK(boot_diff);
  auto after = node.Snapshot();
  ansible::Result second = node.Run(args);
  CHECK_FALSE(second.failed);
  CHECK_FALSE(second.changed);
  CHECK(second.extra["sysctl_boot_conflicts"].empty());
  CHECK(node.Snapshot() == after);

  // A file that sorts after the override file cannot be beaten: refused by name.
  node.Write("/etc/sysctl.d/zz-last.conf", "net.ipv4.ip_forward = 0\n");
  ansible::Result last = node.Run(args);
  CHECK(last.failed);
  CHECK_MESSAGE(last.msg.find("/etc/sysctl.d/zz-last.conf:1 sets 0") != std::string::npos,
                last.msg);
}

TEST_CASE("sysctl_conflicts=report warns about each conflict and goes on") {
  FakeNode node;
  AddConflicts(node);
  ansible::Result r = node.Run(json{{"profile", "kubeflow"}, {"sysctl_conflicts", "report"}});
  REQUIRE_MESSAGE(!r.failed, r.msg);
  const json& warnings = node.last_render()["warnings"];
  CHECK_MESSAGE(warnings.size() == 3, warnings.dump());
  CHECK_MESSAGE(
      warnings.dump().find("/usr/lib/sysctl.d/95-vendor.conf:2 sets 128") != std::string::npos,
      warnings.dump());
  CHECK(r.extra["sysctl_boot_values"]["fs.inotify.max_user_watches"] == "8192");
  CHECK_FALSE(Exists(node.Path("/etc/sysctl.d/99-zz-gcid-k8s.conf")));
  CHECK(node.Run(json{{"sysctl_override_file", "/etc/sysctl.d/90-k8s.conf"}}).failed);
}

// The binary, run exactly as Ansible runs it: one argument, an args file.
TEST_CASE("the module binary speaks the protocol and is static and small") {
  FakeNode node;
  TempDir tmp;
  WriteText(tmp / "args", json{{"profile", "kubernetes"},
                               {"_ansible_diff", true},
                               {"_ansible_module_name", "gcid.k8s.kernel_tuning"}}
                              .dump());
  auto r = ansible::RunCommand({KERNEL_TUNING_BINARY, tmp / "args"}, 30s,
                               {std::string(kTestRootEnv) + "=" + node.sys().root});
  REQUIRE(r.ok());
  json out = json::parse(r->out, nullptr, false);
  REQUIRE_MESSAGE(!out.is_discarded(), r->out);
  CHECK(r->exit_code == 0);
  CHECK(out["changed"] == true);
  CHECK(out["diff"].is_array());
  CHECK(out["invocation"]["module_args"]["profile"] == "kubernetes");
  CHECK_FALSE(Exists(tmp / "args"));

  WriteText(tmp / "args", json{{"profile", "kubernetes"}, {"swapp", "off"}}.dump());
  r = ansible::RunCommand({KERNEL_TUNING_BINARY, tmp / "args"}, 30s,
                          {std::string(kTestRootEnv) + "=" + node.sys().root});
  REQUIRE(r.ok());
  out = json::parse(r->out, nullptr, false);
  CHECK(out["failed"] == true);
  CHECK(out["msg"].get<std::string>().find("Unsupported parameters for (gcid.k8s.kernel_tuning) "
                                           "module: swapp") == 0);

  // Static: no program interpreter, so no glibc version requirement at all
  // (sanitizer builds link dynamically, see testing.h).
  std::string elf = ReadText(KERNEL_TUNING_BINARY);
  REQUIRE(elf.size() > sizeof(Elf64_Ehdr));
  CHECK(elf.size() < ansible::testing::kModuleBinaryMaxBytes);
  Elf64_Ehdr eh;
  std::memcpy(&eh, elf.data(), sizeof(eh));
  REQUIRE(std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0);
  REQUIRE(eh.e_ident[EI_CLASS] == ELFCLASS64);
  bool interp = false, dynamic = false;
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    size_t off = eh.e_phoff + static_cast<size_t>(i) * eh.e_phentsize;
    REQUIRE(off + sizeof(ph) <= elf.size());
    std::memcpy(&ph, elf.data() + off, sizeof(ph));
    interp |= ph.p_type == PT_INTERP;
    dynamic |= ph.p_type == PT_DYNAMIC;
  }
  CHECK(interp == !ansible::testing::kStaticModuleBinaries);
  CHECK(dynamic == !ansible::testing::kStaticModuleBinaries);
  MESSAGE("kernel_tuning binary: "
          << elf.size() << " bytes"
          << std::string(interp ? ", dynamic (sanitizer build)" : ", static"));
}

}  // namespace
}  // namespace pvek8s::kernel_tuning
