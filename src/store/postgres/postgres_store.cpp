// PostgreSQL implementation of Store (libpq). Every statement is prepared once per pooled
// connection. The ledger primitives are bulk statements over arrays (`= ANY($1)`, `unnest`),
// so a batch of charges costs the same handful of round trips whatever its size. Locks are
// taken with `ORDER BY id FOR UPDATE`, in the order the ledger asks for them.
#include "store/postgres/postgres_store.hpp"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>

#include "store/migrations.hpp"

namespace tollgate::store {
namespace {

constexpr std::size_t kMaxConnections = 16;
// Bounded retries of a transaction that hit a deadlock, a serialization failure or (ledger
// only) an idempotency key used before (a charge batch looks its keys up only when it runs
// again) or raced for.
constexpr int kMaxTxnAttempts = 5;
// Arbitrary constants identifying Tollgate's advisory locks.
constexpr std::int64_t kMigrationLock = 0x746f6c6c67617465;  // "tollgate"
constexpr std::int64_t kFirstAccountLock = 0x746f6c6c67617466;

Error unavailable(std::string_view what, std::string_view why) {
  spdlog::error("postgres: {} failed: {}", what, why);
  return Error{ErrorCode::kPlatformUnavailable, "The database is unavailable; nothing was changed. Try again shortly."};
}

std::int64_t to_int64(const char* text) {
  std::int64_t v = 0;
  std::from_chars(text, text + std::strlen(text), v);
  return v;
}

// Text array literal: {"a","b"}; elements quoted, backslash and quote escaped.
std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// Like text_array, but empty strings become NULL (the schema's "absent").
std::string nullable_text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    if (items[i].empty()) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string int_array(const std::vector<std::int64_t>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(items[i]);
  }
  return out + "}";
}

// Parameters for PQexecPrepared: text values, except bytea which is sent binary.
class Params {
 public:
  Params& text(std::string_view v) {
    values_.emplace_back(v);
    nulls_.push_back(false);
    formats_.push_back(0);
    return *this;
  }
  Params& nullable(std::string_view v) { return v.empty() ? null() : text(v); }
  Params& integer(std::int64_t v) { return text(std::to_string(v)); }
  Params& boolean(bool v) { return text(v ? "true" : "false"); }
  Params& bytes(const Sha256& v) {
    values_.emplace_back(reinterpret_cast<const char*>(v.data()), v.size());
    nulls_.push_back(false);
    formats_.push_back(1);
    return *this;
  }
  Params& null() {
    values_.emplace_back();
    nulls_.push_back(true);
    formats_.push_back(0);
    return *this;
  }
  int size() const { return static_cast<int>(values_.size()); }
  void finish(std::vector<const char*>& ptrs, std::vector<int>& lengths) const {
    for (std::size_t i = 0; i < values_.size(); ++i) {
      ptrs.push_back(nulls_[i] ? nullptr : values_[i].data());
      lengths.push_back(static_cast<int>(values_[i].size()));
    }
  }
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> formats_;
};

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  ~PgResult() { PQclear(r_); }
  PgResult(PgResult&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  PgResult& operator=(PgResult&& o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }
  bool ok() const {
    auto s = PQresultStatus(r_);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  }
  std::string sqlstate() const {
    const char* s = r_ ? PQresultErrorField(r_, PG_DIAG_SQLSTATE) : nullptr;
    return s ? s : "";
  }
  std::string message() const { return r_ ? PQresultErrorMessage(r_) : "no result"; }
  int rows() const { return PQntuples(r_); }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col); }
  std::string text(int row, int col) const { return is_null(row, col) ? "" : PQgetvalue(r_, row, col); }
  std::int64_t int64(int row, int col) const { return is_null(row, col) ? 0 : to_int64(PQgetvalue(r_, row, col)); }
  std::optional<std::int64_t> optional_int64(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return int64(row, col);
  }
  bool boolean(int row, int col) const { return text(row, col) == "t"; }
  std::int64_t affected() const { return to_int64(PQcmdTuples(r_)); }

 private:
  PGresult* r_;
};

