#include "provider/plugin/serve.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "proto/grpc_controller.grpc.pb.h"
#include "provider/base/encoding.h"
#include "provider/base/log.h"
#include "provider/plugin/tls.h"
#include "provider/tfplugin/provider_service.h"

namespace pvek8s::plugin {
namespace {

constexpr int kMaxMessageBytes = 256 << 20;

// One-shot "please stop" latch shared by the controller, signals and the
// parent watcher.
class StopLatch {
 public:
  void Request(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu_);
    if (requested_) return;
    requested_ = true;
    reason_ = reason;
    cv_.notify_all();
  }
  std::string Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return requested_; });
    return reason_;
  }
  // Waits up to `d`; true when stop was requested.
  bool WaitFor(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, d, [this] { return requested_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
  std::string reason_;
};

class Controller final : public ::plugin::GRPCController::Service {
 public:
  explicit Controller(StopLatch* latch) : latch_(latch) {}
  grpc::Status Shutdown(grpc::ServerContext*, const ::plugin::Empty*, ::plugin::Empty*) override {
    // The gRPC server cannot be shut down from inside one of its handlers;
    // the main thread does it once this call has returned.
    latch_->Request("GRPCController.Shutdown");
    return grpc::Status::OK;
  }

 private:
  StopLatch* latch_;
};

std::string SocketDirectory() {
  const char* base = getenv("PLUGIN_UNIX_SOCKET_DIR");
  if (!base || !*base) base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  std::string templ = std::string(base) + "/pvek8s-plugin-XXXXXX";
  if (!mkdtemp(templ.data())) return "";
  return templ;
}

// Refuses to run unless Terraform launched us (magic cookie) and offered
// protocol 6; debug mode skips both checks. Prints why on stderr.
bool LaunchedByTerraform(const ServeOptions& options) {
  if (options.debug) return true;
  const char* cookie = getenv(kMagicCookieKey);
  if (!cookie || std::strcmp(cookie, kMagicCookieValue) != 0) {
    std::fputs(
        "terraform-provider-proxmox is a Terraform provider: Terraform starts it.\n"
        "Use it from a configuration with\n"
        "  terraform { required_providers { proxmox = { source = \"gcid/proxmox\" } } }\n"
        "and run terraform init / plan / apply. To run it by hand for a debugger, pass "
        "--debug; --help lists the options.\n",
        stderr);
    return false;
  }
  const char* offered = getenv("PLUGIN_PROTOCOL_VERSIONS");
  if (NegotiateProtocol(offered) == 0) {
    std::fprintf(stderr,
                 "terraform-provider-proxmox speaks plugin protocol 6 only, but the client "
                 "offered \"%s\". Use Terraform 1.0 or later.\n",
                 offered);
    return false;
  }
  return true;
}

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and ignores
// SIGPIPE. Must run before any other thread starts, so that every gRPC thread
// inherits the mask and only the signal thread sees these signals.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

// A detached thread that turns SIGTERM, SIGHUP (and SIGINT in debug mode)
// into a stop request. `latch` must outlive the thread's last use of it: the
// thread returns right after its one Request, and the process exits soon
// after Serve returns.
void StartSignalThread(StopLatch* latch, sigset_t signals, bool debug) {
  std::thread([latch, signals, debug]() {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGINT && !debug) {
        // Terraform shares our process group and follows Ctrl-C with
        // StopProvider; dying here would lose in-flight results.
        log::Info("SIGINT ignored; waiting for StopProvider");
        continue;
      }
      latch->Request(sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP");
      return;
    }
  }).detach();
}

// How the listener authenticates, and the certificate field of the handshake
// line (empty for plaintext).
struct ListenerCredentials {
  std::shared_ptr<grpc::ServerCredentials> creds;
  std::string cert_field;
};

// Mutual TLS with a fresh self-signed server certificate when Terraform sent
// its client certificate (and not in debug mode); plaintext otherwise.
// Prints the reason and returns nullopt when the certificate cannot be made.
std::optional<ListenerCredentials> MakeCredentials(bool debug) {
  ListenerCredentials out;
  const char* client_cert = getenv("PLUGIN_CLIENT_CERT");
  if (!client_cert || !*client_cert || debug) {
    out.creds = grpc::InsecureServerCredentials();
    return out;
  }
  auto cert = GenerateLocalhostCertificate();
  if (!cert.ok()) {
    std::fprintf(stderr, "cannot create the TLS certificate: %s\n",
                 cert.status().message().c_str());
    return std::nullopt;
  }
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = client_cert;
  ssl.pem_key_cert_pairs.push_back({cert->key_pem, cert->cert_pem});
  out.creds = grpc::SslServerCredentials(ssl);
  // go-plugin decodes this with Go's RawStdEncoding: no padding.
  out.cert_field = Base64Encode(cert->cert_der, /*pad=*/false);
  return out;
}

