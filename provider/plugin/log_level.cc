#include "provider/plugin/log_level.h"

#include <strings.h>

namespace pvek8s::plugin {

log::Level LogLevelFromEnv(const char* tf_log_provider, const char* tf_log) {
  const char* v = tf_log_provider && *tf_log_provider ? tf_log_provider : tf_log;
  if (!v || !*v) return log::Level::kWarn;
  struct {
    const char* name;
    log::Level level;
  } const kNames[] = {{"trace", log::Level::kTrace}, {"json", log::Level::kTrace},
                      {"debug", log::Level::kDebug}, {"info", log::Level::kInfo},
                      {"warn", log::Level::kWarn},   {"error", log::Level::kError},
                      {"off", log::Level::kError}};
  for (const auto& n : kNames) {
    if (strcasecmp(v, n.name) == 0) return n.level;
  }
  return log::Level::kWarn;
}

}  // namespace pvek8s::plugin