class PgConnection {
 public:
  explicit PgConnection(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string why = PQerrorMessage(conn_);
      PQfinish(conn_);
      conn_ = nullptr;
      throw std::runtime_error("cannot connect to PostgreSQL: " + why);
    }
    // Server notices ("relation already exists, skipping") are not errors; keep them off stderr.
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    PQclear(PQexec(conn_, "SET application_name = 'tollgate'"));
  }
  ~PgConnection() { PQfinish(conn_); }

  bool healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

  PgResult exec(const char* sql) { return PgResult(PQexec(conn_, sql)); }

  // `sql` must be a string literal: statements are prepared once, keyed by its address.
  PgResult run(const char* sql, const Params& params = {}) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "s" + std::to_string(prepared_.size());
      PgResult prep(PQprepare(conn_, name.c_str(), sql, params.size(), nullptr));
      if (!prep.ok()) return prep;
      it = prepared_.emplace(sql, name).first;
    }
    std::vector<const char*> values;
    std::vector<int> lengths;
    params.finish(values, lengths);
    return PgResult(PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(), lengths.data(),
                                   params.formats(), 0));
  }

 private:
  PGconn* conn_;
  std::map<const char*, std::string> prepared_;
};

class PgPool {
 public:
  PgPool(std::string url, std::size_t max) : url_(std::move(url)), max_(max) {}

  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConnection> c) : pool_(pool), conn_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease() { if (conn_) pool_->release(std::move(conn_)); }
    PgConnection& operator*() { return *conn_; }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  Lease acquire() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(c));
      }
      if (open_ < max_) {
        ++open_;
        lock.unlock();
        try {
          return Lease(this, std::make_unique<PgConnection>(url_));
        } catch (...) {
          std::lock_guard relock(mutex_);
          --open_;
          throw;
        }
      }
      available_.wait(lock);
    }
  }

 private:
  void release(std::unique_ptr<PgConnection> c) {
    {
      std::lock_guard lock(mutex_);
      // A broken connection is dropped; the next acquire opens a fresh one.
      if (c->healthy()) {
        idle_.push_back(std::move(c));
      } else {
        --open_;
      }
    }
    available_.notify_one();
  }

  std::string url_;
  std::size_t max_;
  std::size_t open_ = 0;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  std::mutex mutex_;
  std::condition_variable available_;
};

#define TRANSFER_COLUMNS                                                                           \
  "seq, id, kind, debit_account, credit_account, amount_micros, payer_account_id, payee_account_id, " \
  "key_id, key_last4, tool, idempotency_key, request_fingerprint, refund_of, note, created_at"

Transfer read_transfer(const PgResult& r, int row) {
  Transfer t;
  t.seq = r.int64(row, 0);
  t.id = r.text(row, 1);
  t.kind = parse_transfer_kind(r.text(row, 2)).value_or(TransferKind::kDeposit);
  t.debit_account = r.text(row, 3);
  t.credit_account = r.text(row, 4);
  t.amount_micros = r.int64(row, 5);
  t.payer_account_id = r.text(row, 6);
  t.payee_account_id = r.text(row, 7);
  t.key_id = r.text(row, 8);
  t.key_last4 = r.text(row, 9);
  t.tool = r.text(row, 10);
  t.idempotency_key = r.text(row, 11);
  t.request_fingerprint = r.text(row, 12);
  t.refund_of = r.text(row, 13);
  t.note = r.text(row, 14);
  t.created_at = r.int64(row, 15);
  return t;
}

std::optional<SpendLimit> read_spend_limit(const PgResult& r, int row, int amount_col, int period_col) {
  if (r.is_null(row, amount_col)) return std::nullopt;
  return SpendLimit{r.int64(row, amount_col), parse_period(r.text(row, period_col)).value_or(Period::kTotal)};
}

// What every write transaction reports to its runner (run_txn): whether the work committed,
// and whether its failure is a conflict worth retrying from the start.
class PgTxnState {
 public:
  // `unique_violation_retries`: whether a unique violation is a race another attempt can
  // win (an idempotency key) rather than a collision a retry would repeat (a random id).
  PgTxnState(PgConnection& conn, bool unique_violation_retries)
      : conn_(conn), unique_violation_retries_(unique_violation_retries) {}
  bool committed() const { return committed_; }
  bool retryable() const { return retryable_; }

