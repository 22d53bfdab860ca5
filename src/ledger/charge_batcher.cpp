// Charges through the shared group commit: each batch is one Ledger::charge_batch.
#include "ledger/charge_batcher.hpp"

namespace tollgate::ledger {
namespace {

Error overloaded() {
  return Error{ErrorCode::kPlatformUnavailable, "The platform is overloaded; nothing was charged. Retry shortly."};
}

}  // namespace

ChargeBatcher::ChargeBatcher(Ledger& ledger, BatcherOptions options)
    : commit_([&ledger](std::span<const ChargeRequest> batch) { return ledger.charge_batch(batch); }, overloaded(),
              options) {}

}  // namespace tollgate::ledger
