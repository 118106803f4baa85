#include "provider/resources/k8s_node/node_model.h"

#include <algorithm>

#include "provider/framework/validators.h"

namespace pvek8s::resources::node {
namespace {

using tftypes::Type;
using tftypes::Value;

std::optional<std::vector<std::string>> OptStrings(const Value& v) {
  if (!v.HasValue()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& e : v.Elements()) {
    if (e.HasValue()) out.push_back(e.AsString());
  }
  return out;
}

int64_t Seconds(const Value& block, const char* attr, int64_t def) {
  auto text = block.GetString(attr);
  if (!text) return def;
  auto s = framework::ParseDurationSeconds(*text);
  return s.ok() ? *s : def;
}

Value StringOrNull(const std::optional<std::string>& s) {
  return s ? Value::String(*s) : Value::Null(Type::String());
}

Value IntOrNull(const std::optional<int64_t>& n) {
  return n ? Value::Int(*n) : Value::Null(Type::Number());
}

Value StringList(const std::optional<std::vector<std::string>>& v, bool as_set = false) {
  Type t = as_set ? Type::Set(Type::String()) : Type::List(Type::String());
  if (!v) return Value::Null(t);
  std::vector<Value> elems;
  for (const auto& s : *v) elems.push_back(Value::String(s));
  return as_set ? Value::Set(Type::String(), std::move(elems))
                : Value::List(Type::String(), std::move(elems));
}

std::string DurationText(int64_t seconds) { return std::to_string(seconds) + "s"; }

void ReadBlocks(const Value& v, NodeModel& m) {
  if (const Value& c = v.Attr("cpu"); c.HasValue()) {
    m.cpu = Cpu{c.GetInt("cores").value_or(kDefaultCores),
                c.GetInt("sockets").value_or(kDefaultSockets),
                c.GetString("type").value_or(kDefaultCpuType)};
  }
  if (const Value& d = v.Attr("disk"); d.HasValue()) {
    m.disk = Disk{d.GetString("size").value_or(""), d.GetString("storage"),
                  d.GetBool("iothread").value_or(kDefaultIoThread)};
  }
  if (const Value& nets = v.Attr("network"); nets.HasValue()) {
    for (const auto& n : nets.Elements()) {
      m.networks.push_back(Network{n.GetString("bridge").value_or(kDefaultBridge),
                                   n.GetString("model").value_or(kDefaultNicModel),
                                   n.GetInt("vlan"), n.GetInt("mtu")});
    }
  }
  if (const Value& ip = v.Attr("ip"); ip.HasValue()) {
    m.ip = Ip{ip.GetString("address").value_or(""), ip.GetString("gateway")};
  }
  if (const Value& w = v.Attr("wait_for_ip"); w.HasValue()) {
    m.wait_for_ip = WaitForIp{Seconds(w, "timeout", kDefaultWaitForIpSeconds),
                              w.GetBool("ipv4").value_or(true), w.GetBool("ipv6").value_or(false)};
  }
  const Value& t = v.Attr("timeouts");
  m.timeouts = Timeouts{Seconds(t, "create", kDefaultCreateTimeoutSeconds),
                        Seconds(t, "update", kDefaultUpdateTimeoutSeconds),
                        Seconds(t, "delete", kDefaultDeleteTimeoutSeconds)};
}

}  // namespace

std::string Ip::Host() const { return Dhcp() ? "" : address.substr(0, address.find('/')); }

NodeModel NodeModel::FromValue(const Value& v) {
  NodeModel m;
  m.name = v.GetString("name").value_or("");
  m.template_name = v.GetString("template").value_or("");
  m.target_node = v.GetString("target_node");
  m.target_nodes = OptStrings(v.Attr("target_nodes")).value_or(std::vector<std::string>{});
  m.vmid = v.GetInt("vmid");
  if (const Value& r = v.Attr("vmid_range"); r.HasValue() && r.Elements().size() == 2) {
    auto lo = r.Elements()[0].HasValue() ? r.Elements()[0].AsInt64() : std::nullopt;
    auto hi = r.Elements()[1].HasValue() ? r.Elements()[1].AsInt64() : std::nullopt;
    if (lo && hi) m.vmid_range = {*lo, *hi};
  }
  m.full_clone = v.GetBool("full_clone").value_or(kDefaultFullClone);
  m.description = v.GetString("description").value_or("");
  m.role = v.GetString("role").value_or(kDefaultRole);
  m.cluster = v.GetString("cluster");
  m.pool = v.GetString("pool");
  m.memory_mib = v.GetInt("memory").value_or(kDefaultMemoryMib);
  m.nameservers = OptStrings(v.Attr("nameservers"));
  m.search_domain = v.GetString("search_domain");
  m.ssh_user = v.GetString("ssh_user");
  m.ssh_public_keys = OptStrings(v.Attr("ssh_public_keys"));
  m.tags = OptStrings(v.Attr("tags")).value_or(std::vector<std::string>{});
  std::sort(m.tags.begin(), m.tags.end());
  m.on_boot = v.GetBool("on_boot").value_or(kDefaultOnBoot);
  m.started = v.GetBool("started").value_or(kDefaultStarted);
  m.on_cloudinit_change = v.GetString("on_cloudinit_change").value_or(kDefaultCloudInitPolicy);
  if (const Value& l = v.Attr("labels"); l.HasValue()) {
    m.labels.emplace();
    for (const auto& [k, e] : l.Entries()) {
      if (e.HasValue()) m.labels->emplace_back(k, e.AsString());
    }
  }
  m.taints = OptStrings(v.Attr("taints"));
  ReadBlocks(v, m);
  return m;
}

Value NodeModel::ToValue(const Type& type) const {
  const auto& attrs = type.attributes();
  std::map<std::string, Value> out;
  out["name"] = Value::String(name);
  out["template"] = Value::String(template_name);
  out["target_node"] = StringOrNull(target_node);
  out["target_nodes"] =
      target_nodes.empty() ? Value::Null(Type::List(Type::String())) : StringList(target_nodes);
  out["vmid"] = IntOrNull(vmid);
  out["vmid_range"] = vmid_range ? Value::List(Type::Number(), {Value::Int(vmid_range->first),
                                                                Value::Int(vmid_range->second)})
                                 : Value::Null(Type::List(Type::Number()));
  out["full_clone"] = Value::Bool(full_clone);
  out["description"] =
      description.empty() ? Value::Null(Type::String()) : Value::String(description);
  out["role"] = Value::String(role);
  out["cluster"] = StringOrNull(cluster);
  out["pool"] = StringOrNull(pool);
  out["memory"] = Value::Int(memory_mib);
  out["nameservers"] = StringList(nameservers);
  out["search_domain"] = StringOrNull(search_domain);
  out["ssh_user"] = StringOrNull(ssh_user);
  out["ssh_public_keys"] = StringList(ssh_public_keys);
  out["tags"] =
      tags.empty() ? Value::Null(Type::Set(Type::String())) : StringList(tags, /*as_set=*/true);
  out["on_boot"] = Value::Bool(on_boot);
  out["started"] = Value::Bool(started);
  out["on_cloudinit_change"] = Value::String(on_cloudinit_change);
  if (labels) {
    std::map<std::string, Value> entries;
    for (const auto& [k, val] : *labels) entries[k] = Value::String(val);
    out["labels"] = Value::Map(Type::String(), std::move(entries));
  }
  out["taints"] = StringList(taints);
  if (cpu) {
    out["cpu"] = Value::Object(attrs.at("cpu"), {{"cores", Value::Int(cpu->cores)},
                                                 {"sockets", Value::Int(cpu->sockets)},
                                                 {"type", Value::String(cpu->type)}});
  }
  if (disk) {
    out["disk"] = Value::Object(attrs.at("disk"), {{"size", Value::String(disk->size)},
                                                   {"storage", StringOrNull(disk->storage)},
                                                   {"iothread", Value::Bool(disk->iothread)}});
  }
  std::vector<Value> nets;
  const Type& nt = attrs.at("network").element();
  for (const auto& n : networks) {
    nets.push_back(Value::Object(nt, {{"bridge", Value::String(n.bridge)},
                                      {"model", Value::String(n.model)},
                                      {"vlan", IntOrNull(n.vlan)},
                                      {"mtu", IntOrNull(n.mtu)}}));
  }
  out["network"] = Value::List(nt, std::move(nets));
  if (ip) {
    out["ip"] = Value::Object(attrs.at("ip"), {{"address", Value::String(ip->address)},
                                               {"gateway", StringOrNull(ip->gateway)}});
  }
  out["wait_for_ip"] =
      Value::Object(attrs.at("wait_for_ip"),
                    {{"timeout", Value::String(DurationText(wait_for_ip.timeout_seconds))},
                     {"ipv4", Value::Bool(wait_for_ip.ipv4)},
                     {"ipv6", Value::Bool(wait_for_ip.ipv6)}});
  out["timeouts"] = Value::Object(
      attrs.at("timeouts"), {{"create", Value::String(DurationText(timeouts.create_seconds))},
                             {"update", Value::String(DurationText(timeouts.update_seconds))},
                             {"delete", Value::String(DurationText(timeouts.delete_seconds))}});
  return Value::Object(type, std::move(out));
}

std::vector<std::string> NodeModel::WrittenBlocks() const {
  std::vector<std::string> out;
  if (cpu) out.emplace_back("cpu");
  if (disk) out.emplace_back("disk");
  return out;
}

bool CloudInitDiffers(const NodeModel& a, const NodeModel& b) {
  return a.ip != b.ip || a.ssh_public_keys != b.ssh_public_keys || a.ssh_user != b.ssh_user ||
         a.nameservers != b.nameservers || a.search_domain != b.search_domain;
}

}  // namespace pvek8s::resources::node
