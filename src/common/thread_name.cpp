#include "common/thread_name.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>

namespace tollgate {

void set_thread_name(std::string_view name) {
  std::array<char, 16> buffer{};  // the kernel's limit, with the terminating zero
  std::copy_n(name.begin(), std::min(name.size(), buffer.size() - 1), buffer.begin());
  ::pthread_setname_np(::pthread_self(), buffer.data());  // only fails for a name past the limit
}

}  // namespace tollgate
