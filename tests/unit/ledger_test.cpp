// The money invariants of DESIGN.md, proven on both backends (SQLite and a real
// PostgreSQL 15): double entry, no overdraft (equal balance is enough), spending limits,
// idempotency, refunds once, deletes win over in-flight charges, and `ledger verify`
// catching a tampered ledger.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "keys/key.hpp"
#include "ledger/charge_batcher.hpp"
#include "ledger/ledger.hpp"
#include "support/databases.hpp"

namespace tollgate::test {
namespace {

using ledger::ChargeRequest;
using ledger::Ledger;

constexpr Micros kCent = 10'000;

class LedgerTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (auto why = unavailable_reason(GetParam())) GTEST_SKIP() << *why;
    db_ = std::make_unique<TestDatabase>(GetParam());
    store_ = db_->open();
    ledger_ = std::make_unique<Ledger>(*store_);
    admin_ = store_->create_account("admin@example.com", "x").value();
    agent_ = store_->create_account("agent@example.com", "x").value();
    provider_ = store_->create_account("provider@example.com", "x").value();
  }

  // An agent key of `account` (default: the agent account), optionally with a limit.
  store::KeyIdentity make_key(const store::Account& account, std::optional<store::SpendLimit> limit = std::nullopt) {
    std::string secret = keys::generate_api_key();
    store::NewKey key{"key_" + random_hex(10), account.id, "test", keys::Scope::kAgent, keys::hash_secret(secret),
                      keys::last4(secret), now_micros(), limit};
    EXPECT_TRUE(store_->insert_key(key).ok());
    return store::KeyIdentity{key.id, account.id, keys::Scope::kAgent, key.last4};
  }

  ChargeRequest charge_of(const store::KeyIdentity& key, Micros amount, std::string idem = "", std::string tool = "echo") {
    return ChargeRequest{provider_.id, key.key_id, key.account_id, key.last4, tool, amount, idem,
                         ledger::charge_fingerprint(key.key_id, tool, amount)};
  }

  Result<ledger::ChargeResult> charge(const store::KeyIdentity& key, Micros amount, std::string idem = "",
                                      std::string tool = "echo") {
    std::vector<ChargeRequest> batch{charge_of(key, amount, idem, tool)};
    return std::move(ledger_->charge_batch(batch)[0]);
  }

  Micros balance(const store::Account& a) { return store_->wallet(a.id).value().balance_micros; }
  Micros earnings(const store::Account& a) { return store_->wallet(a.id).value().earnings_micros; }

  void expect_clean() {
    auto report = ledger_->verify();
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(ledger::is_clean(*report)) << "sum " << report->balance_sum_micros << ", mismatched "
                                           << report->mismatched_accounts.size();
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Ledger> ledger_;
  store::Account admin_, agent_, provider_;
};

TEST_P(LedgerTest, DepositThenChargeMovesMoneyAgentToProvider) {
  auto key = make_key(agent_);
  ASSERT_TRUE(ledger_->deposit(agent_.id, 50 * kCent, "welcome").ok());
  auto result = charge(key, 3 * kCent);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE(result->charge_id.starts_with("ch_"));
  EXPECT_EQ(balance(agent_), 47 * kCent);
  EXPECT_EQ(earnings(provider_), 3 * kCent);
  EXPECT_EQ(balance(provider_), 0);
  expect_clean();
}

TEST_P(LedgerTest, BalanceEqualToPriceIsEnoughAndOneMicroMoreIsNot) {
  auto key = make_key(agent_);
  ASSERT_TRUE(ledger_->deposit(agent_.id, kCent, "").ok());
  auto over = charge(key, kCent + 1);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.code(), ErrorCode::kInsufficientBalance);
  EXPECT_EQ(balance(agent_), kCent) << "a refused charge moves nothing";
  ASSERT_TRUE(charge(key, kCent).ok());
  EXPECT_EQ(balance(agent_), 0);
  auto empty = charge(key, 1);
  EXPECT_EQ(empty.code(), ErrorCode::kInsufficientBalance);
  expect_clean();
}

