// The op table (docs/architecture.md, "The op contract"): one row per op. Each row is checked eagerly against a
// naive reference (float32 and float64) and its gradient against float64 central differences. A coverage test
// fails when a registered op is exercised by no row.
#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <set>
#include <sstream>

#include "op_table.h"
#include "ops/op_def.h"

namespace duet::testing {
namespace {

Arr un(const Arr& a, double (*f)(double)) { return ref_unary(a, f); }

Arr ref_permute(const Arr& a, const std::vector<std::int64_t>& perm) {
  std::vector<std::int64_t> os;
  for (auto p : perm) os.push_back(a.shape[static_cast<std::size_t>(p)]);
  Arr r{os, std::vector<double>(a.v.size())};
  auto as = strides_of(a.shape), ost = strides_of(os);
  for (std::int64_t i = 0; i < r.size(); ++i) {
    std::int64_t off = 0;
    for (std::size_t d = 0; d < os.size(); ++d) off += ((i / ost[d]) % os[d]) * as[static_cast<std::size_t>(perm[d])];
    r.v[static_cast<std::size_t>(i)] = a.v[static_cast<std::size_t>(off)];
  }
  return r;
}

Arr ref_slice(const Arr& a, const std::vector<std::int64_t>& begin, const std::vector<std::int64_t>& size) {
  std::vector<std::int64_t> os;
  for (std::size_t d = 0; d < a.shape.size(); ++d) os.push_back(size[d] < 0 ? a.shape[d] - begin[d] : size[d]);
  Arr r{os, std::vector<double>(static_cast<std::size_t>(numel(os)))};
  auto as = strides_of(a.shape), ost = strides_of(os);
  for (std::int64_t i = 0; i < r.size(); ++i) {
    std::int64_t off = 0;
    for (std::size_t d = 0; d < os.size(); ++d) off += ((i / ost[d]) % os[d] + begin[d]) * as[d];
    r.v[static_cast<std::size_t>(i)] = a.v[static_cast<std::size_t>(off)];
  }
  return r;
}

// a with pads[d] = (before, after) elements of v around each dim.
Arr ref_pad(const Arr& a, const std::vector<std::pair<std::int64_t, std::int64_t>>& pads, double v) {
  std::vector<std::int64_t> os;
  for (std::size_t d = 0; d < a.shape.size(); ++d) os.push_back(a.shape[d] + pads[d].first + pads[d].second);
  Arr r{os, std::vector<double>(static_cast<std::size_t>(numel(os)), v)};
  auto as = strides_of(a.shape), ost = strides_of(os);
  for (std::int64_t i = 0; i < a.size(); ++i) {
    std::int64_t off = 0;
    for (std::size_t d = 0; d < os.size(); ++d) off += ((i / as[d]) % a.shape[d] + pads[d].first) * ost[d];
    r.v[static_cast<std::size_t>(off)] = a.v[static_cast<std::size_t>(i)];
  }
  return r;
}

Arr ref_concat(const std::vector<Arr>& xs, std::int64_t axis) {
  std::vector<std::int64_t> os = xs[0].shape;
  os[static_cast<std::size_t>(axis)] = 0;
  for (auto& x : xs) os[static_cast<std::size_t>(axis)] += x.shape[static_cast<std::size_t>(axis)];
  Arr r{os, {}};
  std::int64_t outer = 1;
  for (std::int64_t d = 0; d < axis; ++d) outer *= os[static_cast<std::size_t>(d)];
  for (std::int64_t o = 0; o < outer; ++o)
    for (auto& x : xs) {
      std::int64_t chunk = x.size() / outer;
      r.v.insert(r.v.end(), x.v.begin() + o * chunk, x.v.begin() + (o + 1) * chunk);
    }
  return r;
}

Arr ref_gather(const Arr& p, const Arr& idx, std::int64_t axis) {
  std::int64_t outer = 1, inner = 1, n = p.shape[static_cast<std::size_t>(axis)];
  for (std::int64_t d = 0; d < axis; ++d) outer *= p.shape[static_cast<std::size_t>(d)];
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < p.shape.size(); ++d) inner *= p.shape[d];
  std::vector<std::int64_t> os(p.shape.begin(), p.shape.begin() + axis);
  os.insert(os.end(), idx.shape.begin(), idx.shape.end());
  os.insert(os.end(), p.shape.begin() + axis + 1, p.shape.end());
  Arr r{os, {}};
  for (std::int64_t o = 0; o < outer; ++o)
    for (double j : idx.v)
      for (std::int64_t i = 0; i < inner; ++i)
        r.v.push_back(p.v[static_cast<std::size_t>((o * n + static_cast<std::int64_t>(j)) * inner + i)]);
  return r;
}

double sigmoid_ref(double x) { return 1 / (1 + std::exp(-x)); }
double relu_ref(double x) { return x > 0 ? x : 0; }
double sign_ref(double x) { return (x > 0) - (x < 0); }

std::vector<Row> elementwise_and_shape_rows() {
  using V = std::vector<Tensor>;
  using A = std::vector<Arr>;
  auto bin = [](double (*f)(double, double)) { return [f](const A& a) { return ref_binary(a[0], a[1], f); }; };
  std::vector<Row> r;
  // elementwise, binary (with broadcasting)
  r.push_back({"add", {F({2, 3}), F({3})}, [](const V& x) { return x[0] + x[1]; }, bin([](double a, double b) {
                 return a + b;
               })});
  r.push_back({"sub", {F({2, 1}), F({1, 3})}, [](const V& x) { return x[0] - x[1]; }, bin([](double a, double b) {
                 return a - b;
               })});
  r.push_back({"mul", {F({2, 3}), F({2, 3})}, [](const V& x) { return x[0] * x[1]; }, bin([](double a, double b) {
                 return a * b;
               })});
  r.push_back({"div", {F({2, 3}), F({3}, 0.5, 2)}, [](const V& x) { return x[0] / x[1]; }, bin([](double a, double b) {
                 return a / b;
               })});
  r.push_back({"pow",
               {F({2, 3}, 0.5, 2), F({2, 3}, -1, 2)},
               [](const V& x) { return pow(x[0], x[1]); },
               bin([](double a, double b) { return std::pow(a, b); })});
  r.push_back(
      {"maximum", {F({3, 4}), F({4})}, [](const V& x) { return maximum(x[0], x[1]); }, bin([](double a, double b) {
         return std::max(a, b);
       })});
  r.push_back(
      {"minimum", {F({3, 4}), F({3, 1})}, [](const V& x) { return minimum(x[0], x[1]); }, bin([](double a, double b) {
         return std::min(a, b);
       })});
  auto cmp_ins = std::vector<In>{I({4}, {1, 2, 3, 4}, DType::Int32), I({4}, {2, 2, 2, 2}, DType::Int32)};
  r.push_back({"equal", cmp_ins, [](const V& x) { return x[0] == x[1]; },
               bin([](double a, double b) { return double(a == b); }), false});
  r.push_back({"not_equal", cmp_ins, [](const V& x) { return x[0] != x[1]; },
               bin([](double a, double b) { return double(a != b); }), false});
  r.push_back({"less", cmp_ins, [](const V& x) { return x[0] < x[1]; },
               bin([](double a, double b) { return double(a < b); }), false});
  r.push_back({"less_equal", cmp_ins, [](const V& x) { return x[0] <= x[1]; },
               bin([](double a, double b) { return double(a <= b); }), false});
  r.push_back({"greater",
               {F({2, 3}), F({3})},
               [](const V& x) { return x[0] > x[1]; },
               bin([](double a, double b) { return double(a > b); }),
               false});
  r.push_back({"greater_equal", cmp_ins, [](const V& x) { return x[0] >= x[1]; },
               bin([](double a, double b) { return double(a >= b); }), false});
  auto bool_ins = std::vector<In>{B({4}, {0, 0, 1, 1}), B({4}, {0, 1, 0, 1})};
  r.push_back({"logical_and", bool_ins, [](const V& x) { return x[0] & x[1]; },
               bin([](double a, double b) { return double(a && b); }), false});
  r.push_back({"logical_or", bool_ins, [](const V& x) { return x[0] | x[1]; },
               bin([](double a, double b) { return double(a || b); }), false});
  r.push_back({"logical_not",
               {B({3}, {0, 1, 0})},
               [](const V& x) { return !x[0]; },
               [](const A& a) { return ref_unary(a[0], [](double v) { return double(!v); }); },
               false});
  r.push_back(
      {"where",
       {B({3, 1}, {1, 0, 1}), F({3, 2}), F({2})},
       [](const V& x) { return where(x[0], x[1], x[2]); },
       [](const A& a) { return ref_broadcast(a, [](const std::vector<double>& v) { return v[0] ? v[1] : v[2]; }); }});
  // elementwise, unary
  r.push_back({"neg",
               {F({2, 3})},
               [](const V& x) { return -x[0]; },
               [](const A& a) { return ref_unary(a[0], [](double v) { return -v; }); }});
  r.push_back(
      {"abs", {F({2, 3})}, [](const V& x) { return abs(x[0]); }, [](const A& a) { return un(a[0], std::fabs); }});
  r.push_back(
      {"sign", {F({2, 3})}, [](const V& x) { return sign(x[0]); }, [](const A& a) { return un(a[0], sign_ref); }});
  r.push_back({"floor",
               {F({2, 3}, -3, 3)},
               [](const V& x) { return floor(x[0]); },
               [](const A& a) { return un(a[0], std::floor); }});
  r.push_back({"ceil",
               {F({2, 3}, -3, 3)},
               [](const V& x) { return ceil(x[0]); },
               [](const A& a) { return un(a[0], std::ceil); }});
  // Half to even (ties: the oracle's round_ties case and numerics_test).
  r.push_back({"round",
               {F({2, 3}, -3, 3)},
               [](const V& x) { return round(x[0]); },
               [](const A& a) { return un(a[0], std::nearbyint); }});
  r.push_back({"floordiv",
               {F({2, 3}, -3, 3), F({3}, 0.5, 2)},
               [](const V& x) { return floor_div(x[0], x[1]); },
               bin([](double a, double b) { return std::floor(a / b); })});
  r.push_back({"floormod",
               {F({2, 3}, -3, 3), F({3}, 0.5, 2)},
               [](const V& x) { return floor_mod(x[0], x[1]); },
               bin([](double a, double b) { return a - std::floor(a / b) * b; })});
  // Integers, every sign combination: 7 // -2 == -4 and 7 % -2 == -1, as in Python.
  auto div_ins = std::vector<In>{I({4}, {7, -7, 7, -7}, DType::Int32), I({4}, {2, 2, -2, -2}, DType::Int32)};
  r.push_back({"floordiv_int", div_ins, [](const V& x) { return floor_div(x[0], x[1]); },
               bin([](double a, double b) { return std::floor(a / b); }), false});
  r.push_back({"floormod_int", div_ins, [](const V& x) { return floor_mod(x[0], x[1]); },
               bin([](double a, double b) { return a - std::floor(a / b) * b; }), false});
  r.push_back(
      {"exp", {F({2, 3})}, [](const V& x) { return exp(x[0]); }, [](const A& a) { return un(a[0], std::exp); }});
  r.push_back({"expm1",
               {F({2, 3}, -1, 1)},
               [](const V& x) { return expm1(x[0]); },
               [](const A& a) { return un(a[0], std::expm1); }});
  r.push_back({"atan",
               {F({2, 3}, -4, 4)},
               [](const V& x) { return atan(x[0]); },
               [](const A& a) { return un(a[0], std::atan); }});
  r.push_back({"log",
               {F({2, 3}, 0.1, 3)},
               [](const V& x) { return log(x[0]); },
               [](const A& a) { return un(a[0], std::log); }});
  r.push_back({"log1p",
               {F({2, 3}, -0.5, 3)},
               [](const V& x) { return log1p(x[0]); },
               [](const A& a) { return un(a[0], std::log1p); }});
  r.push_back({"sqrt",
               {F({2, 3}, 0.1, 3)},
               [](const V& x) { return sqrt(x[0]); },
               [](const A& a) { return un(a[0], std::sqrt); }});
  r.push_back({"rsqrt",
               {F({2, 3}, 0.1, 3)},
               [](const V& x) { return rsqrt(x[0]); },
               [](const A& a) { return ref_unary(a[0], [](double v) { return 1 / std::sqrt(v); }); }});
  r.push_back({"square",
               {F({2, 3})},
               [](const V& x) { return square(x[0]); },
               [](const A& a) { return ref_unary(a[0], [](double v) { return v * v; }); }});
  r.push_back(
      {"sin", {F({2, 3})}, [](const V& x) { return sin(x[0]); }, [](const A& a) { return un(a[0], std::sin); }});
  r.push_back(
      {"cos", {F({2, 3})}, [](const V& x) { return cos(x[0]); }, [](const A& a) { return un(a[0], std::cos); }});
  r.push_back(
      {"tan", {F({2, 3}, -1, 1)}, [](const V& x) { return tan(x[0]); }, [](const A& a) { return un(a[0], std::tan); }});
  r.push_back(
      {"tanh", {F({2, 17})}, [](const V& x) { return tanh(x[0]); }, [](const A& a) { return un(a[0], std::tanh); }});
  r.push_back(
      {"erf", {F({2, 3})}, [](const V& x) { return erf(x[0]); }, [](const A& a) { return un(a[0], std::erf); }});
  r.push_back({"sigmoid",
               {F({2, 3}, -6, 6)},
               [](const V& x) { return sigmoid(x[0]); },
               [](const A& a) { return un(a[0], sigmoid_ref); }});
  r.push_back(
      {"relu", {F({2, 3})}, [](const V& x) { return relu(x[0]); }, [](const A& a) { return un(a[0], relu_ref); }});
  r.push_back({"relu_grad",
               {F({2, 3}), F({3})},
               [](const V& x) { return relu_grad(x[0], x[1]); },
               [](const A& a) { return ref_binary(a[0], a[1], [](double y, double g) { return y > 0 ? g : 0.0; }); }});
  // y in (0, 1) as a sigmoid's output would be; dy broadcast along rows.
  r.push_back({"sigmoid_grad",
               {F({2, 3}, 0.05, 0.95), F({3})},
               [](const V& x) { return sigmoid_grad(x[0], x[1]); },
               [](const A& a) { return ref_binary(a[0], a[1], [](double y, double g) { return g * y * (1 - y); }); }});
  r.push_back({"tanh_grad",
               {F({3}, -0.9, 0.9), F({2, 3})},
               [](const V& x) { return tanh_grad(x[0], x[1]); },
               [](const A& a) { return ref_binary(a[0], a[1], [](double y, double g) { return g * (1 - y * y); }); }});
  r.push_back(
      {"elu",
       {F({2, 3})},
       [](const V& x) { return elu(x[0], 0.7); },
       [](const A& a) { return ref_unary(a[0], [](double v) { return v > 0 ? v : 0.7 * (std::exp(v) - 1); }); }});
  r.push_back({"gelu",
               {F({2, 3})},
               [](const V& x) { return gelu(x[0]); },
               [](const A& a) {
                 return ref_unary(a[0], [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); });
               }});
  r.push_back({"gelu_tanh",
               {F({2, 3})},
               [](const V& x) { return gelu(x[0], true); },
               [](const A& a) {
                 return ref_unary(a[0], [](double v) {
                   return 0.5 * v * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (v + 0.044715 * v * v * v)));
                 });
               }});
  r.push_back({"softplus",
               {F({2, 3}, -30, 30)},
               [](const V& x) { return softplus(x[0]); },
               [](const A& a) {
                 return ref_unary(a[0],
                                  [](double v) { return std::log1p(std::exp(-std::fabs(v))) + std::max(v, 0.0); });
               }});
  // Points away from the kinks (0 and 6), where a central difference would straddle them.
  r.push_back({"relu6",
               {F({2, 5}, -3, 9)},
               [](const V& x) { return relu6(x[0]); },
               [](const A& a) { return ref_unary(a[0], [](double v) { return std::clamp(v, 0.0, 6.0); }); }});
  r.push_back({"leaky_relu",
               {F({2, 5})},
               [](const V& x) { return leaky_relu(x[0], 0.3); },
               [](const A& a) { return ref_unary(a[0], [](double v) { return v > 0 ? v : 0.3 * v; }); }});
  r.push_back({"selu",
               {F({2, 5})},
               [](const V& x) { return selu(x[0]); },
               [](const A& a) {
                 return ref_unary(a[0], [](double v) {
                   return 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * (std::exp(v) - 1));
                 });
               }});
  r.push_back({"silu",
               {F({2, 5}, -6, 6)},
               [](const V& x) { return silu(x[0], 1.5); },
               [](const A& a) { return ref_unary(a[0], [](double v) { return v / (1 + std::exp(-1.5 * v)); }); }});
  r.push_back({"softsign",
               {F({2, 5})},
               [](const V& x) { return softsign(x[0]); },
               [](const A& a) { return ref_unary(a[0], [](double v) { return v / (1 + std::fabs(v)); }); }});
  r.push_back({"log_sigmoid",
               {F({2, 5}, -30, 30)},
               [](const V& x) { return log_sigmoid(x[0]); },
               [](const A& a) {
                 return ref_unary(a[0],
                                  [](double v) { return std::min(v, 0.0) - std::log1p(std::exp(-std::fabs(v))); });
               }});
  r.push_back({"clip",
               {F({2, 5})},
               [](const V& x) { return clip(x[0], -0.5, 1.0); },
               [](const A& a) { return ref_unary(a[0], [](double v) { return std::clamp(v, -0.5, 1.0); }); }});
  r.push_back({"cast",
               {F({2, 3})},
               [](const V& x) { return cast(cast(x[0], DType::Float64), x[0].dtype()); },
               [](const A& a) { return a[0]; }});
  r.push_back({"cast_to_int",
               {F({5}, -3, 3)},
               [](const V& x) { return cast(x[0], DType::Int32); },
               [](const A& a) { return ref_unary(a[0], [](double v) { return std::trunc(v); }); },
               false});
  r.push_back({"identity", {F({2, 3})}, [](const V& x) { return identity(x[0]); }, [](const A& a) { return a[0]; }});
  r.push_back({"check_numerics",
               {F({2, 3})},
               [](const V& x) { return check_numerics(x[0], "row"); },
               [](const A& a) { return a[0]; }});
  r.push_back({"stop_gradient",
               {F({2, 3})},
               [](const V& x) { return stop_gradient(x[0]); },
               [](const A& a) { return a[0]; },
               false});
  // reductions
  auto plus = [](double a, double b) { return a + b; };
  r.push_back({"sum_all",
               {F({3, 4})},
               [](const V& x) { return sum(x[0]); },
               [=](const A& a) { return ref_reduce(a[0], {}, false, 0, plus); }});
  r.push_back({"sum_axis",
               {F({2, 3, 4})},
               [](const V& x) {
                 return sum(x[0], {-1, 0});
               },
               [=](const A& a) {
                 return ref_reduce(a[0], {-1, 0}, false, 0, plus);
               }});
  r.push_back({"sum_middle_keepdims",
               {F({2, 3, 4})},
               [](const V& x) { return sum(x[0], {1}, true); },
               [=](const A& a) { return ref_reduce(a[0], {1}, true, 0, plus); }});
  r.push_back({"mean",
               {F({3, 4})},
               [](const V& x) { return mean(x[0], {0}); },
               [=](const A& a) {
                 Arr s = ref_reduce(a[0], {0}, false, 0, plus);
                 for (auto& v : s.v) v /= 3;
                 return s;
               }});
  r.push_back({"max",
               {F({3, 4})},
               [](const V& x) { return max(x[0], {1}); },
               [](const A& a) {
                 return ref_reduce(a[0], {1}, false, -INFINITY, [](double p, double q) { return std::max(p, q); });
               }});
  r.push_back({"min",
               {F({3, 4})},
               [](const V& x) { return min(x[0], {0}, true); },
               [](const A& a) {
                 return ref_reduce(a[0], {0}, true, INFINITY, [](double p, double q) { return std::min(p, q); });
               }});
  r.push_back({"prod",
               {F({3, 4}, 0.5, 1.5)},
               [](const V& x) { return prod(x[0], {1}); },
               [](const A& a) { return ref_reduce(a[0], {1}, false, 1, [](double p, double q) { return p * q; }); }});
  r.push_back({"prod_with_zeros",
               {I({2, 3}, {0, 2, 3, 0, 0, 5}, DType::Float32)},
               [](const V& x) { return prod(x[0], {1}); },
               [](const A& a) { return ref_reduce(a[0], {1}, false, 1, [](double p, double q) { return p * q; }); }});
  r.push_back({"prod_two_axes",
               {F({2, 3, 4}, 0.5, 1.5)},
               [](const V& x) {
                 return prod(x[0], {0, 2}, true);
               },
               [](const A& a) {
                 return ref_reduce(a[0], {0, 2}, true, 1, [](double p, double q) { return p * q; });
               }});
  // Running sums and products: a naive scan of each line (axis of a (2, 3, 4) input, in either direction).
  auto ref_scan = [](const Arr& a, int axis, bool exclusive, bool reverse, bool product) {
    Arr o = a;
    const auto st = strides_of(a.shape);
    const std::int64_t n = a.shape[static_cast<std::size_t>(axis)], stride = st[static_cast<std::size_t>(axis)];
    for (std::int64_t i = 0; i < a.size(); ++i) {
      const std::int64_t pos = i / stride % n;
      double acc = product ? 1 : 0;
      for (std::int64_t j = 0; j < n; ++j) {
        const bool in = reverse ? (exclusive ? j > pos : j >= pos) : (exclusive ? j < pos : j <= pos);
        const double v = a.v[static_cast<std::size_t>(i + (j - pos) * stride)];
        if (in) acc = product ? acc * v : acc + v;
      }
      o.v[static_cast<std::size_t>(i)] = acc;
    }
    return o;
  };
  r.push_back({"cumsum",
               {F({2, 3, 4})},
               [](const V& x) { return cumsum(x[0], 1); },
               [=](const A& a) { return ref_scan(a[0], 1, false, false, false); }});
  r.push_back({"cumsum_exclusive_reverse_last_axis",
               {F({2, 3, 4})},
               [](const V& x) { return cumsum(x[0], -1, true, true); },
               [=](const A& a) { return ref_scan(a[0], 2, true, true, false); }});
  r.push_back({"cumprod",
               {F({2, 3, 4}, 0.5, 1.5)},
               [](const V& x) { return cumprod(x[0], 2); },
               [=](const A& a) { return ref_scan(a[0], 2, false, false, true); }});
  r.push_back({"cumprod_exclusive_reverse_first_axis",
               {F({2, 3, 4}, -1.5, -0.5)},
               [](const V& x) { return cumprod(x[0], 0, true, true); },
               [=](const A& a) { return ref_scan(a[0], 0, true, true, true); }});
  r.push_back({"cumsum_int",
               {I({2, 3}, {1, -2, 3, 4, 5, -6}, DType::Int32)},
               [](const V& x) { return cumsum(x[0], 1, false, true); },
               [=](const A& a) { return ref_scan(a[0], 1, false, true, false); },
               false});
  r.push_back({"argmax",
               {F({3, 4})},
               [](const V& x) { return argmax(x[0], 1); },
               [](const A& a) {
                 Arr o{{3}, {}};
                 for (int i = 0; i < 3; ++i)
                   o.v.push_back(
                       static_cast<double>(std::max_element(a[0].v.begin() + 4 * i, a[0].v.begin() + 4 * i + 4) -
                                           (a[0].v.begin() + 4 * i)));
                 return o;
               },
               false});
  r.push_back({"argmax_negative_axis",
               {F({2, 3, 4})},
               [](const V& x) { return argmax(x[0], -1); },
               [](const A& a) {
                 Arr o{{2, 3}, {}};
                 for (int i = 0; i < 6; ++i)
                   o.v.push_back(
                       static_cast<double>(std::max_element(a[0].v.begin() + 4 * i, a[0].v.begin() + 4 * i + 4) -
                                           (a[0].v.begin() + 4 * i)));
                 return o;
               },
               false});
  r.push_back({"argmin",
               {F({3, 4})},
               [](const V& x) { return argmin(x[0], 0); },
               [](const A& a) {
                 Arr o{{4}, {}};
                 for (int j = 0; j < 4; ++j) {
                   int best = 0;
                   for (int i = 1; i < 3; ++i)
                     if (a[0].v[static_cast<std::size_t>(4 * i + j)] < a[0].v[static_cast<std::size_t>(4 * best + j)])
                       best = i;
                   o.v.push_back(best);
                 }
                 return o;
               },
               false});
  r.push_back({"size",
               {F({3, 4})},
               [](const V& x) { return size(x[0], {1}); },
               [](const A&) {
                 return Arr{{}, {4}};
               },
               false});
  // shape ops
  r.push_back({"reshape",
               {F({2, 6})},
               [](const V& x) {
                 return reshape(x[0], {3, -1});
               },
               [](const A& a) {
                 return Arr{{3, 4}, a[0].v};
               }});
  r.push_back({"reshape_like",
               {F({2, 6}), F({4, 3})},
               [](const V& x) { return reshape_like(x[0], x[1]); },
               [](const A& a) {
                 return Arr{{4, 3}, a[0].v};
               }});
  r.push_back({"transpose",
               {F({2, 3, 4})},
               [](const V& x) {
                 return transpose(x[0], {2, 0, 1});
               },
               [](const A& a) {
                 return ref_permute(a[0], {2, 0, 1});
               }});
  r.push_back({"expand_dims",
               {F({2, 3})},
               [](const V& x) { return expand_dims(x[0], -1); },
               [](const A& a) {
                 return Arr{{2, 3, 1}, a[0].v};
               }});
  r.push_back({"squeeze",
               {F({2, 1, 3})},
               [](const V& x) { return squeeze(x[0]); },
               [](const A& a) {
                 return Arr{{2, 3}, a[0].v};
               }});
  r.push_back({"concat",
               {F({2, 3}), F({2, 1}), F({2, 2})},
               [](const V& x) {
                 return concat({x[0], x[1], x[2]}, 1);
               },
               [](const A& a) { return ref_concat(a, 1); }});
  r.push_back({"stack",
               {F({2, 3}), F({2, 3})},
               [](const V& x) {
                 return stack({x[0], x[1]}, 1);
               },
               [](const A& a) {
                 Arr p = a[0], q = a[1];
                 p.shape = {2, 1, 3};
                 q.shape = {2, 1, 3};
                 return ref_concat({p, q}, 1);
               }});
  r.push_back({"split",
               {F({4, 6})},
               [](const V& x) {
                 return split(x[0], {1, -1, 2}, 1)[1];
               },
               [](const A& a) {
                 return ref_slice(a[0], {0, 1}, {4, 3});
               }});
  r.push_back({"split_equal",
               {F({4, 6})},
               [](const V& x) { return split(x[0], 2, 0)[1] * 2; },
               [](const A& a) {
                 Arr s = ref_slice(a[0], {2, 0}, {2, 6});
                 for (auto& v : s.v) v *= 2;
                 return s;
               }});
  r.push_back({"slice",
               {F({4, 5})},
               [](const V& x) {
                 return slice(x[0], {1, 2}, {2, -1});
               },
               [](const A& a) {
                 return ref_slice(a[0], {1, 2}, {2, -1});
               }});
  r.push_back({"pad",
               {F({2, 3, 4})},
               [](const V& x) {
                 return pad(x[0], {{0, 1}, {2, 0}, {1, 3}});
               },
               [](const A& a) {
                 return ref_pad(a[0], {{0, 1}, {2, 0}, {1, 3}}, 0);
               }});
  r.push_back({"pad_constant_trailing_whole",
               {F({3, 2, 5})},
               [](const V& x) {
                 return pad(x[0], {{1, 2}, {0, 0}, {0, 0}}, -1.5);
               },
               [](const A& a) {
                 return ref_pad(a[0], {{1, 2}, {0, 0}, {0, 0}}, -1.5);
               }});
  // Boxes whose trailing dims are whole: copied in runs longer than the last dim (one run for leading rows).
  r.push_back({"slice_whole_trailing_dims",
               {F({5, 3, 4, 2})},
               [](const V& x) {
                 return slice(x[0], {1, 0, 1, 0}, {3, 3, 2, -1});
               },
               [](const A& a) {
                 return ref_slice(a[0], {1, 0, 1, 0}, {3, 3, 2, 2});
               }});
  r.push_back({"slice_leading_rows",
               {F({5, 3, 2, 1})},
               [](const V& x) {
                 return slice(x[0], {2, 0, 0, 0}, {2, -1, -1, -1});
               },
               [](const A& a) {
                 return ref_slice(a[0], {2, 0, 0, 0}, {2, 3, 2, 1});
               }});
  r.push_back({"pad_like_leading_rows",
               {F({2, 3, 2}), F({4, 3, 2})},
               [](const V& x) {
                 return pad_like(x[0], x[1], {1, 0, 0});
               },
               [](const A& a) {
                 Arr o{{4, 3, 2}, std::vector<double>(24, 0.0)};
                 for (std::size_t i = 0; i < 12; ++i) o.v[6 + i] = a[0].v[i];
                 return o;
               }});
  r.push_back({"slice_like",
               {F({4, 5, 3}), F({2, 3, 3})},
               [](const V& x) {
                 return slice_like(x[0], x[1], {1, 2, 0});
               },
               [](const A& a) {
                 return ref_slice(a[0], {1, 2, 0}, {2, 3, 3});
               }});
  r.push_back({"pad_like",
               {F({2, 2}), F({3, 4})},
               [](const V& x) {
                 return pad_like(x[0], x[1], {1, 1});
               },
               [](const A& a) {
                 Arr o{{3, 4}, std::vector<double>(12, 0.0)};
                 for (int i = 0; i < 2; ++i)
                   for (int j = 0; j < 2; ++j)
                     o.v[static_cast<std::size_t>((i + 1) * 4 + j + 1)] = a[0].v[static_cast<std::size_t>(i * 2 + j)];
                 return o;
               }});
  r.push_back({"gather",
               {F({5, 3}), I({2, 2}, {4, 0, 4, 2})},
               [](const V& x) { return gather(x[0], x[1]); },
               [](const A& a) { return ref_gather(a[0], a[1], 0); }});
  r.push_back({"gather_axis1",
               {F({2, 5, 3}), I({3}, {1, 1, 4}, DType::Int32)},
               [](const V& x) { return gather(x[0], x[1], 1); },
               [](const A& a) { return ref_gather(a[0], a[1], 1); }});
  r.push_back({"scatter_add_like",
               {F({3, 2}), I({3}, {2, 0, 2}), F({4, 2})},
               [](const V& x) { return scatter_add_like(x[0], x[1], x[2]); },
               [](const A& a) {
                 Arr o{{4, 2}, std::vector<double>(8, 0.0)};
                 for (int j = 0; j < 3; ++j)
                   for (int i = 0; i < 2; ++i)
                     o.v[static_cast<std::size_t>(a[1].v[static_cast<std::size_t>(j)] * 2 + i)] +=
                         a[0].v[static_cast<std::size_t>(j * 2 + i)];
                 return o;
               }});
  r.push_back({"one_hot",
               {I({3}, {2, 0, 5})},
               [](const V& x) { return one_hot(x[0], 3); },
               [](const A&) {
                 return Arr{{3, 3}, {0, 0, 1, 1, 0, 0, 0, 0, 0}};
               },
               false});
  r.push_back(
      {"broadcast_to",
       {F({3, 1})},
       [](const V& x) {
         return broadcast_to(x[0], Shape{2, 3, 4});
       },
       [](const A& a) {
         return ref_binary(a[0], Arr{{2, 3, 4}, std::vector<double>(24, 0.0)}, [](double p, double) { return p; });
       }});
  r.push_back({"broadcast_like",
               {F({4}), F({3, 4})},
               [](const V& x) { return broadcast_like(x[0], x[1]); },
               [](const A& a) { return ref_binary(a[0], a[1], [](double p, double) { return p; }); }});
  r.push_back({"sum_to",
               {F({2, 3, 4}), F({3, 1})},
               [](const V& x) { return sum_to(x[0], x[1]); },
               [=](const A& a) {
                 Arr s = ref_reduce(a[0], {0, 2}, true, 0, plus);
                 return Arr{{3, 1}, s.v};
               }});
  // state: a variable read, written and read again inside the row
  r.push_back({"variable_ops",
               {F({2, 3}), F({3})},
               [](const V& x) {
                 Variable v(zeros(x[0].shape(), x[0].dtype()));  // traced: created on the first trace (allowed)
                 v.assign(x[0]);
                 v.assign_add(broadcast_to(x[1], x[0].shape()));
                 v.assign_sub(x[1]);
                 v.assign(v.value() * 2);
                 return v.value();
               },
               [](const A& a) { return ref_unary(a[0], [](double p) { return 2 * p; }); },
               false});
  // the fused Adam step: two steps (the second with decoupled decay), checking w, m and v
  r.push_back({"apply_adam",
               {F({2, 3}), F({2, 3})},
               [](const V& x) {
                 Tensor z = zeros(x[0].shape(), x[0].dtype());  // traced: created on the first trace (allowed)
                 Variable w(z), m(z), v(z);
                 w.assign(x[0]);  // every replay starts from the same state
                 m.assign(z);
                 v.assign(z);
                 Tensor lr = cast(scalar(0.01f), x[0].dtype());
                 apply_adam(w, m, v, x[1], lr, 0.9, 0.999, 1e-7);
                 apply_adam(w, m, v, x[1] * 2.f, lr, 0.9, 0.999, 1e-7, 0.1);
                 return w.value() + m.value() * 10.f + v.value() * 100.f;
               },
               [](const A& a) {
                 return ref_binary(a[0], a[1], [](double w, double g) {
                   const double lr = 0.01f;  // the row's learning rate is a float32 constant
                   double m = 0.1 * g, v = 0.001 * g * g;
                   w -= lr * m / (std::sqrt(v) + 1e-7);
                   w -= 0.1 * w;
                   m = 0.9 * m + 0.1 * (2 * g);
                   v = 0.999 * v + 0.001 * (2 * g) * (2 * g);
                   w -= lr * m / (std::sqrt(v) + 1e-7);
                   return w + 10 * m + 100 * v;
                 });
               },
               false});
  // random: distribution statistics and seeding
  auto stats = [](const char* what, double want_mean, double want_sd, double lo, double hi) {
    return [=](const std::vector<Tensor>& outs) {
      auto v = outs[0].to_vector<double>();
      double m = 0, s = 0;
      for (double e : v) m += e;
      m /= v.size();
      for (double e : v) s += (e - m) * (e - m);
      s = std::sqrt(s / v.size());
      EXPECT_NEAR(m, want_mean, 0.02) << what;
      EXPECT_NEAR(s, want_sd, 0.02) << what;
      for (double e : v) {
        ASSERT_GE(e, lo) << what;
        ASSERT_LT(e, hi) << what;
      }
    };
  };
  r.push_back({"random_normal",
               {},
               [](const V&) { return random::normal(Shape{100000}, 1.0, 2.0); },
               nullptr,
               false,
               0,
               0,
               stats("normal", 1.0, 2.0, -1e9, 1e9)});
  r.push_back({"random_uniform",
               {},
               [](const V&) { return random::uniform(Shape{100000}, -1.0, 3.0, DType::Float64); },
               nullptr,
               false,
               0,
               0,
               stats("uniform", 1.0, 4.0 / std::sqrt(12.0), -1.0, 3.0)});
  r.push_back({"truncated_normal",
               {},
               [](const V&) { return random::truncated_normal(Shape{100000}); },
               nullptr,
               false,
               0,
               0,
               stats("truncated_normal", 0.0, 0.8796, -2.0, 2.0000001)});
  return r;
}