// Builds and starts the gRPC server on `socket_path` with the provider, the
// controller and health (reporting "plugin" as serving). The services must
// outlive the returned server. Null when the server cannot listen.
std::unique_ptr<grpc::Server> StartGrpcServer(const std::string& socket_path,
                                              const ListenerCredentials& creds,
                                              grpc::Service* provider_service,
                                              Controller* controller) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.AddListeningPort("unix:" + socket_path, creds.creds);
  builder.RegisterService(provider_service);
  builder.RegisterService(controller);
  // Terraform sends up to -parallelism (default 10) calls at once. With the
  // default of two pollers, gRPC starts a thread for each call beyond them
  // and ends it afterwards; a thread, its malloc arena and its thread-locals
  // cost more than a small call. Keep enough threads for the usual bursts.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 12);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (!grpc_server) return nullptr;
  if (auto* health = grpc_server->GetHealthCheckService()) {
    health->SetServingStatus("plugin", true);
  }
  return grpc_server;
}

// The one stdout output: go-plugin's handshake line, or in debug mode the
// TF_REATTACH_PROVIDERS instructions for a human.
void PrintHandshake(const ServeOptions& options, const std::string& socket_path,
                    const std::string& cert_field) {
  if (options.debug) {
    std::printf(
        "terraform-provider-proxmox is serving in debug mode. To use it, run Terraform with:\n\n"
        "  TF_REATTACH_PROVIDERS='{\"%s\":{\"Protocol\":\"grpc\",\"ProtocolVersion\":6,"
        "\"Pid\":%d,\"Test\":true,\"Addr\":{\"Network\":\"unix\",\"String\":\"%s\"}}}'\n\n"
        "Stop it with Ctrl-C.\n",
        options.provider_address.c_str(), static_cast<int>(getpid()), socket_path.c_str());
  } else {
    // The one line go-plugin reads; nothing else ever goes to stdout.
    std::printf("1|6|unix|%s|grpc|%s\n", socket_path.c_str(), cert_field.c_str());
  }
  std::fflush(stdout);
}

// Terraform may be SIGKILLed; go-plugin servers would linger, we leave. The
// returned thread polls every 500 ms until a stop is requested (by anyone)
// and requests one itself when `parent` is no longer our parent; join it
// after the latch has fired.
std::thread WatchParent(StopLatch* latch, pid_t parent) {
  return std::thread([latch, parent]() {
    while (!latch->WaitFor(std::chrono::milliseconds(500))) {
      if (getppid() != parent) {
        latch->Request("parent process exited");
        return;
      }
    }
  });
}

}  // namespace

int NegotiateProtocol(const char* env_value) {
  if (!env_value || !*env_value) return 6;
  std::string_view rest(env_value);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "6") return 6;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return 0;
}

int Serve(framework::Server* server, const ServeOptions& options) {
  // No OpenSSL clean-up in an atexit handler (the first OpenSSL call of the
  // process decides, and the provider makes none before Serve). We return
  // from main without waiting for gRPC's own threads (the TLS to Terraform
  // runs on them): OPENSSL_cleanup would tear OpenSSL down under a thread that
  // still uses it, and a thread ending after it can no longer free its error
  // queue (LeakSanitizer in .ci/sanitize saw those 904 bytes lost). The
  // process ends right after; the kernel frees the rest.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  if (!LaunchedByTerraform(options)) return 1;
  const sigset_t signals = BlockStopSignals();

  // Noted first thing: Terraform is certainly alive until it has read the
  // handshake line, which comes later.
  const pid_t parent = getppid();
  StopLatch latch;
  StartSignalThread(&latch, signals, options.debug);

  std::string dir = SocketDirectory();
  if (dir.empty()) {
    std::fprintf(stderr, "cannot create a socket directory: %s\n", std::strerror(errno));
    return 1;
  }
  std::string socket_path = dir + "/provider.sock";
  std::optional<ListenerCredentials> creds = MakeCredentials(options.debug);
  if (!creds) return 1;

  auto provider_service = tfplugin::NewProviderService(server);
  Controller controller(&latch);
  std::unique_ptr<grpc::Server> grpc_server =
      StartGrpcServer(socket_path, *creds, provider_service.get(), &controller);
  if (!grpc_server) {
    std::fprintf(stderr, "cannot listen on %s\n", socket_path.c_str());
    rmdir(dir.c_str());
    return 1;
  }
  PrintHandshake(options, socket_path, creds->cert_field);
  log::Debug("plugin serving", {{"socket", socket_path}, {"tls", !creds->cert_field.empty()}});

  std::thread parent_watch;
  if (!options.debug) parent_watch = WatchParent(&latch, parent);

  std::string reason = latch.Wait();
  log::Debug("plugin stopping", {{"reason", reason}});
  server->Stop();
  grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (parent_watch.joinable()) parent_watch.join();
  unlink(socket_path.c_str());
  rmdir(dir.c_str());
  return 0;
}

}  // namespace pvek8s::plugin
