// Test-only: a fake node for kernel_tuning's unit tests (kernel_tuning_test.cc
// and kernel_tuning_boot_test.cc).
#ifndef MODULES_KERNEL_TUNING_FAKE_NODE_H_
#define MODULES_KERNEL_TUNING_FAKE_NODE_H_

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "modules/ansible/testing.h"
#include "modules/kernel_tuning/kernel_tuning.h"

namespace pvek8s::kernel_tuning::testing {

using ansible::testing::ReadText;
using ansible::testing::TempDir;
using ansible::testing::WriteText;
using nlohmann::json;

// A fake node: /proc/sys, /proc/swaps, /sys/module, /etc and stand-in
// modprobe/swapoff under a temporary root.
class FakeNode {
 public:
  FakeNode() {
    sys_.root = dir_.path();
    sys_.kernel_release = "6.1.0-test";
    sys_.modprobe = Path("/sbin/modprobe");
    sys_.swapoff = Path("/sbin/swapoff");
    sys_.systemctl = Path("/sbin/systemctl");
    Write("/proc/sys/net/ipv4/ip_forward", "0\n");
    Write("/proc/sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
    Write("/proc/sys/fs/inotify/max_user_instances", "128\n");
    Write("/proc/sys/fs/inotify/max_user_watches", "700000\n");
    Write("/proc/swaps",
          "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
          "/swap.img                               file\t\t2097148\t\t0\t\t-2\n");
    Write("/etc/fstab", "# /etc/fstab\nUUID=abc / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n");
    Write("/usr/lib/systemd/system/extra.swap", "[Swap]\nWhat=/extra\n");
    Write("/run/systemd/generator/dev-zram0.swap", "[Swap]\nWhat=/dev/zram0\n");
    Write("/run/systemd/generator/swap.img.swap",
          "[Unit]\nSourcePath=/etc/fstab\n[Swap]\nWhat=/swap.img\n");
    std::filesystem::create_directories(Path("/etc/sysctl.d"));
    std::filesystem::create_directories(Path("/etc/modules-load.d"));
    std::filesystem::create_directories(Path("/etc/systemd/system"));
    std::filesystem::create_directories(Path("/sys/module/overlay"));
    // modprobe: logs, "loads" the module, and br_netfilter brings its sysctls.
    Write(
        "/sbin/modprobe",
        "#!/bin/sh\nR='" + dir_.path() + "'\necho \"$*\" >> \"$R/calls.log\"\n" +
            "for m in \"$@\"; do case \"$m\" in -*) ;; *) mkdir -p \"$R/sys/module/$m\"\n" +
            "  touch \"$R/sys/module/$m/initstate\"\n" +
            "  if [ \"$m\" = br_netfilter ] && [ ! -e \"$R/no-bridge\" ]; then\n" +
            "    mkdir -p \"$R/proc/sys/net/bridge\"\n" +
            "    echo 0 > \"$R/proc/sys/net/bridge/bridge-nf-call-iptables\"\n" +
            "    echo 0 > \"$R/proc/sys/net/bridge/bridge-nf-call-ip6tables\"\n  fi;; esac; done\n",
        0755);
    Write("/sbin/swapoff",
          "#!/bin/sh\nR='" + dir_.path() + "'\necho \"swapoff $*\" >> \"$R/calls.log\"\n" +
              "head -n1 \"$R/proc/swaps\" > \"$R/swaps.new\" && mv \"$R/swaps.new\" "
              "\"$R/proc/swaps\"\n",
          0755);
  }

  std::string Path(const std::string& abs) const { return dir_.path() + abs; }
  void Write(const std::string& abs, const std::string& content, mode_t mode = 0644) {
    WriteText(Path(abs), content, mode);
  }
  std::string Read(const std::string& abs) const { return ReadText(Path(abs)); }
  const SystemPaths& sys() const { return sys_; }

  // Every file's path and content, to prove check mode wrote nothing.
  std::map<std::string, std::string> Snapshot() const {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path())) {
      std::string rel = e.path().string().substr(dir_.path().size());
      out[rel] = e.is_symlink()        ? "-> " + std::filesystem::read_symlink(e.path()).string()
                 : e.is_regular_file() ? ReadText(e.path().string())
                                       : "<dir>";
    }
    return out;
  }

  ansible::Result Run(json args, bool check = false, bool diff = true) {
    args["_ansible_check_mode"] = check;
    args["_ansible_diff"] = diff;
    auto validated = ansible::ValidateArgs(args, Spec(), "gcid.k8s.kernel_tuning");
    REQUIRE_MESSAGE(validated.ok(), validated.status().message());
    ansible::Module module(ansible::ParseAnsibleFlags(args), std::move(validated).value(), args);
    ansible::Result r = kernel_tuning::Run(module, sys_);
    last_render_ = json::parse(module.Render(r), nullptr, false);
    return r;
  }
  const json& last_render() const { return last_render_; }

 private:
  TempDir dir_;
  SystemPaths sys_;
  json last_render_;
};

}  // namespace pvek8s::kernel_tuning::testing

#endif  // MODULES_KERNEL_TUNING_FAKE_NODE_H_
