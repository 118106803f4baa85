#include "provider/base/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace pvek8s::log {
namespace {

std::atomic<Level> g_min_level{Level::kTrace};
std::mutex g_write_mu;

const char* LevelName(Level level) {
  switch (level) {
    case Level::kTrace:
      return "trace";
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void SetMinLevel(Level level) { g_min_level.store(level); }

std::string FormatTimestamp(int64_t unix_micros) {
  std::time_t secs = static_cast<std::time_t>(unix_micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(unix_micros % 1000000));
  return buf;
}

void Write(Level level, std::string_view message, const nlohmann::json& fields) {
  if (level < g_min_level.load()) return;
  nlohmann::json line = fields.is_object() ? fields : nlohmann::json::object();
  line["@level"] = LevelName(level);
  line["@message"] = std::string(message);
  line["@module"] = "pvek8s";
  auto now = std::chrono::system_clock::now().time_since_epoch();
  line["@timestamp"] =
      FormatTimestamp(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
  // Invalid UTF-8 in a message must not throw out of a log call.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  std::lock_guard<std::mutex> lock(g_write_mu);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace pvek8s::log
