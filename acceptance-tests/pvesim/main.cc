// pvesim: a Proxmox VE API simulator over HTTPS. See README.md for the flags.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "acceptance-tests/pvesim/http_server.h"
#include "acceptance-tests/pvesim/privileges.h"
#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/tls.h"
#include "provider/base/log.h"

namespace {

using pvek8s::InvalidArgumentError;
using pvek8s::Status;
using pvek8s::pvesim::SimOptions;

// Everything the command line sets; SimOptions plus what main needs itself.
struct Config {
  SimOptions options;
  std::string listen = "127.0.0.1:8006";
  std::string cert;
  std::string key;
  std::string profile = "fast";
  std::vector<std::pair<std::string, double>> timing_overrides;
};

// One command-line flag: `arg` is the value's placeholder (nullptr: a switch,
// which `set` receives as ""); `set` applies it or says what is wrong.
struct Flag {
  const char* name;
  const char* arg;
  const char* help;
  Status (*set)(Config* c, const std::string& value);
};

Status SetNodes(Config* c, const std::string& v) {
  c->options.nodes = pvek8s::pvesim::SplitList(v);
  if (c->options.nodes.empty()) return InvalidArgumentError("--nodes needs at least one node");
  for (const auto& n : c->options.nodes) {
    if (!pvek8s::pvesim::CheckValue(pvek8s::pvesim::ParamDef{.format = "pve-node"}, n).empty()) {
      return InvalidArgumentError("invalid node name '" + n + "'");
    }
  }
  return Status::Ok();
}

Status SetTiming(Config* c, const std::string& v) {
  size_t eq = v.find('=');
  char* end = nullptr;
  double d = eq == std::string::npos ? -1 : std::strtod(v.c_str() + eq + 1, &end);
  if (eq == std::string::npos || end == nullptr || *end != '\0') {
    return InvalidArgumentError("--timing wants NAME=SECONDS");
  }
  c->timing_overrides.emplace_back(v.substr(0, eq), d);
  return Status::Ok();
}

Status SetFault(Config* c, const std::string& v) {
  auto f = pvek8s::pvesim::ParseFaultSpec(v);
  if (!f.ok()) return f.status();
  c->options.faults.push_back(*f);
  return Status::Ok();
}

Status SetSeed(Config* c, const std::string& v) {
  char* end = nullptr;
  c->options.seed = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') return InvalidArgumentError("--seed wants a number");
  c->options.seed_given = true;
  return Status::Ok();
}

Status SetStorage(Config* c, const std::string& v) {
  auto spec = pvek8s::pvesim::ParseStorageSpec(v);
  if (!spec.ok()) return spec.status();
  c->options.storages.push_back(*spec);
  return Status::Ok();
}

Status SetDhcpRange(Config* c, const std::string& v) {
  if (v.find('/') == std::string::npos ||
      !pvek8s::pvesim::CheckValue(pvek8s::pvesim::ParamDef{.format = "pve-qm-ipconfig"}, "ip=" + v)
           .empty()) {
    return InvalidArgumentError("--dhcp-range wants an IPv4 CIDR like 10.99.0.0/16");
  }
  c->options.dhcp_cidr = v;
  return Status::Ok();
}

Status SetVersion(Config* c, const std::string& v) {
  c->options.version = v;
  c->options.release = v.substr(0, v.rfind('.'));
  return Status::Ok();
}

Status SetTicketLifetime(Config* c, const std::string& v) {
  char* end = nullptr;
  long long seconds = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || seconds < 1) {
    return InvalidArgumentError("--ticket-lifetime wants a whole number of seconds >= 1");
  }
  c->options.auth.ticket_lifetime = seconds;
  return Status::Ok();
}

