// PostgreSQL implementation of Store (in progress in this commit).
#include "store/postgres/postgres_store.hpp"

#include <stdexcept>

namespace tollgate::store {

std::unique_ptr<Store> open_postgres_store(std::string_view) {
  throw std::runtime_error("the PostgreSQL backend is not available in this build yet");
}

}  // namespace tollgate::store
