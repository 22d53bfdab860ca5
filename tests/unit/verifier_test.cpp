// KeyVerifier, the one verification function, against a real SQLite store in a temp dir.
// A counting decorator sits between the verifier and the store (the real store does the
// work) so the tests can prove that malformed input never reaches the database and that
// last-use times are written in one batch, not once per call.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "keys/key.hpp"
#include "keys/verifier.hpp"
#include "store/store.hpp"
#include "support/process.hpp"

namespace tollgate::keys {
namespace {

using store::KeyIdentity;

// Forwards every call to the real store; counts the ones these tests care about and can be
// told to fail them, as an unreachable database would.
class CountingStore final : public store::Store {
 public:
  explicit CountingStore(store::Store& inner) : inner_(inner) {}

  std::atomic<int> find_key_calls{0};
  std::vector<std::size_t> record_batches;  // size of every non-empty record_key_use call
  bool fail_find_key = false;
  bool fail_record = false;

  std::string_view backend_name() const override { return inner_.backend_name(); }
  Result<store::Account> create_account(std::string_view email, std::string_view password_hash) override {
    return inner_.create_account(email, password_hash);
  }
  Result<std::optional<store::AccountCredentials>> find_account_by_email(std::string_view email) override {
    return inner_.find_account_by_email(email);
  }
  Result<std::optional<store::Account>> find_session(const Sha256& hash, UnixMicros now) override {
    return inner_.find_session(hash, now);
  }
  Result<std::vector<store::KeyRecord>> list_keys(std::string_view account_id, Scope scope) override {
    return inner_.list_keys(account_id, scope);
  }
  Result<std::optional<KeyIdentity>> find_key(const Sha256& hash) override {
    ++find_key_calls;
    if (fail_find_key) return Error{ErrorCode::kPlatformUnavailable, "database unreachable (test)"};
    return inner_.find_key(hash);
  }
  Status record_key_use(const std::vector<store::KeyUse>& uses) override {
    if (!uses.empty()) record_batches.push_back(uses.size());
    if (fail_record) return Error{ErrorCode::kPlatformUnavailable, "database unreachable (test)"};
    return inner_.record_key_use(uses);
  }
  Status run_account_txn(const std::function<Status(store::AccountTxn&)>& work) override {
    return inner_.run_account_txn(work);
  }
  Status run_ledger_txn(const std::function<Status(store::LedgerTxn&)>& work) override {
    return inner_.run_ledger_txn(work);
  }
  Result<store::Wallet> wallet(std::string_view account_id) override { return inner_.wallet(account_id); }
  Result<store::TransactionPage> transactions(std::string_view account_id, std::optional<std::int64_t> before_seq,
                                              int limit) override {
    return inner_.transactions(account_id, before_seq, limit);
  }
  Result<std::vector<store::UsageCell>> usage(std::string_view account_id, store::UsageRole role, UnixMicros from,
                                   UnixMicros to) override {
    return inner_.usage(account_id, role, from, to);
  }
  Result<store::LedgerReport> verify_ledger() override { return inner_.verify_ledger(); }

 private:
  store::Store& inner_;
};

struct CreatedKey {
  std::string id;
  std::string secret;
};

class KeyVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    real_ = store::open_store("sqlite:" + dir_.file("verifier.db"));
    store_ = std::make_unique<CountingStore>(*real_);
    auto account = real_->create_account("alice@example.com", "not-a-real-hash");
    ASSERT_TRUE(account.ok()) << account.error().message;
    account_id_ = account->id;
    auto other = real_->create_account("bob@example.com", "not-a-real-hash");
    ASSERT_TRUE(other.ok());
    other_account_id_ = other->id;
  }

  CreatedKey add_key(Scope scope, const std::string& account_id = {}) {
    CreatedKey k{"key_" + random_hex(10), generate_api_key()};
    store::NewKey row{k.id, account_id.empty() ? account_id_ : account_id, "test", scope, hash_secret(k.secret),
                      last4(k.secret), now_micros(), std::nullopt};
    EXPECT_TRUE(real_->insert_key(row).ok());
    return k;
  }

  std::optional<UnixMicros> stored_last_used(const std::string& key_id, Scope scope = Scope::kAgent) {
    auto list = real_->list_keys(account_id_, scope);
    EXPECT_TRUE(list.ok());
    for (const auto& k : *list) {
      if (k.id == key_id) return k.last_used_at;
    }
    ADD_FAILURE() << "key " << key_id << " not listed";
    return std::nullopt;
  }

