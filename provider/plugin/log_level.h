// Which log lines the provider writes, from Terraform's own variables.
#ifndef PROVIDER_PLUGIN_LOG_LEVEL_H_
#define PROVIDER_PLUGIN_LOG_LEVEL_H_

#include "provider/base/log.h"

namespace pvek8s::plugin {

// TF_LOG_PROVIDER when set, else TF_LOG: TRACE (or JSON), DEBUG, INFO, WARN,
// ERROR, OFF, any case. Unset, empty or unknown: warnings and errors only.
// Terraform parses every line a provider writes on stderr even when it shows
// none of them, so a line per call is paid for twice when nobody asked.
log::Level LogLevelFromEnv(const char* tf_log_provider, const char* tf_log);

}  // namespace pvek8s::plugin

#endif  // PROVIDER_PLUGIN_LOG_LEVEL_H_
