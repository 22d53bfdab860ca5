// Logging (spdlog to stderr) and the one place that redacts secrets before they are logged.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

namespace tollgate {

// Sets up the process logger: stderr, "[time] [level] message". `level` is
// trace|debug|info|warn|error|off.
void init_logging(std::string_view level);

// Replaces every secret in `text` with its display form: `sk_live_<64 hex>` becomes
// `sk_live_...` + last 4, `sess_<64 hex>` becomes `sess_...` + last 4. Anything that
// merely looks like the start of a secret (a prefix followed by hex) is redacted too, so
// a truncated or mistyped key in a URL or header never reaches a log.
std::string redact_secrets(std::string_view text);

}  // namespace tollgate
