// gcid.k8s.kernel_tuning through the real ansible-playbook, over SSH, against
// three namespace test hosts (acceptance-tests/hosts). The hosts are brought up
// and torn down by CTest fixtures; test cases run in file order and each starts
// from the state it needs.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modules/ansible/command.h"
#include "modules/ansible/testing.h"

namespace {

using nlohmann::json;
using pvek8s::ansible::RunCommand;
using pvek8s::ansible::testing::ReadText;
using namespace std::chrono_literals;

const std::string kLab = PVEK8S_TEST_LAB;
const std::string kTesthosts = PVEK8S_TESTHOSTS;
const std::string kPlaybooks = PVEK8S_PLAYBOOKS;
const std::vector<std::string> kHosts = {"h1", "h2", "h3"};

struct Run {
  int rc = -1;
  std::string out;
  std::string err;
  json result;  // The json callback's output, when requested.
};

// The collection is installed from the built tarball, offline, once per process.
const std::string& Collections() {
  static const std::string path = [] {
    std::string dir = kLab + "/collections";
    auto r = RunCommand({"ansible-galaxy", "collection", "install", "--offline", "--force", "-p",
                         dir, PVEK8S_COLLECTION_TARBALL},
                        120s, {"ANSIBLE_HOME=" + kLab + "/ansible-home", "LC_ALL=C.UTF-8"});
    REQUIRE(r.ok());
    REQUIRE_MESSAGE(r->exit_code == 0, (r->out + r->err));
    return dir;
  }();
  return path;
}

Run Playbook(const std::string& name, const json& extra_vars, std::vector<std::string> flags = {},
             bool json_callback = true) {
  std::vector<std::string> argv = {kTesthosts, "ctl", kLab, "ansible-playbook",
                                   kPlaybooks + "/" + name};
  if (!extra_vars.is_null()) {
    argv.emplace_back("-e");
    argv.push_back(extra_vars.dump());
  }
  argv.insert(argv.end(), flags.begin(), flags.end());
  std::vector<std::string> env = {"ANSIBLE_COLLECTIONS_PATH=" + Collections(), "ANSIBLE_NOCOLOR=1",
                                  "LC_ALL=C.UTF-8", "ANSIBLE_DEPRECATION_WARNINGS=0"};
  if (json_callback) env.emplace_back("ANSIBLE_STDOUT_CALLBACK=json");
  auto r = RunCommand(argv, 180s, env);
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->timed_out);
  Run run{r->exit_code, r->out, r->err, nullptr};
  if (json_callback) {
    run.result = json::parse(r->out, nullptr, false);
    REQUIRE_MESSAGE(!run.result.is_discarded(), (r->out + r->err));
  }
  return run;
}

// The module's result for `host` in the play's only task.
json TaskResult(const Run& run, const std::string& host) {
  return run.result["plays"][0]["tasks"][0]["hosts"][host];
}
json Stats(const Run& run, const std::string& host) { return run.result["stats"][host]; }

// Runs a shell command inside a test host and returns its stdout.
std::string OnHost(const std::string& host, const std::string& script) {
  auto r = RunCommand({kTesthosts, "exec", kLab, host, "sh", "-c", script}, 30s);
  REQUIRE(r.ok());
  REQUIRE_MESSAGE(r->exit_code == 0, (script + ": " + r->err));
  return r->out;
}

// Everything on a host that the module may change.
std::string HostState(const std::string& host) {
  return OnHost(
             host,
             "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/bridge/bridge-nf-call-iptables "
             "/proc/sys/fs/inotify/max_user_instances /proc/sys/fs/inotify/max_user_watches 2>&1; "
             "cat /proc/swaps /etc/fstab; ls /sys/module | wc -l; ls -la /etc/systemd/system "
             "2>&1; cat /etc/sysctl.d/90-k8s.conf /etc/modules-load.d/k8s.conf 2>&1; true") +
         ReadText(kLab + "/" + host + "/fake/calls.log");
}

void ResetHosts() {
  auto r = RunCommand({kTesthosts, "reset", kLab}, 60s);
  REQUIRE(r.ok());
  REQUIRE_MESSAGE(r->exit_code == 0, r->err);
}

