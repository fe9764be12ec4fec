#pragma once
// One functor per elementwise op: its scalar rule (operator()), and for transcendental functions the vectorized
// math routine that computes it (vm). kernels/elementwise_kernels.h turns a functor into the op's general kernel
// (any dtype, broadcasting, threads), its fused float32 block kernel and, through the kernel, its constant
// folding, so these paths cannot disagree. A new elementwise op starts here (CONTRIBUTING.md).
// Integer arithmetic wraps on overflow (two's complement, as TensorFlow and PyTorch do): it is computed
// unsigned, where wrapping is defined, instead of being undefined behaviour.
#include <cmath>
#include <type_traits>

#include "kernels/vmath.h"

namespace duet::kernels::fn {

template <class T>
constexpr bool kInt = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <class T>
using Unsigned = std::make_unsigned_t<T>;

struct Add {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (kInt<T>)
      return static_cast<T>(static_cast<Unsigned<T>>(a) + static_cast<Unsigned<T>>(b));
    else
      return a + b;
  }
};
struct Sub {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (kInt<T>)
      return static_cast<T>(static_cast<Unsigned<T>>(a) - static_cast<Unsigned<T>>(b));
    else
      return a - b;
  }
};
struct Mul {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (kInt<T>)
      return static_cast<T>(static_cast<Unsigned<T>>(a) * static_cast<Unsigned<T>>(b));
    else
      return a * b;
  }
};
// Integer division truncates (as C++); MIN / -1 wraps to MIN instead of trapping. Zero divisors are
// refused before this runs.
struct Div {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (kInt<T>)
      return b == T(-1) ? static_cast<T>(Unsigned<T>(0) - static_cast<Unsigned<T>>(a)) : a / b;
    else
      return a / b;
  }
};
// NaN propagates through maximum/minimum (as in NumPy and TensorFlow).
struct Maximum {
  auto operator()(auto a, auto b) const { return (a >= b || a != a) ? a : b; }
};
struct Minimum {
  auto operator()(auto a, auto b) const { return (a <= b || a != a) ? a : b; }
};
struct Neg {
  template <class T>
  T operator()(T a) const {
    if constexpr (kInt<T>)
      return static_cast<T>(Unsigned<T>(0) - static_cast<Unsigned<T>>(a));
    else
      return -a;
  }
};
// |-0.0| is +0.0; |MIN| wraps to MIN for integers.
struct Abs {
  template <class T>
  T operator()(T a) const {
    if constexpr (std::is_floating_point_v<T>)
      return std::fabs(a);
    else
      return a < 0 ? Neg{}(a) : a;
  }
};
// relu(NaN) is NaN (as TensorFlow and PyTorch: hiding NaN would hide a diverging run); relu(-0.0) is 0.
struct Relu {
  auto operator()(auto a) const { return (a > 0 || a != a) ? a : decltype(a)(0); }
};
// relu's gradient from its output y: g where y > 0 (or y is NaN, as PyTorch), else 0.
struct ReluGrad {
  auto operator()(auto y, auto g) const { return (y > 0 || y != y) ? g : decltype(g)(0); }
};
// sigmoid's gradient from its output y: g y (1 - y); tanh's: g (1 - y^2). The same operations in the same order
// as the three-op forms they replace.
struct SigmoidGrad {
  auto operator()(auto y, auto g) const { return g * y * (decltype(y)(1) - y); }
};
struct TanhGrad {
  auto operator()(auto y, auto g) const { return g * (decltype(y)(1) - y * y); }
};
struct Sqrt {
  auto operator()(auto a) const { return std::sqrt(a); }
};
struct Rsqrt {
  auto operator()(auto a) const { return decltype(a)(1) / std::sqrt(a); }
};
struct Atan {
  auto operator()(auto a) const { return std::atan(a); }
};
// x / (|x| + 1), as TensorFlow's kernel (NaN at +-inf, as there).
struct Softsign {
  auto operator()(auto a) const { return a / (std::fabs(a) + decltype(a)(1)); }
};
// sign(NaN) is NaN; sign(-0.0) is 0.
struct Sign {
  auto operator()(auto a) const { return a != a ? a : decltype(a)((a > 0) - (a < 0)); }
};

// Rounding to an integral value (floating dtypes only). Round is half to even (TensorFlow's round,
// NumPy's rint), what nearbyint does in the default rounding mode.
struct Floor {
  auto operator()(auto a) const { return std::floor(a); }
};
struct Ceil {
  auto operator()(auto a) const { return std::ceil(a); }
};
struct Round {
  auto operator()(auto a) const { return std::nearbyint(a); }
};

// Transcendental functions: the scalar rule for other dtypes, and vm for float32/float64 arrays (libmvec or
// duet's own AVX2 code, chosen by the CPU at run time).
struct Exp {
  static constexpr vmath::Fn vm = vmath::Fn::Exp;
  auto operator()(auto a) const { return std::exp(a); }
};
struct Expm1 {
  static constexpr vmath::Fn vm = vmath::Fn::Expm1;
  auto operator()(auto a) const { return std::expm1(a); }
};
struct Log {
  static constexpr vmath::Fn vm = vmath::Fn::Log;
  auto operator()(auto a) const { return std::log(a); }
};
struct Log1p {
  static constexpr vmath::Fn vm = vmath::Fn::Log1p;
  auto operator()(auto a) const { return std::log1p(a); }
};
struct Sin {
  static constexpr vmath::Fn vm = vmath::Fn::Sin;
  auto operator()(auto a) const { return std::sin(a); }
};
struct Cos {
  static constexpr vmath::Fn vm = vmath::Fn::Cos;
  auto operator()(auto a) const { return std::cos(a); }
};
struct Tan {
  static constexpr vmath::Fn vm = vmath::Fn::Tan;
  auto operator()(auto a) const { return std::tan(a); }
};
struct Tanh {
  static constexpr vmath::Fn vm = vmath::Fn::Tanh;
  auto operator()(auto a) const { return std::tanh(a); }
};
struct Erf {
  static constexpr vmath::Fn vm = vmath::Fn::Erf;
  auto operator()(auto a) const { return std::erf(a); }
};
struct Sigmoid {
  static constexpr vmath::Fn vm = vmath::Fn::Sigmoid;
  template <class T>
  T operator()(T a) const {
    T e = std::exp(-std::fabs(a));
    return a >= 0 ? T(1) / (T(1) + e) : e / (T(1) + e);
  }
};

}  // namespace duet::kernels::fn
