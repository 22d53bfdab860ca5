// Key verification benchmark (issue 2, "Done means"): KeyVerifier::verify of random valid
// agent keys against a SQLite store holding 1,000,000 keys, on one thread. Reports ops/s and
// per-call latency percentiles measured here (Google Benchmark gives means only), side by
// side with baselines from the same run: SHA-256 alone, a well-formed unknown key (one
// index probe that misses), and a malformed key (rejected before the store).
// Targets: >= 100,000 verifications/s on one core, p99 < 100 µs.
// Usage: verify_bench [--keys N] [--samples N] [--dir PATH] [--benchmark_* flags]
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <string>
#include <vector>

#include "keys/key.hpp"
#include "keys/verifier.hpp"
#include "store/store.hpp"

namespace {

using namespace tollgate;
using Clock = std::chrono::steady_clock;

struct Options {
  std::size_t keys = 1'000'000;
  std::size_t samples = 1'000'000;   // timed calls per case in the percentile run
  std::size_t flush_every = 100'000;  // last-use flush cadence (the server flushes every second)
  std::string dir;                    // default: a fresh temp dir, removed at exit
};

struct World {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<keys::KeyVerifier> verifier;
  std::vector<std::string> secrets;  // every stored key, to pick random valid ones
  std::vector<std::string> unknown;  // well-formed keys that are not stored
  std::vector<std::string> malformed;
};

World* g_world = nullptr;
Options g_options;

void die(const std::string& what, sqlite3* db) {
  std::fprintf(stderr, "verify_bench: %s: %s\n", what.c_str(), db ? sqlite3_errmsg(db) : "");
  std::exit(1);
}

// Inserts `n` agent keys for one account in a single transaction, straight through SQLite
// with one prepared statement (the store's insert_key is one autocommit per key: correct for
// the API, hours for a million rows with synchronous=FULL).
void bulk_insert(const std::string& db_path, const std::string& account_id, std::vector<std::string>& secrets,
                 std::size_t n) {
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) die("open", db);
  sqlite3_exec(db, "PRAGMA cache_size=-524288; PRAGMA busy_timeout=5000;", nullptr, nullptr, nullptr);
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) die("begin", db);
  sqlite3_stmt* insert = nullptr;
  const char* sql =
      "INSERT INTO api_keys (id, account_id, name, scope, key_hash, last4, created_at, lookup) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
  if (sqlite3_prepare_v2(db, sql, -1, &insert, nullptr) != SQLITE_OK) die("prepare", db);
  sqlite3_stmt* insert_use = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO api_key_uses (lookup) VALUES (?1)", -1, &insert_use, nullptr) != SQLITE_OK) {
    die("prepare", db);
  }
  secrets.reserve(n);
  UnixMicros now = now_micros();
  for (std::size_t i = 0; i < n; ++i) {
    std::string secret = keys::generate_api_key();
    std::string id = "key_" + random_hex(10);
    std::string last4 = keys::last4(secret);
    Sha256 hash = keys::hash_secret(secret);
    sqlite3_bind_text(insert, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert, 2, account_id.data(), static_cast<int>(account_id.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert, 3, "bench", -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 4, "agent:connect", -1, SQLITE_STATIC);
    sqlite3_bind_blob(insert, 5, hash.data(), static_cast<int>(hash.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert, 6, last4.data(), static_cast<int>(last4.size()), SQLITE_STATIC);
    sqlite3_bind_int64(insert, 7, now);
    sqlite3_bind_int64(insert, 8, store::key_lookup(hash));
    if (sqlite3_step(insert) != SQLITE_DONE) die("insert", db);
    sqlite3_reset(insert);
    sqlite3_bind_int64(insert_use, 1, store::key_lookup(hash));
    if (sqlite3_step(insert_use) != SQLITE_DONE) die("insert", db);
    sqlite3_reset(insert_use);
    secrets.push_back(std::move(secret));
  }
  sqlite3_finalize(insert);
  sqlite3_finalize(insert_use);
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) die("commit", db);
  // Leave the keys in the main file, as a long-running server's checkpoints would.
  sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
}

// A cheap deterministic index stream, so picking a key costs next to nothing in the loop.
struct Picker {
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  std::size_t next(std::size_t n) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<std::size_t>(state % n);
  }
};

void flush_or_die() {
  if (!g_world->verifier->flush_last_used().ok()) {
    std::fprintf(stderr, "verify_bench: flush_last_used failed\n");
    std::exit(1);
  }
}

// ---- Google Benchmark cases (means, with the ops/s counter) ------------------------------

