// Files compiled into the binary at build time (cmake/embed_files.cmake): SQL migrations and
// the dashboard's assets. No file is read from disk at run time.
#pragma once

#include <span>
#include <string_view>

namespace tollgate {

struct EmbeddedFile {
  std::string_view path;  // relative to the folder it was embedded from
  std::string_view data;
};

std::span<const EmbeddedFile> migration_files();  // src/store/migrations/*.sql, sorted
std::span<const EmbeddedFile> dashboard_files();   // web/**

}  // namespace tollgate
