#include "modules/node_drain/node_drain.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "modules/ansible/command.h"

namespace pvek8s::node_drain {
namespace {

using ansible::Param;
using ansible::ParamType;
using ansible::Result;
using nlohmann::json;

// The string at `key` of object `j`, or "" when absent or not a string.
std::string Str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& Field(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it != j.end() ? *it : kNull;
}

std::map<std::string, std::string> StringMap(const json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (const auto& item : j.items()) {
    if (item.value().is_string()) out[item.key()] = item.value().get<std::string>();
  }
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

bool Matches(const std::map<std::string, std::string>& selector,
             const std::map<std::string, std::string>& labels) {
  if (selector.empty()) return false;  // kubectl ignores budgets that select nothing.
  return std::all_of(selector.begin(), selector.end(), [&](const auto& kv) {
    auto it = labels.find(kv.first);
    return it != labels.end() && it->second == kv.second;
  });
}

std::string Namespace(const std::string& ref) { return ref.substr(0, ref.find('/')); }

StatusOr<std::string> ObjectRef(const json& item, const char* kind, size_t i) {
  const json& meta = Field(item, "metadata");
  std::string ns = Str(meta, "namespace");
  std::string name = Str(meta, "name");
  if (ns.empty() || name.empty()) {
    return InvalidArgumentError("kubectl returned a " + std::string(kind) + " (item " +
                                std::to_string(i) + ") without metadata.namespace and name");
  }
  return ns + "/" + name;
}

}  // namespace

StatusOr<NodeState> ParseNode(const json& node) {
  if (Str(node, "kind") != "Node") {
    return InvalidArgumentError("kubectl get node did not return a Node object");
  }
  NodeState state;
  state.exists = true;
  state.unschedulable = Field(Field(node, "spec"), "unschedulable") == true;
  return state;
}

StatusOr<std::vector<Pod>> ParsePods(const json& list) {
  const json& items = Field(list, "items");
  if (!items.is_array()) return InvalidArgumentError("kubectl get pods did not return a list");
  std::vector<Pod> pods;
  for (size_t i = 0; i < items.size(); ++i) {
    const json& item = items[i];
    PVEK8S_ASSIGN_OR_RETURN(std::string ref, ObjectRef(item, "pod", i));
    Pod pod;
    pod.ref = ref;
    const json& meta = Field(item, "metadata");
    pod.labels = StringMap(Field(meta, "labels"));
    const json& owners = Field(meta, "ownerReferences");
    if (owners.is_array()) {
      for (const json& o : owners) {
        if (Field(o, "controller") == true) pod.controller = Str(o, "kind");
      }
    }
    pod.mirror = StringMap(Field(meta, "annotations")).count("kubernetes.io/config.mirror") > 0;
    const json& volumes = Field(Field(item, "spec"), "volumes");
    if (volumes.is_array()) {
      for (const json& v : volumes) pod.local_storage |= v.is_object() && v.contains("emptyDir");
    }
    std::string phase = Str(Field(item, "status"), "phase");
    pod.finished = phase == "Succeeded" || phase == "Failed";
    pods.push_back(std::move(pod));
  }
  return pods;
}

StatusOr<std::vector<Budget>> ParseBudgets(const json& list) {
  const json& items = Field(list, "items");
  if (!items.is_array()) return InvalidArgumentError("kubectl get pdb did not return a list");
  std::vector<Budget> budgets;
  for (size_t i = 0; i < items.size(); ++i) {
    PVEK8S_ASSIGN_OR_RETURN(std::string ref, ObjectRef(items[i], "PodDisruptionBudget", i));
    Budget b;
    b.ref = ref;
    b.match_labels = StringMap(Field(Field(Field(items[i], "spec"), "selector"), "matchLabels"));
    const json& allowed = Field(Field(items[i], "status"), "disruptionsAllowed");
    b.disruptions_allowed = allowed.is_number_integer() ? allowed.get<int>() : 0;
    budgets.push_back(std::move(b));
  }
  return budgets;
}

DrainPlan PlanDrain(const std::vector<Pod>& pods, const DrainOptions& options) {
  DrainPlan plan;
  std::vector<std::string> daemonsets, local, bare;
  for (const Pod& p : pods) {
    // kubectl's filter order: DaemonSet, mirror, local storage, no controller.
    if (p.controller == "DaemonSet") {
      (options.ignore_daemonsets ? plan.kept : daemonsets).push_back(p.ref);
    } else if (p.mirror) {
      plan.kept.push_back(p.ref);
    } else if (p.local_storage && !p.finished && !options.delete_emptydir_data) {
      local.push_back(p.ref);
    } else if (p.controller.empty() && !p.finished && !options.force) {
      bare.push_back(p.ref);
    } else {
      plan.evict.push_back(p.ref);
    }
  }
  if (!daemonsets.empty()) {
    plan.refusals.push_back(
        "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): " +
        Join(daemonsets, ", ") + "; set ignore_daemonsets: true to leave them running");
  }
  if (!local.empty()) {
    plan.refusals.push_back(
        "cannot delete Pods with local storage (use --delete-emptydir-data to override): " +
        Join(local, ", ") + "; set delete_emptydir_data: true to delete them and their data");
  }
  if (!bare.empty()) {
    plan.refusals.push_back(
        "cannot delete Pods that declare no controller (use --force to "
        "override): " +
        Join(bare, ", ") + "; set force: true to delete them");
  }
  return plan;
}

std::vector<std::string> HeldPods(const std::vector<Pod>& remaining,
                                  const std::vector<std::string>& evict,
                                  const std::vector<Budget>& budgets) {
  std::vector<std::string> out;
  for (const Pod& p : remaining) {
    if (std::find(evict.begin(), evict.end(), p.ref) == evict.end()) continue;
    std::vector<std::string> holders;
    for (const Budget& b : budgets) {
      if (Namespace(b.ref) == Namespace(p.ref) && Matches(b.match_labels, p.labels)) {
        holders.push_back("PodDisruptionBudget " + b.ref + " allows " +
                          std::to_string(b.disruptions_allowed) + " disruption(s)");
      }
    }
    out.push_back(holders.empty() ? p.ref : p.ref + " (" + Join(holders, ", ") + ")");
  }
  return out;
}

ansible::ArgSpec DrainSpec() {
  ansible::ArgSpec spec;
  spec.params = {
      Param("node").Required(),
      Param("state").Default("drained").Choices({"cordoned", "drained", "uncordoned", "absent"}),
      Param("kubeconfig", ParamType::kPath).Default("/etc/kubernetes/admin.conf"),
      Param("timeout", ParamType::kInt).Default(300),
      Param("grace_period", ParamType::kInt).Default(-1),
      Param("ignore_daemonsets", ParamType::kBool).Default(true),
      Param("delete_emptydir_data", ParamType::kBool).Default(false),
      Param("force", ParamType::kBool).Default(false),
  };
  return spec;
}

namespace {

// kubectl with the module's kubeconfig; every run bounded by a deadline.
class Kubectl {
 public:
  Kubectl(std::string path, std::string kubeconfig)
      : path_(std::move(path)), kubeconfig_(std::move(kubeconfig)) {}

