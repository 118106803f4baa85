// From HTTP request to handler and back: path and method checks, routing,
// authentication, parameter collection and validation, faults, the envelope.
#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "acceptance-tests/pvesim/params_moves.h"
#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"
#include "provider/base/encoding.h"
#include "provider/base/log.h"

namespace pvek8s::pvesim {

using nlohmann::json;

// ---------------------------------------------------------------------------
// Request handling.

HttpResponse Simulator::Handle(const HttpRequest& request) {
  if (FaultFires(FaultSpec::Kind::kDropConnection, "", "")) {
    HttpResponse r;
    r.drop = true;
    return r;
  }
  double latency = 0;
  {
    std::lock_guard<std::mutex> lock(fault_mu_);
    for (const FaultSpec& f : options_.faults) {
      if (f.kind == FaultSpec::Kind::kLatency && request.path.find(f.path) != std::string::npos &&
          std::uniform_real_distribution<double>(0, 1)(fault_rng_) < f.probability) {
        latency += f.latency_s;
      }
    }
  }
  if (latency > 0) std::this_thread::sleep_for(std::chrono::duration<double>(latency));
  // A last line of defence: a bug in a handler must answer 500, not kill the
  // connection thread (and with it the whole server).
  try {
    return Dispatch(request);
  } catch (const std::exception& e) {
    log::Error("handler failed", {{"error", e.what()}, {"path", request.path}});
    HttpResponse r;
    r.status = 500;
    r.reason = "internal error";
    r.body = R"({"data":null,"message":"internal error\n"})";
    r.close = true;
    return r;
  }
}

namespace {

HttpResponse PlainError(int status, std::string message) {
  HttpResponse r;
  r.status = status;
  r.reason = message;
  r.body = std::move(message);
  r.close = true;
  return r;
}

void AddStandardHeaders(HttpResponse* r, bool json_body) {
  char date[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  r->headers.emplace_back("Cache-Control", "max-age=0");
  r->headers.emplace_back("Date", date);
  r->headers.emplace_back("Pragma", "no-cache");
  r->headers.emplace_back("Server", "pve-api-daemon/3.0");
  r->headers.emplace_back("Expires", date);
  if (json_body) r->headers.emplace_back("Content-Type", "application/json;charset=UTF-8");
}

std::optional<std::vector<std::string>> SplitPath(std::string_view path) {
  std::vector<std::string> segs;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    auto d = UrlDecode(path.substr(pos, end - pos), false);
    if (!d) return std::nullopt;
    segs.push_back(std::move(*d));
    pos = end;
  }
  return segs;
}

std::string JsonToParam(const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) out += (out.empty() ? "" : ",") + JsonToParam(e);
    return out;
  }
  if (v.is_null()) return "";
  return SafeDump(v);
}

// Checks the /api2/<format>/ prefix and the method; sets *rest to the path
// below the format, or returns pveproxy's answer.
std::optional<HttpResponse> CheckApiPath(const HttpRequest& http, std::string_view* rest) {
  std::string_view path = http.path;
  if (!path.starts_with("/api2/")) return PlainError(501, "no such uri");
  *rest = path.substr(6);
  while (rest->starts_with("/")) rest->remove_prefix(1);
  std::string_view format = rest->substr(0, rest->find('/'));
  if (format.empty()) return PlainError(501, "no such uri");
  rest->remove_prefix(format.size());
  if (format != "json") {
    return PlainError(501,
                      "no formatter for uri " + std::string(*rest) + ", " + std::string(format));
  }
  const std::string& method = http.method;
  if (method != "GET" && method != "POST" && method != "PUT" && method != "DELETE") {
    HttpResponse r;
    r.status = 501;
    r.reason = "method '" + method + "' not available";
    r.close = true;
    return r;
  }
  if ((method == "GET" || method == "DELETE") && !http.body.empty()) {
    return PlainError(501, "Unexpected content for method '" + method + "'");
  }
  return std::nullopt;
}

