// The web dashboard: serves web/ (compiled into the binary, common/embedded.hpp) at "/", with
// index.html for client-side routes, ETags, and a strict Content-Security-Policy; plus
// GET /api/v1/setup, the facts the Setup page fills its snippets with.
#include <fmt/format.h>

#include <unordered_map>

#include "common/crypto.hpp"
#include "common/embedded.hpp"
#include "platform/context.hpp"

namespace tollgate::platform {
namespace {

namespace bj = boost::json;
using http::Request;
using http::Response;

// No inline script or style, nothing from another origin, no framing. The dashboard makes
// only same-origin fetches, so connect-src 'self' is all it needs.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Asset {
  std::string_view data;
  std::string content_type;
  std::string etag;
};

std::string content_type_for(std::string_view path) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},  {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"}, {".svg", "image/svg+xml"},
      {".json", "application/json"},          {".txt", "text/plain; charset=utf-8"},
      {".png", "image/png"},                  {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},               {".webmanifest", "application/manifest+json"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (path.ends_with(ext)) return std::string(type);
  }
  return "application/octet-stream";
}

// Built once: the embedded files never change while the binary runs, so their ETags don't.
const std::unordered_map<std::string_view, Asset>& assets() {
  static const auto table = [] {
    std::unordered_map<std::string_view, Asset> out;
    for (const EmbeddedFile& file : dashboard_files()) {
      Sha256 digest = sha256(file.data);
      std::string etag = "\"" + to_hex(std::span(digest).first(16)) + "\"";
      out.emplace(file.path, Asset{file.data, content_type_for(file.path), std::move(etag)});
    }
    return out;
  }();
  return table;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  // The header may list several tags, possibly weak (W/"...").
  std::size_t pos = 0;
  while (pos < if_none_match.size()) {
    std::size_t end = if_none_match.find(',', pos);
    if (end == std::string_view::npos) end = if_none_match.size();
    std::string_view tag = if_none_match.substr(pos, end - pos);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag || tag == "*") return true;
    pos = end + 1;
  }
  return false;
}

Response serve_asset(const Request& request, const Asset& asset) {
  Response r;
  if (auto inm = request.header("If-None-Match"); inm && etag_matches(*inm, asset.etag)) {
    r.status = 304;
  } else {
    r.status = 200;
    r.body = std::string(asset.data);
    r.headers.set("Content-Type", asset.content_type);
  }
  r.headers.set("ETag", asset.etag);
  // Asset names carry no content hash, so a browser must revalidate each time; the ETag
  // makes that a cheap 304. After an upgrade nobody runs stale JavaScript.
  r.headers.set("Cache-Control", "no-cache");
  r.headers.set("Content-Security-Policy", std::string(kContentSecurityPolicy));
  r.headers.set("X-Frame-Options", "DENY");
  r.headers.set("Cross-Origin-Opener-Policy", "same-origin");
  return r;
}

// Paths the dashboard must never answer with its HTML: a missing endpoint stays a JSON 404
// for API clients and agents.
bool reserved_path(std::string_view path) {
  for (std::string_view prefix : {"api", "mcp"}) {
    if (path == prefix || path.starts_with(std::string(prefix) + "/")) return true;
  }
  return false;
}

}  // namespace

void add_dashboard_routes(http::Router& router, std::shared_ptr<Context> ctx) {
  router.add("GET", "/api/v1/setup", [ctx](Request& request) -> boost::asio::awaitable<Response> {
    auto account = authenticate(*ctx, request, /*write=*/false);
    if (!account) co_return Response::error(account.error());
    co_return Response::json(200, bj::object{{"public_url", ctx->options.public_url}});
  });

  // Catches every GET no other route took, so it must be registered last.
  router.add_prefix("GET", "/", [](Request& request) -> boost::asio::awaitable<Response> {
    std::string_view path = request.path;
    while (path.starts_with('/')) path.remove_prefix(1);
    if (reserved_path(path)) co_return Response::error(ErrorCode::kNotFound, "No such endpoint.");
    const auto& table = assets();
    std::string_view name = path.empty() ? std::string_view("index.html") : path;
    if (auto it = table.find(name); it != table.end()) co_return serve_asset(request, it->second);
    // A missing file (it has an extension) is a 404, so a broken script reference fails
    // loudly instead of receiving HTML. Anything else is a client-side route.
    std::string_view last = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
    if (last.find('.') != std::string_view::npos) co_return Response::text(404, "Not found.\n");
    auto index = table.find("index.html");
    if (index == table.end()) co_return Response::text(404, "The dashboard is not part of this build.\n");
    co_return serve_asset(request, index->second);
  });
}

}  // namespace tollgate::platform