  StatusOr<ansible::CommandResult> Run(const std::vector<std::string>& args,
                                       std::chrono::seconds deadline) const {
    std::vector<std::string> argv = {path_, "--kubeconfig", kubeconfig_};
    argv.insert(argv.end(), args.begin(), args.end());
    return ansible::RunCommand(argv, deadline);
  }

  // `kubectl ARGS -o json`, decoded; nullopt for kubectl's NotFound.
  StatusOr<std::optional<json>> Get(std::vector<std::string> args) const {
    args.insert(args.begin(), "get");
    args.insert(args.end(), {"-o", "json"});
    PVEK8S_ASSIGN_OR_RETURN(ansible::CommandResult run, Run(args, kGetDeadline));
    if (!run.ok()) {
      if (run.err.find("(NotFound)") != std::string::npos) return std::optional<json>();
      return UnavailableError(Failed(args, run));
    }
    json out = json::parse(run.out, nullptr, false);
    if (out.is_discarded()) return UnavailableError("kubectl " + Join(args, " ") + ": not JSON");
    return std::optional<json>(std::move(out));
  }

  // "kubectl drain h2 failed: <kubectl's last error line>".
  static std::string Failed(const std::vector<std::string>& args,
                            const ansible::CommandResult& run) {
    std::string line;
    size_t start = 0;
    const std::string& text = run.err.empty() ? run.out : run.err;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string l = text.substr(start, end - start);
      if (l.find("rror") != std::string::npos) line = l;
      start = end + 1;
    }
    if (line.empty())
      return ansible::DescribeFailure({"kubectl", args.empty() ? "" : args[0]}, run);
    return "kubectl " + (args.empty() ? std::string() : args[0]) + " failed: " + line;
  }

