// pvesim: a Proxmox VE API simulator over HTTPS. See README.md for the flags.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "acceptance-tests/pvesim/http_server.h"
#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/tls.h"
#include "provider/base/log.h"

namespace {

using pvek8s::Status;
using pvek8s::pvesim::SimOptions;

constexpr char kUsage[] =
    "usage: pvesim --data DIR [--listen 127.0.0.1:8006] [--nodes pve1,pve2,pve3]\n"
    "              [--user USER@REALM:PASSWORD ...] [--token USER@REALM!ID=SECRET[,privsep=1]"
    "[,expire=UNIXTIME] ...]\n"
    "              [--acl PATH:ROLES:SUBJECT[:PROPAGATE] ...] [--profile fast|realistic]\n"
    "              [--timing NAME=SECONDS ...] [--fault SPEC ...] [--seed N]\n"
    "              [--storage ID:TYPE:CONTENT[:shared] ...] [--cert PEM --key PEM]\n"
    "              [--dhcp-range CIDR] [--legacy-errors]\n"
    "              [--pve-version 8.4.1]\n";

int Fail(const std::string& message) {
  std::cerr << "pvesim: " << message << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  SimOptions options;
  std::string listen = "127.0.0.1:8006";
  std::string cert, key, profile = "fast";
  std::vector<std::pair<std::string, double>> timing_overrides;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto need = [&](const char* v) { return v != nullptr; };
    const char* v = nullptr;
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--legacy-errors") {
      options.legacy_errors = true;
      continue;
    }
    v = value();
    if (!need(v)) return Fail(std::string(arg) + " needs a value");
    std::string val = v;
    Status s;
    if (arg == "--listen") {
      listen = val;
    } else if (arg == "--data") {
      options.data_dir = val;
    } else if (arg == "--nodes") {
      options.nodes = pvek8s::pvesim::SplitList(val);
      if (options.nodes.empty()) return Fail("--nodes needs at least one node");
      for (const auto& n : options.nodes) {
        if (!pvek8s::pvesim::CheckValue(pvek8s::pvesim::ParamDef{.format = "pve-node"}, n)
                 .empty()) {
          return Fail("invalid node name '" + n + "'");
        }
      }
    } else if (arg == "--user") {
      s = pvek8s::pvesim::AddUserSpec(&options.auth, val);
    } else if (arg == "--token") {
      s = pvek8s::pvesim::AddTokenSpec(&options.auth, val);
    } else if (arg == "--acl") {
      s = pvek8s::pvesim::AddAclSpec(&options.auth, val);
    } else if (arg == "--profile") {
      profile = val;
    } else if (arg == "--timing") {
      size_t eq = val.find('=');
      char* end = nullptr;
      double d = eq == std::string::npos ? -1 : std::strtod(val.c_str() + eq + 1, &end);
      if (eq == std::string::npos || end == nullptr || *end != '\0') {
        return Fail("--timing wants NAME=SECONDS");
      }
      timing_overrides.emplace_back(val.substr(0, eq), d);
    } else if (arg == "--fault") {
      auto f = pvek8s::pvesim::ParseFaultSpec(val);
      if (!f.ok()) return Fail(f.status().message());
      options.faults.push_back(*f);
    } else if (arg == "--seed") {
      char* end = nullptr;
      options.seed = std::strtoull(val.c_str(), &end, 10);
      if (val.empty() || *end != '\0') return Fail("--seed wants a number");
      options.seed_given = true;
    } else if (arg == "--storage") {
      auto spec = pvek8s::pvesim::ParseStorageSpec(val);
      if (!spec.ok()) return Fail(spec.status().message());
      options.storages.push_back(*spec);
    } else if (arg == "--cert") {
      cert = val;
    } else if (arg == "--key") {
      key = val;
    } else if (arg == "--dhcp-range") {
      size_t slash = val.find('/');
      if (slash == std::string::npos ||
          !pvek8s::pvesim::CheckValue(pvek8s::pvesim::ParamDef{.format = "pve-qm-ipconfig"},
                                      "ip=" + val)
               .empty()) {
        return Fail("--dhcp-range wants an IPv4 CIDR like 10.99.0.0/16");
      }
      options.dhcp_cidr = val;
    } else if (arg == "--pve-version") {
      options.version = val;
      options.release = val.substr(0, val.rfind('.'));
    } else {
      return Fail("unknown argument " + std::string(arg));
    }
    if (!s.ok()) return Fail(s.message());
  }
  if (options.data_dir.empty()) return Fail("--data DIR is required");
  auto timings = pvek8s::pvesim::Timings::ForProfile(profile);
  if (!timings) return Fail("unknown profile '" + profile + "' (fast, realistic)");
  options.timings = *timings;
  for (const auto& [name, d] : timing_overrides) {
    if (!options.timings.Set(name, d)) return Fail("unknown timing or bad value: " + name);
  }
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return Fail("--listen wants HOST:PORT");
  std::string host = listen.substr(0, colon);
  int port = std::atoi(listen.c_str() + colon + 1);
  if (port < 0 || port > 65535) return Fail("bad port in --listen");
  if ((cert.empty()) != (key.empty())) return Fail("--cert and --key go together");

  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return Fail("cannot create " + options.data_dir + ": " + ec.message());
  options.data_dir = std::filesystem::absolute(options.data_dir).string();
  if (cert.empty()) {
    auto files = pvek8s::pvesim::EnsureSelfSignedCertificate(options.data_dir);
    if (!files.ok()) return Fail(files.status().message());
    cert = files->cert_path;
    key = files->key_path;
  }
  auto fingerprint = pvek8s::pvesim::CertificateFingerprintSha256(cert);
  if (!fingerprint.ok()) return Fail(fingerprint.status().message());

  // Signals are taken synchronously by main; every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  options.ssl_fingerprint = *fingerprint;
  std::string data_dir = options.data_dir;
  auto sim = pvek8s::pvesim::Simulator::Create(std::move(options));
  if (!sim.ok()) return Fail(sim.status().message());
  pvek8s::pvesim::HttpsServerOptions server_options;
  server_options.host = host;
  server_options.port = port;
  server_options.cert_path = cert;
  server_options.key_path = key;
  auto* simulator = sim->get();
  auto server = pvek8s::pvesim::HttpsServer::Start(
      server_options,
      [simulator](const pvek8s::pvesim::HttpRequest& r) { return simulator->Handle(r); });
  if (!server.ok()) return Fail(server.status().message());

  std::string url_host =
      host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
  nlohmann::json ready = {{"url", "https://" + url_host + ":" + std::to_string((*server)->port())},
                          {"fingerprint_sha256", *fingerprint},
                          {"ca_pem", std::filesystem::absolute(cert).string()},
                          {"data", data_dir}};
  std::cout << ready.dump() << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  pvek8s::log::Info("pvesim stopping", {{"signal", sig}});
  (*server)->Stop();
  (*sim)->Shutdown();
  return 0;
}
