// Databases for store and ledger tests: a fresh SQLite file, or a fresh database on the
// throwaway PostgreSQL cluster that scripts/test starts (TOLLGATE_TEST_POSTGRES_URL).
// The same test body runs against both backends.
#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "store/store.hpp"
#include "support/process.hpp"

namespace tollgate::test {

enum class Backend { kSqlite, kPostgres };
std::string backend_name(Backend backend);
inline std::ostream& operator<<(std::ostream& out, Backend b) { return out << backend_name(b); }
// Both backends; parameterised tests are instantiated for each.
std::vector<Backend> test_backends();
// Why `backend` cannot be tested here, or nullopt. PostgreSQL needs TOLLGATE_TEST_POSTGRES_URL
// (scripts/test starts a cluster and sets it, plus TOLLGATE_REQUIRE_POSTGRES=1, which turns a
// missing cluster into a failure instead of a skip). Use in SetUp:
//   if (auto why = unavailable_reason(GetParam())) GTEST_SKIP() << *why;
std::optional<std::string> unavailable_reason(Backend backend);

// A database that exists for the life of the object.
class TestDatabase {
 public:
  explicit TestDatabase(Backend backend);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  Backend backend() const { return backend_; }
  const std::string& url() const { return url_; }  // for --db
  std::unique_ptr<store::Store> open() const { return store::open_store(url_); }
  // Runs SQL directly (bypassing Tollgate), e.g. to tamper with the ledger in a test.
  void execute(const std::string& sql) const;
  // The same on any database URL (sqlite:PATH or postgres://...).
  static void execute_on(const std::string& url, const std::string& sql);
  // First column of the first row of a query, as text ("" if none).
  std::string query_value(const std::string& sql) const;

 private:
  Backend backend_;
  TempDir dir_;
  std::string url_;
  std::string pg_name_;
};

}  // namespace tollgate::test