TEST_P(LedgerTest, ABatchAppliesChargesInOrderEachWithItsOwnOutcome) {
  auto key = make_key(agent_);
  ASSERT_TRUE(ledger_->deposit(agent_.id, 5 * kCent, "").ok());
  std::vector<ChargeRequest> batch;
  for (int i = 0; i < 8; ++i) batch.push_back(charge_of(key, kCent));
  auto results = ledger_->charge_batch(batch);
  ASSERT_EQ(results.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(results[i].ok(), i < 5) << i;
    if (i >= 5) {
      EXPECT_EQ(results[i].code(), ErrorCode::kInsufficientBalance);
    }
  }
  EXPECT_EQ(balance(agent_), 0);
  EXPECT_EQ(earnings(provider_), 5 * kCent);
  expect_clean();
}

// One batch from two agents' accounts (one of them with two keys) to two providers, with the
// same idempotency key under each provider and one refusal: each charge lands on its own
// account, key and provider, and every balance the batch touched is written.
TEST_P(LedgerTest, ABatchOfSeveralAccountsAndProvidersMovesEachChargeBetweenItsOwnAccounts) {
  auto first = make_key(agent_), second = make_key(agent_), admins = make_key(admin_);
  ASSERT_TRUE(ledger_->deposit(agent_.id, 10 * kCent, "").ok());
  ASSERT_TRUE(ledger_->deposit(admin_.id, 1 * kCent, "").ok());
  auto to_admin = [&](ChargeRequest r) {
    r.provider_account_id = admin_.id;
    return r;
  };
  std::vector<ChargeRequest> batch{
      charge_of(first, kCent, "same"),            // agent -> provider
      to_admin(charge_of(second, 2 * kCent, "same")),  // agent -> admin: same key, other provider
      charge_of(admins, kCent),                   // admin -> provider
      charge_of(admins, kCent),                   // admin has nothing left
      to_admin(charge_of(first, 3 * kCent)),      // agent -> admin
  };
  auto results = ledger_->charge_batch(batch);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(results[0].ok() && results[1].ok() && results[2].ok() && results[4].ok());
  EXPECT_FALSE(results[1]->replayed) << "idempotency keys are per provider";
  EXPECT_EQ(results[3].code(), ErrorCode::kInsufficientBalance);
  EXPECT_EQ(balance(agent_), 4 * kCent);
  EXPECT_EQ(balance(admin_), 0);
  EXPECT_EQ(earnings(provider_), 2 * kCent);
  EXPECT_EQ(earnings(admin_), 5 * kCent);
  // The agent's charges, newest first, each on its own key, payee and amount.
  auto page = store_->transactions(agent_.id, std::nullopt, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->transfers.size(), 4u);  // three charges and the deposit
  const auto& t = page->transfers;
  EXPECT_EQ(t[0].key_id, first.key_id);
  EXPECT_EQ(t[0].payee_account_id, admin_.id);
  EXPECT_EQ(t[0].amount_micros, 3 * kCent);
  EXPECT_EQ(t[1].key_id, second.key_id);
  EXPECT_EQ(t[1].payee_account_id, admin_.id);
  EXPECT_EQ(t[1].amount_micros, 2 * kCent);
  EXPECT_EQ(t[2].key_id, first.key_id);
  EXPECT_EQ(t[2].payee_account_id, provider_.id);
  EXPECT_EQ(t[2].amount_micros, kCent);
  expect_clean();
}

