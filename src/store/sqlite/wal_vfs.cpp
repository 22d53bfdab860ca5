// See wal_vfs.hpp for what this VFS does and why it is safe. The SQLite documentation's
// "VFS shim" pattern: a VFS whose files hold the wrapped VFS's file and forward to it.
#include "store/sqlite/wal_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace tollgate::store::sqlite {
namespace {

constexpr const char* kName = "tollgate-wal";
// The most one write() of the unix VFS takes: it masks a write's length with 0x1ffff
// (os_unix.c, seekAndWriteFd), so a longer run would be cut short and fail as SQLITE_FULL.
// A charge commit is ~16 frames of 4,120 bytes, 66 KiB; a longer transaction (a migration)
// becomes several writes of up to 31 frames.
constexpr std::size_t kMaxRun = 0x1ffff;

sqlite3_vfs* g_unix = nullptr;  // the wrapped VFS, set once by wal_vfs_name()
std::atomic<std::uint64_t> g_writes_asked{0};
std::atomic<std::uint64_t> g_writes_done{0};

// SQLite allocates szOsFile bytes per file and hands us the start. A WAL file is this
// header followed (at kRealOffset) by the wrapped VFS's own file object; plain data only,
// since SQLite neither constructs nor destroys it.
struct WalFile {
  sqlite3_file base;  // first: SQLite sees a WalFile as its sqlite3_file
  sqlite3_file* real;
  bool gather;         // false where the device lacks powersafe overwrite (see vfs_open)
  unsigned char* run;  // bytes [run_start, run_start + run_size) of the file, not yet written
  std::size_t run_size;
  std::size_t run_capacity;
  sqlite3_int64 run_start;
};
constexpr std::size_t kRealOffset = (sizeof(WalFile) + 15) & ~std::size_t{15};

WalFile* wal(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }

int flush(WalFile* f) {
  if (f->run_size == 0) return SQLITE_OK;
  std::size_t size = f->run_size;
  f->run_size = 0;  // on failure too: SQLite fails the transaction, and its frames are void
  g_writes_done.fetch_add(1, std::memory_order_relaxed);
  return f->real->pMethods->xWrite(f->real, f->run, static_cast<int>(size), f->run_start);
}

// A run still held when its transaction ends never reached a sync: the transaction rolled
// back or failed, and its frames are void. It must be dropped, not written: once the write
// lock is released, the next commit (another connection's, perhaps another process's) writes
// its own frames at the same offsets, and writing the old run later would overwrite them.
void drop_run(WalFile* f) { f->run_size = 0; }

bool overlaps_run(const WalFile* f, sqlite3_int64 offset, int amount) {
  return f->run_size > 0 && offset < f->run_start + static_cast<sqlite3_int64>(f->run_size) &&
         offset + amount > f->run_start;
}

int wal_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  WalFile* f = wal(file);
  g_writes_asked.fetch_add(1, std::memory_order_relaxed);
  if (!f->gather) {
    g_writes_done.fetch_add(1, std::memory_order_relaxed);
    return f->real->pMethods->xWrite(f->real, data, amount, offset);
  }
  auto end = static_cast<sqlite3_int64>(f->run_size) + f->run_start;
  // Joins the run if it starts inside it or right at its end (a frame overwritten in the
  // same transaction, or the next header or page); otherwise the run is written first.
  bool joins = f->run_size > 0 && offset >= f->run_start && offset <= end;
  std::size_t new_size = joins ? std::max<std::size_t>(f->run_size, offset - f->run_start + amount) : amount;
  if (!joins || new_size > kMaxRun) {
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    if (static_cast<std::size_t>(amount) > kMaxRun) {
      g_writes_done.fetch_add(1, std::memory_order_relaxed);
      return f->real->pMethods->xWrite(f->real, data, amount, offset);
    }
    f->run_start = offset;
    new_size = amount;
  }
  if (new_size > f->run_capacity) {
    std::size_t capacity = std::max(new_size, std::min(kMaxRun, std::max<std::size_t>(f->run_capacity * 2, 64 << 10)));
    auto* grown = static_cast<unsigned char*>(std::realloc(f->run, capacity));
    if (!grown) {
      drop_run(f);  // the transaction fails, and its frames with it
      return SQLITE_IOERR_NOMEM;
    }
    f->run = grown;
    f->run_capacity = capacity;
  }
  std::memcpy(f->run + (offset - f->run_start), data, amount);
  f->run_size = new_size;
  return SQLITE_OK;
}

