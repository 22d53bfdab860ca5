// argon2id via libsodium.
#include "platform/passwords.hpp"

#include <sodium.h>

#include <mutex>

namespace tollgate::platform {
namespace {

void init_sodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();
  });
}

}  // namespace

std::optional<std::string> hash_password(std::string_view password) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return std::nullopt;
  }
  return std::string(out);
}

bool verify_password(std::string_view stored_hash, std::string_view password) {
  init_sodium();
  std::string hash(stored_hash);  // needs a NUL-terminated string
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

void verify_dummy_password(std::string_view password) {
  static const std::optional<std::string> dummy = hash_password("tollgate-dummy-password");
  if (dummy) verify_password(*dummy, password);
}

}  // namespace tollgate::platform
