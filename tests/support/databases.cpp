// Creating and dropping test databases on both backends.
#include "support/databases.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdlib>

#include "common/crypto.hpp"

namespace tollgate::test {
namespace {

std::string postgres_admin_url() {
  const char* url = std::getenv("TOLLGATE_TEST_POSTGRES_URL");
  return url ? url : "";
}

// Runs one statement on `url`; returns the first value of the first row.
std::string pg_exec(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot connect to " << url << ": " << PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      ADD_FAILURE() << "postgres: " << sql << ": " << PQresultErrorMessage(r);
    } else if (PQntuples(r) > 0 && PQnfields(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
  }
  PQfinish(conn);
  return out;
}

std::string sqlite_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path;
  } else {
    sqlite3_busy_timeout(db, 5000);
    // Every statement of `sql` in turn (as PQexec does); the value is from the first that
    // returns a row.
    const char* next = sql.c_str();
    bool have_value = false;
    while (*next) {
      sqlite3_stmt* stmt = nullptr;
      const char* tail = nullptr;
      if (sqlite3_prepare_v2(db, next, -1, &stmt, &tail) != SQLITE_OK) {
        ADD_FAILURE() << "sqlite: " << next << ": " << sqlite3_errmsg(db);
        break;
      }
      next = tail;
      if (!stmt) continue;  // only whitespace or a comment was left
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_ROW && !have_value) {
        have_value = true;
        if (sqlite3_column_text(stmt, 0)) out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      }
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) ADD_FAILURE() << "sqlite: " << sql << ": " << sqlite3_errmsg(db);
      sqlite3_finalize(stmt);
    }
  }
  sqlite3_close(db);
  return out;
}

// "postgres://user@host:port/db" -> same with another database name.
std::string with_database(const std::string& url, const std::string& name) {
  return url.substr(0, url.rfind('/') + 1) + name;
}

}  // namespace

std::string backend_name(Backend backend) { return backend == Backend::kSqlite ? "sqlite" : "postgres"; }

std::vector<Backend> test_backends() { return {Backend::kSqlite, Backend::kPostgres}; }

std::optional<std::string> unavailable_reason(Backend backend) {
  if (backend == Backend::kSqlite || !postgres_admin_url().empty()) return std::nullopt;
  if (const char* req = std::getenv("TOLLGATE_REQUIRE_POSTGRES"); req && std::string(req) == "1") {
    ADD_FAILURE() << "TOLLGATE_REQUIRE_POSTGRES=1 but TOLLGATE_TEST_POSTGRES_URL is not set";
  }
  return "TOLLGATE_TEST_POSTGRES_URL is not set (scripts/test starts a PostgreSQL cluster and sets it)";
}

TestDatabase::TestDatabase(Backend backend) : backend_(backend) {
  if (backend == Backend::kSqlite) {
    url_ = "sqlite:" + dir_.file("tollgate.db");
    return;
  }
  pg_name_ = "t_" + random_hex(8);
  pg_exec(postgres_admin_url(), "CREATE DATABASE " + pg_name_);
  url_ = with_database(postgres_admin_url(), pg_name_);
}

TestDatabase::~TestDatabase() {
  if (!pg_name_.empty()) pg_exec(postgres_admin_url(), "DROP DATABASE IF EXISTS " + pg_name_ + " WITH (FORCE)");
}

void TestDatabase::execute(const std::string& sql) const { query_value(sql); }

void TestDatabase::execute_on(const std::string& url, const std::string& sql) {
  if (url.starts_with("sqlite:")) {
    sqlite_exec(url.substr(7), sql);
  } else {
    pg_exec(url, sql);
  }
}

std::string TestDatabase::query_value(const std::string& sql) const {
  return backend_ == Backend::kSqlite ? sqlite_exec(url_.substr(7), sql) : pg_exec(url_, sql);
}

}  // namespace tollgate::test