int wal_read(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset) {
  WalFile* f = wal(file);
  if (overlaps_run(f, offset, amount)) {
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  return f->real->pMethods->xRead(f->real, data, amount, offset);
}

// SQLite closes the WAL after the connection's last transaction ended: whatever run is left
// was never synced, so it is dropped (drop_run).
int wal_close(sqlite3_file* file) {
  WalFile* f = wal(file);
  drop_run(f);
  int closed = f->real->pMethods->xClose(f->real);
  std::free(f->run);
  f->run = nullptr;
  return closed;
}

int wal_truncate(sqlite3_file* file, sqlite3_int64 size) {
  WalFile* f = wal(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}

int wal_sync(sqlite3_file* file, int flags) {
  WalFile* f = wal(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xSync(f->real, flags);
}

int wal_file_size(sqlite3_file* file, sqlite3_int64* size) {
  WalFile* f = wal(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

int wal_file_control(sqlite3_file* file, int op, void* arg) {
  WalFile* f = wal(file);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}

int wal_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  WalFile* f = wal(file);
  *out = nullptr;
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFetch ? f->real->pMethods->xFetch(f->real, offset, amount, out) : SQLITE_OK;
}

// The rest is forwarded unchanged.
int wal_lock(sqlite3_file* f, int level) { return wal(f)->real->pMethods->xLock(wal(f)->real, level); }
int wal_unlock(sqlite3_file* f, int level) { return wal(f)->real->pMethods->xUnlock(wal(f)->real, level); }
int wal_check_reserved(sqlite3_file* f, int* out) {
  return wal(f)->real->pMethods->xCheckReservedLock(wal(f)->real, out);
}
int wal_sector_size(sqlite3_file* f) { return wal(f)->real->pMethods->xSectorSize(wal(f)->real); }
int wal_device_characteristics(sqlite3_file* f) {
  return wal(f)->real->pMethods->xDeviceCharacteristics(wal(f)->real);
}
int wal_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return wal(f)->real->pMethods->xShmMap(wal(f)->real, region, size, extend, out);
}
int wal_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return wal(f)->real->pMethods->xShmLock(wal(f)->real, offset, n, flags);
}
void wal_shm_barrier(sqlite3_file* f) { wal(f)->real->pMethods->xShmBarrier(wal(f)->real); }
int wal_shm_unmap(sqlite3_file* f, int delete_flag) {
  return wal(f)->real->pMethods->xShmUnmap(wal(f)->real, delete_flag);
}
int wal_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* page) {
  return wal(f)->real->pMethods->xUnfetch ? wal(f)->real->pMethods->xUnfetch(wal(f)->real, offset, page) : SQLITE_OK;
}

const sqlite3_io_methods kWalMethods = {
    3,           wal_close,     wal_read,           wal_write,      wal_truncate,    wal_sync,
    wal_file_size, wal_lock,    wal_unlock,         wal_check_reserved, wal_file_control,
    wal_sector_size, wal_device_characteristics, wal_shm_map, wal_shm_lock, wal_shm_barrier,
    wal_shm_unmap, wal_fetch,   wal_unfetch,
};

int vfs_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  // Any other file is the wrapped VFS's own object in the same memory: SQLite then calls
  // the wrapped methods directly, with nothing in between.
  if (!(flags & SQLITE_OPEN_WAL)) return g_unix->xOpen(g_unix, name, file, flags, out_flags);
  WalFile* f = wal(file);
  f->base.pMethods = nullptr;  // until the real file is open: SQLite then will not close it
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  f->gather = false;
  f->run = nullptr;
  f->run_size = 0;
  f->run_capacity = 0;
  f->run_start = 0;
  int rc = g_unix->xOpen(g_unix, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK || !f->real->pMethods) return rc;
  // A WAL file without powersafe overwrite gets its commits padded to a sector boundary, and
  // the last frame's tail is written after the sync and published with it (wal.c decides
  // that from this same file's characteristics): such a file is written through. The unix
  // VFS reports powersafe overwrite unless SQLite was built or the file opened without it.
  f->gather = (f->real->pMethods->xDeviceCharacteristics(f->real) & SQLITE_IOCAP_POWERSAFE_OVERWRITE) != 0;
  f->base.pMethods = &kWalMethods;
  return rc;
}

