#pragma once
// A caching allocator for tensor buffers: 64-byte aligned blocks in size classes (four per octave),
// kept on free lists when released, so a steady-state eager loop never reaches malloc.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace duet {

struct Buffer {
  std::atomic<std::int32_t> refs{1};
  std::int32_t size_class = 0;
  std::size_t capacity = 0;  // usable bytes at data
  void* data = nullptr;
  Buffer* next_free = nullptr;
  // Memory the engine did not allocate (size_class -1, see buffer_wrap): handed back by calling
  // release(release_arg) when the last reference goes.
  void (*release)(void*) = nullptr;
  void* release_arg = nullptr;
};

Buffer* buffer_alloc(std::size_t bytes);
// A buffer over `bytes` of memory someone else owns (no copy): release(arg), when given, runs once when the
// last tensor using it is gone, on whichever thread drops it. The engine never writes to such a buffer in
// place (a variable over it copies on its first update).
Buffer* buffer_wrap(void* data, std::size_t bytes, void (*release)(void*), void* arg);
inline bool buffer_is_external(const Buffer* b) { return b->size_class < 0; }

// While one lives, the buffers this thread allocates may total at most `bytes` (loading a file: what its
// contents justify, so a hostile file cannot make the loader allocate what it merely claims); beyond that
// buffer_alloc throws ResourceExhaustedError naming `what`. Budgets nest (the innermost applies).
class AllocationBudget {
 public:
  AllocationBudget(std::size_t bytes, std::string what);
  ~AllocationBudget();
  AllocationBudget(const AllocationBudget&) = delete;
  AllocationBudget& operator=(const AllocationBudget&) = delete;

 private:
  friend Buffer* buffer_alloc(std::size_t bytes);
  std::size_t left_;
  std::string what_;
  AllocationBudget* outer_;
};
inline void buffer_retain(Buffer* b) { b->refs.fetch_add(1, std::memory_order_relaxed); }
void buffer_release(Buffer* b);

struct AllocatorStats {
  std::size_t system_allocs = 0;  // blocks obtained from the system
  std::size_t bytes_in_use = 0;
  std::size_t bytes_cached = 0;
  std::size_t peak_bytes_in_use = 0;
};
AllocatorStats allocator_stats();

}  // namespace duet
