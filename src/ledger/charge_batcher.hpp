// Group commit for charges: requests from all connections queue here, and one committer
// thread applies whatever has queued in a single database transaction (Ledger::charge_batch).
// The queue, the committer threads and the bridge from a coroutine are the shared
// GroupCommit (common/group_commit.hpp), which key and session writes use too.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "common/group_commit.hpp"
#include "ledger/ledger.hpp"

namespace tollgate::ledger {

using BatcherOptions = GroupCommitOptions;

class ChargeBatcher {
 public:
  ChargeBatcher(Ledger& ledger, BatcherOptions options = {});
  ChargeBatcher(const ChargeBatcher&) = delete;
  ChargeBatcher& operator=(const ChargeBatcher&) = delete;

  // Queues a charge; resumes the caller on its own executor with the outcome.
  boost::asio::awaitable<Result<ChargeResult>> charge(ChargeRequest request) { return commit_.submit(std::move(request)); }

  // Queues several charges together (POST /api/v1/charges); outcomes in the same order.
  boost::asio::awaitable<std::vector<Result<ChargeResult>>> charge_all(std::vector<ChargeRequest> requests) {
    return commit_.submit_all(std::move(requests));
  }

  // Blocking form for callers outside a coroutine (tests, tools).
  Result<ChargeResult> charge_sync(ChargeRequest request) { return commit_.submit_sync(std::move(request)); }

  GroupCommitStats stats() const { return commit_.stats(); }

 private:
  GroupCommit<ChargeRequest, Result<ChargeResult>> commit_;  // destroyed first: applies what is queued, then stops
};

}  // namespace tollgate::ledger
