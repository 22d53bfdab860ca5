// A thin RAII layer over the SQLite C API: connections with a prepared-statement cache, and
// statements with typed bind/column helpers. Used only by sqlite_store.cpp.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>
#include <memory>

#include "common/crypto.hpp"

namespace tollgate::store::sqlite {

class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement() { if (stmt_) { sqlite3_reset(stmt_); sqlite3_clear_bindings(stmt_); } }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds are 1-based like SQLite's.
  Statement& bind(int index, std::int64_t value);
  // Text is bound without a copy (SQLITE_STATIC): it must stay alive and unchanged until
  // this Statement is destroyed, which resets the statement and clears its bindings. A
  // copy per text column was an allocation and a free per column per row (ten per charge
  // on the ledger's hottest statement). A temporary string would not live long enough, so
  // that overload is deleted. An empty string binds NULL.
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, std::string&& value) = delete;
  Statement& bind(int index, const Sha256& value);
  Statement& bind_null(int index);
  Statement& bind_optional(int index, const std::optional<std::int64_t>& value);

  // SQLITE_ROW -> true, SQLITE_DONE -> false; anything else -> false with rc() set.
  bool step();
  int rc() const { return rc_; }
  bool failed() const { return rc_ != SQLITE_ROW && rc_ != SQLITE_DONE && rc_ != SQLITE_OK; }

  std::int64_t int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::optional<std::int64_t> optional_int64(int column) const;
  std::string text(int column) const;  // NULL -> ""
  // Like text(), without a copy: valid until the statement steps again or is reset.
  std::string_view text_view(int column) const;

 private:
  sqlite3_stmt* stmt_;
  int rc_ = SQLITE_OK;
};

// Opened through the WAL VFS (wal_vfs.hpp), whose safety rests on this connection's rollback
// hook and authorizer: nothing else may install either on it.
class Connection {
 public:
  explicit Connection(const std::string& path);  // throws on failure
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepared once per connection and reused; `sql` must have static storage and never
  // change, a string literal or a string built once (the cache is keyed by its address).
  Statement prepare(const char* sql);
  // Runs one or more statements without results. Returns the SQLite result code.
  int exec(const std::string& sql);
  std::string last_error() const { return sqlite3_errmsg(db_); }
  int extended_error() const { return sqlite3_extended_errcode(db_); }
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// A bounded pool; connections are opened on demand up to `max_size`, then callers wait.
class ConnectionPool {
 public:
  ConnectionPool(std::string path, std::size_t max_size) : path_(std::move(path)), max_size_(max_size) {}

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease() { if (conn_) pool_->release(std::move(conn_)); }
    Connection* operator->() { return conn_.get(); }
    Connection& operator*() { return *conn_; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  Lease acquire();

 private:
  void release(std::unique_ptr<Connection> conn);

  std::string path_;
  std::size_t max_size_;
  std::size_t open_ = 0;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::mutex mutex_;
  std::condition_variable available_;
};

// Keeps one read transaction of this process open, on a connection of its own, so that point
// queries (a key verification) make no system call. Why: every SQLite read transaction takes
// a shared lock on one of the WAL's read-mark slots, and the unix VFS takes it with fcntl()
// (and releases it with another) unless a connection of the same process already holds
// that slot. Those two calls were half of a verification's cost (bench/verify_bench, perf).
// With the anchor holding the slot the newest snapshot uses, readers share it in memory.
// Reads stay exactly as fresh: every statement still starts its own read transaction on
// the newest commit; the anchor shares a lock, it caches nothing. It never holds back a
// checkpoint for long: it steps aside for every write of this process and for the last step
// of its checkpoints (so that the WAL can start again), and for other processes' writers it lets go
// after `hold_for` and leaves a reader gap of `gap` before it takes the newest snapshot:
// a checkpoint can only complete, and the next write restart the WAL, while no reader
// holds an older snapshot (SQLite's WAL documentation asks long readers for such gaps).
// Without the anchor everything works the same, only slower.
class ReadAnchor {
 public:
  // Throws like Connection.
  ReadAnchor(const std::string& path, std::chrono::milliseconds hold_for, std::chrono::milliseconds gap);
  ~ReadAnchor();
  ReadAnchor(const ReadAnchor&) = delete;
  ReadAnchor& operator=(const ReadAnchor&) = delete;

