#include "acceptance-tests/pvesim/params.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <regex>
#include <unordered_map>

namespace pvek8s::pvesim {
namespace {

ParamDef Str(std::string name) { return ParamDef{.name = std::move(name)}; }
ParamDef Int(std::string name) {
  return ParamDef{.name = std::move(name), .type = ParamType::kInteger};
}
ParamDef Num(std::string name) {
  return ParamDef{.name = std::move(name), .type = ParamType::kNumber};
}
ParamDef Bool(std::string name) {
  return ParamDef{.name = std::move(name), .type = ParamType::kBoolean};
}

ParamDef Node() { return Str("node").Required().Format("pve-node"); }
ParamDef Vmid(std::string name = "vmid") {
  return Int(std::move(name)).Required().Format("pve-vmid").Min(100).Max(999999999);
}
ParamDef LockEnum() {
  return Str("lock").Enum({"backup", "clone", "create", "migrate", "rollback", "snapshot",
                           "snapshot-delete", "suspending", "suspended"});
}

// The VM options shared by create and both config update methods.
std::vector<ParamDef> VmOptions() {
  return {
      Bool("acpi"),
      Str("affinity").Format("pve-cpuset"),
      Bool("allow-ksm").Since(9),
      Str("agent").PropertyString(),
      Str("amd-sev").Format("pve-qemu-sev-fmt"),
      Str("arch").Enum({"x86_64", "aarch64"}),
      Str("args"),
      Str("audio0").PropertyString(),
      Bool("autostart"),
      Int("balloon").Min(0),
      Str("bios").Enum({"seabios", "ovmf"}),
      Str("boot").Format("pve-qm-boot"),
      Str("bootdisk").Format("pve-qm-bootdisk").Pattern(R"((ide|sata|scsi|virtio)\d+)"),
      Str("cdrom").Format("pve-qm-ide"),
      Str("cicustom").Format("pve-qm-cicustom"),
      Str("cipassword"),
      Str("citype").Enum({"configdrive2", "nocloud", "opennebula"}),
      Bool("ciupgrade"),
      Str("ciuser"),
      Int("cores").Min(1),
      Str("cpu").Format("pve-vm-cpu-conf"),
      Num("cpulimit").Min(0).Max(128),
      Int("cpuunits").Min(1).Max(262144),
      Str("description").MaxLength(8192),
      Str("efidisk0").PropertyString(),
      Bool("freeze"),
      Str("hookscript").Format("pve-volume-id"),
      Str("hostpci[n]").Format("pve-qm-hostpci").Indexed(15),
      Str("hotplug").Format("pve-hotplug-features"),
      Str("hugepages").Enum({"any", "2", "1024"}),
      Str("ide[n]").PropertyString().Indexed(3),
      Str("intel-tdx").Format("pve-qemu-tdx-fmt").Since(9),
      Str("ipconfig[n]").Format("pve-qm-ipconfig").Indexed(31),
      Str("ivshmem").PropertyString(),
      Bool("keephugepages"),
      Str("keyboard").Enum({"de",    "de-ch", "da", "en-gb", "en-us", "es", "fi", "fr", "fr-be",
                            "fr-ca", "fr-ch", "hu", "is",    "it",    "ja", "lt", "mk", "nl",
                            "no",    "pl",    "pt", "pt-br", "sv",    "sl", "tr"}),
      Bool("kvm"),
      Bool("localtime"),
      LockEnum(),
      Str("machine").PropertyString(),
      Str("memory").PropertyString(),
      Num("migrate_downtime").Min(0),
      Int("migrate_speed").Min(0),
      Str("name").Format("dns-name"),
      Str("nameserver").Format("address-list"),
      Str("net[n]").PropertyString().Indexed(31),
      Bool("numa"),
      Str("numa[n]").PropertyString().Indexed(7),
      Bool("onboot"),
      Str("ostype").Enum({"other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10",
                          "win11", "l24", "l26", "solaris"}),
      Str("parallel[n]").Pattern(R"(/dev/parport\d+|/dev/usb/lp\d+)").Indexed(2),
      Bool("protection"),
      Bool("reboot"),
      Str("rng0").Format("pve-qm-rng"),
      Str("sata[n]").PropertyString().Indexed(5),
      Str("scsi[n]").PropertyString().Indexed(30),
      Str("scsihw").Enum(
          {"lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas", "pvscsi"}),
      Str("searchdomain"),
      Str("serial[n]").Pattern(R"((/dev/.+|socket))").Indexed(3),
      Int("shares").Min(0).Max(50000),
      Str("smbios1").Format("pve-qm-smbios1").MaxLength(512),
      Int("smp").Min(1),
      Int("sockets").Min(1),
      Str("spice_enhancements").PropertyString(),
      Str("sshkeys").Format("urlencoded"),
      Str("startdate").Pattern(R"((now|\d{4}-\d{1,2}-\d{1,2}(T\d{1,2}:\d{1,2}:\d{1,2})?))"),
      Str("startup").Format("pve-startup-order"),
      Bool("tablet"),
      Str("tags").Format("pve-tag-list"),
      Bool("tdf"),
      Bool("template"),
      Str("tpmstate0").PropertyString(),
      Str("unused[n]").PropertyString().Indexed(255),
      Str("usb[n]").PropertyString().Indexed(13),
      Int("vcpus").Min(1),
      Str("vga").PropertyString(),
      Str("virtio[n]").PropertyString().Indexed(15),
      Str("virtiofs[n]").PropertyString().Indexed(9),
      Str("vmgenid").Pattern(R"((?:[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}|[01]))"),
      Str("vmstatestorage").Format("pve-storage-id"),
      Str("watchdog").Format("pve-qm-watchdog"),
  };
}

std::vector<ParamDef> Concat(std::vector<ParamDef> a, const std::vector<ParamDef>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<MethodDef> BuildTable() {
  const std::string q = "/nodes/{node}/qemu/{vmid}";
  std::vector<std::string> disks;
  for (int i = 0; i <= 3; ++i) disks.push_back("ide" + std::to_string(i));
  for (int i = 0; i <= 30; ++i) disks.push_back("scsi" + std::to_string(i));
  for (int i = 0; i <= 15; ++i) disks.push_back("virtio" + std::to_string(i));
  for (int i = 0; i <= 5; ++i) disks.push_back("sata" + std::to_string(i));
  disks.emplace_back("efidisk0");
  disks.emplace_back("tpmstate0");

  std::vector<ParamDef> config_update =
      Concat({Node(), Vmid(), Str("delete").Format("pve-configid-list"),
              Str("digest").MaxLength(40), Bool("force").Requires("delete"),
              Str("revert").Format("pve-configid-list"), Bool("skiplock")},
             VmOptions());
  std::vector<ParamDef> config_post = config_update;
  config_post.push_back(Int("background_delay").Min(1).Max(30));
  config_post.push_back(Str("import-working-storage").Format("pve-storage-id"));

  std::vector<ParamDef> create = Concat(
      {Node(), Vmid(), Str("archive").MaxLength(255), Int("bwlimit").Min(0),
       Bool("force").Requires("archive"), Bool("live-restore"), Str("pool").Format("pve-poolid"),
       Bool("start"), Str("storage").Format("pve-storage-id"), Bool("unique").Requires("archive"),
       Str("import-working-storage").Format("pve-storage-id")},
      VmOptions());

  std::vector<ParamDef> pool_update = {Bool("allow-move"),
                                       Str("comment"),
                                       Bool("delete"),
                                       Str("poolid").Required().Format("pve-poolid"),
                                       Str("storage").Format("pve-storage-id-list"),
                                       Str("vms").Format("pve-vmid-list")};

  return {
      {"GET", "/version", {}},
      {"GET", "/nodes", {}},
      {"GET", "/nodes/{node}", {Node()}},
      {"GET", "/nodes/{node}/status", {Node()}},
      {"GET", "/cluster/resources", {Str("type").Enum({"vm", "storage", "node", "sdn"})}},
      {"GET", "/cluster/nextid", {Int("vmid").Format("pve-vmid").Min(100).Max(999999999)}},
      {"GET",
       "/cluster/ha/resources/{sid}",
       {Str("sid").Required().Format("pve-ha-resource-or-vm-id")}},
      {"GET", "/access/domains", {}},
      {"GET", "/access/permissions", {Str("path"), Str("userid")}},
      {"GET", "/access/ticket", {}},
      {"POST",
       "/access/ticket",
       {Bool("new-format"), Str("otp"), Str("password").Required(),
        Str("path").MaxLength(64).Requires("privs"),
        Str("privs").Format("pve-priv-list").MaxLength(64).Requires("path"),
        Str("realm").Format("pve-realm").MaxLength(32), Str("tfa-challenge"),
        Str("username").Required().MaxLength(64)},
       false},
      {"GET", "/nodes/{node}/qemu", {Node(), Bool("full")}},
      {"POST", "/nodes/{node}/qemu", create},
      {"GET", q, {Node(), Vmid()}},
      {"DELETE",
       q,
       {Node(), Vmid(), Bool("destroy-unreferenced-disks"), Bool("purge"), Bool("skiplock")}},
      {"GET",
       q + "/config",
       {Node(), Vmid(), Bool("current"), Str("snapshot").Format("pve-configid").MaxLength(40)}},
      {"PUT", q + "/config", config_update},
      {"POST", q + "/config", config_post},
      {"GET", q + "/pending", {Node(), Vmid()}},
      {"GET", q + "/cloudinit", {Node(), Vmid()}},
      {"PUT", q + "/cloudinit", {Node(), Vmid()}},
      {"POST",
       q + "/clone",
       {Node(), Vmid(), Int("bwlimit").Min(0), Str("description"),
        Str("format").Enum({"raw", "qcow2", "vmdk"}), Bool("full"), Str("name").Format("dns-name"),
        Vmid("newid"), Str("pool").Format("pve-poolid"),
        Str("snapname").Format("pve-configid").MaxLength(40),
        Str("storage").Format("pve-storage-id"), Str("target").Format("pve-node")}},
      {"PUT",
       q + "/resize",
       {Node(), Vmid(), Str("digest").MaxLength(40), Str("disk").Required().Enum(disks),
        Str("size").Required().Pattern(R"(\+?\d+(\.\d+)?[KMGT]?)"), Bool("skiplock")}},
      {"POST", q + "/template", {Node(), Vmid(), Str("disk").Enum(disks)}},
      // migrate: params_moves.cc (its parameters depend on the PVE version).
      {"GET", q + "/status", {Node(), Vmid()}},
      {"GET", q + "/status/current", {Node(), Vmid()}},
      {"POST",
       q + "/status/start",
       {Node(), Vmid(), Str("force-cpu"), Str("machine").PropertyString(),
        Str("migratedfrom").Format("pve-node"), Str("migration_network").Format("CIDR"),
        Str("migration_type").Enum({"secure", "insecure"}),
        Str("nets-host-mtu").Pattern(R"(net\d+=\d+(,net\d+=\d+)*)").Since(9), Bool("skiplock"),
        Str("stateuri").MaxLength(128), Str("targetstorage").Format("storage-pair-list"),
        Int("timeout").Min(0), Bool("with-conntrack-state").Since(9)}},
      {"POST",
       q + "/status/stop",
       {Node(), Vmid(), Bool("keepActive"), Str("migratedfrom").Format("pve-node"),
        Bool("overrule-shutdown"), Bool("skiplock"), Int("timeout").Min(0)}},
      {"POST",
       q + "/status/shutdown",
       {Node(), Vmid(), Bool("forceStop"), Bool("keepActive"), Bool("skiplock"),
        Int("timeout").Min(0)}},
      {"POST", q + "/status/reboot", {Node(), Vmid(), Int("timeout").Min(0)}},
      {"GET", q + "/agent", {Node(), Vmid()}},
      {"POST", q + "/agent/ping", {Node(), Vmid()}},
      {"GET", q + "/agent/network-get-interfaces", {Node(), Vmid()}},
      // The schema has node optional here (a cluster-wide job runs per node).
      {"POST",
       "/nodes/{node}/vzdump",
       {Str("node").Format("pve-node"), Bool("all"), Int("bwlimit").Min(0),
        Str("compress").Enum({"0", "1", "gzip", "lzo", "zstd"}), Str("dumpdir"),
        Str("exclude").Format("pve-vmid-list"), Str("job-id").Pattern(R"(\S+)").MaxLength(50),
        Int("lockwait").Min(0), Str("mode").Enum({"snapshot", "suspend", "stop"}),
        Str("notes-template").MaxLength(1024), Str("pool"), Bool("protected"), Bool("quiet"),
        Bool("remove"), Str("script"), Str("storage").Format("pve-storage-id"), Str("tmpdir"),
        Str("vmid").Format("pve-vmid-list")}},
      {"GET",
       "/nodes/{node}/tasks",
       {Node(), Bool("errors"), Int("limit").Min(0), Int("since"),
        Str("source").Enum({"archive", "active", "all"}), Int("start").Min(0),
        Str("statusfilter").Format("pve-task-status-type-list"), Str("typefilter"), Int("until"),
        Str("userfilter"), Int("vmid").Format("pve-vmid").Min(100).Max(999999999)}},
      {"GET", "/nodes/{node}/tasks/{upid}", {Node(), Str("upid").Required()}},
      {"DELETE", "/nodes/{node}/tasks/{upid}", {Node(), Str("upid").Required()}},
      {"GET", "/nodes/{node}/tasks/{upid}/status", {Node(), Str("upid").Required()}},
      {"GET",
       "/nodes/{node}/tasks/{upid}/log",
       {Node(), Bool("download"), Int("limit").Min(0), Int("start").Min(0),
        Str("upid").Required()}},
      {"GET",
       "/nodes/{node}/storage",
       {Node(), Str("content").Format("pve-storage-content-list"), Bool("enabled"), Bool("format"),
        Str("storage").Format("pve-storage-id"), Str("target").Format("pve-node")}},
      {"GET",
       "/nodes/{node}/storage/{storage}/status",
       {Node(), Str("storage").Required().Format("pve-storage-id")}},
      {"GET",
       "/nodes/{node}/storage/{storage}/content",
       {Node(), Str("content").Format("pve-storage-content"),
        Str("storage").Required().Format("pve-storage-id"),
        Int("vmid").Format("pve-vmid").Min(100).Max(999999999)}},
      {"GET",
       "/pools",
       {Str("poolid").Format("pve-poolid"),
        Str("type").Enum({"qemu", "lxc", "storage"}).Requires("poolid")}},
      {"POST", "/pools", {Str("comment"), Str("poolid").Required().Format("pve-poolid")}},
      {"PUT", "/pools", pool_update},
      {"DELETE", "/pools", {Str("poolid").Required().Format("pve-poolid")}},
      {"GET",
       "/pools/{poolid}",
       {Str("poolid").Required().Format("pve-poolid"),
        Str("type").Enum({"qemu", "lxc", "storage"})}},
      {"PUT", "/pools/{poolid}", pool_update},
      {"DELETE", "/pools/{poolid}", {Str("poolid").Required().Format("pve-poolid")}},
  };
}

constexpr size_t kMaxRegexInput = 4096;

bool MatchAnchored(const std::string& pattern, std::string_view value, bool icase = false) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::regex> cache;
  const std::regex* re = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    std::string key = (icase ? "i:" : "c:") + pattern;
    auto it = cache.find(key);
    if (it == cache.end()) {
      auto flags = std::regex::ECMAScript | std::regex::optimize;
      if (icase) flags |= std::regex::icase;
      it = cache.emplace(key, std::regex("^(?:" + pattern + ")$", flags)).first;
    }
    re = &it->second;
  }
  // libstdc++'s regex recurses per character; identifiers and numbers are
  // short, so longer values simply do not match instead of risking the stack.
  if (value.size() > kMaxRegexInput) return false;
  return std::regex_match(value.begin(), value.end(), *re);
}

bool IsInteger(std::string_view v) { return MatchAnchored(R"([+-]?\d+)", v); }
bool IsNumber(std::string_view v) {
  return MatchAnchored(R"([+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?)", v);
}

const char* kIpv4 = R"(((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))";
const char* kIpv6 = R"([0-9a-fA-F:]*:[0-9a-fA-F:.]*)";
const char* kDnsName =
    R"((([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)\.)*([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?))";

bool IsCidrV4(std::string_view v) {
  size_t slash = v.find('/');
  if (slash == std::string_view::npos || !MatchAnchored(kIpv4, v.substr(0, slash))) return false;
  std::string_view bits = v.substr(slash + 1);
  int b = 0;
  auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), b);
  return ec == std::errc() && p == bits.data() + bits.size() && b > 7 && b <= 32;
}
bool IsCidrV6(std::string_view v) {
  size_t slash = v.find('/');
  if (slash == std::string_view::npos || !MatchAnchored(kIpv6, v.substr(0, slash))) return false;
  std::string_view bits = v.substr(slash + 1);
  int b = 0;
  auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), b);
  return ec == std::errc() && p == bits.data() + bits.size() && b > 7 && b <= 128;
}

