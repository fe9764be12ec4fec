// The PyTorch oracle, duet's side: every public op on float64 inputs (random values and edge values), its
// output and the gradient of sum(output * cotangent) for each float input, written as JSON lines for
// tests/oracle/check_pytorch.py, which computes the same with PyTorch and compares.
#include <duet/duet.h>
#include "duet/gradient_ops.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace duet;

namespace {

struct In {
  std::vector<std::int64_t> shape;
  std::vector<double> values;  // empty: random normal
  DType dtype = DType::Float64;
  bool grad = true;  // differentiate with respect to it (float inputs only)
};

struct Case {
  std::string name;  // the key check_pytorch.py looks up
  std::vector<In> ins;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  bool grad = true;
};

std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0 && std::signbit(v)) return "-0.0";  // "-0" would read back as the integer 0
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

std::string arr(const Tensor& t) {
  std::ostringstream os;
  os << "{\"dtype\":\"" << dtype_name(t.dtype()) << "\",\"shape\":[";
  for (int d = 0; d < t.rank(); ++d) os << (d ? "," : "") << t.shape()[d];
  os << "],\"values\":[";
  auto v = t.to_vector<double>();
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << num(v[i]);
  os << "]}";
  return os.str();
}

// Deterministic values (the same every run, so failures reproduce).
Tensor make(const In& in, std::mt19937_64& rng) {
  std::int64_t n = 1;
  for (auto d : in.shape) n *= d;
  std::vector<double> v = in.values;
  std::normal_distribution<double> norm(0, 1);
  if (v.empty()) {
    for (std::int64_t i = 0; i < n; ++i) v.push_back(is_integral(in.dtype) ? std::round(norm(rng) * 3) : norm(rng));
  }
  return constant(v, Shape(in.shape), in.dtype);
}

// The cotangent of an output: 0.5, 1.1, -0.3, ... (a fixed, non-symmetric pattern).
Tensor cotangent(const Tensor& out) {
  std::vector<double> v(static_cast<std::size_t>(out.num_elements()));
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = 0.5 + 0.6 * static_cast<double>(i % 5) - 0.35 * static_cast<double>(i % 3);
  return constant(v, out.shape(), out.dtype());
}

const std::vector<double> kEdges = {NAN,    INFINITY, -INFINITY, 0.0, -0.0,  1e300, -1e300,
                                    1e-310, 0.5,      -2.0,      3.0, 710.0, -745.0};

