// Names the calling thread, so that `top -H`, `ps -L`, perf and gdb tell an I/O thread from a
// committer: an operator looking at a busy process sees which part is busy.
#pragma once

#include <string_view>

namespace tollgate {

// Linux keeps the first 15 bytes of `name`.
void set_thread_name(std::string_view name);

}  // namespace tollgate
