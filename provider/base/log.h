// Structured logging to stderr, one JSON object per line.
//
// Terraform reads a provider's stderr and shows lines that carry `@level`,
// `@message` and `@timestamp` at that level under TF_LOG. stdout is reserved
// for the go-plugin handshake line, so nothing here ever writes to it.
#ifndef PROVIDER_BASE_LOG_H_
#define PROVIDER_BASE_LOG_H_

#include <nlohmann/json.hpp>
#include <string_view>

namespace pvek8s::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError };

// Messages below this level are dropped. Defaults to kTrace; the provider's
// main sets it from TF_LOG_PROVIDER / TF_LOG (plugin/log_level.h).
void SetMinLevel(Level level);

// Writes one line: {"@level":..., "@message":..., "@timestamp":..., "@module": "pvek8s",
// ...fields}. `fields` must be an object (or null). Never pass secrets in either argument.
void Write(Level level, std::string_view message, const nlohmann::json& fields = nullptr);

inline void Trace(std::string_view m, const nlohmann::json& f = nullptr) {
  Write(Level::kTrace, m, f);
}
inline void Debug(std::string_view m, const nlohmann::json& f = nullptr) {
  Write(Level::kDebug, m, f);
}
inline void Info(std::string_view m, const nlohmann::json& f = nullptr) {
  Write(Level::kInfo, m, f);
}
inline void Warn(std::string_view m, const nlohmann::json& f = nullptr) {
  Write(Level::kWarn, m, f);
}
inline void Error(std::string_view m, const nlohmann::json& f = nullptr) {
  Write(Level::kError, m, f);
}

// Formats `when` (seconds since the epoch, microseconds) as Terraform expects:
// 2006-01-02T15:04:05.000000Z07:00 in UTC, e.g. "2026-11-30T03:54:34.123456Z".
std::string FormatTimestamp(int64_t unix_micros);

}  // namespace pvek8s::log

#endif  // PROVIDER_BASE_LOG_H_