// A batch larger than one multi-row INSERT (16 rows on SQLite), with refusals in between:
// every applied charge is stored once, in batch order, under its own idempotency key.
TEST_P(LedgerTest, ALargeBatchIsStoredInOrderAcrossInsertStatements) {
  auto key = make_key(agent_);
  ASSERT_TRUE(ledger_->deposit(agent_.id, 40 * kCent, "").ok());
  std::vector<ChargeRequest> batch;
  for (int i = 0; i < 45; ++i) {
    // Items 10, 20 and 30 ask for more than the balance: refused, nothing stored.
    batch.push_back(charge_of(key, i % 10 == 0 && i > 0 && i < 40 ? 100 * kMicrosPerDollar : kCent,
                              "big-" + std::to_string(i)));
  }
  auto results = ledger_->charge_batch(batch);
  ASSERT_EQ(results.size(), 45u);
  std::vector<std::string> applied;  // charge ids in batch order
  for (int i = 0; i < 45; ++i) {
    if (results[i].ok()) applied.push_back(results[i]->charge_id);
  }
  // 42 asked for a cent each on 40 cents: the first 40 of them fit.
  ASSERT_EQ(applied.size(), 40u);
  EXPECT_EQ(balance(agent_), 0);
  auto page = store_->transactions(agent_.id, std::nullopt, 100);
  ASSERT_TRUE(page.ok());
  std::vector<std::string> listed;  // newest first
  for (const auto& t : page->transfers) {
    if (t.kind == store::TransferKind::kCharge) listed.push_back(t.id);
  }
  std::reverse(listed.begin(), listed.end());
  EXPECT_EQ(listed, applied);
  // Replaying the whole batch answers each applied charge with itself.
  auto again = ledger_->charge_batch(batch);
  std::vector<std::string> replayed;
  for (const auto& r : again) {
    if (r.ok()) replayed.push_back(r->charge_id);
  }
  EXPECT_EQ(replayed, applied);
  expect_clean();
}

TEST_P(LedgerTest, IdempotentRetryChargesOnceAndReturnsTheOriginal) {
  auto key = make_key(agent_);
  ASSERT_TRUE(ledger_->deposit(agent_.id, 10 * kCent, "").ok());
  auto first = charge(key, kCent, "req-1");
  ASSERT_TRUE(first.ok());
  auto retry = charge(key, kCent, "req-1");
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->charge_id, first->charge_id);
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(balance(agent_), 9 * kCent);

  auto other_amount = charge(key, 2 * kCent, "req-1");
  EXPECT_EQ(other_amount.code(), ErrorCode::kIdempotencyConflict);
  auto other_tool = charge(key, kCent, "req-1", "other_tool");
  EXPECT_EQ(other_tool.code(), ErrorCode::kIdempotencyConflict);
  // Within one batch, too.
  std::vector<ChargeRequest> batch{charge_of(key, kCent, "req-2"), charge_of(key, kCent, "req-2")};
  auto results = ledger_->charge_batch(batch);
  ASSERT_TRUE(results[0].ok() && results[1].ok());
  EXPECT_EQ(results[0]->charge_id, results[1]->charge_id);
  EXPECT_EQ(balance(agent_), 8 * kCent);
  expect_clean();
}

TEST_P(LedgerTest, IdempotencyKeysAreScopedPerProvider) {
  auto key = make_key(agent_);
  ASSERT_TRUE(ledger_->deposit(agent_.id, 10 * kCent, "").ok());
  ASSERT_TRUE(charge(key, kCent, "same").ok());
  auto other = charge_of(key, kCent, "same");
  other.provider_account_id = admin_.id;
  std::vector<ChargeRequest> batch{other};
  auto result = ledger_->charge_batch(batch);
  ASSERT_TRUE(result[0].ok());
  EXPECT_FALSE(result[0]->replayed);
  EXPECT_EQ(balance(agent_), 8 * kCent);
}

