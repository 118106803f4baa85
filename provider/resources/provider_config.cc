#include "provider/resources/provider_config.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cctype>
#include <cstdlib>
#include <regex>

#include "provider/framework/validators.h"

namespace pvek8s::resources {

using framework::Attribute;
using framework::Diagnostics;
using framework::NestedBlock;
using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

namespace {

constexpr char kTokenIdPattern[] = R"([^\s:/@!]+@[A-Za-z][A-Za-z0-9._-]*![A-Za-z][A-Za-z0-9._-]*)";
constexpr char kUserPattern[] = R"([^\s:/@!]+@[A-Za-z][A-Za-z0-9._-]*)";
constexpr char kUuidPattern[] =
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

bool IsPemCertificate(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) return false;
  X509_free(cert);
  return true;
}

framework::Validator EndpointValidator() {
  return [](const Value& v, const AttributePath& path, Diagnostics& diags) {
    static const std::regex re(R"(https://[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?(/api2/json)?/?)");
    if (!std::regex_match(v.AsString(), re)) {
      diags.AddError("Invalid Proxmox VE endpoint",
                     "\"" + v.AsString() +
                         "\" is not an https URL of a Proxmox VE API, such as "
                         "https://pve1.example.com:8006. Proxmox serves its API over HTTPS only.",
                     path);
    }
  };
}

framework::Validator FingerprintValidator() {
  return [](const Value& v, const AttributePath& path, Diagnostics& diags) {
    std::string problem = FingerprintProblem(v.AsString());
    if (!problem.empty()) {
      diags.AddError("Invalid TLS fingerprint",
                     "The value " + problem +
                         ": the SHA-256 fingerprint of the server certificate is 64 hex digits, "
                         "optionally in colon-separated pairs (AB:CD:...:EF, as `pvenode cert "
                         "info` and `openssl x509 -fingerprint -sha256` print it).",
                     path);
    }
  };
}

// A file name where PEM text belongs is the usual slip (Proxmox documents the
// CA as /etc/pve/pve-root-ca.pem).
bool LooksLikeFileName(const std::string& s) {
  return !s.empty() && (s.front() == '/' || s.starts_with("~/") || s.starts_with("./")) &&
         s.find('\n') == std::string::npos && s.find("-----BEGIN") == std::string::npos;
}

framework::Validator CaPemValidator() {
  return [](const Value& v, const AttributePath& path, Diagnostics& diags) {
    if (IsPemCertificate(v.AsString())) return;
    if (LooksLikeFileName(v.AsString())) {
      diags.AddError("Invalid CA certificate",
                     "ca_pem holds the PEM text of the certificate, not a file name: write "
                     "ca_pem = file(\"" +
                         v.AsString() + "\").",
                     path);
      return;
    }
    diags.AddError("Invalid CA certificate",
                   "ca_pem must hold a PEM certificate (-----BEGIN CERTIFICATE----- ...).", path);
  };
}

std::optional<bool> ParseBool(const std::string& s) {
  if (s == "1" || s == "true" || s == "TRUE" || s == "True" || s == "yes") return true;
  if (s == "0" || s == "false" || s == "FALSE" || s == "False" || s == "no" || s.empty()) {
    return false;
  }
  return std::nullopt;
}

}  // namespace

framework::Schema ProviderSchema() {
  framework::Schema s;
  s.block.description =
      "Connects to a Proxmox VE cluster. Every setting may instead come from its PROXMOX_VE_* "
      "environment variable. No connection is made until a resource or data source needs one, "
      "so a configuration using only `proxmox_k8s_cluster` needs no settings at all.";
  s.block.attributes = {
      {.name = "endpoint",
       .type = Type::String(),
       .description = "URL of the Proxmox VE API, e.g. `https://pve1.example.com:8006`. "
                      "Environment: `PROXMOX_VE_ENDPOINT`.",
       .optional = true,
       .validators = {EndpointValidator()}},
      {.name = "api_token_id",
       .type = Type::String(),
       .description = "API token id, `USER@REALM!TOKENID`. Environment: "
                      "`PROXMOX_VE_API_TOKEN_ID` (or `PROXMOX_VE_API_TOKEN` as `ID=SECRET`).",
       .optional = true,
       .validators = {framework::Matches(kTokenIdPattern, "USER@REALM!TOKENID")}},
      {.name = "api_token_secret",
       .type = Type::String(),
       .description = "API token secret (a UUID). Environment: `PROXMOX_VE_API_TOKEN_SECRET`.",
       .optional = true,
       .sensitive = true,
       .validators = {framework::Matches(kUuidPattern, "a UUID as Proxmox VE issues them")}},
      {.name = "username",
       .type = Type::String(),
       .description = "User for ticket authentication, `USER@REALM`, when no API token is "
                      "used. Environment: `PROXMOX_VE_USERNAME`.",
       .optional = true,
       .validators = {framework::Matches(kUserPattern, "USER@REALM, e.g. terraform@pve")}},
      {.name = "password",
       .type = Type::String(),
       .description = "Password for ticket authentication. Environment: `PROXMOX_VE_PASSWORD`.",
       .optional = true,
       .sensitive = true},
      {.name = "timeout",
       .type = Type::String(),
       .description = "Timeout of one API request, as a duration such as `60s` (default). "
                      "Environment: `PROXMOX_VE_TIMEOUT`.",
       .optional = true,
       .validators = {framework::Duration(1)}},
  };
  s.block.blocks = {
      {.type_name = "tls",
       .nesting = NestedBlock::Nesting::kSingle,
       .block = {.attributes =
                     {
                         {.name = "insecure",
                          .type = Type::Bool(),
                          .description = "Skip verification of the server certificate. Unsafe; "
                                         "prefer `ca_pem` or `fingerprint_sha256`. Environment: "
                                         "`PROXMOX_VE_INSECURE`.",
                          .optional = true},
                         {.name = "ca_pem",
                          .type = Type::String(),
                          .description = "PEM certificate of the CA that signed the server "
                                         "certificate (for Proxmox: `/etc/pve/pve-root-ca.pem`). "
                                         "Environment: `PROXMOX_VE_CA_PEM`.",
                          .optional = true,
                          .validators = {CaPemValidator()}},
                         {.name = "fingerprint_sha256",
                          .type = Type::String(),
                          .description = "Pin the server certificate by its SHA-256 fingerprint "
                                         "instead of a CA. Environment: "
                                         "`PROXMOX_VE_TLS_FINGERPRINT`.",
                          .optional = true,
                          .validators = {FingerprintValidator()}},
                     },
                 .description = "How the server certificate is verified. Verification is on by "
                                "default against the system CA store."}},
  };
  return s;
}