 protected:
  Status commit_now() {
    auto r = conn_.exec("COMMIT");
    if (!r.ok()) return fail("commit", r);
    committed_ = true;
    return ok_status();
  }

  Error fail(std::string_view what, const PgResult& r) {
    const std::string& state = r.sqlstate();
    if (state == "40P01" /* deadlock */ || state == "40001" /* serialization */ ||
        (unique_violation_retries_ && state == "23505")) {
      retryable_ = true;
      return Error{ErrorCode::kPlatformUnavailable, "transaction conflict; retrying"};
    }
    return unavailable(what, r.message());
  }

  void mark_retryable() { retryable_ = true; }

  PgConnection& conn_;

 private:
  bool unique_violation_retries_;
  bool committed_ = false;
  bool retryable_ = false;
};

class PgLedgerTxn final : public LedgerTxn, public PgTxnState {
 public:
  explicit PgLedgerTxn(PgConnection& conn) : PgTxnState(conn, /*unique_violation_retries=*/true) {}

  Result<std::vector<BalanceUpdate>> lock_balances(const std::vector<std::string>& ids) override {
    auto r = conn_.run("SELECT id, balance_micros FROM ledger_accounts WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
                       Params().text(text_array(ids)));
    if (!r.ok()) return fail("lock_balances", r);
    std::vector<BalanceUpdate> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.int64(i, 1)});
    return out;
  }

  Result<std::vector<LockedKey>> lock_keys(const std::vector<std::string>& ids) override {
    auto r = conn_.run(
        "SELECT id, account_id, spend_limit_micros, spend_period, period_start, period_spent_micros FROM api_keys "
        "WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
        Params().text(text_array(ids)));
    if (!r.ok()) return fail("lock_keys", r);
    std::vector<LockedKey> out;
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({r.text(i, 0), r.text(i, 1), read_spend_limit(r, i, 2, 3), r.int64(i, 4), r.int64(i, 5)});
    }
    return out;
  }

  Result<std::vector<Transfer>> find_by_idempotency(std::string_view payee,
                                                    const std::vector<std::string>& idempotency_keys) override {
    auto r = conn_.run("SELECT " TRANSFER_COLUMNS
                       " FROM transfers WHERE payee_account_id = $1 AND idempotency_key = ANY($2::text[])",
                       Params().text(payee).text(text_array(idempotency_keys)));
    if (!r.ok()) return fail("find_by_idempotency", r);
    std::vector<Transfer> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_transfer(r, i));
    return out;
  }

  Result<std::optional<Transfer>> find_transfer(std::string_view id) override {
    auto r = conn_.run("SELECT " TRANSFER_COLUMNS " FROM transfers WHERE id = $1", Params().text(id));
    if (!r.ok()) return fail("find_transfer", r);
    if (r.rows() == 0) return std::optional<Transfer>();
    return std::optional<Transfer>(read_transfer(r, 0));
  }

  Result<std::optional<std::string>> find_refund_of(std::string_view charge_id) override {
    auto r = conn_.run("SELECT id FROM transfers WHERE refund_of = $1", Params().text(charge_id));
    if (!r.ok()) return fail("find_refund_of", r);
    if (r.rows() == 0) return std::optional<std::string>();
    return std::optional<std::string>(r.text(0, 0));
  }

  Status insert_transfers(std::vector<Transfer>& transfers) override {
    std::vector<std::string> cols[14];
    std::vector<std::int64_t> amounts, created;
    for (const auto& t : transfers) {
      std::string fields[14] = {t.id, std::string(to_string(t.kind)), t.debit_account, t.credit_account,
                                t.payer_account_id, t.payee_account_id, t.key_id, t.key_last4, t.tool,
                                t.idempotency_key, t.request_fingerprint, t.refund_of, t.note, ""};
      for (int c = 0; c < 13; ++c) cols[c].push_back(fields[c]);
      amounts.push_back(t.amount_micros);
      created.push_back(t.created_at);
    }
    Params p;
    for (int c = 0; c < 4; ++c) p.text(text_array(cols[c]));
    for (int c = 4; c < 13; ++c) p.text(nullable_text_array(cols[c]));
    p.text(int_array(amounts)).text(int_array(created));
    auto r = conn_.run(
        "INSERT INTO transfers (id, kind, debit_account, credit_account, payer_account_id, payee_account_id, key_id, "
        "key_last4, tool, idempotency_key, request_fingerprint, refund_of, note, amount_micros, created_at) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
        "$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::bigint[]) "
        // A key used before skips its row rather than failing the statement: replays are
        // routine, and a failed statement is an ERROR line in the server's log each time.
        "ON CONFLICT (payee_account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING "
        "RETURNING id, seq",
        p);
    if (!r.ok()) {
      if (r.sqlstate() == "23505") {  // another unique index: a refund racing its twin
        mark_retryable();
        return Error{ErrorCode::kIdempotencyConflict, "a concurrent request used the same idempotency key"};
      }
      return fail("insert_transfers", r);
    }
    if (static_cast<std::size_t>(r.rows()) != transfers.size()) {
      // Some row met a used key: the ledger runs the batch again and looks its keys up.
      mark_retryable();
      return Error{ErrorCode::kIdempotencyConflict, "an idempotency key of this batch was used before"};
    }
    std::map<std::string, std::int64_t> seqs;
    for (int i = 0; i < r.rows(); ++i) seqs[r.text(i, 0)] = r.int64(i, 1);
    for (auto& t : transfers) t.seq = seqs[t.id];
    return ok_status();
  }

  Status set_balances(const std::vector<BalanceUpdate>& updates) override {
    if (updates.empty()) return ok_status();
    std::vector<std::string> ids;
    std::vector<std::int64_t> values;
    for (const auto& u : updates) {
      ids.push_back(u.ledger_account);
      values.push_back(u.balance_micros);
    }
    auto r = conn_.run(
        "UPDATE ledger_accounts a SET balance_micros = v.b FROM unnest($1::text[], $2::bigint[]) AS v(id, b) "
        "WHERE a.id = v.id",
        Params().text(text_array(ids)).text(int_array(values)));
    if (!r.ok()) return fail("set_balances", r);
    return ok_status();
  }

  Status set_key_spend(const std::vector<KeySpend>& updates) override {
    if (updates.empty()) return ok_status();
    std::vector<std::string> ids;
    std::vector<std::int64_t> starts, spent;
    for (const auto& u : updates) {
      ids.push_back(u.key_id);
      starts.push_back(u.period_start);
      spent.push_back(u.period_spent_micros);
    }
    auto r = conn_.run(
        "UPDATE api_keys k SET period_start = v.s, period_spent_micros = v.p "
        "FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(id, s, p) WHERE k.id = v.id",
        Params().text(text_array(ids)).text(int_array(starts)).text(int_array(spent)));
    if (!r.ok()) return fail("set_key_spend", r);
    return ok_status();
  }

  Status commit() override { return commit_now(); }
};

