#include "provider/resources/k8s_inventory/k8s_inventory.h"

namespace pvek8s::resources {

using framework::Attribute;
using nlohmann::json;
using tftypes::AttributePath;
using tftypes::Type;
using tftypes::Value;

namespace {

// The attributes of a resource object passed in as a dynamic value.
std::optional<std::string> Field(const Value& obj, const std::string& name) {
  const Value& v = obj.Attr(name);
  if (!v.HasValue()) return std::nullopt;
  if (v.type().kind() == Type::Kind::kString) return v.AsString();
  if (v.type().kind() == Type::Kind::kNumber) return v.NumberText();
  if (v.type().kind() == Type::Kind::kBool) return v.AsBool() ? "true" : "false";
  return std::nullopt;
}

// What a value passed where a resource object belongs is, for messages.
std::string Describe(const Value& v) {
  if (v.IsNull()) return "null";
  if (!v.IsKnown()) return "an unknown value";
  switch (v.type().kind()) {
    case Type::Kind::kString:
      return "the string \"" + v.AsString() + "\"";
    case Type::Kind::kNumber:
      return "the number " + v.NumberText();
    case Type::Kind::kBool:
      return v.AsBool() ? "true" : "false";
    case Type::Kind::kList:
    case Type::Kind::kSet:
    case Type::Kind::kTuple:
      return "a list";
    case Type::Kind::kMap:
    case Type::Kind::kObject:
      return "an object without the resource's attributes";
    case Type::Kind::kDynamic:
      break;
  }
  return "a value of another type";
}

json ToJson(const Value& v) {
  if (!v.HasValue()) return nullptr;
  switch (v.type().kind()) {
    case Type::Kind::kString:
      return v.AsString();
    case Type::Kind::kNumber:
      if (auto i = v.AsInt64()) return *i;
      return v.AsDouble();
    case Type::Kind::kBool:
      return v.AsBool();
    case Type::Kind::kList:
    case Type::Kind::kSet:
    case Type::Kind::kTuple: {
      json a = json::array();
      for (const auto& e : v.Elements()) a.push_back(ToJson(e));
      return a;
    }
    case Type::Kind::kMap:
    case Type::Kind::kObject: {
      json o = json::object();
      for (const auto& [k, e] : v.Entries()) o[k] = ToJson(e);
      return o;
    }
    case Type::Kind::kDynamic:
      break;
  }
  return nullptr;
}

void YamlValue(const json& v, int indent, std::string& out);

void YamlMap(const json& obj, int indent, std::string& out) {
  for (const auto& [k, v] : obj.items()) {
    out += std::string(indent, ' ') + k + ":";
    if (v.is_object() && !v.empty()) {
      out += "\n";
      YamlMap(v, indent + 2, out);
    } else {
      out += " ";
      YamlValue(v, indent, out);
      out += "\n";
    }
  }
}

void YamlValue(const json& v, int indent, std::string& out) {
  (void)indent;
  // JSON scalars and flow collections are valid YAML; strings keep their
  // escapes (PEM newlines) that way.
  out += v.is_object() && v.empty() ? "{}" : v.dump();
}

class K8sInventoryDataSource : public framework::DataSource {
 public:
  K8sInventoryDataSource() {
    schema_.block.description =
        "An Ansible inventory for a cluster and its nodes: groups `kube_control_plane` and "
        "`kube_workers`, `ansible_host` from each node's address, and the join material as "
        "variables. Write it with `terraform output -raw inventory > inventory.yml`, or let "
        "`examples/lab/inventory.py` read `terraform show -json` directly. Secrets (bootstrap "
        "token, certificate key) appear only in `sensitive_yaml`/`sensitive_json`, and only "
        "with `include_secrets = true`.";
    schema_.block.attributes = {
        {.name = "id", .type = Type::String(), .description = "The cluster id.", .computed = true},
        {.name = "cluster",
         .type = Type::Dynamic(),
         .description = "The `proxmox_k8s_cluster` resource (pass the whole object).",
         .required = true},
        {.name = "nodes",
         .type = Type::Dynamic(),
         .description = "The `proxmox_k8s_node` resources, e.g. `proxmox_k8s_node.k8s` "
                        "(a list) or `[proxmox_k8s_node.cp, proxmox_k8s_node.w1]`.",
         .required = true},
        {.name = "ansible_user",
         .type = Type::String(),
         .description = "SSH user for every host (default: each node's `ssh_user`, else "
                        "`ubuntu`).",
         .optional = true},
        {.name = "extra_vars",
         .type = Type::Map(Type::String()),
         .description = "More variables for group `all`.",
         .optional = true},
        {.name = "include_secrets",
         .type = Type::Bool(),
         .description = "Put the bootstrap token, certificate key and CA key into "
                        "`sensitive_yaml`/`sensitive_json` (default false).",
         .optional = true},
        {.name = "yaml",
         .type = Type::String(),
         .description = "The inventory as YAML, without secrets.",
         .computed = true},
        {.name = "json",
         .type = Type::String(),
         .description = "The inventory as a dynamic-inventory JSON document, without secrets.",
         .computed = true},
        {.name = "sensitive_yaml",
         .type = Type::String(),
         .description = "The YAML inventory with secrets when `include_secrets` is set.",
         .computed = true,
         .sensitive = true},
        {.name = "sensitive_json",
         .type = Type::String(),
         .description = "The JSON inventory with secrets when `include_secrets` is set.",
         .computed = true,
         .sensitive = true},
        {.name = "hosts",
         .type = Type::Map(Type::String()),
         .description = "Host name to address, for a quick look.",
         .computed = true},
    };
  }
  std::string TypeName() const override { return "proxmox_k8s_inventory"; }
  const framework::Schema& GetSchema() const override { return schema_; }