void ValidateProviderConfig(const Value& config, Diagnostics& diags) {
  const Value& tls = config.Attr("tls");
  bool insecure = tls.GetBool("insecure").value_or(false);
  if (insecure && (tls.GetString("ca_pem") || tls.GetString("fingerprint_sha256"))) {
    diags.AddError("Conflicting TLS settings",
                   "insecure = true disables verification, so ca_pem and fingerprint_sha256 "
                   "would be ignored. Set one or the other.",
                   AttributePath("tls").Attr("insecure"));
  }
  bool token = !config.Attr("api_token_id").IsNull() || !config.Attr("api_token_secret").IsNull();
  bool user = !config.Attr("username").IsNull() || !config.Attr("password").IsNull();
  if (token && user) {
    diags.AddError("Conflicting credentials",
                   "Use either an API token (api_token_id + api_token_secret) or a user "
                   "(username + password), not both.",
                   AttributePath("username"));
  }
  auto pair = [&](const char* a, const char* b) {
    const Value& va = config.Attr(a);
    const Value& vb = config.Attr(b);
    if (!va.IsNull() && va.IsKnown() && vb.IsNull()) {
      diags.AddError(std::string("Missing ") + b,
                     std::string(b) + " is required when " + a + " is set.", AttributePath(b));
    }
  };
  pair("api_token_id", "api_token_secret");
  pair("api_token_secret", "api_token_id");
  pair("username", "password");
}

std::string FingerprintProblem(std::string_view text) {
  if (text.empty()) return "is empty";
  size_t digits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return "has '" + std::string(1, c) + "' at position " + std::to_string(i + 1) +
             ", which is neither a hex digit nor a colon";
    }
    ++digits;
  }
  if (digits != 64) return "has " + std::to_string(digits) + " hex digits, not 64";
  return "";
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::optional<std::string> NormalizeFingerprint(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 64) return std::nullopt;
  return hex;
}

