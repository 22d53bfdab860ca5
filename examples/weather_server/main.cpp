// weather_server: a small paid MCP server written with the payments SDK — the provider
// guide (docs/provider-guide.md) walks through it.
//
//   list_cities           free     the cities it knows
//   current_conditions    $0.01    today's typical weather in a city (from climate normals)
//   forecast              $0.05    a day-by-day outlook, reporting progress per day
//
// It answers from built-in monthly climate normals (typical highs, lows and rainy days of
// each month), so it works offline; a real provider would call a weather service here.
// Serve over stdio (`--stdio`, the agent's key in AGENT_TOKEN) or Streamable HTTP
// (`--listen HOST:PORT`, endpoint /mcp, the key in `Authorization: Bearer`). The provider
// key and platform come from TOLLGATE_API_KEY and TOLLGATE_URL.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>

#include "common/log.hpp"
#include "http/server.hpp"
#include "tollgate/mcp/server.hpp"
#include "tollgate/mcp/transport.hpp"
#include "tollgate/pay/payments.hpp"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace tollgate;

struct City {
  std::string_view name;
  std::array<int, 12> high_c;     // mean daily maximum per month
  std::array<int, 12> low_c;      // mean daily minimum per month
  std::array<int, 12> rain_days;  // days with precipitation per month
};

// Rounded monthly climate normals.
constexpr std::array kCities = {
    City{"London", {8, 9, 12, 15, 18, 21, 23, 23, 20, 16, 11, 9}, {3, 2, 4, 6, 9, 12, 14, 14, 11, 9, 5, 3},
         {11, 9, 9, 9, 8, 8, 7, 8, 8, 10, 10, 10}},
    City{"Paris", {7, 8, 12, 16, 20, 23, 25, 25, 21, 16, 10, 7}, {3, 3, 5, 8, 11, 14, 16, 16, 13, 10, 6, 3},
         {10, 9, 10, 9, 9, 8, 7, 7, 8, 10, 10, 11}},
    City{"Berlin", {3, 5, 9, 15, 19, 22, 24, 24, 19, 14, 8, 4}, {-2, -2, 0, 4, 8, 12, 14, 13, 10, 6, 2, -1},
         {10, 8, 9, 8, 9, 9, 9, 8, 8, 8, 9, 10}},
    City{"New York", {4, 6, 10, 17, 22, 27, 29, 29, 25, 18, 12, 6}, {-3, -2, 2, 7, 13, 18, 21, 21, 17, 10, 5, 0},
         {10, 9, 11, 11, 11, 10, 10, 9, 8, 8, 9, 10}},
    City{"San Francisco", {14, 16, 17, 18, 19, 21, 21, 22, 23, 21, 17, 14}, {7, 8, 9, 9, 11, 12, 13, 14, 14, 12, 9, 7},
         {10, 10, 9, 5, 2, 1, 0, 0, 1, 3, 7, 10}},
    City{"Tokyo", {10, 10, 14, 19, 23, 26, 30, 31, 27, 22, 17, 12}, {2, 2, 5, 10, 15, 19, 23, 24, 21, 15, 9, 4},
         {5, 6, 10, 10, 11, 12, 11, 8, 11, 10, 7, 5}},
    City{"Singapore", {30, 31, 32, 32, 32, 31, 31, 31, 31, 31, 31, 30}, {23, 24, 24, 25, 25, 25, 25, 25, 24, 24, 24, 23},
         {15, 11, 14, 15, 15, 13, 14, 14, 14, 16, 19, 19}},
    City{"Sydney", {26, 26, 25, 23, 20, 18, 17, 19, 21, 23, 24, 26}, {19, 19, 18, 15, 12, 9, 8, 9, 11, 14, 16, 18},
         {8, 9, 10, 9, 9, 9, 7, 6, 7, 8, 8, 8}},
    City{"Cairo", {19, 21, 24, 28, 32, 34, 35, 35, 33, 30, 25, 20}, {9, 10, 12, 15, 18, 21, 22, 22, 21, 18, 14, 10},
         {1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1}},
    City{"Sao Paulo", {28, 28, 28, 26, 24, 23, 23, 24, 25, 26, 27, 27}, {19, 19, 18, 16, 14, 12, 12, 13, 14, 16, 17, 18},
         {16, 13, 12, 8, 7, 5, 5, 5, 7, 10, 12, 15}},
};

constexpr std::array<std::string_view, 12> kMonths = {"January", "February", "March",     "April",   "May",      "June",
                                                      "July",    "August",   "September", "October", "November", "December"};
constexpr int kMaxForecastDays = 7;
constexpr std::chrono::milliseconds kDayPacing{20};