std::vector<Row> rows() {
  std::vector<Row> r = elementwise_and_shape_rows();
  for (auto& row : nn_rows()) r.push_back(row);
  return r;
}

std::vector<Tensor> make_inputs(const Row& row, DType float_dtype, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<Tensor> xs;
  for (const In& in : row.ins) {
    std::int64_t n = numel(in.shape);
    if (!in.values.empty()) {
      xs.push_back(constant(in.values, Shape(in.shape), in.dtype == DType::Float32 ? float_dtype : in.dtype));
      continue;
    }
    std::uniform_real_distribution<double> u(in.lo, in.hi);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (auto& e : v) e = static_cast<double>(static_cast<float>(u(gen)));  // representable in float32
    xs.push_back(constant(v, Shape(in.shape), in.dtype == DType::Float32 ? float_dtype : in.dtype));
  }
  return xs;
}

class OpTable : public ::testing::TestWithParam<Row> {};

TEST_P(OpTable, ForwardMatchesReference) {
  const Row& row = GetParam();
  for (DType d : {DType::Float32, DType::Float64}) {
    auto xs = make_inputs(row, d, 7);
    Tensor y = row.fn(xs);
    if (row.check) {
      row.check({y});
      return;
    }
    std::vector<Arr> arrs;
    for (auto& x : xs) arrs.push_back(to_arr(x));
    Arr want = row.ref(arrs);
    double rtol = d == DType::Float32 ? row.rtol : 1e-10;
    expect_close(to_arr(y), want, rtol, rtol, row.name + " (" + dtype_name(d) + ")");
  }
}

