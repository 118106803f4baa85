// kubeadm's upgrade rules as kubeadm_upgrade applies them before running
// anything; each refusal names what to do.
#include "modules/kubeadm/version.h"

#include <doctest/doctest.h>

namespace pvek8s::kubeadm {
namespace {

Version V(std::string_view text) {
  std::optional<Version> v = ParseVersion(text, true);
  REQUIRE(v.has_value());
  return *v;
}

std::string Refusal(UpgradeMode mode, std::string_view target, std::string_view cluster,
                    std::string_view kubeadm) {
  Status s = CheckUpgrade({mode, V(target), V(cluster), V(kubeadm)});
  if (s.ok()) return "";
  CHECK(s.code() == StatusCode::kFailedPrecondition);
  return s.message();
}

TEST_CASE("versions as options and as nodes report them") {
  CHECK(ParseVersion("v1.27.3") == Version{1, 27, 3});
  CHECK(ParseVersion("1.27.3\n") == Version{1, 27, 3});
  CHECK(ParseVersion("v1.27.3")->ToString() == "v1.27.3");
  for (const char* bad : {"", "v1.27", "1.27.x", "v1.027.3", "1.27.3-rc.1", "v1..3", "latest"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseVersion(bad).has_value());
  }
  // A node's kubeadm may carry a pre-release or build suffix.
  CHECK(ParseVersion("v1.27.3-1+abc", true) == Version{1, 27, 3});
  CHECK_FALSE(ParseVersion("v1.27.3x", true).has_value());
  CHECK(Version{1, 27, 3} < Version{1, 28, 0});
  CHECK(Version{1, 9, 9} < Version{1, 10, 0});
}

TEST_CASE("apply: the next minor, a patch, or already there") {
  CHECK(Refusal(UpgradeMode::kApply, "v1.27.3", "v1.26.1", "v1.27.3") == "");
  CHECK(Refusal(UpgradeMode::kApply, "v1.26.9", "v1.26.1", "v1.26.9") == "");
  CHECK(Refusal(UpgradeMode::kApply, "v1.26.1", "v1.26.1", "v1.26.1") == "");
}

TEST_CASE("apply refuses a downgrade and a skipped minor version, saying what to do") {
  CHECK(Refusal(UpgradeMode::kApply, "v1.26.0", "v1.26.1", "v1.26.0") ==
        "version v1.26.0 is older than the control plane's v1.26.1: kubeadm does not downgrade; "
        "restore the control plane from a backup instead, or pass version: v1.26.1 or newer");
  CHECK(Refusal(UpgradeMode::kApply, "v1.28.0", "v1.26.1", "v1.28.0") ==
        "version v1.28.0 skips a minor version: the control plane is at v1.26.1 and kubeadm "
        "upgrades one minor version at a time; upgrade to the latest v1.27.x first, then to "
        "v1.28.0");
  CHECK(Refusal(UpgradeMode::kApply, "v2.0.0", "v1.26.1", "v2.0.0").find("skips a minor") !=
        std::string::npos);
}

TEST_CASE("node refuses to run ahead of the control plane or behind it") {
  CHECK(Refusal(UpgradeMode::kNode, "v1.27.3", "v1.27.3", "v1.27.3") == "");
  CHECK(Refusal(UpgradeMode::kNode, "v1.27.3", "v1.26.1", "v1.27.3") ==
        "version v1.27.3 is ahead of the control plane, which is at v1.26.1: upgrade the control "
        "plane first (mode: apply on the first control-plane node), then run mode: node on the "
        "other nodes");
  CHECK(
      Refusal(UpgradeMode::kNode, "v1.26.1", "v1.27.3", "v1.26.1").find("pass version: v1.27.3") !=
      std::string::npos);
}

TEST_CASE("the kubeadm package is upgraded first") {
  CHECK(Refusal(UpgradeMode::kApply, "v1.27.3", "v1.26.1", "v1.26.1") ==
        "kubeadm on this node is v1.26.1, not the target v1.27.3: upgrade the kubeadm package to "
        "v1.27.3 first (e.g. apt-get install kubeadm=1.27.3-*), then run this again");
  CHECK(Refusal(UpgradeMode::kNode, "v1.27.3", "v1.27.3", "v1.27.4")
            .find("kubeadm on this node is v1.27.4") == 0);
}

}  // namespace
}  // namespace pvek8s::kubeadm
