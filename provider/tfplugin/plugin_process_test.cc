// Drives the built provider binary the way Terraform does: go-plugin
// handshake on stdout, then every tfplugin6 RPC over gRPC, in plaintext and
// with mutual TLS, ending with GRPCController.Shutdown.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "proto/tfplugin6.grpc.pb.h"
#include "provider/base/encoding.h"
#include "provider/plugin/serve.h"
#include "provider/plugin/tls.h"
#include "provider/tftypes/codec.h"

namespace pvek8s {
namespace {

using tftypes::Type;
using tftypes::Value;
namespace pb = ::tfplugin6;

// A provider child process with its stdout and stderr captured.
class Child {
 public:
  explicit Child(std::vector<std::string> env) {
    int out[2], err[2];
    REQUIRE(pipe(out) == 0);
    REQUIRE(pipe(err) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(out[1], 1);
      dup2(err[1], 2);
      close(out[0]);
      close(err[0]);
      std::vector<char*> envp;
      envp.reserve(env.size() + 1);
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      char* argv[] = {const_cast<char*>(PVEK8S_PROVIDER_BINARY), nullptr};
      execve(argv[0], argv, envp.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    out_ = out[0];
    err_ = err[0];
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
    close(err_);
    if (pidfd_ >= 0) close(pidfd_);
  }

  // Reads stdout up to the first newline, waiting up to 10 s.
  std::string ReadLine() {
    std::string line;
    char c;
    while (line.empty() || line.back() != '\n') {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 10000) <= 0) break;
      if (read(out_, &c, 1) != 1) break;
      line += c;
    }
    return line;
  }

