// Eager micro-benchmarks: per-op dispatch cost and elementwise throughput beside memcpy of the same bytes.
#include <benchmark/benchmark.h>
#include <duet/duet.h>

#include <cstring>
#include <vector>

using namespace duet;

static void BM_EagerAdd1(benchmark::State& st) {
  Tensor a = scalar(1.f), b = scalar(2.f);
  for (auto _ : st) {
    Tensor c = add(a, b);
    benchmark::DoNotOptimize(c.impl());
  }
}
BENCHMARK(BM_EagerAdd1);

static void BM_EagerMul1WithLiteral(benchmark::State& st) {
  Tensor a = scalar(1.f);
  for (auto _ : st) {
    Tensor c = a * 2.f;
    benchmark::DoNotOptimize(c.impl());
  }
}
BENCHMARK(BM_EagerMul1WithLiteral);

constexpr std::int64_t kN = 1 << 20;

static void set_bytes(benchmark::State& st, int tensors) {
  st.SetBytesProcessed(st.iterations() * kN * 4 * tensors);
  st.counters["ns/elem"] = benchmark::Counter(static_cast<double>(st.iterations() * kN),
                                              benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// memcpy of one 4 MiB buffer into another: reads 4 MiB, writes 4 MiB.
static void BM_Memcpy1M(benchmark::State& st) {
  std::vector<float> a(kN, 1.f), b(kN);
  for (auto _ : st) {
    std::memcpy(b.data(), a.data(), kN * 4);
    benchmark::ClobberMemory();
  }
  set_bytes(st, 2);
}
BENCHMARK(BM_Memcpy1M)->UseRealTime();

// add reads 8 MiB and writes 4 MiB.
static void BM_Add1M(benchmark::State& st) {
  Tensor a = random::uniform(Shape{kN}), b = random::uniform(Shape{kN});
  for (auto _ : st) {
    Tensor c = add(a, b);
    benchmark::DoNotOptimize(c.impl());
  }
  set_bytes(st, 3);
}
BENCHMARK(BM_Add1M)->UseRealTime();

static void BM_Exp1M(benchmark::State& st) {
  Tensor a = random::uniform(Shape{kN}, -3, 3);
  for (auto _ : st) {
    Tensor c = exp(a);
    benchmark::DoNotOptimize(c.impl());
  }
  set_bytes(st, 2);
}
BENCHMARK(BM_Exp1M)->UseRealTime();

static void BM_Tanh1M(benchmark::State& st) {
  Tensor a = random::uniform(Shape{kN}, -3, 3);
  for (auto _ : st) {
    Tensor c = tanh(a);
    benchmark::DoNotOptimize(c.impl());
  }
  set_bytes(st, 2);
}
BENCHMARK(BM_Tanh1M)->UseRealTime();

static void BM_Sum1M(benchmark::State& st) {
  Tensor a = random::uniform(Shape{kN});
  for (auto _ : st) {
    Tensor c = sum(a);
    benchmark::DoNotOptimize(c.impl());
  }
  set_bytes(st, 1);
}
BENCHMARK(BM_Sum1M)->UseRealTime();

static void BM_BiasAddRows(benchmark::State& st) {
  Tensor a = random::uniform(Shape{1024, 1024}), b = random::uniform(Shape{1024});
  for (auto _ : st) {
    Tensor c = a + b;
    benchmark::DoNotOptimize(c.impl());
  }
  set_bytes(st, 2);
}
BENCHMARK(BM_BiasAddRows)->UseRealTime();

BENCHMARK_MAIN();