// The same row traced into a graph (unoptimized, then optimized) must match eager execution.
TEST_P(OpTable, TracedMatchesEager) {
  const Row& row = GetParam();
  auto xs = make_inputs(row, DType::Float32, 13);
  for (bool optimize : {false, true}) {
    FunctionOptions o{.name = row.name, .verify = true};
    o.passes = {optimize, optimize, optimize, optimize, 2};  // fuse even the table's small tensors
    auto f = function([&](const std::vector<Tensor>& in) { return row.fn(in); }, o);
    Tensor traced = f(xs);
    ASSERT_EQ(f.trace_count(), 1);
    if (row.check) {
      row.check({traced});
      continue;
    }
    Tensor eager = row.fn(xs);
    expect_close(to_arr(traced), to_arr(eager), row.traced_rtol, 1e-6,
                 row.name + (optimize ? " (optimized)" : " (traced)"));
    Tensor again = f(xs);  // replay from the cache
    EXPECT_EQ(f.trace_count(), 1);
    expect_close(to_arr(again), to_arr(eager), row.traced_rtol, 1e-6, row.name + " (replayed)");
  }
}

class OpGradTable : public ::testing::TestWithParam<Row> {};

// Gradients computed by a tape inside a traced function (symbolic gradient graphs) match eager ones.
TEST_P(OpGradTable, TracedGradientMatchesEager) {
  const Row& row = GetParam();
  auto xs = make_inputs(row, DType::Float64, 17);
  auto grads_of = [&](const std::vector<Tensor>& in) {
    GradientTape tape;
    std::vector<Source> srcs;
    for (auto& x : in)
      if (x.dtype() == DType::Float64) {
        tape.watch(x);
        srcs.emplace_back(x);
      }
    Tensor y = row.fn(in);
    Tensor w = cast(linspace(0.5, 1.5, std::max<std::int64_t>(y.num_elements(), 1)), y.dtype());
    Tensor loss = sum(reshape(y, {-1}) * slice(w, {0}, {y.num_elements()}));
    return tape.gradient(loss, srcs, {.unconnected = UnconnectedGradients::Zero});
  };
  auto eager = grads_of(xs);
  auto f = function(grads_of, {.name = row.name + "_grad", .verify = true});
  auto traced = f(xs);
  ASSERT_EQ(traced.size(), eager.size());
  for (std::size_t i = 0; i < eager.size(); ++i)
    expect_close(to_arr(traced[i]), to_arr(eager[i]), 1e-9, 1e-9, row.name + " traced gradient " + std::to_string(i));
}

