#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "modules/ansible/command.h"
#include "modules/ansible/file_util.h"
#include "modules/kernel_tuning/internal.h"
#include "modules/kernel_tuning/kernel_tuning.h"

namespace pvek8s::kernel_tuning {

using nlohmann::json;
using namespace std::chrono_literals;

std::string EditFstab(std::string_view content, bool restore, std::vector<std::string>* changed) {
  std::string out;
  for (std::string_view line : Lines(content)) {
    if (restore) {
      if (line.rfind(kFstabMarker, 0) == 0) {
        std::string original(line.substr(kFstabMarker.size()));
        if (changed != nullptr) changed->push_back(original);
        out += original + "\n";
        continue;
      }
    } else if (!IsCommentOrBlank(line)) {
      std::vector<std::string> f = Fields(line);
      if (f.size() >= 3 && f[2] == "swap") {
        if (changed != nullptr) changed->emplace_back(line);
        out += std::string(kFstabMarker) + std::string(line) + "\n";
        continue;
      }
    }
    out += line;
    out += "\n";
  }
  // Keep a final line without newline as it was.
  if (!content.empty() && content.back() != '\n' && !out.empty()) out.pop_back();
  return out;
}

std::vector<std::string> ParseProcSwaps(std::string_view content) {
  std::vector<std::string> out;
  bool first = true;
  for (std::string_view line : Lines(content)) {
    if (first) {  // Header: "Filename Type Size Used Priority".
      first = false;
      if (line.rfind("Filename", 0) == 0) continue;
    }
    std::vector<std::string> f = Fields(line);
    if (f.empty()) continue;
    std::string name;
    const std::string& raw = f[0];
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 3 < raw.size() + 0 &&
          std::isdigit(static_cast<unsigned char>(raw[i + 1])) && i + 3 <= raw.size() - 1) {
        name += static_cast<char>(std::strtol(raw.substr(i + 1, 3).c_str(), nullptr, 8));
        i += 3;
      } else {
        name += raw[i];
      }
    }
    out.push_back(name);
  }
  return out;
}

std::string SwapUnitName(std::string_view path) {
  std::string p = Trim(path);
  while (p.size() > 1 && p.front() == '/') p.erase(p.begin());
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p == "/" || p.empty()) return "-.swap";
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c == '/') {
      out += '-';
    } else if (std::isalnum(c) || c == '_' || c == ':' || (c == '.' && i != 0)) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + ".swap";
}

namespace {

// Runs swapoff on every active swap area and checks that none is left.
Status TurnActiveSwapOff(Work& w, const SystemPaths& sys) {
  PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> swaps,
                          ansible::ReadFileIfExists(sys.Path("/proc/swaps")));
  std::vector<std::string> active = ParseProcSwaps(swaps.value_or(""));
  json disabled = json::array();
  for (const std::string& name : active) {
    disabled.push_back(name);
    w.changed = true;
    if (w.check) continue;
    std::optional<std::string> swapoff = ansible::FindExecutable(sys.swapoff);
    if (!swapoff)
      return FailedPreconditionError("cannot turn swap off: " + sys.swapoff + " not found");
    StatusOr<ansible::CommandResult> r = ansible::RunCommand({*swapoff, "--", name}, 600s);
    if (!r.ok()) return r.status();
    if (!r->ok()) {
      return FailedPreconditionError("cannot turn swap off: " +
                                     ansible::DescribeFailure({"swapoff", name}, *r));
    }
  }
  if (!w.check && !active.empty()) {
    PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> now,
                            ansible::ReadFileIfExists(sys.Path("/proc/swaps")));
    std::vector<std::string> still = ParseProcSwaps(now.value_or(""));
    if (!still.empty()) {
      return FailedPreconditionError("swap is still active after swapoff: " + JoinList(still));
    }
  }
  AddDiff(w, JoinList(active, "\n") + (active.empty() ? "" : "\n"), "",
          "active swap (/proc/swaps)");
  w.extra["swap_disabled"] = disabled;
  if (!disabled.empty()) {
    w.summary.push_back((w.check ? "would turn off " : "turned off ") +
                        Plural(disabled.size(), "swap area", "swap areas"));
  }
  return Status::Ok();
}

