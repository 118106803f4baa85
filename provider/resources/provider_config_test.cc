#include "provider/resources/provider_config.h"

#include <doctest/doctest.h>

#include <map>

#include "provider/framework/server.h"
#include "provider/resources/provider_data.h"
#include "provider/resources/proxmox_provider.h"
#include "provider/tftypes/codec.h"

namespace pvek8s::resources {
namespace {

using tftypes::Type;
using tftypes::Value;

constexpr char kSecret[] = "0b0a8f2e-4c7e-4bd1-9a55-6a5d7e6b1c2f";

struct Env {
  std::map<std::string, std::string> vars;
  EnvLookup Lookup() const {
    auto copy = vars;
    return [copy](const std::string& k) -> std::optional<std::string> {
      auto it = copy.find(k);
      if (it == copy.end()) return std::nullopt;
      return it->second;
    };
  }
};

Type ConfigType() { return framework::ImpliedType(ProviderSchema().block); }

Value Config(std::map<std::string, Value> attrs) {
  return Value::Object(ConfigType(), std::move(attrs));
}

Value Tls(std::map<std::string, Value> attrs) {
  return Value::Object(ConfigType().attributes().at("tls"), std::move(attrs));
}

TEST_CASE("settings come from config first, then the environment") {
  Env env{{{"PROXMOX_VE_ENDPOINT", "https://pve-env:8006"},
           {"PROXMOX_VE_API_TOKEN", std::string("terraform@pam!tf=") + kSecret}}};
  framework::Diagnostics d;
  auto s = ResolveConnection(Config({}), env.Lookup(), d);
  REQUIRE(s.ok());
  CHECK(s->endpoint == "https://pve-env:8006");
  CHECK(s->api_token_id == "terraform@pam!tf");
  CHECK(s->api_token_secret == kSecret);
  CHECK_FALSE(s->insecure);
  CHECK(s->timeout_seconds == 60);

  auto s2 = ResolveConnection(Config({{"endpoint", Value::String("https://pve1:8006/api2/json")},
                                      {"timeout", Value::String("2m")}}),
                              env.Lookup(), d);
  REQUIRE(s2.ok());
  CHECK(s2->endpoint == "https://pve1:8006");
  CHECK(s2->timeout_seconds == 120);
  CHECK(d.empty());
}

TEST_CASE("missing or malformed settings say what to set") {
  framework::Diagnostics d;
  auto none = ResolveConnection(Config({}), Env{}.Lookup(), d);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message().find("PROXMOX_VE_ENDPOINT") != std::string::npos);
  Env only_endpoint{{{"PROXMOX_VE_ENDPOINT", "https://pve:8006"}}};
  auto nocreds = ResolveConnection(Config({}), only_endpoint.Lookup(), d);
  REQUIRE_FALSE(nocreds.ok());
  CHECK(nocreds.status().message().find("credentials") != std::string::npos);
}

TEST_CASE("insecure TLS warns; fingerprints are normalised") {
  Env env{{{"PROXMOX_VE_ENDPOINT", "https://pve:8006"},
           {"PROXMOX_VE_USERNAME", "root@pam"},
           {"PROXMOX_VE_PASSWORD", "pw"},
           {"PROXMOX_VE_INSECURE", "true"}}};
  framework::Diagnostics d;
  auto s = ResolveConnection(Config({}), env.Lookup(), d);
  REQUIRE(s.ok());
  CHECK(s->insecure);
  REQUIRE(d.items().size() == 1);
  CHECK(d.items()[0].summary == "TLS verification is disabled");
  std::string colon, plain;
  for (int i = 0; i < 32; ++i) {
    colon += (i ? ":" : "") + std::string("AB");
    plain += "ab";
  }
  CHECK(NormalizeFingerprint(colon) == plain);
  CHECK_FALSE(NormalizeFingerprint("abcd"));
}

TEST_CASE("an empty environment variable counts as unset, the fingerprint like the endpoint") {
  Env env{{{"PROXMOX_VE_ENDPOINT", "https://pve:8006"},
           {"PROXMOX_VE_API_TOKEN", std::string("terraform@pam!tf=") + kSecret},
           {"PROXMOX_VE_TLS_FINGERPRINT", ""},
           {"PROXMOX_VE_INSECURE", ""}}};
  framework::Diagnostics d;
  auto s = ResolveConnection(Config({}), env.Lookup(), d);
  REQUIRE(s.ok());
  CHECK(s->fingerprint_sha256.empty());
  CHECK_FALSE(s->insecure);
  Env empty_endpoint{{{"PROXMOX_VE_ENDPOINT", ""}}};
  auto none = ResolveConnection(Config({}), empty_endpoint.Lookup(), d);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message().find("No Proxmox VE endpoint") != std::string::npos);
}

