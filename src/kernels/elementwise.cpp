#include <cmath>
#include <cstring>

#include "core/convert.h"
#include "core/tensor_impl.h"
#include "kernels/broadcast.h"
#include "kernels/elementwise_kernels.h"
#include "kernels/kernels.h"
#include "kernels/vmath.h"

namespace duet::kernels {
namespace {

// int64 against float64, compared by value: both widen exactly to long double (64-bit mantissa on x86-64).
template <class F>
void compare_mixed(KernelContext& k, F f) {
  const Tensor& a = k.inputs[0];
  const Tensor& b = k.inputs[1];
  auto at = [](const Tensor& t, std::int64_t i) -> long double {
    return t.dtype() == DType::Int64 ? static_cast<long double>(ptr<std::int64_t>(t)[i])
                                     : static_cast<long double>(ptr<double>(t)[i]);
  };
  const Shape* ins[2] = {&a.shape(), &b.shape()};
  BroadcastPlan p = make_broadcast_plan(k.outputs[0].shape(), ins, 2);
  const std::int64_t sa = p.strides[0][p.rank - 1], sb = p.strides[1][p.rank - 1];
  std::uint8_t* po = ptr<std::uint8_t>(k.outputs[0]);
  for_each_row(p, [&](std::int64_t o, const std::int64_t* off, std::int64_t len) {
    for (std::int64_t i = 0; i < len; ++i) po[o + i] = f(at(a, off[0] + i * sa), at(b, off[1] + i * sb));
  });
}

// Comparisons write bool (uint8).
template <class F>
void compare(KernelContext& k, F f) {
  if (k.inputs[0].dtype() != k.inputs[1].dtype()) return compare_mixed(k, f);
  visit_dtype(k.inputs[0].dtype(), [&](auto z) {
    using T = decltype(z);
    binary_loop<T, std::uint8_t>(k, f);
  });
}

template <class T>
void check_int_divisor(const Tensor& b, const char* op) {
  const T* p = ptr<T>(b);
  for (std::int64_t i = 0; i < b.num_elements(); ++i) {
    if (p[i] == 0)
      throw ValueError(std::string("[") + op + "] integer division by zero (divisor of shape " + b.shape().str() + ")");
  }
}

// Integer powers wrap on overflow (computed unsigned).
template <class T>
T ipow(T base, T e) {
  using U = std::make_unsigned_t<T>;
  U r = 1, b = static_cast<U>(base);
  while (e > 0) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return static_cast<T>(r);
}

}  // namespace

void div(KernelContext& k) {
  DType d = k.inputs[0].dtype();
  if (d == DType::Int32) check_int_divisor<std::int32_t>(k.inputs[1], "div");
  if (d == DType::Int64) check_int_divisor<std::int64_t>(k.inputs[1], "div");
  binary<fn::Div>(k);
}

void pow(KernelContext& k) {
  visit_dtype(k.inputs[0].dtype(), [&](auto z) {
    using T = decltype(z);
    if constexpr (std::is_floating_point_v<T>) {
      binary_loop<T, T>(k, [](T a, T b) { return std::pow(a, b); });
    } else {
      const T* e = ptr<T>(k.inputs[1]);
      for (std::int64_t i = 0; i < k.inputs[1].num_elements(); ++i) {
        if (e[i] < 0) {
          throw ValueError("[pow] integers to negative integer powers are not allowed (exponent shape " +
                           k.inputs[1].shape().str() + "); cast to float first");
        }
      }
      binary_loop<T, T>(k, [](T a, T b) { return ipow<T>(a, b); });
    }
  });
}

void equal(KernelContext& k) {
  compare(k, [](auto a, auto b) { return a == b; });
}
void not_equal(KernelContext& k) {
  compare(k, [](auto a, auto b) { return a != b; });
}
void less(KernelContext& k) {
  compare(k, [](auto a, auto b) { return a < b; });
}
void less_equal(KernelContext& k) {
  compare(k, [](auto a, auto b) { return a <= b; });
}
void greater(KernelContext& k) {
  compare(k, [](auto a, auto b) { return a > b; });
}
void greater_equal(KernelContext& k) {
  compare(k, [](auto a, auto b) { return a >= b; });
}
void logical_and(KernelContext& k) {
  binary_loop<std::uint8_t, std::uint8_t>(k, [](auto a, auto b) { return a && b; });
}
void logical_or(KernelContext& k) {
  binary_loop<std::uint8_t, std::uint8_t>(k, [](auto a, auto b) { return a || b; });
}
void logical_not(KernelContext& k) {
  const std::uint8_t* x = ptr<std::uint8_t>(k.inputs[0]);
  std::uint8_t* y = ptr<std::uint8_t>(k.outputs[0]);
  parallel_for(k.inputs[0].num_elements(), kParallelGrain, [&](std::int64_t s, std::int64_t e) {
    for (std::int64_t i = s; i < e; ++i) y[i] = !x[i];
  });
}

void select(KernelContext& k) {
  const Tensor& c = k.inputs[0];
  const Tensor& a = k.inputs[1];
  const Tensor& b = k.inputs[2];
  Tensor& out = k.outputs[0];
  const Shape* ins[3] = {&c.shape(), &a.shape(), &b.shape()};
  BroadcastPlan p = make_broadcast_plan(out.shape(), ins, 3);
  const std::uint8_t* pc = ptr<std::uint8_t>(c);
  visit_dtype(a.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* pa = ptr<T>(a);
    const T* pb = ptr<T>(b);
    T* po = ptr<T>(out);
    const std::int64_t sc = p.strides[0][p.rank - 1], sa = p.strides[1][p.rank - 1], sb = p.strides[2][p.rank - 1];
    for_each_row(p, [&](std::int64_t o, const std::int64_t* off, std::int64_t len) {
      for (std::int64_t i = 0; i < len; ++i)
        po[o + i] = pc[off[0] + i * sc] ? pa[off[1] + i * sa] : pb[off[2] + i * sb];
    });
  });
}

void cast(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  Tensor& y = k.outputs[0];
  const std::size_t si = dtype_size(x.dtype()), so = dtype_size(y.dtype());
  parallel_for(x.num_elements(), kParallelGrain, [&](std::int64_t s, std::int64_t e) {
    convert_elements(static_cast<const char*>(raw(x)) + s * si, x.dtype(), static_cast<char*>(raw(y)) + s * so,
                     y.dtype(), e - s);
  });
}

void identity(KernelContext& k) { k.outputs[0] = make_view(k.inputs[0], k.inputs[0].shape()); }

}  // namespace duet::kernels