// pve-qm-ipconfig: "ip=CIDR|dhcp|manual,gw=IPV4,ip6=CIDR|dhcp|auto|manual,gw6=IPV6".
std::string CheckIpconfig(const std::string& s) {
  for (const std::string& part : [&] {
         std::vector<std::string> parts;
         size_t start = 0;
         while (start <= s.size()) {
           size_t c = s.find(',', start);
           if (c == std::string::npos) c = s.size();
           if (c > start) parts.push_back(s.substr(start, c - start));
           start = c + 1;
         }
         return parts;
       }()) {
    size_t eq = part.find('=');
    if (eq == std::string::npos) {
      return "format error\n_root: value without key, but schema does not define a default "
             "key\n";
    }
    std::string k = part.substr(0, eq), val = part.substr(eq + 1);
    if (k == "ip") {
      if (val != "dhcp" && val != "manual" && !IsCidrV4(val)) {
        return "format error\nip: invalid format - value does not look like a valid ipv4 "
               "network configuration\n";
      }
    } else if (k == "gw") {
      if (!MatchAnchored(kIpv4, val)) {
        return "format error\ngw: invalid format - value does not look like a valid IPv4 "
               "address\n";
      }
    } else if (k == "ip6") {
      if (val != "dhcp" && val != "auto" && val != "manual" && !IsCidrV6(val)) {
        return "format error\nip6: invalid format - value does not look like a valid ipv6 "
               "network configuration\n";
      }
    } else if (k == "gw6") {
      if (!MatchAnchored(kIpv6, val)) {
        return "format error\ngw6: invalid format - value does not look like a valid IPv6 "
               "address\n";
      }
    } else {
      return "invalid key in comma-separated list property: " + k + "\n";
    }
  }
  return "";
}

