// The Store contract, on both backends: accounts (first is admin, unique email), sessions
// (by hash, expiry), keys (hash lookup, scoping, per-account isolation, deletion for good,
// last-use batching), and what is stored instead of a secret.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include "keys/key.hpp"
#include "store/migrations.hpp"
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
  EXPECT_EQ(db_->query_value("SELECT COUNT(*) FROM api_key_uses"), "0") << "and its last-use row with it";
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
  // A use flushed after its key was deleted brings nothing back.
  ASSERT_TRUE(store_->delete_key(alice.id, k2.id, keys::Scope::kAgent).ok());
  ASSERT_TRUE(store_->record_key_use({{k2.id, 5'000}}).ok());
  EXPECT_EQ(db_->query_value("SELECT COUNT(*) FROM api_key_uses"), "1");
  EXPECT_EQ(store_->list_keys(alice.id, keys::Scope::kAgent)->size(), 1u);
}

// The listing never hides a key, even one whose last-use row went missing: a key the owner
// cannot see is a key the owner cannot delete.
TEST_P(StoreTest, AKeyWithoutItsLastUseRowIsStillListedAndDeletable) {
  auto alice = store_->create_account("alice@example.com", "x").value();
  auto [secret, key] = new_key(alice.id);
  ASSERT_TRUE(store_->insert_key(key).ok());
  db_->execute("DELETE FROM api_key_uses");
  auto list = store_->list_keys(alice.id, keys::Scope::kAgent).value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0].last_used_at.has_value());
  ASSERT_TRUE(store_->delete_key(alice.id, key.id, keys::Scope::kAgent).ok());
  EXPECT_FALSE(store_->find_key(key.hash)->has_value());
}

// Key and session writes as the group commit applies them: one transaction for the lot,
// each write with its own outcome, a rule's refusal never failing its neighbours.
TEST_P(StoreTest, AccountWritesInOneBatchEachGetTheirOwnOutcome) {
  auto alice = store_->create_account("alice@example.com", "x").value();
  auto bob = store_->create_account("bob@example.com", "x").value();
  auto [kept_secret, kept] = new_key(alice.id);
  ASSERT_TRUE(store_->insert_key(kept).ok());
  auto [s1, first] = new_key(alice.id);
  auto [s2, second] = new_key(alice.id);
  auto [s3, bobs] = new_key(bob.id);
  Sha256 session = keys::hash_secret(keys::generate_session_token());
  Sha256 no_session = keys::hash_secret(keys::generate_session_token());

  std::vector<store::AccountWrite> batch = {
      store::CreateKey{first, 2},   // alice: 1 key -> 2
      store::CreateKey{second, 2},  // alice: already at 2: refused
      store::DeleteKey{bob.id, kept.id, keys::Scope::kAgent},  // another account's key: not found
      store::CreateKey{bobs, 2},
      store::CreateSession{session, alice.id, now_micros() + 1'000'000},
      store::DeleteSession{no_session},  // nothing to delete: not an error
      store::DeleteKey{alice.id, "key_nosuchkey", keys::Scope::kAgent},
  };
  auto outcomes = store_->apply_account_writes(batch);
  ASSERT_EQ(outcomes.size(), batch.size());
  EXPECT_TRUE(outcomes[0].ok());
  EXPECT_EQ(outcomes[1].code(), ErrorCode::kInvalidRequest);
  EXPECT_NE(outcomes[1].error().message.find("at most 2 keys"), std::string::npos) << outcomes[1].error().message;
  EXPECT_EQ(outcomes[2].code(), ErrorCode::kNotFound);
  EXPECT_TRUE(outcomes[3].ok());
  EXPECT_TRUE(outcomes[4].ok());
  EXPECT_TRUE(outcomes[5].ok());
  EXPECT_EQ(outcomes[6].code(), ErrorCode::kNotFound);

  EXPECT_EQ(store_->list_keys(alice.id, keys::Scope::kAgent)->size(), 2u);
  EXPECT_TRUE(store_->find_key(keys::hash_secret(s1))->has_value());
  EXPECT_FALSE(store_->find_key(keys::hash_secret(s2))->has_value()) << "a refused create writes nothing";
  EXPECT_TRUE(store_->find_key(keys::hash_secret(kept_secret))->has_value()) << "bob cannot delete alice's key";
  EXPECT_TRUE(store_->find_key(keys::hash_secret(s3))->has_value());
  EXPECT_EQ(store_->find_session(session, now_micros())->value().id, alice.id);

  // A delete and a create for the same account in one batch: the limit counts what the
  // transaction has left, and provider keys count apart from agent keys.
  auto [s4, third] = new_key(alice.id);
  auto [s5, provider] = new_key(alice.id, keys::Scope::kProvider);
  std::vector<store::AccountWrite> next = {store::CreateKey{third, 2}, store::DeleteKey{alice.id, first.id, keys::Scope::kAgent},
                                           store::CreateKey{provider, 2}};
  outcomes = store_->apply_account_writes(next);
  EXPECT_TRUE(outcomes[1].ok());
  EXPECT_TRUE(outcomes[2].ok());
  // Creates run before deletes (the lock order), so alice was still at 2 agent keys.
  EXPECT_EQ(outcomes[0].code(), ErrorCode::kInvalidRequest);
  EXPECT_EQ(store_->list_keys(alice.id, keys::Scope::kAgent)->size(), 1u);
}

// Concurrent creates through separate stores (separate connection pools, as separate
// processes would have) never pass the limit: the count and the insert are one transaction
// holding the account's creation lock.
TEST_P(StoreTest, ConcurrentKeyCreatesFromTwoStoresNeverPassTheLimit) {
  auto alice = store_->create_account("alice@example.com", "x").value();
  auto other = db_->open();
  constexpr std::size_t kLimit = 5;
  std::atomic<int> created{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      store::Store& store = t % 2 ? *other : *store_;
      for (int i = 0; i < 4; ++i) {
        std::vector<store::AccountWrite> writes = {store::CreateKey{new_key(alice.id).second, kLimit},
                                                   store::CreateKey{new_key(alice.id).second, kLimit}};
        for (const auto& outcome : store.apply_account_writes(writes)) {
          if (outcome.ok()) {
            ++created;
          } else {
            EXPECT_EQ(outcome.code(), ErrorCode::kInvalidRequest) << outcome.error().message;
            ++refused;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), static_cast<int>(kLimit));
  EXPECT_EQ(refused.load(), 8 * 4 * 2 - static_cast<int>(kLimit));
  EXPECT_EQ(store_->list_keys(alice.id, keys::Scope::kAgent)->size(), kLimit);
}

// A key deleted through one store (one process) is gone for another store on the same
// database at its very next lookup: no cache, and on SQLite the read anchor shares a lock,
// not a snapshot.
TEST_P(StoreTest, AKeyDeletedThroughAnotherStoreIsGoneAtTheNextLookup) {
  auto alice = store_->create_account("alice@example.com", "x").value();
  auto other = db_->open();
  for (int round = 0; round < 20; ++round) {
    auto [secret, key] = new_key(alice.id);
    ASSERT_TRUE(other->insert_key(key).ok());
    ASSERT_TRUE(store_->find_key(keys::hash_secret(secret))->has_value()) << "round " << round;
    ASSERT_TRUE(other->delete_key(alice.id, key.id, keys::Scope::kAgent).ok());
    EXPECT_FALSE(store_->find_key(keys::hash_secret(secret))->has_value()) << "round " << round;
  }
}

// The WAL's checkpoint sequence number (header bytes 12-15, big-endian): it grows by one
// each time a writer restarts the WAL from its beginning.
std::uint32_t wal_restarts(const std::string& wal_path) {
  std::ifstream in(wal_path, std::ios::binary);
  char header[16] = {};
  if (!in.read(header, sizeof header)) return 0;
  std::uint32_t n = 0;
  for (int i = 12; i < 16; ++i) n = (n << 8) | static_cast<unsigned char>(header[i]);
  return n;
}

// SQLite only: this store's read anchor must not starve another process's checkpoints.
// While another store writes without pause, its WAL must still restart from the beginning
// (which needs a complete checkpoint and then a moment without readers of old snapshots),
// instead of growing for as long as both run.
TEST_P(StoreTest, AnotherWritersWalStillRestartsWhileThisStoreIsOpen) {
  if (GetParam() != Backend::kSqlite) GTEST_SKIP() << "SQLite's WAL";
  auto alice = store_->create_account("alice@example.com", "x").value();
  ASSERT_TRUE(store_->find_key(Sha256{}).ok());  // this store reads, so its anchor is in use
  std::string wal = db_->url().substr(std::string_view("sqlite:").size()) + "-wal";
  auto writer = db_->open();
  std::uint32_t before = wal_restarts(wal);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int commits = 0;
  while (wal_restarts(wal) < before + 2 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(writer->insert_key(new_key(alice.id).second).ok());
    ++commits;
  }
  EXPECT_GE(wal_restarts(wal), before + 2) << "after " << commits << " commits in 30 s";
}

std::int64_t store_metric(const store::Store& store, std::string_view name) {
  for (const auto& [n, v] : store.metrics()) {
    if (n == name) return v;
  }
  return -1;
}

// SQLite only: the WAL is checkpointed beside the writers (not inside a commit), and still
// starts again from its beginning while this store's own writers write without pause, from
// several threads, with reads going on: its size stays bounded.
TEST_P(StoreTest, ThisStoresWalStartsAgainWhileItWritesWithoutPause) {
  if (GetParam() != Backend::kSqlite) GTEST_SKIP() << "SQLite's WAL";
  auto alice = store_->create_account("alice@example.com", "x").value();
  std::string wal = db_->url().substr(std::string_view("sqlite:").size()) + "-wal";
  std::uint32_t before = wal_restarts(wal);
  std::atomic<bool> stop{false};
  std::atomic<int> commits{0}, failures{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      while (!stop) {
        auto [secret, key] = new_key(alice.id);
        if (!store_->insert_key(key).ok() || !store_->find_key(keys::hash_secret(secret))->has_value()) ++failures;
        ++commits;
      }
    });
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::uintmax_t largest_wal = 0;
  while (wal_restarts(wal) < before + 3 && std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    largest_wal = std::max(largest_wal, std::filesystem::file_size(wal, ec));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(wal_restarts(wal), before + 3) << "after " << commits.load() << " commits";
  EXPECT_GE(store_metric(*store_, "sqlite_checkpoints"), 3);
  EXPECT_EQ(store_metric(*store_, "sqlite_checkpoint_failures"), 0);
  // 4,000 frames of 4 KiB between checkpoints, plus what commits during one.
  EXPECT_LT(largest_wal, std::uintmax_t{40} << 20);
}

// A hash that differs from `hash` only where the lookup integer does not look: the top bit
// of the first byte and the bytes after the eighth.
Sha256 same_lookup_other_hash(Sha256 hash) {
  hash[0] ^= 0x80;
  hash[31] ^= 0x01;
  return hash;
}

TEST(KeyLookup, IsTheFirstEightBytesBigEndianWithTheTopBitCleared) {
  Sha256 hash{};
  EXPECT_EQ(store::key_lookup(hash), 0);
  hash = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xff};
  EXPECT_EQ(store::key_lookup(hash), 0x0123456789abcdefLL);
  hash = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(store::key_lookup(hash), std::numeric_limits<std::int64_t>::max());
  hash = {0x80};
  EXPECT_EQ(store::key_lookup(hash), 0);
  EXPECT_EQ(store::key_lookup(same_lookup_other_hash(hash)), store::key_lookup(hash));
}

// insert_transfers fills in each transfer's `seq` as the table numbered it, also when one
// call spans several statements (SQLite inserts up to 16 rows per statement), and a duplicate
// idempotency key anywhere in a call is a conflict that leaves none of the call's rows.
TEST_P(StoreTest, InsertedTransfersGetTheirTableSeqAndAConflictOrAMissingAccountLeavesNothing) {
  auto account = store_->create_account("payee@example.com", "hash");
  ASSERT_TRUE(account.ok());
  auto transfers = [&](const std::string& tag, int count) {
    std::vector<store::Transfer> out(count);
    for (int i = 0; i < count; ++i) {
      store::Transfer& t = out[i];
      t.id = "dep_" + tag + "_" + std::to_string(i);
      t.kind = store::TransferKind::kDeposit;
      t.debit_account = std::string(store::kDepositsAccount);
      t.credit_account = store::credits_account(account->id);
      t.amount_micros = 1 + i;
      t.payee_account_id = account->id;
      t.idempotency_key = tag + "-" + std::to_string(i);
      t.created_at = now_micros();
    }
    return out;
  };
  auto insert = [&](std::vector<store::Transfer>& batch) {
    return store_->run_ledger_txn([&](store::LedgerTxn& txn) -> Status {
      if (auto st = txn.insert_transfers(batch); !st.ok()) return st;
      return txn.commit();
    });
  };
  // What the table holds for `id`: its seq, or -1 when absent.
  auto stored_seq = [&](const std::string& id) {
    std::int64_t seq = -2;
    auto st = store_->run_ledger_txn([&](store::LedgerTxn& txn) -> Status {
      auto found = txn.find_transfer(id);
      if (!found) return found.error();
      seq = found->has_value() ? (**found).seq : -1;
      return txn.commit();
    });
    EXPECT_TRUE(st.ok());
    return seq;
  };

  auto first = transfers("a", 3);
  ASSERT_TRUE(insert(first).ok());
  auto batch = transfers("b", 40);  // 16 + 16 + 8 rows on SQLite
  ASSERT_TRUE(insert(batch).ok());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(stored_seq(batch[i].id), batch[i].seq) << i;
    if (i > 0) {
      EXPECT_GT(batch[i].seq, batch[i - 1].seq) << i;
    }
  }
  EXPECT_GT(batch.front().seq, first.back().seq);

  // Row 18 of 20 (the second statement on SQLite) repeats an idempotency key already stored.
  auto clash = transfers("c", 20);
  clash[17].idempotency_key = batch[3].idempotency_key;
  auto status = insert(clash);
  EXPECT_EQ(status.code(), ErrorCode::kIdempotencyConflict);
  for (const auto& t : clash) EXPECT_EQ(stored_seq(t.id), -1) << t.id;

  // Row 5 of 20 credits a ledger account that does not exist: its foreign key, checked when
  // the transaction commits (0004_transfers_deferred_foreign_keys.sql), fails the whole
  // transaction, and none of its rows stays.
  auto orphan = transfers("d", 20);
  orphan[4].credit_account = store::credits_account("acct_missing");
  EXPECT_FALSE(insert(orphan).ok());
  for (const auto& t : orphan) EXPECT_EQ(stored_seq(t.id), -1) << t.id;
}

TEST_P(StoreTest, KeysSharingALookupValueAreNeverMistakenForEachOther) {
  auto alice = store_->create_account("alice@example.com", "x").value();
  auto [secret, key] = new_key(alice.id);
  ASSERT_TRUE(store_->insert_key(key).ok());
  Sha256 other = same_lookup_other_hash(key.hash);
  ASSERT_EQ(store::key_lookup(other), store::key_lookup(key.hash));
  EXPECT_FALSE(store_->find_key(other)->has_value()) << "same lookup value, different hash: not this key";

  auto [other_secret, clash] = new_key(alice.id);
  clash.hash = other;
  EXPECT_FALSE(store_->insert_key(clash).ok()) << "the second key of a lookup value cannot be stored";
  EXPECT_FALSE(store_->find_key(other)->has_value());
  auto found = store_->find_key(key.hash);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->key_id, key.id);
  // In a batch, the clash is that write's own outcome; its neighbours are written.
  auto [third_secret, third] = new_key(alice.id);
  std::vector<store::AccountWrite> batch{store::CreateKey{clash, std::nullopt}, store::CreateKey{third, std::nullopt}};
  auto outcomes = store_->apply_account_writes(batch);
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0].code(), ErrorCode::kPlatformUnavailable);
  EXPECT_TRUE(outcomes[1].ok());
  EXPECT_TRUE(store_->find_key(third.hash)->has_value());
  EXPECT_EQ(store_->list_keys(alice.id, keys::Scope::kAgent)->size(), 2u);
  EXPECT_EQ(db_->query_value("SELECT COUNT(*) FROM api_key_uses"), "2");
}

