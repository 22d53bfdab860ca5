// The payments Charger for a gateway running inside `tollgate serve`: the same verification
// and group-committed ledger path as POST /api/v1/charge, without the HTTP round trip.
#include "platform/context.hpp"
#include "tollgate/pay/payments.hpp"

namespace tollgate::platform {
namespace {

class LocalCharger final : public pay::Charger {
 public:
  LocalCharger(std::shared_ptr<Context> ctx, std::string provider_key)
      : ctx_(std::move(ctx)), provider_key_(std::move(provider_key)) {}

  boost::asio::awaitable<Result<pay::Receipt>> charge(std::string agent_token, std::string tool, Micros amount_micros,
                                                      std::string idempotency_key) override {
    // Checked on every call, like over HTTP: a deleted provider key stops charging at once.
    auto provider = ctx_->verifier.verify(provider_key_, keys::Scope::kProvider);
    if (!provider) co_return provider.error();
    std::optional<std::string_view> token;
    if (!agent_token.empty()) token = agent_token;
    auto result = co_await charge_agent(*ctx_, *provider, token, std::move(tool), amount_micros, std::move(idempotency_key));
    if (!result) co_return result.error();
    co_return pay::Receipt{result->charge_id, result->amount_micros};
  }

  boost::asio::awaitable<Status> refund(std::string charge_id) override {
    auto provider = ctx_->verifier.verify(provider_key_, keys::Scope::kProvider);
    if (!provider) co_return provider.error();
    auto refunded = ctx_->ledger.refund(provider->account_id, charge_id);
    ctx_->metrics.add("refunds", "outcome", refunded ? "ok" : to_string(refunded.code()));
    if (!refunded) co_return refunded.error();
    co_return ok_status();
  }

  boost::asio::awaitable<Status> verify(std::string agent_token) override {
    auto agent = ctx_->verifier.verify(std::optional<std::string_view>(agent_token), keys::Scope::kAgent);
    if (!agent) co_return agent.error();
    co_return ok_status();
  }

 private:
  std::shared_ptr<Context> ctx_;
  std::string provider_key_;
};

}  // namespace

std::shared_ptr<pay::Charger> make_local_charger(std::shared_ptr<Context> ctx, std::string provider_key) {
  return std::make_shared<LocalCharger>(std::move(ctx), std::move(provider_key));
}

}  // namespace tollgate::platform
