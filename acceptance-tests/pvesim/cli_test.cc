// pvesim's command line: the flag table printed by --help and the errors of a
// bad command line (exit code 2, the reason on stderr).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace {

// Runs `args` through /bin/sh with stderr merged into stdout; returns the exit code.
int RunPvesim(const std::string& args, std::string* out) {
  std::string cmd = std::string(PVESIM_BINARY) + " " + args + " 2>&1 </dev/null";
  FILE* f = popen(cmd.c_str(), "r");
  REQUIRE(f != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out->append(buf, n);
  int status = pclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_CASE("--help prints the table of every flag with its argument") {
  std::string out;
  CHECK(RunPvesim("--help", &out) == 0);
  for (const char* flag :
       {"--data DIR", "--listen HOST:PORT", "--nodes a,b,c", "--user USER@REALM:PASSWORD",
        "--token USER@REALM!ID=SECRET[,privsep=1][,expire=UNIXTIME]",
        "--acl PATH:ROLES:SUBJECT[:0]", "--role NAME:PRIV[,PRIV...]", "--profile fast|realistic",
        "--timing NAME=SECONDS", "--fault SPEC", "--seed N", "--storage ID:TYPE:CONTENT[:shared]",
        "--cert PEM", "--key PEM", "--dhcp-range CIDR", "--legacy-errors\n", "--pve-version X.Y.Z",
        "--help, -h"}) {
    CHECK_MESSAGE(out.find(std::string("  ") + flag) != std::string::npos, flag);
  }
  std::string short_out;
  CHECK(RunPvesim("-h", &short_out) == 0);
  CHECK(short_out == out);
}

TEST_CASE("a bad command line exits 2 with the reason") {
  struct Case {
    const char* args;
    const char* message;
  };
  for (const Case& c : {
           Case{"--data", "pvesim: --data needs a value\n"},
           Case{"--frobnicate", "pvesim: --frobnicate needs a value\n"},
           Case{"--frobnicate 1", "pvesim: unknown argument --frobnicate\n"},
           Case{"--listen 127.0.0.1:0", "pvesim: --data DIR is required\n"},
           Case{"--data /nonexistent --seed x", "pvesim: --seed wants a number\n"},
           Case{"--data /nonexistent --timing clone", "pvesim: --timing wants NAME=SECONDS\n"},
           Case{"--data /nonexistent --nodes ,", "pvesim: --nodes needs at least one node\n"},
           Case{"--data /nonexistent --nodes a_b", "pvesim: invalid node name 'a_b'\n"},
           Case{"--data /nonexistent --dhcp-range 10.0.0.0",
                "pvesim: --dhcp-range wants an IPv4 CIDR like 10.99.0.0/16\n"},
           Case{"--data /nonexistent --profile slow",
                "pvesim: unknown profile 'slow' (fast, realistic)\n"},
           Case{"--data /nonexistent --timing nope=1",
                "pvesim: unknown timing or bad value: nope\n"},
           Case{"--data /nonexistent --listen nowhere", "pvesim: --listen wants HOST:PORT\n"},
           Case{"--data /nonexistent --cert a.pem", "pvesim: --cert and --key go together\n"},
           Case{"--data /nonexistent --pve-version 9.1",
                "pvesim: --pve-version wants X.Y.Z (e.g. 9.1.1 or 8.4.1), got '9.1'\n"},
           Case{"--data /nonexistent --pve-version 7.4.1",
                "pvesim: --pve-version: pvesim acts as Proxmox VE 8.x or 9.x, got '7.4.1'\n"},
           // Proxmox VE 9 refuses a role with the removed VM.Monitor (pveum role add).
           Case{"--data /nonexistent --role TF:VM.Audit,VM.Monitor",
                "pvesim: --role TF: invalid privilege 'VM.Monitor' (Proxmox VE 9.x has no such "
                "privilege)\n"},
           Case{"--data /nonexistent --role TF:VM.GuestAgent.Audit --pve-version 8.4.1",
                "pvesim: --role TF: invalid privilege 'VM.GuestAgent.Audit' (Proxmox VE 8.x has "
                "no such privilege)\n"},
           Case{"--data /nonexistent --role PVEVMAdmin:VM.Audit",
                "pvesim: --role PVEVMAdmin: cannot change the built-in role\n"},
           Case{"--data /nonexistent --acl /:VM.Monitor:tf@pve",
                "pvesim: --acl /: Proxmox VE 9.x has no role or privilege 'VM.Monitor'\n"},
           Case{"--data /nonexistent --role TF",
                "pvesim: --role wants NAME:PRIV[,PRIV...], got 'TF'\n"},
       }) {
    std::string out;
    CHECK_MESSAGE(RunPvesim(c.args, &out) == 2, c.args);
    CHECK_MESSAGE(out.starts_with(c.message), out);
    CHECK_MESSAGE(out.find("usage: pvesim") != std::string::npos, c.args);
  }
}

}  // namespace
