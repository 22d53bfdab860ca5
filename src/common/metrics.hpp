// Process metrics in Prometheus text format (GET /metrics): counters with labels, duration
// histograms (HTTP requests per route, group commits per kind) and gauges. Values never
// carry secrets: labels are routes, statuses, scopes, kinds and error codes.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate {

class Metrics {
 public:
  Metrics();

  // One HTTP exchange: tollgate_http_requests_total{route,status} and
  // tollgate_http_request_duration_seconds{route}.
  void observe_request(std::string_view route, unsigned status, std::chrono::microseconds latency);
  // tollgate_<name>_total{<label>="<value>"} += delta.
  void add(std::string_view name, std::string_view label, std::string_view value, std::int64_t delta = 1);
  // One timed operation: tollgate_<name>_seconds{<label>="<value>"}, a histogram with the
  // HTTP requests' buckets (100 µs .. 10 s).
  void observe(std::string_view name, std::string_view label, std::string_view value, std::chrono::microseconds duration);
  // Gauges set from outside (open connections, ...).
  void set_gauge(std::string_view name, std::int64_t value);
  std::string render() const;

 private:
  struct Histogram {
    std::vector<std::uint64_t> buckets;  // cumulative at render time
    std::uint64_t count = 0;
    std::int64_t sum_micros = 0;
  };
  // Every request updates these: lookups take string_views (std::less<>), so once a series
  // exists, counting it allocates nothing.
  using Series = std::map<std::string, std::int64_t, std::less<>>;  // labels -> value
  void count(std::string_view name, std::string_view labels, std::int64_t delta);  // with mutex_ held
  void time(std::string_view name, std::string_view labels, std::chrono::microseconds duration);  // with mutex_ held

  mutable std::mutex mutex_;
  std::map<std::string, Series, std::less<>> counters_;  // name -> series
  using Histograms = std::map<std::string, Histogram, std::less<>>;  // labels -> histogram
  std::map<std::string, Histograms, std::less<>> histograms_;          // name -> series
  std::map<std::string, std::int64_t, std::less<>> gauges_;
};

}  // namespace tollgate