// A batch's first attempt does not look idempotency keys up: a key used before fails the
// insert, and the batch runs again with the lookups. Here the used keys come after a whole
// insert statement's rows (16) went in, so that attempt must leave nothing behind: new
// charges are made once, the replay answers with the original, the conflict fails alone.
TEST_P(LedgerTest, UsedKeysLateInABatchReplayOrConflictAndTheNewChargesAreMadeOnce) {
  auto key = make_key(agent_);
  ASSERT_TRUE(ledger_->deposit(agent_.id, 100 * kCent, "").ok());
  auto original = charge(key, kCent, "used-1");
  ASSERT_TRUE(original.ok());
  ASSERT_TRUE(charge(key, kCent, "used-2").ok());
  std::vector<ChargeRequest> batch;
  for (int i = 0; i < 20; ++i) batch.push_back(charge_of(key, kCent, "new-" + std::to_string(i)));
  batch.insert(batch.begin() + 17, charge_of(key, kCent, "used-1"));
  batch.insert(batch.begin() + 19, charge_of(key, 3 * kCent, "used-2"));  // another amount
  auto results = ledger_->charge_batch(batch);
  ASSERT_EQ(results.size(), 22u);
  std::set<std::string> made;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (i == 17) {
      ASSERT_TRUE(results[i].ok());
      EXPECT_EQ(results[i]->charge_id, original->charge_id);
      EXPECT_TRUE(results[i]->replayed);
    } else if (i == 19) {
      EXPECT_EQ(results[i].code(), ErrorCode::kIdempotencyConflict);
    } else {
      ASSERT_TRUE(results[i].ok()) << i;
      EXPECT_FALSE(results[i]->replayed) << i;
      made.insert(results[i]->charge_id);
    }
  }
  EXPECT_EQ(made.size(), 20u);
  EXPECT_EQ(balance(agent_), 78 * kCent);
  EXPECT_EQ(earnings(provider_), 22 * kCent);
  auto page = store_->transactions(agent_.id, std::nullopt, 100);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(std::count_if(page->transfers.begin(), page->transfers.end(),
                          [](const store::Transfer& t) { return t.kind == store::TransferKind::kCharge; }),
            22);
  expect_clean();
}

// A replay is routine (an SDK retrying after a lost answer), so on PostgreSQL the insert
// finds a used key itself (ON CONFLICT DO NOTHING) instead of failing on the unique index:
// no ERROR line in the server's log for an operator to chase.
TEST_P(LedgerTest, AReplayOrConflictLeavesNoErrorInThePostgresLog) {
  if (GetParam() != Backend::kPostgres) GTEST_SKIP() << "about PostgreSQL's server log";
  const char* log_path = std::getenv("TOLLGATE_TEST_POSTGRES_LOG");
  if (!log_path) {
    if (std::getenv("TOLLGATE_REQUIRE_POSTGRES")) FAIL() << "TOLLGATE_TEST_POSTGRES_LOG is not set";
    GTEST_SKIP() << "TOLLGATE_TEST_POSTGRES_LOG is not set (scripts/pg-throwaway sets it)";
  }
  auto key = make_key(agent_);
  ASSERT_TRUE(ledger_->deposit(agent_.id, 10 * kCent, "").ok());
  const std::string idem = "quiet-" + random_hex(8);  // unique in the log shared by every test
  auto first = charge(key, kCent, idem);
  ASSERT_TRUE(first.ok());
  auto replay = charge(key, kCent, idem);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(charge(key, 2 * kCent, idem).code(), ErrorCode::kIdempotencyConflict);
  EXPECT_EQ(balance(agent_), 9 * kCent);
  // The server writes an error's lines before it answers, so they would be there by now.
  std::ifstream log(log_path);
  ASSERT_TRUE(log) << log_path;
  for (std::string line; std::getline(log, line);) {
    EXPECT_EQ(line.find(idem), std::string::npos) << line;
  }
}

TEST_P(LedgerTest, SpendingLimitsPerDayMonthAndTotal) {
  ASSERT_TRUE(ledger_->deposit(agent_.id, 100 * kCent, "").ok());
  for (auto period : {store::Period::kDay, store::Period::kMonth, store::Period::kTotal}) {
    auto key = make_key(agent_, store::SpendLimit{3 * kCent, period});
    ASSERT_TRUE(charge(key, 2 * kCent).ok());
    ASSERT_TRUE(charge(key, kCent).ok()) << "reaching the limit exactly is allowed";
    auto over = charge(key, 1);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.code(), ErrorCode::kSpendingLimitExceeded) << store::to_string(period);
  }
  // The limit is the key's own: another key of the same account is unaffected.
  auto free_key = make_key(agent_);
  EXPECT_TRUE(charge(free_key, 5 * kCent).ok());
  expect_clean();
}

