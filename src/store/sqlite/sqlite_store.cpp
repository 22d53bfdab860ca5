// SQLite implementation of Store. Reads run on pooled connections in autocommit mode (WAL
// gives each statement a consistent snapshot); writes take `BEGIN IMMEDIATE` so that two
// writers queue on the database lock instead of deadlocking on an upgrade. Writers of this
// process first queue on an in-process mutex: SQLite's busy handler, which other processes'
// writers still meet, sleeps 1 to 100 ms between tries, where a mutex wakes the next writer
// as soon as the lock is free.
#include "store/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "store/migrations.hpp"
#include "store/sqlite/connection.hpp"

namespace tollgate::store {
namespace {

using sqlite::Connection;
using sqlite::ConnectionPool;
using sqlite::Statement;

// Readers: enough for every server thread (the writer has its own connection); SQLite
// readers are cheap.
constexpr std::size_t kMaxConnections = 16;
// Bounded retries of a ledger transaction that met an idempotency key used before (a charge
// batch looks its keys up only when it runs again) or lost a race for one.
constexpr int kMaxTxnAttempts = 3;
// The read anchor (connection.hpp) holds a snapshot for at most kAnchorHold, then leaves a
// reader gap of kAnchorGap for other processes' checkpoints: reads lose the anchor ~5% of
// the time, and another process's checkpoint waits at most 100 ms for it.
constexpr std::chrono::milliseconds kAnchorHold{100};
constexpr std::chrono::milliseconds kAnchorGap{5};
// The WAL is checkpointed (connection.hpp, Checkpointer) each time this many frames (pages
// of 4 KiB) have been committed: 16 MiB. Four times SQLite's default, so that the one step
// of a checkpoint that holds writers back comes once in several hundred commits; a WAL of
// this size still takes two of SQLite's hash blocks to search per page read.
constexpr int kCheckpointFrames = 4000;

// Transfers go in with one INSERT of up to this many rows: SQLite then prepares the
// statement's run and opens the cursors of the table and its five indexes once per
// statement instead of once per row (a batch of charges is one statement or a few). A
// multi-row INSERT that could stop halfway would keep a statement journal (a copy of every
// page it touches, to undo its first rows): OR FAIL (the ledger rolls the whole transaction
// back on any failure) and foreign keys checked at COMMIT (0004_transfers_deferred_
// foreign_keys.sql) leave it nothing to undo (bench/README.md, "Ninth" and "Tenth session").
constexpr std::size_t kTransfersPerInsert = 16;
constexpr std::size_t kTransferColumns = 15;

// "INSERT OR FAIL INTO transfers (...) VALUES (?1, ..., ?15), (?16, ...)" for `rows` rows, built once
// and never changed: static storage, as the statement cache (keyed by address) requires.
const char* insert_transfers_sql(std::size_t rows) {
  static const std::array<std::string, kTransfersPerInsert + 1> sql = [] {
    std::array<std::string, kTransfersPerInsert + 1> all;
    for (std::size_t n = 1; n <= kTransfersPerInsert; ++n) {
      std::string q =
          "INSERT OR FAIL INTO transfers (id, kind, debit_account, credit_account, amount_micros, payer_account_id, "
          "payee_account_id, key_id, key_last4, tool, idempotency_key, request_fingerprint, refund_of, note, "
          "created_at) VALUES ";
      for (std::size_t r = 0; r < n; ++r) {
        q += r ? ", (" : "(";
        for (std::size_t c = 1; c <= kTransferColumns; ++c) {
          q += (c > 1 ? ", ?" : "?") + std::to_string(r * kTransferColumns + c);
        }
        q += ")";
      }
      all[n] = std::move(q);
    }
    return all;
  }();
  return sql[rows].c_str();
}

Error unavailable(Connection& conn, std::string_view what) {
  spdlog::error("sqlite: {} failed: {}", what, conn.last_error());
  return Error{ErrorCode::kPlatformUnavailable, "The database is unavailable; nothing was changed. Try again shortly."};
}

Error unavailable(std::string_view what, std::string_view why) {
  spdlog::error("sqlite: {} failed: {}", what, why);
  return Error{ErrorCode::kPlatformUnavailable, "The database is unavailable; nothing was changed. Try again shortly."};
}

// Rolls back on scope exit unless committed. Prepared statements, not exec(): a batch pays
// for no parsing.
class WriteTxn {
 public:
  explicit WriteTxn(Connection& conn) : conn_(conn) { began_ = run("BEGIN IMMEDIATE"); }
  ~WriteTxn() { if (began_ && !done_) run("ROLLBACK"); }
  bool began() const { return began_; }
  bool commit() {
    done_ = run("COMMIT");
    return done_;
  }

