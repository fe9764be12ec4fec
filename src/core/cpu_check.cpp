// Load-time check that this CPU runs the instruction set duet was compiled for (DUET_ARCH, x86-64-v3 by
// default). Without it a CPU lacking AVX2 would die with SIGILL somewhere inside a kernel; this file is
// compiled for the x86-64 baseline so the check itself runs anywhere, before any static initializer.
#include <unistd.h>
#include <cstdio>
#include <cstdlib>

namespace duet::internal {

#if defined(__x86_64__) && defined(DUET_ARCH_LEVEL) && defined(DUET_ARCH_NUMBER)
namespace {
// The features of each x86-64 microarchitecture level (by name: GCC and clang know these).
bool cpu_has_level(int level) {
  __builtin_cpu_init();
  bool ok = true;
  if (level >= 2) ok = ok && __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt");
  if (level >= 3) {
    ok = ok && __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("fma");
  }
  if (level >= 4) {
    ok = ok && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  }
  return ok;
}

__attribute__((constructor(101))) void require_build_isa() {
  if (cpu_has_level(DUET_ARCH_NUMBER)) return;
  std::fprintf(stderr,
               "duet: this build of duet needs an %s CPU (for x86-64-v3: AVX2, FMA, BMI2), which this CPU is not.\n"
               "duet: rebuild it for this machine: cmake -DDUET_ARCH=x86-64-v2 (portable) or -DDUET_NATIVE=ON.\n",
               DUET_ARCH_LEVEL);
  _exit(70);  // before main(): there is no caller to throw to
}
}  // namespace
#endif

// Referenced from dtype.cpp so that static links always pull this object (and its constructor) in.
int cpu_check_anchor = 0;

}  // namespace duet::internal