// Comments out the fstab swap entries; sets `reload_systemd` when it did, so
// that systemd drops the units it generated from them.
Status DisableFstabSwap(Work& w, const SystemPaths& sys, bool& reload_systemd) {
  PVEK8S_ASSIGN_OR_RETURN(std::optional<std::string> fstab,
                          ansible::ReadFileIfExists(sys.Path("/etc/fstab")));
  std::vector<std::string> commented;
  if (fstab) {
    std::string edited = EditFstab(*fstab, false, &commented);
    json files = json::array();
    PVEK8S_RETURN_IF_ERROR(ApplyFile(w, sys, "/etc/fstab", fstab, edited, files));
    reload_systemd = !commented.empty();
  }
  w.extra["fstab_disabled"] = commented;
  if (!commented.empty()) {
    w.summary.push_back((w.check ? "would disable " : "disabled ") +
                        Plural(commented.size(), "fstab swap entry", "fstab swap entries"));
  }
  return Status::Ok();
}

// Masks the maskable `sources`; sets `reload_systemd` when it masks any.
Status MaskSwapSources(Work& w, const SystemPaths& sys, const std::vector<SwapSource>& sources,
                       bool& reload_systemd) {
  json masked = json::array();
  std::string units_before, units_after;
  for (const SwapSource& s : sources) {
    if (!s.maskable) continue;
    masked.push_back(s.unit);
    units_before += s.unit + " enabled\n";
    units_after += s.unit + " masked\n";
    w.changed = true;
    reload_systemd = true;
    if (w.check) continue;
    std::string link = sys.Path("/etc/systemd/system/" + s.unit);
    if (::symlink("/dev/null", link.c_str()) != 0) {
      return InternalError("cannot mask " + s.unit + ": " + std::strerror(errno));
    }
  }
  AddDiff(w, units_before, units_after, "systemd swap units");
  w.extra["swap_units_masked"] = masked;
  if (!masked.empty()) {
    w.summary.push_back((w.check ? "would mask " : "masked ") +
                        Plural(masked.size(), "swap unit", "swap units"));
  }
  return Status::Ok();
}

// Records `swap_boot`: what turns swap on at the next boot once this run is
// done (in check mode, once it would be), with a diff against before.
void ReportBootSwap(Work& w, const std::vector<SwapSource>& before,
                    const std::vector<SwapSource>& after_run) {
  json boot = json::array();
  std::string before_text, after_text;
  for (const SwapSource& s : before) before_text += DescribeSwapSource(s) + "\n";
  for (const SwapSource& s : after_run) {
    if (w.check && s.maskable && w.extra["swap_units_masked"].size() > 0) {
      bool would_mask = false;
      for (const json& m : w.extra["swap_units_masked"]) would_mask |= m == s.unit;
      if (would_mask) continue;
    }
    boot.push_back(DescribeSwapSource(s));
    after_text += DescribeSwapSource(s) + "\n";
  }
  w.extra["swap_boot"] = boot;
  AddDiff(w, before_text, after_text, "swap turned on at next boot (besides fstab)");
}

// Lets systemd forget fstab-generated swap units now rather than at next boot.
void ReloadSystemd(Work& w, const SystemPaths& sys) {
  if (w.check || !PathExists(sys.Path("/run/systemd/system"))) return;
  if (std::optional<std::string> systemctl = ansible::FindExecutable(sys.systemctl)) {
    StatusOr<ansible::CommandResult> r = ansible::RunCommand({*systemctl, "daemon-reload"}, 120s);
    if (!r.ok() || !r->ok()) {
      w.extra.emplace("warnings_internal", json::array());
      w.extra["warnings_internal"].push_back("systemctl daemon-reload failed");
    }
  }
}

}  // namespace

Status TurnSwapOff(Work& w, const SystemPaths& sys, const std::string& conflicts) {
  PVEK8S_RETURN_IF_ERROR(TurnActiveSwapOff(w, sys));
  // Boot-time swap: fstab entries are commented out; units and services are
  // masked unless swap_conflicts says only to report them.
  bool reload_systemd = false;
  PVEK8S_RETURN_IF_ERROR(DisableFstabSwap(w, sys, reload_systemd));
  const std::vector<SwapSource> before = BootSwapSources(sys);
  if (conflicts == "report") {
    w.extra["swap_units_masked"] = json::array();
    for (const SwapSource& s : before) {
      w.extra.emplace("warnings_internal", json::array());
      w.extra["warnings_internal"].push_back("swap at next boot: " + DescribeSwapSource(s));
    }
  } else {
    PVEK8S_RETURN_IF_ERROR(MaskSwapSources(w, sys, before, reload_systemd));
  }
  ReportBootSwap(w, before, BootSwapSources(sys));
  if (reload_systemd) ReloadSystemd(w, sys);
  return Status::Ok();
}

}  // namespace pvek8s::kernel_tuning