namespace {

// The environment variable `var`; set to the empty string counts as unset.
std::optional<std::string> EnvSet(const EnvLookup& env, const char* var) {
  auto v = env(var);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

// The attribute `attr` of `obj` when set in the configuration, else the
// environment variable `var` (which may be unset too).
std::optional<std::string> Pick(const Value& obj, const char* attr, const EnvLookup& env,
                                const char* var) {
  if (auto v = obj.GetString(attr)) return v;
  return EnvSet(env, var);
}

// Sets s.endpoint: required, https, without trailing slashes or /api2/json.
Status ResolveEndpoint(const Value& config, const EnvLookup& env, ConnectionSettings& s) {
  auto endpoint = Pick(config, "endpoint", env, "PROXMOX_VE_ENDPOINT");
  if (!endpoint || endpoint->empty()) {
    return InvalidArgumentError(
        "No Proxmox VE endpoint: set `endpoint` in the provider block or PROXMOX_VE_ENDPOINT.");
  }
  s.endpoint = *endpoint;
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  if (s.endpoint.size() > 10 && s.endpoint.ends_with("/api2/json")) {
    s.endpoint.resize(s.endpoint.size() - 10);
  }
  if (!s.endpoint.starts_with("https://")) {
    return InvalidArgumentError("endpoint \"" + s.endpoint + "\" must start with https://");
  }
  return Status::Ok();
}

// Sets either the API token (id and secret, possibly from the combined
// PROXMOX_VE_API_TOKEN=ID=SECRET) or username and password; a complete token
// wins over a user, whose fields are then cleared.
Status ResolveCredentials(const Value& config, const EnvLookup& env, ConnectionSettings& s) {
  s.api_token_id = Pick(config, "api_token_id", env, "PROXMOX_VE_API_TOKEN_ID").value_or("");
  s.api_token_secret =
      Pick(config, "api_token_secret", env, "PROXMOX_VE_API_TOKEN_SECRET").value_or("");
  if (s.api_token_id.empty() && s.api_token_secret.empty()) {
    if (auto combined = EnvSet(env, "PROXMOX_VE_API_TOKEN")) {
      size_t eq = combined->find('=');
      if (eq == std::string::npos) {
        return InvalidArgumentError("PROXMOX_VE_API_TOKEN must be USER@REALM!TOKENID=SECRET");
      }
      s.api_token_id = combined->substr(0, eq);
      s.api_token_secret = combined->substr(eq + 1);
    }
  }
  s.username = Pick(config, "username", env, "PROXMOX_VE_USERNAME").value_or("");
  s.password = Pick(config, "password", env, "PROXMOX_VE_PASSWORD").value_or("");
  bool have_token = !s.api_token_id.empty() && !s.api_token_secret.empty();
  bool have_user = !s.username.empty() && !s.password.empty();
  if (!have_token && !have_user) {
    return InvalidArgumentError(
        "No Proxmox VE credentials: set api_token_id + api_token_secret (or "
        "PROXMOX_VE_API_TOKEN_ID / PROXMOX_VE_API_TOKEN_SECRET), or username + password.");
  }
  if (have_token && !std::regex_match(s.api_token_id, std::regex(kTokenIdPattern))) {
    return InvalidArgumentError("api_token_id must look like USER@REALM!TOKENID");
  }
  if (have_token) {
    s.username.clear();
    s.password.clear();
  }
  return Status::Ok();
}

// Sets s.insecure, s.ca_pem and s.fingerprint_sha256 from the `tls` block or
// the environment; the CA must be PEM text and the fingerprint SHA-256.
Status ResolveTls(const Value& tls, const EnvLookup& env, ConnectionSettings& s) {
  if (auto b = tls.GetBool("insecure")) {
    s.insecure = *b;
  } else if (auto e = EnvSet(env, "PROXMOX_VE_INSECURE")) {
    auto parsed = ParseBool(*e);
    if (!parsed) return InvalidArgumentError("PROXMOX_VE_INSECURE must be true or false");
    s.insecure = *parsed;
  }
  s.ca_pem = Pick(tls, "ca_pem", env, "PROXMOX_VE_CA_PEM").value_or("");
  if (!s.ca_pem.empty() && !IsPemCertificate(s.ca_pem)) {
    if (LooksLikeFileName(s.ca_pem)) {
      return InvalidArgumentError(
          "the CA certificate (tls.ca_pem or PROXMOX_VE_CA_PEM) must be the PEM text, not a "
          "file name; e.g. PROXMOX_VE_CA_PEM=\"$(cat " +
          s.ca_pem + ")\"");
    }
    return InvalidArgumentError("the CA certificate (tls.ca_pem or PROXMOX_VE_CA_PEM) is not PEM");
  }
  if (auto fp = Pick(tls, "fingerprint_sha256", env, "PROXMOX_VE_TLS_FINGERPRINT")) {
    auto norm = NormalizeFingerprint(*fp);
    if (!norm) {
      return InvalidArgumentError(
          "the TLS fingerprint (tls.fingerprint_sha256 or PROXMOX_VE_TLS_FINGERPRINT) " +
          FingerprintProblem(*fp) +
          "; expected the server certificate's SHA-256 fingerprint as AB:CD:...:EF (32 "
          "colon-separated hex pairs, as `pvenode cert info` prints it) or 64 hex digits");
    }
    s.fingerprint_sha256 = *norm;
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ConnectionSettings> ResolveConnection(const Value& config, const EnvLookup& env,
                                               Diagnostics& diags) {
  ConnectionSettings s;
  PVEK8S_RETURN_IF_ERROR(ResolveEndpoint(config, env, s));
  PVEK8S_RETURN_IF_ERROR(ResolveCredentials(config, env, s));
  PVEK8S_RETURN_IF_ERROR(ResolveTls(config.Attr("tls"), env, s));
  if (s.insecure) {
    diags.AddWarning("TLS verification is disabled",
                     "The provider will accept any certificate from " + s.endpoint +
                         ". Pin the server with tls.fingerprint_sha256 or tls.ca_pem instead.",
                     AttributePath("tls").Attr("insecure"));
  }
  if (auto t = Pick(config, "timeout", env, "PROXMOX_VE_TIMEOUT")) {
    auto secs = framework::ParseDurationSeconds(*t);
    if (!secs.ok()) return secs.status().WithPrefix("timeout");
    s.timeout_seconds = *secs;
  }
  return s;
}

}  // namespace pvek8s::resources