  test::TempDir dir_;
  std::unique_ptr<store::Store> real_;
  std::unique_ptr<CountingStore> store_;
  std::string account_id_;
  std::string other_account_id_;
};

std::vector<std::string> malformed_tokens() {
  std::string good = generate_api_key();
  std::string upper = good;
  for (std::size_t i = 8; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  std::string nul = good;
  nul[20] = '\0';
  return {"",
          " ",
          "sk_live_",
          good.substr(0, good.size() - 1),                 // 63 hex: copied incompletely
          good + "0",                                      // 65 hex
          upper,                                           // uppercase hex
          good.substr(0, 20) + "Z" + good.substr(21),      // non-hex
          " " + good,                                      // whitespace around
          good + "\n",
          good.substr(0, 30) + " " + good.substr(31),      // whitespace inside
          "sk_test_" + good.substr(8),                     // wrong environment
          "sess_" + good.substr(8),                        // a session token
          nul,                                             // NUL byte
          good.substr(0, 70) + "\xc3\xa9",                 // unicode in place of the last digit
          "Bearer " + good};
}

TEST_F(KeyVerifierTest, MalformedInputNeverReachesTheStore) {
  KeyVerifier verifier(*store_);
  for (const std::string& token : malformed_tokens()) {
    auto agent = verifier.verify(token, Scope::kAgent);
    ASSERT_FALSE(agent.ok());
    EXPECT_EQ(agent.code(), ErrorCode::kTokenInvalid) << "'" << token << "'";
    auto provider = verifier.verify(token, Scope::kProvider);
    ASSERT_FALSE(provider.ok());
    EXPECT_EQ(provider.code(), ErrorCode::kProviderKeyInvalid) << "'" << token << "'";
    auto identified = verifier.identify(token);
    ASSERT_TRUE(identified.ok());
    EXPECT_FALSE(identified->has_value());
  }
  EXPECT_EQ(store_->find_key_calls.load(), 0) << "a malformed token caused a database lookup";
}

TEST_F(KeyVerifierTest, MissingTokenIsTokenMissing) {
  KeyVerifier verifier(*store_);
  auto agent = verifier.verify(std::nullopt, Scope::kAgent);
  ASSERT_FALSE(agent.ok());
  EXPECT_EQ(agent.code(), ErrorCode::kTokenMissing);
  EXPECT_NE(agent.error().message.find("AGENT_TOKEN"), std::string::npos) << "says how to send a key";
  EXPECT_NE(agent.error().message.find("Authorization"), std::string::npos);
  auto provider = verifier.verify(std::nullopt, Scope::kProvider);
  ASSERT_FALSE(provider.ok());
  EXPECT_EQ(provider.code(), ErrorCode::kProviderKeyInvalid);
  EXPECT_EQ(store_->find_key_calls.load(), 0);
}

TEST_F(KeyVerifierTest, EmptyTokenIsInvalidNotMissing) {
  KeyVerifier verifier(*store_);
  auto r = verifier.verify(std::string_view{}, Scope::kAgent);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::kTokenInvalid);
}

TEST_F(KeyVerifierTest, UnknownWellFormedKeyIsTokenInvalidAfterOneLookup) {
  KeyVerifier verifier(*store_);
  add_key(Scope::kAgent);
  auto r = verifier.verify(generate_api_key(), Scope::kAgent);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::kTokenInvalid);
  EXPECT_EQ(store_->find_key_calls.load(), 1);
}

TEST_F(KeyVerifierTest, ValidAgentKeyYieldsItsIdentity) {
  KeyVerifier verifier(*store_);
  CreatedKey key = add_key(Scope::kAgent);
  auto r = verifier.verify(key.secret, Scope::kAgent);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->key_id, key.id);
  EXPECT_EQ(r->account_id, account_id_);
  EXPECT_EQ(r->scope, Scope::kAgent);
  EXPECT_EQ(r->last4, key.secret.substr(key.secret.size() - 4));
  EXPECT_EQ(store_->find_key_calls.load(), 1);
}