void BM_Sha256Only(benchmark::State& state) {
  Picker pick;
  for (auto _ : state) {
    benchmark::DoNotOptimize(keys::hash_secret(g_world->secrets[pick.next(g_world->secrets.size())]));
  }
  state.counters["ops/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_VerifyValidKey(benchmark::State& state) {
  Picker pick;
  std::size_t since_flush = 0;
  std::size_t failures = 0;
  for (auto _ : state) {
    auto r = g_world->verifier->verify(g_world->secrets[pick.next(g_world->secrets.size())], keys::Scope::kAgent);
    failures += !r.ok();
    if (++since_flush == g_options.flush_every) {
      state.PauseTiming();
      flush_or_die();
      since_flush = 0;
      state.ResumeTiming();
    }
  }
  if (failures) state.SkipWithError("a stored key failed verification");
  state.counters["ops/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_VerifyUnknownKey(benchmark::State& state) {
  Picker pick;
  for (auto _ : state) {
    auto r = g_world->verifier->verify(g_world->unknown[pick.next(g_world->unknown.size())], keys::Scope::kAgent);
    benchmark::DoNotOptimize(r);
  }
  state.counters["ops/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_VerifyMalformedKey(benchmark::State& state) {
  Picker pick;
  for (auto _ : state) {
    auto r = g_world->verifier->verify(g_world->malformed[pick.next(g_world->malformed.size())], keys::Scope::kAgent);
    benchmark::DoNotOptimize(r);
  }
  state.counters["ops/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// ---- Per-call latencies, measured here --------------------------------------------------

struct Percentiles {
  std::string name;
  double ops_per_s = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  double between_ms = 0;  // mean time of the untimed work between calls (the last-use flushes)
};

// Times `samples` calls of `call(i)` one by one. Each call is bracketed by two clock reads
// (about 20 ns each through the vDSO), which is included: it is small next to a lookup and
// it is what a caller would see. Untimed work between calls (`between`) runs every
// `flush_every` calls.
template <typename Call, typename Between>
Percentiles measure(const std::string& name, std::size_t samples, Call call, Between between) {
  std::vector<std::uint32_t> ns(samples);
  Clock::duration busy{};
  Clock::duration between_time{};
  std::size_t betweens = 0;
  for (std::size_t i = 0; i < samples; ++i) {
    auto t0 = Clock::now();
    call(i);
    auto t1 = Clock::now();
    ns[i] = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    busy += t1 - t0;
    if ((i + 1) % g_options.flush_every == 0) {
      between();
      between_time += Clock::now() - t1;
      ++betweens;
    }
  }
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) { return ns[std::min(samples - 1, static_cast<std::size_t>(q * samples))] / 1000.0; };
  Percentiles p;
  p.name = name;
  p.ops_per_s = samples / std::chrono::duration<double>(busy).count();
  p.p50_us = at(0.50);
  p.p90_us = at(0.90);
  p.p99_us = at(0.99);
  p.p999_us = at(0.999);
  p.max_us = ns.back() / 1000.0;
  p.between_ms = betweens ? std::chrono::duration<double, std::milli>(between_time).count() / betweens : 0;
  return p;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

std::string affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return "?";
  std::string out;
  for (int i = 0; i < CPU_SETSIZE; ++i) {
    if (CPU_ISSET(i, &set)) out += (out.empty() ? "" : ",") + std::to_string(i);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  // Our flags first; the rest goes to Google Benchmark.
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--keys") {
      g_options.keys = std::stoul(value());
    } else if (a == "--samples") {
      g_options.samples = std::stoul(value());
    } else if (a == "--dir") {
      g_options.dir = value();
    } else {
      rest.push_back(argv[i]);
    }
  }
  int bench_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&bench_argc, rest.data());

  bool own_dir = g_options.dir.empty();
  if (own_dir) {
    std::string pattern = (std::filesystem::temp_directory_path() / "tollgate-verify-bench.XXXXXX").string();
    if (!mkdtemp(pattern.data())) return 1;
    g_options.dir = pattern;
  }
  std::string db_path = g_options.dir + "/verify_bench.db";
  std::filesystem::remove(db_path);
  std::filesystem::remove(db_path + "-wal");
  std::filesystem::remove(db_path + "-shm");

  World world;
  g_world = &world;
  auto setup_started = Clock::now();
  world.store = store::open_store("sqlite:" + db_path);
  auto account = world.store->create_account("bench@example.com", "not-a-password-hash");
  if (!account.ok()) return 1;
  bulk_insert(db_path, account->id, world.secrets, g_options.keys);
  double setup_s = std::chrono::duration<double>(Clock::now() - setup_started).count();
  world.verifier = std::make_unique<keys::KeyVerifier>(*world.store);
  for (int i = 0; i < 10'000; ++i) world.unknown.push_back(keys::generate_api_key());
  for (int i = 0; i < 1'000; ++i) {
    std::string k = keys::generate_api_key();
    k[8 + i % 64] = 'G';  // one non-hex character
    world.malformed.push_back(k);
  }
  auto file_mb = [&](const std::string& p) {
    return std::filesystem::exists(p) ? std::filesystem::file_size(p) / 1e6 : 0.0;
  };

  std::printf("== KeyVerifier::verify benchmark ==\n");
  std::printf("machine: %s, %u cores online; this process pinned to CPU(s) %s; one thread\n", cpu_model().c_str(),
              std::thread::hardware_concurrency(), affinity().c_str());
  std::printf("store: SQLite %s, WAL, synchronous=FULL, page cache 64 MiB per connection (the server's settings)\n",
              sqlite3_libversion());
  std::printf("data: %zu agent keys in one account, bulk-inserted in one transaction in %.1f s; db %.0f MB (+wal %.0f MB)\n",
              world.secrets.size(), setup_s, file_mb(db_path), file_mb(db_path + "-wal"));
  std::printf("lookups: random keys (xorshift), last-use flushed every %zu calls outside the timing\n",
              g_options.flush_every);
  std::printf("schema: as migrated (api_keys keyed by an integer from key_hash, the rowid: one B-tree descent per lookup)\n\n");

  // Warm the caches the way a running server's would be: one pass over random keys.
  Picker warm;
  for (std::size_t i = 0; i < std::min<std::size_t>(200'000, world.secrets.size()); ++i) {
    (void)world.verifier->verify(world.secrets[warm.next(world.secrets.size())], keys::Scope::kAgent);
  }
  flush_or_die();

  benchmark::RegisterBenchmark("sha256_only (baseline)", BM_Sha256Only);
  benchmark::RegisterBenchmark("verify_malformed_key (no store)", BM_VerifyMalformedKey);
  benchmark::RegisterBenchmark("verify_unknown_key (index miss)", BM_VerifyUnknownKey);
  benchmark::RegisterBenchmark("verify_valid_key", BM_VerifyValidKey);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  std::printf("\n-- per-call latency, %zu calls each, measured one by one --\n", g_options.samples);
  Picker pick;
  std::size_t failures = 0;
  auto no_op = [] {};
  std::vector<Percentiles> rows;
  rows.push_back(measure("sha256_only (baseline)", g_options.samples,
                         [&](std::size_t) {
                           benchmark::DoNotOptimize(keys::hash_secret(world.secrets[pick.next(world.secrets.size())]));
                         },
                         no_op));
  rows.push_back(measure("verify_unknown_key", g_options.samples,
                         [&](std::size_t) {
                           auto r = world.verifier->verify(world.unknown[pick.next(world.unknown.size())],
                                                           keys::Scope::kAgent);
                           failures += r.ok();
                         },
                         no_op));
  rows.push_back(measure("verify_valid_key", g_options.samples,
                         [&](std::size_t) {
                           auto r = world.verifier->verify(world.secrets[pick.next(world.secrets.size())],
                                                           keys::Scope::kAgent);
                           failures += !r.ok();
                         },
                         flush_or_die));
  flush_or_die();
  std::printf("%-24s %12s %9s %9s %9s %9s %9s\n", "case", "ops/s", "p50 us", "p90 us", "p99 us", "p99.9 us", "max us");
  for (const auto& r : rows) {
    std::printf("%-24s %12.0f %9.2f %9.2f %9.2f %9.2f %9.1f\n", r.name.c_str(), r.ops_per_s, r.p50_us, r.p90_us,
                r.p99_us, r.p999_us, r.max_us);
  }
  const Percentiles& valid = rows[2];
  std::printf("\nlast-use flush of %zu keys (untimed, between the calls above): %.0f ms on average\n",
              g_options.flush_every, valid.between_ms);
  std::printf("\nratio verify_valid_key / sha256_only: %.2fx the time per call (%.1f%% of the throughput)\n",
              rows[0].ops_per_s / valid.ops_per_s, 100.0 * valid.ops_per_s / rows[0].ops_per_s);
  std::printf("ratio verify_valid_key / verify_unknown_key: %.2fx the time per call\n",
              rows[1].ops_per_s / valid.ops_per_s);
  bool rate_ok = valid.ops_per_s >= 100'000;
  bool p99_ok = valid.p99_us < 100;
  std::printf("target >= 100000 verifications/s: %s (%.0f/s)\n", rate_ok ? "PASS" : "FAIL", valid.ops_per_s);
  std::printf("target p99 < 100 us: %s (%.2f us)\n", p99_ok ? "PASS" : "FAIL", valid.p99_us);
  if (failures) std::printf("ERROR: %zu verifications gave the wrong answer\n", failures);

  world.verifier.reset();
  world.store.reset();
  if (own_dir) std::filesystem::remove_all(g_options.dir);
  return failures ? 1 : 0;
}