TEST_P(OpGradTable, GradientMatchesNumeric) {
  const Row& row = GetParam();
  auto xs = make_inputs(row, DType::Float64, 11);
  std::vector<bool> diff;
  for (auto& x : xs) diff.push_back(x.dtype() == DType::Float64);
  check_gradients(row.fn, xs, diff, row.grad_tol, row.name);
}

// Rows without a gradient: the tape must report their float inputs as unconnected (never a wrong value).
class OpNoGradTable : public ::testing::TestWithParam<Row> {};

TEST_P(OpNoGradTable, FloatInputsGetNoGradient) {
  const Row& row = GetParam();
  auto xs = make_inputs(row, DType::Float64, 11);
  GradientTape tape;
  std::vector<Source> sources;
  for (auto& x : xs)
    if (x.dtype() == DType::Float64) {
      tape.watch(x);
      sources.emplace_back(x);
    }
  Tensor y = cast(row.fn(xs), DType::Float64);
  auto grads = tape.gradient(sum(y), sources);
  for (std::size_t i = 0; i < grads.size(); ++i) EXPECT_FALSE(grads[i].defined()) << row.name << " input " << i;
}

bool has_float_input(const Row& r) {
  for (auto& in : r.ins)
    if (in.dtype == DType::Float32) return true;
  return false;
}

