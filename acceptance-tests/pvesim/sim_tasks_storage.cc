// Tasks (UPIDs, status, logs), storage views and pools.
#include <algorithm>
#include <cstdio>

#include "acceptance-tests/pvesim/sim.h"
#include "acceptance-tests/pvesim/sim_internal.h"

namespace pvek8s::pvesim {

using nlohmann::json;

namespace {

std::string Hex8(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08X", v);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------
// Tasks.

Simulator::Task& Simulator::NewTask(const std::string& node, const std::string& type,
                                    const std::string& id, const Request& r) {
  Task t;
  t.node = node;
  t.type = type;
  t.id = id;
  t.user = r.who.TaskUser();
  t.pid = next_pid_++;
  t.pstart = static_cast<uint32_t>((r.now - started_wall_) * 100) + 1234567;
  t.starttime = static_cast<int64_t>(r.now);
  t.upid = "UPID:" + node + ":" + Hex8(t.pid) + ":" + Hex8(t.pstart) + ":" +
           Hex8(static_cast<uint32_t>(t.starttime)) + ":" + type + ":" + id + ":" + t.user + ":";
  task_order_.push_back(t.upid);
  // Keep memory bounded in long benchmark runs.
  if (task_order_.size() > 20000) {
    tasks_.erase(task_order_.front());
    task_order_.erase(task_order_.begin());
  }
  return tasks_[t.upid] = std::move(t);
}

void Simulator::FinishTask(Task& task, const std::string& error) {
  task.running = false;
  task.endtime = static_cast<int64_t>(WallNow());
  if (error.empty()) {
    if (task.warnings > 0) {
      task.exitstatus = "WARNINGS: " + std::to_string(task.warnings);
      task.log.push_back("TASK WARNINGS: " + std::to_string(task.warnings));
    } else {
      task.exitstatus = "OK";
      task.log.emplace_back("TASK OK");
    }
    return;
  }
  std::string e = error;
  while (!e.empty() && e.back() == '\n') e.pop_back();
  std::replace(e.begin(), e.end(), '\n', ' ');
  task.exitstatus = e;
  task.log.push_back("TASK ERROR: " + e);
}
// ---------------------------------------------------------------------------
// Tasks.

namespace {
json TaskJson(const std::string& upid, bool running, const std::string& node, uint32_t pid,
              uint32_t pstart, int64_t starttime, const std::string& type, const std::string& id,
              const std::string& user) {
  json j = {{"upid", upid},           {"node", node}, {"pid", pid}, {"pstart", pstart},
            {"starttime", starttime}, {"type", type}, {"id", id}};
  size_t bang = user.find('!');
  j["user"] = user.substr(0, bang);
  if (bang != std::string::npos) j["tokenid"] = user.substr(bang + 1);
  j["status"] = running ? "running" : "stopped";
  return j;
}
}  // namespace

std::optional<Simulator::Result> Simulator::FindTask(Request& r, Task** task) {
  if (auto e = CheckNode(r)) return e;
  const std::string& upid = r.uri["upid"];
  static const std::string kPrefix = "UPID:";
  size_t colons = std::count(upid.begin(), upid.end(), ':');
  if (!upid.starts_with(kPrefix) || colons != 8 || upid.back() != ':') {
    return Result::ParamError("upid", "unable to parse worker upid '" + upid + "'");
  }
  auto it = tasks_.find(upid);
  if (it == tasks_.end() || it->second.node != r.uri["node"]) {
    return Result::ParamError("upid", "no such task");
  }
  Task& t = it->second;
  std::string owner = t.user.substr(0, t.user.find('!'));
  if (owner != r.who.userid && !auth_->HasPriv(r.who, "/nodes/" + t.node, "Sys.Audit")) {
    return Result::Fail(403, "Permission check failed (/nodes/" + t.node + ", Sys.Audit)");
  }
  *task = &t;
  return std::nullopt;
}

Simulator::Result Simulator::ListTasks(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  int64_t start = r.Int("start", 0), limit = r.Int("limit", 50);
  std::string vmid = r.Get("vmid"), typefilter = r.Get("typefilter");
  bool errors_only = r.Bool("errors");
  std::string source = r.Get("source", "archive");
  json out = json::array();
  int64_t skipped = 0;
  // Newest first. (std::views::reverse would read better, but clang 14 cannot
  // compile libstdc++ 12's ranges, and .ci/tidy runs clang.)
  for (size_t k = task_order_.size(); k-- > 0;) {
    auto tit = tasks_.find(task_order_[k]);
    if (tit == tasks_.end()) continue;
    const Task& t = tit->second;
    if (t.node != r.uri["node"]) continue;
    if (!vmid.empty() && t.id != vmid) continue;
    if (!typefilter.empty() && t.type != typefilter) continue;
    if (errors_only && (t.running || t.exitstatus == "OK")) continue;
    if (source == "archive" && t.running) continue;
    if (source == "active" && !t.running) continue;
    std::string owner = t.user.substr(0, t.user.find('!'));
    if (owner != r.who.userid && !auth_->HasPriv(r.who, "/nodes/" + t.node, "Sys.Audit")) continue;
    if (skipped++ < start) continue;
    if (static_cast<int64_t>(out.size()) >= limit) break;
    json j =
        TaskJson(t.upid, t.running, t.node, t.pid, t.pstart, t.starttime, t.type, t.id, t.user);
    j.erase("status");
    if (!t.running) {
      j["status"] = t.exitstatus;
      j["endtime"] = t.endtime;
    }
    out.push_back(j);
  }
  Result res = Result::Ok(out);
  res.total = static_cast<int64_t>(out.size());
  return res;
}

Simulator::Result Simulator::GetTaskIndex(Request& r) {
  Task* t = nullptr;
  if (auto e = FindTask(r, &t)) return *e;
  return Result::Ok(json::array({{{"name", "log"}}, {{"name", "status"}}}));
}

Simulator::Result Simulator::StopTask(Request& r) {
  Task* t = nullptr;
  if (auto e = FindTask(r, &t)) return *e;
  if (t->running) FinishTask(*t, "received interrupt");
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::GetTaskStatus(Request& r) {
  Task* t = nullptr;
  if (auto e = FindTask(r, &t)) return *e;
  json j = TaskJson(t->upid, t->running, t->node, t->pid, t->pstart, t->starttime, t->type, t->id,
                    t->user);
  if (!t->running) j["exitstatus"] = t->exitstatus;
  return Result::Ok(j);
}

Simulator::Result Simulator::GetTaskLog(Request& r) {
  Task* t = nullptr;
  if (auto e = FindTask(r, &t)) return *e;
  int64_t start = r.Int("start", 0), limit = r.Int("limit", 50);
  json out = json::array();
  int64_t n = 0;
  for (const std::string& line : t->log) {
    ++n;
    if (n <= start) continue;
    if (static_cast<int64_t>(out.size()) >= limit) break;
    out.push_back({{"n", n}, {"t", line}});
  }
  if (t->log.empty() && t->running) out.push_back({{"n", 1}, {"t", "no content"}});
  Result res = Result::Ok(out);
  res.total = static_cast<int64_t>(t->log.size());
  return res;
}

// ---------------------------------------------------------------------------
// Storage.

Simulator::Result Simulator::ListStorage(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  std::vector<std::string> want = SplitList(r.Get("content"));
  std::string only = r.Get("storage");
  json out = json::array();
  for (const Storage& s : storages_) {
    if (!only.empty() && s.id != only) continue;
    if (!auth_->HasPriv(r.who, "/storage/" + s.id, "Datastore.Audit") &&
        !auth_->HasPriv(r.who, "/storage/" + s.id, "Datastore.AllocateSpace")) {
      continue;
    }
    bool match = want.empty();
    for (const auto& c : want)
      match = match || ("," + s.content + ",").find("," + c + ",") != std::string::npos;
    if (!match) continue;
    json j = StorageJson(r.uri["node"], s);
    if (r.Bool("format") && s.type == "lvmthin") j["format"] = json::array({{{"raw", 1}}, "raw"});
    out.push_back(j);
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::GetStorageStatus(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  const Storage* s = FindStorage(r.uri["storage"]);
  if (s == nullptr) return Result::Fail(500, "storage '" + r.uri["storage"] + "' does not exist");
  if (auto e =
          CheckPriv(r, "/storage/" + s->id, {"Datastore.Audit", "Datastore.AllocateSpace"}, true)) {
    return *e;
  }
  json j = StorageJson(r.uri["node"], *s);
  j.erase("storage");
  return Result::Ok(j);
}

Simulator::Result Simulator::GetStorageContent(Request& r) {
  if (auto e = CheckNode(r)) return *e;
  const Storage* s = FindStorage(r.uri["storage"]);
  if (s == nullptr) return Result::Fail(500, "storage '" + r.uri["storage"] + "' does not exist");
  if (auto e =
          CheckPriv(r, "/storage/" + s->id, {"Datastore.Audit", "Datastore.AllocateSpace"}, true)) {
    return *e;
  }
  std::string content = r.Get("content");
  std::string vmid = r.Get("vmid");
  json out = json::array();
  for (const auto& [id, vm] : vms_) {
    if (vm.node != r.uri["node"]) continue;
    if (!vmid.empty() && std::to_string(id) != vmid) continue;
    for (const auto& [volid, v] : vm.volumes) {
      if (v.storage != s->id) continue;
      if (!content.empty() && v.content != content) continue;
      json j = {{"volid", volid}, {"content", v.content}, {"format", v.format},
                {"size", v.size}, {"vmid", id},           {"ctime", v.ctime}};
      size_t slash = v.name.find('/');
      if (slash != std::string::npos) j["parent"] = v.name.substr(0, slash) + "@__base__";
      out.push_back(j);
    }
  }
  return Result::Ok(out);
}

// ---------------------------------------------------------------------------
// Pools.

json Simulator::PoolMembers(const std::string& id, const std::string& type) const {
  json members = json::array();
  const Pool& p = pools_.at(id);
  if (type.empty() || type == "qemu") {
    for (int vmid : p.vms) {
      auto it = vms_.find(vmid);
      if (it == vms_.end()) continue;
      json j = VmResource(it->second, WallNow());
      members.push_back(j);
    }
  }
  if (type.empty() || type == "storage") {
    for (const auto& st : p.storage) {
      for (const auto& n : options_.nodes) {
        members.push_back({{"id", "storage/" + n + "/" + st},
                           {"type", "storage"},
                           {"storage", st},
                           {"node", n},
                           {"status", "available"}});
      }
    }
  }
  return members;
}

Simulator::Result Simulator::ListPools(Request& r) {
  json out = json::array();
  std::string only = r.Get("poolid");
  if (!only.empty() && !pools_.contains(only)) {
    return Result::Fail(500, "pool '" + only + "' does not exist");
  }
  for (const auto& [id, p] : pools_) {
    if (!only.empty() && id != only) continue;
    if (!auth_->HasPriv(r.who, "/pool/" + id, "Pool.Audit")) continue;
    json j = {{"poolid", id}};
    if (!p.comment.empty()) j["comment"] = p.comment;
    if (!only.empty()) j["members"] = PoolMembers(id, r.Get("type"));
    out.push_back(j);
  }
  return Result::Ok(out);
}

Simulator::Result Simulator::CreatePool(Request& r) {
  std::string id = r.Get("poolid");
  if (auto e = CheckPriv(r, "/pool/" + id, {"Pool.Allocate"})) return *e;
  if (pools_.contains(id))
    return Result::Fail(500, "create pool failed: pool '" + id + "' already exists");
  pools_[id].comment = r.Get("comment");
  SaveCluster();
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::UpdatePool(Request& r) {
  std::string id = r.Get("poolid");
  if (auto e = CheckPriv(r, "/pool/" + id, {"Pool.Allocate"})) return *e;
  auto it = pools_.find(id);
  if (it == pools_.end()) return Result::Fail(500, "pool '" + id + "' does not exist");
  Pool& p = it->second;
  if (r.Has("comment")) p.comment = r.Get("comment");
  bool del = r.Bool("delete");
  for (const std::string& v : SplitList(r.Get("vms"))) {
    int vmid = std::atoi(v.c_str());
    if (del) {
      p.vms.erase(vmid);
      continue;
    }
    if (!vms_.contains(vmid)) return Result::Fail(500, "VM " + v + " does not exist");
    for (auto& [oid, other] : pools_) {
      if (oid != id && other.vms.contains(vmid)) {
        if (!r.Bool("allow-move")) {
          return Result::Fail(500, "VM " + v + " belongs already to pool '" + oid +
                                       "' and 'allow-move' is not set");
        }
        other.vms.erase(vmid);
      }
    }
    p.vms.insert(vmid);
  }
  for (const std::string& s : SplitList(r.Get("storage"))) {
    if (del) {
      p.storage.erase(s);
    } else {
      if (!FindStorage(s)) return Result::Fail(500, "storage '" + s + "' does not exist");
      p.storage.insert(s);
    }
  }
  SaveCluster();
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::DeletePool(Request& r) {
  std::string id = r.Get("poolid");
  if (auto e = CheckPriv(r, "/pool/" + id, {"Pool.Allocate"})) return *e;
  auto it = pools_.find(id);
  if (it == pools_.end())
    return Result::Fail(500, "delete pool failed: pool '" + id + "' does not exist");
  if (!it->second.vms.empty()) {
    return Result::Fail(500, "delete pool failed: pool '" + id + "' is not empty (contains VM " +
                                 std::to_string(*it->second.vms.begin()) + ")");
  }
  if (!it->second.storage.empty()) {
    return Result::Fail(500,
                        "delete pool failed: pool '" + id + "' is not empty (contains storage)");
  }
  pools_.erase(it);
  SaveCluster();
  return Result::Ok(nullptr);
}

Simulator::Result Simulator::GetPool(Request& r) {
  std::string id = r.Get("poolid");
  if (auto e = CheckPriv(r, "/pool/" + id, {"Pool.Audit"})) return *e;
  auto it = pools_.find(id);
  if (it == pools_.end()) return Result::Fail(500, "pool '" + id + "' does not exist");
  json j = {{"members", PoolMembers(id, r.Get("type"))}};
  if (!it->second.comment.empty()) j["comment"] = it->second.comment;
  return Result::Ok(j);
}

}  // namespace pvek8s::pvesim
