// Migrations come from one set of files for both backends; the few type differences are
// placeholders, replaced here.
#include "store/migrations.hpp"

#include <algorithm>
#include <stdexcept>

#include "common/embedded.hpp"

namespace tollgate::store {
namespace {

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

// store::key_lookup in SQL, for rows written before the column existed: the first 8 bytes of
// key_hash as a big-endian integer with the top bit cleared. SQLite 3.40 has neither unhex()
// nor bit operations on blobs, so it reads the 16 hex digits one by one (Horner's rule; every
// partial value fits in an int64, so no step ever turns into floating point).
std::string key_lookup_sql(Dialect dialect) {
  if (dialect == Dialect::kPostgres) {
    return "(('x' || encode(substring(key_hash from 1 for 8), 'hex'))::bit(64)::bigint & 9223372036854775807)";
  }
  auto digit = [](int i) {
    return "(instr('0123456789ABCDEF', substr(hex(key_hash), " + std::to_string(i) + ", 1)) - 1)";
  };
  std::string sql = "(" + digit(1) + " & 7)";
  for (int i = 2; i <= 16; ++i) sql = "(" + sql + " * 16 + " + digit(i) + ")";
  return sql;
}

}  // namespace

std::vector<Migration> migrations_for(Dialect dialect) {
  std::vector<Migration> out;
  for (const EmbeddedFile& file : migration_files()) {
    std::string_view name = file.path;
    if (name.size() < 6 || name[4] != '_' ||
        !std::all_of(name.begin(), name.begin() + 4, [](char c) { return c >= '0' && c <= '9'; })) {
      throw std::runtime_error("migration file name must start with NNNN_: " + std::string(name));
    }
    Migration m;
    m.version = std::stoi(std::string(name.substr(0, 4)));
    m.name = std::string(name);
    m.sql = std::string(file.data);
    bool sqlite = dialect == Dialect::kSqlite;
    replace_all(m.sql, "{{BLOB}}", sqlite ? "BLOB" : "BYTEA");
    replace_all(m.sql, "{{SERIAL_PK}}", sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT"
                                               : "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY");
    // A table stored in its primary key's B-tree (PostgreSQL has no such option: its tables
    // are heaps, and the primary key's index finds the row).
    replace_all(m.sql, "{{WITHOUT_ROWID}}", sqlite ? " WITHOUT ROWID" : "");
    // A 64-bit integer key; on SQLite exactly INTEGER, which makes the column the rowid.
    replace_all(m.sql, "{{INT64_KEY}}", sqlite ? "INTEGER" : "BIGINT");
    replace_all(m.sql, "{{KEY_LOOKUP_OF_KEY_HASH}}", key_lookup_sql(dialect));
    // Lines that only one backend runs, where their SQL cannot be the same (altering a
    // constraint): the other backend reads them as comments.
    replace_all(m.sql, "{{SQLITE_ONLY}}", sqlite ? "" : "--");
    replace_all(m.sql, "{{POSTGRES_ONLY}}", sqlite ? "--" : "");
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
  return out;
}

void refuse_newer_schema(int newest_applied) {
  int newest_known = migrations_for(Dialect::kSqlite).back().version;
  if (newest_applied > newest_known) {
    throw std::runtime_error("the database's schema is version " + std::to_string(newest_applied) +
                             ", newer than this Tollgate knows (" + std::to_string(newest_known) +
                             "): it was upgraded by a newer release; run that release or a later one");
  }
}

}  // namespace tollgate::store
