#include "core/allocator.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "duet/error.h"

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
  std::atomic<std::size_t> in_use{0};  // also updated by the per-thread caches, without the lock
  std::size_t cached = 0;
  std::atomic<std::size_t> peak{0};
  // Cached bytes beyond this go back to the system, so a burst of large temporaries is not kept forever.
  std::size_t cache_limit = std::size_t{4} << 30;
};

// Blocks this large go back to the system when released, never to the cache: they are data sets and
// other one-off tensors (a compiled step's intermediates live in its plan's arena, allocated once), and
// keeping them would hold their memory for the rest of the process (a sliced data set kept the whole one).
constexpr std::size_t kUncachedBytes = std::size_t{64} << 20;

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: buffers may be released during static destruction
  return *p;
}

void note_in_use(Pool& p, std::size_t add) {
  std::size_t now = p.in_use.fetch_add(add, std::memory_order_relaxed) + add;
  std::size_t peak = p.peak.load(std::memory_order_relaxed);
  while (now > peak && !p.peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

// A per-thread cache of small free buffers in front of the pool: the common eager/graph step allocates
// and frees a few small tensors, and the pool's lock was a large part of a tiny op's cost.
constexpr std::size_t kLocalMaxBytes = std::size_t{1} << 16;
constexpr int kLocalPerClass = 8;
struct LocalCache {
  Buffer* head[kClasses] = {};
  int count[kClasses] = {};
};
thread_local LocalCache* t_local = nullptr;
thread_local bool t_local_closed = false;  // set at thread exit; later releases go to the pool

void flush_local(LocalCache* c) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  for (int k = 0; k < kClasses; ++k) {
    while (Buffer* b = c->head[k]) {
      c->head[k] = b->next_free;
      b->next_free = p.free_list[k];
      p.free_list[k] = b;
      p.cached += b->capacity;
    }
  }
}

struct LocalGuard {
  ~LocalGuard() {
    if (t_local) flush_local(t_local);
    delete t_local;
    t_local = nullptr;
    t_local_closed = true;
  }
};
thread_local LocalGuard t_local_guard;

LocalCache* local_cache() {
  if (t_local_closed) return nullptr;
  if (!t_local) {
    (void)&t_local_guard;  // registers the flush at thread exit
    t_local = new LocalCache;
  }
  return t_local;
}

}  // namespace

namespace {
std::string gib(std::size_t bytes) {
  char b[64];
  std::snprintf(b, sizeof b, "%zu bytes (%.2f GiB)", bytes, static_cast<double>(bytes) / (1u << 30));
  return b;
}
// A single block larger than the machine's memory would be refused by the system, or worse, granted
// (overcommit) and then kill the process when touched: refuse it up front.
std::size_t physical_memory() {
  static const std::size_t bytes =
      static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return bytes;
}
}  // namespace

namespace {
thread_local AllocationBudget* t_budget = nullptr;
}

AllocationBudget::AllocationBudget(std::size_t bytes, std::string what)
    : left_(bytes), what_(std::move(what)), outer_(t_budget) {
  t_budget = this;
}
AllocationBudget::~AllocationBudget() { t_budget = outer_; }

Buffer* buffer_alloc(std::size_t bytes) {
  if (AllocationBudget* b = t_budget) {
    if (bytes > b->left_) {
      throw ResourceExhaustedError("[" + b->what_ + "] needs a buffer of " + gib(bytes) + ", more than " +
                                   gib(b->left_) + " left of what its input justifies; the file is corrupt or hostile");
    }
    b->left_ -= bytes;
  }
  if (bytes > physical_memory()) {
    throw ResourceExhaustedError("out of memory: a buffer of " + gib(bytes) +
                                 " is larger than this machine's memory (" + gib(physical_memory()) +
                                 "); use smaller tensors or batches");
  }
  std::size_t rounded = 0;
  int cls = size_class_of(bytes == 0 ? 1 : bytes, &rounded);
  Pool& p = pool();
  if (rounded <= kLocalMaxBytes) {
    if (LocalCache* c = local_cache(); c && c->head[cls]) {
      Buffer* b = c->head[cls];
      c->head[cls] = b->next_free;
      --c->count[cls];
      b->next_free = nullptr;
      b->refs.store(1, std::memory_order_relaxed);
      note_in_use(p, rounded);
      return b;
    }
  }
  {
    std::lock_guard<std::mutex> lock(p.mu);
    note_in_use(p, rounded);
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
    p.in_use.fetch_sub(rounded);
    throw ResourceExhaustedError("out of memory: could not allocate " + gib(rounded) +
                                 "; free tensors or use smaller batches");
  }
  auto* b = new (mem) Buffer;
  b->size_class = cls;
  b->capacity = rounded;
  b->data = static_cast<char*>(mem) + kHeader;
  return b;
}

Buffer* buffer_wrap(void* data, std::size_t bytes, void (*release)(void*), void* arg) {
  auto* b = new Buffer;
  b->size_class = -1;
  b->capacity = bytes;
  b->data = data;
  b->release = release;
  b->release_arg = arg;
  return b;
}

void buffer_release(Buffer* b) {
  if (b->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (buffer_is_external(b)) {
    if (b->release) b->release(b->release_arg);
    delete b;
    return;
  }
  Pool& p = pool();
  if (b->capacity <= kLocalMaxBytes) {
    if (LocalCache* c = local_cache(); c && c->count[b->size_class] < kLocalPerClass) {
      b->next_free = c->head[b->size_class];
      c->head[b->size_class] = b;
      ++c->count[b->size_class];
      p.in_use.fetch_sub(b->capacity, std::memory_order_relaxed);
      return;
    }
  }
  bool keep;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    p.in_use -= b->capacity;
    keep = b->capacity < kUncachedBytes && p.cached + b->capacity <= p.cache_limit;
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
  return {p.system_allocs, p.in_use.load(), p.cached, p.peak.load()};
}

}  // namespace duet
