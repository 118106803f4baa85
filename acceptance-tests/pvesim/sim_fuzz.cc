// libFuzzer target for the whole request path below TLS: HTTP parsing,
// routing, authentication, parameter validation and every handler, against
// one long-lived simulator (state accumulates across inputs, as in a real
// server). Input format: the raw bytes of one HTTP request; inputs that do
// not start with a method are wrapped as the form body of a config update.
// Every 2000 inputs the data directory is re-read: each file must still parse.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "acceptance-tests/pvesim/http_parser.h"
#include "acceptance-tests/pvesim/sim.h"

namespace {

constexpr char kToken[] = "root@pam!fuzz=secret";

pvek8s::pvesim::Simulator* Sim() {
  static pvek8s::pvesim::Simulator* sim = [] {
    pvek8s::pvesim::SimOptions o;
    o.data_dir =
        std::filesystem::temp_directory_path() / ("pvesim-fuzz-" + std::to_string(getpid()));
    o.seed = 1;
    o.seed_given = true;
    if (!pvek8s::pvesim::AddTokenSpec(&o.auth, kToken).ok()) std::abort();
    auto s = pvek8s::pvesim::Simulator::Create(o);
    if (!s.ok()) std::abort();
    return s->release();
  }();
  return sim;
}

void CheckDataDir(const std::string& dir) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    if (nlohmann::json::parse(ss.str(), nullptr, false).is_discarded()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static uint64_t runs = 0;
  std::string in(reinterpret_cast<const char*>(data), size);
  if (!(in.starts_with("GET ") || in.starts_with("POST ") || in.starts_with("PUT ") ||
        in.starts_with("DELETE "))) {
    in = "PUT /api2/json/nodes/pve1/qemu/9000/config HTTP/1.1\r\nContent-Length: " +
         std::to_string(in.size()) + "\r\n\r\n" + in;
  }
  auto parsed = pvek8s::pvesim::ParseHttpRequest(in);
  if (parsed.state != pvek8s::pvesim::ParseState::kComplete) return 0;
  if (!parsed.request.Header("authorization")) {
    parsed.request.headers.emplace_back("authorization", std::string("PVEAPIToken=") + kToken);
  }
  pvek8s::pvesim::HttpResponse r = Sim()->Handle(parsed.request);
  if (!r.drop && (r.status < 200 || r.status > 599)) std::abort();
  if (r.status >= 400 && r.status != 401 && r.status != 501 && r.status != 506 && !r.body.empty() &&
      r.body.front() == '{' && nlohmann::json::parse(r.body, nullptr, false).is_discarded()) {
    std::abort();
  }
  if (++runs % 2000 == 0) {
    CheckDataDir(std::filesystem::temp_directory_path() /
                 ("pvesim-fuzz-" + std::to_string(getpid())));
  }
  return 0;
}
