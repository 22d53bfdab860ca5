// Charge, refund and deposit rules. Locks are taken in one global order — all credits
// accounts, then all keys, then all earnings accounts, then platform accounts — so that
// concurrent transactions (several processes on PostgreSQL) can never deadlock.
#include "ledger/ledger.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "common/crypto.hpp"

namespace tollgate::ledger {
namespace {

using store::BalanceUpdate;
using store::LedgerTxn;
using store::LockedKey;
using store::Transfer;
using store::TransferKind;

UnixMicros period_start(store::Period period, UnixMicros now) {
  switch (period) {
    case store::Period::kDay: return start_of_day(now);
    case store::Period::kMonth: return start_of_month(now);
    case store::Period::kTotal: return 0;
  }
  return 0;
}

template <typename T>
std::vector<T> sorted_unique(std::vector<T> items) {
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  return items;
}

ChargeResult result_of(const Transfer& t, bool replayed) {
  return ChargeResult{t.id, t.tool, t.amount_micros, t.created_at, replayed};
}

Error conflict() {
  return Error{ErrorCode::kIdempotencyConflict,
               "This idempotency key was already used for a different charge (another key, tool or amount)."};
}

Error insufficient_balance() {
  return Error{ErrorCode::kInsufficientBalance,
               "The account's balance is below the price of this tool. Add credits in the dashboard (Wallet)."};
}

Error spending_limit_exceeded() {
  return Error{ErrorCode::kSpendingLimitExceeded,
               "This agent key has reached its spending limit. Raise it by creating a key with a higher limit in the "
               "dashboard (API Keys), or wait for the limit's period to start again."};
}

}  // namespace

std::string charge_fingerprint(std::string_view agent_key_id, std::string_view tool, Micros amount_micros) {
  // On the stack: every charge makes one.
  fmt::memory_buffer material;
  fmt::format_to(std::back_inserter(material), "{}\n{}\n{}", agent_key_id, tool, amount_micros);
  Sha256 digest = sha256(std::string_view(material.data(), material.size()));
  return to_hex(digest);
}

bool is_clean(const store::LedgerReport& report) {
  return report.balance_sum_micros == 0 && report.mismatched_accounts.empty() && report.invalid_transfers.empty();
}

std::vector<Result<ChargeResult>> Ledger::charge_batch(std::span<const ChargeRequest> requests) {
  std::vector<std::optional<Result<ChargeResult>>> outcomes;

  // The committer runs this for every batch, so it allocates per distinct account, key and
  // provider, not per charge where it can: names and earlier transfers are looked up by
  // views into `requests` and into containers whose elements do not move while the
  // transaction runs.
  int attempt = 0;
  auto status = store_.run_ledger_txn([&](LedgerTxn& txn) -> Status {
    // The transaction may run more than once (the store retries on deadlock, or when the
    // insert met an idempotency key used before); start from scratch each time.
    outcomes.assign(requests.size(), std::nullopt);
    UnixMicros now = now_micros();

    // Idempotency: earlier charges under the same (provider, key), from the database and
    // from this batch (`transfers` is reserved up front, so pointers into it stay valid).
    // The first attempt does not ask the database for every key: a key used before makes
    // the insert fail on the unique (payee, idempotency key) index, the store runs this
    // again, and the second attempt looks all the batch's keys up. Only a charge about to
    // be refused is looked up at once, since a refusal inserts nothing that could fail.
    // Used keys are rare (an SDK's network retry, a provider's replay), and looking every
    // key up first cost the committer, which runs one batch at a time, a statement per
    // charge on every batch (bench/README.md).
    const bool look_up_all = ++attempt > 1;
    using IdempotencyKey = std::pair<std::string_view, std::string_view>;  // provider, key
    std::map<IdempotencyKey, const Transfer*> seen;
    std::deque<Transfer> earlier;  // found in the database; a deque, so `seen` may point in
    if (look_up_all) {
      std::map<std::string_view, std::vector<std::string>> keys_by_provider;
      for (const auto& r : requests) {
        if (!r.idempotency_key.empty()) keys_by_provider[r.provider_account_id].push_back(r.idempotency_key);
      }
      for (auto& [provider, idem_keys] : keys_by_provider) {
        auto found = txn.find_by_idempotency(provider, sorted_unique(std::move(idem_keys)));
        if (!found) return found.error();
        for (Transfer& t : *found) {
          earlier.push_back(std::move(t));
          seen.emplace(IdempotencyKey{provider, earlier.back().idempotency_key}, &earlier.back());
        }
      }
    }
    auto replay_or_conflict = [&](const ChargeRequest& r, const Transfer& t) {
      return t.request_fingerprint == r.request_fingerprint ? Result<ChargeResult>(result_of(t, /*replayed=*/true))
                                                            : Result<ChargeResult>(conflict());
    };
    // Refuses request i, unless (first attempt) its key was used before: then the answer
    // is the original charge's, whatever the balance, limit or key is now.
    auto refuse = [&](std::size_t i, Error why) -> Status {
      const ChargeRequest& r = requests[i];
      if (!look_up_all && !r.idempotency_key.empty()) {
        auto found = txn.find_by_idempotency(r.provider_account_id, {r.idempotency_key});
        if (!found) return found.error();
        if (!found->empty()) {
          earlier.push_back(std::move(found->front()));
          seen.emplace(IdempotencyKey{r.provider_account_id, earlier.back().idempotency_key}, &earlier.back());
          outcomes[i] = replay_or_conflict(r, earlier.back());
          return ok_status();
        }
      }
      outcomes[i] = std::move(why);
      return ok_status();
    };

    // Ledger account names, made once per account; then lock in the global order.
    std::map<std::string_view, std::string> credit_of, earning_of;  // by account id
    std::set<std::string_view> key_set;
    for (const auto& r : requests) {
      if (!credit_of.contains(r.agent_account_id))
        credit_of.emplace(r.agent_account_id, store::credits_account(r.agent_account_id));
      if (!earning_of.contains(r.provider_account_id)) {
        earning_of.emplace(r.provider_account_id, store::earnings_account(r.provider_account_id));
      }
      key_set.insert(r.agent_key_id);
    }
    auto names = [](const std::map<std::string_view, std::string>& of) {
      std::vector<std::string> out;
      out.reserve(of.size());
      for (const auto& [account, name] : of) out.push_back(name);
      return sorted_unique(std::move(out));
    };
    std::map<std::string, Micros, std::less<>> balances;
    std::map<std::string, LockedKey, std::less<>> keys;
    auto credits = txn.lock_balances(names(credit_of));
    if (!credits) return credits.error();
    for (auto& b : *credits) balances[b.ledger_account] = b.balance_micros;
    auto locked_keys = txn.lock_keys(std::vector<std::string>(key_set.begin(), key_set.end()));
    if (!locked_keys) return locked_keys.error();
    for (auto& k : *locked_keys) keys[k.key_id] = k;
    auto earnings = txn.lock_balances(names(earning_of));
    if (!earnings) return earnings.error();
    for (auto& b : *earnings) balances[b.ledger_account] = b.balance_micros;

    std::vector<Transfer> transfers;
    transfers.reserve(requests.size());
    std::set<std::string_view> touched_balances, touched_keys;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const ChargeRequest& r = requests[i];
      if (!r.idempotency_key.empty()) {
        auto it = seen.find(IdempotencyKey{r.provider_account_id, r.idempotency_key});
        if (it != seen.end()) {
          outcomes[i] = replay_or_conflict(r, *it->second);
          continue;
        }
      }
      auto key = keys.find(r.agent_key_id);
      if (key == keys.end()) {
        // Deleted after verification, before this transaction: the delete wins.
        if (auto st = refuse(i, Error{ErrorCode::kTokenInvalid, "The agent key was deleted."}); !st.ok()) return st;
        continue;
      }
      const std::string& credit = credit_of.find(r.agent_account_id)->second;
      const std::string& earning = earning_of.find(r.provider_account_id)->second;
      auto credit_balance = balances.find(credit), earning_balance = balances.find(earning);
      if (credit_balance == balances.end() || earning_balance == balances.end()) {
        if (auto st = refuse(i, Error{ErrorCode::kChargeFailed, "The account's ledger is missing."}); !st.ok()) return st;
        continue;
      }
      LockedKey& k = key->second;
      if (k.spend_limit) {
        UnixMicros start = period_start(k.spend_limit->period, now);
        Micros spent = k.period_start == start ? k.period_spent_micros : 0;
        if (spent > k.spend_limit->amount_micros - r.amount_micros) {
          if (auto st = refuse(i, spending_limit_exceeded()); !st.ok()) return st;
          continue;
        }
      }
      if (credit_balance->second < r.amount_micros) {
        if (auto st = refuse(i, insufficient_balance()); !st.ok()) return st;
        continue;
      }

      credit_balance->second -= r.amount_micros;
      earning_balance->second += r.amount_micros;
      touched_balances.insert(credit);
      touched_balances.insert(earning);
      if (k.spend_limit) {
        UnixMicros start = period_start(k.spend_limit->period, now);
        k.period_spent_micros = (k.period_start == start ? k.period_spent_micros : 0) + r.amount_micros;
        k.period_start = start;
        touched_keys.insert(key->first);
      }
      Transfer& t = transfers.emplace_back();
      t.id = time_ordered_id("ch_");
      t.kind = TransferKind::kCharge;
      t.debit_account = credit;
      t.credit_account = earning;
      t.amount_micros = r.amount_micros;
      t.payer_account_id = r.agent_account_id;
      t.payee_account_id = r.provider_account_id;
      t.key_id = r.agent_key_id;
      t.key_last4 = r.agent_key_last4;
      t.tool = r.tool;
      t.idempotency_key = r.idempotency_key;
      t.request_fingerprint = r.request_fingerprint;
      t.created_at = now;
      if (!r.idempotency_key.empty()) seen.emplace(IdempotencyKey{r.provider_account_id, r.idempotency_key}, &t);
      outcomes[i] = result_of(t, false);
    }

    if (!transfers.empty()) {
      if (auto st = txn.insert_transfers(transfers); !st.ok()) return st;
      std::vector<BalanceUpdate> updates;
      for (std::string_view id : touched_balances) {
        auto b = balances.find(id);
        updates.push_back({b->first, b->second});
      }
      if (auto st = txn.set_balances(updates); !st.ok()) return st;
      std::vector<store::KeySpend> spends;
      for (std::string_view id : touched_keys) {
        const LockedKey& k = keys.find(id)->second;
        spends.push_back({k.key_id, k.period_start, k.period_spent_micros});
      }
      if (auto st = txn.set_key_spend(spends); !st.ok()) return st;
    }
    return txn.commit();
  });

