#include "provider/resources/provider_data.h"

namespace pvek8s::resources {

void ProviderData::SetConnection(StatusOr<ConnectionSettings> settings, bool final) {
  std::lock_guard<std::mutex> lock(mu_);
  settings_ = std::move(settings);
  final_ = final;
  client_.reset();
}

bool ProviderData::ConnectionFinal() {
  std::lock_guard<std::mutex> lock(mu_);
  return settings_.has_value() && final_;
}

StatusOr<pve::Client*> ProviderData::Client(const framework::Context* ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  if (client_) return client_.get();
  if (!settings_) return FailedPreconditionError("the provider was not configured");
  if (!settings_->ok()) return settings_->status();
  const ConnectionSettings& s = settings_->value();
  pve::ClientOptions o;
  o.endpoint = s.endpoint;
  o.token_id = s.api_token_id;
  o.token_secret = s.api_token_secret;
  o.username = s.username;
  o.password = s.password;
  o.insecure = s.insecure;
  o.ca_pem = s.ca_pem;
  o.fingerprint_sha256 = s.fingerprint_sha256;
  o.timeout_seconds = s.timeout_seconds;
  if (ctx) o.cancelled = [ctx] { return ctx->Cancelled(); };
  client_ = std::make_unique<pve::Client>(std::move(o));
  return client_.get();
}

const char* ClientErrorSummary(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
      return "Invalid Proxmox VE provider configuration";
    default:
      return "Cannot reach Proxmox VE";
  }
}

void ProviderData::SetClientForTesting(std::unique_ptr<pve::Client> client) {
  std::lock_guard<std::mutex> lock(mu_);
  settings_ = ConnectionSettings{};
  final_ = true;
  client_ = std::move(client);
}

}  // namespace pvek8s::resources
