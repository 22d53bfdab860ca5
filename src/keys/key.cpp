// Key generation and format checks.
#include "keys/key.hpp"

namespace tollgate::keys {

std::string_view to_string(Scope scope) {
  return scope == Scope::kAgent ? "agent:connect" : "provider:charge";
}

std::string generate_secret(std::string_view prefix) {
  return std::string(prefix) + random_hex(kSecretRandomBytes);
}

bool is_well_formed(std::string_view token, std::string_view prefix) {
  if (token.size() != prefix.size() + kSecretHexLength) return false;
  if (token.substr(0, prefix.size()) != prefix) return false;
  for (char c : token.substr(prefix.size())) {
    bool lower_hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!lower_hex) return false;
  }
  return true;
}

}  // namespace tollgate::keys