// Checks a value against a named format. Returns "" or the message that
// follows "invalid format - ".
std::string CheckNamedFormat(const std::string& format, std::string_view v) {
  if (format.size() > 5 && format.ends_with("-list") && format != "pve-tag-list" &&
      format != "address-list" && format != "storage-pair-list") {
    std::string item = format.substr(0, format.size() - 5);
    for (const std::string& part : SplitList(v)) {
      std::string e = CheckNamedFormat(item, part);
      if (!e.empty()) return e;
    }
    return "";
  }
  std::string s(v);
  if (format == "pve-vmid") {
    return MatchAnchored(R"([1-9][0-9]{2,8})", v) ? "" : "value does not look like a valid VM ID\n";
  }
  if (format == "pve-node") {
    return MatchAnchored(R"([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)", v)
               ? ""
               : "value does not look like a valid node name\n";
  }
  if (format == "dns-name") {
    return MatchAnchored(kDnsName, v) ? "" : "value does not look like a valid DNS name\n";
  }
  if (format == "pve-storage-id") {
    return MatchAnchored(R"([a-z][a-z0-9\-\_\.]*[a-z0-9])", v, true)
               ? ""
               : "storage ID '" + s + "' contains illegal characters\n";
  }
  if (format == "pve-poolid") {
    return MatchAnchored(R"([A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+){0,2})", v)
               ? ""
               : "invalid pool ID '" + s + "'\n";
  }
  if (format == "pve-configid") {
    return MatchAnchored(R"([a-z][a-z0-9_]+)", v, true) ? ""
                                                        : "invalid configuration ID '" + s + "'\n";
  }
  if (format == "urlencoded") {
    // Checked by hand: sshkeys values can be long.
    for (char c : v) {
      bool ok = std::isalnum(static_cast<unsigned char>(c)) ||
                std::string_view("-%_.!~*'()").find(c) != std::string_view::npos;
      if (!ok) return "invalid urlencoded string: " + s + "\n";
    }
    return "";
  }
  if (format == "pve-tag-list") {
    for (const std::string& tag : SplitList(v)) {
      if (!MatchAnchored(R"([a-z0-9_][a-z0-9_\-\+\.]*)", tag, true)) {
        return "invalid characters in tag\n";
      }
    }
    return "";
  }
  if (format == "address-list") {
    for (const std::string& a : SplitList(v)) {
      if (!MatchAnchored(kIpv4, a) && !MatchAnchored(kIpv6, a) && !MatchAnchored(kDnsName, a)) {
        return "value does not look like a valid address: " + a + "\n";
      }
    }
    return "";
  }
  if (format == "pve-realm") {
    return MatchAnchored(R"([A-Za-z][A-Za-z0-9\.\-_]+)", v)
               ? ""
               : "value '" + s + "' does not look like a valid realm\n";
  }
  if (format == "pve-storage-content") {
    static const char* kTypes[] = {"images", "rootdir",  "vztmpl", "iso",
                                   "backup", "snippets", "import"};
    for (const char* t : kTypes) {
      if (v == t) return "";
    }
    return "invalid content type '" + s + "'\n";
  }
  if (format == "pve-qm-ipconfig") return CheckIpconfig(s);
  // Formats whose syntax pvesim does not check (pve-qm-boot, pve-vm-cpu-conf, ...)
  // are accepted as they are; the handlers interpret what they need.
  return "";
}