// The fixture brings the hosts up with TESTHOSTS_NO_PYTHON=1, so every test
// in this file and in kubeadm_join_integration_test runs against nodes
// without Python, which the collection promises to need.
TEST_CASE("the test hosts have no Python interpreter") {
  const std::string script =
      "for p in python3 /usr/bin/python3 /usr/bin/python3.11; do "
      "$p -c 'print(1)' 2>/dev/null && echo \"$p runs\"; done; true";
  for (const std::string& h : kHosts) {
    CAPTURE(h);
    auto r = RunCommand({kTesthosts, "exec", kLab, h, "sh", "-c", script}, 30s);
    REQUIRE(r.ok());
    CHECK_MESSAGE(r->out.empty(), r->out);
  }
}

TEST_CASE("check mode on fresh hosts reports the changes and changes nothing") {
  ResetHosts();
  std::map<std::string, std::string> before;
  for (const std::string& h : kHosts) before[h] = HostState(h);

  Run run = Playbook("kernel_tuning.yml", {{"kt_profile", "kubeflow"}}, {"--check"});
  CHECK(run.rc == 0);
  for (const std::string& h : kHosts) {
    CAPTURE(h);
    json r = TaskResult(run, h);
    CHECK(r["changed"] == true);
    CHECK(r["msg"].get<std::string>().find("Would load 2 kernel modules") == 0);
    CHECK(r["modules_loaded"] == json{"overlay", "br_netfilter"});
    CHECK(r["swap_disabled"] == json{"/swap.img"});
    CHECK(Stats(run, h)["changed"] == 1);
    CHECK(HostState(h) == before[h]);
  }
}

TEST_CASE("--diff shows unified diffs of the files and the live values") {
  Run run = Playbook("kernel_tuning.yml", {{"kt_profile", "kubeflow"}}, {"--check", "--diff"},
                     /*json_callback=*/false);
  CHECK(run.rc == 0);
  for (const char* expected : {
           "--- before: /etc/sysctl.d/90-k8s.conf",
           "+++ after: /etc/sysctl.d/90-k8s.conf",
           "+net.ipv4.ip_forward = 1",
           "+fs.inotify.max_user_instances = 1280",
           "+fs.inotify.max_user_watches = 655360",
           "--- before: live kernel parameters (/proc/sys)",
           "-fs.inotify.max_user_watches = 8192",
           "--- before: /etc/modules-load.d/k8s.conf",
           "+br_netfilter",
           "-/swap.img none swap sw 0 0",
           "+#[gcid.k8s.kernel_tuning swap off] /swap.img none swap sw 0 0",
           "--- before: active swap (/proc/swaps)",
       }) {
    CHECK_MESSAGE(run.out.find(expected) != std::string::npos, expected);
  }
  CHECK(run.out.find("changed=1") != std::string::npos);
}

TEST_CASE("the first run changes every host, the second run changes none") {
  Run first = Playbook("kernel_tuning.yml", {{"kt_profile", "kubeflow"}});
  CHECK(first.rc == 0);
  for (const std::string& h : kHosts) {
    CAPTURE(h);
    CHECK(TaskResult(first, h)["changed"] == true);
    CHECK(Stats(first, h)["changed"] == 1);
    CHECK(Stats(first, h)["failures"] == 0);
    CHECK(OnHost(h,
                 "cat /proc/sys/net/ipv4/ip_forward /proc/sys/fs/inotify/max_user_instances "
                 "/proc/sys/fs/inotify/max_user_watches") == "1\n1280\n655360\n");
    // The bridge keys exist only where the kernel has br_netfilter; where they
    // exist they must be set.
    CHECK(OnHost(h, "cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo 1") ==
          "1\n");
    CHECK(OnHost(h, "tail -n +2 /proc/swaps") == "");
    CHECK(OnHost(h, "grep -c '^#\\[gcid.k8s.kernel_tuning swap off\\] /swap.img' /etc/fstab") ==
          "1\n");
    std::string sysctl_file = OnHost(h, "cat /etc/sysctl.d/90-k8s.conf");
    CHECK(sysctl_file.find("net.ipv4.ip_forward = 1\n") != std::string::npos);
    CHECK(sysctl_file.find("fs.inotify.max_user_watches = 655360\n") != std::string::npos);
    CHECK(OnHost(h, "grep -v '^#' /etc/modules-load.d/k8s.conf") == "overlay\nbr_netfilter\n");
    CHECK(ReadText(kLab + "/" + h + "/fake/calls.log") ==
          "modprobe -- overlay\nmodprobe -- br_netfilter\nswapoff -- /swap.img\n");
    // The host's writes went to its own /etc.
    CHECK(ReadText(kLab + "/" + h + "/etc-upper/sysctl.d/90-k8s.conf") == sysctl_file);
  }

  Run second = Playbook("kernel_tuning.yml", {{"kt_profile", "kubeflow"}});
  CHECK(second.rc == 0);
  for (const std::string& h : kHosts) {
    CAPTURE(h);
    CHECK(Stats(second, h)["changed"] == 0);
    CHECK(Stats(second, h)["ok"] == 1);
    CHECK(TaskResult(second, h)["msg"] == "kernel already tuned");
  }
}

