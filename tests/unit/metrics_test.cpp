// Prometheus text rendering of Metrics: counters with labels, the per-route latency
// histogram (cumulative buckets, +Inf, sum, count), named histograms, gauges and label escaping.
#include <gtest/gtest.h>

#include <sstream>

#include "common/metrics.hpp"

namespace tollgate {
namespace {

using std::chrono::microseconds;

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (l == line) return true;
  }
  return false;
}

TEST(Metrics, EmptyRendersOnlyTheHistogramType) {
  Metrics m;
  EXPECT_EQ(m.render(), "# TYPE tollgate_http_request_duration_seconds histogram\n");
}

TEST(Metrics, CountsRequestsByRouteAndStatus) {
  Metrics m;
  m.observe_request("/api/v1/keys", 201, microseconds(300));
  m.observe_request("/api/v1/keys", 201, microseconds(300));
  m.observe_request("/api/v1/keys", 401, microseconds(50));
  m.observe_request("/healthz", 200, microseconds(50));
  std::string text = m.render();
  EXPECT_TRUE(has_line(text, "# TYPE tollgate_http_requests_total counter")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_http_requests_total{route=\"/api/v1/keys\",status=\"201\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_http_requests_total{route=\"/api/v1/keys\",status=\"401\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_http_requests_total{route=\"/healthz\",status=\"200\"} 1")) << text;
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Metrics m;
  m.observe_request("/r", 200, microseconds(100));      // exactly on the first bound: le="0.000100"
  m.observe_request("/r", 200, microseconds(101));      // next bucket
  m.observe_request("/r", 200, microseconds(4'000));    // le="0.005000"
  m.observe_request("/r", 200, microseconds(20'000'000));  // beyond the last bound: only +Inf
  std::string text = m.render();
  auto bucket = [&](const std::string& le, int n) {
    std::string line = "tollgate_http_request_duration_seconds_bucket{route=\"/r\",le=\"" + le + "\"} " + std::to_string(n);
    EXPECT_TRUE(has_line(text, line)) << line << "\n" << text;
  };
  bucket("0.000100", 1);
  bucket("0.000250", 2);
  bucket("0.002500", 2);
  bucket("0.005000", 3);
  bucket("10.000000", 3);
  bucket("+Inf", 4);
  EXPECT_TRUE(has_line(text, "tollgate_http_request_duration_seconds_count{route=\"/r\"} 4")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_http_request_duration_seconds_sum{route=\"/r\"} 20.004201")) << text;
}

TEST(Metrics, NamedHistogramsHaveTheirOwnSeriesPerLabel) {
  Metrics m;
  m.observe("group_commit_apply", "kind", "charge", microseconds(900));
  m.observe("group_commit_apply", "kind", "charge", microseconds(3'000));
  m.observe("group_commit_apply", "kind", "account_write", microseconds(80));
  std::string text = m.render();
  EXPECT_TRUE(has_line(text, "# TYPE tollgate_group_commit_apply_seconds histogram")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_group_commit_apply_seconds_bucket{kind=\"charge\",le=\"0.001000\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_group_commit_apply_seconds_bucket{kind=\"charge\",le=\"0.005000\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_group_commit_apply_seconds_count{kind=\"charge\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_group_commit_apply_seconds_sum{kind=\"charge\"} 0.003900")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_group_commit_apply_seconds_bucket{kind=\"account_write\",le=\"0.000100\"} 1"))
      << text;
  // The HTTP histogram is still its own metric.
  EXPECT_TRUE(has_line(text, "# TYPE tollgate_http_request_duration_seconds histogram")) << text;
}

TEST(Metrics, NamedCountersAndGauges) {
  Metrics m;
  m.add("keys_created", "scope", "agent:connect");
  m.add("keys_created", "scope", "agent:connect", 2);
  m.add("auth_failures", "code", "UNAUTHENTICATED");
  m.set_gauge("open_connections", 7);
  m.set_gauge("open_connections", 5);
  std::string text = m.render();
  EXPECT_TRUE(has_line(text, "# TYPE tollgate_keys_created_total counter")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_keys_created_total{scope=\"agent:connect\"} 3")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_auth_failures_total{code=\"UNAUTHENTICATED\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE tollgate_open_connections gauge")) << text;
  EXPECT_TRUE(has_line(text, "tollgate_open_connections 5")) << text;
}

TEST(Metrics, EscapesLabelValues) {
  Metrics m;
  m.add("x", "v", "a\"b\\c\nd");
  EXPECT_TRUE(has_line(m.render(), "tollgate_x_total{v=\"a\\\"b\\\\c\\nd\"} 1")) << m.render();
}

}  // namespace
}  // namespace tollgate
