// The PostgreSQL backend: many `tollgate serve` processes on one database.
#pragma once

#include <memory>
#include <string_view>

#include "store/store.hpp"

namespace tollgate::store {

// `url` is a libpq connection URI (postgres://user@host:port/db). Throws on failure.
std::unique_ptr<Store> open_postgres_store(std::string_view url);

}  // namespace tollgate::store