 private:
  bool run(const char* sql) {
    auto s = conn_.prepare(sql);
    s.step();
    return !s.failed();
  }

  Connection& conn_;
  bool began_ = false;
  bool done_ = false;
};

Transfer read_transfer(const Statement& s) {
  // Column order of kTransferColumns.
  Transfer t;
  t.seq = s.int64(0);
  t.id = s.text(1);
  t.kind = parse_transfer_kind(s.text(2)).value_or(TransferKind::kDeposit);
  t.debit_account = s.text(3);
  t.credit_account = s.text(4);
  t.amount_micros = s.int64(5);
  t.payer_account_id = s.text(6);
  t.payee_account_id = s.text(7);
  t.key_id = s.text(8);
  t.key_last4 = s.text(9);
  t.tool = s.text(10);
  t.idempotency_key = s.text(11);
  t.request_fingerprint = s.text(12);
  t.refund_of = s.text(13);
  t.note = s.text(14);
  t.created_at = s.int64(15);
  return t;
}

#define TRANSFER_COLUMNS                                                                           \
  "seq, id, kind, debit_account, credit_account, amount_micros, payer_account_id, payee_account_id, " \
  "key_id, key_last4, tool, idempotency_key, request_fingerprint, refund_of, note, created_at"

std::optional<SpendLimit> read_spend_limit(const Statement& s, int amount_col, int period_col) {
  if (s.is_null(amount_col)) return std::nullopt;
  return SpendLimit{s.int64(amount_col), parse_period(s.text(period_col)).value_or(Period::kTotal)};
}

// What every write transaction reports to its runner (run_txn): whether BEGIN IMMEDIATE
// succeeded, whether the work committed, and whether its failure is a race that another
// attempt can win (an idempotency key).
class SqliteTxnState {
 public:
  explicit SqliteTxnState(Connection& conn) : conn_(conn), txn_(conn) {}
  bool began() const { return txn_.began(); }
  bool committed() const { return committed_; }
  bool retryable() const { return retryable_; }

 protected:
  Status commit_now() {
    if (!txn_.commit()) return unavailable(conn_, "commit");
    committed_ = true;
    return ok_status();
  }
  void mark_retryable() { retryable_ = true; }

  Connection& conn_;

 private:
  WriteTxn txn_;
  bool committed_ = false;
  bool retryable_ = false;
};

class SqliteLedgerTxn final : public LedgerTxn, public SqliteTxnState {
 public:
  explicit SqliteLedgerTxn(Connection& conn) : SqliteTxnState(conn) {}

  Result<std::vector<BalanceUpdate>> lock_balances(const std::vector<std::string>& ids) override {
    std::vector<BalanceUpdate> out;
    for (const auto& id : ids) {
      auto s = conn_.prepare("SELECT balance_micros FROM ledger_accounts WHERE id = ?1");
      s.bind(1, id);
      if (s.step()) out.push_back({id, s.int64(0)});
      if (s.failed()) return unavailable(conn_, "lock_balances");
    }
    return out;
  }

  Result<std::vector<LockedKey>> lock_keys(const std::vector<std::string>& ids) override {
    std::vector<LockedKey> out;
    for (const auto& id : ids) {
      auto s = conn_.prepare(
          "SELECT id, account_id, spend_limit_micros, spend_period, period_start, period_spent_micros "
          "FROM api_keys WHERE id = ?1");
      s.bind(1, id);
      if (s.step()) {
        out.push_back({s.text(0), s.text(1), read_spend_limit(s, 2, 3), s.int64(4), s.int64(5)});
      }
      if (s.failed()) return unavailable(conn_, "lock_keys");
    }
    return out;
  }

