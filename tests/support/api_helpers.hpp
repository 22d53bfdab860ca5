// Small helpers shared by the integration tests of the REST API: cookies from Set-Cookie,
// a session signed in by cookie, waiting for /metrics to show a line, a read-only look into
// the SQLite file the server writes.
#pragma once

#include <sqlite3.h>
#include <strings.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "support/platform_fixture.hpp"

namespace tollgate::test {

// Headers from name/value pairs.
inline http::Headers headers_of(std::initializer_list<std::pair<std::string, std::string>> pairs) {
  http::Headers h;
  for (const auto& [name, value] : pairs) h.add(name, value);
  return h;
}

// Value of cookie `name` set by a response, or nullopt.
inline std::optional<std::string> set_cookie_value(const http::ClientResponse& response, const std::string& name) {
  for (const http::Header h : response.headers) {
    if (h.name.size() != 10 || strncasecmp(h.name.data(), "Set-Cookie", 10) != 0) continue;
    if (!h.value.starts_with(name + "=")) continue;
    std::string_view rest = h.value.substr(name.size() + 1);
    return std::string(rest.substr(0, rest.find(';')));
  }
  return std::nullopt;
}

// The whole Set-Cookie header for cookie `name` ("" if absent).
inline std::string set_cookie_header(const http::ClientResponse& response, const std::string& name) {
  for (const http::Header h : response.headers) {
    if (h.name.size() == 10 && strncasecmp(h.name.data(), "Set-Cookie", 10) == 0 && h.value.starts_with(name + "=")) {
      return std::string(h.value);
    }
  }
  return "";
}

inline bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (l == line) return true;
  }
  return false;
}

// Polls /metrics until `done(text)` or the deadline passes; returns the last text. The
// server counts an exchange after writing its response, so a client can see the response
// a moment before the counter moves.
template <typename Done>
std::string wait_for_metrics(const PlatformProcess& platform, Done done,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string text;
  for (;;) {
    text = platform.request("GET", "/metrics").body;
    if (done(text) || std::chrono::steady_clock::now() > deadline) return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Polls /metrics until it has `line` (whole) or the deadline passes; returns the last text.
inline std::string wait_for_metrics_line(const PlatformProcess& platform, const std::string& line,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return wait_for_metrics(platform, [&](const std::string& text) { return has_line(text, line); }, timeout);
}

// Runs one query returning a single integer against the server's SQLite file (read-only,
// WAL-aware, so it sees what the server committed). -1 on error.
inline long long sqlite_count(const std::string& db_url, const std::string& sql, const std::string& text_param = "",
                              const void* blob_param = nullptr, int blob_size = 0) {
  std::string path = db_url.substr(std::string("sqlite:").size());
  sqlite3* db = nullptr;
  long long out = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      if (blob_param) {
        sqlite3_bind_blob(stmt, 1, blob_param, blob_size, SQLITE_TRANSIENT);
      } else if (!text_param.empty()) {
        sqlite3_bind_text(stmt, 1, text_param.c_str(), -1, SQLITE_TRANSIENT);
      }
      if (sqlite3_step(stmt) == SQLITE_ROW) out = sqlite3_column_int64(stmt, 0);
      sqlite3_finalize(stmt);
    }
  }
  if (out < 0) ADD_FAILURE() << "sqlite query failed: " << sql << ": " << (db ? sqlite3_errmsg(db) : "open");
  sqlite3_close(db);
  return out;
}

}  // namespace tollgate::test
