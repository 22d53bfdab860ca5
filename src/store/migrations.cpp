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
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
  return out;
}

}  // namespace tollgate::store