// The flags, in the order --help lists them. README.md documents each.
const std::vector<Flag>& Flags() {
  static const std::vector<Flag> kFlags = {
      {"--data", "DIR", "state directory (created if missing); required",
       [](Config* c, const std::string& v) {
         c->options.data_dir = v;
         return Status::Ok();
       }},
      {"--listen", "HOST:PORT", "numeric address to bind; port 0 picks one (127.0.0.1:8006)",
       [](Config* c, const std::string& v) {
         c->listen = v;
         return Status::Ok();
       }},
      {"--nodes", "a,b,c", "cluster node names (pve1,pve2,pve3)", SetNodes},
      {"--user", "USER@REALM:PASSWORD", "a user for ticket login; repeatable",
       [](Config* c, const std::string& v) {
         return pvek8s::pvesim::AddUserSpec(&c->options.auth, v);
       }},
      {"--ticket-lifetime", "SECONDS", "how long a ticket is accepted (7200, as in PVE)",
       SetTicketLifetime},
      {"--token", "USER@REALM!ID=SECRET[,privsep=1][,expire=UNIXTIME]", "an API token; repeatable",
       [](Config* c, const std::string& v) {
         return pvek8s::pvesim::AddTokenSpec(&c->options.auth, v);
       }},
      {"--acl", "PATH:ROLES:SUBJECT[:0]", "an ACL entry (':0': no propagation); repeatable",
       [](Config* c, const std::string& v) {
         return pvek8s::pvesim::AddAclSpec(&c->options.auth, v);
       }},
      {"--role", "NAME:PRIV[,PRIV...]",
       "a custom role like pveum role add NAME -privs; checked against --pve-version; repeatable",
       [](Config* c, const std::string& v) {
         return pvek8s::pvesim::AddRoleSpec(&c->options.auth, v);
       }},
      {"--profile", "fast|realistic", "task and agent timings (fast)",
       [](Config* c, const std::string& v) {
         c->profile = v;
         return Status::Ok();
       }},
      {"--timing", "NAME=SECONDS",
       "override one timing (README: Profiles; e.g. migrate, migrate_per_gib, ha_delay, "
       "ha_fence); repeatable",
       SetTiming},
      {"--fault", "SPEC",
       "fault injection (lock-timeout:OP:P, http-500:METHOD:PATH:P[:MSG], drop-connection:P, "
       "latency:D[:P[:PATH]], migrate:P); repeatable",
       SetFault},
      {"--seed", "N", "seeds MACs, UUIDs, salts and fault decisions (random)", SetSeed},
      {"--storage", "ID:TYPE:CONTENT[:shared]", "an extra storage on every node; repeatable",
       SetStorage},
      {"--cert", "PEM", "server certificate (with --key) instead of a generated one",
       [](Config* c, const std::string& v) {
         c->cert = v;
         return Status::Ok();
       }},
      {"--key", "PEM", "private key of --cert",
       [](Config* c, const std::string& v) {
         c->key = v;
         return Status::Ok();
       }},
      {"--dhcp-range", "CIDR", "where guests without a static ipconfig0 get a lease (10.99.0.0/16)",
       SetDhcpRange},
      {"--legacy-errors", nullptr, "error bodies without \"message\", like PVE before 8.3",
       [](Config* c, const std::string&) {
         c->options.legacy_errors = true;
         return Status::Ok();
       }},
      {"--pve-version", "X.Y.Z",
       "what /version reports; 8.x or 9.x privileges, roles and parameters (9.1.1)", SetVersion},
      {"--log-requests", nullptr, "log every request and issued ticket to stderr (no secrets)",
       [](Config* c, const std::string&) {
         c->options.log_requests = true;
         return Status::Ok();
       }},
  };
  return kFlags;
}

std::string Usage() {
  std::ostringstream out;
  out << "usage: pvesim --data DIR [flags]\n\nflags:\n";
  for (const Flag& f : Flags()) {
    std::string lhs = std::string(f.name) + (f.arg ? std::string(" ") + f.arg : "");
    out << "  " << lhs << "\n      " << f.help << "\n";
  }
  out << "  --help, -h\n      print this list and exit\n";
  return out.str();
}

int Fail(const std::string& message) {
  std::cerr << "pvesim: " << message << "\n" << Usage();
  return 2;
}

