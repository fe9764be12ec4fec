// One training step of an MLP 784-256-128-10 at batch 128 (Adam, sparse categorical cross-entropy):
// compiled (the traced train step fit uses) vs run_eagerly.
#include <benchmark/benchmark.h>
#include <duet/duet.h>

using namespace duet;

namespace {

void train_steps(benchmark::State& st, bool eager) {
  Sequential model(Input({784}), {layers::Dense(256, "relu"), layers::Dense(128, "relu"), layers::Dense(10)});
  model.compile(
      {.optimizer = optimizers::Adam(1e-3), .loss = losses::SparseCategoricalCrossentropy(true), .run_eagerly = eager});
  const std::int64_t batch = 128, batches = 16;
  Tensor x = random::uniform(Shape{batch * batches, 784}, 0, 1, DType::Float32, 1);
  Tensor y = cast(random::uniform(Shape{batch * batches}, 0, 10, DType::Float32, 2), DType::Int32);
  model.fit(x, y, {.epochs = 1, .batch_size = batch, .shuffle = false, .verbose = 0});  // trace + warm up
  for (auto _ : st) model.fit(x, y, {.epochs = 1, .batch_size = batch, .shuffle = false, .verbose = 0});
  st.counters["images/s"] =
      benchmark::Counter(static_cast<double>(st.iterations() * batch * batches), benchmark::Counter::kIsRate);
}

void BM_MlpTrainStepCompiled(benchmark::State& st) { train_steps(st, false); }
void BM_MlpTrainStepEager(benchmark::State& st) { train_steps(st, true); }
BENCHMARK(BM_MlpTrainStepCompiled)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MlpTrainStepEager)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
