// pvesim benchmark: server time of a clone+config+start round trip in the
// fast profile, and how it changes between a small cluster and 200 VMs.
//
// "Server time" is measured in-process by calling Simulator::Handle directly
// (request dispatch, validation, state change, persistence to the data
// directory) with no TLS or network; a second pass measures the same round
// trip as a client sees it over HTTPS with keep-alive on 127.0.0.1.
#include <curl/curl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "acceptance-tests/pvesim/http_server.h"
#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/tls.h"

namespace {

using pvek8s::pvesim::HttpRequest;
using pvek8s::pvesim::HttpResponse;
using pvek8s::pvesim::Simulator;
using Clock = std::chrono::steady_clock;

constexpr char kToken[] = "root@pam!bench=7d6f0f5e-1c1b-4b8e-9a5e-3e2f0c9d8b7a";

struct Stats {
  double median_us, p95_us, mean_us;
};

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 95 / 100)],
          sum / static_cast<double>(v.size())};
}

HttpResponse Call(Simulator& sim, const std::string& method, const std::string& path,
                  const std::string& body = "") {
  HttpRequest r;
  r.method = method;
  size_t q = path.find('?');
  r.path = "/api2/json" + path.substr(0, q);
  if (q != std::string::npos) r.query = path.substr(q + 1);
  r.target = r.path;
  r.version = "HTTP/1.1";
  r.headers.emplace_back("authorization", std::string("PVEAPIToken=") + kToken);
  if (!body.empty()) r.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
  r.body = body;
  return sim.Handle(r);
}

std::string Data(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j["data"].is_string()) return "";
  return j["data"].get<std::string>();
}

const char kConfig[] =
    "cores=8&sockets=1&memory=8192&onboot=1&agent=1&ciuser=ubuntu&"
    "sshkeys=ssh-ed25519%2520AAAAC3NzaC1lZDI1NTE5AAAAIJ8x%2520lab%2540pps&"
    "ipconfig0=ip%3D192.168.100.171%2F24%2Cgw%3D192.168.100.1&nameserver=192.168.100.1";

// One round trip: clone, wait (one status poll), configure, start, wait.
bool RoundTrip(Simulator& sim, int newid) {
  std::string id = std::to_string(newid);
  std::string upid = Data(Call(sim, "POST", "/nodes/pve1/qemu/9000/clone",
                               "newid=" + id + "&name=vm" + id + "&full=1"));
  if (Call(sim, "GET", "/nodes/pve1/tasks/" + upid + "/status").body.find("\"OK\"") ==
      std::string::npos) {
    return false;
  }
  if (Call(sim, "PUT", "/nodes/pve1/qemu/" + id + "/config", kConfig).status != 200) return false;
  upid = Data(Call(sim, "POST", "/nodes/pve1/qemu/" + id + "/status/start"));
  return Call(sim, "GET", "/nodes/pve1/tasks/" + upid + "/status").body.find("\"OK\"") !=
         std::string::npos;
}

std::vector<double> Measure(Simulator& sim, int first_id, int count) {
  std::vector<double> us;
  for (int i = 0; i < count; ++i) {
    auto t0 = Clock::now();
    if (!RoundTrip(sim, first_id + i)) {
      std::fprintf(stderr, "round trip %d failed\n", first_id + i);
      std::exit(1);
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return us;
}

double TimeCall(Simulator& sim, const std::string& path, int reps) {
  auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) Call(sim, "GET", path);
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / reps;
}

size_t Ignore(char*, size_t s, size_t n, void*) { return s * n; }

}  // namespace

