// spdlog setup and secret redaction.
#include "common/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace tollgate {
namespace {

constexpr std::string_view kSecretPrefixes[] = {"sk_live_", "sess_"};

bool is_hex_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Length of `prefix` at text[i], or 0. An underscore may arrive percent-encoded ("%5F"):
// a client that encodes it still sends the whole secret, and the access log prints the
// raw request target.
std::size_t prefix_length_at(std::string_view text, std::size_t i, std::string_view prefix) {
  std::size_t j = i;
  for (char c : prefix) {
    if (j < text.size() && text[j] == c) {
      ++j;
    } else if (c == '_' && text.size() - j >= 3 && text[j] == '%' && text[j + 1] == '5' &&
               (text[j + 2] == 'F' || text[j + 2] == 'f')) {
      j += 3;
    } else {
      return 0;
    }
  }
  return j - i;
}

}  // namespace

void init_logging(std::string_view level) {
  auto logger = spdlog::stderr_color_mt("tollgate");
  logger->set_pattern("[%Y-%m-%dT%H:%M:%S.%eZ] [%^%l%$] %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(logger);
}

std::string redact_secrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    bool matched = false;
    for (std::string_view prefix : kSecretPrefixes) {
      std::size_t matched_prefix = prefix_length_at(text, i, prefix);
      if (matched_prefix == 0) continue;
      std::size_t end = i + matched_prefix;
      while (end < text.size() && is_hex_char(text[end])) ++end;
      std::size_t secret_len = end - i - matched_prefix;
      if (secret_len == 0) continue;
      out.append(prefix);
      out.append("...");
      out.append(text.substr(end - std::min<std::size_t>(4, secret_len), std::min<std::size_t>(4, secret_len)));
      i = end;
      matched = true;
      break;
    }
    if (!matched) out.push_back(text[i++]);
  }
  return out;
}

}  // namespace tollgate
