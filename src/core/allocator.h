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
};

Buffer* buffer_alloc(std::size_t bytes);

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
