// Eager vs traced: an LSTM-cell loop (forward + backward), a chain of 10 elementwise ops on 1M floats,
// 100 chained 10x10 matmuls, and the cost of tracing + optimizing a 1000-node graph. Then the compiled calls
// bench/python_overhead.py times from Python, called from C++ (BM_FromCxx*): what the binding adds.
#include <benchmark/benchmark.h>
#include <duet/duet.h>

using namespace duet;

namespace {

constexpr int kHidden = 128, kSteps = 50;

struct Lstm {
  explicit Lstm(std::int64_t batch_size = 32) : batch(batch_size) {}
  std::int64_t batch;  // declared before xs, which uses it
  Variable wx{random::normal(Shape{kHidden, 4 * kHidden}, 0, 0.05, DType::Float32, 1), {.name = "wx"}};
  Variable wh{random::normal(Shape{kHidden, 4 * kHidden}, 0, 0.05, DType::Float32, 2), {.name = "wh"}};
  Variable b{zeros({4 * kHidden}), {.name = "b"}};
  Tensor xs = random::normal(Shape{kSteps, batch, kHidden}, 0, 1, DType::Float32, 3);

  // One training step's gradient computation: 50 LSTM cells written with matmul/sigmoid/tanh.
  std::vector<Tensor> grads(const Tensor& x_seq) {
    GradientTape tape;
    Tensor h = zeros({batch, kHidden}), c = zeros({batch, kHidden});
    auto steps = split(x_seq, kSteps, 0);
    for (int t = 0; t < kSteps; ++t) {
      Tensor x = reshape(steps[static_cast<std::size_t>(t)], {batch, kHidden});
      Tensor z = matmul(x, wx) + matmul(h, wh) + b;
      auto gates = split(z, 4, 1);
      Tensor i = sigmoid(gates[0]), f = sigmoid(gates[1]), g = tanh(gates[2]), o = sigmoid(gates[3]);
      c = f * c + i * g;
      h = o * tanh(c);
    }
    Tensor loss = mean(square(h));
    return tape.gradient(loss, {wx, wh, b});
  }
};

// One LSTM cell forward and backward at 32x128 (its elementwise part only: the gates come in), traced;
// state.range(0) is the fusion size threshold (1: the cell is one fused node each way).
void BM_LstmCell(benchmark::State& st) {
  Tensor z = random::normal(Shape{32, 4 * kHidden}, 0, 1, DType::Float32, 4);
  Tensor c0 = random::normal(Shape{32, kHidden}, 0, 1, DType::Float32, 5);
  auto cell = [](const Tensor& zz, const Tensor& c) {
    GradientTape tape;
    tape.watch(zz);
    auto gates = split(zz, 4, 1);
    Tensor i = sigmoid(gates[0]), f = sigmoid(gates[1]), g = tanh(gates[2]), o = sigmoid(gates[3]);
    Tensor c1 = f * c + i * g;
    Tensor h = o * tanh(c1);
    return tape.gradient(sum(h * c1), {zz})[0];
  };
  auto fn = function(cell, {.name = "cell", .passes = {.fusion_min_elements = st.range(0)}});
  fn(z, c0);
  for (auto _ : st) benchmark::DoNotOptimize(fn(z, c0).impl());
}
BENCHMARK(BM_LstmCell)->Arg(1)->Arg(1 << 15)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_LstmEager(benchmark::State& st) {
  Lstm m;
  for (auto _ : st) benchmark::DoNotOptimize(m.grads(m.xs)[0].impl());
}
BENCHMARK(BM_LstmEager)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_LstmTraced(benchmark::State& st) {
  Lstm m;
  auto f = function([&](const Tensor& x) { return m.grads(x); }, {.name = "lstm"});
  f(m.xs);
  for (auto _ : st) benchmark::DoNotOptimize(f(m.xs)[0].impl());
}
BENCHMARK(BM_LstmTraced)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_LstmTracedFuseAll(benchmark::State& st) {
  Lstm m;
  auto f =
      function([&](const Tensor& x) { return m.grads(x); }, {.name = "lstm", .passes = {.fusion_min_elements = 1}});
  f(m.xs);
  for (auto _ : st) benchmark::DoNotOptimize(f(m.xs)[0].impl());
}
BENCHMARK(BM_LstmTracedFuseAll)->UseRealTime()->Unit(benchmark::kMillisecond);

// Batch 256: the gates (256 x 128) are past the fusion threshold, so each cell's gates, state update and
// their gradients run as one fused node per direction, reading the gate split and writing the gradient
// concat in place.
void BM_LstmBatch256Eager(benchmark::State& st) {
  Lstm m(256);
  for (auto _ : st) benchmark::DoNotOptimize(m.grads(m.xs)[0].impl());
}
BENCHMARK(BM_LstmBatch256Eager)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_LstmBatch256Traced(benchmark::State& st) {
  Lstm m(256);
  auto f = function([&](const Tensor& x) { return m.grads(x); }, {.name = "lstm256"});
  f(m.xs);
  for (auto _ : st) benchmark::DoNotOptimize(f(m.xs)[0].impl());
}
BENCHMARK(BM_LstmBatch256Traced)->UseRealTime()->Unit(benchmark::kMillisecond);

Tensor chain10(const Tensor& x) {
  Tensor y = x * 1.1f;
  y = y + 0.5f;
  y = tanh(y);
  y = y * y;
  y = y - 0.3f;
  y = sigmoid(y);
  y = abs(y);
  y = y * 0.9f;
  y = exp(y);
  y = y + x;
  return y;
}

void BM_Elementwise10Eager(benchmark::State& st) {
  Tensor x = random::uniform(Shape{1 << 20}, -2, 2, DType::Float32, 4);
  for (auto _ : st) benchmark::DoNotOptimize(chain10(x).impl());
}
BENCHMARK(BM_Elementwise10Eager)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_Elementwise10Traced(benchmark::State& st) {
  Tensor x = random::uniform(Shape{1 << 20}, -2, 2, DType::Float32, 4);
  auto f = function(chain10, {.name = "chain10"});
  f(x);
  for (auto _ : st) benchmark::DoNotOptimize(f(x).impl());
}
BENCHMARK(BM_Elementwise10Traced)->UseRealTime()->Unit(benchmark::kMicrosecond);

Tensor matmul100(const Tensor& x, const Tensor& w) {
  Tensor r = x;
  for (int i = 0; i < 100; ++i) r = matmul(r, w);
  return r;
}

void BM_MatMul100Eager(benchmark::State& st) {
  Tensor x = random::uniform(Shape{10, 10}, 0, 0.2, DType::Float32, 5),
         w = random::uniform(Shape{10, 10}, 0, 0.2, DType::Float32, 6);
  for (auto _ : st) benchmark::DoNotOptimize(matmul100(x, w).impl());
}
BENCHMARK(BM_MatMul100Eager)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_MatMul100Traced(benchmark::State& st) {
  Tensor x = random::uniform(Shape{10, 10}, 0, 0.2, DType::Float32, 5),
         w = random::uniform(Shape{10, 10}, 0, 0.2, DType::Float32, 6);
  auto f = function(matmul100, {.name = "matmul100"});
  f(x, w);
  for (auto _ : st) benchmark::DoNotOptimize(f(x, w).impl());
}
BENCHMARK(BM_MatMul100Traced)->UseRealTime()->Unit(benchmark::kMicrosecond);

// A fresh function each iteration: tracing 1000 ops plus the whole pass pipeline and plan building.
void BM_Trace1000Nodes(benchmark::State& st) {
  Tensor x = ones({4, 4});
  for (auto _ : st) {
    auto f = function(
        [](const Tensor& v) {
          Tensor y = v;
          for (int i = 0; i < 250; ++i) y = tanh(y * 0.5f + 0.25f);  // 4 nodes per step (mul, add, tanh, const)
          return y;
        },
        {.name = "big"});
    benchmark::DoNotOptimize(f(x).impl());
  }
}
BENCHMARK(BM_Trace1000Nodes)->UseRealTime()->Unit(benchmark::kMillisecond);

// The graphs of python_overhead.py's rows "compiled call, 10 ops" (5 x (tanh, * 1.5) on 1000 floats) and
// "compiled training step" (a 64-128-10 relu MLP at batch 32, mean squared error, a tape, SGD by assign_sub),
// built and called the same way from C++.
void BM_FromCxxCompiledCall(benchmark::State& st) {
  Tensor v = random::normal(Shape{1000}, 0, 1, DType::Float32, 1);
  auto f = function([](const Tensor& x) {
    Tensor y = x;
    for (int i = 0; i < 5; ++i) y = tanh(y) * 1.5f;
    return y;
  });
  f(v);
  for (auto _ : st) benchmark::DoNotOptimize(f(v).impl());
}
BENCHMARK(BM_FromCxxCompiledCall)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_FromCxxCompiledTrainStep(benchmark::State& st) {
  Tensor x = random::normal(Shape{32, 64}, 0, 1, DType::Float32, 1);
  Tensor y = random::normal(Shape{32, 10}, 0, 1, DType::Float32, 2);
  Variable w1(random::normal(Shape{64, 128}, 0, 0.1, DType::Float32, 3), {.name = "w1"});
  Variable w2(random::normal(Shape{128, 10}, 0, 0.1, DType::Float32, 4), {.name = "w2"});
  auto step = function([&](const Tensor& xb, const Tensor& yb) {
    GradientTape tape;
    Tensor loss = mean(square(matmul(relu(matmul(xb, w1)), w2) - yb));
    auto g = tape.gradient(loss, {w1, w2});
    w1.assign_sub(g[0] * 0.01f);
    w2.assign_sub(g[1] * 0.01f);
    return loss;
  });
  step(x, y);
  for (auto _ : st) benchmark::DoNotOptimize(step(x, y).impl());
}
BENCHMARK(BM_FromCxxCompiledTrainStep)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