TEST_CASE("a bad parameter fails on every host with a message naming it") {
  Run typo = Playbook("bad_param.yml", nullptr);
  CHECK(typo.rc != 0);
  for (const std::string& h : kHosts) {
    CAPTURE(h);
    json r = TaskResult(typo, h);
    CHECK(r["failed"] == true);
    CHECK(r["msg"].get<std::string>().find(
              "Unsupported parameters for (gcid.k8s.kernel_tuning) module: swapp.") == 0);
  }
  Run choice = Playbook("kernel_tuning.yml", {{"kt_profile", "kubeflw"}});
  CHECK(choice.rc != 0);
  CHECK(TaskResult(choice, "h2")["msg"] ==
        "value of profile must be one of: kubernetes, kubeflow, none, got: kubeflw");
}

TEST_CASE("a host where a key is missing fails alone; the others succeed") {
  // net.ipv4.conf.k8s0.* exists only where an interface k8s0 exists: h1 and h2.
  for (const char* h : {"h1", "h2"}) OnHost(h, "ip link add k8s0 type veth peer name k8s1");
  Run run = Playbook("kernel_tuning.yml", {{"kt_profile", "none"},
                                           {"kt_sysctl", {{"net.ipv4.conf.k8s0.forwarding", 1}}},
                                           {"kt_sysctl_file", "/etc/sysctl.d/50-extra.conf"}});
  for (const char* h : {"h1", "h2"}) OnHost(h, "ip link del k8s0");
  CHECK(run.rc != 0);
  for (const char* h : {"h1", "h2"}) {
    CAPTURE(h);
    CHECK(TaskResult(run, h)["changed"] == true);
    CHECK(Stats(run, h)["failures"] == 0);
  }
  json h3 = TaskResult(run, "h3");
  CHECK(h3["failed"] == true);
  CHECK(h3["msg"].get<std::string>().find(
            "sysctl key not present on this host: net.ipv4.conf.k8s0.forwarding") == 0);
  CHECK(Stats(run, "h3")["failures"] == 1);
  CHECK(OnHost("h1", "cat /etc/sysctl.d/50-extra.conf").find("net.ipv4.conf.k8s0.forwarding = 1") !=
        std::string::npos);
  CHECK(OnHost("h3", "test -e /etc/sysctl.d/50-extra.conf || echo none") == "none\n");
}

// A reboot, as far as sysctl goes: the managed keys go back to kernel defaults,
// then every sysctl file is applied in systemd-sysctl's order (names sorted
// across the directories, the first directory holding a name masks the rest,
// /etc/sysctl.conf as 99-sysctl.conf unless that name exists). Only the keys
// in $KEYS are written: fs.inotify.* are the host's fake files and
// net.ipv4.ip_forward belongs to its network namespace. Written in sh,
// independently of the module's C++, so the two check each other.
const char* kFakeReboot = R"sh(set -eu
KEYS="fs.inotify.max_user_watches fs.inotify.max_user_instances net.ipv4.ip_forward"
DIRS="/etc/sysctl.d /run/sysctl.d /usr/local/lib/sysctl.d /usr/lib/sysctl.d /lib/sysctl.d"
echo 8192 >/proc/sys/fs/inotify/max_user_watches
echo 128 >/proc/sys/fs/inotify/max_user_instances
echo 0 >/proc/sys/net/ipv4/ip_forward
names=$(for d in $DIRS; do [ -d "$d" ] && ls "$d"; done | grep '\.conf$' | LC_ALL=C sort -u || true)
files=""
for n in $names; do
  for d in $DIRS; do
    if [ -e "$d/$n" ]; then files="$files $d/$n"; break; fi
  done
