#include "provider/pve/propstring.h"

#include <charconv>
#include <cstdlib>
#include <limits>

namespace pvek8s::pve {
namespace {

constexpr const char* kNicModels[] = {
    "e1000",    "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e",  "i82551", "i82557b",
    "i82559er", "ne2k_isa",      "ne2k_pci",      "pcnet",         "rtl8139", "virtio", "vmxnet3"};

bool IsNicModel(const std::string& key) {
  for (const char* m : kNicModels) {
    if (key == m) return true;
  }
  return false;
}

std::optional<int64_t> ToInt(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

StatusOr<PropertyString> PropertyString::Parse(std::string_view text) {
  PropertyString ps;
  size_t start = 0;
  bool first = true;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) {
      if (comma == std::string_view::npos) break;
      return InvalidArgumentError("empty item in property string \"" + std::string(text) + "\"");
    }
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      if (!first) {
        return InvalidArgumentError("item \"" + std::string(item) + "\" without '=' in \"" +
                                    std::string(text) + "\"");
      }
      ps.items_.emplace_back("", std::string(item));
    } else if (eq == 0) {
      // "=v": Proxmox refuses it too ("missing key"). Accepting it would store
      // an item that prints as a bare value, which parses back differently
      // (or not at all) when it is not the first item.
      return InvalidArgumentError("item \"" + std::string(item) + "\" without a key in \"" +
                                  std::string(text) + "\"");
    } else {
      ps.items_.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    }
    first = false;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return ps;
}

std::optional<std::string> PropertyString::Get(std::string_view key) const {
  for (const auto& [k, v] : items_) {
    if (k == key) return v;
  }
  return std::nullopt;
}

void PropertyString::Set(std::string_view key, std::string value) {
  for (auto& [k, v] : items_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  if (key.empty()) {
    items_.insert(items_.begin(), {"", std::move(value)});
  } else {
    items_.emplace_back(std::string(key), std::move(value));
  }
}

void PropertyString::Remove(std::string_view key) {
  std::erase_if(items_, [&](const auto& kv) { return kv.first == key; });
}

std::string PropertyString::ToString() const {
  std::string out;
  for (const auto& [k, v] : items_) {
    if (!out.empty()) out += ',';
    out += k.empty() ? v : k + "=" + v;
  }
  return out;
}

StatusOr<int64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return InvalidArgumentError("\"" + std::string(text) +
                                "\" is not a size such as 20G, 512M or 1T");
  };
  if (text.empty()) return bad();
  int64_t mult = 1;
  switch (text.back()) {
    case 'K':
      mult = int64_t{1} << 10;
      break;
    case 'M':
      mult = int64_t{1} << 20;
      break;
    case 'G':
      mult = int64_t{1} << 30;
      break;
    case 'T':
      mult = int64_t{1} << 40;
      break;
    default:
      break;
  }
  // Proxmox's own grammar (PVE::JSONSchema::parse_size): digits, an optional
  // fraction with at least one digit, an optional unit; the byte count is
  // truncated to an integer.
  std::string_view num = mult == 1 ? text : text.substr(0, text.size() - 1);
  const size_t dot = num.find('.');
  std::string_view whole = num.substr(0, dot);
  std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : num.substr(dot + 1);
  auto all_digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (!all_digits(whole) || (dot != std::string_view::npos && !all_digits(fraction))) {
    return bad();
  }
  int64_t bytes = 0;
  if (dot == std::string_view::npos) {
    // Integers stay exact (a double would round byte counts above 2^53).
    int64_t n = 0;
    auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), n);
    if (ec != std::errc() || p != whole.data() + whole.size() ||
        n > std::numeric_limits<int64_t>::max() / mult) {
      return bad();
    }
    bytes = n * mult;
  } else {
    double v = std::strtod(std::string(num).c_str(), nullptr) * static_cast<double>(mult);
    if (!(v < 9e18)) return bad();
    bytes = static_cast<int64_t>(v);
  }
  // "0", "0.4": less than one byte is no size (and would print as "0").
  if (bytes < 1) return bad();
  return bytes;
}

std::string FormatSize(int64_t bytes) {
  const std::pair<char, int64_t> units[] = {
      {'T', int64_t{1} << 40}, {'G', int64_t{1} << 30}, {'M', int64_t{1} << 20}, {'K', 1024}};
  for (const auto& [u, m] : units) {
    if (bytes >= m && bytes % m == 0) return std::to_string(bytes / m) + u;
  }
  return std::to_string(bytes);
}

StatusOr<NetDevice> ParseNet(std::string_view text) {
  PVEK8S_ASSIGN_OR_RETURN(PropertyString ps, PropertyString::Parse(text));
  NetDevice net;
  for (const auto& [k, v] : ps.items()) {
    // "model=virtio" or a bare leading "virtio" name the model alone.
    if (k == "model" || (k.empty() && IsNicModel(v))) {
      net.model = v;
    } else if (k == "macaddr") {
      net.mac = v;
    } else if (IsNicModel(k)) {
      net.model = k;
      net.mac = v;
    } else if (k == "bridge") {
      net.bridge = v;
    } else if (k == "tag") {
      net.vlan = ToInt(v);
    } else if (k == "mtu") {
      net.mtu = ToInt(v);
    } else if (k == "firewall") {
      net.firewall = v == "1";
    }
  }
  if (net.model.empty())
    return InvalidArgumentError("no NIC model in \"" + std::string(text) + "\"");
  return net;
}

std::string FormatNet(const NetDevice& net) {
  PropertyString ps;
  if (!net.mac.empty() && IsNicModel(net.model)) {
    ps.Set(net.model, net.mac);
  } else {
    // Without a MAC, or for a model this file does not know (ParseNet would
    // not read it back as the MAC's key), the explicit form.
    ps.Set("model", net.model);
    if (!net.mac.empty()) ps.Set("macaddr", net.mac);
  }
  if (!net.bridge.empty()) ps.Set("bridge", net.bridge);
  if (net.firewall) ps.Set("firewall", "1");
  if (net.mtu) ps.Set("mtu", std::to_string(*net.mtu));
  if (net.vlan) ps.Set("tag", std::to_string(*net.vlan));
  return ps.ToString();
}

}  // namespace pvek8s::pve
