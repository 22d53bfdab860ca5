// Linear matching: the route table is a few dozen entries, so a scan is fast and simple.
#include "http/router.hpp"

#include <algorithm>

namespace tollgate::http {
namespace {

Router::Segments split_path(std::string_view path) {
  Router::Segments out;
  std::size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    std::size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  insert(Route{std::move(method), pattern, {}, false, std::move(handler)});
}

void Router::add_prefix(std::string method, std::string prefix, Handler handler) {
  insert(Route{std::move(method), prefix, {}, true, std::move(handler)});
}

void Router::insert(Route route) {
  for (auto s : split_path(route.pattern)) route.segments.emplace_back(s);
  routes_.push_back(std::move(route));
  // Exact routes first (in the order added), then prefixes, longest first.
  std::stable_sort(routes_.begin(), routes_.end(), [](const Route& a, const Route& b) {
    if (a.prefix != b.prefix) return !a.prefix;
    return a.prefix && a.segments.size() > b.segments.size();
  });
}

bool Router::match(const Route& route, const Segments& path, Request& request) const {
  if (route.prefix ? path.size() < route.segments.size() : path.size() != route.segments.size()) return false;
  for (std::size_t i = 0; i < route.segments.size(); ++i) {
    const std::string& seg = route.segments[i];
    bool is_param = seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
    if (!is_param && seg != path[i]) return false;
  }
  for (std::size_t i = 0; i < route.segments.size(); ++i) {
    const std::string& seg = route.segments[i];
    if (seg.size() > 2 && seg.front() == '{') request.params[seg.substr(1, seg.size() - 2)] = std::string(path[i]);
  }
  return true;
}

boost::asio::awaitable<Response> Router::operator()(Request& request) const {
  auto path = split_path(request.path);
  bool path_known = false;
  // Exact routes win over prefix routes whatever the order they were added in, and a longer
  // prefix over a shorter one: "/mcp/weather" is never swallowed by the dashboard's "/".
  // (routes_ is kept in that order by add().)
  for (const Route* route = routes_.data(); route != routes_.data() + routes_.size(); ++route) {
    if (!match(*route, path, request)) continue;
    bool method_ok = route->method == "*" || route->method == request.method ||
                     (route->method == "GET" && request.method == "HEAD");
    if (!method_ok) {
      // The root prefix matches every path, so it says nothing about which paths exist.
      if (!route->segments.empty()) path_known = true;
      request.params.clear();
      continue;
    }
    request.route = route->pattern;
    co_return co_await route->handler(request);
  }
  request.route = path_known ? "(method not allowed)" : "(not found)";
  if (path_known) co_return Response::error(ErrorCode::kMethodNotAllowed, "This method is not allowed on this path.");
  co_return Response::error(ErrorCode::kNotFound, "No such endpoint.");
}

}  // namespace tollgate::http
