#include "provider/resources/k8s_node/node_config.h"

#include <algorithm>
#include <map>

#include "provider/resources/k8s_node/text.h"

namespace pvek8s::resources::node {
namespace {

using tftypes::Type;
using tftypes::Value;

Value Strings(const std::vector<std::string>& v) {
  std::vector<Value> elems;
  elems.reserve(v.size());
  for (const auto& s : v) elems.push_back(Value::String(s));
  return Value::List(Type::String(), std::move(elems));
}

Value StringOrNull(const std::optional<std::string>& s) {
  return s ? Value::String(*s) : Value::Null(Type::String());
}

// Sets a field when it changed: to the plan's value, or (on an existing VM)
// removed when the plan has none.
template <typename T, typename U>
void Optional(bool differs, bool existing, const std::optional<T>& want, std::optional<U>& set,
              bool& remove) {
  if (!differs) return;
  if (want) {
    set = *want;
  } else if (existing) {
    remove = true;
  }
}

void PatchNetworks(const std::optional<NodeModel>& prior, const NodeModel& plan,
                   const pve::VmConfig& current, pve::VmConfigPatch& p) {
  size_t n_new = plan.networks.size();
  size_t n_old = prior ? prior->networks.size() : 0;
  for (size_t i = 0; i < n_new; ++i) {
    const Network& n = plan.networks[i];
    if (prior && i < n_old && prior->networks[i] == n) continue;
    pve::NetDevice dev{.model = n.model, .bridge = n.bridge};
    auto old = current.nets.find(static_cast<int>(i));
    if (old != current.nets.end() && old->second && old->second->model == dev.model) {
      dev.mac = old->second->mac;
      dev.firewall = old->second->firewall;
    }
    dev.vlan = n.vlan;
    dev.mtu = n.mtu;
    p.nets[static_cast<int>(i)] = dev;
  }
  for (size_t i = n_new; i < std::max(n_old, n_new); ++i) {
    p.remove.nets.push_back(static_cast<int>(i));
  }
}

}  // namespace

pve::VmConfigPatch ConfigPatch(const std::optional<NodeModel>& prior, const NodeModel& plan,
                               const pve::VmConfig& current, const std::string& description) {
  pve::VmConfigPatch p;
  bool existing = prior.has_value();
  auto differs = [&](auto field) { return !prior || (*prior).*field != plan.*field; };
  if (differs(&NodeModel::name)) p.name = plan.name;
  if (current.description != description) p.description = description;
  if (plan.cpu && differs(&NodeModel::cpu)) {
    p.cores = plan.cpu->cores;
    p.sockets = plan.cpu->sockets;
    p.cpu_type = plan.cpu->type;
  }
  if (differs(&NodeModel::memory_mib)) p.memory_mib = plan.memory_mib;
  if (differs(&NodeModel::on_boot)) p.onboot = plan.on_boot;
  if (!existing) p.agent = true;
  if (differs(&NodeModel::tags)) {
    if (!plan.tags.empty()) {
      p.tags = Join(plan.tags, ";");
    } else if (existing) {
      p.remove.tags = true;
    }
  }
  PatchNetworks(prior, plan, current, p);
  if (differs(&NodeModel::ip)) {
    std::optional<pve::IpConfig> ip;
    if (plan.ip) ip = pve::IpConfig{plan.ip->address, plan.ip->gateway};
    Optional(true, existing, ip, p.ipconfig0, p.remove.ipconfig0);
  }
  std::optional<std::string> ns;
  if (plan.nameservers) ns = Join(*plan.nameservers, " ");
  Optional(differs(&NodeModel::nameservers), existing, ns, p.nameserver, p.remove.nameserver);
  Optional(differs(&NodeModel::search_domain), existing, plan.search_domain, p.searchdomain,
           p.remove.searchdomain);
  Optional(differs(&NodeModel::ssh_user), existing, plan.ssh_user, p.ciuser, p.remove.ciuser);
  Optional(differs(&NodeModel::ssh_public_keys), existing, plan.ssh_public_keys, p.sshkeys,
           p.remove.sshkeys);
  if (plan.disk && current.boot_disk && plan.disk->iothread != current.boot_disk->IoThread()) {
    pve::BootDisk disk = *current.boot_disk;
    if (plan.disk->iothread) {
      disk.props.Set("iothread", "1");
    } else {
      disk.props.Remove("iothread");
    }
    p.boot_disk = disk;
  }
  return p;
}

std::optional<std::string> DiskGrowth(const NodeModel& plan, const pve::VmConfig& current) {
  if (!plan.disk || !current.boot_disk) return std::nullopt;
  auto have = pve::ParseSize(current.boot_disk->Size());
  auto want = pve::ParseSize(plan.disk->size);
  if (want.ok() && (!have.ok() || *want > *have)) return plan.disk->size;
  return std::nullopt;
}

Value MacAddresses(const pve::VmConfig& config, size_t count) {
  std::vector<std::string> macs;
  for (size_t i = 0; i < count; ++i) {
    auto it = config.nets.find(static_cast<int>(i));
    macs.push_back(it != config.nets.end() && it->second ? it->second->mac : "");
  }
  return Strings(macs);
}

namespace {

Value CpuState(const Type& t, const pve::VmConfig& c) {
  return Value::Object(t, {{"cores", Value::Int(c.cores)},
                           {"sockets", Value::Int(c.sockets)},
                           {"type", Value::String(c.cpu_type)}});
}

Value DiskState(const Type& t, const Value& prior_disk, const pve::BootDisk& d) {
  std::string size = d.Size();
  auto have = pve::ParseSize(size);
  auto was = pve::ParseSize(prior_disk.GetString("size").value_or(""));
  // Same size written differently ("20480M"): keep the user's form.
  if (have.ok() && was.ok() && *have == *was) size = *prior_disk.GetString("size");
  return Value::Object(t, {{"size", Value::String(size)},
                           {"storage", Value::String(d.Storage())},
                           {"iothread", Value::Bool(d.IoThread())}});
}

Value NetworksState(const Type& nt, const Value& prior, const pve::VmConfig& c, bool full) {
  std::vector<Value> nets;
  size_t prior_count =
      prior.Attr("network").HasValue() ? prior.Attr("network").Elements().size() : 0;
  for (int i = 0; i < 32; ++i) {
    auto it = c.nets.find(i);
    if (it == c.nets.end()) {
      if (static_cast<size_t>(i) >= prior_count) break;
      continue;
    }
    if (!full && static_cast<size_t>(i) >= prior_count) break;
    if (!it->second) continue;
    const pve::NetDevice& dev = *it->second;
    auto opt_int = [](std::optional<int64_t> v) {
      return v ? Value::Int(*v) : Value::Null(Type::Number());
    };
    nets.push_back(Value::Object(nt, {{"bridge", Value::String(dev.bridge)},
                                      {"model", Value::String(dev.model)},
                                      {"vlan", opt_int(dev.vlan)},
                                      {"mtu", opt_int(dev.mtu)}}));
  }
  return Value::List(nt, std::move(nets));
}

// Values an import cannot read from the config: from our marker, else the
// schema's defaults.
std::map<std::string, Value> ImportedAttrs(const Value& s, const Type& type,
                                           const std::optional<OwnerMarker>& marker) {
  std::map<std::string, Value> out;
  if (marker) {
    out["template"] = Value::String(marker->template_name);
    out["role"] = Value::String(marker->role);
    out["full_clone"] = Value::Bool(marker->full_clone);
    if (!marker->target_nodes.empty()) {
      std::vector<Value> nodes;
      for (const auto& n : marker->target_nodes) nodes.push_back(Value::String(n));
      out["target_nodes"] = Value::List(Type::String(), std::move(nodes));
    }
  }
  for (const auto& [attr, def] : std::vector<std::pair<const char*, Value>>{
           {"role", Value::String(kDefaultRole)},
           {"full_clone", Value::Bool(kDefaultFullClone)},
           {"on_cloudinit_change", Value::String(kDefaultCloudInitPolicy)}}) {
    if (!out.contains(attr) && s.Attr(attr).IsNull()) out[attr] = def;
  }
  out["wait_for_ip"] = Value::Null(type.attributes().at("wait_for_ip"));
  return out;
}

}  // namespace

Value StateFromVm(const Value& prior, const VmView& vm, bool full) {
  const Type& type = prior.type();
  const pve::VmConfig& c = vm.config;
  std::map<std::string, Value> attrs = prior.Entries();
  // An import fills the blocks the marker says the creating configuration
  // wrote (all when it does not say), so that configuration plans no change.
  auto blocks = [&](const char* b) {
    if (!full) return prior.Attr(b).HasValue();
    if (!vm.marker || !vm.marker->blocks) return true;
    const auto& written = *vm.marker->blocks;
    return std::find(written.begin(), written.end(), b) != written.end();
  };
  attrs["name"] = Value::String(c.name);
  attrs["description"] = vm.user_description.empty() && prior.Attr("description").IsNull()
                             ? Value::Null(Type::String())
                             : Value::String(vm.user_description);
  attrs["memory"] = Value::Int(c.memory_mib);
  attrs["on_boot"] = Value::Bool(c.onboot);
  if (vm.status) attrs["started"] = Value::Bool(vm.status->Running());
  if (blocks("cpu")) attrs["cpu"] = CpuState(type.attributes().at("cpu"), c);
  if (blocks("disk") && c.boot_disk) {
    attrs["disk"] = DiskState(type.attributes().at("disk"), prior.Attr("disk"), *c.boot_disk);
  }
  Value nets = NetworksState(type.attributes().at("network").element(), prior, c, full);
  attrs["mac_addresses"] = MacAddresses(c, nets.Elements().size());
  attrs["network"] = std::move(nets);
  const Type& it = type.attributes().at("ip");
  attrs["ip"] = Value::Null(it);
  if (c.ipconfig0) {
    attrs["ip"] = Value::Object(it, {{"address", Value::String(c.ipconfig0->ip)},
                                     {"gateway", StringOrNull(c.ipconfig0->gateway)}});
    if (c.ipconfig0->ip != "dhcp") {
      std::string host = c.ipconfig0->ip.substr(0, c.ipconfig0->ip.find('/'));
      attrs["ipv4_address"] = Value::String(host);
      attrs["ssh_host"] = Value::String(host);
    }
  }
  attrs["nameservers"] =
      c.nameserver ? Strings(Split(*c.nameserver, " ,;")) : Value::Null(Type::List(Type::String()));
  attrs["search_domain"] = StringOrNull(c.searchdomain);
  attrs["ssh_user"] = StringOrNull(c.ciuser);
  attrs["ssh_public_keys"] =
      c.sshkeys ? Strings(Split(*c.sshkeys, "\n")) : Value::Null(Type::List(Type::String()));
  if (c.tags) {
    std::vector<Value> elems;
    for (const auto& t : Split(*c.tags, ";, ")) elems.push_back(Value::String(t));
    attrs["tags"] = Value::Set(Type::String(), std::move(elems));
  } else {
    attrs["tags"] = Value::Null(Type::Set(Type::String()));
  }
  Value s = Value::Object(type, attrs);
  if (full) {
    for (auto& [k, v] : ImportedAttrs(s, type, vm.marker)) attrs[k] = std::move(v);
    s = Value::Object(type, std::move(attrs));
  }
  return s;
}

}  // namespace pvek8s::resources::node
