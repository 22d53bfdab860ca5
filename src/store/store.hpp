// The Store: everything Tollgate persists, behind one interface with two implementations
// (sqlite/ and postgres/). Calls are synchronous and thread-safe; each backend keeps its own
// connection pool. Errors: PLATFORM_UNAVAILABLE when the database cannot be reached,
// NOT_FOUND / EMAIL_TAKEN / ... for the cases named per method.
//
// Money-moving operations are split in two layers so that the rules live in one place:
// src/ledger holds the rules (balance checks, spending limits, idempotency) and drives a
// LedgerTxn, whose bulk primitives each backend implements (one round trip per primitive
// on PostgreSQL, whatever the batch size). Writes of keys and sessions are split the same
// way: apply_account_writes (store.cpp) holds their rules and drives an AccountTxn, so that
// a batch of them is one transaction and one fsync (group commit, common/group_commit.hpp).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <span>
#include <string_view>
#include <variant>
#include <utility>
#include <vector>

#include "common/clock.hpp"
#include "common/crypto.hpp"
#include "common/money.hpp"
#include "common/result.hpp"
#include "keys/key.hpp"

namespace tollgate::store {

// ---- accounts and sessions -------------------------------------------------------------

struct Account {
  std::string id;
  std::string email;
  bool is_admin = false;
  UnixMicros created_at = 0;
};

struct AccountCredentials {
  Account account;
  std::string password_hash;  // argon2id string from libsodium
};

// ---- keys -------------------------------------------------------------------------------

enum class Period { kDay, kMonth, kTotal };
std::string_view to_string(Period period);
std::optional<Period> parse_period(std::string_view text);

struct SpendLimit {
  Micros amount_micros = 0;
  Period period = Period::kTotal;
};

// The integer a key's row is found by: the first 8 bytes of its hash, big-endian, top bit
// cleared (a non-negative int64 on both backends). Lookups also compare the full hash, so
// equal values of two different keys can only make the second insert fail, never match the
// wrong key (migrations/0003_key_lookup.sql says why the table is keyed this way).
std::int64_t key_lookup(const Sha256& hash);

struct NewKey {
  std::string id;
  std::string account_id;
  std::string name;
  keys::Scope scope = keys::Scope::kAgent;
  Sha256 hash{};
  std::string last4;
  UnixMicros created_at = 0;
  std::optional<SpendLimit> spend_limit;
};

struct KeyRecord {
  std::string id;
  std::string account_id;
  std::string name;
  keys::Scope scope = keys::Scope::kAgent;
  std::string last4;
  UnixMicros created_at = 0;
  std::optional<UnixMicros> last_used_at;
  std::optional<SpendLimit> spend_limit;
};

// What a lookup by hash yields: enough to authorise, nothing more.
struct KeyIdentity {
  std::string key_id;
  std::string account_id;
  keys::Scope scope = keys::Scope::kAgent;
  std::string last4;
};

struct KeyUse {
  std::string key_id;
  UnixMicros used_at = 0;
};

// ---- writes of keys and sessions ---------------------------------------------------------

// Creates `key` unless its account already holds `max_keys` keys of its scope (then
// INVALID_REQUEST, nothing written). Counting and inserting happen in one transaction
// that holds the account's key-creation lock, so concurrent creates never pass the limit.
struct CreateKey {
  NewKey key;
  std::optional<std::size_t> max_keys;  // nullopt: no limit (tools and tests that seed keys)
};
// NOT_FOUND if the key does not exist, is of another scope, or belongs to another account.
struct DeleteKey {
  std::string account_id;
  std::string key_id;
  keys::Scope scope = keys::Scope::kAgent;
};
struct CreateSession {
  Sha256 hash{};
  std::string account_id;
  UnixMicros expires_at = 0;
};
struct DeleteSession {  // deleting a session that does not exist is not an error
  Sha256 hash{};
};
using AccountWrite = std::variant<CreateKey, DeleteKey, CreateSession, DeleteSession>;

// Primitives for one write transaction of keys and sessions. Errors are the database's
// (PLATFORM_UNAVAILABLE): the rules, and their error codes, are in apply_account_writes.
class AccountTxn {
 public:
  virtual ~AccountTxn() = default;
  // Holds `account_id`'s key-creation lock until the transaction ends (PostgreSQL: the
  // account's row, so that other processes queue; SQLite: a no-op, since BEGIN IMMEDIATE
  // already serialises every writer).
  virtual Status lock_account(std::string_view account_id) = 0;
  virtual Result<std::int64_t> count_keys(std::string_view account_id, keys::Scope scope) = 0;
  // false, with nothing inserted and the transaction still usable, when another key already
  // has this key's lookup value (key_lookup): a 1 in 2^63 chance per pair of keys.
  virtual Result<bool> insert_key(const NewKey& key) = 0;
  // false when no key matches all three.
  virtual Result<bool> delete_key(std::string_view account_id, std::string_view key_id, keys::Scope scope) = 0;
  virtual Status insert_session(const Sha256& hash, std::string_view account_id, UnixMicros created_at,
                                UnixMicros expires_at) = 0;
  virtual Status delete_session(const Sha256& hash) = 0;
  virtual Status commit() = 0;
};

// ---- ledger -----------------------------------------------------------------------------

// Ledger account ids are derived, so that a batch can sort them into the global lock order
// (all credits, then all keys, then all earnings) without a lookup.
std::string credits_account(std::string_view account_id);   // "credits:acc_..."
std::string earnings_account(std::string_view account_id);  // "earnings:acc_..."
inline constexpr std::string_view kDepositsAccount = "platform:deposits";

enum class TransferKind { kDeposit, kCharge, kRefund };
std::string_view to_string(TransferKind kind);
std::optional<TransferKind> parse_transfer_kind(std::string_view text);

// One immutable double-entry transfer: `amount_micros` (> 0) leaves `debit_account` and
// arrives in `credit_account`.
struct Transfer {
  std::string id;
  TransferKind kind = TransferKind::kDeposit;
  std::string debit_account;
  std::string credit_account;
  Micros amount_micros = 0;
  std::string payer_account_id;  // account whose ledger account is debited ("" for platform)
  std::string payee_account_id;  // account whose ledger account is credited
  std::string key_id;            // agent key charged (charges and their refunds)
  std::string key_last4;
  std::string tool;
  std::string idempotency_key;   // charges only, unique per payee (the provider)
  std::string request_fingerprint;
  std::string refund_of;         // refunds: the charge's id
  std::string note;
  UnixMicros created_at = 0;
  std::int64_t seq = 0;          // assigned by the store, orders transfers
};

// A key's row as a charge sees it, locked for the transaction.
struct LockedKey {
  std::string key_id;
  std::string account_id;
  std::optional<SpendLimit> spend_limit;
  UnixMicros period_start = 0;   // start of the period `period_spent_micros` counts
  Micros period_spent_micros = 0;
};

struct KeySpend {
  std::string key_id;
  UnixMicros period_start = 0;
  Micros period_spent_micros = 0;
};

struct BalanceUpdate {
  std::string ledger_account;
  Micros balance_micros = 0;
};

// Primitives for one database transaction that moves money. Every lock_* call locks in the
// order of its (sorted) input; callers lock credits, then keys, then earnings.
class LedgerTxn {
 public:
  virtual ~LedgerTxn() = default;
  // Locks and returns balances of existing ledger accounts (missing ones are absent).
  virtual Result<std::vector<BalanceUpdate>> lock_balances(const std::vector<std::string>& sorted_ids) = 0;
  // Locks and returns the keys that still exist.
  virtual Result<std::vector<LockedKey>> lock_keys(const std::vector<std::string>& sorted_ids) = 0;
  // Charges already recorded under (payee, idempotency key).
  virtual Result<std::vector<Transfer>> find_by_idempotency(std::string_view payee_account_id,
                                                            const std::vector<std::string>& idempotency_keys) = 0;
  virtual Result<std::optional<Transfer>> find_transfer(std::string_view transfer_id) = 0;
  // Id of the refund of `charge_id`, if any.
  virtual Result<std::optional<std::string>> find_refund_of(std::string_view charge_id) = 0;
  // Inserts transfers; fills in `seq`. A duplicate (payee, idempotency key) is a conflict
  // that fails the transaction with kIdempotencyConflict so the caller can retry.
  virtual Status insert_transfers(std::vector<Transfer>& transfers) = 0;
  virtual Status set_balances(const std::vector<BalanceUpdate>& updates) = 0;
  virtual Status set_key_spend(const std::vector<KeySpend>& updates) = 0;
  virtual Status commit() = 0;
};

// ---- reads for the wallet and usage pages -----------------------------------------------

struct Wallet {
  Micros balance_micros = 0;
  Micros earnings_micros = 0;
};

struct TransactionPage {
  std::vector<Transfer> transfers;
  std::optional<std::int64_t> next_cursor;  // seq to continue below
};

// Charges of one UTC day, agent key and tool, net of refunds (a refunded charge counts
// neither in amount nor in calls). Callers sum cells into whatever view they show.
struct UsageCell {
  std::int64_t day = 0;  // days since 1970-01-01
  std::string key_id;    // kSpent only: a provider never learns who paid ("" for kEarned)
  std::string key_last4;
  std::string tool;
  Micros amount_micros = 0;
  std::int64_t calls = 0;
};

enum class UsageRole { kSpent, kEarned };

// The usage query, shared by both backends ($n parameters are valid SQLite too):
// $1 account, $2 from (inclusive), $3 to (exclusive); columns as UsageCell.
inline constexpr const char* kUsageSpentSql =
    "SELECT c.created_at / 86400000000, c.key_id, MAX(c.key_last4), c.tool, SUM(c.amount_micros), COUNT(*) "
    "FROM transfers c WHERE c.kind = 'charge' AND c.payer_account_id = $1 AND c.created_at >= $2 "
    "AND c.created_at < $3 AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.refund_of = c.id) "
    "GROUP BY 1, 2, 4 ORDER BY 1";
inline constexpr const char* kUsageEarnedSql =
    "SELECT c.created_at / 86400000000, '', '', c.tool, SUM(c.amount_micros), COUNT(*) "
    "FROM transfers c WHERE c.kind = 'charge' AND c.payee_account_id = $1 AND c.created_at >= $2 "
    "AND c.created_at < $3 AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.refund_of = c.id) "
    "GROUP BY 1, 4 ORDER BY 1";

struct LedgerReport {
  std::int64_t accounts = 0;
  std::int64_t transfers = 0;
  Micros balance_sum_micros = 0;
  // Ledger accounts whose stored balance differs from the sum of their transfers.
  std::vector<std::string> mismatched_accounts;
  // Transfers that break a rule (non-positive amount, same account on both sides).
  std::vector<std::string> invalid_transfers;
};

// ---- the interface -----------------------------------------------------------------------

class Store {
 public:
  virtual ~Store() = default;
  virtual std::string_view backend_name() const = 0;
  // The backend's own counters for GET /metrics: (name without the tollgate_ prefix, value).
  virtual std::vector<std::pair<std::string, std::int64_t>> metrics() const { return {}; }

