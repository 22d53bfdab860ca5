// Backend-independent parts of the store: names of enums, ledger account ids, and the
// factory that picks a backend from the --db URL.
#include "store/store.hpp"

#include <stdexcept>

#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace tollgate::store {

std::string_view to_string(Period period) {
  switch (period) {
    case Period::kDay: return "day";
    case Period::kMonth: return "month";
    case Period::kTotal: return "total";
  }
  return "total";
}

std::optional<Period> parse_period(std::string_view text) {
  if (text == "day") return Period::kDay;
  if (text == "month") return Period::kMonth;
  if (text == "total") return Period::kTotal;
  return std::nullopt;
}

std::string_view to_string(TransferKind kind) {
  switch (kind) {
    case TransferKind::kDeposit: return "deposit";
    case TransferKind::kCharge: return "charge";
    case TransferKind::kRefund: return "refund";
  }
  return "deposit";
}

std::optional<TransferKind> parse_transfer_kind(std::string_view text) {
  if (text == "deposit") return TransferKind::kDeposit;
  if (text == "charge") return TransferKind::kCharge;
  if (text == "refund") return TransferKind::kRefund;
  return std::nullopt;
}

std::string credits_account(std::string_view account_id) { return "credits:" + std::string(account_id); }
std::string earnings_account(std::string_view account_id) { return "earnings:" + std::string(account_id); }

std::unique_ptr<Store> open_store(std::string_view url) {
  if (url.starts_with("sqlite:")) return open_sqlite_store(url.substr(7));
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) return open_postgres_store(url);
  throw std::runtime_error("--db must be sqlite:PATH or postgres://...; got '" + std::string(url) + "'");
}

}  // namespace tollgate::store
