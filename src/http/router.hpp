// Maps method + path to a handler. Patterns are literal segments and `{name}` parameters:
// "/api/v1/keys/{id}". Exact routes are tried before prefix routes, longer prefixes before
// shorter ones. Unknown path -> 404 NOT_FOUND; known path, other method -> 405.
#pragma once

#include <boost/container/small_vector.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace tollgate::http {

class Router {
 public:
  // A path's segments: a typical request's fit inline, with no allocation per request.
  using Segments = boost::container::small_vector<std::string_view, 8>;

  void add(std::string method, std::string pattern, Handler handler);
  // Prefix routes match the pattern and anything below it ("/mcp/{name}" also serves
  // nothing deeper; "/" as a prefix catches everything, used for the dashboard).
  void add_prefix(std::string method, std::string prefix, Handler handler);

  // Dispatches: fills request.route and request.params, runs the handler.
  boost::asio::awaitable<Response> operator()(Request& request) const;

 private:
  struct Route {
    std::string method;  // "*" matches any
    std::string pattern;
    std::vector<std::string> segments;
    bool prefix = false;
    Handler handler;
  };
  void insert(Route route);
  bool match(const Route& route, const Segments& path_segments, Request& request) const;

  std::vector<Route> routes_;
};

}  // namespace tollgate::http