done
if [ -e /etc/sysctl.conf ] && ! echo "$names" | grep -qx 99-sysctl.conf; then
  files="$files /etc/sysctl.conf"  # 99-sysctl.conf sorts after every name used here.
fi
for f in $files; do
  sed -e 's/^[[:space:]]*-//' -e '/^[[:space:]]*[#;]/d' -e '/=/!d' "$f" |
  while IFS='=' read -r key value; do
    key=$(echo "$key" | tr -d '[:space:]')
    case "$key" in *.*) key=$(echo "$key" | tr './' '/.') ;; esac
    value=$(echo "$value" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
    for k in $KEYS; do
      if [ "$(echo "$k" | tr . /)" = "$key" ]; then
        echo "applying $f: $k = $value" >&2
        echo "$value" >"/proc/sys/$key"
      fi
    done
  done
done
cat /proc/sys/net/ipv4/ip_forward /proc/sys/fs/inotify/max_user_instances \
  /proc/sys/fs/inotify/max_user_watches
)sh";

// Files on `host` that undo three kubeflow keys at the next boot: one in
// /etc/sysctl.d sorting after 90-k8s.conf, one in /usr/lib/sysctl.d (the
// machine's directory, shadowed by a copy inside the host's mount namespace)
// and one in /etc/sysctl.conf (Debian's 99-sysctl.conf link points at it).
void AddBootConflicts(const std::string& host) {
  OnHost(host,
         "echo 'fs.inotify.max_user_watches = 8192' >/etc/sysctl.d/99-local.conf; "
         "echo 'net.ipv4.ip_forward = 0' >>/etc/sysctl.conf; "
         "d=" +
             kLab + "/" + host +
             "/usr-lib-sysctl.d; mkdir -p $d; "
             "cp -a /usr/lib/sysctl.d/. $d/; "
             "echo 'fs/inotify/max_user_instances = 128' >$d/95-vendor.conf; "
             "mount --bind $d /usr/lib/sysctl.d");
}

TEST_CASE(
    "sysctl files that win at boot: refused by name, overridden on request; a reboot keeps "
    "the values") {
  ResetHosts();
  for (const std::string& h : kHosts) AddBootConflicts(h);
  // Before the module runs, the fake reboot sees the conflicting values.
  CHECK(OnHost("h1", kFakeReboot) == "0\n128\n8192\n");

  Run refused = Playbook("kernel_tuning.yml", {{"kt_profile", "kubeflow"}});
  CHECK(refused.rc != 0);
  for (const std::string& h : kHosts) {
    CAPTURE(h);
    std::string msg = TaskResult(refused, h)["msg"];
    for (const char* where :
         {"/etc/sysctl.d/99-local.conf:1 sets 8192", "/usr/lib/sysctl.d/95-vendor.conf:1 sets 128",
          "/etc/sysctl.d/99-sysctl.conf:"}) {
      CHECK_MESSAGE(msg.find(where) != std::string::npos, msg);
    }
    CHECK(OnHost(h, "test -e /etc/sysctl.d/90-k8s.conf || echo none") == "none\n");
  }

  json args = {{"kt_profile", "kubeflow"}, {"kt_conflicts", "override"}};
  // Check and diff mode: the boot values before and after, and nothing written.
  Run preview = Playbook("kernel_tuning.yml", args, {"--check", "--diff"}, /*json_callback=*/false);
  CHECK(preview.rc == 0);
  for (const char* expected :
       {"--- before: kernel parameters at next boot (sysctl.d)",
        "-fs.inotify.max_user_watches = 8192", "+fs.inotify.max_user_watches = 655360",
        "-fs.inotify.max_user_instances = 128", "+++ after: /etc/sysctl.d/99-zz-gcid-k8s.conf"}) {
    CHECK_MESSAGE(preview.out.find(expected) != std::string::npos, std::string(expected));
  }
  for (const std::string& h : kHosts) {
    CHECK(OnHost(h,
                 "ls /etc/sysctl.d/90-k8s.conf /etc/sysctl.d/99-zz-gcid-k8s.conf 2>/dev/null; "
                 "true") == "");
  }
  Run first = Playbook("kernel_tuning.yml", args);
  CHECK(first.rc == 0);
  Run second = Playbook("kernel_tuning.yml", args);
  CHECK(second.rc == 0);
  for (const std::string& h : kHosts) {
    CAPTURE(h);
    json r = TaskResult(first, h);
    CHECK(r["sysctl_boot_values"]["fs.inotify.max_user_watches"] == "655360");
    CHECK(r["sysctl_boot_values"]["fs.inotify.max_user_instances"] == "1280");
    CHECK(r["sysctl_boot_values"]["net.ipv4.ip_forward"] == "1");
    CHECK(Stats(second, h)["changed"] == 0);
    CHECK(OnHost(h, "cat /etc/sysctl.d/99-local.conf") == "fs.inotify.max_user_watches = 8192\n");
    // The reboot: the values at boot are the wanted ones, as the module said.
    CHECK(OnHost(h, kFakeReboot) == "1\n1280\n655360\n");
  }
}