TEST_CASE("a malformed fingerprint says what is wrong and shows the expected form") {
  std::string upper;
  for (int i = 0; i < 32; ++i) upper += (i ? ":" : "") + std::string("0F");
  CHECK(FingerprintProblem(upper).empty());
  CHECK(FingerprintProblem("") == "is empty");
  CHECK(FingerprintProblem("AB:CD:EF") == "has 6 hex digits, not 64");
  CHECK(FingerprintProblem("AB-CD") ==
        "has '-' at position 3, which is neither a hex digit nor a colon");
  Env env{{{"PROXMOX_VE_ENDPOINT", "https://pve:8006"},
           {"PROXMOX_VE_API_TOKEN", std::string("terraform@pam!tf=") + kSecret},
           {"PROXMOX_VE_TLS_FINGERPRINT", "sha256:AB:CD"}}};
  framework::Diagnostics d;
  auto s = ResolveConnection(Config({}), env.Lookup(), d);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == StatusCode::kInvalidArgument);
  const std::string m = s.status().message();  // status() is a copy
  CHECK(m.find("PROXMOX_VE_TLS_FINGERPRINT") != std::string::npos);
  CHECK(m.find("has 's' at position 1") != std::string::npos);
  CHECK(m.find("AB:CD:...:EF") != std::string::npos);
}

TEST_CASE("configuration mistakes are titled as such, connection failures as unreachable") {
  CHECK(std::string(ClientErrorSummary(InvalidArgumentError("x"))) ==
        "Invalid Proxmox VE provider configuration");
  CHECK(std::string(ClientErrorSummary(FailedPreconditionError("x"))) ==
        "Invalid Proxmox VE provider configuration");
  CHECK(std::string(ClientErrorSummary(UnavailableError("x"))) == "Cannot reach Proxmox VE");
}

TEST_CASE("validate names the attribute for each bad provider setting") {
  framework::Server server(NewProxmoxProvider(Env{}.Lookup()));
  auto check = [&](const Value& cfg, const std::string& path) {
    auto wire = framework::WireValue{*tftypes::EncodeMsgpack(cfg, ConfigType()), ""};
    auto d = server.ValidateProviderConfig(wire);
    REQUIRE(d.HasError());
    CHECK(d.items()[0].path->ToString() == path);
  };
  check(Config({{"endpoint", Value::String("http://pve:8006")}}), "endpoint");
  check(Config({{"api_token_id", Value::String("terraform@pam")},
                {"api_token_secret", Value::String(kSecret)}}),
        "api_token_id");
  check(Config({{"api_token_id", Value::String("terraform@pam!tf")},
                {"api_token_secret", Value::String("not-a-uuid")}}),
        "api_token_secret");
  check(Config({{"api_token_id", Value::String("terraform@pam!tf")}}), "api_token_secret");
  check(Config({{"api_token_id", Value::String("terraform@pam!tf")},
                {"api_token_secret", Value::String(kSecret)},
                {"username", Value::String("root@pam")},
                {"password", Value::String("x")}}),
        "username");
  check(Config({{"timeout", Value::String("soon")}}), "timeout");
  check(Config({{"tls", Tls({{"fingerprint_sha256", Value::String("zz")}})}}),
        "tls.fingerprint_sha256");
  check(Config({{"tls", Tls({{"ca_pem", Value::String("not pem")}})}}), "tls.ca_pem");
  auto path = server.ValidateProviderConfig(framework::WireValue{
      *tftypes::EncodeMsgpack(
          Config({{"tls", Tls({{"ca_pem", Value::String("/etc/pve/pve-root-ca.pem")}})}}),
          ConfigType()),
      ""});
  REQUIRE(path.HasError());
  CHECK(path.items()[0].detail ==
        "ca_pem holds the PEM text of the certificate, not a file name: write ca_pem = "
        "file(\"/etc/pve/pve-root-ca.pem\").");
  check(Config({{"tls", Tls({{"insecure", Value::Bool(true)},
                             {"fingerprint_sha256", Value::String(std::string(64, 'a'))}})}}),
        "tls.insecure");
  // A provider block with nothing in it is valid: only API resources need it.
  auto ok = server.ValidateProviderConfig(
      framework::WireValue{*tftypes::EncodeMsgpack(Config({}), ConfigType()), ""});
  CHECK_FALSE(ok.HasError());
}

TEST_CASE("every schema attribute has a description and the schema follows the rules") {
  framework::Server server(NewProxmoxProvider(Env{}.Lookup()));
  auto schemas = server.GetProviderSchema();
  CHECK(framework::CheckSchema(schemas.provider->block, "provider").empty());
  for (const auto& [name, s] : schemas.resources) {
    CHECK(name.starts_with("proxmox_"));
    CHECK(framework::CheckSchema(s->block, name).empty());
  }
  for (const auto& [name, s] : schemas.data_sources) {
    CHECK(name.starts_with("proxmox_"));
    CHECK(framework::CheckSchema(s->block, name).empty());
  }
}

}  // namespace
}  // namespace pvek8s::resources