int vfs_delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_unix->xDelete(g_unix, name, sync_dir); }
int vfs_access(sqlite3_vfs*, const char* name, int flags, int* out) { return g_unix->xAccess(g_unix, name, flags, out); }
int vfs_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return g_unix->xFullPathname(g_unix, name, size, out);
}
void* vfs_dl_open(sqlite3_vfs*, const char* name) { return g_unix->xDlOpen(g_unix, name); }
void vfs_dl_error(sqlite3_vfs*, int size, char* out) { g_unix->xDlError(g_unix, size, out); }
void (*vfs_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) { return g_unix->xDlSym(g_unix, handle, symbol); }
void vfs_dl_close(sqlite3_vfs*, void* handle) { g_unix->xDlClose(g_unix, handle); }
int vfs_randomness(sqlite3_vfs*, int size, char* out) { return g_unix->xRandomness(g_unix, size, out); }
int vfs_sleep(sqlite3_vfs*, int micros) { return g_unix->xSleep(g_unix, micros); }
int vfs_current_time(sqlite3_vfs*, double* out) { return g_unix->xCurrentTime(g_unix, out); }
int vfs_get_last_error(sqlite3_vfs*, int size, char* out) { return g_unix->xGetLastError(g_unix, size, out); }
int vfs_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) { return g_unix->xCurrentTimeInt64(g_unix, out); }

}  // namespace

const char* wal_vfs_name() {
  static std::once_flag once;
  static sqlite3_vfs vfs{};
  std::call_once(once, [] {
    g_unix = sqlite3_vfs_find(nullptr);
    if (!g_unix || g_unix->iVersion < 2) throw std::runtime_error("SQLite has no default VFS to wrap");
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(std::max<std::size_t>(kRealOffset + g_unix->szOsFile, g_unix->szOsFile));
    vfs.mxPathname = g_unix->mxPathname;
    vfs.zName = kName;
    vfs.xOpen = vfs_open;
    vfs.xDelete = vfs_delete;
    vfs.xAccess = vfs_access;
    vfs.xFullPathname = vfs_full_pathname;
    vfs.xDlOpen = vfs_dl_open;
    vfs.xDlError = vfs_dl_error;
    vfs.xDlSym = vfs_dl_sym;
    vfs.xDlClose = vfs_dl_close;
    vfs.xRandomness = vfs_randomness;
    vfs.xSleep = vfs_sleep;
    vfs.xCurrentTime = vfs_current_time;
    vfs.xGetLastError = vfs_get_last_error;
    vfs.xCurrentTimeInt64 = vfs_current_time_int64;
    if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) throw std::runtime_error("cannot register SQLite VFS");
  });
  return kName;
}

void discard_unsynced_wal_writes(sqlite3* db) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &file) != SQLITE_OK || !file) return;
  if (file->pMethods == &kWalMethods) drop_run(wal(file));
}

WalVfsStats wal_vfs_stats() {
  return {g_writes_asked.load(std::memory_order_relaxed), g_writes_done.load(std::memory_order_relaxed)};
}

}  // namespace tollgate::store::sqlite
