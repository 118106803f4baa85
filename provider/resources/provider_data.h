// What the provider shares with its resources and data sources: the
// connection settings and a lazily made Proxmox client.
#ifndef PROVIDER_RESOURCES_PROVIDER_DATA_H_
#define PROVIDER_RESOURCES_PROVIDER_DATA_H_

#include <memory>
#include <mutex>
#include <optional>

#include "provider/base/status.h"
#include "provider/framework/resource.h"
#include "provider/pve/client.h"
#include "provider/resources/provider_config.h"

namespace pvek8s::resources {

class ProviderData {
 public:
  // Stores the outcome of ConfigureProvider (settings, or why there are none).
  // `final` is false when the provider block still held unknown values (they
  // depend on resources not made yet): its problems may go away at apply.
  void SetConnection(StatusOr<ConnectionSettings> settings, bool final = true);

  // Whether planning may use the connection and report its problems: the
  // provider was configured with known values.
  bool ConnectionFinal();

  // The client, made on first use. `ctx` cancels its waits (StopProvider).
  // Fails with the configuration problem when settings are missing.
  StatusOr<pve::Client*> Client(const framework::Context* ctx);

  // Tests: every later Client() call returns `client` (for example one over
  // a scripted transport), and the connection counts as final.
  void SetClientForTesting(std::unique_ptr<pve::Client> client);

 private:
  std::mutex mu_;
  std::optional<StatusOr<ConnectionSettings>> settings_;
  bool final_ = false;
  std::unique_ptr<pve::Client> client_;
};

// The summary of the diagnostic for a failed ProviderData::Client(). Its
// failures are configuration mistakes found before anything is contacted
// (missing or malformed settings), so they are titled as such, never as a
// connection failure.
const char* ClientErrorSummary(const Status& status);

}  // namespace pvek8s::resources

#endif  // PROVIDER_RESOURCES_PROVIDER_DATA_H_
