// The Store contract, on both backends: accounts (first is admin, unique email), sessions
// (by hash, expiry), keys (hash lookup, scoping, per-account isolation, deletion for good,
// last-use batching), and what is stored instead of a secret.
#include <gtest/gtest.h>

#include "keys/key.hpp"
#include "support/databases.hpp"

namespace tollgate::test {
namespace {

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (auto why = unavailable_reason(GetParam())) GTEST_SKIP() << *why;
    db_ = std::make_unique<TestDatabase>(GetParam());
    store_ = db_->open();
  }

  std::pair<std::string, store::NewKey> new_key(const std::string& account_id, keys::Scope scope = keys::Scope::kAgent) {
    std::string secret = keys::generate_api_key();
    return {secret, store::NewKey{"key_" + random_hex(10), account_id, "name", scope, keys::hash_secret(secret),
                                  keys::last4(secret), now_micros(), std::nullopt}};
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<store::Store> store_;
};

TEST_P(StoreTest, FirstAccountIsAdminAndEmailsAreUnique) {
  auto first = store_->create_account("a@example.com", "hash");
  auto second = store_->create_account("b@example.com", "hash");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(first->is_admin);
  EXPECT_FALSE(second->is_admin);
  auto again = store_->create_account("a@example.com", "hash");
  EXPECT_EQ(again.code(), ErrorCode::kEmailTaken);
  auto found = store_->find_account_by_email("b@example.com");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->account.id, second->id);
  EXPECT_EQ((*found)->password_hash, "hash");
  EXPECT_FALSE(store_->find_account_by_email("nobody@example.com")->has_value());
}

TEST_P(StoreTest, SessionsMatchByHashUntilTheyExpireOrAreDeleted) {
  auto account = store_->create_account("a@example.com", "hash").value();
  Sha256 hash = keys::hash_secret(keys::generate_session_token());
  UnixMicros now = now_micros();
  ASSERT_TRUE(store_->create_session(hash, account.id, now + 1'000'000).ok());
  EXPECT_EQ(store_->find_session(hash, now)->value().id, account.id);
  EXPECT_FALSE(store_->find_session(hash, now + 1'000'000)->has_value()) << "expired";
  EXPECT_FALSE(store_->find_session(Sha256{}, now)->has_value());
  ASSERT_TRUE(store_->delete_session(hash).ok());
  EXPECT_FALSE(store_->find_session(hash, now)->has_value());
}

TEST_P(StoreTest, KeysAreFoundByHashScopedAndDeletedForGood) {
  auto alice = store_->create_account("alice@example.com", "x").value();
  auto bob = store_->create_account("bob@example.com", "x").value();
  auto [secret, key] = new_key(alice.id);
  ASSERT_TRUE(store_->insert_key(key).ok());
  auto found = store_->find_key(keys::hash_secret(secret));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->key_id, key.id);
  EXPECT_EQ((*found)->account_id, alice.id);
  EXPECT_EQ((*found)->scope, keys::Scope::kAgent);

  EXPECT_TRUE(store_->list_keys(bob.id, keys::Scope::kAgent)->empty());
  EXPECT_TRUE(store_->list_keys(alice.id, keys::Scope::kProvider)->empty());
  EXPECT_EQ(store_->delete_key(bob.id, key.id, keys::Scope::kAgent).code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->delete_key(alice.id, key.id, keys::Scope::kProvider).code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store_->find_key(keys::hash_secret(secret))->has_value()) << "failed deletes change nothing";

  ASSERT_TRUE(store_->delete_key(alice.id, key.id, keys::Scope::kAgent).ok());
  EXPECT_FALSE(store_->find_key(keys::hash_secret(secret))->has_value());
  EXPECT_EQ(store_->delete_key(alice.id, key.id, keys::Scope::kAgent).code(), ErrorCode::kNotFound);
  EXPECT_EQ(db_->query_value("SELECT COUNT(*) FROM api_keys"), "0") << "the row is gone, hash included";
}

TEST_P(StoreTest, OnlyTheHashAndLastFourAreStored) {
  auto alice = store_->create_account("alice@example.com", "x").value();
  auto [secret, key] = new_key(alice.id);
  ASSERT_TRUE(store_->insert_key(key).ok());
  EXPECT_EQ(db_->query_value("SELECT last4 FROM api_keys"), secret.substr(secret.size() - 4));
  std::string hex_hash = to_hex(keys::hash_secret(secret));
  std::string stored = GetParam() == Backend::kSqlite ? db_->query_value("SELECT lower(hex(key_hash)) FROM api_keys")
                                                      : db_->query_value("SELECT encode(key_hash, 'hex') FROM api_keys");
  EXPECT_EQ(stored, hex_hash);
  // No column of any row holds the secret or its random part.
  std::string hex_part = secret.substr(keys::kApiKeyPrefix.size());
  std::string like =
      "SELECT COUNT(*) FROM api_keys WHERE id || name || last4 || scope LIKE '%" + hex_part.substr(0, 16) + "%'";
  EXPECT_EQ(db_->query_value(like), "0");
}

TEST_P(StoreTest, LastUseIsRecordedInOneBatchAndNeverMovesBackwards) {
  auto alice = store_->create_account("alice@example.com", "x").value();
  auto [s1, k1] = new_key(alice.id);
  auto [s2, k2] = new_key(alice.id);
  ASSERT_TRUE(store_->insert_key(k1).ok() && store_->insert_key(k2).ok());
  ASSERT_TRUE(store_->record_key_use({{k1.id, 2'000}, {k2.id, 3'000}, {"key_deleted_meanwhile", 4'000}}).ok());
  ASSERT_TRUE(store_->record_key_use({{k1.id, 1'000}}).ok());
  auto list = store_->list_keys(alice.id, keys::Scope::kAgent).value();
  ASSERT_EQ(list.size(), 2u);
  for (const auto& k : list) EXPECT_EQ(k.last_used_at.value_or(0), k.id == k1.id ? 2'000 : 3'000);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(test_backends()),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
}  // namespace tollgate::test
