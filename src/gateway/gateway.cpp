// Facade servers, payments and routes for each upstream.
#include "gateway/gateway.hpp"

#include <spdlog/spdlog.h>

#include "common/money.hpp"
#include "gateway/upstream.hpp"

namespace tollgate::gateway {

Gateway::Gateway(boost::asio::io_context& io, GatewayConfig config, std::shared_ptr<pay::Charger> charger,
                 std::string platform_url) {
  for (auto& up : config.upstreams) {
    Entry entry;
    entry.config = up;
    mcp::ServerOptions options;
    // Declared up front: tools, resources and prompts arrive once the upstream connected.
    options.declare_tools = options.declare_resources = options.declare_prompts = true;
    entry.facade = std::make_unique<mcp::Server>(
        mcp::Implementation{.name = "tollgate-gateway/" + up.name, .version = "0.1.0", .title = up.name + " via Tollgate"},
        options);
    pay::PaymentPolicy policy;
    UpstreamConfig prices = up;
    policy.price_of = [prices](const std::string& tool) { return prices.price_of(tool); };
    policy.platform_url = platform_url;
    policy.provider_name = "the operator of the '" + up.name + "' gateway";
    policy.logger = [name = up.name](const pay::PaymentEvent& e) {
      spdlog::info("gateway {}: {} tool={} amount={} {}", name, pay::to_string(e.kind), e.tool,
                   format_money(e.amount_micros), e.charge_id);
    };
    entry.upstream = std::make_shared<Upstream>(io.get_executor(), up, *entry.facade);
    policy.before_charge = [weak = std::weak_ptr<Upstream>(entry.upstream)](const std::string& tool) {
      auto upstream = weak.lock();
      return upstream ? upstream->unavailable(tool) : std::nullopt;
    };
    pay::install_payments(*entry.facade, std::move(policy), charger);
    entry.transport = std::make_unique<mcp::HttpTransport>(*entry.facade, io.get_executor());
    entries_.push_back(std::move(entry));
  }
}

Gateway::~Gateway() { stop(); }

void Gateway::mount(http::Router& router, const std::string& listen_host) {
  for (auto& e : entries_) {
    e.transport->set_listen_host(listen_host);
    router.add("*", "/mcp/" + e.config.name, e.transport->handler());
  }
}

void Gateway::start() {
  for (auto& e : entries_) e.upstream->start();
}

void Gateway::stop() {
  for (auto& e : entries_) {
    e.upstream->stop();
    e.transport->close_all();
  }
}

std::vector<std::string> Gateway::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.config.name);
  return out;
}

bool Gateway::ready() const {
  return std::all_of(entries_.begin(), entries_.end(), [](const Entry& e) { return e.upstream->ready(); });
}

}  // namespace tollgate::gateway