std::vector<Case> cases() {
  using V = std::vector<Tensor>;
  auto F = [](std::vector<std::int64_t> s) { return In{std::move(s)}; };
  auto E = [] { return In{{13}, kEdges}; };
  auto P = [](std::vector<std::int64_t> s, double lo) {  // positive values
    std::int64_t n = 1;
    for (auto d : s) n *= d;
    std::vector<double> v;
    for (std::int64_t i = 0; i < n; ++i) v.push_back(lo + 0.37 * static_cast<double>((i * 7) % 11));
    return In{std::move(s), v};
  };
  std::vector<Case> c;
  auto unary = [&](const std::string& name, std::function<Tensor(const Tensor&)> f, In random_in, bool edges = true) {
    c.push_back({name, {random_in}, [f](const V& x) { return f(x[0]); }});
    if (edges) c.push_back({name + "/edges", {E()}, [f](const V& x) { return f(x[0]); }});
  };
  unary(
      "neg", [](const Tensor& x) { return neg(x); }, F({3, 4}));
  unary(
      "abs", [](const Tensor& x) { return abs(x); }, F({3, 4}));
  unary(
      "sign", [](const Tensor& x) { return sign(x); }, F({3, 4}));
  unary(
      "exp", [](const Tensor& x) { return exp(x); }, F({3, 4}));
  unary(
      "expm1", [](const Tensor& x) { return expm1(x); }, F({3, 4}));
  unary(
      "log", [](const Tensor& x) { return log(x); }, P({3, 4}, 0.1));
  unary(
      "log1p", [](const Tensor& x) { return log1p(x); }, P({3, 4}, -0.5));
  unary(
      "sqrt", [](const Tensor& x) { return sqrt(x); }, P({3, 4}, 0.2));
  unary(
      "rsqrt", [](const Tensor& x) { return rsqrt(x); }, P({3, 4}, 0.2));
  unary(
      "square", [](const Tensor& x) { return square(x); }, F({3, 4}));
  unary(
      "sin", [](const Tensor& x) { return sin(x); }, F({3, 4}));
  unary(
      "cos", [](const Tensor& x) { return cos(x); }, F({3, 4}));
  unary(
      "tan", [](const Tensor& x) { return tan(x); }, F({3, 4}), false);
  unary(
      "tanh", [](const Tensor& x) { return tanh(x); }, F({3, 4}));
  unary(
      "atan", [](const Tensor& x) { return atan(x); }, F({3, 4}));
  unary(
      "erf", [](const Tensor& x) { return erf(x); }, F({3, 4}));
  unary(
      "sigmoid", [](const Tensor& x) { return sigmoid(x); }, F({3, 4}));
  unary(
      "relu", [](const Tensor& x) { return relu(x); }, F({3, 4}));
  unary(
      "elu", [](const Tensor& x) { return elu(x, 0.7); }, F({3, 4}));
  unary(
      "gelu", [](const Tensor& x) { return gelu(x, false); }, F({3, 4}));
  unary(
      "gelu_tanh", [](const Tensor& x) { return gelu(x, true); }, F({3, 4}));
  unary(
      "softplus", [](const Tensor& x) { return softplus(x); }, F({3, 4}));
  unary(
      "clip", [](const Tensor& x) { return clip(x, -0.5, 0.8); }, F({3, 4}));
  unary(
      "identity", [](const Tensor& x) { return identity(x); }, F({3, 4}), false);
  unary(
      "check_numerics", [](const Tensor& x) { return check_numerics(x, "oracle"); }, F({3, 4}), false);
  unary(
      "stop_gradient", [](const Tensor& x) { return stop_gradient(x) * x; }, F({3, 4}), false);
  // float32 paths with their own kernels (exp, tanh, sigmoid are duet's own AVX2/AVX-512 code)
  for (const char* n : {"exp", "tanh", "sigmoid", "log", "erf"}) {
    In f32 = std::string(n) == "log" ? P({64}, 0.05) : F({64});
    f32.dtype = DType::Float32;
    c.push_back({std::string(n) + "/float32", {f32}, [n = std::string(n)](const V& x) {
                   return n == "exp"       ? exp(x[0])
                          : n == "tanh"    ? tanh(x[0])
                          : n == "sigmoid" ? sigmoid(x[0])
                          : n == "log"     ? log(x[0])
                                           : erf(x[0]);
                 }});
  }

  auto binary = [&](const std::string& name, std::function<Tensor(const Tensor&, const Tensor&)> f, In a, In b) {
    c.push_back({name, {a, b}, [f](const V& x) { return f(x[0], x[1]); }});
  };
  binary(
      "add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, F({2, 3, 4}), F({3, 1}));
  binary(
      "sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, F({2, 3, 4}), F({4}));
  binary(
      "mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, F({3, 4}), F({3, 4}));
  binary(
      "div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, F({3, 4}), P({4}, 0.3));
  binary(
      "pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, P({3, 4}, 0.2), F({3, 4}));
  binary(
      "maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }, F({3, 4}), F({4}));
  binary(
      "minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }, F({3, 4}), F({3, 1}));
  c.push_back({"maximum/nan",
               {In{{4}, {NAN, 1, -INFINITY, 2}}, In{{4}, {1, NAN, 3, 2}}},
               [](const V& x) { return maximum(x[0], x[1]); },
               false});
  c.push_back({"add/edges",
               {E(), In{{13}, {1, -INFINITY, INFINITY, -0.0, 0.0, 1e300, 1e300, 0, NAN, 0, 2, 3, 4}}},
               [](const V& x) { return x[0] + x[1]; }});
  c.push_back({"div/edges",
               {E(), In{{13}, {1, 0, -0.0, 0, -0.0, 1e-300, 2, 1e300, INFINITY, 3, 0, -1, 2}}},
               [](const V& x) { return x[0] / x[1]; },
               false});
  for (const char* n : {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"}) {
    c.push_back({std::string(n),
                 {In{{6}, {1, 2, NAN, -0.0, INFINITY, 3}}, In{{6}, {1, 3, NAN, 0.0, INFINITY, 2}}},
                 [n = std::string(n)](const V& x) {
                   Tensor r = n == "equal"        ? equal(x[0], x[1])
                              : n == "not_equal"  ? not_equal(x[0], x[1])
                              : n == "less"       ? less(x[0], x[1])
                              : n == "less_equal" ? less_equal(x[0], x[1])
                              : n == "greater"    ? greater(x[0], x[1])
                                                  : greater_equal(x[0], x[1]);
                   return cast(r, DType::Float64);
                 },
                 false});
  }
  c.push_back({"logical",
               {In{{4}, {0, 1, 0, 1}}, In{{4}, {0, 0, 1, 1}}},
               [](const V& x) {
                 Tensor a = x[0] > 0.5, b = x[1] > 0.5;
                 return cast(logical_and(a, b), DType::Float64) + cast(logical_or(a, b), DType::Float64) * 2.0 +
                        cast(logical_not(a), DType::Float64) * 4.0;
               },
               false});
  c.push_back({"where", {F({3, 4}), F({3, 4}), F({4})}, [](const V& x) { return where(x[0] > 0.0, x[1], x[2]); }});
  c.push_back({"int_div",
               {In{{5}, {7, -7, 7, -7, -2147483648.0}, DType::Int32}, In{{5}, {2, 2, -2, -2, -1}, DType::Int32}},
               [](const V& x) { return cast(x[0] / x[1], DType::Float64); },
               false});
  c.push_back({"cast_f64_i32",
               {In{{5}, {1.7, -1.7, 2.5, -2.5, 1e9}}},
               [](const V& x) { return cast(cast(x[0], DType::Int32), DType::Float64); },
               false});

  auto red = [&](const std::string& name, std::function<Tensor(const Tensor&, std::vector<std::int64_t>, bool)> f) {
    c.push_back({name + "/all", {F({3, 4, 2})}, [f](const V& x) { return f(x[0], {}, false); }});
    c.push_back({name + "/axis1_keep", {F({3, 4, 2})}, [f](const V& x) { return f(x[0], {1}, true); }});
    c.push_back({name + "/axes02", {F({3, 4, 2})}, [f](const V& x) { return f(x[0], {0, -1}, false); }});
  };
  red("sum", [](const Tensor& x, std::vector<std::int64_t> a, bool k) { return sum(x, a, k); });
  red("mean", [](const Tensor& x, std::vector<std::int64_t> a, bool k) { return mean(x, a, k); });
  red("max", [](const Tensor& x, std::vector<std::int64_t> a, bool k) { return max(x, a, k); });
  red("min", [](const Tensor& x, std::vector<std::int64_t> a, bool k) { return min(x, a, k); });
  red("prod", [](const Tensor& x, std::vector<std::int64_t> a, bool k) { return prod(x, a, k); });
  c.push_back({"argmax", {F({3, 5})}, [](const V& x) { return cast(argmax(x[0], 1), DType::Float64); }, false});
  c.push_back({"argmin", {F({3, 5})}, [](const V& x) { return cast(argmin(x[0], 0), DType::Float64); }, false});
  c.push_back({"size", {F({3, 5})}, [](const V& x) { return cast(size(x[0], {1}), DType::Float64); }, false});

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
  c.push_back({"gather", {F({5, 3})}, [](const V& x) {
                 return gather(x[0], constant(std::vector<std::int64_t>{4, 0, 4, 2}, Shape{4}, DType::Int64), 0);
               }});
  c.push_back({"gather_axis1", {F({2, 5})}, [](const V& x) {
                 return gather(x[0], constant(std::vector<std::int64_t>{1, 1, 3}, Shape{3}, DType::Int64), 1);
               }});
  c.push_back({"one_hot",
               {In{{4}, {0, 2, 1, 3}, DType::Int64, false}},
               [](const V& x) { return one_hot(x[0], 4, 1.0, 0.0, DType::Float64); },
               false});
  c.push_back({"broadcast_to", {F({3, 1})}, [](const V& x) { return broadcast_to(x[0], Shape{2, 3, 4}); }});
  c.push_back({"sum_to", {F({2, 3, 4}), F({3, 1})}, [](const V& x) { return sum_to(x[0], x[1]); }});

  c.push_back({"matmul", {F({3, 4}), F({4, 5})}, [](const V& x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul_tt", {F({4, 3}), F({5, 4})}, [](const V& x) { return matmul(x[0], x[1], true, true); }});
  c.push_back(
      {"matmul_batch_broadcast", {F({2, 1, 3, 4}), F({3, 4, 5})}, [](const V& x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul_int",
               {In{{2, 3}, {}, DType::Int64, false}, In{{3, 2}, {}, DType::Int64, false}},
               [](const V& x) { return cast(matmul(x[0], x[1]), DType::Float64); },
               false});

  c.push_back({"conv2d_same", {F({2, 6, 5, 3}), F({3, 3, 3, 4})}, [](const V& x) {
                 return conv2d(x[0], x[1], {.padding = "same"});
               }});
  c.push_back({"conv2d_valid_stride2", {F({1, 7, 7, 2}), F({3, 2, 2, 3})}, [](const V& x) {
                 return conv2d(x[0], x[1], {.strides = {2, 2}, .padding = "valid"});
               }});
  c.push_back({"conv2d_dilated", {F({1, 8, 8, 2}), F({2, 2, 2, 2})}, [](const V& x) {
                 return conv2d(x[0], x[1], {.padding = "valid", .dilation_rate = {2, 2}});
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
  c.push_back({"softmax/inf", {In{{3}, {INFINITY, 1, 2}}}, [](const V& x) { return softmax(x[0]); }, false});
  c.push_back({"softmax/large", {In{{3}, {1000, 1001, -1000}}}, [](const V& x) { return softmax(x[0]); }});
  c.push_back({"sparse_ce", {In{{4}, {1, 0, 3, 2}, DType::Int64, false}, F({4, 5})}, [](const V& x) {
                 return sparse_softmax_cross_entropy_with_logits(x[0], x[1]);
               }});
  c.push_back({"dense_ce", {P({3, 4}, 0.1), F({3, 4})}, [](const V& x) {
                 return softmax_cross_entropy_with_logits(x[0], x[1]);
               }});
  c.push_back({"bias_add", {F({2, 3, 4}), F({4})}, [](const V& x) { return bias_add(x[0], x[1]); }});
  c.push_back({"fused_batch_norm", {F({4, 3, 5}), F({5}), F({5})}, [](const V& x) {
                 return fused_batch_norm(x[0], x[1], x[2])[0];
               }});
  c.push_back({"fused_batch_norm/statistics", {F({6, 4}), F({4}), F({4})}, [](const V& x) {
                 auto o = fused_batch_norm(x[0], x[1], x[2]);
                 return o[1] * 2.0 + o[2];
               }});
  return c;
}

}  // namespace

int main() {
  std::mt19937_64 rng(20261130);
  int n = 0;
  for (const Case& c : cases()) {
    std::vector<Tensor> ins;
    for (const In& in : c.ins) ins.push_back(make(in, rng));
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
    std::cout << "{\"case\":\"" << c.name << "\",\"inputs\":[";
    for (std::size_t i = 0; i < ins.size(); ++i) std::cout << (i ? "," : "") << arr(ins[i]);
    std::cout << "]";
    if (!error.empty()) {
      std::cout << ",\"error\":\"" << error << "\"}\n";
      continue;
    }
    std::cout << ",\"output\":" << arr(out);
    if (!wrt.empty() && is_floating(out.dtype())) {
      Tensor ct = cotangent(out);
      std::cout << ",\"cotangent\":" << arr(ct) << ",\"grads\":{";
      Tensor target = sum(out * ct);
      for (std::size_t k = 0; k < wrt.size(); ++k) {
        Tensor g = tape.gradient(target, ins[wrt[k]], {.unconnected = UnconnectedGradients::Zero});
        std::cout << (k ? "," : "") << "\"" << wrt[k] << "\":" << arr(g);
      }
      std::cout << "}";
    }
    std::cout << "}\n";
    ++n;
  }
  std::cerr << "oracle_dump: " << n << " cases\n";
  return 0;
}