  Result<std::vector<Transfer>> find_by_idempotency(std::string_view payee,
                                                    const std::vector<std::string>& idempotency_keys) override {
    std::vector<Transfer> out;
    for (const auto& key : idempotency_keys) {
      auto s = conn_.prepare("SELECT " TRANSFER_COLUMNS
                             " FROM transfers WHERE payee_account_id = ?1 AND idempotency_key = ?2");
      s.bind(1, payee).bind(2, key);
      if (s.step()) out.push_back(read_transfer(s));
      if (s.failed()) return unavailable(conn_, "find_by_idempotency");
    }
    return out;
  }

  Result<std::optional<Transfer>> find_transfer(std::string_view id) override {
    auto s = conn_.prepare("SELECT " TRANSFER_COLUMNS " FROM transfers WHERE id = ?1");
    s.bind(1, id);
    if (s.step()) return std::optional<Transfer>(read_transfer(s));
    if (s.failed()) return unavailable(conn_, "find_transfer");
    return std::optional<Transfer>();
  }

  Result<std::optional<std::string>> find_refund_of(std::string_view charge_id) override {
    auto s = conn_.prepare("SELECT id FROM transfers WHERE refund_of = ?1");
    s.bind(1, charge_id);
    if (s.step()) return std::optional<std::string>(s.text(0));
    if (s.failed()) return unavailable(conn_, "find_refund_of");
    return std::optional<std::string>();
  }

  // No RETURNING: SQLite runs it as a trigger, and a statement with a trigger keeps a
  // statement journal, into which it copies every page it touches (the table's and its five
  // indexes'). Per row, that was half of a charge's CPU in SQLite; `seq` is the rowid anyway.
  Status insert_transfers(std::vector<Transfer>& transfers) override {
    for (std::size_t first = 0; first < transfers.size(); first += kTransfersPerInsert) {
      std::size_t rows = std::min(kTransfersPerInsert, transfers.size() - first);
      auto s = conn_.prepare(insert_transfers_sql(rows));
      for (std::size_t r = 0; r < rows; ++r) {
        const Transfer& t = transfers[first + r];
        int p = static_cast<int>(r * kTransferColumns);
        s.bind(p + 1, t.id).bind(p + 2, to_string(t.kind)).bind(p + 3, t.debit_account).bind(p + 4, t.credit_account);
        s.bind(p + 5, t.amount_micros).bind(p + 6, t.payer_account_id).bind(p + 7, t.payee_account_id);
        s.bind(p + 8, t.key_id).bind(p + 9, t.key_last4).bind(p + 10, t.tool).bind(p + 11, t.idempotency_key);
        s.bind(p + 12, t.request_fingerprint).bind(p + 13, t.refund_of).bind(p + 14, t.note).bind(p + 15, t.created_at);
      }
      s.step();
      if (s.failed()) {
        if (s.rc() == SQLITE_CONSTRAINT || conn_.extended_error() == SQLITE_CONSTRAINT_UNIQUE) {
          mark_retryable();
          return Error{ErrorCode::kIdempotencyConflict, "a concurrent request used the same idempotency key"};
        }
        return unavailable(conn_, "insert_transfers");
      }
      // SQLite feeds the VALUES rows to the insert one at a time, in order, and AUTOINCREMENT
      // under the write lock gives each the next rowid: the rows are numbered consecutively
      // and the last one got the last rowid (store_test checks this against the table).
      std::int64_t last = sqlite3_last_insert_rowid(conn_.handle());
      for (std::size_t r = 0; r < rows; ++r) transfers[first + r].seq = last - static_cast<std::int64_t>(rows - 1 - r);
    }
    return ok_status();
  }