  // Accounts. The first account ever created is admin. EMAIL_TAKEN if the email exists.
  // Creates the account's credits and earnings ledger accounts in the same transaction.
  virtual Result<Account> create_account(std::string_view email, std::string_view password_hash) = 0;
  virtual Result<std::optional<AccountCredentials>> find_account_by_email(std::string_view email) = 0;

  // Sessions are stored by hash; expired ones never match.
  virtual Result<std::optional<Account>> find_session(const Sha256& hash, UnixMicros now) = 0;

  // Keys.
  virtual Result<std::vector<KeyRecord>> list_keys(std::string_view account_id, keys::Scope scope) = 0;
  virtual Result<std::optional<KeyIdentity>> find_key(const Sha256& hash) = 0;
  // Records last-use times in one write (see keys/usage_tracker.hpp).
  virtual Status record_key_use(const std::vector<KeyUse>& uses) = 0;

  // Writes of keys and sessions. `work` runs inside one transaction and must call
  // txn.commit() to keep anything; retried from the start like run_ledger_txn.
  virtual Status run_account_txn(const std::function<Status(AccountTxn&)>& work) = 0;

  // Applies `writes` in ONE transaction (one commit), each with its own outcome (see the
  // AccountWrite types). They are concurrent requests, so any order is a valid one: they
  // run in the global lock order (key creations by account, key deletions by key id, then
  // sessions), which keeps transactions of several processes free of deadlocks. The rules'
  // checks come before the writes (no write ever fails by rule), so a batch needs no
  // savepoints; a database failure fails the whole batch, nothing of it written.
  std::vector<Status> apply_account_writes(std::span<const AccountWrite> writes);

