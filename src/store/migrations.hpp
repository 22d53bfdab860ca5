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

}  // namespace tollgate::store