TEST_CASE("a module blacklisted for boot is refused by name; zram swap at boot is masked") {
  ResetHosts();
  OnHost("h1",
         "mkdir -p /etc/modprobe.d; echo 'blacklist br_netfilter' >/etc/modprobe.d/zz-local.conf");
  for (const std::string& h : kHosts) {
    OnHost(h,
           "mkdir -p /etc/systemd/system; printf '[zram0]\\n' >/etc/systemd/zram-generator.conf");
  }
  Run refused = Playbook("kernel_tuning.yml", {});
  CHECK(refused.rc != 0);
  std::string msg = TaskResult(refused, "h1")["msg"];
  CHECK_MESSAGE(msg.find("br_netfilter: /etc/modprobe.d/zz-local.conf:1: blacklist br_netfilter") !=
                    std::string::npos,
                msg);
  CHECK(OnHost("h1", "test -e /etc/modules-load.d/k8s.conf || echo none") == "none\n");
  for (const std::string& h : {std::string("h2"), std::string("h3")}) {
    CAPTURE(h);
    json r = TaskResult(refused, h);
    CHECK(r["modules_boot_conflicts"].empty());
    CHECK(r["swap_units_masked"].dump().find("dev-zram0.swap") != std::string::npos);
    CHECK(r["swap_boot"].empty());
    CHECK(OnHost(h, "readlink /etc/systemd/system/dev-zram0.swap") == "/dev/null\n");
  }
  Run reported = Playbook("kernel_tuning.yml", {{"kt_modules_conflicts", "report"}});
  CHECK(reported.rc == 0);
  CHECK(TaskResult(reported, "h1")["warnings"].dump().find("zz-local.conf:1") != std::string::npos);
}

TEST_CASE("state absent removes what the module persisted, then changes nothing") {
  Run absent = Playbook("kernel_tuning.yml",
                        {{"kt_profile", "kubeflow"}, {"kt_state", "absent"}, {"kt_swap", "off"}});
  CHECK(absent.rc == 0);
  for (const std::string& h : kHosts) {
    CAPTURE(h);
    CHECK(TaskResult(absent, h)["changed"] == true);
    CHECK(OnHost(h, "test -e /etc/sysctl.d/90-k8s.conf || echo gone") == "gone\n");
    CHECK(OnHost(h, "test -e /etc/modules-load.d/k8s.conf || echo gone") == "gone\n");
    CHECK(OnHost(h, "grep -c '^/swap.img none swap sw 0 0$' /etc/fstab") == "1\n");
  }
  Run again = Playbook("kernel_tuning.yml",
                       {{"kt_profile", "kubeflow"}, {"kt_state", "absent"}, {"kt_swap", "off"}});
  CHECK(again.rc == 0);
  for (const std::string& h : kHosts) CHECK(Stats(again, h)["changed"] == 0);
}

}  // namespace
