#include "kernels/parallel.h"

#include <algorithm>
#include <atomic>

#include "core/comm.h"

#include "duet/config.h"

#include <cstdlib>

namespace duet {
namespace {
int threads_from_env() {
  for (const char* var : {"DUET_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  // Several ranks of an MPI job on one host share its cores.
  return std::max(1, omp_get_num_procs() / comm::local_size_from_env());
}
std::atomic<int>& thread_setting() {
  static std::atomic<int> n = [] {
    int t = threads_from_env();
    omp_set_num_threads(t);  // oneDNN reads the same OpenMP setting
    return t;
  }();
  return n;
}
}  // namespace

int num_threads() { return thread_setting().load(std::memory_order_relaxed); }
void set_num_threads(int n) {
  thread_setting() = n > 0 ? n : threads_from_env();
  omp_set_num_threads(thread_setting());
}

}  // namespace duet

namespace duet::config {
void set_num_threads(int n) { duet::set_num_threads(n); }
int num_threads() { return duet::num_threads(); }
}  // namespace duet::config