TEST_F(KeyVerifierTest, KeysOfTwoAccountsResolveToTheirOwnAccount) {
  KeyVerifier verifier(*store_);
  CreatedKey mine = add_key(Scope::kAgent);
  CreatedKey theirs = add_key(Scope::kAgent, other_account_id_);
  EXPECT_EQ(verifier.verify(mine.secret, Scope::kAgent)->account_id, account_id_);
  EXPECT_EQ(verifier.verify(theirs.secret, Scope::kAgent)->account_id, other_account_id_);
}

TEST_F(KeyVerifierTest, DeletedKeyFailsOnTheVeryNextCall) {
  KeyVerifier verifier(*store_);
  KeyVerifier other_instance(*store_);  // another component (or process) on the same store
  CreatedKey key = add_key(Scope::kAgent);
  ASSERT_TRUE(verifier.verify(key.secret, Scope::kAgent).ok());
  ASSERT_TRUE(other_instance.verify(key.secret, Scope::kAgent).ok());

  ASSERT_TRUE(real_->delete_key(account_id_, key.id, Scope::kAgent).ok());

  auto r = verifier.verify(key.secret, Scope::kAgent);
  ASSERT_FALSE(r.ok()) << "a deleted key still verified";
  EXPECT_EQ(r.code(), ErrorCode::kTokenInvalid);
  auto r2 = other_instance.verify(key.secret, Scope::kAgent);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.code(), ErrorCode::kTokenInvalid);
  EXPECT_FALSE(verifier.identify(key.secret)->has_value());
  // And it stays dead: deletion is permanent.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(verifier.verify(key.secret, Scope::kAgent).code(), ErrorCode::kTokenInvalid);
}

TEST_F(KeyVerifierTest, ProviderKeyWhereAnAgentKeyIsExpectedIsTokenInvalid) {
  KeyVerifier verifier(*store_);
  CreatedKey provider = add_key(Scope::kProvider);
  auto r = verifier.verify(provider.secret, Scope::kAgent);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::kTokenInvalid);
  EXPECT_FALSE(verifier.pending_last_used(provider.id).has_value()) << "a failed verification is not a use";
  auto as_provider = verifier.verify(provider.secret, Scope::kProvider);
  ASSERT_TRUE(as_provider.ok());
  EXPECT_EQ(as_provider->scope, Scope::kProvider);
}

TEST_F(KeyVerifierTest, AgentKeyWhereAProviderKeyIsExpectedIsScopeDenied) {
  KeyVerifier verifier(*store_);
  CreatedKey agent = add_key(Scope::kAgent);
  auto r = verifier.verify(agent.secret, Scope::kProvider);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::kScopeDenied);
  EXPECT_FALSE(verifier.pending_last_used(agent.id).has_value());
  auto unknown = verifier.verify(generate_api_key(), Scope::kProvider);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.code(), ErrorCode::kProviderKeyInvalid);
}

TEST_F(KeyVerifierTest, IdentifyFindsLiveKeysOfEitherScope) {
  KeyVerifier verifier(*store_);
  CreatedKey agent = add_key(Scope::kAgent);
  CreatedKey provider = add_key(Scope::kProvider);
  EXPECT_EQ((*verifier.identify(agent.secret))->scope, Scope::kAgent);
  EXPECT_EQ((*verifier.identify(provider.secret))->scope, Scope::kProvider);
  EXPECT_FALSE(verifier.identify(generate_api_key())->has_value());
}

TEST_F(KeyVerifierTest, StoreFailureIsPlatformUnavailableNotTokenInvalid) {
  // An outage must not tell an agent that its key is invalid (it would be replaced for no
  // reason); it is PLATFORM_UNAVAILABLE and nothing is recorded.
  KeyVerifier verifier(*store_);
  CreatedKey key = add_key(Scope::kAgent);
  store_->fail_find_key = true;
  auto r = verifier.verify(key.secret, Scope::kAgent);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::kPlatformUnavailable);
  auto p = verifier.verify(key.secret, Scope::kProvider);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.code(), ErrorCode::kPlatformUnavailable);
  EXPECT_FALSE(verifier.identify(key.secret).ok());
  EXPECT_FALSE(verifier.pending_last_used(key.id).has_value());
}

