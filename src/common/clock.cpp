// Civil-time conversions done with std::chrono calendar types (no time zones, all UTC).
#include "common/clock.hpp"

#include <fmt/format.h>

#include <charconv>
#include <chrono>

namespace tollgate {
namespace {

using namespace std::chrono;

std::optional<int> read_int(std::string_view text, std::size_t pos, std::size_t len) {
  if (pos + len > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = pos; i < pos + len; ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

UnixMicros now_micros() {
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_rfc3339(UnixMicros t) {
  sys_time<microseconds> tp{microseconds{t}};
  auto day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss hms{tp - day};
  int year = int(ymd.year());
  if (year < 0 || year > 9999) {
    return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:06d}Z", year, unsigned(ymd.month()),
                       unsigned(ymd.day()), hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                       hms.subseconds().count());
  }
  // Digit by digit into a fixed layout: every timestamp of every key list goes through here,
  // and parsing fmt's format string was most of its cost.
  std::string out = "0000-00-00T00:00:00.000000Z";
  auto put = [&out](std::size_t end, long long value, int digits) {
    for (int i = 0; i < digits; ++i, value /= 10) out[end - i] = static_cast<char>('0' + value % 10);
  };
  put(3, year, 4);
  put(6, unsigned(ymd.month()), 2);
  put(9, unsigned(ymd.day()), 2);
  put(12, hms.hours().count(), 2);
  put(15, hms.minutes().count(), 2);
  put(18, hms.seconds().count(), 2);
  put(25, hms.subseconds().count(), 6);
  return out;
}

std::optional<UnixMicros> parse_rfc3339(std::string_view text) {
  auto y = read_int(text, 0, 4), mo = read_int(text, 5, 2), d = read_int(text, 8, 2);
  if (!y || !mo || !d || text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  year_month_day ymd{year{*y}, month{unsigned(*mo)}, day{unsigned(*d)}};
  if (!ymd.ok()) return std::nullopt;
  UnixMicros base = duration_cast<microseconds>(sys_days{ymd}.time_since_epoch()).count();
  if (text.size() == 10) return base;

  if (text.size() < 20 || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':')
    return std::nullopt;
  auto h = read_int(text, 11, 2), mi = read_int(text, 14, 2), s = read_int(text, 17, 2);
  if (!h || !mi || !s || *h > 23 || *mi > 59 || *s > 59) return std::nullopt;
  std::size_t pos = 19;
  UnixMicros frac = 0;
  if (text[pos] == '.') {
    ++pos;
    UnixMicros scale = 100000;
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      frac += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  if (pos + 1 != text.size() || (text[pos] != 'Z' && text[pos] != 'z')) return std::nullopt;
  return base + ((*h * 60 + *mi) * 60 + *s) * UnixMicros{1'000'000} + frac;
}

UnixMicros start_of_day(UnixMicros t) {
  auto day = floor<days>(sys_time<microseconds>{microseconds{t}});
  return duration_cast<microseconds>(day.time_since_epoch()).count();
}

UnixMicros start_of_month(UnixMicros t) {
  year_month_day ymd{floor<days>(sys_time<microseconds>{microseconds{t}})};
  sys_days first{ymd.year() / ymd.month() / 1};
  return duration_cast<microseconds>(first.time_since_epoch()).count();
}

}  // namespace tollgate
