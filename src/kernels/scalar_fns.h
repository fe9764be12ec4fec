#pragma once
// The scalar rule of each elementwise op that has both a general kernel (elementwise.cpp, any dtype) and a
// float32 block kernel (block_f32.cpp): defined once here, so the two paths cannot disagree.
#include <cmath>

namespace duet::kernels::fn {

struct Add {
  auto operator()(auto a, auto b) const { return a + b; }
};
struct Sub {
  auto operator()(auto a, auto b) const { return a - b; }
};
struct Mul {
  auto operator()(auto a, auto b) const { return a * b; }
};
struct Div {
  auto operator()(auto a, auto b) const { return a / b; }
};
// NaN propagates through maximum/minimum (as in NumPy and TensorFlow).
struct Maximum {
  auto operator()(auto a, auto b) const { return (a >= b || a != a) ? a : b; }
};
struct Minimum {
  auto operator()(auto a, auto b) const { return (a <= b || a != a) ? a : b; }
};
struct Neg {
  auto operator()(auto a) const { return -a; }
};
struct Abs {
  auto operator()(auto a) const { return a < 0 ? -a : a; }
};
struct Relu {
  auto operator()(auto a) const { return a > 0 ? a : decltype(a)(0); }
};
// relu's gradient from its output y: g where y > 0.
struct ReluGrad {
  auto operator()(auto y, auto g) const { return y > 0 ? g : decltype(g)(0); }
};
struct Sqrt {
  auto operator()(auto a) const { return std::sqrt(a); }
};
struct Rsqrt {
  auto operator()(auto a) const { return decltype(a)(1) / std::sqrt(a); }
};

}  // namespace duet::kernels::fn
