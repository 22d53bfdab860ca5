// The gateway: any MCP server (a stdio command or an HTTP URL, any language) behind per-tool
// prices, without changing its code. Each upstream of the config is served at /mcp/NAME
// (Streamable HTTP) by a facade MCP server that mirrors the upstream and charges the caller's
// agent key before forwarding a paid call. The agent's key is never passed upstream; an
// upstream failure on a paid call is UPSTREAM_ERROR and the charge is refunded.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <vector>

#include "gateway/config.hpp"
#include "http/router.hpp"
#include "tollgate/mcp/server.hpp"
#include "tollgate/mcp/transport.hpp"
#include "tollgate/pay/payments.hpp"

namespace tollgate::gateway {

class Upstream;

class Gateway {
 public:
  // `charger`: the platform over HTTP (`tollgate gateway`) or in-process (`tollgate serve`).
  // `platform_url`: where agents' owners manage keys and credits, named in error messages.
  Gateway(boost::asio::io_context& io, GatewayConfig config, std::shared_ptr<pay::Charger> charger,
          std::string platform_url);
  ~Gateway();

  // Adds `* /mcp/NAME` for each upstream. `listen_host` turns on the MCP transport's DNS
  // rebinding protection when it is a loopback address.
  void mount(http::Router& router, const std::string& listen_host);
  void start();
  void stop();
  std::vector<std::string> names() const;
  // True when every upstream has connected once.
  bool ready() const;

 private:
  struct Entry {
    UpstreamConfig config;
    std::unique_ptr<mcp::Server> facade;
    std::unique_ptr<mcp::HttpTransport> transport;
    std::shared_ptr<Upstream> upstream;
  };
  std::vector<Entry> entries_;
};

}  // namespace tollgate::gateway
