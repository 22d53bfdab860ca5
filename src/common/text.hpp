// ASCII case folding and whitespace trimming for protocol text: header names and values,
// media types, auth schemes, email addresses as stored. These are ASCII by definition, and
// std::tolower is a locale lookup per character (it was a tenth of an MCP call's CPU in
// header lookups).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace tollgate {

// The hash of unordered containers keyed by std::string and looked up by a view (with
// std::equal_to<>), so that a lookup makes no temporary string.
struct StringViewHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

constexpr bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    // Most names arrive in the case they are looked up in: equal bytes need no folding.
    if (a[i] != b[i] && ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// Strips HTTP's optional whitespace (spaces and tabs, RFC 9110 5.6.3) from both ends: header
// values, list items, parameters.
constexpr std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline std::string ascii_lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace tollgate