  Status set_balances(const std::vector<BalanceUpdate>& updates) override {
    for (const auto& u : updates) {
      auto s = conn_.prepare("UPDATE ledger_accounts SET balance_micros = ?2 WHERE id = ?1");
      s.bind(1, u.ledger_account).bind(2, u.balance_micros);
      s.step();
      if (s.failed()) return unavailable(conn_, "set_balances");
    }
    return ok_status();
  }

  Status set_key_spend(const std::vector<KeySpend>& updates) override {
    for (const auto& u : updates) {
      auto s = conn_.prepare("UPDATE api_keys SET period_start = ?2, period_spent_micros = ?3 WHERE id = ?1");
      s.bind(1, u.key_id).bind(2, u.period_start).bind(3, u.period_spent_micros);
      s.step();
      if (s.failed()) return unavailable(conn_, "set_key_spend");
    }
    return ok_status();
  }

  Status commit() override { return commit_now(); }

};

class SqliteAccountTxn final : public AccountTxn, public SqliteTxnState {
 public:
  explicit SqliteAccountTxn(Connection& conn) : SqliteTxnState(conn) {}

  // BEGIN IMMEDIATE has already taken the database's one write lock.
  Status lock_account(std::string_view) override { return ok_status(); }

  Result<std::int64_t> count_keys(std::string_view account_id, keys::Scope scope) override {
    auto s = conn_.prepare("SELECT COUNT(*) FROM api_keys WHERE account_id = ?1 AND scope = ?2");
    s.bind(1, account_id).bind(2, keys::to_string(scope));
    if (!s.step()) return unavailable(conn_, "count keys");
    return s.int64(0);
  }

  Result<bool> insert_key(const NewKey& key) override {
    std::int64_t lookup = key_lookup(key.hash);
    auto s = conn_.prepare(
        "INSERT INTO api_keys (id, account_id, name, scope, key_hash, last4, created_at, spend_limit_micros, "
        "spend_period, lookup) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (lookup) DO NOTHING");
    s.bind(1, key.id).bind(2, key.account_id).bind(3, key.name).bind(4, keys::to_string(key.scope));
    s.bind(5, key.hash).bind(6, key.last4).bind(7, key.created_at);
    if (key.spend_limit) {
      s.bind(8, key.spend_limit->amount_micros).bind(9, to_string(key.spend_limit->period));
    } else {
      s.bind_null(8).bind_null(9);
    }
    s.bind(10, lookup);
    s.step();
    if (s.failed()) return unavailable(conn_, "insert key");
    if (sqlite3_changes(conn_.handle()) == 0) return false;
    auto use = conn_.prepare("INSERT INTO api_key_uses (lookup) VALUES (?1)");
    use.bind(1, lookup);
    use.step();
    if (use.failed()) return unavailable(conn_, "insert key");
    return true;
  }

  Result<bool> delete_key(std::string_view account_id, std::string_view key_id, keys::Scope scope) override {
    auto s = conn_.prepare("DELETE FROM api_keys WHERE id = ?1 AND account_id = ?2 AND scope = ?3");
    s.bind(1, key_id).bind(2, account_id).bind(3, keys::to_string(scope));
    s.step();
    if (s.failed()) return unavailable(conn_, "delete key");
    return sqlite3_changes(conn_.handle()) > 0;
  }

  Status insert_session(const Sha256& hash, std::string_view account_id, UnixMicros created_at,
                        UnixMicros expires_at) override {
    auto s = conn_.prepare("INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)");
    s.bind(1, hash).bind(2, account_id).bind(3, created_at).bind(4, expires_at);
    s.step();
    if (s.failed()) return unavailable(conn_, "create session");
    return ok_status();
  }

  Status delete_session(const Sha256& hash) override {
    auto s = conn_.prepare("DELETE FROM sessions WHERE token_hash = ?1");
    s.bind(1, hash);
    s.step();
    if (s.failed()) return unavailable(conn_, "delete session");
    return ok_status();
  }

  Status commit() override { return commit_now(); }
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::string path) : pool_path_(path), pool_(std::move(path), kMaxConnections) {}