  // One write in its own transaction (tools, tests, seeding); request paths batch them.
  Status insert_key(const NewKey& key);  // no limit on the account's key count
  Status delete_key(std::string_view account_id, std::string_view key_id, keys::Scope scope);
  Status create_session(const Sha256& hash, std::string_view account_id, UnixMicros expires_at);
  Status delete_session(const Sha256& hash);

  // Money. `work` runs inside one transaction; it must call txn.commit() to keep anything.
  // The store retries `work` from the start (a fresh transaction) when the database reports
  // a deadlock, a serialization failure or an idempotency race, up to a bounded count.
  virtual Status run_ledger_txn(const std::function<Status(LedgerTxn&)>& work) = 0;
  virtual Result<Wallet> wallet(std::string_view account_id) = 0;
  virtual Result<TransactionPage> transactions(std::string_view account_id, std::optional<std::int64_t> before_seq,
                                               int limit) = 0;
  virtual Result<std::vector<UsageCell>> usage(std::string_view account_id, UsageRole role, UnixMicros from,
                                    UnixMicros to) = 0;
  virtual Result<LedgerReport> verify_ledger() = 0;
};

// Opens "sqlite:PATH" or "postgres://..." / "postgresql://...", runs pending migrations,
// and returns the store. Throws std::runtime_error on failure (startup only).
std::unique_ptr<Store> open_store(std::string_view url);

}  // namespace tollgate::store
