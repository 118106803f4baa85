// Unit tests of proxmox_k8s_node's pieces that need no server: the model,
// the VM configuration both ways, placement, markers and resume decisions.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "provider/framework/schema.h"
#include "provider/pve/vm_config.h"
#include "provider/resources/k8s_node/marker.h"
#include "provider/resources/k8s_node/node_config.h"
#include "provider/resources/k8s_node/node_model.h"
#include "provider/resources/k8s_node/node_schema.h"
#include "provider/resources/k8s_node/placement.h"
#include "provider/resources/k8s_node/private_data.h"
#include "provider/resources/k8s_node/recovery.h"

namespace pvek8s::resources::node {
namespace {

using nlohmann::json;
using tftypes::Type;
using tftypes::Value;

Type NodeType() { return framework::ImpliedType(NodeSchema().block); }

NodeModel LabNode() {
  NodeModel m;
  m.name = "k8spps1";
  m.template_name = "ubuntu-2204";
  m.target_node = "pve1";
  m.vmid = 171;
  m.description = "control plane";
  m.role = "control-plane";
  m.memory_mib = 8192;
  m.nameservers = std::vector<std::string>{"192.168.100.1", "1.1.1.1"};
  m.search_domain = "lab.example";
  m.ssh_user = "ubuntu";
  m.ssh_public_keys = std::vector<std::string>{"ssh-ed25519 AAAA one", "ssh-rsa BBBB two"};
  m.tags = {"k8s", "lab"};
  m.cpu = Cpu{8, 1, "host"};
  m.disk = Disk{"20G", "local-lvm", true};
  m.networks = {Network{"vmbr0", "virtio", std::nullopt, std::nullopt},
                Network{"vmbr1", "virtio", 20, 9000}};
  m.ip = Ip{"192.168.100.171/24", "192.168.100.1"};
  m.wait_for_ip.timeout_seconds = 120;
  m.timeouts.create_seconds = 900;
  return m;
}

// What a fresh clone of the template looks like: one NIC with its MAC, the
// template's disk, a cloud-init drive.
json CloneConfig() {
  return {{"name", "k8spps1"},
          {"description", "from the template"},
          {"net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1"},
          {"scsi0", "local-lvm:vm-171-disk-0,size=10G"},
          {"ide2", "local-lvm:vm-171-cloudinit,media=cdrom"},
          {"memory", "2048"}};
}

// Stores a PUT .../config the way Proxmox does: keys set, `delete` removed;
// a NIC without a MAC gets one.
void Apply(json& conf, const pve::Params& params) {
  for (const auto& [k, v] : params) {
    if (k == "delete") {
      size_t start = 0;
      while (start <= v.size()) {
        size_t end = v.find(',', start);
        if (end == std::string::npos) end = v.size();
        conf.erase(v.substr(start, end - start));
        start = end + 1;
      }
      continue;
    }
    std::string value = v;
    if (k.rfind("net", 0) == 0 && value.find('=') > value.find(',')) {
      auto dev = pve::ParseNet(value);
      REQUIRE(dev.ok());
      dev->mac = "BC:24:11:00:00:0" + k.substr(3);
      value = pve::FormatNet(*dev);
    }
    conf[k] = value;
  }
}

std::map<std::string, std::string> ToMap(const pve::Params& p) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : p) out[k] = v;
  return out;
}

TEST_CASE("the model round-trips through the Terraform value, defaults in one place") {
  NodeModel m = LabNode();
  CHECK(NodeModel::FromValue(m.ToValue(NodeType())) == m);
  NodeModel empty;
  CHECK(empty.memory_mib == 2048);
  CHECK(empty.full_clone);
  CHECK(empty.role == "worker");
  CHECK(empty.on_cloudinit_change == "reboot");
  // A null object reads as every default.
  CHECK(NodeModel::FromValue(Value::Null(NodeType())) == NodeModel());
  // The schema plans the same defaults the model assumes.
  const auto& attrs = NodeSchema().block.attributes;
  for (const auto& a : attrs) {
    if (a.name == "memory") CHECK(a.default_value->AsInt64() == kDefaultMemoryMib);
    if (a.name == "full_clone") CHECK(a.default_value->AsBool() == kDefaultFullClone);
  }
}

