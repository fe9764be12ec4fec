#pragma once
// The scalar rule of each elementwise op that has both a general kernel (elementwise.cpp, any dtype) and a
// float32 block kernel (block_f32.cpp): defined once here, so the two paths cannot disagree.
// Integer arithmetic wraps on overflow (two's complement, as TensorFlow and PyTorch do): it is computed
// unsigned, where wrapping is defined, instead of being undefined behaviour.
#include <cmath>
#include <type_traits>

namespace duet::kernels::fn {

template <class T>
constexpr bool kInt = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <class T>
using Unsigned = std::make_unsigned_t<T>;

struct Add {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (kInt<T>) return static_cast<T>(static_cast<Unsigned<T>>(a) + static_cast<Unsigned<T>>(b));
    else return a + b;
  }
};
struct Sub {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (kInt<T>) return static_cast<T>(static_cast<Unsigned<T>>(a) - static_cast<Unsigned<T>>(b));
    else return a - b;
  }
};
struct Mul {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (kInt<T>) return static_cast<T>(static_cast<Unsigned<T>>(a) * static_cast<Unsigned<T>>(b));
    else return a * b;
  }
};
// Integer division truncates (as C++); MIN / -1 wraps to MIN instead of trapping. Zero divisors are
// refused before this runs.
struct Div {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (kInt<T>) return b == T(-1) ? static_cast<T>(Unsigned<T>(0) - static_cast<Unsigned<T>>(a)) : a / b;
    else return a / b;
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
    if constexpr (kInt<T>) return static_cast<T>(Unsigned<T>(0) - static_cast<Unsigned<T>>(a));
    else return -a;
  }
};
// |-0.0| is +0.0; |MIN| wraps to MIN for integers.
struct Abs {
  template <class T>
  T operator()(T a) const {
    if constexpr (std::is_floating_point_v<T>) return std::fabs(a);
    else return a < 0 ? Neg{}(a) : a;
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
struct Sqrt {
  auto operator()(auto a) const { return std::sqrt(a); }
};
struct Rsqrt {
  auto operator()(auto a) const { return decltype(a)(1) / std::sqrt(a); }
};

}  // namespace duet::kernels::fn
