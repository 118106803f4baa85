// What the gcid.k8s kubeadm modules (kubeadm_init, kubeadm_join, and later
// reset, upgrade and drain) share: where they look on the node, finding and
// probing kubeadm, the private configuration file, the command line with
// preflight-only check mode, and kubeadm's failures by class with their
// one-line messages.
//
// Everything here is for module binaries: no exceptions, no OpenSSL, and
// errors as Status whose message is the module's `msg` as it stands.
#ifndef MODULES_KUBEADM_KUBEADM_H_
#define MODULES_KUBEADM_KUBEADM_H_

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modules/ansible/command.h"
#include "modules/ansible/file_util.h"
#include "provider/base/status.h"

namespace pvek8s::kubeadm {

// Where a module looks; tests point `root` at a directory tree and the
// kubeadm_path option at a stand-in.
struct System {
  std::string root;  // Prefix of /etc/kubernetes paths ("" = /).
  std::string tmp_dir = "/tmp";
  std::time_t now = 0;  // 0: the real clock.

  // Real paths, except that PVEK8S_KUBEADM_TEST_ROOT (tests only) sets `root`
  // and TMPDIR sets `tmp_dir` when they are non-empty.
  static System FromEnvironment();
};

inline constexpr const char* kTestRootEnv = "PVEK8S_KUBEADM_TEST_ROOT";

// --- Input shapes -----------------------------------------------------------

// True for a bootstrap token "[a-z0-9]{6}.[a-z0-9]{16}".
bool IsBootstrapToken(std::string_view token);
// True for "host:port" with a DNS name, IPv4 or [IPv6] host and a port 1..65535.
bool IsEndpoint(std::string_view endpoint);
// The `server:` of a kubeconfig without scheme or trailing '/'
// ("10.0.0.1:6443"); nullopt if there is none.
std::optional<std::string> KubeconfigServer(std::string_view kubeconfig);

// --- kubeadm itself ---------------------------------------------------------

// Whether kubeadm `version` (e.g. "v1.31.2") reads kubeadm.k8s.io/v1beta4.
// Unparseable versions are taken as older (v1beta3).
bool SupportsV1Beta4(std::string_view version);
// "kubeadm.k8s.io/v1beta4" or "kubeadm.k8s.io/v1beta3".
std::string_view ConfigApiVersion(bool v1beta4);

// The kubeadm a module runs, as found on the node.
struct Kubeadm {
  std::string path;      // Absolute path of the executable.
  std::string version;   // `kubeadm version -o short`, trailing space removed.
  bool v1beta4 = false;  // SupportsV1Beta4(version).
};

// Finds `kubeadm_path` (a name searched in $PATH and the sbin/bin
// directories, or a path) and asks its version, with a 60 s deadline.
// Errors: "<kubeadm_path> not found"; the reason it could not start; or
// "kubeadm version failed (...)" as ansible::DescribeFailure words it.
StatusOr<Kubeadm> ProbeKubeadm(const std::string& kubeadm_path);

// Writes `text` (which holds secrets such as the bootstrap token) to a 0600
// file named /<tmp_dir>/pvek8s-<verb>-XXXXXX, removed when the returned object
// goes. Error: "cannot write the <verb> configuration: <reason>".
StatusOr<std::unique_ptr<ansible::PrivateTempFile>> WriteConfigFile(const System& system,
                                                                    std::string_view verb,
                                                                    std::string_view text);

// The command line `kubeadm <verb> [flags...] --config <config_path>`. In check
// mode it is `kubeadm <verb> phase preflight --config <config_path>`: the
// checks run and nothing changes, so `flags` (which are for the real run, such
// as --upload-certs) are left out.
std::vector<std::string> CommandLine(const Kubeadm& kubeadm, std::string_view verb, bool check_mode,
                                     const std::vector<std::string>& flags,
                                     const std::string& config_path);

// --- Failures ---------------------------------------------------------------

// Why a kubeadm run failed, as modules report it in `failure_class`.
enum class FailureClass {
  kNone,
  kTokenInvalid,  // Expired, deleted or mistyped bootstrap token.
  kCaMismatch,    // The cluster CA does not match the pinned hashes.
  kUnreachable,   // The API server endpoint cannot be reached.
  kPreflight,     // kubeadm preflight checks failed.
  kTimeout,       // kubeadm did not finish before its deadline.
  kOther,
};
// The `failure_class` text: "none", "token_invalid", "ca_mismatch",
// "unreachable", "preflight", "timeout", "other".
std::string_view FailureClassName(FailureClass c);

// The class of a failure from kubeadm's output, the names of failed preflight
// checks in order (e.g. "FileAvailable--etc-kubernetes-kubelet.conf"), and
// whether the failure is a known partial-join signature that `kubeadm reset`
// cures. Failed preflight checks decide the class before any other text.
struct Classified {
  FailureClass cls = FailureClass::kOther;
  std::vector<std::string> preflight_checks;
  bool partial_join = false;
};
Classified ClassifyFailure(std::string_view output);
// A failed run: kTimeout when its deadline passed, else ClassifyFailure of its
// stdout and stderr.
Classified ClassifyRun(const ansible::CommandResult& run);

// "kubeadm preflight checks failed: <check>, <check>".
std::string PreflightFailedMessage(const std::vector<std::string>& checks);
// "kubeadm <verb> did not finish within <seconds> s".
std::string TimeoutMessage(std::string_view verb, std::chrono::seconds deadline);
// The last line of `output` that mentions "error" (any case), trailing
// blanks removed, kubeadm's "To see the stack trace of this error..." hint
// skipped; "" when none does. For one-line messages.
std::string ErrorLine(std::string_view output);

}  // namespace pvek8s::kubeadm

#endif  // MODULES_KUBEADM_KUBEADM_H_