TEST_CASE("a new VM gets every setting in one write; the clone's MAC is kept") {
  NodeModel m = LabNode();
  json conf = CloneConfig();
  OwnerMarker marker{"abc", m.template_name, m.role, true};
  std::string desc = DescriptionWithMarker(m.description, marker);
  auto patch = ConfigPatch(std::nullopt, m, pve::DecodeVmConfig(conf), desc);
  auto p = ToMap(pve::EncodeVmConfigPatch(patch));
  CHECK(p.at("name") == "k8spps1");
  CHECK(p.at("cores") == "8");
  CHECK(p.at("cpu") == "host");
  CHECK(p.at("memory") == "8192");
  CHECK(p.at("agent") == "1");
  CHECK(p.at("onboot") == "1");
  CHECK(p.at("tags") == "k8s;lab");
  CHECK(p.at("net0") == "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1");
  CHECK(p.at("net1").find("tag=20") != std::string::npos);
  CHECK(p.at("ipconfig0") == "ip=192.168.100.171/24,gw=192.168.100.1");
  CHECK(p.at("nameserver") == "192.168.100.1 1.1.1.1");
  CHECK(p.at("sshkeys") == "ssh-ed25519%20AAAA%20one%0Assh-rsa%20BBBB%20two%0A");
  CHECK(p.at("scsi0") == "local-lvm:vm-171-disk-0,size=10G,iothread=1");
  CHECK(p.at("description") == desc);
  CHECK_FALSE(p.contains("delete"));
  CHECK(DiskGrowth(m, pve::DecodeVmConfig(conf)) == std::optional<std::string>("20G"));
}

TEST_CASE("model -> Proxmox config -> state -> model is the identity") {
  NodeModel m = LabNode();
  json conf = CloneConfig();
  OwnerMarker marker{"abc", m.template_name, m.role, true};
  std::string desc = DescriptionWithMarker(m.description, marker);
  Apply(conf,
        pve::EncodeVmConfigPatch(ConfigPatch(std::nullopt, m, pve::DecodeVmConfig(conf), desc)));
  conf["scsi0"] = "local-lvm:vm-171-disk-0,size=20G,iothread=1";  // the resize
  VmView view{.config = pve::DecodeVmConfig(conf)};
  view.marker = ParseMarker(view.config.description, &view.user_description);
  REQUIRE(view.marker.has_value());
  CHECK(view.user_description == "control plane");
  Value prior = m.ToValue(NodeType());
  Value state = StateFromVm(prior, view, /*full=*/false);
  CHECK(NodeModel::FromValue(state) == m);
  CHECK(state.Attr("ipv4_address").AsString() == "192.168.100.171");
  CHECK(state.Attr("mac_addresses").Elements().size() == 2);
  CHECK(state.Attr("mac_addresses").Elements()[0].AsString() == "BC:24:11:00:00:01");

  SUBCASE("nothing changed: nothing to write") {
    auto again = ConfigPatch(m, m, view.config, desc);
    CHECK(pve::EncodeVmConfigPatch(again).empty());
    CHECK_FALSE(DiskGrowth(m, view.config).has_value());
  }
  SUBCASE("an update writes only what changed, and removes what was dropped") {
    NodeModel next = m;
    next.memory_mib = 16384;
    next.networks.pop_back();
    next.search_domain.reset();
    next.tags.clear();
    auto p = pve::EncodeVmConfigPatch(ConfigPatch(m, next, view.config, desc));
    auto map = ToMap(p);
    CHECK(map.size() == 2);
    CHECK(map.at("memory") == "16384");
    CHECK(map.at("delete") == "tags,net1,searchdomain");
    Apply(conf, p);
    VmView after{.config = pve::DecodeVmConfig(conf), .marker = view.marker};
    after.user_description = view.user_description;
    CHECK(NodeModel::FromValue(StateFromVm(next.ToValue(NodeType()), after, false)) == next);
  }
  SUBCASE("a size written differently keeps the user's form") {
    NodeModel other = m;
    other.disk->size = "20480M";
    Value s = StateFromVm(other.ToValue(NodeType()), view, false);
    CHECK(s.Attr("disk").GetString("size") == std::string("20480M"));
  }
  SUBCASE("an import fills the blocks and what only the marker tells") {
    NodeModel bare;
    bare.target_node = "pve1";
    bare.vmid = 171;
    Value imported = bare.ToValue(NodeType())
                         .WithAttr("template", Value::Null(Type::String()))
                         .WithAttr("role", Value::Null(Type::String()));
    Value s = StateFromVm(imported, view, /*full=*/true);
    CHECK(s.GetString("template") == std::string("ubuntu-2204"));
    CHECK(s.GetString("role") == std::string("control-plane"));
    CHECK(s.Attr("cpu").GetInt("cores") == 8);
    CHECK(s.Attr("disk").GetString("storage") == std::string("local-lvm"));
    CHECK(s.Attr("network").Elements().size() == 2);
  }
}