// A database created before 0003_key_lookup.sql: its keys are rewritten with the lookup
// value, computed in SQL, and every one of them still verifies, spend limit and last use kept.
TEST_P(StoreTest, KeysStoredBeforeTheLookupColumnAreFoundAfterMigrating) {
  TestDatabase old_db(GetParam());
  auto dialect = GetParam() == Backend::kSqlite ? store::Dialect::kSqlite : store::Dialect::kPostgres;
  auto migrations = store::migrations_for(dialect);
  ASSERT_EQ(migrations.front().version, 1);
  old_db.execute(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL);" +
      migrations.front().sql + "; INSERT INTO schema_migrations VALUES (1, '" + migrations.front().name + "', 0);" +
      "INSERT INTO accounts (id, email, password_hash, is_admin, created_at) VALUES ('acct_old', 'old@example.com', 'x', "
      "true, 1);");
  // Hashes that reach every corner of the conversion: top bit set and clear, every hex digit,
  // the smallest and the largest value. (0x80... would clear to the same value as 0x00...)
  std::vector<Sha256> hashes;
  for (std::string first8 : {"ffeeddccbbaa9988", "0123456789abcdef", "8000000000000000", "7fffffffffffffff",
                             "0000000000000001", "fedcba9876543210"}) {
    Sha256 hash = keys::hash_secret(first8);
    for (int i = 0; i < 8; ++i) hash[i] = static_cast<std::uint8_t>(std::stoi(first8.substr(2 * i, 2), nullptr, 16));
    hashes.push_back(hash);
  }
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    std::string hex = to_hex(hashes[i]);
    std::string blob = GetParam() == Backend::kSqlite ? "X'" + hex + "'" : "'\\x" + hex + "'::bytea";
    old_db.execute(
        "INSERT INTO api_keys (key_hash, id, account_id, name, scope, last4, created_at, last_used_at, "
        "spend_limit_micros, spend_period, period_start, period_spent_micros) VALUES (" +
        blob + ", 'key_old" + std::to_string(i) + "', 'acct_old', 'old key', 'agent:connect', 'ab12', 10, 20, 5000000, "
        "'day', 30, 40)");
  }

  auto store = old_db.open();
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    auto found = store->find_key(hashes[i]);
    ASSERT_TRUE(found.ok() && found->has_value()) << to_hex(hashes[i]);
    EXPECT_EQ((*found)->key_id, "key_old" + std::to_string(i));
    EXPECT_EQ(old_db.query_value("SELECT lookup FROM api_keys WHERE id = 'key_old" + std::to_string(i) + "'"),
              std::to_string(store::key_lookup(hashes[i])))
        << "SQL and C++ compute the same lookup value for " << to_hex(hashes[i]);
    EXPECT_FALSE(store->find_key(same_lookup_other_hash(hashes[i]))->has_value());
  }
  auto listed = store->list_keys("acct_old", keys::Scope::kAgent).value();
  ASSERT_EQ(listed.size(), hashes.size());
  EXPECT_EQ(listed[0].last_used_at, std::optional<UnixMicros>(20));
  ASSERT_TRUE(listed[0].spend_limit.has_value());
  EXPECT_EQ(listed[0].spend_limit->amount_micros, 5'000'000);
  EXPECT_EQ(old_db.query_value("SELECT SUM(period_spent_micros) FROM api_keys"), std::to_string(40 * hashes.size()));
  EXPECT_EQ(old_db.query_value("SELECT COUNT(*) FROM api_key_uses WHERE last_used_at = 20"),
            std::to_string(hashes.size()));
  // And new keys go in beside them.
  auto [secret, key] = new_key("acct_old");
  ASSERT_TRUE(store->insert_key(key).ok());
  EXPECT_TRUE(store->find_key(keys::hash_secret(secret))->has_value());
}

