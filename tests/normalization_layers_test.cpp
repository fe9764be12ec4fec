// LayerNormalization, UnitNormalization and Rescaling: values against naive references (the moments taken
// element by element over the normalized axes), float64 gradients against central differences, compiled
// (traced and optimized) against eager for outputs and the gradients of inputs and weights, configs that
// rebuild the layer, and errors for bad axes.
#include <algorithm>
#include <cmath>
#include <map>

#include "test_util.h"

namespace duet {
namespace {

using testing::Arr;
using testing::check_gradients;
using testing::expect_close;
using testing::expect_error;
using testing::to_arr;

// The groups of elements normalized together: elements that agree on every axis outside `axes`.
std::vector<std::vector<std::int64_t>> groups(const std::vector<std::int64_t>& shape, const std::vector<int>& axes) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  std::map<std::vector<std::int64_t>, std::vector<std::int64_t>> g;
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::int64_t> key;
    std::int64_t rest = i;
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      const std::int64_t coord = rest % shape[d];
      rest /= shape[d];
      if (std::find(axes.begin(), axes.end(), d) == axes.end()) key.push_back(coord);
    }
    g[key].push_back(i);
  }
  std::vector<std::vector<std::int64_t>> out;
  for (auto& [k, v] : g) out.push_back(v);
  return out;
}

Arr layer_norm_ref(const Arr& x, const std::vector<int>& axes, double eps, bool rms) {
  Arr y{x.shape, std::vector<double>(x.v.size())};
  for (const auto& idx : groups(x.shape, axes)) {
    double m = 0, v = 0;
    for (auto i : idx) m += x.v[i];
    m /= static_cast<double>(idx.size());
    for (auto i : idx) v += (x.v[i] - m) * (x.v[i] - m);
    v /= static_cast<double>(idx.size());
    // rms_scaling as Keras 3.15 computes it: x itself (not centered) over the standard deviation
    for (auto i : idx) y.v[i] = (rms ? x.v[i] : x.v[i] - m) / std::sqrt(v + eps);
  }
  return y;
}

// Channels (last axis) in `groups` groups: each group normalized over its channels and all non-batch axes.
Arr group_norm_ref(const Arr& x, std::int64_t groups, double eps) {
  const std::int64_t c = x.shape.back(), per = c / groups, batch = x.shape[0];
  const std::int64_t n = x.size() / batch;  // elements per example
  Arr y{x.shape, std::vector<double>(x.v.size())};
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t g = 0; g < groups; ++g) {
      std::vector<std::int64_t> idx;
      for (std::int64_t i = 0; i < n; ++i)
        if ((i % c) / per == g) idx.push_back(b * n + i);
      double m = 0, v = 0;
      for (auto i : idx) m += x.v[i];
      m /= static_cast<double>(idx.size());
      for (auto i : idx) v += (x.v[i] - m) * (x.v[i] - m);
      v /= static_cast<double>(idx.size());
      for (auto i : idx) y.v[i] = (x.v[i] - m) / std::sqrt(v + eps);
    }
  }
  return y;
}

Arr unit_norm_ref(const Arr& x, const std::vector<int>& axes) {
  Arr y{x.shape, std::vector<double>(x.v.size())};
  for (const auto& idx : groups(x.shape, axes)) {
    double ss = 0;
    for (auto i : idx) ss += x.v[i] * x.v[i];
    for (auto i : idx) y.v[i] = x.v[i] / std::sqrt(std::max(ss, 1e-12));
  }
  return y;
}

struct Case {
  std::string what;
  std::function<LayerRef()> make;
  Shape shape;
  std::function<Arr(const Arr&)> ref;  // with the initial weights (gamma ones, beta zeros)
};

std::vector<Case> cases() {
  using namespace layers;
  return {
      {"LayerNormalization",
       [] { return LayerRef(LayerNormalization()); },
       {3, 5},
       [](const Arr& x) { return layer_norm_ref(x, {1}, 1e-3, false); }},
      {"LayerNormalization axes 1,2",
       [] {
         return LayerRef(LayerNormalization({.axis = {-2, 1}, .epsilon = 1e-5}));
       },
       {2, 3, 4, 2},
       [](const Arr& x) {
         return layer_norm_ref(x, {1, 2}, 1e-5, false);
       }},
      {"LayerNormalization rms",
       [] { return LayerRef(LayerNormalization({.rms_scaling = true})); },
       {3, 4},
       [](const Arr& x) { return layer_norm_ref(x, {1}, 1e-3, true); }},
      {"LayerNormalization bare",
       [] { return LayerRef(LayerNormalization({.center = false, .scale = false})); },
       {2, 2, 6},
       [](const Arr& x) { return layer_norm_ref(x, {2}, 1e-3, false); }},
      {"GroupNormalization",
       [] { return LayerRef(GroupNormalization({.groups = 2})); },
       {2, 3, 4},
       [](const Arr& x) { return group_norm_ref(x, 2, 1e-3); }},
      {"GroupNormalization instance",
       [] { return LayerRef(GroupNormalization({.groups = -1})); },
       {2, 3, 2, 3},
       [](const Arr& x) { return group_norm_ref(x, 3, 1e-3); }},
      {"UnitNormalization",
       [] { return LayerRef(UnitNormalization()); },
       {3, 5},
       [](const Arr& x) { return unit_norm_ref(x, {1}); }},
      {"UnitNormalization axes 1,2",
       [] {
         return LayerRef(UnitNormalization({.axis = {1, 2}}));
       },
       {2, 3, 4},
       [](const Arr& x) {
         return unit_norm_ref(x, {1, 2});
       }},
      {"Rescaling",
       [] { return LayerRef(Rescaling(1.0 / 255, {.offset = -0.5})); },
       {2, 3},
       [](const Arr& x) { return testing::ref_unary(x, [](double v) { return v / 255 - 0.5; }); }},
  };
}