TEST_P(LedgerTest, ADayLimitStartsAgainTheNextDay) {
  ASSERT_TRUE(ledger_->deposit(agent_.id, 100 * kCent, "").ok());
  auto key = make_key(agent_, store::SpendLimit{kCent, store::Period::kDay});
  ASSERT_TRUE(charge(key, kCent).ok());
  EXPECT_EQ(charge(key, kCent).code(), ErrorCode::kSpendingLimitExceeded);
  // Pretend the counted spend happened yesterday.
  db_->execute("UPDATE api_keys SET period_start = period_start - 86400000000 WHERE id = '" + key.key_id + "'");
  EXPECT_TRUE(charge(key, kCent).ok());
}

TEST_P(LedgerTest, RefundOnceOwnChargesOnlyAndItRestoresTheLimit) {
  ASSERT_TRUE(ledger_->deposit(agent_.id, 10 * kCent, "").ok());
  auto key = make_key(agent_, store::SpendLimit{2 * kCent, store::Period::kTotal});
  auto charged = charge(key, 2 * kCent);
  ASSERT_TRUE(charged.ok());
  EXPECT_EQ(charge(key, kCent).code(), ErrorCode::kSpendingLimitExceeded);

  auto stranger = ledger_->refund(admin_.id, charged->charge_id);
  EXPECT_EQ(stranger.code(), ErrorCode::kNotFound) << "another provider's charge is not found";
  auto unknown = ledger_->refund(provider_.id, "ch_doesnotexist");
  EXPECT_EQ(unknown.code(), ErrorCode::kNotFound);

  auto refund = ledger_->refund(provider_.id, charged->charge_id);
  ASSERT_TRUE(refund.ok()) << refund.error().message;
  EXPECT_EQ(refund->amount_micros, 2 * kCent);
  EXPECT_EQ(balance(agent_), 10 * kCent);
  EXPECT_EQ(earnings(provider_), 0);
  auto twice = ledger_->refund(provider_.id, charged->charge_id);
  EXPECT_EQ(twice.code(), ErrorCode::kAlreadyRefunded);
  auto refund_of_refund = ledger_->refund(provider_.id, refund->refund_id);
  EXPECT_EQ(refund_of_refund.code(), ErrorCode::kNotFound);
  EXPECT_TRUE(charge(key, 2 * kCent).ok()) << "the refunded amount no longer counts against the limit";
  expect_clean();
}

TEST_P(LedgerTest, AChargeForADeletedKeyFailsEvenIfItWasVerifiedBefore) {
  ASSERT_TRUE(ledger_->deposit(agent_.id, 10 * kCent, "").ok());
  auto key = make_key(agent_);
  ASSERT_TRUE(store_->delete_key(agent_.id, key.key_id, keys::Scope::kAgent).ok());
  auto result = charge(key, kCent);
  EXPECT_EQ(result.code(), ErrorCode::kTokenInvalid);
  EXPECT_EQ(balance(agent_), 10 * kCent);
}