  // Waits for exit up to `ms`; returns the exit status or -1 on timeout.
  int Wait(int ms) {
    pollfd p{pidfd_, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return -1;
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string DrainStdout() { return Drain(out_); }
  std::string DrainStderr() { return Drain(err_); }
  pid_t pid() const { return pid_; }

 private:
  static std::string Drain(int fd) {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
    return s;
  }
  pid_t pid_ = -1;
  int out_ = -1, err_ = -1, pidfd_ = -1;
  bool exited_ = false;
};

std::vector<std::string> BaseEnv() {
  return {std::string(plugin::kMagicCookieKey) + "=" + plugin::kMagicCookieValue,
          "PLUGIN_PROTOCOL_VERSIONS=5,6", "PATH=/usr/bin:/bin"};
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::string DerToPem(const std::string& der) {
  std::string b64 = Base64Encode(der);
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  return pem + "-----END CERTIFICATE-----\n";
}

std::shared_ptr<grpc::Channel> Connect(const std::string& addr,
                                       const std::string& server_cert_field,
                                       const plugin::Certificate* client) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  if (!client) {
    return grpc::CreateCustomChannel("unix:" + addr, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = DerToPem(*Base64Decode(server_cert_field));
  ssl.pem_private_key = client->key_pem;
  ssl.pem_cert_chain = client->cert_pem;
  args.SetSslTargetNameOverride("localhost");
  return grpc::CreateCustomChannel("unix:" + addr, grpc::SslCredentials(ssl), args);
}

// A unary call with raw protobuf bytes, for services whose generated code is
// not linked here (go-plugin's controller, gRPC health).
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& request_bytes, std::string* response_bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::Status result;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(s);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (result.ok() && response_bytes) {
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    response_bytes->clear();
    for (const auto& sl : slices) {
      response_bytes->append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    }
  }
  return result;
}

grpc::Status CallShutdown(const std::shared_ptr<grpc::Channel>& channel) {
  return RawCall(channel, "/plugin.GRPCController/Shutdown", "", nullptr);
}

const pb::Schema::Attribute* FindAttr(const pb::Schema& s, const std::string& name) {
  for (const auto& a : s.block().attributes()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

// The types Terraform derives from the provider's schema.
struct SchemaTypes {
  Type cluster;   // proxmox_k8s_cluster
  Type provider;  // the provider block
};

// GetProviderSchema, checked the way Terraform relies on it; the implied
// types rebuilt from it as Terraform does.
SchemaTypes FetchSchema(pb::Provider::Stub& stub) {
  grpc::ClientContext c1;
  pb::GetProviderSchema::Response schema;
  REQUIRE(stub.GetProviderSchema(&c1, {}, &schema).ok());
  CHECK(schema.server_capabilities().plan_destroy());
  CHECK(schema.server_capabilities().get_provider_schema_optional());
  REQUIRE(schema.resource_schemas().count("proxmox_k8s_cluster") == 1);
  const pb::Schema& cluster = schema.resource_schemas().at("proxmox_k8s_cluster");
  for (const auto& a : cluster.block().attributes()) {
    // Type bytes must be valid JSON, or Terraform panics.
    CHECK_FALSE(nlohmann::json::parse(a.type(), nullptr, false).is_discarded());
    CHECK_FALSE(a.description().empty());
  }
  REQUIRE(FindAttr(cluster, "ca_key_pem") != nullptr);
  CHECK(FindAttr(cluster, "ca_key_pem")->sensitive());
  CHECK(FindAttr(cluster, "bootstrap_token")->sensitive());

  std::map<std::string, Type> attrs;
  for (const auto& a : cluster.block().attributes()) {
    attrs.emplace(a.name(), *Type::FromJson(nlohmann::json::parse(a.type())));
  }
  std::map<std::string, Type> pattrs;
  for (const auto& a : schema.provider().block().attributes()) {
    pattrs.emplace(a.name(), *Type::FromJson(nlohmann::json::parse(a.type())));
  }
  Type tls_type = Type::Object({{"insecure", Type::Bool()},
                                {"ca_pem", Type::String()},
                                {"fingerprint_sha256", Type::String()}});
  pattrs.emplace("tls", tls_type);
  return {Type::Object(attrs), Type::Object(pattrs)};
}

// ValidateProviderConfig refuses a plain-http endpoint; ConfigureProvider
// accepts an empty configuration (no connection is made yet).
void ValidateAndConfigure(pb::Provider::Stub& stub, const Type& ptype) {
  {
    grpc::ClientContext c;
    pb::ValidateProviderConfig::Request req;
    req.mutable_config()->set_msgpack(*tftypes::EncodeMsgpack(
        Value::Object(ptype, {{"endpoint", Value::String("http://pve:8006")}}), ptype));
    pb::ValidateProviderConfig::Response resp;
    REQUIRE(stub.ValidateProviderConfig(&c, req, &resp).ok());
    REQUIRE(resp.diagnostics_size() == 1);
    CHECK(resp.diagnostics(0).severity() == pb::Diagnostic::ERROR);
    CHECK(resp.diagnostics(0).attribute().steps(0).attribute_name() == "endpoint");
  }
  {
    grpc::ClientContext c;
    pb::ConfigureProvider::Request req;
    req.set_terraform_version("1.11.4");
    req.mutable_config()->set_msgpack(*tftypes::EncodeMsgpack(Value::Object(ptype, {}), ptype));
    pb::ConfigureProvider::Response resp;
    REQUIRE(stub.ConfigureProvider(&c, req, &resp).ok());
    CHECK(resp.diagnostics_size() == 0);
  }
}

// ValidateResourceConfig, PlanResourceChange and ApplyResourceChange of a
// new cluster; returns the apply response.
pb::ApplyResourceChange::Response CreateCluster(pb::Provider::Stub& stub, const Type& type) {
  Value config = Value::Object(type, {{"name", Value::String("lab")},
                                      {"control_plane_endpoint", Value::String("10.0.0.1:6443")}});
  std::string config_mp = *tftypes::EncodeMsgpack(config, type);
  {
    grpc::ClientContext c;
    pb::ValidateResourceConfig::Request req;
    req.set_type_name("proxmox_k8s_cluster");
    req.mutable_config()->set_msgpack(config_mp);
    pb::ValidateResourceConfig::Response resp;
    REQUIRE(stub.ValidateResourceConfig(&c, req, &resp).ok());
    CHECK(resp.diagnostics_size() == 0);
  }
  pb::PlanResourceChange::Response plan;
  {
    grpc::ClientContext c;
    pb::PlanResourceChange::Request req;
    req.set_type_name("proxmox_k8s_cluster");
    req.mutable_prior_state()->set_msgpack(std::string(1, '\xc0'));
    req.mutable_proposed_new_state()->set_msgpack(config_mp);
    req.mutable_config()->set_msgpack(config_mp);
    REQUIRE(stub.PlanResourceChange(&c, req, &plan).ok());
    CHECK(plan.diagnostics_size() == 0);
    auto planned = tftypes::DecodeMsgpack(plan.planned_state().msgpack(), type);
    REQUIRE(planned.ok());
    CHECK(planned->Attr("ca_cert_pem").IsUnknown());
    CHECK(planned->GetString("pod_subnet") == "10.244.0.0/16");
  }
  pb::ApplyResourceChange::Response applied;
  {
    grpc::ClientContext c;
    pb::ApplyResourceChange::Request req;
    req.set_type_name("proxmox_k8s_cluster");
    req.mutable_prior_state()->set_msgpack(std::string(1, '\xc0'));
    *req.mutable_planned_state() = plan.planned_state();
    req.mutable_config()->set_msgpack(config_mp);
    REQUIRE(stub.ApplyResourceChange(&c, req, &applied).ok());
    CHECK(applied.diagnostics_size() == 0);
    auto state = tftypes::DecodeMsgpack(applied.new_state().msgpack(), type);
    REQUIRE(state.ok());
    CHECK(state->IsWhollyKnown());
    CHECK(state->GetString("ca_cert_hash")->starts_with("sha256:"));
  }
  return applied;
}

// What Terraform does with the stored state: upgrade it from JSON, refresh
// it, try an import, and plan its destruction.
void UseState(pb::Provider::Stub& stub, const Type& type,
              const pb::ApplyResourceChange::Response& applied) {
  Value state = *tftypes::DecodeMsgpack(applied.new_state().msgpack(), type);
  {
    // Terraform stores state as JSON and hands it back for upgrading.
    grpc::ClientContext c;
    pb::UpgradeResourceState::Request req;
    req.set_type_name("proxmox_k8s_cluster");
    req.set_version(0);
    req.mutable_raw_state()->set_json(tftypes::EncodeJson(state, type)->dump(2));
    pb::UpgradeResourceState::Response resp;
    REQUIRE(stub.UpgradeResourceState(&c, req, &resp).ok());
    CHECK(resp.diagnostics_size() == 0);
    CHECK(*tftypes::DecodeMsgpack(resp.upgraded_state().msgpack(), type) == state);
  }
  {
    grpc::ClientContext c;
    pb::ReadResource::Request req;
    req.set_type_name("proxmox_k8s_cluster");
    *req.mutable_current_state() = applied.new_state();
    req.set_private_("keep-me");
    pb::ReadResource::Response resp;
    REQUIRE(stub.ReadResource(&c, req, &resp).ok());
    CHECK(resp.private_() == "keep-me");
    CHECK(*tftypes::DecodeMsgpack(resp.new_state().msgpack(), type) == state);
  }
  {
    grpc::ClientContext c;
    pb::ImportResourceState::Request req;
    req.set_type_name("proxmox_k8s_cluster");
    req.set_id("lab");
    pb::ImportResourceState::Response resp;
    REQUIRE(stub.ImportResourceState(&c, req, &resp).ok());
    CHECK(resp.imported_resources_size() == 0);
    REQUIRE(resp.diagnostics_size() == 1);
    CHECK(resp.diagnostics(0).summary() == "proxmox_k8s_cluster cannot be imported");
  }
  {
    grpc::ClientContext c;
    pb::PlanResourceChange::Request req;
    req.set_type_name("proxmox_k8s_cluster");
    *req.mutable_prior_state() = applied.new_state();
    req.set_prior_private("p");
    pb::PlanResourceChange::Response resp;
    REQUIRE(stub.PlanResourceChange(&c, req, &resp).ok());
    CHECK(tftypes::DecodeMsgpack(resp.planned_state().msgpack(), type)->IsNull());
    CHECK(resp.planned_private() == "p");
  }
}

// Exercises the RPCs a Terraform run makes, in Terraform's order.
void ExerciseProvider(pb::Provider::Stub& stub) {
  SchemaTypes types = FetchSchema(stub);
  ValidateAndConfigure(stub, types.provider);
  pb::ApplyResourceChange::Response applied = CreateCluster(stub, types.cluster);
  UseState(stub, types.cluster, applied);
  {
    grpc::ClientContext c;
    pb::GetMetadataMessages::Response resp;
    REQUIRE(stub.GetMetadata(&c, {}, &resp).ok());
    CHECK(resp.resources_size() >= 1);
  }
  {
    grpc::ClientContext c;
    pb::StopProvider::Response resp;
    REQUIRE(stub.StopProvider(&c, {}, &resp).ok());
    CHECK(resp.error().empty());
  }
}

TEST_CASE("plaintext: handshake, every RPC, then Shutdown exits 0 promptly") {
  Child child(BaseEnv());
  std::string line = child.ReadLine();
  auto parts = Split(line.substr(0, line.size() - 1), '|');
  REQUIRE(parts.size() == 6);
  CHECK(parts[0] == "1");
  CHECK(parts[1] == "6");
  CHECK(parts[2] == "unix");
  CHECK(parts[4] == "grpc");
  CHECK(parts[5].empty());
  auto channel = Connect(parts[3], "", nullptr);
  auto stub = pb::Provider::NewStub(channel);

  // Ctrl-C reaches the whole process group; the provider must survive it.
  kill(child.pid(), SIGINT);
  ExerciseProvider(*stub);

  // gRPC health for service "plugin": HealthCheckRequest{service: "plugin"}
  // answered with status SERVING (field 1 = 1).
  std::string health;
  REQUIRE(
      RawCall(channel, "/grpc.health.v1.Health/Check", std::string("\x0a\x06plugin", 8), &health)
          .ok());
  CHECK(health == std::string("\x08\x01", 2));

  CHECK(CallShutdown(channel).ok());
  CHECK(child.Wait(3000) == 0);
  CHECK(child.DrainStdout().empty());          // nothing after the handshake line
  CHECK(access(parts[3].c_str(), F_OK) != 0);  // socket removed
}

TEST_CASE("mutual TLS: Terraform's client certificate is required and verified") {
  auto client = plugin::GenerateLocalhostCertificate();
  REQUIRE(client.ok());
  auto env = BaseEnv();
  env.push_back("PLUGIN_CLIENT_CERT=" + client->cert_pem);
  Child child(env);
  std::string line = child.ReadLine();
  auto parts = Split(line.substr(0, line.size() - 1), '|');
  REQUIRE(parts.size() == 6);
  CHECK(parts[5].size() > 50);
  CHECK(parts[5].find('=') == std::string::npos);  // Go's RawStdEncoding: no padding

  SUBCASE("the right client works") {
    auto channel = Connect(parts[3], parts[5], &*client);
    auto stub = pb::Provider::NewStub(channel);
    ExerciseProvider(*stub);
    CHECK(CallShutdown(channel).ok());
    CHECK(child.Wait(3000) == 0);
  }
  SUBCASE("a client with another certificate is refused") {
    auto stranger = plugin::GenerateLocalhostCertificate();
    auto channel = Connect(parts[3], parts[5], &*stranger);
    auto stub = pb::Provider::NewStub(channel);
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    pb::GetProviderSchema::Response resp;
    CHECK_FALSE(stub->GetProviderSchema(&c, {}, &resp).ok());
    kill(child.pid(), SIGTERM);
    CHECK(child.Wait(3000) == 0);
  }
  SUBCASE("a plaintext client is refused") {
    auto channel = Connect(parts[3], "", nullptr);
    auto stub = pb::Provider::NewStub(channel);
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    pb::GetProviderSchema::Response resp;
    CHECK_FALSE(stub->GetProviderSchema(&c, {}, &resp).ok());
    kill(child.pid(), SIGTERM);
    CHECK(child.Wait(3000) == 0);
  }
}

TEST_CASE("the provider exits when Terraform dies") {
  // A shell stands in for Terraform: it starts the provider and exits at
  // once, as a SIGKILLed Terraform would leave it.
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t sh = fork();
  REQUIRE(sh >= 0);
  if (sh == 0) {
    dup2(out[1], 1);
    close(out[0]);
    // The shell waits for the handshake line, as Terraform does, then dies.
    std::string cmd = std::string("exec 2>/dev/null; f=$(mktemp -u); mkfifo $f; ") +
                      plugin::kMagicCookieKey + "=" + plugin::kMagicCookieValue + " " +
                      PVEK8S_PROVIDER_BINARY + " >$f & echo $!; read line <$f; rm -f $f";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  close(out[1]);
  char buf[32] = {};
  ssize_t n = read(out[0], buf, sizeof buf - 1);
  close(out[0]);
  REQUIRE(n > 0);
  waitpid(sh, nullptr, 0);
  pid_t provider = static_cast<pid_t>(std::atol(buf));
  REQUIRE(provider > 0);
  int fd = static_cast<int>(syscall(SYS_pidfd_open, provider, 0));
  REQUIRE(fd >= 0);
  pollfd p{fd, POLLIN, 0};
  bool exited = poll(&p, 1, 5000) == 1;
  close(fd);
  if (!exited) kill(provider, SIGKILL);
  CHECK(exited);
}

TEST_CASE("--debug serves plaintext and prints TF_REATTACH_PROVIDERS") {
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(out[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    close(out[0]);
    execl(PVEK8S_PROVIDER_BINARY, PVEK8S_PROVIDER_BINARY, "--debug", nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char c;
  while (text.find("Stop it") == std::string::npos) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0 || read(out[0], &c, 1) != 1) break;
    text += c;
  }
  close(out[0]);
  size_t at = text.find("TF_REATTACH_PROVIDERS='");
  REQUIRE(at != std::string::npos);
  std::string value = text.substr(at + 23, text.find('\'', at + 23) - at - 23);
  auto j = nlohmann::json::parse(value, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  const auto& entry = j["registry.terraform.io/gcid/proxmox"];
  CHECK(entry["ProtocolVersion"] == 6);
  CHECK(entry["Pid"] == pid);
  std::string socket = entry["Addr"]["String"];
  auto stub = pb::Provider::NewStub(Connect(socket, "", nullptr));
  grpc::ClientContext ctx;
  pb::GetProviderSchema::Response resp;
  CHECK(stub->GetProviderSchema(&ctx, {}, &resp).ok());
  kill(pid, SIGINT);  // in debug mode Ctrl-C stops it
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("run by hand without the cookie: a helpful message and exit 1") {
  Child child({"PATH=/usr/bin:/bin"});
  CHECK(child.Wait(5000) == 1);
  CHECK(child.DrainStdout().empty());
  CHECK(child.DrainStderr().find("Terraform starts it") != std::string::npos);
}

TEST_CASE("protocol 5 only is refused") {
  Child child({std::string(plugin::kMagicCookieKey) + "=" + plugin::kMagicCookieValue,
               "PLUGIN_PROTOCOL_VERSIONS=5"});
  CHECK(child.Wait(5000) == 1);
  CHECK(child.DrainStdout().empty());
  CHECK(child.DrainStderr().find("protocol 6") != std::string::npos);
}

}  // namespace
}  // namespace pvek8s
