#include "core/allocator.h"

#include <cstdlib>
#include <mutex>
#include <new>

namespace duet {
namespace {

constexpr std::size_t kAlign = 64;
constexpr std::size_t kHeader = 64;  // Buffer header, padded so data stays 64-byte aligned
constexpr int kClasses = 4 * 64;
static_assert(sizeof(Buffer) <= kHeader);

// Size class: 64-byte granules up to 256 B, then four classes per power of two (waste <= 25%).
int size_class_of(std::size_t bytes, std::size_t* rounded) {
  if (bytes <= 256) {
    std::size_t r = bytes <= 64 ? 64 : (bytes + 63) / 64 * 64;
    *rounded = r;
    return static_cast<int>(r / 64) - 1;  // 0..3
  }
  int octave = 63 - __builtin_clzll(bytes - 1);  // 2^octave < bytes <= 2^(octave+1)
  std::size_t base = std::size_t{1} << octave;
  std::size_t quarter = base / 4;
  std::size_t steps = (bytes - base + quarter - 1) / quarter;  // 1..4
  *rounded = base + steps * quarter;
  return 4 + (octave - 8) * 4 + static_cast<int>(steps) - 1;
}

struct Pool {
  std::mutex mu;
  Buffer* free_list[kClasses] = {};
  std::size_t system_allocs = 0;
  std::size_t in_use = 0;
  std::size_t cached = 0;
  std::size_t peak = 0;
  // Cached bytes beyond this go back to the system, so a burst of large temporaries is not kept forever.
  std::size_t cache_limit = std::size_t{4} << 30;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: buffers may be released during static destruction
  return *p;
}

}  // namespace

Buffer* buffer_alloc(std::size_t bytes) {
  std::size_t rounded = 0;
  int cls = size_class_of(bytes == 0 ? 1 : bytes, &rounded);
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    p.in_use += rounded;
    if (p.in_use > p.peak) p.peak = p.in_use;
    if (Buffer* b = p.free_list[cls]) {
      p.free_list[cls] = b->next_free;
      p.cached -= rounded;
      b->next_free = nullptr;
      b->refs.store(1, std::memory_order_relaxed);
      return b;
    }
    ++p.system_allocs;
  }
  void* mem = std::aligned_alloc(kAlign, kHeader + rounded);
  if (!mem) {
    std::lock_guard<std::mutex> lock(p.mu);
    p.in_use -= rounded;
    throw std::bad_alloc();
  }
  auto* b = new (mem) Buffer;
  b->size_class = cls;
  b->capacity = rounded;
  b->data = static_cast<char*>(mem) + kHeader;
  return b;
}

void buffer_release(Buffer* b) {
  if (b->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  Pool& p = pool();
  bool keep;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    p.in_use -= b->capacity;
    keep = p.cached + b->capacity <= p.cache_limit;
    if (keep) {
      b->next_free = p.free_list[b->size_class];
      p.free_list[b->size_class] = b;
      p.cached += b->capacity;
    }
  }
  if (!keep) {
    b->~Buffer();
    std::free(b);
  }
}

AllocatorStats allocator_stats() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return {p.system_allocs, p.in_use, p.cached, p.peak};
}

void allocator_trim() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  for (auto& head : p.free_list) {
    while (head) {
      Buffer* n = head->next_free;
      head->~Buffer();
      std::free(head);
      head = n;
    }
  }
  p.cached = 0;
}

}  // namespace duet