const Flag* FindFlag(std::string_view name) {
  for (const Flag& f : Flags()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

// Applies argv to *c. Returns an exit code when main should stop (0 after
// --help, 2 on an error), or -1 to go on. Flags apply in order, so a later
// one wins; an unknown flag, like a known one, takes the next word as value.
int ParseArgs(int argc, char** argv, Config* c) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << Usage();
      return 0;
    }
    const Flag* flag = FindFlag(arg);
    std::string value;
    if (flag == nullptr || flag->arg != nullptr) {
      if (i + 1 >= argc) return Fail(std::string(arg) + " needs a value");
      value = argv[++i];
    }
    if (flag == nullptr) return Fail("unknown argument " + std::string(arg));
    Status s = flag->set(c, value);
    if (!s.ok()) return Fail(s.message());
  }
  return -1;
}

// Cross-flag checks and defaults, in the order the old loop made them.
int Finish(Config* c, std::string* host, int* port) {
  SimOptions& options = c->options;
  if (options.data_dir.empty()) return Fail("--data DIR is required");
  // Roles and ACLs mean what the release says (VM.Monitor is gone in 9.x).
  auto major = pvek8s::pvesim::ParsePveMajor(options.version);
  if (!major.ok()) return Fail(major.status().message());
  options.auth.pve_major = *major;
  if (Status s = pvek8s::pvesim::CheckAuthConfig(options.auth); !s.ok()) return Fail(s.message());
  auto timings = pvek8s::pvesim::Timings::ForProfile(c->profile);
  if (!timings) return Fail("unknown profile '" + c->profile + "' (fast, realistic)");
  options.timings = *timings;
  for (const auto& [name, d] : c->timing_overrides) {
    if (!options.timings.Set(name, d)) return Fail("unknown timing or bad value: " + name);
  }
  size_t colon = c->listen.rfind(':');
  if (colon == std::string::npos) return Fail("--listen wants HOST:PORT");
  *host = c->listen.substr(0, colon);
  *port = std::atoi(c->listen.c_str() + colon + 1);
  if (*port < 0 || *port > 65535) return Fail("bad port in --listen");
  if ((c->cert.empty()) != (c->key.empty())) return Fail("--cert and --key go together");

  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return Fail("cannot create " + options.data_dir + ": " + ec.message());
  options.data_dir = std::filesystem::absolute(options.data_dir).string();
  if (c->cert.empty()) {
    auto files = pvek8s::pvesim::EnsureSelfSignedCertificate(options.data_dir);
    if (!files.ok()) return Fail(files.status().message());
    c->cert = files->cert_path;
    c->key = files->key_path;
  }
  auto fingerprint = pvek8s::pvesim::CertificateFingerprintSha256(c->cert);
  if (!fingerprint.ok()) return Fail(fingerprint.status().message());
  options.ssl_fingerprint = *fingerprint;
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  std::string host;
  int port = 0;
  if (int rc = ParseArgs(argc, argv, &config); rc >= 0) return rc;
  if (int rc = Finish(&config, &host, &port); rc >= 0) return rc;
  SimOptions& options = config.options;

  // Signals are taken synchronously by main; every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string data_dir = options.data_dir;
  std::string fingerprint = options.ssl_fingerprint;
  auto sim = pvek8s::pvesim::Simulator::Create(std::move(options));
  if (!sim.ok()) return Fail(sim.status().message());
  pvek8s::pvesim::HttpsServerOptions server_options;
  server_options.host = host;
  server_options.port = port;
  server_options.cert_path = config.cert;
  server_options.key_path = config.key;
  auto* simulator = sim->get();
  auto server = pvek8s::pvesim::HttpsServer::Start(
      server_options,
      [simulator](const pvek8s::pvesim::HttpRequest& r) { return simulator->Handle(r); });
  if (!server.ok()) return Fail(server.status().message());

  std::string url_host =
      host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
  nlohmann::json ready = {{"url", "https://" + url_host + ":" + std::to_string((*server)->port())},
                          {"fingerprint_sha256", fingerprint},
                          {"ca_pem", std::filesystem::absolute(config.cert).string()},
                          {"data", data_dir}};
  std::cout << ready.dump() << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  pvek8s::log::Info("pvesim stopping", {{"signal", sig}});
  (*server)->Stop();
  (*sim)->Shutdown();
  return 0;
}