const City* find_city(std::string_view name) {
  for (const auto& c : kCities) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Typical weather for a date: the normals of its month, blended toward the next month's
// as the month goes on, so that a multi-day outlook moves smoothly.
json::object typical_day(const City& city, std::chrono::year_month_day date) {
  int m = static_cast<int>(unsigned(date.month())) - 1;
  int next = (m + 1) % 12;
  double t = (static_cast<int>(unsigned(date.day())) - 1) / 31.0;
  auto blend = [&](const std::array<int, 12>& v) { return static_cast<int>(std::lround(v[m] * (1 - t) + v[next] * t)); };
  int rain_percent = static_cast<int>(std::lround(100.0 * blend(city.rain_days) / 30.0));
  return json::object{{"date", fmt::format("{:04d}-{:02d}-{:02d}", int(date.year()), unsigned(date.month()), unsigned(date.day()))},
                      {"high_c", blend(city.high_c)},
                      {"low_c", blend(city.low_c)},
                      {"chance_of_rain_percent", rain_percent}};
}

std::chrono::year_month_day today() {
  return std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
}

json::array city_enum() {
  json::array names;
  for (const auto& c : kCities) names.emplace_back(c.name);
  return names;
}

// Appends one line per paid tool body that ran: the provider's audit trail (and what the
// tests count to prove a refused call never ran).
class AuditLog {
 public:
  explicit AuditLog(std::string path) : path_(std::move(path)) {}
  void record(std::string_view tool) {
    if (path_.empty()) return;
    std::lock_guard lock(mutex_);
    std::ofstream(path_, std::ios::app) << tool << "\n";
  }

 private:
  std::string path_;
  std::mutex mutex_;
};

void add_tools(mcp::Server& server, AuditLog& audit) {
  mcp::Tool list;
  list.name = "list_cities";
  list.title = "List cities";
  list.description = "The cities this server has climate data for.";
  list.annotations.read_only_hint = true;
  list.handler = [](mcp::Context&, const json::object&) -> asio::awaitable<mcp::ToolResult> {
    std::string text;
    for (const auto& c : kCities) text += (text.empty() ? "" : ", ") + std::string(c.name);
    co_return mcp::ToolResult::text(text);
  };
  (void)server.add_tool(std::move(list));

  mcp::Tool current;
  current.name = "current_conditions";
  current.title = "Current conditions";
  current.description = "Today's typical high, low and chance of rain in a city.";
  current.input_schema = json::object{
      {"type", "object"},
      {"properties", json::object{{"city", json::object{{"type", "string"}, {"enum", city_enum()}}}}},
      {"required", json::array{"city"}},
      {"additionalProperties", false}};
  current.output_schema = json::object{{"type", "object"},
                                       {"properties", json::object{{"city", json::object{{"type", "string"}}},
                                                                   {"high_c", json::object{{"type", "integer"}}},
                                                                   {"low_c", json::object{{"type", "integer"}}}}},
                                       {"required", json::array{"city", "high_c", "low_c"}}};
  current.annotations.read_only_hint = true;
  current.handler = [&audit](mcp::Context&, const json::object& args) -> asio::awaitable<mcp::ToolResult> {
    audit.record("current_conditions");
    const City& city = *find_city(args.at("city").as_string());  // the schema's enum guarantees it
    auto date = today();
    json::object day = typical_day(city, date);
    day["city"] = city.name;
    std::string text = fmt::format("Typical for {} on {} {}: high {}°C, low {}°C, {}% chance of rain.", city.name,
                                   kMonths[unsigned(date.month()) - 1], unsigned(date.day()), day["high_c"].as_int64(),
                                   day["low_c"].as_int64(), day["chance_of_rain_percent"].as_int64());
    mcp::ToolResult result = mcp::ToolResult::text(text);
    result.structured_content = std::move(day);
    co_return result;
  };
  (void)server.add_tool(std::move(current));

  mcp::Tool forecast;
  forecast.name = "forecast";
  forecast.title = "Forecast";
  forecast.description = "A day-by-day outlook for a city (1 to 7 days), reporting progress as it goes.";
  forecast.input_schema = json::object{
      {"type", "object"},
      {"properties", json::object{{"city", json::object{{"type", "string"}, {"enum", city_enum()}}},
                                  {"days", json::object{{"type", "integer"}, {"minimum", 1}, {"maximum", kMaxForecastDays}}}}},
      {"required", json::array{"city"}},
      {"additionalProperties", false}};
  forecast.annotations.read_only_hint = true;
  forecast.handler = [&audit](mcp::Context& ctx, const json::object& args) -> asio::awaitable<mcp::ToolResult> {
    audit.record("forecast");
    const City& city = *find_city(args.at("city").as_string());
    int days = args.contains("days") ? static_cast<int>(args.at("days").to_number<std::int64_t>()) : 3;
    json::array outlook;
    std::string text = fmt::format("{}-day outlook for {}:", days, city.name);
    auto start = std::chrono::sys_days{today()};
    for (int i = 0; i < days; ++i) {
      // Progress before each day: `i` of `days` done. A real provider fetches each day from a
      // weather service; the pacing stands for that wait and keeps progress meaningful.
      std::string message = fmt::format("computing day {} of {}", i + 1, days);
      ctx.report_progress(i, days, message);
      if (!co_await ctx.sleep_for(kDayPacing)) {
        audit.record("forecast cancelled");  // the client cancelled: stop fetching days
        co_return mcp::ToolResult::error("cancelled");
      }
      json::object day = typical_day(city, std::chrono::year_month_day{start + std::chrono::days{i}});
      text += fmt::format("\n  {}: {}°C / {}°C, {}% rain", day["date"].as_string().c_str(), day["high_c"].as_int64(),
                          day["low_c"].as_int64(), day["chance_of_rain_percent"].as_int64());
      outlook.push_back(std::move(day));
    }
    mcp::ToolResult result = mcp::ToolResult::text(text);
    result.structured_content = json::object{{"city", city.name}, {"days", std::move(outlook)}};
    co_return result;
  };
  (void)server.add_tool(std::move(forecast));
}

bool split_listen(const std::string& listen, std::string& host, std::uint16_t& port) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  host = listen.substr(0, colon);
  try {
    port = static_cast<std::uint16_t>(std::stoi(listen.substr(colon + 1)));
  } catch (...) {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weather_server: an example paid MCP server (Tollgate payments SDK)"};
  std::string listen, audit_path, log_level = "warn";
  bool stdio = false, fail_open = false, free = false;
  auto* listen_opt = app.add_option("--listen", listen, "Serve Streamable HTTP on HOST:PORT (endpoint /mcp)");
  app.add_flag("--stdio", stdio, "Serve on stdin/stdout (the agent key comes from AGENT_TOKEN)")->excludes(listen_opt);
  app.add_flag("--fail-open", fail_open, "Run paid tools uncharged while the platform is unreachable");
  app.add_flag("--free", free, "Serve without payments (behind `tollgate gateway`, which charges instead)");
  app.add_option("--audit-log", audit_path, "Append one line per paid tool call that ran");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off");
  app.footer("Environment: TOLLGATE_URL (platform), TOLLGATE_API_KEY (provider key, scope provider:charge).");
  CLI11_PARSE(app, argc, argv);
  if (!stdio && listen.empty()) {
    std::cerr << "weather_server: give --listen HOST:PORT or --stdio\n";
    return 2;
  }
  init_logging(log_level);

  AuditLog audit(audit_path);
  mcp::Server server(mcp::Implementation{.name = "tollgate-weather", .version = "1.0.0", .title = "Weather (paid)"});
  add_tools(server, audit);

  pay::PaymentsConfig payments;
  payments.pricing = {{"current_conditions", "0.01"}, {"forecast", "0.05"}};
  payments.provider_name = "the weather example's provider";
  payments.fail_open = fail_open;
  payments.logger = [](const pay::PaymentEvent& e) {
    spdlog::info("payment {} tool={} amount={} charge={} {}", pay::to_string(e.kind), e.tool, format_money(e.amount_micros),
                 e.charge_id, e.kind == pay::PaymentEvent::Kind::kCharged ? "" : std::string(to_string(e.code)));
  };
  if (auto st = free ? ok_status() : pay::with_payments(server, payments); !st.ok()) {
    std::cerr << "weather_server: " << st.error().message << "\n";
    return 1;
  }

  if (stdio) return mcp::serve_stdio(server);

  std::string host;
  std::uint16_t port = 0;
  if (!split_listen(listen, host, port)) {
    std::cerr << "weather_server: --listen must be HOST:PORT\n";
    return 2;
  }
  constexpr int kThreads = 2;
  http::IoPool pool(kThreads);
  mcp::HttpServer http_server(server, pool);
  if (auto st = http_server.listen(host, port); !st.ok()) {
    std::cerr << "weather_server: " << st.error().message << "\n";
    return 1;
  }
  pool.run([&] { http_server.stop(); },
           [&] {
             std::printf("listening on http://%s:%u\n", http_server.host().c_str(), static_cast<unsigned>(http_server.port()));
             std::fflush(stdout);
           });
  return 0;
}