TEST(NormalizationLayers, ValuesGradientsAndCompiledEqualEager) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.what);
    LayerRef layer = c.make();
    Tensor x64 = random::normal(c.shape, 0.3, 2, DType::Float64, 5);
    expect_close(to_arr(layer(x64)), c.ref(to_arr(x64)), 1e-6, 1e-6, c.what + " value");
    check_gradients([&](const std::vector<Tensor>& in) { return Tensor(layer(in)); }, {x64}, {true}, 1e-5, c.what);
    Tensor x32 = random::normal(c.shape, 0.3, 2, DType::Float32, 6);
    auto step = [&](const Tensor& x) {
      GradientTape tape;
      tape.watch(x);
      Tensor y = layer(x, true);
      std::vector<Source> src{x};
      for (const Variable& w : layer->trainable_weights()) src.emplace_back(w);
      std::vector<Tensor> out{y};
      // weighted, so the gradient is not the zero that normalization gives a plain sum
      for (Tensor& g : tape.gradient(sum(y * y * y), src)) out.push_back(g);
      return out;
    };
    auto eager = step(x32);
    auto got = function(step, {.name = "norm", .check_eager = true})(x32);
    ASSERT_EQ(got.size(), eager.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      expect_close(to_arr(got[i]), to_arr(eager[i]), 1e-4, 1e-5, c.what + " compiled part " + std::to_string(i));
    // The config rebuilds the same layer.
    LayerConfig conf = *layer->get_config();
    LayerRef again = layer_from_config(layer->type(), conf);
    expect_close(to_arr(again(x32)), to_arr(layer(x32)), 0, 0, c.what + " from its config");
  }
}

TEST(NormalizationLayers, WeightsShapesAndErrors) {
  auto ln = layers::LayerNormalization({.axis = {1, 2}});
  (void)ln(ones({2, 3, 4, 5}));
  ASSERT_EQ(ln->trainable_weights().size(), 2u);
  EXPECT_EQ(ln->trainable_weights()[0].shape(), (Shape{3, 4}));  // gamma spans the normalized axes, as Keras's
  EXPECT_TRUE(layers::LayerNormalization({.rms_scaling = true})->trainable_weights().empty());  // before build
  auto rms = layers::LayerNormalization({.rms_scaling = true});
  (void)rms(ones({2, 3}));
  EXPECT_EQ(rms->trainable_weights().size(), 1u);  // gamma only
  // Rescaling takes uint8-like integer images as floats.
  expect_close(to_arr(layers::Rescaling(0.5)(constant({2, 4}))), Arr{{2}, {1, 2}}, 0, 0, "ints");
  expect_error<ShapeError>(
      [] {
        (void)layers::LayerNormalization({.axis = {0}})(ones({2, 3}));
      },
      {"[layer_normalization", "axis 0", "(2, 3)", "batch axis"});
  expect_error<ShapeError>([] { (void)layers::UnitNormalization({.axis = {3}})(ones({2, 3})); }, {"axis 3"});
  expect_error<ValueError>([] { (void)layers::LayerNormalization({.epsilon = 0}); }, {"epsilon must be > 0"});
  expect_error<ValueError>(
      [] {
        (void)layers::GroupNormalization({.groups = 4})(ones({2, 6}));
      },
      {"6 channels cannot be split into 4", "(2, 6)"});
  expect_error<ValueError>(
      [] {
        (void)layers::GroupNormalization({.groups = 2, .axis = 1})(ones({2, 4, 6}));
      },
      {"last axis", "axis 1"});
  expect_error<ValueError>(
      [] {
        (void)layers::LayerNormalization({.axis = {1, -1}})(ones({2, 3}));
      },
      {"axis names an axis twice"});
}

}  // namespace
}  // namespace duet