TEST_CASE("placement: most free memory, then fewest VMs, then name; candidates and templates") {
  std::vector<TemplateRef> tmpl{{"pve1", 9000, "t"}, {"pve2", 9001, "t"}, {"pve3", 9002, "t"}};
  std::vector<PlacementNode> nodes{{"pve1", true, 8 << 20, 3},
                                   {"pve2", true, 16 << 20, 5},
                                   {"pve3", true, 16 << 20, 4},
                                   {"pve4", true, 64 << 20, 0}};
  CHECK(ChooseNode(nodes, tmpl, {}) == "pve3");  // pve4 has no template
  CHECK(ChooseNode(nodes, tmpl, {"pve1", "pve2"}) == "pve2");
  nodes[2].online = false;
  CHECK(ChooseNode(nodes, tmpl, {}) == "pve2");
  nodes[1].vms = 4;
  nodes[0].free_bytes = 16 << 20;
  nodes[0].vms = 4;
  CHECK(ChooseNode(nodes, tmpl, {}) == "pve1");  // a tie goes to the name
  CHECK(ChooseNode(nodes, tmpl, {"pve4"}).empty());
  // Overcommit: less free memory than any VM needs still places.
  for (auto& n : nodes) n.free_bytes = -1;
  CHECK_FALSE(ChooseNode(nodes, tmpl, {}).empty());
}

TEST_CASE("the clone queue admits two per key and the ledger one holder per id") {
  KeyedQueue q(2);
  q.Acquire("a");
  q.Acquire("a");
  q.Acquire("b");  // another key is not held up
  q.Release("a");
  q.Acquire("a");
  q.Release("a");
  q.Release("a");
  q.Release("b");
  IdLedger ledger;
  CHECK(ledger.Claim(500));
  CHECK_FALSE(ledger.Claim(500));
  CHECK(ledger.Held(500));
  ledger.Release(500);
  CHECK_FALSE(ledger.Held(500));
}

TEST_CASE("markers round-trip; user text is kept apart") {
  OwnerMarker m{"0123abcd", "ubuntu-2204", "worker", false, true, "feedbeef"};
  std::string desc = DescriptionWithMarker("my notes\nline 2", m);
  std::string user;
  auto back = ParseMarker(desc, &user);
  REQUIRE(back.has_value());
  CHECK(user == "my notes\nline 2");
  CHECK(back->owner == "0123abcd");
  CHECK_FALSE(back->full_clone);
  CHECK(back->pending);
  CHECK(back->origin == "feedbeef");
  CHECK_FALSE(back->blocks.has_value());  // written before 0.2.0
  m.blocks = std::vector<std::string>{"cpu", "disk"};
  back = ParseMarker(FormatMarker(m), &user);
  REQUIRE(back.has_value());
  CHECK(*back->blocks == std::vector<std::string>{"cpu", "disk"});
  CHECK(back->origin == "feedbeef");
  m.blocks = std::vector<std::string>{};
  m.target_nodes = {"pve1", "pve3"};
  back = ParseMarker(FormatMarker(m), &user);
  REQUIRE(back.has_value());
  CHECK(back->blocks == std::optional<std::vector<std::string>>(std::vector<std::string>{}));
  CHECK(back->target_nodes == std::vector<std::string>{"pve1", "pve3"});
  CHECK_FALSE(ParseMarker("notes [pvek8s] owner=x", &user).has_value());  // not on its own line
  CHECK_FALSE(ParseMarker("[pvek8s] template=t", &user).has_value());     // no owner
  CHECK(CreateOrigin("a") == CreateOrigin("a"));
  CHECK(CreateOrigin("a") != CreateOrigin("b"));
}

