// Key verification and last-use bookkeeping.
#include "keys/verifier.hpp"

#include <vector>

#include "keys/key.hpp"

namespace tollgate::keys {

std::string_view token_missing_message() {
  return "No agent key was sent. Set the AGENT_TOKEN environment variable (stdio) or send the "
         "header 'Authorization: Bearer sk_live_...' (HTTP); create a key under API Keys in the dashboard.";
}

std::string_view token_invalid_message() {
  return "The agent key is not valid: it may have been deleted, copied incompletely, or belong to another "
         "account. Create a new key under API Keys in the dashboard and update your configuration.";
}

Result<store::KeyIdentity> KeyVerifier::verify(std::optional<std::string_view> token, Scope expected) {
  bool agent = expected == Scope::kAgent;
  auto invalid = [&] {
    return agent ? Error{ErrorCode::kTokenInvalid, std::string(token_invalid_message())}
                 : Error{ErrorCode::kProviderKeyInvalid,
                         "The provider key is missing or not valid. Create one under Provider in the dashboard and "
                         "send it as 'Authorization: Bearer sk_live_...'."};
  };
  if (!token) {
    if (agent) return Error{ErrorCode::kTokenMissing, std::string(token_missing_message())};
    return invalid();
  }
  auto found = identify(*token);
  if (!found) return found.error();
  if (!found->has_value()) return invalid();
  store::KeyIdentity identity = std::move(**found);
  if (identity.scope != expected) {
    if (agent) return invalid();
    return Error{ErrorCode::kScopeDenied,
                 "This is an agent key (scope agent:connect); charging needs a provider key (scope provider:charge)."};
  }
  {
    std::lock_guard lock(mutex_);
    pending_[identity.key_id] = now_micros();
  }
  return identity;
}

Result<std::optional<store::KeyIdentity>> KeyVerifier::identify(std::string_view token) {
  if (!is_well_formed(token, kApiKeyPrefix)) return std::optional<store::KeyIdentity>();
  return store_.find_key(hash_secret(token));
}

Status KeyVerifier::flush_last_used() {
  std::vector<store::KeyUse> uses;
  {
    std::lock_guard lock(mutex_);
    uses.reserve(pending_.size());
    for (auto& [id, at] : pending_) uses.push_back({id, at});
    pending_.clear();
  }
  auto status = store_.record_key_use(uses);
  if (!status.ok()) {
    // Keep them for the next attempt; a newer use may have arrived meanwhile.
    std::lock_guard lock(mutex_);
    for (auto& use : uses) {
      auto& at = pending_[use.key_id];
      at = std::max(at, use.used_at);
    }
  }
  return status;
}

std::optional<UnixMicros> KeyVerifier::pending_last_used(const std::string& key_id) const {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(key_id);
  if (it == pending_.end()) return std::nullopt;
  return it->second;
}

}  // namespace tollgate::keys
