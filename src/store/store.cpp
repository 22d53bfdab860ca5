// Backend-independent parts of the store: names of enums, ledger account ids, the rules of
// key and session writes (apply_account_writes), and the factory that picks a backend from
// the --db URL.
#include "store/store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>

#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace tollgate::store {

std::int64_t key_lookup(const Sha256& hash) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | hash[i];
  return static_cast<std::int64_t>(value & 0x7FFF'FFFF'FFFF'FFFFull);
}

std::string_view to_string(Period period) {
  switch (period) {
    case Period::kDay: return "day";
    case Period::kMonth: return "month";
    case Period::kTotal: return "total";
  }
  return "total";
}

std::optional<Period> parse_period(std::string_view text) {
  if (text == "day") return Period::kDay;
  if (text == "month") return Period::kMonth;
  if (text == "total") return Period::kTotal;
  return std::nullopt;
}

std::string_view to_string(TransferKind kind) {
  switch (kind) {
    case TransferKind::kDeposit: return "deposit";
    case TransferKind::kCharge: return "charge";
    case TransferKind::kRefund: return "refund";
  }
  return "deposit";
}

std::optional<TransferKind> parse_transfer_kind(std::string_view text) {
  if (text == "deposit") return TransferKind::kDeposit;
  if (text == "charge") return TransferKind::kCharge;
  if (text == "refund") return TransferKind::kRefund;
  return std::nullopt;
}

std::string credits_account(std::string_view account_id) { return "credits:" + std::string(account_id); }
std::string earnings_account(std::string_view account_id) { return "earnings:" + std::string(account_id); }

namespace {

Error too_many_keys(std::size_t max_keys) {
  return Error{ErrorCode::kInvalidRequest,
               fmt::format("An account can have at most {} keys of this kind; delete one first.", max_keys)};
}

// What a write is ordered by inside its kind (see apply_account_writes).
std::string_view lock_order_key(const AccountWrite& write) {
  if (auto* w = std::get_if<CreateKey>(&write)) return w->key.account_id;
  if (auto* w = std::get_if<DeleteKey>(&write)) return w->key_id;
  if (auto* w = std::get_if<CreateSession>(&write)) return w->account_id;
  const Sha256& hash = std::get<DeleteSession>(write).hash;
  return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}

// Runs the writes at `order` inside `txn`, filling `outcomes` (indexed like `writes`) with
// each one's own outcome. An error returned is the database's: the transaction is lost.
Status apply_in(AccountTxn& txn, std::span<const AccountWrite> writes, std::span<const std::size_t> order,
                std::vector<std::optional<Status>>& outcomes) {
  std::set<std::string, std::less<>> locked;
  // Keys per (account, scope) as this transaction has left them: counted once per batch.
  std::map<std::pair<std::string, keys::Scope>, std::int64_t> key_counts;
  for (std::size_t i : order) {
    const AccountWrite& write = writes[i];
    if (auto* create = std::get_if<CreateKey>(&write)) {
      const NewKey& key = create->key;
      auto count = key_counts.end();
      if (create->max_keys) {
        if (!locked.contains(key.account_id)) {
          if (auto st = txn.lock_account(key.account_id); !st.ok()) return st;
          locked.insert(key.account_id);
        }
        count = key_counts.find({key.account_id, key.scope});
        if (count == key_counts.end()) {
          auto n = txn.count_keys(key.account_id, key.scope);
          if (!n) return n.error();
          count = key_counts.emplace(std::pair{key.account_id, key.scope}, *n).first;
        }
        if (count->second >= static_cast<std::int64_t>(*create->max_keys)) {
          outcomes[i] = too_many_keys(*create->max_keys);
          continue;
        }
      }
      auto inserted = txn.insert_key(key);
      if (!inserted) return inserted.error();
      if (!*inserted) {
        // Nothing was written; the same request with a new key will almost surely succeed.
        outcomes[i] = Error{ErrorCode::kPlatformUnavailable,
                            "The key could not be created this time (its lookup value was taken); nothing was "
                            "created. Create it again."};
        continue;
      }
      if (count != key_counts.end()) ++count->second;
      outcomes[i] = ok_status();
    } else if (auto* del = std::get_if<DeleteKey>(&write)) {
      auto deleted = txn.delete_key(del->account_id, del->key_id, del->scope);
      if (!deleted) return deleted.error();
      if (!*deleted) {
        outcomes[i] = Error{ErrorCode::kNotFound, "No such key."};
        continue;
      }
      if (auto count = key_counts.find({del->account_id, del->scope}); count != key_counts.end()) --count->second;
      outcomes[i] = ok_status();
    } else if (auto* session = std::get_if<CreateSession>(&write)) {
      if (auto st = txn.insert_session(session->hash, session->account_id, now_micros(), session->expires_at); !st.ok())
        return st;
      outcomes[i] = ok_status();
    } else {
      if (auto st = txn.delete_session(std::get<DeleteSession>(write).hash); !st.ok()) return st;
      outcomes[i] = ok_status();
    }
  }
  return ok_status();
}

}  // namespace

std::vector<Status> Store::apply_account_writes(std::span<const AccountWrite> writes) {
  // The global lock order: kinds in variant order, then by account / key id / hash.
  std::vector<std::size_t> order(writes.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (writes[a].index() != writes[b].index()) return writes[a].index() < writes[b].index();
    return lock_order_key(writes[a]) < lock_order_key(writes[b]);
  });

  std::vector<std::optional<Status>> outcomes;
  Status status = run_account_txn([&](AccountTxn& txn) -> Status {
    outcomes.assign(writes.size(), std::nullopt);  // a retried transaction starts over
    if (auto applied = apply_in(txn, writes, order, outcomes); !applied.ok()) return applied;
    return txn.commit();
  });
  // A database failure fails every write of the batch, and none of them was written (the
  // same contract as Ledger::charge_batch); the caller may retry.
  if (!status.ok()) return std::vector<Status>(writes.size(), status);
  std::vector<Status> out;
  out.reserve(writes.size());
  for (auto& outcome : outcomes) {
    out.push_back(outcome ? std::move(*outcome) : Status(Error{ErrorCode::kInternal, "a write was left without an outcome"}));
  }
  return out;
}

namespace {

Status apply_one(Store& store, AccountWrite write) {
  return std::move(store.apply_account_writes(std::span<const AccountWrite>(&write, 1)).front());
}

}  // namespace

Status Store::insert_key(const NewKey& key) { return apply_one(*this, CreateKey{key, std::nullopt}); }

Status Store::delete_key(std::string_view account_id, std::string_view key_id, keys::Scope scope) {
  return apply_one(*this, DeleteKey{std::string(account_id), std::string(key_id), scope});
}

Status Store::create_session(const Sha256& hash, std::string_view account_id, UnixMicros expires_at) {
  return apply_one(*this, CreateSession{hash, std::string(account_id), expires_at});
}

Status Store::delete_session(const Sha256& hash) { return apply_one(*this, DeleteSession{hash}); }

std::unique_ptr<Store> open_store(std::string_view url) {
  if (url.starts_with("sqlite:")) return open_sqlite_store(url.substr(7));
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) return open_postgres_store(url);
  throw std::runtime_error("--db must be sqlite:PATH or postgres://...; got '" + std::string(url) + "'");
}

}  // namespace tollgate::store