class PgAccountTxn final : public AccountTxn, public PgTxnState {
 public:
  explicit PgAccountTxn(PgConnection& conn) : PgTxnState(conn, /*unique_violation_retries=*/false) {}

  // NO KEY UPDATE: key creations for the account queue behind it (in every process), while
  // the foreign-key checks of inserts that reference the account (KEY SHARE) do not.
  Status lock_account(std::string_view account_id) override {
    auto r = conn_.run("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE", Params().text(account_id));
    if (!r.ok()) return fail("lock account", r);
    return ok_status();
  }

  Result<std::int64_t> count_keys(std::string_view account_id, keys::Scope scope) override {
    auto r = conn_.run("SELECT COUNT(*) FROM api_keys WHERE account_id = $1 AND scope = $2",
                       Params().text(account_id).text(keys::to_string(scope)));
    if (!r.ok()) return fail("count keys", r);
    return r.int64(0, 0);
  }

  Result<bool> insert_key(const NewKey& key) override {
    std::int64_t lookup = key_lookup(key.hash);
    Params p;
    p.text(key.id).text(key.account_id).text(key.name).text(keys::to_string(key.scope)).bytes(key.hash).text(key.last4);
    p.integer(key.created_at);
    if (key.spend_limit) {
      p.integer(key.spend_limit->amount_micros).text(to_string(key.spend_limit->period));
    } else {
      p.null().null();
    }
    p.integer(lookup);
    auto r = conn_.run(
        "INSERT INTO api_keys (id, account_id, name, scope, key_hash, last4, created_at, spend_limit_micros, "
        "spend_period, lookup) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (lookup) DO NOTHING",
        p);
    if (!r.ok()) return fail("insert key", r);
    if (r.affected() == 0) return false;
    auto use = conn_.run("INSERT INTO api_key_uses (lookup) VALUES ($1)", Params().integer(lookup));
    if (!use.ok()) return fail("insert key", use);
    return true;
  }

