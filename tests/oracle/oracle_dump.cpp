// The TensorFlow oracle, duet's side: every public op on random inputs and on edge values (0, -0, +-inf, NaN,
// huge, denormal, exp's overflow and underflow points), its output and the gradient of sum(output * cotangent)
// for each float input, written as JSON lines for tests/oracle/check_tensorflow.py, which computes the same
// with TensorFlow and compares. Each case runs in float64 and again in float32 on the same inputs rounded to
// float32 (the edge values become float32's own: 3e38 for huge, 1e-40 for a denormal, 89 and -104 for exp).
#include <duet/duet.h>
#include "duet/gradient_ops.h"
#include "json_lines.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace duet;
using oracle::arr;
using oracle::cotangent;

namespace {

constexpr DType kF = DType::Float64;  // "the case's float dtype": float64, or float32 in the float32 run

struct In {
  std::vector<std::int64_t> shape;
  std::vector<double> values;    // empty: random normal
  DType dtype = kF;              // kF inputs are float32 in the float32 run
  bool grad = true;              // differentiate with respect to it (float inputs only)
  std::vector<double> values32;  // the float32 run's values when they differ (edge values)
};

struct Case {
  std::string name;  // the key check_tensorflow.py looks up; "/edges" marks an edge-value case
  std::vector<In> ins;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  bool grad = true;
  bool f32 = true;  // also run in float32 (cases without float inputs run once)
};

// Edge values, float64 and float32: NaN, +-inf, +-0, huge, a denormal, ordinary values, exp's overflow and
// underflow points (exp(710) and exp(-745) leave float64's range, exp(89) and exp(-104) float32's).
const std::vector<double> kEdges = {NAN,    INFINITY, -INFINITY, 0.0, -0.0,  1e300, -1e300,
                                    1e-310, 0.5,      -2.0,      3.0, 710.0, -745.0};
const std::vector<double> kEdges32 = {NAN,   INFINITY, -INFINITY, 0.0, -0.0, 3e38,  -3e38,
                                      1e-40, 0.5,      -2.0,      3.0, 89.0, -104.0};

// Rows for reductions, running sums/products and softmax over the last axis: a NaN, infinities of both signs,
// signed zeros, sums that overflow, denormals, products with one or two zeros, zero times infinity, ties.
std::vector<std::vector<double>> edge_rows(bool f32) {
  const double huge = f32 ? 3e38 : 1e308, tiny = f32 ? 1e-40 : 1e-310, big = f32 ? 89 : 710, low = f32 ? -104 : -745;
  return {{NAN, 1, 2, 3},
          {1, NAN, -INFINITY, 3},
          {INFINITY, 1, 2, 3},
          {INFINITY, -INFINITY, 1, 2},
          {-INFINITY, -INFINITY, 1, 2},
          {0.0, -0.0, -0.0, 0.0},
          {-0.0, -0.0, -0.0, -0.0},
          {huge, huge, -huge, 1},
          {tiny, tiny, 0, 0},
          {0, 2, 3, 4},
          {0, 0, 3, 4},
          {INFINITY, 2, 3, 0},
          {3, 1, 3, 2},
          {big, low, 1, 2},
          {-3, 0.5, -3, 7}};
}

In rows_in() {
  auto flat = [](const std::vector<std::vector<double>>& rows) {
    std::vector<double> v;
    for (const auto& r : rows) v.insert(v.end(), r.begin(), r.end());
    return v;
  };
  auto r64 = edge_rows(false);
  return In{{static_cast<std::int64_t>(r64.size()), 4}, flat(r64), kF, true, flat(edge_rows(true))};
}

// Every pair of edge values, as two flat inputs of 13 * 13 elements (no broadcasting, so each gradient
// element belongs to one pair).
std::vector<In> pairs_in() {
  In a{{169}, {}}, b{{169}, {}};
  for (std::size_t i = 0; i < 13; ++i) {
    for (std::size_t j = 0; j < 13; ++j) {
      a.values.push_back(kEdges[i]);
      b.values.push_back(kEdges[j]);
      a.values32.push_back(kEdges32[i]);
      b.values32.push_back(kEdges32[j]);
    }
  }
  return {a, b};
}

std::vector<Case> cases() {
  using V = std::vector<Tensor>;
  using T = const Tensor&;
  auto F = [](std::vector<std::int64_t> s) { return In{std::move(s)}; };
  auto E = [] { return In{{13}, kEdges, kF, true, kEdges32}; };
  auto P = [](std::vector<std::int64_t> s, double lo) {  // positive values
    std::int64_t n = 1;
    for (auto d : s) n *= d;
    std::vector<double> v;
    for (std::int64_t i = 0; i < n; ++i) v.push_back(lo + 0.37 * static_cast<double>((i * 7) % 11));
    return In{std::move(s), v};
  };
  auto I = [](std::vector<std::int64_t> s, std::vector<double> v, DType d) { return In{std::move(s), v, d, false}; };
  std::vector<Case> c;
  auto unary = [&](const std::string& name, std::function<Tensor(T)> f, In random_in, bool grad = true) {
    c.push_back({name, {random_in}, [f](const V& x) { return f(x[0]); }, grad});
    c.push_back({name + "/edges", {E()}, [f](const V& x) { return f(x[0]); }, grad});
  };
  unary(
      "neg", [](T x) { return neg(x); }, F({3, 4}));
  unary(
      "abs", [](T x) { return abs(x); }, F({3, 4}));
  unary(
      "sign", [](T x) { return sign(x); }, F({3, 4}));
  unary(
      "floor", [](T x) { return floor(x); }, F({3, 4}));
  unary(
      "ceil", [](T x) { return ceil(x); }, F({3, 4}));
  unary(
      "round", [](T x) { return round(x); }, F({3, 4}));
  c.push_back({"round_ties", {In{{6}, {0.5, 1.5, 2.5, -0.5, -1.5, -2.5}}}, [](const V& x) { return round(x[0]); }});
  unary(
      "exp", [](T x) { return exp(x); }, F({3, 4}));
  unary(
      "expm1", [](T x) { return expm1(x); }, F({3, 4}));
  unary(
      "log", [](T x) { return log(x); }, P({3, 4}, 0.1));
  unary(
      "log1p", [](T x) { return log1p(x); }, P({3, 4}, -0.5));
  unary(
      "sqrt", [](T x) { return sqrt(x); }, P({3, 4}, 0.2));
  unary(
      "rsqrt", [](T x) { return rsqrt(x); }, P({3, 4}, 0.2));
  unary(
      "square", [](T x) { return square(x); }, F({3, 4}));
  unary(
      "sin", [](T x) { return sin(x); }, F({3, 4}));
  unary(
      "cos", [](T x) { return cos(x); }, F({3, 4}));
  unary(
      "tan", [](T x) { return tan(x); }, F({3, 4}));
  unary(
      "tanh", [](T x) { return tanh(x); }, F({3, 4}));
  unary(
      "atan", [](T x) { return atan(x); }, F({3, 4}));
  unary(
      "erf", [](T x) { return erf(x); }, F({3, 4}));
  unary(
      "sigmoid", [](T x) { return sigmoid(x); }, F({3, 4}));
  unary(
      "relu", [](T x) { return relu(x); }, F({3, 4}));
  unary(
      "elu", [](T x) { return elu(x, 0.7); }, F({3, 4}));
  unary(
      "gelu", [](T x) { return gelu(x, false); }, F({3, 4}));
  unary(
      "gelu_tanh", [](T x) { return gelu(x, true); }, F({3, 4}));
  unary(
      "softplus", [](T x) { return softplus(x); }, F({3, 4}));
  // relu6 on values from -2.3 to 7.3 (normal ones would never reach 6), and on the edges
  std::vector<double> to_seven;
  for (int i = 0; i < 12; ++i) to_seven.push_back(-2.3 + 0.87 * i);
  c.push_back({"relu6", {In{{3, 4}, to_seven}}, [](const V& x) { return relu6(x[0]); }});
  c.push_back({"relu6/edges", {E()}, [](const V& x) { return relu6(x[0]); }});
  unary(
      "leaky_relu", [](T x) { return leaky_relu(x, 0.3); }, F({3, 4}));
  unary(
      "selu", [](T x) { return selu(x); }, F({3, 4}));
  unary(
      "silu", [](T x) { return silu(x); }, F({3, 4}));
  c.push_back({"silu_beta", {F({3, 4})}, [](const V& x) { return silu(x[0], 1.5); }});
  unary(
      "softsign", [](T x) { return softsign(x); }, F({3, 4}));
  unary(
      "log_sigmoid", [](T x) { return log_sigmoid(x); }, F({3, 4}));
  unary(
      "clip", [](T x) { return clip(x, -0.5, 0.8); }, F({3, 4}));
  unary(
      "identity", [](T x) { return identity(x); }, F({3, 4}));
  unary(
      "check_numerics", [](T x) { return check_numerics(x, "oracle"); }, F({3, 4}));
  unary(
      "stop_gradient", [](T x) { return stop_gradient(x) * x; }, F({3, 4}));
  // float64 -> float32 (rounding, overflow to inf, denormals) and float32 -> float64
  unary(
      "cast_float", [](T x) { return cast(x, x.dtype() == DType::Float64 ? DType::Float32 : DType::Float64); },
      F({3, 4}));
  // The float32 exp, tanh, sigmoid, log and erf have duet's own vectorized kernels: 64 elements reach them.
  c.push_back({"vector_kernels", {F({64})}, [](const V& x) {
                 return stack({exp(x[0]), tanh(x[0]), sigmoid(x[0]), log(abs(x[0]) + 0.05), erf(x[0])});
               }});

  auto binary = [&](const std::string& name, std::function<Tensor(T, T)> f, In a, In b, bool grad = true) {
    c.push_back({name, {a, b}, [f](const V& x) { return f(x[0], x[1]); }, grad});
    c.push_back({name + "/edges", pairs_in(), [f](const V& x) { return f(x[0], x[1]); }, grad});
  };
  binary(
      "add", [](T a, T b) { return add(a, b); }, F({2, 3, 4}), F({3, 1}));
  binary(
      "sub", [](T a, T b) { return sub(a, b); }, F({2, 3, 4}), F({4}));
  binary(
      "mul", [](T a, T b) { return mul(a, b); }, F({3, 4}), F({3, 4}));
  binary(
      "div", [](T a, T b) { return div(a, b); }, F({3, 4}), P({4}, 0.3));
  binary(
      "floordiv", [](T a, T b) { return floor_div(a, b); }, F({3, 4}), P({4}, 0.3));
  // floormod's edges (an infinite divisor, signed zeros) follow fmod in TensorFlow and the formula here:
  // only finite, nonzero divisors are compared.
  c.push_back({"floormod", {F({3, 4}), P({4}, 0.3)}, [](const V& x) { return floor_mod(x[0], x[1]); }});
  binary(
      "pow", [](T a, T b) { return pow(a, b); }, P({3, 4}, 0.2), F({3, 4}));
  binary(
      "maximum", [](T a, T b) { return maximum(a, b); }, F({3, 4}), F({4}));
  binary(
      "minimum", [](T a, T b) { return minimum(a, b); }, F({3, 4}), F({3, 1}));
  auto f64 = [](const Tensor& t) { return cast(t, DType::Float64); };
  binary(
      "equal", [=](T a, T b) { return f64(equal(a, b)); }, F({3, 4}), F({4}), false);
  binary(
      "not_equal", [=](T a, T b) { return f64(not_equal(a, b)); }, F({3, 4}), F({4}), false);
  binary(
      "less", [=](T a, T b) { return f64(less(a, b)); }, F({3, 4}), F({4}), false);
  binary(
      "less_equal", [=](T a, T b) { return f64(less_equal(a, b)); }, F({3, 4}), F({4}), false);
  binary(
      "greater", [=](T a, T b) { return f64(greater(a, b)); }, F({3, 4}), F({4}), false);
  binary(
      "greater_equal", [=](T a, T b) { return f64(greater_equal(a, b)); }, F({3, 4}), F({4}), false);
  // where picks between two edge values by an alternating condition
  binary(
      "where", [](T a, T b) { return where(cast(cotangent(a), DType::Float64) > 0.6, a, b); }, F({3, 4}), F({3, 4}));
  c.push_back(
      {"where_broadcast", {F({3, 4}), F({3, 4}), F({4})}, [](const V& x) { return where(x[0] > 0.0, x[1], x[2]); }});
  c.push_back({"logical", {F({4}), F({4})}, [=](const V& x) {
                 Tensor a = x[0] > 0.0, b = x[1] > 0.0;
                 return f64(logical_and(a, b)) + f64(logical_or(a, b)) * 2.0 + f64(logical_not(a)) * 4.0;
               }});
  // Integers: division truncates; MIN / -1 and overflowing sums and products wrap.
  const DType i32 = DType::Int32;
  c.push_back({"int_div",
               {I({6}, {7, -7, 7, -7, -2147483648.0, 0}, i32), I({6}, {2, 2, -2, -2, -1, 3}, i32)},
               [=](const V& x) { return f64(x[0] / x[1]); }});
  // Python's // and %: every sign combination, and a zero dividend.
  c.push_back({"int_floordiv_floormod",
               {I({6}, {7, -7, 7, -7, 0, 9}, i32), I({6}, {2, 2, -2, -2, 3, -3}, i32)},
               [=](const V& x) {
                 return f64(stack({floor_div(x[0], x[1]), floor_mod(x[0], x[1])}));
               }});
  c.push_back({"int_arith",
               {I({4}, {2147483647, -2147483648.0, -5, 65536}, i32), I({4}, {1, 1, 3, 65536}, i32)},
               [=](const V& x) {
                 return f64(stack({x[0] + x[1], x[0] - x[1], x[0] * x[1], maximum(x[0], x[1]), minimum(x[0], x[1]),
                                   abs(x[0]), neg(x[0]), sign(x[0]), square(x[0])}));
               }});
  c.push_back(
      {"cast_f64_i32", {In{{5}, {1.7, -1.7, 2.5, -2.5, 1e9}}}, [=](const V& x) { return f64(cast(x[0], i32)); }});

  using Axes = std::vector<std::int64_t>;
  auto red = [&](const std::string& name, std::function<Tensor(T, Axes, bool)> f) {
    c.push_back({name + "/all", {F({3, 4, 2})}, [f](const V& x) { return f(x[0], {}, false); }});
    c.push_back({name + "/axis1_keep", {F({3, 4, 2})}, [f](const V& x) { return f(x[0], {1}, true); }});
    c.push_back({name + "/axes02", {F({3, 4, 2})}, [f](const V& x) { return f(x[0], {0, -1}, false); }});
    c.push_back({name + "/axes12_keep", {F({2, 3, 4})}, [f](const V& x) { return f(x[0], {1, 2}, true); }});
    c.push_back({name + "/edges", {rows_in()}, [f](const V& x) { return f(x[0], {-1}, false); }});
  };
  red("sum", [](T x, Axes a, bool k) { return sum(x, a, k); });
  red("mean", [](T x, Axes a, bool k) { return mean(x, a, k); });
  red("max", [](T x, Axes a, bool k) { return max(x, a, k); });
  red("min", [](T x, Axes a, bool k) { return min(x, a, k); });
  red("prod", [](T x, Axes a, bool k) { return prod(x, a, k); });
  // prod over several axes whose slices hold zeros (one and several) and infinities, and over negative axes
  c.push_back(
      {"prod/zeros_infs_axes01", {In{{2, 3, 2}, {0, 2, 3, 0, 1.5, 2, INFINITY, 2, 0, 1, -1, 3}}}, [](const V& x) {
         return prod(x[0], {0, 1});
       }});
  c.push_back({"prod/axes_neg", {F({2, 3, 2, 2})}, [](const V& x) { return prod(x[0], {-1, -3}); }});
  auto cum = [&](const std::string& name, std::function<Tensor(T, std::int64_t, bool, bool)> f) {
    c.push_back({name + "/axis1", {F({3, 4, 2})}, [f](const V& x) { return f(x[0], 1, false, false); }});
    c.push_back({name + "/axis0_exclusive", {F({3, 4, 2})}, [f](const V& x) { return f(x[0], 0, true, false); }});
    c.push_back({name + "/axis_last_reverse", {F({3, 4, 2})}, [f](const V& x) { return f(x[0], -1, false, true); }});
    c.push_back(
        {name + "/axis1_exclusive_reverse", {F({3, 4, 2})}, [f](const V& x) { return f(x[0], 1, true, true); }});
    c.push_back({name + "/edges", {rows_in()}, [f](const V& x) { return f(x[0], 1, false, false); }});
    c.push_back({name + "/edges_exclusive_reverse", {rows_in()}, [f](const V& x) { return f(x[0], 1, true, true); }});
  };
  cum("cumsum", [](T x, std::int64_t a, bool e, bool r) { return cumsum(x, a, e, r); });
  cum("cumprod", [](T x, std::int64_t a, bool e, bool r) { return cumprod(x, a, e, r); });
  c.push_back({"argmax", {F({3, 5})}, [=](const V& x) { return f64(argmax(x[0], 1)); }});
  c.push_back({"argmin", {F({3, 5})}, [=](const V& x) { return f64(argmin(x[0], 0)); }});
  c.push_back({"argmax/edges", {rows_in()}, [=](const V& x) { return f64(argmax(x[0], 1)); }});
  c.push_back({"argmin/edges", {rows_in()}, [=](const V& x) { return f64(argmin(x[0], 1)); }});
  c.push_back({"size", {F({3, 5})}, [=](const V& x) { return f64(size(x[0], {1})); }});

  c.push_back({"reshape", {F({3, 4})}, [](const V& x) { return reshape(x[0], {2, -1, 3}); }});
  c.push_back({"transpose", {F({2, 3, 4})}, [](const V& x) { return transpose(x[0], {2, 0, 1}); }});
  c.push_back({"expand_dims", {F({2, 3})}, [](const V& x) { return expand_dims(x[0], -1); }});
  c.push_back({"squeeze", {F({2, 1, 3, 1})}, [](const V& x) { return squeeze(x[0], {1}); }});
  c.push_back({"concat", {F({2, 3}), F({4, 3})}, [](const V& x) { return concat({x[0], x[1]}, 0); }});
  c.push_back({"stack", {F({2, 3}), F({2, 3})}, [](const V& x) { return stack({x[0], x[1]}, 1); }});
  c.push_back({"split", {F({6, 2})}, [](const V& x) {
                 auto p = split(x[0], 3, 0);
                 return p[0] * 1.0 + p[1] * 2.0 - p[2];
               }});
  c.push_back({"split_sizes", {F({2, 7})}, [](const V& x) {
                 auto p = split(x[0], std::vector<std::int64_t>{2, -1, 1}, 1);
                 return concat({p[2], p[0] * 3.0}, 1) + sum(p[1], {1}, true);
               }});
  c.push_back({"slice", {F({4, 5})}, [](const V& x) { return slice(x[0], {1, 2}, {2, -1}); }});
  c.push_back({"pad", {F({2, 3, 4})}, [](const V& x) { return pad(x[0], {{0, 1}, {2, 0}, {1, 3}}); }});
  c.push_back({"pad_constant", {F({3, 2})}, [](const V& x) { return pad(x[0], {{1, 2}, {0, 1}}, -1.5); }});
  auto ids = [](std::vector<std::int64_t> v) {
    return constant(v, Shape{static_cast<std::int64_t>(v.size())}, DType::Int64);
  };
  c.push_back({"gather", {F({5, 3})}, [=](const V& x) { return gather(x[0], ids({4, 0, 4, 2}), 0); }});
  c.push_back({"gather_axis1", {F({2, 5})}, [=](const V& x) { return gather(x[0], ids({1, 1, 3}), 1); }});
  c.push_back({"one_hot", {I({4}, {0, 2, 1, 3}, DType::Int64)}, [](const V& x) {
                 return one_hot(x[0], 4, 1.0, 0.0, DType::Float64);
               }});
  c.push_back({"broadcast_to", {F({3, 1})}, [](const V& x) { return broadcast_to(x[0], Shape{2, 3, 4}); }});
  // The helpers of duet/gradient_ops.h, each an op of its own.
  c.push_back({"sum_to", {F({2, 3, 4}), F({3, 1})}, [](const V& x) { return sum_to(x[0], x[1]); }});
  c.push_back({"broadcast_like", {F({3, 1}), F({2, 3, 4})}, [](const V& x) { return broadcast_like(x[0], x[1]); }});
  c.push_back({"reshape_like", {F({3, 4}), F({2, 6})}, [](const V& x) { return reshape_like(x[0], x[1]); }});
  c.push_back({"pad_like", {F({2, 3}), F({4, 5})}, [](const V& x) { return pad_like(x[0], x[1], {1, 2}); }});
  c.push_back({"slice_like", {F({4, 5}), F({2, 3})}, [](const V& x) { return slice_like(x[0], x[1], {1, 2}); }});
  c.push_back({"scatter_add_like", {F({4, 3}), F({5, 3})}, [=](const V& x) {
                 return scatter_add_like(x[0], ids({4, 0, 4, 2}), x[1], 0);
               }});
  binary(
      "relu_grad", [](T y, T dy) { return relu_grad(y, dy); }, F({3, 4}), F({3, 4}));
  binary(
      "sigmoid_grad", [](T y, T dy) { return sigmoid_grad(y, dy); }, F({3, 4}), F({3, 4}));
  binary(
      "tanh_grad", [](T y, T dy) { return tanh_grad(y, dy); }, F({3, 4}), F({3, 4}));

  c.push_back({"matmul", {F({3, 4}), F({4, 5})}, [](const V& x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul_tt", {F({4, 3}), F({5, 4})}, [](const V& x) { return matmul(x[0], x[1], true, true); }});
  c.push_back({"matmul_ta", {F({2, 4, 3}), F({2, 4, 5})}, [](const V& x) { return matmul(x[0], x[1], true); }});
  c.push_back(
      {"matmul_batch_broadcast", {F({2, 1, 3, 4}), F({3, 4, 5})}, [](const V& x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul_int",
               {In{{2, 3}, {}, DType::Int64, false}, In{{3, 2}, {}, DType::Int64, false}},
               [=](const V& x) { return f64(matmul(x[0], x[1])); }});

  c.push_back({"conv2d_same", {F({2, 6, 5, 3}), F({3, 3, 3, 4})}, [](const V& x) {
                 return conv2d(x[0], x[1], {.padding = "same"});
               }});
  c.push_back({"conv2d_same_stride2", {F({1, 6, 7, 2}), F({3, 2, 2, 3})}, [](const V& x) {
                 return conv2d(x[0], x[1], {.strides = {2, 2}, .padding = "same"});
               }});
  c.push_back({"conv2d_valid_stride2", {F({1, 7, 7, 2}), F({3, 2, 2, 3})}, [](const V& x) {
                 return conv2d(x[0], x[1], {.strides = {2, 2}, .padding = "valid"});
               }});
  c.push_back({"conv2d_dilated", {F({1, 8, 8, 2}), F({2, 2, 2, 2})}, [](const V& x) {
                 return conv2d(x[0], x[1], {.padding = "valid", .dilation_rate = {2, 2}});
               }});
  c.push_back({"conv2d_transpose_same_stride2", {F({2, 3, 3, 3}), F({3, 3, 4, 3})}, [](const V& x) {
                 return conv2d_transpose(x[0], x[1], {6, 6}, {.strides = {2, 2}, .padding = "same"});
               }});
  c.push_back({"conv2d_transpose_valid_stride2", {F({1, 3, 4, 2}), F({3, 2, 2, 2})}, [](const V& x) {
                 return conv2d_transpose(x[0], x[1], {8, 9}, {.strides = {2, 2}, .padding = "valid"});
               }});
  c.push_back({"max_pool", {F({2, 6, 6, 3})}, [](const V& x) { return max_pool2d(x[0]); }});
  c.push_back({"max_pool_same_3_2", {F({1, 7, 7, 2})}, [](const V& x) {
                 return max_pool2d(x[0], {.pool_size = {3, 3}, .strides = {2, 2}, .padding = "same"});
               }});
  c.push_back({"avg_pool", {F({2, 6, 6, 3})}, [](const V& x) { return avg_pool2d(x[0]); }});
  c.push_back({"avg_pool_same_3_2", {F({1, 7, 7, 2})}, [](const V& x) {
                 return avg_pool2d(x[0], {.pool_size = {3, 3}, .strides = {2, 2}, .padding = "same"});
               }});
  // The gradient ops as forward ops (their own gradients are the second-order ones).
  c.push_back({"max_pool_grad", {F({1, 4, 4, 2}), F({1, 2, 2, 2})}, [](const V& x) {
                 return max_pool2d_grad(x[0], max_pool2d(x[0]), x[1]);
               }});
  c.push_back({"max_pool_grad_grad", {F({1, 4, 4, 2}), F({1, 4, 4, 2})}, [](const V& x) {
                 return max_pool2d_grad_grad(x[0], max_pool2d(x[0]), x[1]);
               }});
  c.push_back(
      {"avg_pool_grad", {F({1, 4, 4, 2}), F({1, 2, 2, 2})}, [](const V& x) { return avg_pool2d_grad(x[1], x[0]); }});
  c.push_back({"conv2d_backprop_input", {F({2, 5, 5, 3}), F({3, 3, 3, 4}), F({2, 5, 5, 4})}, [](const V& x) {
                 return conv2d_backprop_input(x[2], x[1], x[0], {.padding = "same"});
               }});
  c.push_back({"conv2d_backprop_filter", {F({2, 5, 5, 3}), F({3, 3, 3, 4}), F({2, 5, 5, 4})}, [](const V& x) {
                 return conv2d_backprop_filter(x[0], x[2], x[1], {.padding = "same"});
               }});
  c.push_back({"softmax", {F({3, 5})}, [](const V& x) { return softmax(x[0]); }});
  c.push_back({"softmax_axis0", {F({3, 5})}, [](const V& x) { return softmax(x[0], 0); }});
  c.push_back({"log_softmax", {F({3, 5})}, [](const V& x) { return log_softmax(x[0]); }});
  c.push_back({"softmax/edges", {rows_in()}, [](const V& x) { return softmax(x[0]); }});
  c.push_back({"log_softmax/edges", {rows_in()}, [](const V& x) { return log_softmax(x[0]); }});
  c.push_back({"sparse_ce", {I({4}, {1, 0, 3, 2}, DType::Int64), F({4, 5})}, [](const V& x) {
                 return sparse_softmax_cross_entropy_with_logits(x[0], x[1]);
               }});
  c.push_back({"dense_ce", {P({3, 4}, 0.1), F({3, 4})}, [](const V& x) {
                 return softmax_cross_entropy_with_logits(x[0], x[1]);
               }});
  // Label rows that sum to 1 (where TensorFlow's logits gradient softmax(z) - y is the derivative)
  c.push_back({"dense_ce_normalized",
               {In{{3, 4}, {0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.5, 0, 1, 0, 0, 0}}, F({3, 4})},
               [](const V& x) { return softmax_cross_entropy_with_logits(x[0], x[1]); }});
  c.push_back({"bias_add", {F({2, 3, 4}), F({4})}, [](const V& x) { return bias_add(x[0], x[1]); }});
  c.push_back({"fused_batch_norm", {F({4, 3, 5}), F({5}), F({5})}, [](const V& x) {
                 return fused_batch_norm(x[0], x[1], x[2])[0];
               }});
  c.push_back({"fused_batch_norm/statistics", {F({6, 4}), F({4}), F({4})}, [](const V& x) {
                 auto o = fused_batch_norm(x[0], x[1], x[2]);
                 return o[1] * 2.0 + o[2];
               }});
  c.push_back({"fused_batch_norm/variance",
               {F({2, 3, 4}), F({4}), F({4})},
               [](const V& x) { return fused_batch_norm(x[0], x[1], x[2])[2]; },
               false});
  return c;
}

// Runs one case with inputs `ins` and writes its line.
void run(const Case& c, const std::vector<Tensor>& ins, DType fdt) {
  GradientTape tape({.persistent = true});
  std::vector<std::size_t> wrt;
  for (std::size_t i = 0; i < ins.size(); ++i) {
    if (c.grad && c.ins[i].grad && is_floating(ins[i].dtype())) {
      tape.watch(ins[i]);
      wrt.push_back(i);
    }
  }
  Tensor out;
  std::string error;
  try {
    out = c.fn(ins);
  } catch (const Error& e) {
    error = e.what();
  }
  std::cout << "{\"case\":\"" << c.name << "\",\"float\":\"" << dtype_name(fdt) << "\",\"inputs\":[";
  for (std::size_t i = 0; i < ins.size(); ++i) std::cout << (i ? "," : "") << arr(ins[i]);
  std::cout << "]";
  if (!error.empty()) {
    std::cout << ",\"error\":" << oracle::quote(error) << "}\n";
    return;
  }
  std::cout << ",\"output\":" << arr(out);
  if (!wrt.empty() && is_floating(out.dtype())) {
    Tensor ct = cotangent(out);
    std::cout << ",\"cotangent\":" << arr(ct) << ",\"grads\":{";
    Tensor target = sum(out * ct);
    for (std::size_t k = 0; k < wrt.size(); ++k) {
      std::string gerr;
      Tensor g;
      try {
        g = tape.gradient(target, ins[wrt[k]], {.unconnected = UnconnectedGradients::Zero});
      } catch (const Error& e) {
        gerr = e.what();
      }
      std::cout << (k ? "," : "") << "\"" << wrt[k]
                << "\":" << (gerr.empty() ? arr(g) : "{\"error\":" + oracle::quote(gerr) + "}");
    }
    std::cout << "}";
  }
  std::cout << "}\n";
}

}  // namespace

int main() {
  std::mt19937_64 rng(20261130);
  std::normal_distribution<double> norm(0, 1);
  int n = 0;
  for (const Case& c : cases()) {
    // float64 inputs (deterministic: the same every run, so failures reproduce), then the float32 run's
    bool any_float = false;
    std::vector<Tensor> ins64, ins32;
    for (const In& in : c.ins) {
      std::int64_t count = 1;
      for (auto d : in.shape) count *= d;
      std::vector<double> v = in.values;
      for (std::int64_t i = static_cast<std::int64_t>(v.size()); i < count; ++i)
        v.push_back(is_integral(in.dtype) ? std::round(norm(rng) * 3) : norm(rng));
      ins64.push_back(constant(v, Shape(in.shape), in.dtype));
      if (in.dtype == kF) {
        any_float = true;
        ins32.push_back(constant(in.values32.empty() ? v : in.values32, Shape(in.shape), DType::Float32));
      } else {
        ins32.push_back(ins64.back());
      }
    }
    run(c, ins64, DType::Float64);
    ++n;
    if (c.f32 && any_float) {
      run(c, ins32, DType::Float32);
      ++n;
    }
  }
  std::cerr << "oracle_dump: " << n << " cases\n";
  return 0;
}