std::string FormatNumber(double d) {
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  return std::to_string(d);
}

}  // namespace

std::string_view ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kString:
      return "string";
    case ParamType::kInteger:
      return "integer";
    case ParamType::kNumber:
      return "number";
    case ParamType::kBoolean:
      return "boolean";
  }
  return "string";
}

const std::vector<MethodDef>& MethodDefs() {
  static const std::vector<MethodDef>* table = new std::vector<MethodDef>(BuildTable());
  return *table;
}

std::vector<MethodDef> MethodDefsFor(int major) {
  std::vector<MethodDef> out = MethodDefs();
  for (MethodDef& m : out) {
    std::erase_if(m.params, [major](const ParamDef& p) { return p.since_major > major; });
  }
  return out;
}

const MethodDef* FindMethodDef(std::string_view method, std::string_view path) {
  for (const MethodDef& d : MethodDefs()) {
    if (d.method == method && d.path == path) return &d;
  }
  return nullptr;
}

namespace {
const ParamDef* FindIn(const std::vector<ParamDef>& params, std::string_view name) {
  for (const ParamDef& p : params) {
    if (p.max_index < 0) {
      if (p.name == name) return &p;
      continue;
    }
    std::string_view base = std::string_view(p.name).substr(0, p.name.size() - 3);
    if (!name.starts_with(base) || name.size() == base.size()) continue;
    std::string_view digits = name.substr(base.size());
    if (digits.size() > 1 && digits[0] == '0') continue;
    int idx = -1;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), idx);
    if (ec == std::errc() && ptr == digits.data() + digits.size() && idx <= p.max_index) {
      return &p;
    }
  }
  return nullptr;
}
}  // namespace

