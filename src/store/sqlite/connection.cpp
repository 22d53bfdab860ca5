// SQLite connection setup (WAL, full durability, foreign keys, busy timeout) and helpers.
#include "store/sqlite/connection.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <stdexcept>

#include "common/thread_name.hpp"
#include "store/sqlite/wal_vfs.hpp"

namespace tollgate::store::sqlite {
namespace {

// How long a writer waits for another connection's write transaction before giving up.
constexpr int kBusyTimeoutMs = 5000;

// The authorizer of every connection: the WAL VFS relies on synchronous=FULL (wal_vfs.hpp),
// so a statement that would change it does not prepare ("not authorized").
int refuse_synchronous_change(void*, int action, const char* name, const char* value, const char*, const char*) {
  if (action == SQLITE_PRAGMA && name && value && sqlite3_stricmp(name, "synchronous") == 0) return SQLITE_DENY;
  return SQLITE_OK;
}

void on_rollback(void* db) { discard_unsynced_wal_writes(static_cast<sqlite3*>(db)); }

}  // namespace

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  if (value.empty()) {
    sqlite3_bind_null(stmt_, index);
  } else {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  }
  return *this;
}

Statement& Statement::bind(int index, const Sha256& value) {
  sqlite3_bind_blob(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::bind_optional(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}

bool Statement::step() {
  rc_ = sqlite3_step(stmt_);
  return rc_ == SQLITE_ROW;
}

std::optional<std::int64_t> Statement::optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return int64(column);
}

std::string Statement::text(int column) const {
  const unsigned char* data = sqlite3_column_text(stmt_, column);
  if (!data) return {};
  return std::string(reinterpret_cast<const char*>(data), sqlite3_column_bytes(stmt_, column));
}

std::string_view Statement::text_view(int column) const {
  const unsigned char* data = sqlite3_column_text(stmt_, column);
  if (!data) return {};
  return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

Connection::Connection(const std::string& path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  // wal_vfs.hpp: one write() per WAL commit instead of two per page.
  if (sqlite3_open_v2(path.c_str(), &db_, flags, wal_vfs_name()) != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open SQLite database " + path + ": " + why);
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  // WAL lets readers run beside the writer; synchronous=FULL makes every commit durable
  // (money must survive a power cut; group commit keeps that affordable). No memory map:
  // it would spare a read() per page the OS has cached (key verification alone: ~115k ->
  // ~200k/s per core among a million keys), but SQLite unmaps and maps the file again in
  // every connection that reads after any commit, ~100 us each here; with writes going on
  // (charges, key writes) that costs more than it saves (measured with bench/verify_bench and
  // bench/rest_bench.sh when this was chosen).
  const char* setup =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
      "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536; PRAGMA mmap_size=0;";
  if (exec(setup) != SQLITE_OK) {
    std::string why = last_error();
    sqlite3_close(db_);
    throw std::runtime_error("cannot configure SQLite database " + path + ": " + why);
  }
  sqlite3_set_authorizer(db_, &refuse_synchronous_change, nullptr);
  sqlite3_rollback_hook(db_, &on_rollback, db_);
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  // A transaction still open ends here, through the rollback hook, rather than inside
  // sqlite3_close, where the hook's file control may be refused (wal_vfs.hpp).
  if (!sqlite3_get_autocommit(db_)) exec("ROLLBACK");
  sqlite3_close(db_);
}

Statement Connection::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Statement(it->second);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    // A statement that does not prepare is a programmer error (the SQL is fixed in the code).
    throw std::logic_error(std::string("SQLite prepare failed: ") + sqlite3_errmsg(db_) + " in: " + sql);
  }
  cache_.emplace(sql, stmt);
  return Statement(stmt);
}

int Connection::exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }

ConnectionPool::Lease ConnectionPool::acquire() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    if (open_ < max_size_) {
      ++open_;
      lock.unlock();
      try {
        return Lease(this, std::make_unique<Connection>(path_));
      } catch (...) {
        std::lock_guard relock(mutex_);
        --open_;
        throw;
      }
    }
    available_.wait(lock);
  }
}

void ConnectionPool::release(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(conn));
  }
  available_.notify_one();
}

ReadAnchor::ReadAnchor(const std::string& path, std::chrono::milliseconds hold_for, std::chrono::milliseconds gap)
    : conn_(path), hold_for_(hold_for), gap_(gap) {
  // Never wait for a lock: a writer may be waiting for this anchor to step aside, and an
  // anchor it cannot take now is only a slower read until the next try.
  sqlite3_busy_timeout(conn_.handle(), 0);
  if (sqlite3_prepare_v2(conn_.handle(), "SELECT 1 FROM sqlite_schema LIMIT 1", -1, &read_, nullptr) != SQLITE_OK) {
    throw std::runtime_error("cannot prepare the read anchor: " + conn_.last_error());
  }
  {
    std::lock_guard lock(mutex_);
    hold();
  }
  renewer_ = std::thread([this] {
    set_thread_name("sqlite:anchor");
    renew_loop();
  });
}

