// The WAL-writing VFS (src/store/sqlite/wal_vfs.hpp): one write() per commit, and the same
// database as without it, including for another process, after a process dies and after a
// rolled-back transaction that had spilled frames.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "store/sqlite/connection.hpp"
#include "store/sqlite/wal_vfs.hpp"
#include "support/process.hpp"

namespace tollgate::store::sqlite {
namespace {

using test::TempDir;

std::int64_t scalar(Connection& conn, const char* sql) {
  auto s = conn.prepare(sql);
  EXPECT_TRUE(s.step()) << conn.last_error();
  return s.int64(0);
}

void exec_ok(Connection& conn, const std::string& sql) { ASSERT_EQ(conn.exec(sql), SQLITE_OK) << conn.last_error(); }

// Runs `body` in a forked child that ends with _exit(body()), as when a process dies. `body`
// allocates its connections with new and never deletes them: nothing is closed or
// checkpointed. Returns the child's exit code.
int exit_code_of_child(const std::function<int()>& body) {
  pid_t child = fork();
  if (child < 0) return -1;
  if (child == 0) _exit(body());
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

void expect_integrity_ok(Connection& conn) {
  auto check = conn.prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.text(0), "ok");
}

// The path of a new database t.db in `dir` with the table t, after `more_sql`; its connection
// is closed, so a child process starts from what is in the file.
std::string database_with_table(TempDir& dir, const std::string& more_sql = "") {
  std::string path = dir.file("t.db");
  Connection setup(path);
  exec_ok(setup, "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)" + more_sql);
  return path;
}

// Rows of ~1 KiB, so that a transaction of n rows touches about n/4 pages.
std::string insert_rows(int first, int count) {
  return "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(first) + " UNION ALL SELECT i + 1 FROM n WHERE i < " +
         std::to_string(first + count - 1) + ") INSERT INTO t (id, body) SELECT i, randomblob(1000) FROM n";
}

// The VFS relies on a sync between a commit's frames and its becoming visible (wal_vfs.hpp).
TEST(WalVfs, EveryConnectionSyncsEachCommit) {
  TempDir dir;
  Connection conn(dir.file("t.db"));
  EXPECT_EQ(scalar(conn, "PRAGMA synchronous"), 2);  // FULL
  sqlite3_vfs* vfs = nullptr;
  ASSERT_EQ(sqlite3_file_control(conn.handle(), "main", SQLITE_FCNTL_VFS_POINTER, &vfs), SQLITE_OK);
  EXPECT_STREQ(vfs->zName, wal_vfs_name());
}

TEST(WalVfs, NoStatementCanLowerTheSyncSetting) {
  TempDir dir;
  Connection conn(dir.file("t.db"));
  EXPECT_NE(conn.exec("PRAGMA synchronous=NORMAL"), SQLITE_OK);
  EXPECT_NE(conn.exec("pragma main.Synchronous = 0"), SQLITE_OK);
  EXPECT_NE(conn.exec("PRAGMA synchronous(1)"), SQLITE_OK);
  EXPECT_NE(conn.exec("PRAGMA \"synchronous\" = off"), SQLITE_OK);
  EXPECT_EQ(scalar(conn, "PRAGMA synchronous"), 2);
}

TEST(WalVfs, ACommitOfManyPagesIsOneWrite) {
  TempDir dir;
  Connection conn(dir.file("t.db"));
  exec_ok(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)");
  exec_ok(conn, insert_rows(1, 10));  // the WAL's header is written and synced on its own once
  WalVfsStats before = wal_vfs_stats();
  exec_ok(conn, insert_rows(11, 40));  // ~10 pages: 20 writes asked (a header and a page each)
  WalVfsStats after = wal_vfs_stats();
  EXPECT_GE(after.writes_asked - before.writes_asked, 20u);
  EXPECT_EQ(after.writes_done - before.writes_done, 1u);
  EXPECT_EQ(scalar(conn, "SELECT COUNT(*) FROM t"), 50);
}

// A run is written in pieces no longer than the unix VFS takes in one call (0x1ffff bytes):
// a longer one failed as "database or disk is full" before that limit was known.
TEST(WalVfs, ATransactionLargerThanOneWriteCommitsWhole) {
  TempDir dir;
  Connection conn(dir.file("t.db"));
  exec_ok(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)");
  WalVfsStats before = wal_vfs_stats();
  exec_ok(conn, insert_rows(1, 2000));  // ~2 MiB in one commit
  WalVfsStats after = wal_vfs_stats();
  EXPECT_GE(after.writes_done - before.writes_done, 16u);
  EXPECT_EQ(scalar(conn, "SELECT COUNT(*) FROM t"), 2000);
  Connection other(dir.file("t.db"));
  EXPECT_EQ(scalar(other, "SELECT COUNT(*) FROM t"), 2000);
  EXPECT_EQ(scalar(other, "SELECT SUM(length(body)) FROM t"), 2000 * 1000);
}

// With a page cache of a few pages, SQLite writes frames of the open transaction to the
// WAL before its commit and reads them back; those reads must see the buffered frames.
TEST(WalVfs, ATransactionReadsBackTheFramesItSpilled) {
  TempDir dir;
  Connection conn(dir.file("t.db"));
  exec_ok(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB); PRAGMA cache_size=10");
  exec_ok(conn, "BEGIN IMMEDIATE");
  exec_ok(conn, insert_rows(1, 500));
  exec_ok(conn, "UPDATE t SET body = zeroblob(1000) WHERE id % 7 = 0");
  EXPECT_EQ(scalar(conn, "SELECT COUNT(*) FROM t WHERE body = zeroblob(1000)"), 71);
  exec_ok(conn, "COMMIT");
  Connection other(dir.file("t.db"));
  EXPECT_EQ(scalar(other, "SELECT COUNT(*) FROM t"), 500);
  EXPECT_EQ(scalar(other, "SELECT COUNT(*) FROM t WHERE body = zeroblob(1000)"), 71);
  expect_integrity_ok(other);
}

// A rolled-back transaction's spilled frames are void: they must never reach the file after
// the write lock is gone, where they would overwrite the frames of the next commit, made by
// another connection at the same offsets (a review found this in the first version). In a
// child process: connection A spills frames of a large transaction and gives it up as
// `give_up` does; B commits 300 rows at the same WAL offsets; A touches the WAL again; the
// process dies without closing anything. The parent recovers the WAL and finds B's rows.
void expect_the_next_commit_survives(const std::function<bool(Connection&)>& give_up) {
  TempDir dir;
  std::string path = database_with_table(dir, "; INSERT INTO t VALUES (10000, NULL)");
  int code = exit_code_of_child([&] {
    auto& a = *new Connection(path);
    auto& b = *new Connection(path);
    if (a.exec("PRAGMA cache_size=10") != SQLITE_OK) return 1;
    if (!give_up(a)) return 2;
    if (b.exec(insert_rows(1000, 300)) != SQLITE_OK) return 3;
    if (a.exec("SELECT COUNT(*) FROM t") != SQLITE_OK) return 4;
    if (a.exec(insert_rows(5000, 1)) != SQLITE_OK) return 5;
    return 0;
  });
  ASSERT_EQ(code, 0);
  Connection conn(path);  // recovers the WAL left behind
  EXPECT_EQ(scalar(conn, "SELECT COUNT(*) FROM t WHERE id >= 1000 AND id < 5000"), 300);
  EXPECT_EQ(scalar(conn, "SELECT COUNT(*) FROM t WHERE id = 5000 OR id = 10000"), 2);
  EXPECT_EQ(scalar(conn, "SELECT COUNT(*) FROM t"), 302) << "nothing of the given-up transaction";
  expect_integrity_ok(conn);
}

TEST(WalVfs, ARolledBackTransactionsFramesNeverOverwriteTheNextCommit) {
  expect_the_next_commit_survives([](Connection& a) {
    return a.exec("BEGIN IMMEDIATE") == SQLITE_OK && a.exec(insert_rows(1, 400)) == SQLITE_OK &&
           a.exec("ROLLBACK") == SQLITE_OK;
  });
}

TEST(WalVfs, AFailedStatementsFramesNeverOverwriteTheNextCommit) {
  // One statement of 400 rows whose last row collides with id 10000: SQLite rolls it back.
  expect_the_next_commit_survives([](Connection& a) { return a.exec(insert_rows(9601, 400)) == SQLITE_CONSTRAINT; });
}

// Every commit is in the file by the time COMMIT returns: a process that commits and then
// dies without closing its connection (no flush on close, no checkpoint) loses nothing.
TEST(WalVfs, CommitsSurviveTheProcessDyingRightAfter) {
  TempDir dir;
  std::string path = database_with_table(dir);
  int code = exit_code_of_child([&] {
    auto& conn = *new Connection(path);
    for (int i = 0; i < 20; ++i) {
      if (conn.exec(insert_rows(1 + i * 10, 10)) != SQLITE_OK) return 1;
    }
    return 0;
  });
  ASSERT_EQ(code, 0);
  Connection conn(path);
  EXPECT_EQ(scalar(conn, "SELECT COUNT(*) FROM t"), 200);
}

}  // namespace
}  // namespace tollgate::store::sqlite
