// The arena that one MCP message's JSON values live in. Internal to src/mcp.
#pragma once

#include <boost/json/storage_ptr.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

namespace tollgate::mcp {

namespace json = boost::json;

// The memory of one message's values (a decoded message, a tool's result): one arena per
// message, released with the last value that uses it. A typical message fits in the first
// block, which comes with the arena itself, so building one is one allocation instead of
// one per key, string, object and array. That allocation stays under 1 KiB: glibc serves
// larger ones from its large bins, which first merge every freed small chunk
// (malloc_consolidate).
//
// The rule that comes with it: a json value keeps its memory resource when it is
// move-constructed, but moving it by assignment into a value of another resource copies
// it. Values from an arena are moved into place by construction (Message's factories,
// RpcResponse, optional::emplace).
//
// Not Boost's monotonic_resource: a copy of a json value is allocated where the original
// lives, and a handler may copy its arguments from two threads at once, so allocating here
// takes a (spin) lock, held for a pointer bump.
class MessageArena final : public json::memory_resource {
 public:
  MessageArena() = default;
  MessageArena(const MessageArena&) = delete;
  MessageArena& operator=(const MessageArena&) = delete;
  ~MessageArena() override {
    while (spill_) {
      Spill* next = spill_->next;
      ::operator delete(spill_);
      spill_ = next;
    }
  }

 private:
  static constexpr std::size_t kFirstBlockBytes = 640;
  // The first spill stays a small-bin allocation too (with its link and malloc's header,
  // under 1 KiB): a result with a little more than the first block is common.
  static constexpr std::size_t kSmallSpillBytes = 960;
  struct Spill {
    Spill* next;
  };

  void* do_allocate(std::size_t bytes, std::size_t align) override {
    while (locked_.exchange(true, std::memory_order_acquire)) {
    }
    void* p = bump(bytes, align);
    if (!p) {
      // Past the first spill each block doubles the room, so a large message takes few.
      std::size_t room = std::max(capacity_ < kSmallSpillBytes ? kSmallSpillBytes : 2 * capacity_, bytes + align);
      auto* spill = static_cast<Spill*>(::operator new(sizeof(Spill) + room));
      spill->next = spill_;
      spill_ = spill;
      next_ = reinterpret_cast<unsigned char*>(spill + 1);
      end_ = next_ + room;
      capacity_ = room;
      p = bump(bytes, align);
    }
    locked_.store(false, std::memory_order_release);
    return p;
  }
  void do_deallocate(void*, std::size_t, std::size_t) override {}  // all at once, with the arena
  bool do_is_equal(const json::memory_resource& other) const noexcept override { return this == &other; }

  void* bump(std::size_t bytes, std::size_t align) {
    auto at = reinterpret_cast<std::uintptr_t>(next_);
    std::uintptr_t aligned = (at + align - 1) & ~(std::uintptr_t(align) - 1);
    if (aligned + bytes > reinterpret_cast<std::uintptr_t>(end_)) return nullptr;
    next_ = reinterpret_cast<unsigned char*>(aligned + bytes);
    return reinterpret_cast<void*>(aligned);
  }

  std::atomic<bool> locked_{false};
  Spill* spill_ = nullptr;
  std::size_t capacity_ = kFirstBlockBytes;
  unsigned char* next_ = first_;
  unsigned char* end_ = first_ + kFirstBlockBytes;
  alignas(std::max_align_t) unsigned char first_[kFirstBlockBytes];
};

// A new arena, shared by every value allocated in it.
inline json::storage_ptr make_message_arena() { return json::make_shared_resource<MessageArena>(); }

}  // namespace tollgate::mcp
