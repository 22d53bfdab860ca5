// Helpers on requests and responses.
#include "http/message.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstring>

#include "common/json.hpp"
#include "common/text.hpp"

namespace tollgate::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_line_text(std::string& out, std::string_view text) {
  std::size_t at = out.size();
  out += text;
  // The common case, no line break, is two vectorised scans (find_first_of("\r\n") would
  // look each character up in the set by a call).
  if (!std::memchr(text.data(), '\r', text.size()) && !std::memchr(text.data(), '\n', text.size())) return;
  for (std::size_t i = at; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
}

}  // namespace

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const Header h : *this) {
    if (ascii_iequals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

void Headers::set(std::string_view name, std::string_view value) {
  // Keeps the other headers in order, closing the gaps in place.
  std::size_t kept = 0;
  for (auto it = begin(); it != end();) {
    Header h = *it;
    std::size_t at = static_cast<std::size_t>(h.name.data() - text_.data()) - kEntryHead;
    std::size_t length = kEntryHead + h.name.size() + h.value.size();
    ++it;
    if (ascii_iequals(h.name, name)) {
      --count_;
      continue;
    }
    if (at != kept) std::memmove(text_.data() + kept, text_.data() + at, length);
    kept += length;
  }
  text_.resize(kept);
  add(name, value);
}

void Headers::add(std::string_view name, std::string_view value) {
  // Room for a response's few headers at once, not a reallocation per header.
  if (text_.capacity() < kTypicalBytes) text_.reserve(kTypicalBytes);
  const std::uint32_t sizes[2] = {static_cast<std::uint32_t>(name.size()), static_cast<std::uint32_t>(value.size())};
  text_.append(reinterpret_cast<const char*>(sizes), sizeof sizes);
  text_ += name;
  text_ += value;
  ++count_;
}

void append_header_line(std::string& head, std::string_view name, std::string_view value) {
  append_line_text(head, name);
  head += ": ";
  append_line_text(head, value);
  head += "\r\n";
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    std::size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    std::size_t eq = pair.find('=');
    std::string key = percent_decode(pair.substr(0, eq), true);
    if (key == name) return percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

std::optional<std::string> Request::cookie(std::string_view name) const {
  auto header_value = header("Cookie");
  if (!header_value) return std::nullopt;
  std::string_view rest = *header_value;
  while (!rest.empty()) {
    std::size_t semi = rest.find(';');
    std::string_view pair = trim_ows(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && trim_ows(pair.substr(0, eq)) == name) return std::string(trim_ows(pair.substr(eq + 1)));
  }
  return std::nullopt;
}

Response Response::json(unsigned status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", "application/json");
  r.body = boost::json::serialize(body);
  return r;
}

Response Response::text(unsigned status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

Response Response::error(ErrorCode code, std::string_view message) {
  std::string body;
  json::append_error(body, Error{code, std::string(message)});
  return text(http_status(code), std::move(body), "application/json");
}

Response Response::no_content() {
  Response r;
  r.status = 204;
  return r;
}

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

}  // namespace tollgate::http
