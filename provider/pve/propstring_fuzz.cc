// libFuzzer target for the property-string codecs (net0, scsi0, ipconfig0
// values and sizes). Built only with clang (see CMakeLists.txt). Besides
// memory safety it checks the codecs' contracts on every input:
//  - PropertyString: Parse(ToString(Parse(x))) == Parse(x), and Set/Get/Remove
//    agree on the keys the parse produced;
//  - sizes: a parsed size is positive and FormatSize of it parses back to the
//    same number of bytes;
//  - NICs: ParseNet(FormatNet(ParseNet(x))) gives the same device.
// A violation aborts, so libFuzzer reports it like a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "provider/pve/propstring.h"

namespace {

using pvek8s::pve::NetDevice;
using pvek8s::pve::PropertyString;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool SameNet(const NetDevice& a, const NetDevice& b) {
  return a.model == b.model && a.mac == b.mac && a.bridge == b.bridge && a.vlan == b.vlan &&
         a.mtu == b.mtu && a.firewall == b.firewall;
}

void CheckPropertyString(std::string_view text) {
  auto parsed = PropertyString::Parse(text);
  if (!parsed.ok()) return;
  const std::string printed = parsed->ToString();
  auto again = PropertyString::Parse(printed);
  Check(again.ok());
  Check(*again == *parsed);
  Check(again->ToString() == printed);

  // Keys the parse produced can be read, replaced and removed. A few of them
  // are enough (each check copies and re-parses the whole string).
  const auto& items = parsed->items();
  for (size_t i : {size_t{0}, size_t{1}, size_t{2}, items.size() - 1}) {
    if (i >= items.size()) continue;
    const std::string& key = items[i].first;
    Check(parsed->Get(key).has_value());
    PropertyString edited = *parsed;
    edited.Set(key, "x");
    Check(edited.Get(key) == "x");
    auto reparsed = PropertyString::Parse(edited.ToString());
    Check(reparsed.ok() && *reparsed == edited);
    edited.Remove(key);
    Check(!edited.Get(key).has_value());
  }
}

void CheckSize(std::string_view text) {
  auto bytes = pvek8s::pve::ParseSize(text);
  if (!bytes.ok()) return;
  Check(*bytes > 0);
  const std::string formatted = pvek8s::pve::FormatSize(*bytes);
  auto back = pvek8s::pve::ParseSize(formatted);
  Check(back.ok() && *back == *bytes);
  Check(pvek8s::pve::FormatSize(*back) == formatted);
}

void CheckNet(std::string_view text) {
  auto net = pvek8s::pve::ParseNet(text);
  if (!net.ok()) return;
  Check(!net->model.empty());
  const std::string formatted = pvek8s::pve::FormatNet(*net);
  auto back = pvek8s::pve::ParseNet(formatted);
  Check(back.ok() && SameNet(*back, *net));
  Check(pvek8s::pve::FormatNet(*back) == formatted);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckPropertyString(text);
  CheckSize(text);
  CheckNet(text);
  return 0;
}
