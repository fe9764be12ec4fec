// The thread count adapts to the cores other processes leave free (kernels/parallel.cpp, LoadMonitor): its
// parser of /proc/stat, its rule, and the count dropping while a CPU-bound process shares the machine.
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "kernels/parallel.h"
#include "test_util.h"

namespace duet {
namespace {

TEST(Threads, BusyTicksCountTheAllowedCpusOnly) {
  const char* stat =
      "cpu  900 0 90 5000 10 0 0 0 0 0\n"
      "cpu0 100 0 10 2500 5 1 2 3 0 0\n"
      "cpu1 800 0 80 2500 5 0 0 7 0 0\n"
      "intr 12345 1 2 3\n";
  cpu_set_t both, second;
  CPU_ZERO(&both);
  CPU_SET(0, &both);
  CPU_SET(1, &both);
  CPU_ZERO(&second);
  CPU_SET(1, &second);
  double ticks = 0;
  ASSERT_TRUE(internal::busy_ticks(stat, both, ticks));
  EXPECT_EQ(ticks, 100 + 10 + 1 + 2 + 3 + 800 + 80 + 7);  // idle and iowait are not busy; steal is
  ASSERT_TRUE(internal::busy_ticks(stat, second, ticks));
  EXPECT_EQ(ticks, 800 + 80 + 7);
  cpu_set_t none;
  CPU_ZERO(&none);
  CPU_SET(5, &none);
  EXPECT_FALSE(internal::busy_ticks(stat, none, ticks));
  EXPECT_FALSE(internal::busy_ticks("garbage", both, ticks));
}

TEST(Threads, OneThreadPerCoreOthersLeaveFree) {
  EXPECT_EQ(internal::threads_for_load(2, 0.05, 2), 2);  // quiet
  EXPECT_EQ(internal::threads_for_load(2, 1.0, 2), 1);   // a CPU hog on one core
  EXPECT_EQ(internal::threads_for_load(2, 0.7, 2), 1);   // a core mostly taken
  EXPECT_EQ(internal::threads_for_load(2, 0.5, 2), 1);   // half a core taken: its thread would hold up the other
  EXPECT_EQ(internal::threads_for_load(2, 0.3, 2), 2);   // a little load (a shell, a daemon) leaves both
  EXPECT_EQ(internal::threads_for_load(2, 3.0, 2), 1);   // never fewer than one
  EXPECT_EQ(internal::threads_for_load(8, 2.0, 8), 6);
  EXPECT_EQ(internal::threads_for_load(8, 0.0, 4), 4);  // never more than asked for
}

// A CPU-bound child process on a 2-core machine: within a second the kernels use one thread fewer. (With
// other tests running beside this one the count may drop before the child starts; the rule's tests above
// check when it must not.)
TEST(Threads, CountDropsWhileAnotherProcessKeepsACoreBusy) {
  const int cores = omp_get_num_procs();
  if (cores < 2) GTEST_SKIP() << "needs 2 cores, this machine has " << cores;
  const int before = max_threads();
  set_num_threads(2);
  internal::set_adaptive_threads(true);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    volatile std::uint64_t x = 0;
    while (std::chrono::steady_clock::now() < end) x = x + 1;
    _exit(0);
  }
  int seen = 2;
  for (int i = 0; i < 60 && seen == 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = num_threads();
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  set_num_threads(before);
  EXPECT_EQ(seen, 1) << "a process kept one of the two cores busy for 3 s and the kernels still used 2 threads";
}

}  // namespace
}  // namespace duet