// The method whose path template's literal segments match `segs`; fills *uri
// with the template's {placeholders}. nullptr if none matches.
const MethodDef* MatchRoute(const std::vector<MethodDef>& defs,
                            const std::vector<std::string>& segs, const std::string& method,
                            std::map<std::string, std::string>* uri) {
  for (const MethodDef& d : defs) {
    auto tsegs = SplitPath(d.path);
    if (!tsegs || tsegs->size() != segs.size() || d.method != method) continue;
    std::map<std::string, std::string> values;
    bool match = true;
    for (size_t i = 0; i < segs.size() && match; ++i) {
      const std::string& t = (*tsegs)[i];
      if (t.size() > 2 && t.front() == '{' && t.back() == '}') {
        values[t.substr(1, t.size() - 2)] = segs[i];
      } else {
        match = t == segs[i];
      }
    }
    if (match) {
      *uri = std::move(values);
      return &d;
    }
  }
  return nullptr;
}

// Parameters from the body (form or JSON), then the query string, which
// overrides it. Returns pveproxy's answer to a body it cannot read.
std::optional<HttpResponse> CollectParams(const HttpRequest& http, Simulator::Request* r) {
  if (!http.body.empty()) {
    const std::string* ct = http.Header("content-type");
    std::string type = ct ? ct->substr(0, ct->find(';')) : "application/x-www-form-urlencoded";
    while (!type.empty() && type.back() == ' ') type.pop_back();
    if (type == "application/json") {
      json body = json::parse(http.body, nullptr, false);
      if (body.is_discarded()) {
        return PlainError(500,
                          "malformed JSON string, neither tag, array, object, number, "
                          "string or atom, at character offset 0");
      }
      if (body.is_object()) {
        for (const auto& [k, v] : body.items()) r->params[k] = JsonToParam(v);
      }
    } else if (type == "application/x-www-form-urlencoded") {
      auto form = ParseFormUrlEncoded(http.body);
      if (!form) return PlainError(400, "invalid form encoding");
      for (auto& [k, v] : *form) r->params[k] = v;
    } else {
      return PlainError(506, "upload 'Content-Type '" + type + "' not implemented");
    }
  }
  if (!http.query.empty()) {
    auto form = ParseFormUrlEncoded(http.query);
    if (!form) return PlainError(400, "invalid query string");
    for (auto& [k, v] : *form) r->params[k] = v;
  }
  r->params.erase("_dc");
  return std::nullopt;
}

}  // namespace

HttpResponse Simulator::Dispatch(const HttpRequest& http) {
  Request r;
  HttpResponse resp = Respond(http, r);
  if (options_.log_requests) LogRequest(http, r, resp);
  return resp;
}

void Simulator::LogRequest(const HttpRequest& http, const Request& r,
                           const HttpResponse& resp) const {
  json fields = {{"method", http.method},
                 {"path", r.path.empty() ? http.path : r.path},
                 {"status", resp.status}};
  if (r.who.via_token()) {
    fields["auth"] = "token";
  } else if (!r.who.userid.empty()) {
    fields["auth"] = "ticket";
    if (http.method != "GET") fields["csrf"] = r.who.csrf_valid ? "valid" : "none";
  } else {
    fields["auth"] = "none";
  }
  if (!r.who.userid.empty()) fields["user"] = r.who.TaskUser();
  log::Info("request", fields);
}

HttpResponse Simulator::Respond(const HttpRequest& http, Request& r) {
  std::string_view rest;
  if (auto e = CheckApiPath(http, &rest)) return *e;
  auto segs = SplitPath(rest);
  if (!segs) return PlainError(400, "invalid URI escape");

  r.http = &http;
  r.method = http.method;
  for (const auto& s : *segs) r.path += "/" + s;
  if (r.path.empty()) r.path = "/";
  r.def = MatchRoute(MethodDefs(), *segs, r.method, &r.uri);
  if (r.def == nullptr) r.def = MatchRoute(MoveMethodDefs(Pve9()), *segs, r.method, &r.uri);
  if (auto e = AuthFailure(http, r)) return *e;
  if (auto e = NodeUnreachable(r)) return *e;

  Result result;
  if (r.def == nullptr) {
    result = Result::Fail(501, "Method '" + r.method + " " + r.path + "' not implemented");
    result.message.pop_back();  // This one has no trailing newline in Proxmox.
  } else {
    if (auto e = CollectParams(http, &r)) return *e;
    result = Process(r);
  }
  return Render(result);
}

