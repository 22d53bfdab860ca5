// The rules of money: charges (balance check, spending limit, idempotency), refunds,
// deposits, and the invariant check. Each operation is one database transaction through
// the Store's LedgerTxn, so the rules are written once for every backend.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/money.hpp"
#include "common/result.hpp"
#include "store/store.hpp"

namespace tollgate::ledger {

// Largest single charge and single deposit; one more micro-dollar is INVALID_REQUEST.
inline constexpr Micros kMaxChargeMicros = 10'000 * kMicrosPerDollar;
inline constexpr Micros kMaxDepositMicros = 1'000'000 * kMicrosPerDollar;
inline constexpr std::size_t kMaxToolNameLength = 128;
inline constexpr std::size_t kMaxIdempotencyKeyLength = 255;
inline constexpr std::size_t kMaxNoteLength = 500;

// A charge, after both keys were verified.
struct ChargeRequest {
  std::string provider_account_id;
  std::string agent_key_id;
  std::string agent_account_id;
  std::string agent_key_last4;
  std::string tool;
  Micros amount_micros = 0;
  std::string idempotency_key;      // "" for none
  std::string request_fingerprint;  // identifies "the same request" for idempotent retries
};

struct ChargeResult {
  std::string charge_id;
  std::string tool;
  Micros amount_micros = 0;
  UnixMicros created_at = 0;
  bool replayed = false;  // an idempotent retry answered from the original charge
};

struct RefundResult {
  std::string refund_id;
  std::string charge_id;
  Micros amount_micros = 0;
};

struct DepositResult {
  std::string transfer_id;
  Micros balance_micros = 0;  // the account's balance after the deposit
};

// Fingerprint of a charge request for idempotency: same agent key, tool and amount.
std::string charge_fingerprint(std::string_view agent_key_id, std::string_view tool, Micros amount_micros);

class Ledger {
 public:
  explicit Ledger(store::Store& store) : store_(store) {}

  // Applies many charges in ONE database transaction (group commit), each with its own
  // outcome, in order: a later charge sees the balance an earlier one left. A store
  // failure fails every charge of the batch and applies none.
  std::vector<Result<ChargeResult>> charge_batch(std::span<const ChargeRequest> requests);

  // Reverses a charge made by `provider_account_id`: NOT_FOUND for another provider's or
  // unknown charge, ALREADY_REFUNDED the second time.
  Result<RefundResult> refund(std::string_view provider_account_id, std::string_view charge_id);

  // Adds credits to an account's wallet (from the platform's deposits account).
  Result<DepositResult> deposit(std::string_view account_id, Micros amount_micros, std::string_view note);

  Result<store::LedgerReport> verify() { return store_.verify_ledger(); }

 private:
  store::Store& store_;
};

// True when the report shows a consistent ledger.
bool is_clean(const store::LedgerReport& report);

}  // namespace tollgate::ledger
