// The go-plugin host contract: what a process Terraform launches as a provider
// must do before and around the gRPC service.
#ifndef PROVIDER_PLUGIN_SERVE_H_
#define PROVIDER_PLUGIN_SERVE_H_

#include <string>

#include "provider/framework/server.h"

namespace pvek8s::plugin {

// go-plugin's magic cookie for Terraform providers.
inline constexpr char kMagicCookieKey[] = "TF_PLUGIN_MAGIC_COOKIE";
inline constexpr char kMagicCookieValue[] =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

struct ServeOptions {
  // Serve plaintext without a cookie, print TF_REATTACH_PROVIDERS, run until
  // SIGINT/SIGTERM (for debuggers and long-lived test providers).
  bool debug = false;
  // The provider's source address, used in the reattach line.
  std::string provider_address = "registry.terraform.io/gcid/proxmox";
};

// Checks the cookie, negotiates protocol 6, listens on a fresh unix socket
// (mutual TLS when Terraform sent PLUGIN_CLIENT_CERT), prints the handshake
// line as the only stdout output, and serves tfplugin6, GRPCController and
// gRPC health until Shutdown, SIGTERM or the parent's death. SIGINT is
// ignored: Terraform answers Ctrl-C with StopProvider. Returns the exit code.
int Serve(framework::Server* server, const ServeOptions& options);

// Picks the protocol from PLUGIN_PROTOCOL_VERSIONS (any order, e.g. "5,6"):
// 6 when offered or when the variable is unset; 0 when 6 is not offered.
int NegotiateProtocol(const char* env_value);

}  // namespace pvek8s::plugin

#endif  // PROVIDER_PLUGIN_SERVE_H_
