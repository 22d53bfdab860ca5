// Prometheus exposition (text format 0.0.4).
#include "common/metrics.hpp"

#include <fmt/format.h>

#include <array>
#include <iterator>

namespace tollgate {
namespace {

// Upper bounds in microseconds: 100 µs .. 10 s.
constexpr std::array<std::int64_t, 14> kBucketMicros = {100,    250,    500,     1000,    2500,    5000,     10000,
                                                         25000,  50000,  100000,  250000,  1000000, 2500000, 10000000};

// Label text is built in a stack buffer: no allocation on the request path.
using LabelBuffer = fmt::basic_memory_buffer<char, 256>;

void append_escaped(LabelBuffer& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out.append(std::string_view("\\n"));
      continue;
    }
    out.push_back(c);
  }
}

// name="value", escaped.
void append_label(LabelBuffer& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(std::string_view("=\""));
  append_escaped(out, value);
  out.push_back('"');
}

std::string seconds(std::int64_t micros) { return fmt::format("{}.{:06d}", micros / 1000000, micros % 1000000); }

}  // namespace

void Metrics::count(std::string_view name, std::string_view labels, std::int64_t delta) {
  auto series = counters_.find(name);
  if (series == counters_.end()) series = counters_.emplace(std::string(name), Series{}).first;
  auto value = series->second.find(labels);
  if (value == series->second.end()) {
    series->second.emplace(std::string(labels), delta);
  } else {
    value->second += delta;
  }
}

Metrics::Metrics() {
  // Always listed, even before the first request (scrapers see the metric exists).
  histograms_.emplace("http_request_duration", Histograms{});
}

void Metrics::time(std::string_view name, std::string_view labels, std::chrono::microseconds duration) {
  auto series = histograms_.find(name);
  if (series == histograms_.end()) series = histograms_.emplace(std::string(name), Histograms{}).first;
  auto found = series->second.find(labels);
  if (found == series->second.end()) found = series->second.emplace(std::string(labels), Histogram{}).first;
  auto& h = found->second;
  if (h.buckets.empty()) h.buckets.assign(kBucketMicros.size(), 0);
  for (std::size_t i = 0; i < kBucketMicros.size(); ++i) {
    if (duration.count() <= kBucketMicros[i]) {
      h.buckets[i] += 1;
      break;
    }
  }
  h.count += 1;
  h.sum_micros += duration.count();
}

void Metrics::observe_request(std::string_view route, unsigned status, std::chrono::microseconds latency) {
  LabelBuffer labels;
  append_label(labels, "route", route);
  std::size_t route_only = labels.size();
  fmt::format_to(std::back_inserter(labels), ",status=\"{}\"", status);
  std::lock_guard lock(mutex_);
  count("http_requests", std::string_view(labels.data(), labels.size()), 1);
  time("http_request_duration", std::string_view(labels.data(), route_only), latency);
}

void Metrics::observe(std::string_view name, std::string_view label, std::string_view value,
                      std::chrono::microseconds duration) {
  LabelBuffer labels;
  append_label(labels, label, value);
  std::lock_guard lock(mutex_);
  time(name, std::string_view(labels.data(), labels.size()), duration);
}

void Metrics::add(std::string_view name, std::string_view label, std::string_view value, std::int64_t delta) {
  LabelBuffer labels;
  append_label(labels, label, value);
  std::lock_guard lock(mutex_);
  count(name, std::string_view(labels.data(), labels.size()), delta);
}

void Metrics::set_gauge(std::string_view name, std::int64_t value) {
  std::lock_guard lock(mutex_);
  auto found = gauges_.find(name);
  if (found == gauges_.end()) {
    gauges_.emplace(std::string(name), value);
  } else {
    found->second = value;
  }
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, series] : counters_) {
    out += fmt::format("# TYPE tollgate_{}_total counter\n", name);
    for (const auto& [labels, value] : series) out += fmt::format("tollgate_{}_total{{{}}} {}\n", name, labels, value);
  }
  for (const auto& [name, series] : histograms_) {
    out += fmt::format("# TYPE tollgate_{}_seconds histogram\n", name);
    for (const auto& [labels, h] : series) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < kBucketMicros.size(); ++i) {
        cumulative += h.buckets[i];
        out += fmt::format("tollgate_{}_seconds_bucket{{{},le=\"{}\"}} {}\n", name, labels, seconds(kBucketMicros[i]),
                           cumulative);
      }
      out += fmt::format("tollgate_{}_seconds_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, h.count);
      out += fmt::format("tollgate_{}_seconds_sum{{{}}} {}\n", name, labels, seconds(h.sum_micros));
      out += fmt::format("tollgate_{}_seconds_count{{{}}} {}\n", name, labels, h.count);
    }
  }
  for (const auto& [name, value] : gauges_) {
    out += fmt::format("# TYPE tollgate_{} gauge\ntollgate_{} {}\n", name, name, value);
  }
  return out;
}

}  // namespace tollgate