// A database created before 0004_transfers_deferred_foreign_keys.sql: its transfers keep
// their ids and seq through the migration (SQLite rebuilds the table), new ones follow the
// largest seq, and both foreign keys are then checked at commit.
TEST_P(StoreTest, TransfersStoredBeforeTheirForeignKeysWereDeferredAreKeptAfterMigrating) {
  TestDatabase old_db(GetParam());
  bool sqlite = GetParam() == Backend::kSqlite;
  auto migrations = store::migrations_for(sqlite ? store::Dialect::kSqlite : store::Dialect::kPostgres);
  old_db.execute(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL);" +
      migrations.front().sql + "; INSERT INTO schema_migrations VALUES (1, '" + migrations.front().name + "', 0);" +
      "INSERT INTO accounts (id, email, password_hash, is_admin, created_at) VALUES ('acct_old', 'old@example.com', 'x', "
      "true, 1);"
      "INSERT INTO ledger_accounts (id, account_id, balance_micros) VALUES ('credits:acct_old', 'acct_old', 6);");
  for (int i = 1; i <= 3; ++i) {
    old_db.execute("INSERT INTO transfers (id, kind, debit_account, credit_account, amount_micros, payee_account_id, "
                   "idempotency_key, created_at) VALUES ('dep_old" + std::to_string(i) +
                   "', 'deposit', 'platform:deposits', 'credits:acct_old', " + std::to_string(i) + ", 'acct_old', 'old-" +
                   std::to_string(i) + "', " + std::to_string(i) + ")");
  }
  old_db.execute("UPDATE ledger_accounts SET balance_micros = -6 WHERE id = 'platform:deposits'");
  const std::string seqs_sql = sqlite ? "SELECT group_concat(seq, ',') FROM (SELECT seq FROM transfers ORDER BY seq)"
                                      : "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM transfers";
  std::string old_seqs = old_db.query_value(seqs_sql);

  auto store = old_db.open();
  EXPECT_EQ(old_db.query_value(seqs_sql), old_seqs);
  auto page = store->transactions("acct_old", std::nullopt, 10).value();
  ASSERT_EQ(page.transfers.size(), 3u);
  EXPECT_EQ(page.transfers[0].id, "dep_old3");
  EXPECT_EQ(page.transfers[2].amount_micros, 1);
  EXPECT_EQ(page.transfers[2].idempotency_key, "old-1");
  if (sqlite) {
    EXPECT_NE(old_db.query_value("SELECT sql FROM sqlite_master WHERE name = 'transfers'").find("DEFERRABLE INITIALLY "
                                                                                                 "DEFERRED"),
              std::string::npos);
    EXPECT_EQ(old_db.query_value("SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = 'transfers' AND type = 'index' "
                                 "AND name LIKE 'transfers_%'"),
              "4");
  } else {
    EXPECT_EQ(old_db.query_value("SELECT COUNT(*) FROM pg_constraint WHERE conrelid = 'transfers'::regclass AND "
                                 "contype = 'f' AND condeferrable AND condeferred"),
              "2");
  }

  std::vector<store::Transfer> next(1);
  next[0].id = "dep_new";
  next[0].kind = store::TransferKind::kDeposit;
  next[0].debit_account = std::string(store::kDepositsAccount);
  next[0].credit_account = "credits:acct_old";
  next[0].amount_micros = 4;
  next[0].payee_account_id = "acct_old";
  next[0].created_at = 4;
  auto st = store->run_ledger_txn([&](store::LedgerTxn& txn) -> Status {
    if (auto inserted = txn.insert_transfers(next); !inserted.ok()) return inserted;
    return txn.commit();
  });
  ASSERT_TRUE(st.ok());
  EXPECT_GT(next[0].seq, page.transfers[0].seq);
}

// A database upgraded by a newer release: this binary refuses it instead of misreading it,
// and says why.
TEST_P(StoreTest, ADatabaseMigratedByANewerReleaseIsRefused) {
  int newest = store::migrations_for(store::Dialect::kSqlite).back().version;
  store_.reset();
  db_->execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (" + std::to_string(newest + 1) +
               ", 'from_the_future.sql', 0)");
  try {
    db_->open();
    ADD_FAILURE() << "opened a database of a newer schema";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this Tollgate knows"), std::string::npos) << e.what();
  }
  db_->execute("DELETE FROM schema_migrations WHERE version = " + std::to_string(newest + 1));
  EXPECT_NE(db_->open(), nullptr) << "the same database at this binary's version opens";
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(test_backends()),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
}  // namespace tollgate::test