TEST_F(KeyVerifierTest, TokenInvalidMessageSaysWhatTheReferenceSays) {
  // reference/agent-api-keys.txt, Troubleshooting: deleted, incorrectly copied, another
  // account; fix: create a new key.
  std::string_view m = token_invalid_message();
  EXPECT_NE(m.find("deleted"), std::string_view::npos) << m;
  EXPECT_NE(m.find("copied"), std::string_view::npos) << m;
  EXPECT_NE(m.find("another account"), std::string_view::npos) << m;
  EXPECT_NE(m.find("Create a new key"), std::string_view::npos) << m;
}

TEST_F(KeyVerifierTest, LastUsedIsWrittenInOneBatchByFlush) {
  KeyVerifier verifier(*store_);
  CreatedKey a = add_key(Scope::kAgent);
  CreatedKey b = add_key(Scope::kAgent);
  CreatedKey unused = add_key(Scope::kAgent);
  UnixMicros before = now_micros();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(verifier.verify(a.secret, Scope::kAgent).ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(verifier.verify(b.secret, Scope::kAgent).ok());
  UnixMicros after = now_micros();

  EXPECT_TRUE(store_->record_batches.empty()) << "verify wrote to the database";
  EXPECT_FALSE(stored_last_used(a.id).has_value());
  auto pending_a = verifier.pending_last_used(a.id);
  ASSERT_TRUE(pending_a.has_value());
  EXPECT_GE(*pending_a, before);
  EXPECT_LE(*pending_a, after);
  EXPECT_FALSE(verifier.pending_last_used(unused.id).has_value());

  ASSERT_TRUE(verifier.flush_last_used().ok());
  ASSERT_EQ(store_->record_batches.size(), 1u) << "70 uses of 2 keys must be one write";
  EXPECT_EQ(store_->record_batches[0], 2u);
  EXPECT_EQ(stored_last_used(a.id), pending_a);
  auto stored_b = stored_last_used(b.id);
  ASSERT_TRUE(stored_b.has_value());
  EXPECT_GE(*stored_b, before);
  EXPECT_FALSE(stored_last_used(unused.id).has_value());
  EXPECT_FALSE(verifier.pending_last_used(a.id).has_value()) << "flushed uses are no longer pending";

  ASSERT_TRUE(verifier.flush_last_used().ok());
  EXPECT_EQ(store_->record_batches.size(), 1u) << "nothing pending, nothing written";
}

TEST_F(KeyVerifierTest, FailedFlushKeepsUsesForTheNextOne) {
  KeyVerifier verifier(*store_);
  CreatedKey a = add_key(Scope::kAgent);
  ASSERT_TRUE(verifier.verify(a.secret, Scope::kAgent).ok());
  auto pending = verifier.pending_last_used(a.id);
  store_->fail_record = true;
  EXPECT_FALSE(verifier.flush_last_used().ok());
  EXPECT_EQ(verifier.pending_last_used(a.id), pending);
  EXPECT_FALSE(stored_last_used(a.id).has_value());
  store_->fail_record = false;
  ASSERT_TRUE(verifier.flush_last_used().ok());
  EXPECT_EQ(stored_last_used(a.id), pending);
}

TEST_F(KeyVerifierTest, LastUsedNeverMovesBackwards) {
  CreatedKey a = add_key(Scope::kAgent);
  UnixMicros later = now_micros() + 1'000'000;
  ASSERT_TRUE(real_->record_key_use({{a.id, later}}).ok());
  ASSERT_TRUE(real_->record_key_use({{a.id, later - 500}}).ok());
  EXPECT_EQ(stored_last_used(a.id), later);
}

TEST_F(KeyVerifierTest, FlushOfADeletedKeyIsHarmless) {
  KeyVerifier verifier(*store_);
  CreatedKey a = add_key(Scope::kAgent);
  CreatedKey b = add_key(Scope::kAgent);
  ASSERT_TRUE(verifier.verify(a.secret, Scope::kAgent).ok());
  ASSERT_TRUE(verifier.verify(b.secret, Scope::kAgent).ok());
  ASSERT_TRUE(real_->delete_key(account_id_, a.id, Scope::kAgent).ok());
  ASSERT_TRUE(verifier.flush_last_used().ok());
  EXPECT_TRUE(stored_last_used(b.id).has_value());
  EXPECT_EQ(verifier.verify(a.secret, Scope::kAgent).code(), ErrorCode::kTokenInvalid) << "flush did not revive it";
}

}  // namespace
}  // namespace tollgate::keys
