// Prometheus exposition (text format 0.0.4).
#include "common/metrics.hpp"

#include <fmt/format.h>

#include <array>

namespace tollgate {
namespace {

// Upper bounds in microseconds: 100 µs .. 10 s.
constexpr std::array<std::int64_t, 14> kBucketMicros = {100,    250,    500,     1000,    2500,    5000,     10000,
                                                         25000,  50000,  100000,  250000,  1000000, 2500000, 10000000};

std::string escape_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string seconds(std::int64_t micros) { return fmt::format("{}.{:06d}", micros / 1000000, micros % 1000000); }

}  // namespace

void Metrics::observe_request(std::string_view route, unsigned status, std::chrono::microseconds latency) {
  std::string labels = fmt::format("route=\"{}\",status=\"{}\"", escape_label(route), status);
  std::lock_guard lock(mutex_);
  counters_["http_requests"][labels] += 1;
  auto& h = latency_[std::string(route)];
  if (h.buckets.empty()) h.buckets.assign(kBucketMicros.size(), 0);
  for (std::size_t i = 0; i < kBucketMicros.size(); ++i) {
    if (latency.count() <= kBucketMicros[i]) {
      h.buckets[i] += 1;
      break;
    }
  }
  h.count += 1;
  h.sum_micros += latency.count();
}

void Metrics::add(std::string_view name, std::string_view label, std::string_view value, std::int64_t delta) {
  std::string labels = fmt::format("{}=\"{}\"", label, escape_label(value));
  std::lock_guard lock(mutex_);
  counters_[std::string(name)][labels] += delta;
}

void Metrics::set_gauge(std::string_view name, std::int64_t value) {
  std::lock_guard lock(mutex_);
  gauges_[std::string(name)] = value;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, series] : counters_) {
    out += fmt::format("# TYPE tollgate_{}_total counter\n", name);
    for (const auto& [labels, value] : series) out += fmt::format("tollgate_{}_total{{{}}} {}\n", name, labels, value);
  }
  out += "# TYPE tollgate_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    std::string label = escape_label(route);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBucketMicros.size(); ++i) {
      cumulative += h.buckets[i];
      out += fmt::format("tollgate_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", label,
                         seconds(kBucketMicros[i]), cumulative);
    }
    out += fmt::format("tollgate_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", label, h.count);
    out += fmt::format("tollgate_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", label, seconds(h.sum_micros));
    out += fmt::format("tollgate_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", label, h.count);
  }
  for (const auto& [name, value] : gauges_) {
    out += fmt::format("# TYPE tollgate_{} gauge\ntollgate_{} {}\n", name, name, value);
  }
  return out;
}

}  // namespace tollgate