  void migrate() {
    auto conn = pool_.acquire();
    if (conn->exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                   "applied_at BIGINT NOT NULL)") != SQLITE_OK) {
      throw std::runtime_error("cannot create schema_migrations: " + conn->last_error());
    }
    for (const Migration& m : migrations_for(Dialect::kSqlite)) {
      WriteTxn txn(*conn);
      if (!txn.began()) throw std::runtime_error("cannot start migration: " + conn->last_error());
      auto check = conn->prepare("SELECT 1 FROM schema_migrations WHERE version = ?1");
      check.bind(1, std::int64_t{m.version});
      bool applied = check.step();
      if (applied) continue;
      if (conn->exec(m.sql) != SQLITE_OK) {
        throw std::runtime_error("migration " + m.name + " failed: " + conn->last_error());
      }
      auto record = conn->prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)");
      record.bind(1, std::int64_t{m.version}).bind(2, m.name).bind(3, now_micros());
      record.step();
      if (record.failed() || !txn.commit()) throw std::runtime_error("cannot record migration " + m.name);
      spdlog::info("sqlite: applied migration {}", m.name);
    }
    auto newest = conn->prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!newest.step()) throw std::runtime_error("cannot read schema_migrations: " + conn->last_error());
    refuse_newer_schema(static_cast<int>(newest.int64(0)));
  }

  // After migrate(): the anchor's open read transaction would only slow the migrations, and
  // they are checkpointed by SQLite itself.
  void start_background_work() {
    try {
      anchor_ = std::make_unique<sqlite::ReadAnchor>(pool_path_, kAnchorHold, kAnchorGap);
    } catch (const std::exception& e) {
      spdlog::warn("sqlite: no read anchor ({}); reads are slower but correct", e.what());
    }
    checkpointer_ = std::make_unique<sqlite::Checkpointer>(
        pool_path_, kCheckpointFrames, [this](const std::function<void()>& fn) { exclusively(fn); });
  }

  std::string_view backend_name() const override { return "sqlite"; }

  std::vector<std::pair<std::string, std::int64_t>> metrics() const override {
    if (!checkpointer_) return {};
    auto c = checkpointer_->stats();
    auto n = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
    return {{"sqlite_checkpoints", n(c.checkpoints)},
            {"sqlite_checkpoint_background_micros", n(c.background_micros)},
            {"sqlite_checkpoint_exclusive_micros", n(c.exclusive_micros)},
            {"sqlite_checkpoints_held_back", n(c.held_back)},
            {"sqlite_checkpoints_busy", n(c.busy)},
            {"sqlite_checkpoint_failures", n(c.failed)}};
  }

  Result<Account> create_account(std::string_view email, std::string_view password_hash) override {
    return with_writer([&](Connection& conn) -> Result<Account> {
      WriteTxn txn(conn);
      if (!txn.began()) return unavailable(conn, "begin");
      auto count = conn.prepare("SELECT COUNT(*) FROM accounts");
      if (!count.step()) return unavailable(conn, "count accounts");
      Account account{time_ordered_id("acc_"), std::string(email), count.int64(0) == 0, now_micros()};
      auto insert = conn.prepare(
          "INSERT INTO accounts (id, email, password_hash, is_admin, created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
      insert.bind(1, account.id).bind(2, account.email).bind(3, password_hash);
      insert.bind(4, std::int64_t{account.is_admin}).bind(5, account.created_at);
      insert.step();
      if (insert.failed()) {
        if (conn.extended_error() == SQLITE_CONSTRAINT_UNIQUE)
          return Error{ErrorCode::kEmailTaken, "An account with this email already exists; sign in instead."};
        return unavailable(conn, "insert account");
      }
      for (const std::string& ledger : {credits_account(account.id), earnings_account(account.id)}) {
        auto s = conn.prepare("INSERT INTO ledger_accounts (id, account_id, balance_micros) VALUES (?1, ?2, 0)");
        s.bind(1, ledger).bind(2, account.id);
        s.step();
        if (s.failed()) return unavailable(conn, "insert ledger account");
      }
      if (!txn.commit()) return unavailable(conn, "commit account");
      return account;
    });
  }

  Result<std::optional<AccountCredentials>> find_account_by_email(std::string_view email) override {
    return with_conn([&](Connection& conn) -> Result<std::optional<AccountCredentials>> {
      auto s = conn.prepare("SELECT id, email, is_admin, created_at, password_hash FROM accounts WHERE email = ?1");
      s.bind(1, email);
      if (s.step()) {
        return std::optional<AccountCredentials>(
            AccountCredentials{Account{s.text(0), s.text(1), s.int64(2) != 0, s.int64(3)}, s.text(4)});
      }
      if (s.failed()) return unavailable(conn, "find account");
      return std::optional<AccountCredentials>();
    });
  }

  Result<std::optional<Account>> find_session(const Sha256& hash, UnixMicros now) override {
    return with_conn([&](Connection& conn) -> Result<std::optional<Account>> {
      auto s = conn.prepare(
          "SELECT a.id, a.email, a.is_admin, a.created_at FROM sessions s JOIN accounts a ON a.id = s.account_id "
          "WHERE s.token_hash = ?1 AND s.expires_at > ?2");
      s.bind(1, hash).bind(2, now);
      if (s.step()) return std::optional<Account>(Account{s.text(0), s.text(1), s.int64(2) != 0, s.int64(3)});
      if (s.failed()) return unavailable(conn, "find session");
      return std::optional<Account>();
    });
  }

  Result<std::vector<KeyRecord>> list_keys(std::string_view account_id, keys::Scope scope) override {
    return with_conn([&](Connection& conn) -> Result<std::vector<KeyRecord>> {
      auto s = conn.prepare(
          "SELECT k.id, k.account_id, k.name, k.last4, k.created_at, u.last_used_at, k.spend_limit_micros, "
          "k.spend_period FROM api_keys k LEFT JOIN api_key_uses u ON u.lookup = k.lookup "
          "WHERE k.account_id = ?1 AND k.scope = ?2 ORDER BY k.created_at DESC, k.id");
      s.bind(1, account_id).bind(2, keys::to_string(scope));
      std::vector<KeyRecord> out;
      while (s.step()) {
        out.push_back(KeyRecord{s.text(0), s.text(1), s.text(2), scope, s.text(3), s.int64(4), s.optional_int64(5),
                                read_spend_limit(s, 6, 7)});
      }
      if (s.failed()) return unavailable(conn, "list keys");
      return out;
    });
  }

  Result<std::optional<KeyIdentity>> find_key(const Sha256& hash) override {
    return with_conn([&](Connection& conn) -> Result<std::optional<KeyIdentity>> {
      auto s = conn.prepare("SELECT id, account_id, scope, last4 FROM api_keys WHERE lookup = ?1 AND key_hash = ?2");
      s.bind(1, key_lookup(hash)).bind(2, hash);
      if (s.step()) {
        auto scope = s.text_view(2) == keys::to_string(keys::Scope::kProvider) ? keys::Scope::kProvider : keys::Scope::kAgent;
        return std::optional<KeyIdentity>(KeyIdentity{s.text(0), s.text(1), scope, s.text(3)});
      }
      if (s.failed()) return unavailable(conn, "find key");
      return std::optional<KeyIdentity>();
    });
  }

  Status record_key_use(const std::vector<KeyUse>& uses) override {
    if (uses.empty()) return ok_status();
    return with_writer([&](Connection& conn) -> Status {
      WriteTxn txn(conn);
      if (!txn.began()) return unavailable(conn, "begin");
      for (const auto& use : uses) {
        auto s = conn.prepare(
            "UPDATE api_key_uses SET last_used_at = ?2 WHERE lookup = (SELECT lookup FROM api_keys WHERE id = ?1) "
            "AND (last_used_at IS NULL OR last_used_at < ?2)");
        s.bind(1, use.key_id).bind(2, use.used_at);
        s.step();
        if (s.failed()) return unavailable(conn, "record key use");
      }
      if (!txn.commit()) return unavailable(conn, "commit key use");
      return ok_status();
    });
  }

  Status run_account_txn(const std::function<Status(AccountTxn&)>& work) override {
    return run_txn<SqliteAccountTxn>("account", work);
  }

  Status run_ledger_txn(const std::function<Status(LedgerTxn&)>& work) override {
    return run_txn<SqliteLedgerTxn>("ledger", work);
  }

  Result<Wallet> wallet(std::string_view account_id) override {
    return with_conn([&](Connection& conn) -> Result<Wallet> {
      std::string credits = credits_account(account_id), earnings = earnings_account(account_id);
      auto s = conn.prepare("SELECT id, balance_micros FROM ledger_accounts WHERE id IN (?1, ?2)");
      s.bind(1, credits).bind(2, earnings);
      Wallet w;
      while (s.step()) (s.text(0) == credits ? w.balance_micros : w.earnings_micros) = s.int64(1);
      if (s.failed()) return unavailable(conn, "wallet");
      return w;
    });
  }

  Result<TransactionPage> transactions(std::string_view account_id, std::optional<std::int64_t> before_seq,
                                       int limit) override {
    return with_conn([&](Connection& conn) -> Result<TransactionPage> {
      // Two index range scans (as payer, as payee) merged; a transfer with the account on
      // both sides (a provider charging its own agent key) is listed once.
      auto s = conn.prepare(
          "SELECT " TRANSFER_COLUMNS " FROM (SELECT * FROM transfers WHERE payer_account_id = ?1 AND seq < ?2 "
          "ORDER BY seq DESC LIMIT ?3) UNION ALL SELECT " TRANSFER_COLUMNS
          " FROM (SELECT * FROM transfers WHERE payee_account_id = ?1 AND seq < ?2 AND "
          "(payer_account_id IS NULL OR payer_account_id <> ?1) ORDER BY seq DESC LIMIT ?3) ORDER BY seq DESC LIMIT ?3");
      s.bind(1, account_id).bind(2, before_seq.value_or(std::numeric_limits<std::int64_t>::max()));
      s.bind(3, std::int64_t{limit} + 1);
      TransactionPage page;
      while (s.step()) page.transfers.push_back(read_transfer(s));
      if (s.failed()) return unavailable(conn, "transactions");
      if (page.transfers.size() > static_cast<std::size_t>(limit)) {
        page.transfers.resize(limit);
        page.next_cursor = page.transfers.back().seq;
      }
      return page;
    });
  }

  Result<std::vector<UsageCell>> usage(std::string_view account_id, UsageRole role, UnixMicros from,
                                       UnixMicros to) override {
    return with_conn([&](Connection& conn) -> Result<std::vector<UsageCell>> {
      auto s = conn.prepare(role == UsageRole::kSpent ? kUsageSpentSql : kUsageEarnedSql);
      s.bind(1, account_id).bind(2, from).bind(3, to);
      std::vector<UsageCell> cells;
      while (s.step()) cells.push_back({s.int64(0), s.text(1), s.text(2), s.text(3), s.int64(4), s.int64(5)});
      if (s.failed()) return unavailable(conn, "usage");
      return cells;
    });
  }

  Result<LedgerReport> verify_ledger() override {
    return with_conn([&](Connection& conn) -> Result<LedgerReport> {
      // One read transaction so every query sees the same snapshot.
      if (conn.exec("BEGIN") != SQLITE_OK) return unavailable(conn, "begin verify");
      LedgerReport report;
      auto counts = conn.prepare("SELECT (SELECT COUNT(*) FROM ledger_accounts), (SELECT COUNT(*) FROM transfers), "
                                 "(SELECT COALESCE(SUM(balance_micros), 0) FROM ledger_accounts)");
      if (counts.step()) {
        report.accounts = counts.int64(0);
        report.transfers = counts.int64(1);
        report.balance_sum_micros = counts.int64(2);
      }
      auto mismatched = conn.prepare(
          "SELECT a.id FROM ledger_accounts a LEFT JOIN (SELECT account, SUM(delta) AS total FROM ("
          "SELECT credit_account AS account, amount_micros AS delta FROM transfers UNION ALL "
          "SELECT debit_account, -amount_micros FROM transfers) AS entries GROUP BY account) AS sums "
          "ON sums.account = a.id WHERE a.balance_micros <> COALESCE(sums.total, 0)");
      while (mismatched.step()) report.mismatched_accounts.push_back(mismatched.text(0));
      auto invalid = conn.prepare("SELECT id FROM transfers WHERE amount_micros <= 0 OR debit_account = credit_account");
      while (invalid.step()) report.invalid_transfers.push_back(invalid.text(0));
      bool failed = counts.failed() || mismatched.failed() || invalid.failed();
      conn.exec("COMMIT");
      if (failed) return unavailable(conn, "verify ledger");
      return report;
    });
  }

 private:
  // Runs `fn` on a pooled connection; a connection that cannot be opened is reported as
  // PLATFORM_UNAVAILABLE instead of escaping as an exception.
  template <typename Fn>
  auto with_conn(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
    std::optional<ConnectionPool::Lease> lease;
    try {
      lease.emplace(pool_.acquire());
    } catch (const std::exception& e) {
      return unavailable("open connection", e.what());
    }
    return fn(**lease);
  }

  // Runs `fn` while no write transaction of this process is open (writers take turns here),
  // with the read anchor stepped aside so that it cannot keep the WAL from starting again.
  template <typename Fn>
  auto exclusively(Fn&& fn) -> decltype(fn()) {
    std::lock_guard writer(write_mutex_);
    struct Aside {
      sqlite::ReadAnchor* anchor;
      explicit Aside(sqlite::ReadAnchor* a) : anchor(a) { if (anchor) anchor->step_aside(); }
      ~Aside() { if (anchor) anchor->resume(); }
    } aside(anchor_.get());
    return fn();
  }

  // Runs `fn` for a write transaction, on the one connection that writes. Writers take
  // turns anyway (exclusively), and one connection keeps its page cache from commit to
  // commit: SQLite empties a connection's cache when another connection has committed since
  // its last transaction, so writers taken from the pool read again every page a commit
  // touches. Its commits report to the checkpointer (set on every write: the connection may
  // be opened before the checkpointer exists).
  template <typename Fn>
  auto with_writer(Fn&& fn) -> decltype(fn(std::declval<Connection&>())) {
    return exclusively([&]() -> decltype(fn(std::declval<Connection&>())) {
      if (!writer_) {
        try {
          writer_ = std::make_unique<Connection>(pool_path_);
        } catch (const std::exception& e) {
          return unavailable("open connection", e.what());
        }
      }
      if (checkpointer_) checkpointer_->watch(*writer_);
      return fn(*writer_);
    });
  }

  // Runs `work` in a write transaction of kind Txn, from the start again after a race it
  // reports as retryable, up to kMaxTxnAttempts.
  template <typename Txn, typename Work>
  Status run_txn(std::string_view kind, const Work& work) {
    return with_writer([&](Connection& conn) -> Status {
      for (int attempt = 1;; ++attempt) {
        Txn txn(conn);
        if (!txn.began()) return unavailable(conn, fmt::format("begin {} transaction", kind));
        Status status = work(txn);
        if (status.ok() && !txn.committed()) return unavailable(fmt::format("{} transaction", kind), "work did not commit");
        if (status.ok() || !txn.retryable() || attempt == kMaxTxnAttempts) return status;
      }
    });
  }

  std::string pool_path_;
  ConnectionPool pool_;
  std::mutex write_mutex_;
  std::unique_ptr<Connection> writer_;  // opened at the first write; used only under write_mutex_
  std::unique_ptr<sqlite::ReadAnchor> anchor_;  // after pool_: gone before the pool closes
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;  // last: stops first (it uses the mutex and the anchor)
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(std::string_view path) {
  if (path.empty() || path == ":memory:") throw std::runtime_error("sqlite: a file path is required");
  std::filesystem::path file{std::string(path)};
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  auto store = std::make_unique<SqliteStore>(file.string());
  store->migrate();
  store->start_background_work();
  return store;
}

}  // namespace tollgate::store
