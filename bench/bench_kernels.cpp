// Kernel benchmarks: sgemm through duet's matmul beside a direct oneDNN call in the same binary, and
// conv2d forward+backward at the TensorFlow-tutorial Fashion-MNIST shapes.
#include <benchmark/benchmark.h>
#include <duet/duet.h>
#include "duet/gradient_ops.h"

#include <dnnl.hpp>

using namespace duet;

static void set_flops(benchmark::State& st, double flops_per_iter) {
  st.counters["GFLOPS"] =
      benchmark::Counter(flops_per_iter * static_cast<double>(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

static void BM_MatMul(benchmark::State& st) {
  const std::int64_t n = st.range(0);
  Tensor a = random::normal(Shape{n, n}, 0, 1, DType::Float32, 1);
  Tensor b = random::normal(Shape{n, n}, 0, 1, DType::Float32, 2);
  for (auto _ : st) {
    Tensor c = matmul(a, b);
    benchmark::DoNotOptimize(c.impl());
  }
  set_flops(st, 2.0 * n * n * n);
}
BENCHMARK(BM_MatMul)->Arg(64)->Arg(256)->Arg(1024)->Arg(2048)->UseRealTime();

// The tf-cnn's dense layer (batch 128, 3136 -> 1024): forward, input gradient (transposed B) and weight
// gradient (transposed A), as its training step runs them.
static void BM_DenseMatMul(benchmark::State& st) {
  const int which = static_cast<int>(st.range(0));
  Tensor x = random::normal(Shape{128, 3136}), w = random::normal(Shape{3136, 1024}),
         g = random::normal(Shape{128, 1024});
  for (auto _ : st) {
    Tensor y = which == 0 ? matmul(x, w) : which == 1 ? matmul(g, w, false, true) : matmul(x, g, true, false);
    benchmark::DoNotOptimize(y.impl());
  }
  set_flops(st, 2.0 * 128 * 3136 * 1024);
}
BENCHMARK(BM_DenseMatMul)->Arg(0)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// The same product as one oneDNN matmul primitive created once and executed directly (output preallocated).
static void BM_OneDNNDirect(benchmark::State& st) {
  const std::int64_t n = st.range(0);
  using dt = dnnl::memory::data_type;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  dnnl::memory::desc md({n, n}, dt::f32, dnnl::memory::format_tag::ab);
  Tensor a = random::normal(Shape{n, n}, 0, 1, DType::Float32, 1);
  Tensor b = random::normal(Shape{n, n}, 0, 1, DType::Float32, 2);
  Tensor c = zeros({n, n});
  dnnl::memory am(md, eng, a.mutable_data<float>()), bm(md, eng, b.mutable_data<float>()),
      cm(md, eng, c.mutable_data<float>());
  dnnl::matmul prim(dnnl::matmul::primitive_desc(dnnl::matmul::desc(md, md, md), eng));
  for (auto _ : st) {
    prim.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    s.wait();
  }
  set_flops(st, 2.0 * n * n * n);
}
BENCHMARK(BM_OneDNNDirect)->Arg(64)->Arg(256)->Arg(1024)->Arg(2048)->UseRealTime();

// conv forward + both backward passes, as one training step of the layer does.
static void conv_step(benchmark::State& st, Shape x_shape, Shape w_shape) {
  Tensor x = random::normal(x_shape, 0, 1, DType::Float32, 1);
  Tensor w = random::normal(w_shape, 0, 0.1, DType::Float32, 2);
  Conv2DOptions o{.padding = "same"};
  Tensor g = ones_like(conv2d(x, w, o));
  double flops = 2.0 * g.num_elements() * w_shape[0] * w_shape[1] * w_shape[2];
  for (auto _ : st) {
    Tensor y = conv2d(x, w, o);
    Tensor dx = conv2d_backprop_input(g, w, x, o);
    Tensor dw = conv2d_backprop_filter(x, g, w, o);
    benchmark::DoNotOptimize(y.impl());
    benchmark::DoNotOptimize(dx.impl());
    benchmark::DoNotOptimize(dw.impl());
  }
  set_flops(st, 3 * flops);
}
static void BM_Conv1FwdBwd(benchmark::State& st) { conv_step(st, Shape{128, 28, 28, 1}, Shape{5, 5, 1, 32}); }
static void BM_Conv2FwdBwd(benchmark::State& st) { conv_step(st, Shape{128, 14, 14, 32}, Shape{5, 5, 32, 64}); }
BENCHMARK(BM_Conv1FwdBwd)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2FwdBwd)->UseRealTime()->Unit(benchmark::kMillisecond);

// The tf-cnn's first layer (1 input channel: the direct kernel) forward with bias and relu, and its
// filter gradient, as a training step runs them (the input needs no gradient).
static void BM_Conv1FwdBiasRelu(benchmark::State& st) {
  Tensor x = random::normal(Shape{128, 28, 28, 1}, 0, 1, DType::Float32, 1);
  Tensor w = random::normal(Shape{5, 5, 1, 32}, 0, 0.1, DType::Float32, 2);
  Tensor b = random::normal(Shape{32}, 0, 0.1, DType::Float32, 3);
  Conv2DOptions o{.padding = "same"};
  auto f = function([&](const Tensor& in) { return relu(bias_add(conv2d(in, w, o), b)); });
  f(x);
  for (auto _ : st) benchmark::DoNotOptimize(f(x).impl());
  set_flops(st, 2.0 * 128 * 28 * 28 * 32 * 5 * 5);
}
BENCHMARK(BM_Conv1FwdBiasRelu)->UseRealTime()->Unit(benchmark::kMillisecond);

static void BM_Conv1BackpropFilter(benchmark::State& st) {
  Tensor x = random::normal(Shape{128, 28, 28, 1}, 0, 1, DType::Float32, 1);
  Tensor w = random::normal(Shape{5, 5, 1, 32}, 0, 0.1, DType::Float32, 2);
  Tensor g = random::normal(Shape{128, 28, 28, 32}, 0, 1, DType::Float32, 3);
  Conv2DOptions o{.padding = "same"};
  for (auto _ : st) benchmark::DoNotOptimize(conv2d_backprop_filter(x, g, w, o).impl());
  set_flops(st, 2.0 * 128 * 28 * 28 * 32 * 5 * 5);
}
BENCHMARK(BM_Conv1BackpropFilter)->UseRealTime()->Unit(benchmark::kMillisecond);

static void BM_Conv2Fwd(benchmark::State& st) {
  Tensor x = random::normal(Shape{128, 14, 14, 32}, 0, 1, DType::Float32, 1);
  Tensor w = random::normal(Shape{5, 5, 32, 64}, 0, 0.1, DType::Float32, 2);
  Conv2DOptions o{.padding = "same"};
  for (auto _ : st) {
    Tensor y = conv2d(x, w, o);
    benchmark::DoNotOptimize(y.impl());
  }
  set_flops(st, 2.0 * 128 * 14 * 14 * 64 * 5 * 5 * 32);
}
BENCHMARK(BM_Conv2Fwd)->UseRealTime()->Unit(benchmark::kMillisecond);

static void BM_MaxPool(benchmark::State& st) {
  Tensor x = random::normal(Shape{128, 28, 28, 32});
  for (auto _ : st) {
    Tensor y = max_pool2d(x);
    benchmark::DoNotOptimize(y.impl());
  }
}
BENCHMARK(BM_MaxPool)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The gradient of the tf-cnn's first pooling layer (2x2, stride 2) for a batch of 128.
static void BM_MaxPoolGrad(benchmark::State& st) {
  Tensor x = random::normal(Shape{128, 28, 28, 32});
  Tensor y = max_pool2d(x);
  Tensor g = ones_like(y);
  for (auto _ : st) {
    Tensor d = max_pool2d_grad(x, y, g, {});
    benchmark::DoNotOptimize(d.impl());
  }
}
BENCHMARK(BM_MaxPoolGrad)->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
