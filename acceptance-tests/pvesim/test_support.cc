#include "acceptance-tests/pvesim/test_support.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "provider/base/encoding.h"

#ifndef PVESIM_BINARY
#error "PVESIM_BINARY must name the pvesim executable"
#endif

namespace pvek8s::pvesim::testing {

using nlohmann::json;

namespace {
// curl_global_init is not thread-safe; do it once before any test thread runs.
const bool kCurlReady = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}  // namespace

std::string MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/pvesim-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* dir = mkdtemp(buf.data());
  return dir ? std::string(dir) : std::string();
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

PveSimProcess::PveSimProcess(const std::string& data_dir, const std::vector<std::string>& args) {
  int out[2];
  if (pipe(out) != 0) return;
  std::vector<std::string> argv = {PVESIM_BINARY, "--listen", "127.0.0.1:0", "--data", data_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string log_path = data_dir + "/pvesim.log";
  pid_ = fork();
  if (pid_ == 0) {
    // Keep test output readable; the log stays beside the state for debugging.
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log >= 0) dup2(log, 2);
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    std::vector<char*> cargv;
    cargv.reserve(argv.size() + 1);
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  close(out[1]);
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  ready_ = json::parse(line, nullptr, false);
  if (ready_.is_object() && ready_["url"].is_string()) {
    url_ = ready_["url"].get<std::string>();
    ca_pem_ = ready_.value("ca_pem", "");
    fingerprint_ = ready_.value("fingerprint_sha256", "");
  }
}

PveSimProcess::~PveSimProcess() { Stop(); }

int PveSimProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  int code = -1;
  bool reaped = WaitFor(
      [&] {
        pid_t r = waitpid(pid_, &status, WNOHANG);
        return r == pid_;
      },
      std::chrono::seconds(10));
  if (!reaped) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  } else if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
  }
  pid_ = -1;
  return code;
}

namespace {

size_t Collect(char* ptr, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(ptr, size * n);
  return size * n;
}

size_t CollectHeader(char* ptr, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  std::string line(ptr, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.starts_with("HTTP/")) {
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
    r->reason = sp2 == std::string::npos ? "" : line.substr(sp2 + 1);
    r->headers.clear();
  } else if (size_t colon = line.find(':'); colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r->headers[name] = value;
  }
  return size * n;
}

std::string Form(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += "&";
    out += UrlEncode(k) + "=" + UrlEncode(v);
  }
  return out;
}

}  // namespace

Client::Client(const PveSimProcess& sim) : base_(sim.url() + "/api2/json"), ca_(sim.ca_pem()) {}

void Client::UseToken(const std::string& token) {
  token_ = token;
  ticket_.clear();
  csrf_.clear();
}

void Client::ClearAuth() {
  token_.clear();
  ticket_.clear();
  csrf_.clear();
}

Response Client::Login(const std::string& user, const std::string& password) {
  ClearAuth();
  Response r = Call("POST", "/access/ticket", {{"username", user}, {"password", password}});
  if (r.status == 200 && r.data().is_object()) {
    ticket_ = r.data().value("ticket", "");
    csrf_ = r.data().value("CSRFPreventionToken", "");
  }
  return r;
}

Response Client::Call(const std::string& method, const std::string& path,
                      const std::vector<std::pair<std::string, std::string>>& params) {
  if (method == "GET" || method == "DELETE") {
    std::string q = Form(params);
    return Raw(method, q.empty() ? path : path + "?" + q, "", "");
  }
  return Raw(method, path, Form(params), params.empty() ? "" : "application/x-www-form-urlencoded");
}

Response Client::Raw(const std::string& method, const std::string& path, const std::string& body,
                     const std::string& content_type) {
  Response r;
  if (!kCurlReady) return r;
  CURL* curl = curl_easy_init();
  std::string url = base_ + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_CAINFO, ca_.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
  curl_slist* headers = nullptr;
  std::vector<std::string> hs;
  if (!token_.empty()) hs.push_back("Authorization: PVEAPIToken=" + token_);
  if (!ticket_.empty()) {
    curl_easy_setopt(curl, CURLOPT_COOKIE, ("PVEAuthCookie=" + ticket_).c_str());
    if (method != "GET") hs.push_back("CSRFPreventionToken: " + csrf_);
  }
  for (const auto& [k, v] : extra_) hs.push_back(k + ": " + v);
  if (!content_type.empty()) hs.push_back("Content-Type: " + content_type);
  hs.emplace_back("Accept: application/json");
  for (const auto& h : hs) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    r.status = static_cast<int>(code);
  } else {
    r.curl_error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  r.json = json::parse(r.body, nullptr, false);
  return r;
}

json Client::WaitTask(const std::string& upid) {
  // The node is the UPID's second field, as every client derives it.
  size_t a = upid.find(':');
  size_t b = upid.find(':', a + 1);
  std::string node = upid.substr(a + 1, b - a - 1);
  json last;
  WaitFor(
      [&] {
        Response r = Call("GET", "/nodes/" + node + "/tasks/" + upid + "/status");
        if (r.status != 200) return false;
        last = r.data();
        return last.value("status", "") == "stopped";
      },
      std::chrono::seconds(20));
  return last;
}

}  // namespace pvek8s::pvesim::testing