  void Read(const framework::DataSourceReadRequest& req,
            framework::DataSourceReadResponse& resp) override {
    const Value& cluster = req.config.Attr("cluster");
    const Value& nodes = req.config.Attr("nodes");
    if (!cluster.HasValue() || cluster.type().kind() != Type::Kind::kObject ||
        !Field(cluster, "ca_cert_hash")) {
      resp.diagnostics.AddError(
          "Invalid cluster",
          "cluster must be the proxmox_k8s_cluster resource itself (e.g. cluster = "
          "proxmox_k8s_cluster.lab), not its name or one of its attributes; got " +
              Describe(cluster) + ".",
          AttributePath("cluster"));
      return;
    }
    std::vector<Value> node_list;
    if (nodes.HasValue() && nodes.type().kind() == Type::Kind::kObject) {
      node_list.push_back(nodes);
    } else if (nodes.HasValue()) {
      node_list = nodes.Elements();
    }
    json inv = {{"_meta", {{"hostvars", json::object()}}},
                {"all", {{"children", {"kube_control_plane", "kube_workers"}}}},
                {"kube_control_plane", {{"hosts", json::array()}}},
                {"kube_workers", {{"hosts", json::array()}}}};
    std::map<std::string, Value> hosts;
    auto user = req.config.GetString("ansible_user");
    for (size_t i = 0; i < node_list.size(); ++i) {
      const Value& n = node_list[i];
      auto name = n.type().kind() == Type::Kind::kObject ? Field(n, "name") : std::nullopt;
      auto addr = name ? Field(n, "ssh_host") : std::nullopt;
      if (!name || !addr) {
        std::string which = "nodes[" + std::to_string(i) + "]";
        resp.diagnostics.AddError(
            "Invalid node",
            which + (name ? " (" + *name + ") has no ssh_host" : " is " + Describe(n)) +
                ": pass proxmox_k8s_node resources (e.g. nodes = proxmox_k8s_node.k8s), "
                "whose address is known once they exist.",
            AttributePath("nodes").Index(static_cast<int64_t>(i)));
        return;
      }
      std::string role = Field(n, "role").value_or("worker");
      json hv = {{"ansible_host", *addr},
                 {"ansible_user", user.value_or(Field(n, "ssh_user").value_or("ubuntu"))},
                 {"k8s_role", role},
                 {"proxmox_node", Field(n, "target_node").value_or("")},
                 {"proxmox_vmid", Field(n, "vmid").value_or("")}};
      if (n.Attr("labels").HasValue()) hv["k8s_node_labels"] = ToJson(n.Attr("labels"));
      if (n.Attr("taints").HasValue()) hv["k8s_node_taints"] = ToJson(n.Attr("taints"));
      inv["_meta"]["hostvars"][*name] = hv;
      inv[role == "control-plane" ? "kube_control_plane" : "kube_workers"]["hosts"].push_back(
          *name);
      hosts[*name] = Value::String(*addr);
    }
    json vars = {{"k8s_cluster_name", Field(cluster, "name").value_or("")},
                 {"k8s_api_server_endpoint", Field(cluster, "control_plane_endpoint").value_or("")},
                 {"k8s_version", Field(cluster, "kubernetes_version").value_or("")},
                 {"k8s_pod_subnet", Field(cluster, "pod_subnet").value_or("")},
                 {"k8s_service_subnet", Field(cluster, "service_subnet").value_or("")},
                 {"k8s_ca_cert_hash", Field(cluster, "ca_cert_hash").value_or("")},
                 {"k8s_ca_cert_pem", Field(cluster, "ca_cert_pem").value_or("")},
                 {"k8s_token_expires_at", Field(cluster, "token_expires_at").value_or("")}};
    if (const Value& extra = req.config.Attr("extra_vars"); extra.HasValue()) {
      for (const auto& [k, v] : extra.Entries())
        vars[k] = v.HasValue() ? json(v.AsString()) : json();
    }
    inv["all"]["vars"] = vars;
    json secret = inv;
    if (req.config.GetBool("include_secrets").value_or(false)) {
      secret["all"]["vars"]["k8s_bootstrap_token"] = Field(cluster, "bootstrap_token").value_or("");
      secret["all"]["vars"]["k8s_certificate_key"] = Field(cluster, "certificate_key").value_or("");
      secret["all"]["vars"]["k8s_ca_key_pem"] = Field(cluster, "ca_key_pem").value_or("");
    }
    resp.state = resp.state.WithAttr("id", Value::String(Field(cluster, "id").value_or("")))
                     .WithAttr("json", Value::String(inv.dump(2)))
                     .WithAttr("yaml", Value::String(InventoryYaml(inv)))
                     .WithAttr("sensitive_json", Value::String(secret.dump(2)))
                     .WithAttr("sensitive_yaml", Value::String(InventoryYaml(secret)))
                     .WithAttr("hosts", Value::Map(Type::String(), hosts));
  }

 private:
  framework::Schema schema_;
};

}  // namespace

std::string InventoryYaml(const json& inv) {
  // Static layout: all.vars, then each group's hosts with their variables.
  json doc = {{"all", {{"vars", inv["all"]["vars"]}, {"children", json::object()}}}};
  for (const char* group : {"kube_control_plane", "kube_workers"}) {
    json hosts = json::object();
    for (const auto& h : inv[group]["hosts"]) {
      hosts[h.get<std::string>()] = inv["_meta"]["hostvars"][h.get<std::string>()];
    }
    doc["all"]["children"][group] = {{"hosts", hosts}};
  }
  std::string out = "# Generated by terraform (proxmox_k8s_inventory). Do not edit.\n";
  YamlMap(doc, 0, out);
  return out;
}

std::unique_ptr<framework::DataSource> NewK8sInventoryDataSource() {
  return std::make_unique<K8sInventoryDataSource>();
}

}  // namespace pvek8s::resources
