// The direct few-input-channel convolution (src/kernels/conv_direct.cpp) against float64 convolution, for
// both compiled variants (the AVX2 baseline always; AVX-512 where the CPU has it) and through the public
// ops (which pick the variant at run time), over strides, paddings, kernel shapes, channel counts, output
// channel blocks and batch sizes that exercise every strip and tap-group remainder.
#include <cmath>

#include "kernels/conv_direct.h"
#include "test_util.h"

namespace duet {
namespace {

struct Case {
  std::int64_t n, h, w, c, kh, kw, o, sh, sw;
  bool same;
};

std::string str(const Case& k) {
  return "x (" + std::to_string(k.n) + "," + std::to_string(k.h) + "," + std::to_string(k.w) + "," +
         std::to_string(k.c) + ") w (" + std::to_string(k.kh) + "," + std::to_string(k.kw) + "," + std::to_string(k.c) +
         "," + std::to_string(k.o) + ") strides " + std::to_string(k.sh) + "," + std::to_string(k.sw) +
         (k.same ? " same" : " valid");
}

const std::vector<Case> kCases = {
    {2, 28, 28, 1, 5, 5, 32, 1, 1, true},   // the tf-cnn's first layer (smaller batch)
    {3, 9, 11, 3, 3, 3, 16, 1, 1, true},    // RGB, odd sizes: strips with a remainder of pixels
    {1, 10, 13, 2, 3, 2, 48, 2, 2, false},  // one pair and one single block of output channels
    {2, 7, 17, 7, 2, 3, 64, 2, 1, true},    // 7 channels: 21 taps per filter row (groups + remainder)
    {1, 6, 5, 1, 1, 1, 16, 1, 1, false},    // 1x1
    {2, 12, 12, 4, 5, 5, 32, 3, 3, false},  // stride over part of the kernel
    {1, 5, 4, 1, 5, 4, 16, 1, 1, false},    // the window is the whole image: one output pixel
    {17, 4, 4, 1, 3, 3, 16, 1, 1, true},    // more images than a thread chunk (16)
};

Conv2DGeom geom_of(const Case& k) {
  return Conv2DGeom{k.n,
                    k.h,
                    k.w,
                    k.c,
                    k.kh,
                    k.kw,
                    k.o,
                    k.sh,
                    k.sw,
                    1,
                    1,
                    window_1d(k.h, k.kh, k.sh, 1, k.same),
                    window_1d(k.w, k.kw, k.sw, 1, k.same)};
}

Conv2DOptions opts_of(const Case& k) { return {.strides = {k.sh, k.sw}, .padding = k.same ? "same" : "valid"}; }

void expect_close(const Tensor& got, const Tensor& want64, const std::string& what) {
  auto g = got.to_vector<float>();
  auto w = want64.to_vector<double>();
  ASSERT_EQ(g.size(), w.size()) << what;
  double scale = 1e-30;
  for (double v : w) scale = std::max(scale, std::fabs(v));
  for (std::size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], w[i], 2e-5 * scale + 1e-5) << what << " element " << i;
}

std::vector<bool> variants() {
  std::vector<bool> v{false};
  if (kernels::direct_conv_has_avx512()) v.push_back(true);
  return v;
}

TEST(ConvDirect, ForwardMatchesFloat64OnEveryVariant) {
  for (const Case& k : kCases) {
    const Conv2DGeom g = geom_of(k);
    ASSERT_TRUE(kernels::direct_conv_applies(g)) << str(k);
    Tensor x = random::normal(Shape{k.n, k.h, k.w, k.c}, 0, 1, DType::Float32, 11);
    Tensor w = random::normal(Shape{k.kh, k.kw, k.c, k.o}, 0, 0.3, DType::Float32, 12);
    Tensor b = random::normal(Shape{k.o}, 0, 1, DType::Float32, 13);
    Tensor y64 = conv2d(cast(x, DType::Float64), cast(w, DType::Float64), opts_of(k));
    Tensor want_plain = y64;
    Tensor want_fused = relu(bias_add(y64, cast(b, DType::Float64)));
    for (bool avx512 : variants()) {
      const std::string what = str(k) + (avx512 ? " avx512" : " baseline");
      Tensor y = zeros(y64.shape());
      kernels::direct_conv_forward_isa(avx512, g, x.data<float>(), w.data<float>(), nullptr, false,
                                       y.mutable_data<float>());
      expect_close(y, want_plain, what);
      kernels::direct_conv_forward_isa(avx512, g, x.data<float>(), w.data<float>(), b.data<float>(), true,
                                       y.mutable_data<float>());
      expect_close(y, want_fused, what + " bias relu");
    }
    // The public op (eager and compiled with conv + bias + relu fused) takes this kernel too.
    expect_close(conv2d(x, w, opts_of(k)), want_plain, str(k) + " conv2d");
    auto f = function([&](const Tensor& in) { return relu(bias_add(conv2d(in, w, opts_of(k)), b)); });
    expect_close(f(x), want_fused, str(k) + " compiled");
  }
}

TEST(ConvDirect, FilterGradientMatchesFloat64OnEveryVariant) {
  for (const Case& k : kCases) {
    const Conv2DGeom g = geom_of(k);
    Tensor x = random::normal(Shape{k.n, k.h, k.w, k.c}, 0, 1, DType::Float32, 21);
    Tensor w = zeros({k.kh, k.kw, k.c, k.o});
    Tensor dy = random::normal(Shape{k.n, g.y.out, g.x.out, k.o}, 0, 1, DType::Float32, 22);
    Tensor want =
        conv2d_backprop_filter(cast(x, DType::Float64), cast(dy, DType::Float64), cast(w, DType::Float64), opts_of(k));
    Tensor want_bias = sum(cast(dy, DType::Float64), {0, 1, 2});
    for (bool avx512 : variants()) {
      Tensor dw = full(w.shape(), 7.f);  // the kernel overwrites, it does not accumulate into dw
      kernels::direct_conv_backward_weights_isa(avx512, g, x.data<float>(), dy.data<float>(), dw.mutable_data<float>());
      expect_close(dw, want, str(k) + (avx512 ? " avx512" : " baseline"));
      // With the bias gradient summed in the same pass (Conv2DBackpropFilterBias).
      Tensor dw2 = full(w.shape(), 7.f), db = full(Shape{k.o}, 7.f);
      kernels::direct_conv_backward_weights_isa(avx512, g, x.data<float>(), dy.data<float>(), dw2.mutable_data<float>(),
                                                db.mutable_data<float>());
      expect_close(dw2, want, str(k) + (avx512 ? " avx512" : " baseline") + " with bias");
      expect_close(db, want_bias, str(k) + (avx512 ? " avx512" : " baseline") + " bias");
    }
    expect_close(conv2d_backprop_filter(x, dy, w, opts_of(k)), want, str(k) + " conv2d_backprop_filter");
  }
}

// The threads' partial filter and bias gradients are added in image order, not in the order the threads
// finish: the same bits on every run (64 images: 4 chunks of 16 for 4 threads on 2 cores, which finish in
// varying order).
TEST(ConvDirect, FilterGradientIsTheSameOnEveryRun) {
  const Case k = kCases[1];
  const std::int64_t images = 64;
  Conv2DGeom g = geom_of(k);
  g.n = images;
  Tensor x = random::normal(Shape{images, k.h, k.w, k.c}, 0, 1, DType::Float32, 31);
  Tensor dy = random::normal(Shape{images, g.y.out, g.x.out, k.o}, 0, 1, DType::Float32, 32);
  config::set_num_threads(4);
  std::vector<float> first_dw, first_db;
  for (int run = 0; run < 20; ++run) {
    std::vector<float> dw(static_cast<std::size_t>(k.kh * k.kw * k.c * k.o)), db(static_cast<std::size_t>(k.o));
    kernels::direct_conv_backward_weights(g, x.data<float>(), dy.data<float>(), dw.data(), db.data());
    if (run == 0) {
      first_dw = dw;
      first_db = db;
    }
    ASSERT_EQ(dw, first_dw) << "run " << run;
    ASSERT_EQ(db, first_db) << "run " << run;
  }
  config::set_num_threads(0);
}

TEST(ConvDirect, InputGradientMatchesFloat64OnEveryVariant) {
  int stride_one = 0;
  for (const Case& k : kCases) {
    const Conv2DGeom g = geom_of(k);
    Tensor x = zeros({k.n, k.h, k.w, k.c});
    Tensor w = random::normal(Shape{k.kh, k.kw, k.c, k.o}, 0, 0.3, DType::Float32, 31);
    Tensor dy = random::normal(Shape{k.n, g.y.out, g.x.out, k.o}, 0, 1, DType::Float32, 32);
    Tensor want =
        conv2d_backprop_input(cast(dy, DType::Float64), cast(w, DType::Float64), cast(x, DType::Float64), opts_of(k));
    expect_close(conv2d_backprop_input(dy, w, x, opts_of(k)), want, str(k) + " conv2d_backprop_input");
    if (!kernels::direct_conv_backward_data_applies(g)) {
      EXPECT_TRUE(k.sh > 1 || k.sw > 1) << str(k);  // strides > 1 go to oneDNN
      continue;
    }
    ++stride_one;
    for (bool avx512 : variants()) {
      Tensor dx = full(x.shape(), 7.f);  // every element is written
      kernels::direct_conv_backward_data_isa(avx512, g, dy.data<float>(), w.data<float>(), dx.mutable_data<float>());
      expect_close(dx, want, str(k) + (avx512 ? " avx512" : " baseline"));
    }
  }
  EXPECT_GE(stride_one, 5);
}

// relu after the convolution keeps NaN (as relu() does), eagerly and in the fused compiled op: on the
// direct kernel, on the few-channel fallback (10 outputs: oneDNN, then duet's epilogue) and on oneDNN's
// post-op (8 input channels).
TEST(ConvDirect, FusedReluKeepsNaN) {
  for (auto [c, o] : {std::pair<std::int64_t, std::int64_t>{1, 16}, {1, 10}, {8, 16}}) {
    Tensor x = ones({1, 4, 4, c});
    Tensor w = ones({3, 3, c, o});
    Tensor b = full({o}, NAN);
    auto fn = [&](const Tensor& in) { return relu(bias_add(conv2d(in, w, {.padding = "same"}), b)); };
    auto f = function(fn);
    for (const Tensor& y : {fn(x), f(x)})
      for (float v : y.to_vector<float>()) EXPECT_TRUE(std::isnan(v)) << c << " -> " << o << " channels";
    EXPECT_NE(f.graph_text().find("FusedConv2D"), std::string::npos) << f.graph_text();
  }
}

// Shapes outside the kernel's reach go to oneDNN (and still agree with float64).
TEST(ConvDirect, OtherShapesAreNotTaken) {
  EXPECT_FALSE(kernels::direct_conv_applies(geom_of({1, 8, 8, 1, 3, 3, 10, 1, 1, true})));  // 10 outputs
  EXPECT_FALSE(kernels::direct_conv_applies(geom_of({1, 8, 8, 8, 3, 3, 16, 1, 1, true})));  // 8 inputs
  Conv2DGeom dilated = geom_of({1, 8, 8, 1, 3, 3, 16, 1, 1, true});
  dilated.dh = 2;
  EXPECT_FALSE(kernels::direct_conv_applies(dilated));
}

// The input gradient of stride-1 convolutions with many channels runs as a forward convolution of dy with
// the rotated, channel-swapped filter (src/kernels/conv.cpp): against float64 over odd and even kernels,
// uneven "same" padding, "valid" (full padding of dy), rectangular kernels and images, odd channel counts;
// eagerly and compiled; and the shapes that keep oneDNN's backward-data pass.
TEST(ConvInputGrad, ByForwardConvolutionMatchesFloat64) {
  const std::vector<Case> cases = {
      {2, 14, 14, 32, 5, 5, 64, 1, 1, true},  // the tf-cnn's second layer (smaller batch)
      {1, 9, 11, 32, 4, 4, 32, 1, 1, true},   // even kernel: "same" pads 1 before, 2 after
      {2, 7, 10, 40, 3, 5, 33, 1, 1, false},  // rectangular kernel, "valid": dy padded by kernel - 1
      {3, 5, 6, 48, 2, 3, 36, 1, 1, true},    // 2x3 kernel, uneven padding on one dim only
      {1, 3, 3, 32, 3, 3, 32, 1, 1, false},   // one output pixel
  };
  for (const Case& k : cases) {
    ASSERT_TRUE(kernels::conv_input_grad_as_forward(geom_of(k))) << str(k);
    const Conv2DOptions opts = opts_of(k);
    Tensor x = zeros({k.n, k.h, k.w, k.c});
    Tensor w = random::normal(Shape{k.kh, k.kw, k.c, k.o}, 0, 0.3, DType::Float32, 41);
    const Conv2DGeom g = geom_of(k);
    Tensor dy = random::normal(Shape{k.n, g.y.out, g.x.out, k.o}, 0, 1, DType::Float32, 42);
    auto f64 = [](const Tensor& t) { return cast(t, DType::Float64); };
    auto want = conv2d_backprop_input(f64(dy), f64(w), f64(x), opts).to_vector<double>();
    auto traced = function([&](const Tensor& d, const Tensor& f) { return conv2d_backprop_input(d, f, x, opts); },
                           {.name = "input_grad"});
    for (const auto& [mode, got] :
         {std::pair<std::string, Tensor>{"eager", conv2d_backprop_input(dy, w, x, opts)}, {"traced", traced(dy, w)}}) {
      auto v = got.to_vector<float>();
      ASSERT_EQ(v.size(), want.size()) << str(k);
      double scale = 1e-30;
      for (double e : want) scale = std::max(scale, std::fabs(e));
      for (std::size_t i = 0; i < v.size(); ++i)
        ASSERT_NEAR(v[i], want[i], 2e-5 * scale + 1e-5) << str(k) << " " << mode << " element " << i;
    }
  }
}

TEST(ConvInputGrad, OtherShapesKeepTheBackwardPass) {
  for (const Case& k : {Case{1, 8, 8, 32, 3, 3, 32, 2, 2, true},    // strided
                        Case{1, 8, 8, 16, 3, 3, 32, 1, 1, true},    // few input channels
                        Case{1, 8, 8, 32, 3, 3, 16, 1, 1, true},    // few output channels
                        Case{1, 8, 8, 32, 1, 1, 32, 1, 1, false}})  // 1x1
    EXPECT_FALSE(kernels::conv_input_grad_as_forward(geom_of(k))) << str(k);
}

}  // namespace
}  // namespace duet