int main() {
  signal(SIGPIPE, SIG_IGN);
  std::string dir =
      std::filesystem::temp_directory_path() / ("pvesim-bench-" + std::to_string(getpid()));
  pvek8s::pvesim::SimOptions options;
  options.data_dir = dir;
  options.seed = 1;
  options.seed_given = true;
  if (!pvek8s::pvesim::AddTokenSpec(&options.auth, kToken).ok()) return 1;
  auto created = Simulator::Create(options);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().message().c_str());
    return 1;
  }
  Simulator& sim = **created;

  std::printf("pvesim bench (fast profile, in-process server time, data dir %s)\n", dir.c_str());
  Measure(sim, 100, 5);  // Warm-up.
  Stats small = Summarize(Measure(sim, 105, 50));
  double res_small = TimeCall(sim, "/cluster/resources?type=vm", 200);
  double cfg_small = TimeCall(sim, "/nodes/pve1/qemu/101/config", 200);
  int vms = 3 + 55;
  Measure(sim, 155, 200 - vms);  // Grow the cluster to 200 VMs.
  Stats large = Summarize(Measure(sim, 400, 50));
  double res_large = TimeCall(sim, "/cluster/resources?type=vm", 200);
  double cfg_large = TimeCall(sim, "/nodes/pve1/qemu/101/config", 200);

  std::printf("%-44s %10s %10s %10s\n", "clone+config+start round trip", "median", "p95", "mean");
  std::printf("%-44s %8.0fus %8.0fus %8.0fus\n", "  cluster of 8-58 VMs (baseline)",
              small.median_us, small.p95_us, small.mean_us);
  std::printf("%-44s %8.0fus %8.0fus %8.0fus\n", "  cluster of 200-250 VMs", large.median_us,
              large.p95_us, large.mean_us);
  std::printf("%-44s %9.2fx\n", "  ratio 200-250 VMs / baseline (median)",
              large.median_us / small.median_us);
  std::printf("%-44s %8.0fus -> %6.0fus (%.2fx)\n", "GET /cluster/resources?type=vm (58 -> 250)",
              res_small, res_large, res_large / res_small);
  std::printf("%-44s %8.0fus -> %6.0fus (%.2fx)\n", "GET /nodes/pve1/qemu/101/config (58 -> 250)",
              cfg_small, cfg_large, cfg_large / cfg_small);

  // The same round trip over HTTPS, as a client sees it (keep-alive, one connection).
  auto tls = pvek8s::pvesim::EnsureSelfSignedCertificate(dir);
  if (!tls.ok()) return 1;
  pvek8s::pvesim::HttpsServerOptions so;
  so.cert_path = tls->cert_path;
  so.key_path = tls->key_path;
  auto server =
      pvek8s::pvesim::HttpsServer::Start(so, [&](const HttpRequest& r) { return sim.Handle(r); });
  if (!server.ok()) return 1;
  std::string base = "https://127.0.0.1:" + std::to_string((*server)->port()) + "/api2/json";
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* curl = curl_easy_init();
  curl_slist* headers =
      curl_slist_append(nullptr, (std::string("Authorization: PVEAPIToken=") + kToken).c_str());
  std::string body;
  auto https = [&](const std::string& method, const std::string& path, const std::string& form) {
    body.clear();
    curl_easy_setopt(curl, CURLOPT_URL, (base + path).c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_CAINFO, tls->cert_path.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(
        curl, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* u) {
          static_cast<std::string*>(u)->append(p, s * n);
          return s * n;
        });
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    if (method == "GET") {
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_perform(curl);
    auto j = nlohmann::json::parse(body, nullptr, false);
    return j.is_discarded() || !j["data"].is_string() ? std::string()
                                                      : j["data"].get<std::string>();
  };
  (void)Ignore;
  std::vector<double> e2e;
  for (int i = 0; i < 30; ++i) {
    std::string id = std::to_string(700 + i);
    auto t0 = Clock::now();
    std::string upid = https("POST", "/nodes/pve1/qemu/9000/clone", "newid=" + id + "&full=1");
    https("GET", "/nodes/pve1/tasks/" + upid + "/status", "");
    https("PUT", "/nodes/pve1/qemu/" + id + "/config", kConfig);
    upid = https("POST", "/nodes/pve1/qemu/" + id + "/status/start", "");
    https("GET", "/nodes/pve1/tasks/" + upid + "/status", "");
    e2e.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  Stats net = Summarize(e2e);
  std::printf("%-44s %8.0fus %8.0fus %8.0fus\n", "same round trip over HTTPS (client view)",
              net.median_us, net.p95_us, net.mean_us);
  // Requests per second one client connection gets: the round trip is five
  // requests (clone, task status, config, start, task status), and GETs of a
  // config and of /cluster/resources are what refreshes and placement make.
  std::printf("%-44s %8.0f req/s\n", "  one HTTPS connection, requests per second",
              5e6 / net.median_us);
  std::printf("%-44s %8.0f req/s (58 VMs), %6.0f req/s (250 VMs)\n", "  server: GET config",
              1e6 / cfg_small, 1e6 / cfg_large);
  std::printf("%-44s %8.0f req/s (58 VMs), %6.0f req/s (250 VMs)\n",
              "  server: GET /cluster/resources", 1e6 / res_small, 1e6 / res_large);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  (*server)->Stop();
  sim.Shutdown();
  std::filesystem::remove_all(dir);
  bool ok = small.median_us < 5000 && large.median_us < 5000;
  std::printf("goal: round trip < 5 ms of server time: %s\n", ok ? "met" : "NOT met");
  return 0;
}