ReadAnchor::~ReadAnchor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    release();
  }
  wake_.notify_all();
  renewer_.join();
  sqlite3_finalize(read_);
}

void ReadAnchor::step_aside() {
  std::lock_guard lock(mutex_);
  aside_ = true;
  release();
}

void ReadAnchor::resume() {
  std::lock_guard lock(mutex_);
  aside_ = false;
  hold();
}

void ReadAnchor::hold() {
  if (holding_ || stopping_ || !read_) return;
  // A statement that has returned a row and is not reset keeps its read transaction open.
  // If it cannot start one (the database busy being recovered), there is no anchor until
  // the next renewal: reads are only slower meanwhile.
  holding_ = sqlite3_step(read_) == SQLITE_ROW;
  if (!holding_) sqlite3_reset(read_);
}

void ReadAnchor::release() {
  if (!holding_) return;
  sqlite3_reset(read_);
  holding_ = false;
}

void ReadAnchor::renew_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, hold_for_);
    if (stopping_ || aside_) continue;
    release();
    wake_.wait_for(lock, gap_);  // the reader gap
    if (!aside_) hold();
  }
}

Checkpointer::Checkpointer(const std::string& path, int wal_frames, Exclusive exclusive)
    : conn_(path), wal_frames_(wal_frames), exclusive_(std::move(exclusive)) {
  thread_ = std::thread([this] {
    set_thread_name("sqlite:ckpt");
    run();
  });
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Checkpointer::watch(Connection& conn) { sqlite3_wal_hook(conn.handle(), &Checkpointer::on_commit, this); }

CheckpointStats Checkpointer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

int Checkpointer::on_commit(void* self_ptr, sqlite3*, const char*, int wal_frames) {
  auto* self = static_cast<Checkpointer*>(self_ptr);
  {
    std::lock_guard lock(self->mutex_);
    if (wal_frames < self->last_frames_) {  // the WAL started again: nothing left to ask for
      self->until_restart_ = false;
      self->requested_ = false;
      self->copied_ = 0;
      self->restarts_ += 1;
    }
    self->last_frames_ = wal_frames;
    if (!self->until_restart_ && wal_frames < self->wal_frames_) return SQLITE_OK;
    self->until_restart_ = true;
    self->requested_ = true;
  }
  self->wake_.notify_one();
  return SQLITE_OK;
}

void Checkpointer::run() {
  using Clock = std::chrono::steady_clock;
  auto micros = [](Clock::duration d) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  };
  auto checkpoint = [this](int& log, int& copied) {
    // PASSIVE never waits for a lock: it copies what no reader still needs from the WAL.
    return sqlite3_wal_checkpoint_v2(conn_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
  };
  std::unique_lock lock(mutex_);
  Clock::time_point last_attempt{};
  for (;;) {
    wake_.wait(lock, [&] { return requested_ || stopping_; });
    // Attempts that a reader defeats are not repeated for every commit.
    if (wake_.wait_until(lock, last_attempt + kCheckpointRetry, [&] { return stopping_; })) return;
    if (!requested_) continue;  // the WAL started again meanwhile
    requested_ = false;
    bool copy_first = last_frames_ - copied_ > kCheckpointExclusiveFrames;
    std::uint64_t restarts = restarts_;
    lock.unlock();
    auto started = Clock::now();
    int log = 0, copied = 0, rc = SQLITE_OK;
    if (copy_first) rc = checkpoint(log, copied);
    auto background_done = Clock::now();
    // Also when a reader held part of the copy back: short reads of this process are over
    // by now and the read anchor steps aside. If the reader is still there, this copies
    // nothing and syncs nothing, so the writers wait only for the attempt itself.
    if (rc == SQLITE_OK) exclusive_([&] { rc = checkpoint(log, copied); });
    bool complete = rc == SQLITE_OK && copied == log;
    auto finished = Clock::now();
    lock.lock();
    last_attempt = finished;
    if (rc == SQLITE_OK && restarts == restarts_) copied_ = std::max(copied_, copied);
    if (rc == SQLITE_OK) {
      stats_.checkpoints += 1;
      stats_.held_back += complete ? 0 : 1;
      stats_.background_micros += micros(background_done - started);
      stats_.exclusive_micros += micros(finished - background_done);
    } else if (rc == SQLITE_BUSY) {
      // Another process's checkpoint, or a commit updating the WAL index at that moment:
      // tried again at the next commit.
      stats_.busy += 1;
    } else {
      stats_.failed += 1;
      spdlog::warn("sqlite: checkpoint failed: {}", sqlite3_errstr(rc));
    }
  }
}

}  // namespace tollgate::store::sqlite