TEST_CASE("an import fills the optional blocks the creating configuration wrote") {
  auto imported = [](const NodeModel& m, const OwnerMarker& marker) {
    json conf = CloneConfig();
    std::string desc = DescriptionWithMarker(m.description, marker);
    Apply(conf,
          pve::EncodeVmConfigPatch(ConfigPatch(std::nullopt, m, pve::DecodeVmConfig(conf), desc)));
    VmView view{.config = pve::DecodeVmConfig(conf)};
    view.marker = ParseMarker(view.config.description, &view.user_description);
    NodeModel bare;  // what ImportState leaves: no blocks
    return StateFromVm(bare.ToValue(NodeType()), view, /*full=*/true);
  };
  NodeModel m = LabNode();
  OwnerMarker marker{"abc", m.template_name, m.role, true};
  marker.blocks = m.WrittenBlocks();
  CHECK(*marker.blocks == std::vector<std::string>{"cpu", "disk"});
  Value state = imported(m, marker);
  CHECK(state.Attr("cpu").GetInt("cores") == 8);
  CHECK(state.Attr("target_nodes").IsNull());  // the lab node sets target_node
  m.target_nodes = {"pve1", "pve2"};
  marker.target_nodes = m.target_nodes;
  CHECK(NodeModel::FromValue(imported(m, marker)).target_nodes == m.target_nodes);
  CHECK(state.Attr("disk").GetString("size") == "10G");
  m.cpu.reset();
  m.disk.reset();
  marker.blocks = m.WrittenBlocks();
  state = imported(m, marker);
  CHECK(state.Attr("cpu").IsNull());
  CHECK(state.Attr("disk").IsNull());
  marker.blocks.reset();  // a 0.1.0 marker does not say: every block is filled
  state = imported(m, marker);
  CHECK(state.Attr("cpu").HasValue());
  CHECK(state.Attr("disk").HasValue());
}

TEST_CASE("crash recovery resumes only a pending VM of the same origin that fits the plan") {
  OwnerMarker want{"", "ubuntu-2204", "worker", true, true, "origin1"};
  OwnerMarker found{"owner9", "ubuntu-2204", "worker", true, true, "origin1"};
  NamedVm vm{"pve2", 120, false};
  CHECK(FitsResume(found, want, vm, {}));
  CHECK(FitsResume(found, want, vm, {120, "pve2"}));
  CHECK_FALSE(FitsResume(found, want, vm, {121, std::nullopt}));
  CHECK_FALSE(FitsResume(found, want, vm, {std::nullopt, "pve1"}));
  OwnerMarker other = found;
  other.origin = "origin2";  // another checkout's VM
  CHECK_FALSE(FitsResume(other, want, vm, {}));
  other = found;
  other.pending = false;  // a finished create belongs to some state
  CHECK_FALSE(FitsResume(other, want, vm, {}));
  other = found;
  other.template_name = "ubuntu-2404";  // made for an older configuration
  CHECK_FALSE(FitsResume(other, want, vm, {}));
}

TEST_CASE("private data round-trips and tells boots apart") {
  PrivateData p;
  p.owner = "abc";
  p.imported = true;
  p.ip_boot = BootId::Of(pve::VmStatus{.status = "running", .pid = 4242, .uptime = 100});
  PrivateData back = PrivateData::Parse(p.Dump());
  CHECK(back.owner == "abc");
  CHECK(back.imported);
  CHECK(back.ip_boot.Same(p.ip_boot));
  CHECK_FALSE(back.ip_boot.Same(BootId::Of(pve::VmStatus{.pid = 4243, .uptime = 100})));
  CHECK_FALSE(BootId().Same(BootId()));
  CHECK(PrivateData::Parse("not json").owner.empty());
}

}  // namespace
}  // namespace pvek8s::resources::node
