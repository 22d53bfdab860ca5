// Column-aligned plain-text tables for the CLI's human output.
#pragma once

#include <string>
#include <vector>

namespace tollgate::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.size() == 1; }

  std::string render() const {
    std::vector<std::size_t> width(rows_[0].size(), 0);
    for (const auto& row : rows_)
      for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], display_width(row[i]));
    std::string out;
    for (const auto& row : rows_) {
      for (std::size_t i = 0; i < row.size(); ++i) {
        out += row[i];
        if (i + 1 < row.size()) out.append(width[i] - display_width(row[i]) + 2, ' ');
      }
      out += '\n';
    }
    return out;
  }

 private:
  static std::size_t display_width(const std::string& s) {
    std::size_t n = 0;
    for (char c : s) n += (c & 0xC0) != 0x80;  // code points, good enough for names
    return n;
  }
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace tollgate::cli