  Result<bool> delete_key(std::string_view account_id, std::string_view key_id, keys::Scope scope) override {
    auto r = conn_.run("DELETE FROM api_keys WHERE id = $1 AND account_id = $2 AND scope = $3",
                       Params().text(key_id).text(account_id).text(keys::to_string(scope)));
    if (!r.ok()) return fail("delete key", r);
    return r.affected() > 0;
  }

  Status insert_session(const Sha256& hash, std::string_view account_id, UnixMicros created_at,
                        UnixMicros expires_at) override {
    auto r = conn_.run("INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                       Params().bytes(hash).text(account_id).integer(created_at).integer(expires_at));
    if (!r.ok()) return fail("create session", r);
    return ok_status();
  }

  Status delete_session(const Sha256& hash) override {
    auto r = conn_.run("DELETE FROM sessions WHERE token_hash = $1", Params().bytes(hash));
    if (!r.ok()) return fail("delete session", r);
    return ok_status();
  }

  Status commit() override { return commit_now(); }
};

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(std::string url) : pool_(std::move(url), kMaxConnections) {}

  void migrate() {
    auto lease = pool_.acquire();
    PgConnection& conn = *lease;
    // Several processes may start at once; one migrates, the others wait and find it done.
    auto lock = conn.run("SELECT pg_advisory_lock($1)", Params().integer(kMigrationLock));
    if (!lock.ok()) throw std::runtime_error("cannot take the migration lock: " + lock.message());
    auto create = conn.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at BIGINT NOT NULL)");
    std::string failure = create.ok() ? "" : create.message();
    for (const Migration& m : migrations_for(Dialect::kPostgres)) {
      if (!failure.empty()) break;
      auto applied = conn.run("SELECT 1 FROM schema_migrations WHERE version = $1", Params().integer(m.version));
      if (!applied.ok()) {
        failure = applied.message();
        break;
      }
      if (applied.rows() > 0) continue;
      std::string sql = "BEGIN;\n" + m.sql + "\nINSERT INTO schema_migrations (version, name, applied_at) VALUES (" +
                        std::to_string(m.version) + ", '" + m.name + "', " + std::to_string(now_micros()) + ");\nCOMMIT;";
      auto r = conn.exec(sql.c_str());
      if (!r.ok()) {
        conn.exec("ROLLBACK");
        failure = "migration " + m.name + " failed: " + r.message();
        break;
      }
      spdlog::info("postgres: applied migration {}", m.name);
    }
    std::int64_t newest_applied = 0;
    if (failure.empty()) {
      auto newest = conn.run("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", Params());
      if (newest.ok()) {
        newest_applied = newest.int64(0, 0);
      } else {
        failure = "cannot read schema_migrations: " + newest.message();
      }
    }
    conn.run("SELECT pg_advisory_unlock($1)", Params().integer(kMigrationLock));
    if (!failure.empty()) throw std::runtime_error(failure);
    refuse_newer_schema(static_cast<int>(newest_applied));
  }

  std::string_view backend_name() const override { return "postgres"; }

  Result<Account> create_account(std::string_view email, std::string_view password_hash) override {
    return with_conn([&](PgConnection& conn) -> Result<Account> {
      if (!conn.exec("BEGIN").ok()) return unavailable("begin", "");
      auto fail = [&](std::string_view what, const PgResult& r) -> Result<Account> {
        conn.exec("ROLLBACK");
        if (r.sqlstate() == "23505") return Error{ErrorCode::kEmailTaken, "An account with this email already exists; sign in instead."};
        return unavailable(what, r.message());
      };
      // Serialises "is this the first account?" across processes.
      auto lock = conn.run("SELECT pg_advisory_xact_lock($1)", Params().integer(kFirstAccountLock));
      if (!lock.ok()) return fail("first-account lock", lock);
      auto count = conn.run("SELECT EXISTS (SELECT 1 FROM accounts)");
      if (!count.ok()) return fail("count accounts", count);
      Account account{time_ordered_id("acc_"), std::string(email), !count.boolean(0, 0), now_micros()};
      auto insert = conn.run(
          "INSERT INTO accounts (id, email, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5)",
          Params().text(account.id).text(account.email).text(password_hash).boolean(account.is_admin).integer(account.created_at));
      if (!insert.ok()) return fail("insert account", insert);
      auto ledgers = conn.run("INSERT INTO ledger_accounts (id, account_id, balance_micros) VALUES ($1, $3, 0), ($2, $3, 0)",
                              Params().text(credits_account(account.id)).text(earnings_account(account.id)).text(account.id));
      if (!ledgers.ok()) return fail("insert ledger accounts", ledgers);
      auto commit = conn.exec("COMMIT");
      if (!commit.ok()) return fail("commit account", commit);
      return account;
    });
  }

  Result<std::optional<AccountCredentials>> find_account_by_email(std::string_view email) override {
    return with_conn([&](PgConnection& conn) -> Result<std::optional<AccountCredentials>> {
      auto r = conn.run("SELECT id, email, is_admin, created_at, password_hash FROM accounts WHERE email = $1",
                        Params().text(email));
      if (!r.ok()) return unavailable("find account", r.message());
      if (r.rows() == 0) return std::optional<AccountCredentials>();
      return std::optional<AccountCredentials>(
          AccountCredentials{Account{r.text(0, 0), r.text(0, 1), r.boolean(0, 2), r.int64(0, 3)}, r.text(0, 4)});
    });
  }

  Result<std::optional<Account>> find_session(const Sha256& hash, UnixMicros now) override {
    return with_conn([&](PgConnection& conn) -> Result<std::optional<Account>> {
      auto r = conn.run(
          "SELECT a.id, a.email, a.is_admin, a.created_at FROM sessions s JOIN accounts a ON a.id = s.account_id "
          "WHERE s.token_hash = $1 AND s.expires_at > $2",
          Params().bytes(hash).integer(now));
      if (!r.ok()) return unavailable("find session", r.message());
      if (r.rows() == 0) return std::optional<Account>();
      return std::optional<Account>(Account{r.text(0, 0), r.text(0, 1), r.boolean(0, 2), r.int64(0, 3)});
    });
  }

  Result<std::vector<KeyRecord>> list_keys(std::string_view account_id, keys::Scope scope) override {
    return with_conn([&](PgConnection& conn) -> Result<std::vector<KeyRecord>> {
      auto r = conn.run(
          "SELECT k.id, k.account_id, k.name, k.last4, k.created_at, u.last_used_at, k.spend_limit_micros, "
          "k.spend_period FROM api_keys k LEFT JOIN api_key_uses u ON u.lookup = k.lookup "
          "WHERE k.account_id = $1 AND k.scope = $2 ORDER BY k.created_at DESC, k.id",
          Params().text(account_id).text(keys::to_string(scope)));
      if (!r.ok()) return unavailable("list keys", r.message());
      std::vector<KeyRecord> out;
      for (int i = 0; i < r.rows(); ++i) {
        out.push_back(KeyRecord{r.text(i, 0), r.text(i, 1), r.text(i, 2), scope, r.text(i, 3), r.int64(i, 4),
                                r.optional_int64(i, 5), read_spend_limit(r, i, 6, 7)});
      }
      return out;
    });
  }

  Result<std::optional<KeyIdentity>> find_key(const Sha256& hash) override {
    return with_conn([&](PgConnection& conn) -> Result<std::optional<KeyIdentity>> {
      auto r = conn.run("SELECT id, account_id, scope, last4 FROM api_keys WHERE lookup = $1 AND key_hash = $2",
                        Params().integer(key_lookup(hash)).bytes(hash));
      if (!r.ok()) return unavailable("find key", r.message());
      if (r.rows() == 0) return std::optional<KeyIdentity>();
      auto scope = r.text(0, 2) == keys::to_string(keys::Scope::kProvider) ? keys::Scope::kProvider : keys::Scope::kAgent;
      return std::optional<KeyIdentity>(KeyIdentity{r.text(0, 0), r.text(0, 1), scope, r.text(0, 3)});
    });
  }

  Status record_key_use(const std::vector<KeyUse>& uses) override {
    if (uses.empty()) return ok_status();
    return with_conn([&](PgConnection& conn) -> Status {
      std::vector<std::string> ids;
      std::vector<std::int64_t> times;
      for (const auto& u : uses) {
        ids.push_back(u.key_id);
        times.push_back(u.used_at);
      }
      auto r = conn.run(
          "UPDATE api_key_uses u SET last_used_at = v.t FROM unnest($1::text[], $2::bigint[]) AS v(id, t), api_keys k "
          "WHERE k.id = v.id AND u.lookup = k.lookup AND (u.last_used_at IS NULL OR u.last_used_at < v.t)",
          Params().text(text_array(ids)).text(int_array(times)));
      if (!r.ok()) return unavailable("record key use", r.message());
      return ok_status();
    });
  }

  Status run_account_txn(const std::function<Status(AccountTxn&)>& work) override {
    return run_txn<PgAccountTxn>("account", work);
  }

  Status run_ledger_txn(const std::function<Status(LedgerTxn&)>& work) override {
    return run_txn<PgLedgerTxn>("ledger", work);
  }

  Result<Wallet> wallet(std::string_view account_id) override {
    return with_conn([&](PgConnection& conn) -> Result<Wallet> {
      std::string credits = credits_account(account_id), earnings = earnings_account(account_id);
      auto r = conn.run("SELECT id, balance_micros FROM ledger_accounts WHERE id IN ($1, $2)",
                        Params().text(credits).text(earnings));
      if (!r.ok()) return unavailable("wallet", r.message());
      Wallet w;
      for (int i = 0; i < r.rows(); ++i) (r.text(i, 0) == credits ? w.balance_micros : w.earnings_micros) = r.int64(i, 1);
      return w;
    });
  }

  Result<TransactionPage> transactions(std::string_view account_id, std::optional<std::int64_t> before_seq,
                                       int limit) override {
    return with_conn([&](PgConnection& conn) -> Result<TransactionPage> {
      auto r = conn.run(
          "SELECT " TRANSFER_COLUMNS " FROM (SELECT * FROM transfers WHERE payer_account_id = $1 AND seq < $2 "
          "ORDER BY seq DESC LIMIT $3) AS paid UNION ALL SELECT " TRANSFER_COLUMNS
          " FROM (SELECT * FROM transfers WHERE payee_account_id = $1 AND seq < $2 AND "
          "(payer_account_id IS NULL OR payer_account_id <> $1) ORDER BY seq DESC LIMIT $3) AS received "
          "ORDER BY seq DESC LIMIT $3",
          Params().text(account_id).integer(before_seq.value_or(std::numeric_limits<std::int64_t>::max())).integer(limit + 1));
      if (!r.ok()) return unavailable("transactions", r.message());
      TransactionPage page;
      for (int i = 0; i < r.rows(); ++i) page.transfers.push_back(read_transfer(r, i));
      if (page.transfers.size() > static_cast<std::size_t>(limit)) {
        page.transfers.resize(limit);
        page.next_cursor = page.transfers.back().seq;
      }
      return page;
    });
  }

  Result<std::vector<UsageCell>> usage(std::string_view account_id, UsageRole role, UnixMicros from,
                                       UnixMicros to) override {
    return with_conn([&](PgConnection& conn) -> Result<std::vector<UsageCell>> {
      auto r = conn.run(role == UsageRole::kSpent ? kUsageSpentSql : kUsageEarnedSql,
                        Params().text(account_id).integer(from).integer(to));
      if (!r.ok()) return unavailable("usage", r.message());
      std::vector<UsageCell> cells;
      for (int i = 0; i < r.rows(); ++i) {
        cells.push_back({r.int64(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.int64(i, 4), r.int64(i, 5)});
      }
      return cells;
    });
  }

  Result<LedgerReport> verify_ledger() override {
    return with_conn([&](PgConnection& conn) -> Result<LedgerReport> {
      // One snapshot for every query.
      if (!conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").ok()) return unavailable("begin verify", "");
      LedgerReport report;
      auto counts = conn.run(
          "SELECT (SELECT COUNT(*) FROM ledger_accounts), (SELECT COUNT(*) FROM transfers), "
          "(SELECT COALESCE(SUM(balance_micros), 0) FROM ledger_accounts)");
      auto mismatched = conn.run(
          "SELECT a.id FROM ledger_accounts a LEFT JOIN (SELECT account, SUM(delta) AS total FROM ("
          "SELECT credit_account AS account, amount_micros AS delta FROM transfers UNION ALL "
          "SELECT debit_account, -amount_micros FROM transfers) AS entries GROUP BY account) AS sums "
          "ON sums.account = a.id WHERE a.balance_micros <> COALESCE(sums.total, 0)");
      auto invalid = conn.run("SELECT id FROM transfers WHERE amount_micros <= 0 OR debit_account = credit_account");
      conn.exec("COMMIT");
      if (!counts.ok() || !mismatched.ok() || !invalid.ok()) return unavailable("verify ledger", counts.message());
      report.accounts = counts.int64(0, 0);
      report.transfers = counts.int64(0, 1);
      report.balance_sum_micros = counts.int64(0, 2);
      for (int i = 0; i < mismatched.rows(); ++i) report.mismatched_accounts.push_back(mismatched.text(i, 0));
      for (int i = 0; i < invalid.rows(); ++i) report.invalid_transfers.push_back(invalid.text(i, 0));
      return report;
    });
  }

 private:
  template <typename Fn>
  auto with_conn(Fn&& fn) -> decltype(fn(std::declval<PgConnection&>())) {
    std::optional<PgPool::Lease> lease;
    try {
      lease.emplace(pool_.acquire());
    } catch (const std::exception& e) {
      return unavailable("connect", e.what());
    }
    return fn(**lease);
  }

  // Runs `work` in a transaction of kind Txn, from the start again (a fresh transaction)
  // after a conflict, up to kMaxTxnAttempts.
  template <typename Txn, typename Work>
  Status run_txn(std::string_view kind, const Work& work) {
    return with_conn([&](PgConnection& conn) -> Status {
      for (int attempt = 1;; ++attempt) {
        auto begin = conn.exec("BEGIN");
        if (!begin.ok()) return unavailable(fmt::format("begin {} transaction", kind), begin.message());
        Txn txn(conn);
        Status status = work(txn);
        if (!txn.committed()) conn.exec("ROLLBACK");
        if (status.ok() && !txn.committed()) return unavailable(fmt::format("{} transaction", kind), "work did not commit");
        if (status.ok() || !txn.retryable() || attempt == kMaxTxnAttempts) return status;
        spdlog::debug("postgres: {} transaction conflict, retrying (attempt {})", kind, attempt + 1);
      }
    });
  }

  PgPool pool_;
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(std::string_view url) {
  auto store = std::make_unique<PostgresStore>(std::string(url));
  store->migrate();
  return store;
}

}  // namespace tollgate::store