const ParamDef* FindParam(const MethodDef& def, std::string_view name) {
  return FindIn(def.params, name);
}

const ParamDef* FindVmOption(std::string_view name) {
  static const std::vector<ParamDef>* options = new std::vector<ParamDef>(VmOptions());
  return FindIn(*options, name);
}

std::vector<std::string> SplitList(std::string_view value) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : value) {
    if (c == ',' || c == ';' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string CheckValue(const ParamDef& def, std::string_view value) {
  std::string v(value);
  switch (def.type) {
    case ParamType::kBoolean:
      if (v != "0" && v != "1") return "type check ('boolean') failed - got '" + v + "'";
      break;
    case ParamType::kInteger:
      if (!IsInteger(v)) return "type check ('integer') failed - got '" + v + "'";
      break;
    case ParamType::kNumber:
      if (!IsNumber(v)) return "type check ('number') failed - got '" + v + "'";
      break;
    case ParamType::kString:
      break;
  }
  if (!def.format.empty() && def.format != kPropertyString) {
    std::string e = CheckNamedFormat(def.format, v);
    if (!e.empty()) return "invalid format - " + e;
  }
  if (!def.pattern.empty() && !MatchAnchored(def.pattern, v)) {
    return "value does not match the regex pattern";
  }
  if (def.type == ParamType::kString && def.max_length > 0 &&
      v.size() > static_cast<size_t>(def.max_length)) {
    return "value may only be " + std::to_string(def.max_length) + " characters long";
  }
  if (def.type == ParamType::kInteger || def.type == ParamType::kNumber) {
    double d = std::strtod(v.c_str(), nullptr);
    if (def.minimum && d < *def.minimum) {
      return "value must have a minimum value of " + FormatNumber(*def.minimum);
    }
    if (def.maximum && d > *def.maximum) {
      return "value must have a maximum value of " + FormatNumber(*def.maximum);
    }
  }
  if (!def.enum_values.empty()) {
    bool found = false;
    for (const std::string& e : def.enum_values) found = found || e == v;
    if (!found) {
      std::string joined;
      for (const std::string& e : def.enum_values) {
        if (!joined.empty()) joined += ", ";
        joined += e;
      }
      return "value '" + v + "' does not have a value in the enumeration '" + joined + "'";
    }
  }
  return "";
}

ErrorMap Validate(const MethodDef& def, const ParamMap& params, int major) {
  ErrorMap errors;
  for (const auto& [name, value] : params) {
    const ParamDef* p = FindParam(def, name);
    if (p == nullptr || p->since_major > major) {
      errors[name] =
          "property is not defined in schema and the schema does not allow additional properties";
      continue;
    }
    std::string e = CheckValue(*p, value);
    if (!e.empty()) errors[name] = e;
    if (!p->requires_.empty() && !params.contains(p->requires_)) {
      errors[p->requires_] = "missing property - '" + name + "' requires this property";
    }
  }
  for (const ParamDef& p : def.params) {
    if (!p.optional && !params.contains(p.name)) {
      errors[p.name] = "property is missing and it is not optional";
    }
  }
  return errors;
}

}  // namespace pvek8s::pvesim
