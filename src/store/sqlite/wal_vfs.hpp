// A SQLite VFS that gives each WAL commit one write() instead of two per page.
//
// Why: SQLite writes a WAL frame as two calls, its 24-byte header and then its page, so a
// commit of 16 pages is 32 pwrite() calls before the fsync. On this project's machines a
// pwrite() into the page cache costs about 3 us of kernel time (ext4, a VM), so those calls
// were ~90 us of a ~340 us charge commit, on the one thread every charge waits for
// (bench/README.md, "Fourteenth session"). This VFS wraps the system's default ("unix")
// and, for WAL files only, gathers writes that continue or overwrite the run it holds in a
// buffer; it writes the run with one call before anything that must see the file: a sync,
// a read of those bytes, a size query or truncation, a file control, closing, or a write
// elsewhere in the file. Every other file and call goes straight to "unix".
//
// Why that is safe: the file ends up with the same bytes as without the buffer (writes
// into the run are applied to it in order, and a write elsewhere first writes the run out),
// and no later than the sync that follows them. Other connections find
// WAL frames only through the wal-index, which a commit updates after it has synced its
// frames (synchronous=FULL, which Connection always sets; under NORMAL a commit would
// publish frames without a sync, so this VFS must not be used with it; Connection refuses
// to change the setting). A crash loses at most what a crash just before those writes would
// have lost, and recovery checks frames by their checksums either way.
//
// Unbuffered, SQLite writes every WAL byte while it holds the write lock. A run therefore
// never outlives its write transaction: a commit writes it out at its sync, and a run left
// when a transaction rolls back (frames a large transaction spilled before it gave up) or
// when the file closes is dropped, never written: after the lock is released, the next
// commit writes its own frames at those offsets.
#pragma once

#include <sqlite3.h>

#include <cstdint>

namespace tollgate::store::sqlite {

// Registers the VFS once (thread-safe) and returns its name for sqlite3_open_v2.
const char* wal_vfs_name();

// Drops what the connection's WAL file holds unwritten. Connection calls it from the
// rollback hook: a rolled-back transaction's frames are void.
void discard_unsynced_wal_writes(sqlite3* db);

// Process-wide counts, for tests and benchmarks: WAL writes SQLite asked for, and the
// write() calls they became.
struct WalVfsStats {
  std::uint64_t writes_asked = 0;
  std::uint64_t writes_done = 0;
};
WalVfsStats wal_vfs_stats();

}  // namespace tollgate::store::sqlite