 private:
  static constexpr std::chrono::seconds kGetDeadline{60};
  std::string path_;
  std::string kubeconfig_;
};

struct Context {
  ansible::Module& module;
  const Kubectl& kubectl;
  std::string node;
  std::string state;
  bool schedulable_before = true;
};

StatusOr<std::vector<Pod>> PodsOn(const Kubectl& kubectl, const std::string& node) {
  PVEK8S_ASSIGN_OR_RETURN(
      std::optional<json> list,
      kubectl.Get({"pods", "--all-namespaces", "--field-selector", "spec.nodeName=" + node}));
  if (!list) return UnavailableError("kubectl get pods: NotFound");
  return ParsePods(*list);
}

// After a drain that did not finish: which pods are still there, and why.
Result DrainFailed(const Context& c, const std::vector<std::string>& evict,
                   const ansible::CommandResult& run, const std::vector<std::string>& args,
                   Result r) {
  const json& p = c.module.params();
  r.failed = true;
  StatusOr<std::vector<Pod>> remaining = PodsOn(c.kubectl, c.node);
  StatusOr<std::optional<json>> pdbs = c.kubectl.Get({"pdb", "--all-namespaces"});
  std::vector<Budget> budgets;
  if (pdbs.ok() && *pdbs) budgets = ParseBudgets(**pdbs).value_or(std::vector<Budget>());
  std::vector<std::string> held, evicted;
  if (remaining.ok()) {
    held = HeldPods(*remaining, evict, budgets);
    for (const std::string& ref : evict) {
      if (std::none_of(remaining->begin(), remaining->end(),
                       [&](const Pod& pod) { return pod.ref == ref; })) {
        evicted.push_back(ref);
      }
    }
  }
  r.extra["evicted"] = evicted;
  r.extra["pending"] = held;
  if (held.empty()) {
    r.msg = Kubectl::Failed(args, run);
  } else {
    r.msg = "node " + c.node + " was not drained within " +
            std::to_string(p["timeout"].get<int>()) +
            " s (it stays cordoned); still on it: " + Join(held, "; ");
  }
  return r;
}

Result Drain(const Context& c, Result r) {
  const json& p = c.module.params();
  StatusOr<std::vector<Pod>> pods = PodsOn(c.kubectl, c.node);
  if (!pods.ok()) return ansible::Failure(pods.status().message());
  DrainOptions options{p["ignore_daemonsets"] == true, p["delete_emptydir_data"] == true,
                       p["force"] == true};
  DrainPlan plan = PlanDrain(*pods, options);
  r.extra["evicted"] = json::array();
  if (!plan.refusals.empty()) {
    r.failed = true;
    r.msg = "cannot drain node " + c.node + ": " + Join(plan.refusals, "; ");
    return r;
  }
  const bool absent = c.state == "absent";
  const bool needs_drain = c.schedulable_before || !plan.evict.empty();
  r.changed = needs_drain || absent;
  r.extra["evicted"] = plan.evict;
  if (!r.changed) {
    r.msg = "node " + c.node + " is already drained";
    return r;
  }
  std::string what = needs_drain ? "drain node " + c.node + " (" +
                                       std::to_string(plan.evict.size()) + " pod(s) to evict)"
                                 : "";
  if (absent) what += std::string(needs_drain ? " and " : "") + "delete Node " + c.node;
  if (c.module.check_mode()) {
    r.msg = "would " + what;
    return r;
  }
  if (needs_drain) {
    const int timeout = p["timeout"].get<int>();
    std::vector<std::string> args = {
        "drain", c.node, "--grace-period=" + std::to_string(p["grace_period"].get<int>()),
        "--timeout=" + std::to_string(timeout) + "s"};
    if (options.ignore_daemonsets) args.emplace_back("--ignore-daemonsets");
    if (options.delete_emptydir_data) args.emplace_back("--delete-emptydir-data");
    if (options.force) args.emplace_back("--force");
    // kubectl ends the drain at its own timeout; the margin covers its start and exit.
    StatusOr<ansible::CommandResult> run = c.kubectl.Run(args, std::chrono::seconds(timeout + 60));
    if (!run.ok()) return ansible::Failure(run.status().message());
    if (!run->ok()) return DrainFailed(c, plan.evict, *run, args, std::move(r));
  }
  if (absent) {
    std::vector<std::string> args = {"delete", "node", c.node};
    StatusOr<ansible::CommandResult> run = c.kubectl.Run(args, std::chrono::seconds(60));
    if (!run.ok()) return ansible::Failure(run.status().message());
    if (!run->ok()) {
      r.failed = true;
      r.msg = Kubectl::Failed(args, *run);
      return r;
    }
  }
  std::string done;
  if (needs_drain) {
    done = "drained node " + c.node + " (" + std::to_string(plan.evict.size()) + " pod(s) evicted)";
  }
  if (absent) done += std::string(needs_drain ? " and " : "") + "deleted Node " + c.node;
  r.msg = done;
  return r;
}

Result Cordon(const Context& c, bool cordon, Result r) {
  r.changed = c.schedulable_before == cordon;
  std::string verb = cordon ? "cordon" : "uncordon";
  if (!r.changed) {
    r.msg = "node " + c.node + " is already " + verb + "ed";
    return r;
  }
  r.msg = (c.module.check_mode() ? "would " + verb + " node " : verb + "ed node ") + c.node;
  if (c.module.check_mode()) return r;
  std::vector<std::string> args = {verb, c.node};
  StatusOr<ansible::CommandResult> run = c.kubectl.Run(args, std::chrono::seconds(60));
  if (!run.ok()) return ansible::Failure(run.status().message());
  if (!run->ok()) return ansible::Failure(Kubectl::Failed(args, *run));
  return r;
}

// Refuses option values no run could use, naming the option.
Status Validate(const json& p) {
  if (p["node"].get<std::string>().empty()) {
    return InvalidArgumentError("node must name a Kubernetes node, got ''");
  }
  if (p["timeout"].get<long long>() <= 0 || p["timeout"].get<long long>() > 86400) {
    return InvalidArgumentError("timeout must be 1..86400 seconds, got " + p["timeout"].dump());
  }
  if (p["grace_period"].get<long long>() < -1 || p["grace_period"].get<long long>() > 86400) {
    return InvalidArgumentError(
        "grace_period must be -1 (each pod's own), 0 (at once) or seconds up to 86400, got " +
        p["grace_period"].dump());
  }
  struct stat st {};
  std::string kubeconfig = p["kubeconfig"].get<std::string>();
  if (::stat(kubeconfig.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return FailedPreconditionError(
        "kubeconfig " + kubeconfig +
        " is not a file on this host: run the task where kubectl and an admin kubeconfig are "
        "(delegate_to the first control plane), or set kubeconfig");
  }
  return Status::Ok();
}

}  // namespace

Result RunDrain(ansible::Module& module, const std::string& kubectl_name) {
  const json& p = module.params();
  if (Status s = Validate(p); !s.ok()) return ansible::Failure(std::string(s.message()));
  std::optional<std::string> path = ansible::FindExecutable(kubectl_name);
  if (!path) {
    return ansible::Failure(kubectl_name +
                            " not found on this host: run the task where kubectl is "
                            "(delegate_to the first control plane)");
  }
  Kubectl kubectl(*path, p["kubeconfig"].get<std::string>());
  Context c{module, kubectl, p["node"].get<std::string>(), p["state"].get<std::string>()};
  Result r;
  r.extra["node"] = c.node;
  r.extra["state"] = c.state;
  StatusOr<std::optional<json>> node = kubectl.Get({"node", c.node});
  if (!node.ok()) return ansible::Failure(std::string(node.status().message()));
  if (!*node) {
    r.extra["schedulable_before"] = nullptr;
    r.extra["schedulable_after"] = nullptr;
    if (c.state == "absent") {
      r.msg = "node " + c.node + " is not in the cluster";
      return r;
    }
    r.failed = true;
    r.msg = "node " + c.node + " not found in the cluster (kubectl get node " + c.node + ")";
    return r;
  }
  StatusOr<NodeState> state = ParseNode(**node);
  if (!state.ok()) return ansible::Failure(std::string(state.status().message()));
  c.schedulable_before = !state->unschedulable;
  r.extra["schedulable_before"] = c.schedulable_before;
  if (c.state == "cordoned" || c.state == "uncordoned") {
    r = Cordon(c, c.state == "cordoned", std::move(r));
    r.extra["schedulable_after"] = c.state == "uncordoned";
  } else {
    r = Drain(c, std::move(r));
    r.extra["schedulable_after"] = c.state == "absent" && !r.failed ? json(nullptr) : json(false);
  }
  if (r.changed && !r.failed) {
    auto text = [&](const json& schedulable) {
      return schedulable.is_null()
                 ? std::string()
                 : "node: " + c.node + "\nschedulable: " + schedulable.dump() + "\n";
    };
    r.diffs.push_back({text(r.extra["schedulable_before"]), text(r.extra["schedulable_after"]),
                       "node " + c.node, "node " + c.node});
  }
  return r;
}

}  // namespace pvek8s::node_drain
