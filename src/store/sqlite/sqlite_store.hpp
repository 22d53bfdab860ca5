// The embedded SQLite backend (the default): one file, WAL, synchronous=FULL.
#pragma once

#include <memory>
#include <string_view>

#include "store/store.hpp"

namespace tollgate::store {

// `path` is a file path (its folder is created) or ":memory:" is refused: the WAL and
// several connections need a real file. Throws std::runtime_error on failure.
std::unique_ptr<Store> open_sqlite_store(std::string_view path);

}  // namespace tollgate::store