  // Around a write transaction of this process: ends the anchor's read transaction, and
  // starts a new one (on the snapshot the write left).
  void step_aside();
  void resume();

 private:
  void hold();     // with mutex_ held
  void release();  // with mutex_ held
  void renew_loop();

  Connection conn_;
  sqlite3_stmt* read_ = nullptr;  // stepped once (not reset) while holding
  std::chrono::milliseconds hold_for_;
  std::chrono::milliseconds gap_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool holding_ = false;
  bool aside_ = false;
  bool stopping_ = false;
  std::thread renewer_;
};

// What the checkpointer has done so far (GET /metrics).
struct CheckpointStats {
  std::uint64_t checkpoints = 0;        // attempts, complete or not
  std::uint64_t held_back = 0;          // of which a reader kept part of the WAL from being copied
  std::uint64_t background_micros = 0;  // copying beside the writers
  std::uint64_t exclusive_micros = 0;   // the last step: waiting for the write in progress, then holding writers back
  std::uint64_t busy = 0;               // SQLITE_BUSY: another checkpoint, or the WAL index being updated; retried
  std::uint64_t failed = 0;             // any other error (logged)
};

// Checkpoints the WAL (copies its pages into the database file, so that it can start again
// from its beginning) on a thread of its own, in place of SQLite's automatic checkpoint.
// Why: that one runs inside the commit that crosses its threshold, so one write in ~100
// waited for hundreds of page writes and an fsync of the database file, and every write
// queued behind it waited too (the REST and charge p99s). Here the copy runs beside the
// writers. Only a last, short step holds this process's writers back (`exclusive`): it
// copies the few pages committed meanwhile and syncs the database file, because the
// WAL can start again only when all of it is in the database file and no write is under
// way; a server that writes without pause would otherwise never reach such a moment, and
// its WAL would grow for as long as the writes go on. A reader of another process that
// holds an old snapshot can keep the copy from completing: then the checkpointer tries
// again, at most every kCheckpointRetry, until the WAL has started again; the copy left by
// then is small, and goes straight to the short step, so it fits in the moment the reader
// lets go. The connections it watches keep its WAL hook: they must not commit after it is
// gone (the store destroys it first, when nothing writes any more).
inline constexpr std::chrono::milliseconds kCheckpointRetry{1};
// Left to copy past this many frames, a checkpoint copies beside the writers first.
inline constexpr int kCheckpointExclusiveFrames = 1000;

class Checkpointer {
 public:
  // Runs its argument while no write transaction of this process is open.
  using Exclusive = std::function<void(const std::function<void()>&)>;

  // Checkpoints once the WAL holds `wal_frames` frames. Throws like Connection.
  Checkpointer(const std::string& path, int wal_frames, Exclusive exclusive);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Makes the commits of `conn` report the WAL's size to this checkpointer, which turns off
  // SQLite's automatic checkpoint on `conn`.
  void watch(Connection& conn);
  CheckpointStats stats() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int wal_frames);
  void run();

  Connection conn_;
  int wal_frames_;
  Exclusive exclusive_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;
  bool stopping_ = false;
  int last_frames_ = 0;             // the WAL's size after the last commit seen
  bool until_restart_ = false;      // every commit asks for a checkpoint until the WAL starts again
  int copied_ = 0;                  // of the WAL's frames, copied into the database file
  std::uint64_t restarts_ = 0;      // of the WAL seen by on_commit
  CheckpointStats stats_;
  std::thread thread_;
};

}  // namespace tollgate::store::sqlite