// Everything but the ticket login and the realm list needs a ticket or token;
// the 401 has no body and the reason in the status line.
std::optional<HttpResponse> Simulator::AuthFailure(const HttpRequest& http, Request& r) {
  const std::string& method = r.method;
  bool is_public = (r.path == "/access/ticket" && (method == "GET" || method == "POST")) ||
                   (r.path == "/access/domains" && method == "GET");
  if (is_public) return std::nullopt;
  AuthOutcome outcome = auth_->Authenticate(http, method, &r.who);
  if (outcome == AuthOutcome::kOk) return std::nullopt;
  if (options_.timings.auth_fail_delay > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(options_.timings.auth_fail_delay));
  }
  HttpResponse resp;
  resp.status = 401;
  resp.reason = outcome == AuthOutcome::kNoTicket      ? "No ticket"
                : outcome == AuthOutcome::kInvalidCsrf ? "Permission denied - invalid csrf token"
                                                       : "Authentication failed!";
  resp.close = true;
  AddStandardHeaders(&resp, false);
  return resp;
}

// URI parameters (which must agree with the others), token restrictions,
// validation and injected faults; then the handler, with mu_ held.
Simulator::Result Simulator::Process(Request& r) {
  ErrorMap dup;
  for (const auto& [k, v] : r.uri) {
    auto it = r.params.find(k);
    if (it != r.params.end() && it->second != v) {
      dup[k] = "duplicate parameter (already defined in URI) with conflicting values!";
    }
    r.params[k] = v;
  }
  if (!dup.empty()) return Result::ParamError(dup);
  if (!r.def->allowtoken && r.who.via_token()) {
    return Result::Fail(403, "Permission check failed (URI '" + r.path +
                                 "' not available with API token, need proper ticket.)");
  }
  ErrorMap errors = Validate(*r.def, r.params, options_.pve_major);
  if (!errors.empty()) return Result::ParamError(errors);
  if (FaultFires(FaultSpec::Kind::kHttp500, r.method, r.path)) {
    std::string message;
    std::lock_guard<std::mutex> lock(fault_mu_);
    for (const FaultSpec& f : options_.faults) {
      if (f.kind == FaultSpec::Kind::kHttp500 && r.path.find(f.path) != std::string::npos) {
        message = f.message;
        break;
      }
    }
    return Result::Fail(500, message);
  }
  bool move_fault = FaultFires(FaultSpec::Kind::kMigrate, "", "");
  std::unique_lock<std::mutex> lock(mu_);
  r.lock = &lock;
  r.now = WallNow();
  if (move_fault) MaybeMigrateRandomVm();
  Result result = Route(r);
  r.lock = nullptr;
  return result;
}

// The {"data": ...} envelope, or an error body and reason phrase.
HttpResponse Simulator::Render(const Result& result) const {
  HttpResponse resp;
  resp.status = result.status;
  if (result.status == 200) {
    json body = {{"data", result.data}};
    if (result.total) body["total"] = *result.total;
    resp.body = SafeDump(body);
  } else {
    json body = {{"data", nullptr}};
    if (!options_.legacy_errors) body["message"] = result.message;
    if (!result.errors.empty()) body["errors"] = result.errors;
    resp.body = SafeDump(body);
    resp.reason = result.message.substr(0, result.message.find('\n'));
    resp.close = true;  // pveproxy closes the connection after any error.
  }
  AddStandardHeaders(&resp, true);
  return resp;
}

Simulator::Result Simulator::Route(Request& r) {
  auto it = routes_.find(r.method + " " + r.def->path);
  if (it == routes_.end()) {
    Result res = Result::Fail(501, "Method '" + r.method + " " + r.path + "' not implemented");
    res.message.pop_back();
    return res;
  }
  return (this->*(it->second))(r);
}

}  // namespace pvek8s::pvesim
