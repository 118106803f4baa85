// The provider block: how to reach Proxmox VE, resolved from configuration
// with PROXMOX_VE_* environment variables as fallbacks.
#ifndef PROVIDER_RESOURCES_PROVIDER_CONFIG_H_
#define PROVIDER_RESOURCES_PROVIDER_CONFIG_H_

#include <functional>
#include <optional>
#include <string>

#include "provider/base/status.h"
#include "provider/framework/diagnostics.h"
#include "provider/framework/schema.h"
#include "provider/tftypes/value.h"

namespace pvek8s::resources {

// Connection settings after merging configuration and environment.
struct ConnectionSettings {
  std::string endpoint;  // https://host:8006, without /api2/json
  std::string api_token_id;
  std::string api_token_secret;
  std::string username;
  std::string password;
  bool insecure = false;
  std::string ca_pem;
  std::string fingerprint_sha256;  // 64 lower-case hex digits, no colons
  int64_t timeout_seconds = 60;
};

// The provider block's schema.
framework::Schema ProviderSchema();

// Per-attribute checks run at validate time on what the configuration says
// (environment variables are not considered: they may differ at apply).
void ValidateProviderConfig(const tftypes::Value& config, framework::Diagnostics& diags);

// Looks up an environment variable; injectable for tests. Resolution treats
// a variable set to the empty string as unset (`PROXMOX_VE_X= terraform plan`
// is how users clear one), for every PROXMOX_VE_* variable alike.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

// Merges `config` with the environment. Errors name the attribute or the
// variable that is missing or malformed; warnings (insecure TLS) go to diags.
StatusOr<ConnectionSettings> ResolveConnection(const tftypes::Value& config, const EnvLookup& env,
                                               framework::Diagnostics& diags);

// Normalises a fingerprint ("AB:CD:..." or "abcd...") to 64 lower-case hex
// digits; nullopt when it is not a SHA-256 fingerprint.
std::optional<std::string> NormalizeFingerprint(std::string_view text);

// What is wrong with `text` as a SHA-256 fingerprint, in words that end with
// the expected form (for example "has 40 hex digits, not 64 (...)"); empty
// when NormalizeFingerprint accepts it.
std::string FingerprintProblem(std::string_view text);

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_PROVIDER_CONFIG_H_
