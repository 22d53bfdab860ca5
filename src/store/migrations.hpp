// The versioned schema migrations (migrations/NNNN_name.sql, embedded at build time), with
// the dialect placeholders filled in for one backend.
#pragma once

#include <string>
#include <vector>

namespace tollgate::store {

enum class Dialect { kSqlite, kPostgres };

struct Migration {
  int version = 0;      // NNNN from the file name
  std::string name;     // file name
  std::string sql;      // placeholders replaced
};

// Sorted by version. Throws std::runtime_error if a file name lacks its NNNN_ prefix.
std::vector<Migration> migrations_for(Dialect dialect);

// Throws std::runtime_error when `newest_applied` (the highest version in the database's
// schema_migrations) is past the last migration of this binary: the database was migrated by
// a newer Tollgate, whose schema this one would misread or corrupt (e.g. 0003 keys rows by a
// column an older binary never writes), so it must not start on it.
void refuse_newer_schema(int newest_applied);

}  // namespace tollgate::store