TEST_P(LedgerTest, TransactionsAndUsageReflectCharges) {
  ASSERT_TRUE(ledger_->deposit(agent_.id, 10 * kCent, "gift").ok());
  auto key = make_key(agent_);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(charge(key, kCent, "", i % 2 ? "search" : "echo").ok());
  auto page = store_->transactions(agent_.id, std::nullopt, 4);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->transfers.size(), 4u);
  ASSERT_TRUE(page->next_cursor.has_value());
  for (std::size_t i = 1; i < page->transfers.size(); ++i) EXPECT_GT(page->transfers[i - 1].seq, page->transfers[i].seq);
  auto rest = store_->transactions(agent_.id, page->next_cursor, 4);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->transfers.size(), 2u);
  EXPECT_FALSE(rest->next_cursor.has_value());
  EXPECT_EQ(rest->transfers.back().kind, store::TransferKind::kDeposit);
  EXPECT_EQ(rest->transfers.back().note, "gift");

  UnixMicros now = now_micros();
  auto spent = store_->usage(agent_.id, store::UsageRole::kSpent, now - 3'600'000'000, now + 3'600'000'000);
  ASSERT_TRUE(spent.ok());
  Micros total = 0;
  std::int64_t echo_calls = 0;
  for (const auto& cell : *spent) {
    EXPECT_EQ(cell.key_id, key.key_id);
    EXPECT_EQ(cell.key_last4, key.last4);
    EXPECT_EQ(cell.day, now / 86'400'000'000);
    total += cell.amount_micros;
    if (cell.tool == "echo") echo_calls += cell.calls;
  }
  EXPECT_EQ(spent->size(), 2u) << "one cell per (day, key, tool)";
  EXPECT_EQ(total, 5 * kCent);
  EXPECT_EQ(echo_calls, 3);
  // A refunded charge leaves usage.
  auto page_now = store_->transactions(agent_.id, std::nullopt, 1);
  ASSERT_TRUE(ledger_->refund(provider_.id, page_now->transfers[0].id).ok());
  auto after_refund = store_->usage(agent_.id, store::UsageRole::kSpent, now - 3'600'000'000, now + 3'600'000'000);
  Micros refunded_total = 0;
  for (const auto& cell : *after_refund) refunded_total += cell.amount_micros;
  EXPECT_EQ(refunded_total, 4 * kCent);
  auto earned = store_->usage(provider_.id, store::UsageRole::kEarned, now - 3'600'000'000, now + 3'600'000'000);
  ASSERT_TRUE(earned.ok());
  ASSERT_EQ(earned->size(), 2u);
  for (const auto& cell : *earned) EXPECT_TRUE(cell.key_id.empty()) << "a provider never learns who paid";
}

TEST_P(LedgerTest, VerifyCatchesATamperedBalanceAndAnUnbalancedTransfer) {
  auto key = make_key(agent_);
  ASSERT_TRUE(ledger_->deposit(agent_.id, 10 * kCent, "").ok());
  ASSERT_TRUE(charge(key, kCent).ok());
  expect_clean();
  db_->execute("UPDATE ledger_accounts SET balance_micros = balance_micros + 1 WHERE id = 'credits:" + agent_.id + "'");
  auto report = ledger_->verify();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(ledger::is_clean(*report));
  EXPECT_EQ(report->balance_sum_micros, 1);
  ASSERT_EQ(report->mismatched_accounts.size(), 1u);
  EXPECT_EQ(report->mismatched_accounts[0], "credits:" + agent_.id);
}

TEST_P(LedgerTest, TwoHundredConcurrentChargesOnFiftyCentsExactlyFiftySucceed) {
  ASSERT_TRUE(ledger_->deposit(agent_.id, 50 * kCent, "").ok());
  std::vector<store::KeyIdentity> keys;
  for (int i = 0; i < 4; ++i) keys.push_back(make_key(agent_));
  ledger::ChargeBatcher batcher(*ledger_, ledger::BatcherOptions{64, 10'000, 2});
  std::atomic<int> ok{0}, insufficient{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 20; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto r = batcher.charge_sync(charge_of(keys[(t + i) % keys.size()], kCent));
        if (r.ok()) {
          ++ok;
        } else if (r.code() == ErrorCode::kInsufficientBalance) {
          ++insufficient;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 50);
  EXPECT_EQ(insufficient.load(), 150);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(balance(agent_), 0);
  EXPECT_EQ(earnings(provider_), 50 * kCent);
  expect_clean();
}

TEST_P(LedgerTest, ConcurrentRetriesWithOneIdempotencyKeyChargeOnce) {
  ASSERT_TRUE(ledger_->deposit(agent_.id, 50 * kCent, "").ok());
  auto key = make_key(agent_);
  ledger::ChargeBatcher batcher(*ledger_, ledger::BatcherOptions{64, 10'000, 2});
  std::mutex mutex;
  std::set<std::string> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto r = batcher.charge_sync(charge_of(key, kCent, "the-one"));
        ASSERT_TRUE(r.ok()) << r.error().message;
        std::lock_guard lock(mutex);
        ids.insert(r->charge_id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(balance(agent_), 49 * kCent);
  expect_clean();
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerTest, ::testing::ValuesIn(test_backends()),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
}  // namespace tollgate::test
