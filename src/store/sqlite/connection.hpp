// A thin RAII layer over the SQLite C API: connections with a prepared-statement cache, and
// statements with typed bind/column helpers. Used only by sqlite_store.cpp.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <condition_variable>
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
  Statement& bind(int index, std::string_view value);  // empty string binds NULL
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

class Connection {
 public:
  explicit Connection(const std::string& path);  // throws on failure
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepared once per connection and reused; `sql` must be a string literal (the cache
  // is keyed by its address).
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
// checkpoint for long: it steps aside for every write of this process (so that the
// checkpoint after a commit runs unhindered), and for other processes' writers it lets go
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

}  // namespace tollgate::store::sqlite
