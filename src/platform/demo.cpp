// `tollgate serve --demo`: a demo account with credits and a fresh agent key, and a provider
// account whose key the in-process gateway charges with, so that a newcomer can call a paid
// tool from Claude Desktop or Cursor in a minute.
#include "common/crypto.hpp"
#include "keys/key.hpp"
#include "platform/context.hpp"
#include "platform/passwords.hpp"

namespace tollgate::platform {
namespace {

constexpr std::string_view kDemoEmail = "demo@tollgate.local";
// Printed on screen by --demo: this account is for trying Tollgate on one's own machine.
constexpr std::string_view kDemoPassword = "tollgate-demo";
constexpr std::string_view kProviderEmail = "weather-provider@tollgate.local";
constexpr Micros kDemoCredits = 5 * kMicrosPerDollar;

Result<store::Account> find_or_create(Context& ctx, std::string_view email, std::string_view password, bool& created) {
  auto found = ctx.store.find_account_by_email(email);
  if (!found) return found.error();
  created = !found->has_value();
  if (!created) return (*found)->account;
  auto hash = hash_password(password);
  if (!hash) return Error{ErrorCode::kInternal, "could not hash the demo password"};
  return ctx.store.create_account(email, *hash);
}

Result<std::string> new_key(Context& ctx, const store::Account& account, keys::Scope scope, std::string name) {
  std::string secret = keys::generate_api_key();
  store::NewKey key{time_ordered_id("key_"), account.id, std::move(name), scope, keys::hash_secret(secret),
                    keys::last4(secret), now_micros(), std::nullopt};
  if (auto st = ctx.store.insert_key(key); !st.ok()) return st.error();
  return secret;
}

}  // namespace

Result<Platform::DemoSetup> seed_demo(Context& ctx) {
  Platform::DemoSetup out{std::string(kDemoEmail), std::string(kDemoPassword), "", ""};
  bool created = false;
  auto demo = find_or_create(ctx, kDemoEmail, kDemoPassword, created);
  if (!demo) return demo.error();
  if (created) {
    auto deposit = ctx.ledger.deposit(demo->id, kDemoCredits, "Demo credits");
    if (!deposit) return deposit.error();
  }
  bool provider_created = false;
  auto provider = find_or_create(ctx, kProviderEmail, random_hex(16), provider_created);
  if (!provider) return provider.error();

  // A new agent key each start (older ones keep working: they may be in a client's config).
  auto agent_key = new_key(ctx, *demo, keys::Scope::kAgent, "Demo agent " + format_rfc3339(now_micros()).substr(0, 16));
  if (!agent_key) return agent_key.error();
  out.agent_key = std::move(*agent_key);

  // The gateway's provider key lives in this process only: replace the previous one.
  auto old = ctx.store.list_keys(provider->id, keys::Scope::kProvider);
  if (!old) return old.error();
  for (const auto& k : *old) (void)ctx.store.delete_key(provider->id, k.id, keys::Scope::kProvider);
  auto provider_key = new_key(ctx, *provider, keys::Scope::kProvider, "Demo gateway");
  if (!provider_key) return provider_key.error();
  out.provider_key = std::move(*provider_key);
  return out;
}

}  // namespace tollgate::platform