  // On success every request has its outcome; on failure nothing was applied.
  std::vector<Result<ChargeResult>> out;
  out.reserve(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (status.ok()) {
      out.push_back(std::move(*outcomes[i]));
    } else {
      out.emplace_back(status.error());
    }
  }
  return out;
}

Result<RefundResult> Ledger::refund(std::string_view provider_account_id, std::string_view charge_id) {
  std::optional<RefundResult> result;
  auto status = store_.run_ledger_txn([&](LedgerTxn& txn) -> Status {
    auto found = txn.find_transfer(charge_id);
    if (!found) return found.error();
    const std::optional<Transfer>& charge = *found;
    if (!charge || charge->kind != TransferKind::kCharge || charge->payee_account_id != provider_account_id) {
      return Error{ErrorCode::kNotFound, "No charge with this id was made with your provider keys."};
    }
    auto existing = txn.find_refund_of(charge->id);
    if (!existing) return existing.error();
    if (existing->has_value()) {
      return Error{ErrorCode::kAlreadyRefunded, "This charge was already refunded (" + **existing + ")."};
    }
    // Global lock order: credits, keys, earnings.
    auto credits = txn.lock_balances({charge->debit_account});
    if (!credits) return credits.error();
    auto keys = txn.lock_keys({charge->key_id});
    if (!keys) return keys.error();
    auto earnings = txn.lock_balances({charge->credit_account});
    if (!earnings) return earnings.error();
    if (credits->size() != 1 || earnings->size() != 1) return Error{ErrorCode::kChargeFailed, "The ledger accounts are missing."};
    Micros credit_balance = (*credits)[0].balance_micros;
    Micros earning_balance = (*earnings)[0].balance_micros;
    if (earning_balance < charge->amount_micros) {
      return Error{ErrorCode::kInsufficientBalance, "Your earnings are below the amount of this charge."};
    }

    Transfer t;
    t.id = time_ordered_id("re_");
    t.kind = TransferKind::kRefund;
    t.debit_account = charge->credit_account;
    t.credit_account = charge->debit_account;
    t.amount_micros = charge->amount_micros;
    t.payer_account_id = charge->payee_account_id;
    t.payee_account_id = charge->payer_account_id;
    t.key_id = charge->key_id;
    t.key_last4 = charge->key_last4;
    t.tool = charge->tool;
    t.refund_of = charge->id;
    t.created_at = now_micros();
    std::vector<Transfer> transfers{t};
    if (auto st = txn.insert_transfers(transfers); !st.ok()) return st;
    if (auto st = txn.set_balances({{charge->debit_account, credit_balance + charge->amount_micros},
                                    {charge->credit_account, earning_balance - charge->amount_micros}});
        !st.ok())
      return st;
    // Give the amount back to the key's spending limit if the charge counted in its period.
    // (A deleted key has nothing to give back to.)
    if (keys->size() == 1 && (*keys)[0].spend_limit && charge->created_at >= (*keys)[0].period_start) {
      const LockedKey& k = (*keys)[0];
      Micros spent = std::max<Micros>(0, k.period_spent_micros - charge->amount_micros);
      if (auto st = txn.set_key_spend({{k.key_id, k.period_start, spent}}); !st.ok()) return st;
    }
    result = RefundResult{t.id, charge->id, t.amount_micros};
    return txn.commit();
  });
  if (!status.ok()) return status.error();
  return std::move(*result);
}