std::vector<Row> rows_where(bool grad) {
  std::vector<Row> out;
  for (auto& r : rows())
    if (r.grad == grad && (grad || has_float_input(r))) out.push_back(r);
  return out;
}

auto row_name = [](const ::testing::TestParamInfo<Row>& i) { return i.param.name; };
INSTANTIATE_TEST_SUITE_P(Ops, OpTable, ::testing::ValuesIn(rows()), row_name);
INSTANTIATE_TEST_SUITE_P(Ops, OpGradTable, ::testing::ValuesIn(rows_where(true)), row_name);
INSTANTIATE_TEST_SUITE_P(Ops, OpNoGradTable, ::testing::ValuesIn(rows_where(false)), row_name);

TEST(OpTableCoverage, EveryRegisteredOpHasARow) {
  std::set<std::string> seen;
  internal::set_op_observer(
      [](const OpDef& op, void* user) { static_cast<std::set<std::string>*>(user)->insert(op.name); }, &seen);
  for (const Row& row : rows()) {
    auto xs = make_inputs(row, DType::Float64, 3);
    if (row.grad) {
      std::vector<bool> diff;
      for (auto& x : xs) diff.push_back(x.dtype() == DType::Float64);
      check_gradients(row.fn, xs, diff, 1.0, row.name);  // runs the gradient ops too
    } else {
      row.fn(xs);
    }
  }
  // Structural ops (Placeholder, Const) are created by the tracer rather than dispatched: collect op names
  // from every row's traced graph too.
  for (const Row& row : rows()) {
    auto xs = make_inputs(row, DType::Float32, 3);
    FunctionOptions o{.name = row.name};
    o.passes.fusion_min_elements = 2;
    auto f = function([&](const std::vector<Tensor>& in) { return row.fn(in); }, o);
    f(xs);
    std::istringstream text(f.graph_text());
    std::string line;
    while (std::getline(text, line)) {
      auto eq = line.find(" = ");
      if (eq == std::string::npos) continue;
      std::string name = line.substr(eq + 3, line.find('(', eq) - eq - 3);
      auto us = name.rfind('_');
      if (us != std::string::npos && name.find_first_not_of("0123456789", us + 1) == std::string::npos)
        name = name.substr(0, us);
      seen.insert(name);
    }
  }
  internal::set_op_observer(nullptr, nullptr);
  std::vector<std::string> missing;
  // Structural ops (LayerCall) never run as ops; the model tests exercise them.
  for (const OpDef* op : all_ops())
    if (!seen.count(op->name) && !op->has(kStructural)) missing.push_back(op->name);
  EXPECT_TRUE(missing.empty()) << "ops without a row in the op table: " << ::testing::PrintToString(missing);
}

}  // namespace
}  // namespace duet::testing
