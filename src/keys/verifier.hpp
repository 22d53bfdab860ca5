// The one verification function: token -> the key's identity, or TOKEN_MISSING /
// TOKEN_INVALID (agent side) / PROVIDER_KEY_INVALID / SCOPE_DENIED (provider side).
// Every component that accepts a key calls this; nothing else looks keys up.
//
// Verification always asks the store (one indexed lookup by SHA-256): there is no cache, so
// a key deleted through any process fails everywhere on the very next call. (The one reuse
// of an answer is within a single POST /api/v1/charges, platform/charge_api.cpp, where the
// ledger checks the key again under its lock before any money moves.) Last-use
// times are collected in memory and written in one batch per flush interval, so a hot key
// does not cost a database write per call.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.hpp"
#include "store/store.hpp"

namespace tollgate::keys {

class KeyVerifier {
 public:
  explicit KeyVerifier(store::Store& store) : store_(store) {}

  // `token` is nullopt when the request carried none at all (TOKEN_MISSING); an empty or
  // malformed token is TOKEN_INVALID and is rejected without a database lookup.
  // With `expected` = kAgent: a provider key is TOKEN_INVALID.
  // With `expected` = kProvider: missing/malformed/unknown is PROVIDER_KEY_INVALID and an
  // agent key is SCOPE_DENIED.
  Result<store::KeyIdentity> verify(std::optional<std::string_view> token, Scope expected);
  // Any live key, whatever its scope (used to answer SCOPE_DENIED on account endpoints).
  // nullopt for malformed, unknown or deleted keys; an error only if the store fails.
  Result<std::optional<store::KeyIdentity>> identify(std::string_view token);

  // Writes collected last-use times (called by a timer and at shutdown).
  Status flush_last_used();
  // The newest not-yet-written use of a key, for listings.
  std::optional<UnixMicros> pending_last_used(const std::string& key_id) const;

 private:
  store::Store& store_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, UnixMicros> pending_;
};

// The sentence agents and people see for each verification failure (one place, reused by
// the REST API, the SDK and the gateway).
std::string_view token_missing_message();
std::string_view token_invalid_message();

}  // namespace tollgate::keys