Result<DepositResult> Ledger::deposit(std::string_view account_id, Micros amount_micros, std::string_view note) {
  std::optional<DepositResult> result;
  auto status = store_.run_ledger_txn([&](LedgerTxn& txn) -> Status {
    std::string credit = store::credits_account(account_id);
    std::string deposits(store::kDepositsAccount);
    auto locked = txn.lock_balances({credit});
    if (!locked) return locked.error();
    auto platform = txn.lock_balances({deposits});
    if (!platform) return platform.error();
    if (locked->size() != 1 || platform->size() != 1) return Error{ErrorCode::kNotFound, "No such account."};
    Micros balance = (*locked)[0].balance_micros;
    if (balance > std::numeric_limits<Micros>::max() - amount_micros) {
      return Error{ErrorCode::kInvalidRequest, "This deposit would overflow the balance."};
    }
    Transfer t;
    t.id = time_ordered_id("dep_");
    t.kind = TransferKind::kDeposit;
    t.debit_account = deposits;
    t.credit_account = credit;
    t.amount_micros = amount_micros;
    t.payee_account_id = std::string(account_id);
    t.note = std::string(note);
    t.created_at = now_micros();
    std::vector<Transfer> transfers{t};
    if (auto st = txn.insert_transfers(transfers); !st.ok()) return st;
    if (auto st = txn.set_balances({{credit, balance + amount_micros},
                                    {deposits, (*platform)[0].balance_micros - amount_micros}});
        !st.ok())
      return st;
    result = DepositResult{t.id, balance + amount_micros};
    return txn.commit();
  });
  if (!status.ok()) return status.error();
  return std::move(*result);
}

}  // namespace tollgate::ledger
