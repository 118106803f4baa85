// The shared kubeadm module library: input shapes, the version probe against
// small kubeadm stand-ins written here, the private config file, the command
// line, and failure classes with their messages.
#include "modules/kubeadm/kubeadm.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "modules/ansible/testing.h"

namespace pvek8s::kubeadm {
namespace {

using ansible::testing::Exists;
using ansible::testing::ReadText;
using ansible::testing::TempDir;
using ansible::testing::WriteText;
using namespace std::chrono_literals;

TEST_CASE("input shapes") {
  CHECK(IsBootstrapToken("abcdef.0123456789abcdef"));
  CHECK_FALSE(IsBootstrapToken("ABCDEF.0123456789abcdef"));
  CHECK_FALSE(IsBootstrapToken("abcdef0123456789abcdef"));
  CHECK_FALSE(IsBootstrapToken("abcdef.0123456789abcdef0"));
  CHECK(IsEndpoint("10.0.0.1:6443"));
  CHECK(IsEndpoint("k8s.example.org:443"));
  CHECK(IsEndpoint("[fd00::1]:6443"));
  CHECK_FALSE(IsEndpoint("10.0.0.1"));
  CHECK_FALSE(IsEndpoint("10.0.0.1:70000"));
  CHECK_FALSE(IsEndpoint("10.0.0.1:0"));
  CHECK_FALSE(IsEndpoint("-bad.example:6443"));
  CHECK_FALSE(IsEndpoint("https://10.0.0.1:6443"));
  CHECK(KubeconfigServer("clusters:\n- cluster:\n    server: https://10.0.0.1:6443\n") ==
        "10.0.0.1:6443");
  CHECK(KubeconfigServer("    server: \"https://k8s.example:6443/\"\n") == "k8s.example:6443");
  CHECK_FALSE(KubeconfigServer("clusters: []\n").has_value());
  CHECK_FALSE(KubeconfigServer("    server: https://\n").has_value());
}

TEST_CASE("kubeadm 1.31 and later read v1beta4, earlier and unknown versions v1beta3") {
  CHECK(SupportsV1Beta4("v1.31.0"));
  CHECK(SupportsV1Beta4("1.32.1"));
  CHECK(SupportsV1Beta4("v2.0.0"));
  CHECK_FALSE(SupportsV1Beta4("v1.30.4"));
  CHECK_FALSE(SupportsV1Beta4("unknown"));
  CHECK(ConfigApiVersion(true) == "kubeadm.k8s.io/v1beta4");
  CHECK(ConfigApiVersion(false) == "kubeadm.k8s.io/v1beta3");
}

TEST_CASE("the test root comes from the environment, only when set") {
  ::setenv(kTestRootEnv, "/tmp/some-root", 1);
  ::setenv("TMPDIR", "/tmp/some-tmp", 1);
  System sys = System::FromEnvironment();
  CHECK(sys.root == "/tmp/some-root");
  CHECK(sys.tmp_dir == "/tmp/some-tmp");
  CHECK(sys.now == 0);
  ::setenv(kTestRootEnv, "", 1);
  ::unsetenv("TMPDIR");
  sys = System::FromEnvironment();
  CHECK(sys.root.empty());
  CHECK(sys.tmp_dir == "/tmp");
  ::unsetenv(kTestRootEnv);
}

TEST_CASE("the version probe finds kubeadm, trims its answer and reports failures") {
  TempDir d;
  WriteText(d / "kubeadm", "#!/bin/sh\n[ \"$*\" = 'version -o short' ] || exit 9\necho v1.31.2\n",
            0755);
  StatusOr<Kubeadm> k = ProbeKubeadm(d / "kubeadm");
  REQUIRE_MESSAGE(k.ok(), k.status().message());
  CHECK(k->path == d / "kubeadm");
  CHECK(k->version == "v1.31.2");
  CHECK(k->v1beta4);

  WriteText(d / "old", "#!/bin/sh\nprintf 'v1.30.4 \\n'\n", 0755);
  k = ProbeKubeadm(d / "old");
  REQUIRE(k.ok());
  CHECK(k->version == "v1.30.4");
  CHECK_FALSE(k->v1beta4);

  WriteText(d / "broken", "#!/bin/sh\necho 'cannot read config' >&2\nexit 3\n", 0755);
  k = ProbeKubeadm(d / "broken");
  REQUIRE_FALSE(k.ok());
  CHECK(k.status().message().rfind("kubeadm version failed", 0) == 0);
  CHECK(k.status().message().find("cannot read config") != std::string::npos);

  k = ProbeKubeadm(d / "missing");
  REQUIRE_FALSE(k.ok());
  CHECK(k.status().message() == d / "missing" + " not found");
  CHECK(ProbeKubeadm("pvek8s-no-such-kubeadm").status().message() ==
        "pvek8s-no-such-kubeadm not found");
}

TEST_CASE("the config file is private, named by verb, and removed afterwards") {
  TempDir d;
  System sys;
  sys.tmp_dir = d.path();
  std::string path;
  {
    auto file = WriteConfigFile(sys, "join", "token: abcdef.0123456789abcdef\n");
    REQUIRE_MESSAGE(file.ok(), file.status().message());
    path = (*file)->path();
    CHECK(path.rfind(d / "pvek8s-join-", 0) == 0);
    CHECK(ReadText(path) == "token: abcdef.0123456789abcdef\n");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  CHECK_FALSE(Exists(path));
  sys.tmp_dir = d / "no-such-dir";
  auto bad = WriteConfigFile(sys, "init", "x");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().rfind("cannot write the init configuration: ", 0) == 0);
}

TEST_CASE("check mode runs only the preflight phase and leaves the real run's flags out") {
  Kubeadm k{"/usr/bin/kubeadm", "v1.31.0", true};
  CHECK(
      CommandLine(k, "init", false, {"--upload-certs"}, "/tmp/c") ==
      std::vector<std::string>{"/usr/bin/kubeadm", "init", "--upload-certs", "--config", "/tmp/c"});
  CHECK(CommandLine(k, "init", true, {"--upload-certs"}, "/tmp/c") ==
        std::vector<std::string>{"/usr/bin/kubeadm", "init", "phase", "preflight", "--config",
                                 "/tmp/c"});
  CHECK(CommandLine(k, "join", false, {}, "/tmp/j") ==
        std::vector<std::string>{"/usr/bin/kubeadm", "join", "--config", "/tmp/j"});
}

TEST_CASE("failure classification from kubeadm's texts") {
  CHECK(ClassifyFailure("could not find a JWS signature in the cluster-info ConfigMap").cls ==
        FailureClass::kTokenInvalid);
  CHECK(ClassifyFailure("the token has expired").cls == FailureClass::kTokenInvalid);
  CHECK(ClassifyFailure("failed to verify JWS signature of received cluster info object, can't "
                        "trust this API Server")
            .cls == FailureClass::kTokenInvalid);
  CHECK(ClassifyFailure("none of the public keys \"sha256:ab\" are pinned").cls ==
        FailureClass::kCaMismatch);
  CHECK(ClassifyFailure("dial tcp 1.2.3.4:6443: connect: no route to host").cls ==
        FailureClass::kUnreachable);
  CHECK(ClassifyFailure("The connection to the server 10.0.0.1:6443 was refused - did you specify "
                        "the right host or port?")
            .cls == FailureClass::kUnreachable);
  CHECK(ClassifyFailure("something else entirely").cls == FailureClass::kOther);
  Classified p = ClassifyFailure(
      "[ERROR FileAvailable--etc-kubernetes-pki-ca.crt]: exists\n"
      "[ERROR Swap]: swap on\n"
      "error execution phase preflight: connection refused\n");
  CHECK(p.cls == FailureClass::kPreflight);
  CHECK(p.preflight_checks ==
        std::vector<std::string>{"FileAvailable--etc-kubernetes-pki-ca.crt", "Swap"});
  CHECK(p.partial_join);
  CHECK(ClassifyFailure("[ERROR Port-10250]: in use").partial_join);
  CHECK(ClassifyFailure("[ERROR DirAvailable--etc-kubernetes-manifests]: not empty").partial_join);
  CHECK_FALSE(ClassifyFailure("[ERROR Swap]: swap on").partial_join);
}

TEST_CASE("a run's class: its deadline first, then its stdout and stderr") {
  ansible::CommandResult timed_out;
  timed_out.timed_out = true;
  timed_out.err = "[ERROR Swap]: swap on";
  Classified t = ClassifyRun(timed_out);
  CHECK(t.cls == FailureClass::kTimeout);
  CHECK(t.preflight_checks.empty());
  ansible::CommandResult failed;
  failed.exit_code = 1;
  failed.out = "[preflight] Running pre-flight checks";
  failed.err = "[ERROR Swap]: swap on";
  CHECK(ClassifyRun(failed).cls == FailureClass::kPreflight);
  failed.err = "dial tcp: i/o timeout";
  CHECK(ClassifyRun(failed).cls == FailureClass::kUnreachable);
}

TEST_CASE("failure names and one-line messages") {
  CHECK(FailureClassName(FailureClass::kNone) == "none");
  CHECK(FailureClassName(FailureClass::kTokenInvalid) == "token_invalid");
  CHECK(FailureClassName(FailureClass::kCaMismatch) == "ca_mismatch");
  CHECK(FailureClassName(FailureClass::kUnreachable) == "unreachable");
  CHECK(FailureClassName(FailureClass::kPreflight) == "preflight");
  CHECK(FailureClassName(FailureClass::kTimeout) == "timeout");
  CHECK(FailureClassName(FailureClass::kOther) == "other");
  CHECK(PreflightFailedMessage({"Swap", "Port-6443"}) ==
        "kubeadm preflight checks failed: Swap, Port-6443");
  CHECK(TimeoutMessage("init", 900s) == "kubeadm init did not finish within 900 s");
  CHECK(ErrorLine("ok\nerror: first\nfine\nError execution phase x \r\nbye\n") ==
        "Error execution phase x");
  CHECK(ErrorLine("nothing wrong\n").empty());
}

}  // namespace
}  // namespace pvek8s::kubeadm
