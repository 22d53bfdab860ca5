// Linear matching: the route table is a few dozen entries, so a scan is fast and simple.
#include "http/router.hpp"

namespace tollgate::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
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
  Route route{std::move(method), pattern, {}, false, std::move(handler)};
  for (auto s : split_path(pattern)) route.segments.emplace_back(s);
  routes_.push_back(std::move(route));
}

void Router::add_prefix(std::string method, std::string prefix, Handler handler) {
  add(std::move(method), std::move(prefix), std::move(handler));
  routes_.back().prefix = true;
}

bool Router::match(const Route& route, const std::vector<std::string_view>& path, Request& request) const {
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
  for (const Route& route : routes_) {
    if (!match(route, path, request)) continue;
    bool method_ok = route.method == "*" || route.method == request.method ||
                     (route.method == "GET" && request.method == "HEAD");
    if (!method_ok) {
      path_known = true;
      request.params.clear();
      continue;
    }
    request.route = route.pattern;
    co_return co_await route.handler(request);
  }
  request.route = path_known ? "(method not allowed)" : "(not found)";
  if (path_known) co_return Response::error(ErrorCode::kMethodNotAllowed, "This method is not allowed on this path.");
  co_return Response::error(ErrorCode::kNotFound, "No such endpoint.");
}

}  // namespace tollgate::http
