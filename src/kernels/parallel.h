#pragma once
// One thread pool for everything: OpenMP (the pool oneDNN uses too). Small work runs inline.
#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>

namespace duet {

// Threads for the next parallel work: the count asked for (set_num_threads, DUET_NUM_THREADS, else
// OMP_NUM_THREADS, each fixed) or, by default, every core this process may use less those other processes
// keep busy (re-read every 200 ms; DUET_ADAPT_THREADS=0/1 turns that off/on). Call it where work is about
// to be split, not per element.
int num_threads();
// The count asked for (what a plan's layout is made for).
int max_threads();
void set_num_threads(int n);
// Before a library call that runs its own OpenMP regions (oneDNN): makes this thread's OpenMP team size
// num_threads(), and returns it.
int omp_threads_for_library();

// Elements below which an elementwise loop stays on the calling thread.
constexpr std::int64_t kParallelGrain = 1 << 15;

// Runs body() on each thread of an OpenMP region; an exception thrown by any of them is rethrown on the
// calling thread after the region (escaping an OpenMP region would call std::terminate).
class RegionErrors {
 public:
  template <class Body>
  void run(Body&& body) noexcept {
    try {
      body();
    } catch (...) {
      if (!failed_.exchange(true)) first_ = std::current_exception();
    }
  }
  void rethrow() const {
    if (failed_.load()) std::rethrow_exception(first_);
  }
  // Whether a body has thrown (threads that wait for one another stop waiting).
  bool failed() const { return failed_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> failed_{false};
  std::exception_ptr first_;
};

namespace internal {
// The load monitor's parts (tested on their own): the busy clock ticks (user, nice, system, irq, softirq,
// steal) of the CPUs in mask, from the text of /proc/stat (false if none is listed); and the threads to use
// on `cpus` cores of which others keep `others` busy, at most `wanted`.
bool busy_ticks(const char* proc_stat, const cpu_set_t& mask, double& ticks);
int threads_for_load(int cpus, double others, int wanted);
// Turns the adaptation on or off whatever the count's source (tests).
void set_adaptive_threads(bool on);
}  // namespace internal

// Calls f(begin, end) over [0, n) split in contiguous chunks, one per thread (aligned to 16 elements).
template <class F>
void parallel_for(std::int64_t n, std::int64_t grain, F&& f) {
  if (n < 2 * grain || omp_in_parallel()) {  // nested: the enclosing region already uses the threads
    f(std::int64_t{0}, n);
    return;
  }
  const int nt = num_threads();
  if (nt <= 1) {
    f(std::int64_t{0}, n);
    return;
  }
  int chunks = static_cast<int>(std::min<std::int64_t>(nt, n / grain));
  RegionErrors errors;
#pragma omp parallel num_threads(chunks)
  {
    int t = omp_get_thread_num();
    int k = omp_get_num_threads();
    std::int64_t per = ((n + k - 1) / k + 15) / 16 * 16;
    std::int64_t b = std::min<std::int64_t>(n, per * t), e = std::min<std::int64_t>(n, b + per);
    if (b < e) errors.run([&] { f(b, e); });
  }
  errors.rethrow();
}

}  // namespace duet
