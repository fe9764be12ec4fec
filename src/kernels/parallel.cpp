#include "kernels/parallel.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/comm.h"
#include "duet/config.h"

namespace duet {
namespace {

// The count asked for: set_num_threads(n > 0), else DUET_NUM_THREADS, else OMP_NUM_THREADS (explicit), else
// the cores this process may use, shared among the MPI ranks on this host (adaptive: see LoadMonitor).
struct Setting {
  int threads;
  bool explicit_count;
};
Setting setting_from_env() {
  for (const char* var : {"DUET_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n > 0) return {n, true};
    }
  }
  return {std::max(1, omp_get_num_procs() / comm::local_size_from_env()), false};
}

// How many of this process's cores other processes are using, and so how many threads kernels should use.
// Sampled from /proc/stat at most every kInterval: the busy time of the CPUs this process may run on, minus
// this process's own CPU time, is what others used (steal time, a hypervisor running another guest on our
// CPU, counts as others'). A thread that shares its core with a busy process gets half of it in slices of
// milliseconds, and its partners wait for it at every barrier (spinning on their own cores): one thread per
// free core runs faster (measured: a CPU hog on one of two cores took the mlp from 72k to 2.5k images/s
// with two threads, 37k with one). Averaged over samples so a short burst does not flip the count.
}  // namespace

namespace internal {
bool busy_ticks(const char* proc_stat, const cpu_set_t& mask, double& ticks) {
  ticks = 0;
  bool any = false;
  for (const char* line = proc_stat; std::strncmp(line, "cpu", 3) == 0;) {
    int cpu = -1;
    unsigned long long v[8] = {};
    if (std::sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4],
                    &v[5], &v[6], &v[7]) == 9 &&
        cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &mask)) {
      ticks += static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);  // user nice system irq softirq steal
      any = true;
    }
    const char* next = std::strchr(line, '\n');
    if (!next) break;
    line = next + 1;
  }
  return any;
}

// A core counts as free when others use at most 40% of it (a partner that gets 60% of its core in slices
// of milliseconds holds up every barrier).
int threads_for_load(int cpus, double others, int wanted) {
  const int free_cores = static_cast<int>(std::floor(static_cast<double>(cpus) - others + 0.4));
  return std::clamp(free_cores, 1, std::max(wanted, 1));
}
}  // namespace internal

namespace {
class LoadMonitor {
 public:
  static constexpr auto kInterval = std::chrono::milliseconds(200);

  // The thread count for the next parallel work, given the count asked for.
  int limit(int wanted) {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    if (now >= next_.load(std::memory_order_relaxed) && !busy_.exchange(true, std::memory_order_acquire)) {
      next_.store(now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(kInterval).count(),
                  std::memory_order_relaxed);
      sample(wanted);
      busy_.store(false, std::memory_order_release);
    }
    return std::min(wanted, limit_.load(std::memory_order_relaxed));
  }

 private:
  void sample(int wanted) {
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof mask, &mask) != 0) return;
    const int cpus = CPU_COUNT(&mask);
    FILE* f = std::fopen("/proc/stat", "r");
    if (!f) return;
    text_.resize(1 << 16);  // the cpu lines come first: room for ~1000 CPUs
    const std::size_t got = std::fread(text_.data(), 1, text_.size() - 1, f);
    std::fclose(f);
    text_[got] = 0;
    double ticks = 0;
    if (!internal::busy_ticks(text_.data(), mask, ticks)) return;
    timespec cpu{}, wall{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    clock_gettime(CLOCK_MONOTONIC, &wall);
    const double own = static_cast<double>(cpu.tv_sec) + 1e-9 * static_cast<double>(cpu.tv_nsec);
    const double at = static_cast<double>(wall.tv_sec) + 1e-9 * static_cast<double>(wall.tv_nsec);
    if (last_at_ > 0 && at - last_at_ > 0.05) {
      const double elapsed = at - last_at_;
      const double others = std::max(0.0, ((ticks - last_ticks_) / hz_ - (own - last_own_)) / elapsed);
      others_ = samples_++ == 0 ? others : 0.5 * others_ + 0.5 * others;
      const int now = internal::threads_for_load(cpus, others_, wanted);
      if (now != limit_.exchange(now, std::memory_order_relaxed) && profiling_) {
        std::fprintf(stderr, "DUET_PROFILE: kernel threads %d (other processes keep %.2f of %d cores busy)\n", now,
                     others_, cpus);
      }
    }
    last_ticks_ = ticks;
    last_own_ = own;
    last_at_ = at;
  }

  std::atomic<std::int64_t> next_{0};
  std::atomic<bool> busy_{false};
  std::atomic<int> limit_{1 << 20};
  const double hz_ = static_cast<double>(sysconf(_SC_CLK_TCK));
  const bool profiling_ = [] {
    const char* v = std::getenv("DUET_PROFILE");
    return v && *v && std::string(v) != "0";
  }();
  std::vector<char> text_;
  double last_ticks_ = 0, last_own_ = 0, last_at_ = 0, others_ = 0;
  int samples_ = 0;
};

struct State {
  std::atomic<int> threads;
  std::atomic<bool> adaptive;
  LoadMonitor monitor;
};
State& state() {
  static State s = [] {
    const Setting set = setting_from_env();
    omp_set_num_threads(set.threads);  // oneDNN reads the same OpenMP setting
    const char* adapt = std::getenv("DUET_ADAPT_THREADS");
    const bool adaptive = adapt ? std::atoi(adapt) != 0 : !set.explicit_count;
    return State{set.threads, adaptive, {}};
  }();
  return s;
}
}  // namespace

int max_threads() { return state().threads.load(std::memory_order_relaxed); }

void internal::set_adaptive_threads(bool on) { state().adaptive = on; }

int num_threads() {
  State& s = state();
  const int wanted = s.threads.load(std::memory_order_relaxed);
  if (wanted <= 1 || !s.adaptive.load(std::memory_order_relaxed)) return wanted;
  return s.monitor.limit(wanted);
}

int omp_threads_for_library() {
  if (omp_in_parallel()) return 1;  // a nested call runs on its own thread
  const int n = num_threads();
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
  return n;
}

void set_num_threads(int n) {
  State& s = state();
  const Setting set = n > 0 ? Setting{n, true} : setting_from_env();
  s.threads = set.threads;
  s.adaptive = !set.explicit_count;
  omp_set_num_threads(set.threads);
}

}  // namespace duet

namespace duet::config {
void set_num_threads(int n) { duet::set_num_threads(n); }
int num_threads() { return duet::max_threads(); }
}  // namespace duet::config
