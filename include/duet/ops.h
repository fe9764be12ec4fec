#pragma once
// duet's public ops: lowercase NumPy/TensorFlow names. Each runs eagerly on concrete tensors and is
// recorded when traced; gradients flow through every differentiable op. Binary ops broadcast
// (NumPy rules) and promote dtypes with promote_types (C++ literals follow the tensor's dtype).
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "duet/tensor.h"

namespace duet {

// ---- elementwise, binary ----------------------------------------------------------------------
[[nodiscard]] Tensor add(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor sub(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor mul(const Tensor& a, const Tensor& b);
// True division; integer inputs are divided as integers (truncating), as in C++.
[[nodiscard]] Tensor div(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor pow(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor maximum(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor minimum(const Tensor& a, const Tensor& b);
// Comparisons give bool tensors.
[[nodiscard]] Tensor equal(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor not_equal(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor less(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor less_equal(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor greater(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor greater_equal(const Tensor& a, const Tensor& b);
// Logical ops take bool tensors.
[[nodiscard]] Tensor logical_and(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor logical_or(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor logical_not(const Tensor& x);
// Python's // and % (TensorFlow's floordiv and floormod): the quotient rounded toward minus infinity, and
// the remainder with the divisor's sign, a == floor_div(a, b) * b + floor_mod(a, b). Integer tensors stay
// integers (a zero divisor throws); floats give floor(a / b) and a - floor(a / b) * b.
[[nodiscard]] Tensor floor_div(const Tensor& a, const Tensor& b);
[[nodiscard]] Tensor floor_mod(const Tensor& a, const Tensor& b);
// Elementwise choice: cond ? a : b, all three broadcast together.
[[nodiscard]] Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- elementwise, unary -----------------------------------------------------------------------
[[nodiscard]] Tensor neg(const Tensor& x);
[[nodiscard]] Tensor abs(const Tensor& x);
[[nodiscard]] Tensor sign(const Tensor& x);
// Rounding of floating tensors to integral values (same dtype): floor, ceil, and round half to even
// (TensorFlow's round: 0.5 -> 0, 1.5 -> 2, -2.5 -> -2). Their gradients are zero.
[[nodiscard]] Tensor floor(const Tensor& x);
[[nodiscard]] Tensor ceil(const Tensor& x);
[[nodiscard]] Tensor round(const Tensor& x);
[[nodiscard]] Tensor exp(const Tensor& x);
// exp(x) - 1, accurate near 0.
[[nodiscard]] Tensor expm1(const Tensor& x);
[[nodiscard]] Tensor log(const Tensor& x);
[[nodiscard]] Tensor log1p(const Tensor& x);
[[nodiscard]] Tensor sqrt(const Tensor& x);
[[nodiscard]] Tensor rsqrt(const Tensor& x);
[[nodiscard]] Tensor square(const Tensor& x);
[[nodiscard]] Tensor sin(const Tensor& x);
[[nodiscard]] Tensor cos(const Tensor& x);
[[nodiscard]] Tensor tan(const Tensor& x);
[[nodiscard]] Tensor tanh(const Tensor& x);
// The arc tangent, in (-pi/2, pi/2).
[[nodiscard]] Tensor atan(const Tensor& x);
[[nodiscard]] Tensor erf(const Tensor& x);
[[nodiscard]] Tensor sigmoid(const Tensor& x);
[[nodiscard]] Tensor relu(const Tensor& x);
// x if x > 0 else alpha * (exp(x) - 1).
[[nodiscard]] Tensor elu(const Tensor& x, double alpha = 1.0);
// Gaussian error linear unit; approximate=true uses the tanh form.
[[nodiscard]] Tensor gelu(const Tensor& x, bool approximate = false);
// log(1 + exp(x)), computed stably.
[[nodiscard]] Tensor softplus(const Tensor& x);
// min(max(x, 0), 6).
[[nodiscard]] Tensor relu6(const Tensor& x);
// x if x > 0 else alpha * x (TensorFlow's and Keras's default alpha, 0.2).
[[nodiscard]] Tensor leaky_relu(const Tensor& x, double alpha = 0.2);
// Scaled elu: 1.0507 * elu(x, 1.67326), the constants of Klambauer et al. (self-normalizing networks).
[[nodiscard]] Tensor selu(const Tensor& x);
// x * sigmoid(beta * x) (swish).
[[nodiscard]] Tensor silu(const Tensor& x, double beta = 1.0);
// x / (1 + |x|).
[[nodiscard]] Tensor softsign(const Tensor& x);
// log(sigmoid(x)) = -softplus(-x), computed stably.
[[nodiscard]] Tensor log_sigmoid(const Tensor& x);
[[nodiscard]] Tensor clip(const Tensor& x, double lo, double hi);
[[nodiscard]] Tensor cast(const Tensor& x, DType dtype);
// Identity whose gradient is zero (the tape treats the result as a constant).
[[nodiscard]] Tensor stop_gradient(const Tensor& x);
[[nodiscard]] Tensor identity(const Tensor& x);

// ---- reductions (axes may be negative; no axes = all axes) --------------------------------------
[[nodiscard]] Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdims = false);
[[nodiscard]] Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdims = false);
[[nodiscard]] Tensor max(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdims = false);
[[nodiscard]] Tensor min(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdims = false);
[[nodiscard]] Tensor prod(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdims = false);
// Running sum/product along axis (tf.math.cumsum/cumprod): exclusive leaves each element out of its own
// result (the first is 0 or 1), reverse runs from the end. cumsum([a, b, c]) = [a, a + b, a + b + c].
[[nodiscard]] Tensor cumsum(const Tensor& x, std::int64_t axis = 0, bool exclusive = false, bool reverse = false);
[[nodiscard]] Tensor cumprod(const Tensor& x, std::int64_t axis = 0, bool exclusive = false, bool reverse = false);
// Index of the largest/smallest element along axis (int64).
[[nodiscard]] Tensor argmax(const Tensor& x, std::int64_t axis = -1);
[[nodiscard]] Tensor argmin(const Tensor& x, std::int64_t axis = -1);
// Number of elements of x along axes (all by default), as a scalar of dtype; known at run time.
[[nodiscard]] Tensor size(const Tensor& x, const std::vector<std::int64_t>& axes = {}, DType dtype = DType::Int64);

// ---- shape ops (the helpers gradients are written with are in duet/gradient_ops.h)
// -------------------------------------------------------------------------------- One dim may be -1 (inferred). Shares
// the buffer (no copy).
[[nodiscard]] Tensor reshape(const Tensor& x, std::vector<std::int64_t> shape);
// Permutes dims; no perm reverses them.
[[nodiscard]] Tensor transpose(const Tensor& x, std::vector<std::int64_t> perm = {});
[[nodiscard]] Tensor expand_dims(const Tensor& x, std::int64_t axis);
// Removes the given size-1 dims (all size-1 dims when none are given).
[[nodiscard]] Tensor squeeze(const Tensor& x, std::vector<std::int64_t> axes = {});
[[nodiscard]] Tensor concat(const std::vector<Tensor>& xs, std::int64_t axis);
[[nodiscard]] Tensor stack(const std::vector<Tensor>& xs, std::int64_t axis = 0);
// Splits into `num` equal parts along axis.
[[nodiscard]] std::vector<Tensor> split(const Tensor& x, std::int64_t num, std::int64_t axis = 0);
// Splits into parts of the given sizes (one may be -1).
[[nodiscard]] std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t axis);
// x[begin : begin + size] per dim; a size of -1 means "to the end".
[[nodiscard]] Tensor slice(const Tensor& x, std::vector<std::int64_t> begin, std::vector<std::int64_t> size);
// x with `paddings[d] = {before, after}` elements of constant_value added around each dim d (tf.pad, "CONSTANT").
[[nodiscard]] Tensor pad(const Tensor& x, const std::vector<std::pair<std::int64_t, std::int64_t>>& paddings,
                         double constant_value = 0);
// Rows of params (along axis) picked by integer indices: out shape = params[:axis] + indices + params[axis+1:].
[[nodiscard]] Tensor gather(const Tensor& params, const Tensor& indices, std::int64_t axis = 0);
[[nodiscard]] Tensor one_hot(const Tensor& indices, std::int64_t depth, double on_value = 1.0, double off_value = 0.0,
                             DType dtype = DType::Float32);
[[nodiscard]] Tensor broadcast_to(const Tensor& x, const Shape& shape);

// ---- operators ----------------------------------------------------------------------------------
namespace internal {
// A C++ literal is weakly typed: it takes the tensor's dtype, except that a floating literal with an
// integer or bool tensor gives float32 and an integer literal with a bool tensor gives int32. An integer
// literal that does not fit the integer dtype it takes (int32 + 2^33) throws ValueError.
[[nodiscard]] Tensor weak_scalar(const Tensor& like, double v, bool is_float);
[[nodiscard]] Tensor weak_scalar_int(const Tensor& like, std::int64_t v, bool above_int64 = false);
template <class S>
[[nodiscard]] Tensor lit(const Tensor& like, S v) {
  if constexpr (std::is_integral_v<S> && !std::is_same_v<S, bool>) {
    if constexpr (std::is_unsigned_v<S> && sizeof(S) >= sizeof(std::int64_t)) {
      if (v > static_cast<S>(INT64_MAX)) return weak_scalar_int(like, 0, true);
    }
    return weak_scalar_int(like, static_cast<std::int64_t>(v));
  } else {
    return weak_scalar(like, static_cast<double>(v), std::is_floating_point_v<S>);
  }
}
}  // namespace internal

template <class S>
concept Scalar = std::is_arithmetic_v<S>;

#define DUET_BINARY_OPERATOR(OP, FN)                                                             \
  [[nodiscard]] inline Tensor operator OP(const Tensor& a, const Tensor& b) { return FN(a, b); } \
  template <Scalar S>                                                                            \
  Tensor operator OP(const Tensor& a, S b) {                                                     \
    return FN(a, internal::lit(a, b));                                                           \
  }                                                                                              \
  template <Scalar S>                                                                            \
  Tensor operator OP(S a, const Tensor& b) {                                                     \
    return FN(internal::lit(b, a), b);                                                           \
  }
DUET_BINARY_OPERATOR(+, add)
DUET_BINARY_OPERATOR(-, sub)
DUET_BINARY_OPERATOR(*, mul)
DUET_BINARY_OPERATOR(/, div)
DUET_BINARY_OPERATOR(==, equal)
DUET_BINARY_OPERATOR(!=, not_equal)
DUET_BINARY_OPERATOR(<, less)
DUET_BINARY_OPERATOR(<=, less_equal)
DUET_BINARY_OPERATOR(>, greater)
DUET_BINARY_OPERATOR(>=, greater_equal)
DUET_BINARY_OPERATOR(&, logical_and)
DUET_BINARY_OPERATOR(|, logical_or)
#undef DUET_BINARY_OPERATOR

inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator!(const Tensor& x) { return logical_not(x); }
inline Tensor& operator+=(Tensor& a, const Tensor& b) { return a = add(a, b); }
inline Tensor& operator-=(Tensor& a, const Tensor& b) { return a = sub(a, b); }
inline Tensor& operator*=(Tensor& a, const Tensor& b) { return a = mul(a, b); }
inline Tensor& operator/=(Tensor& a, const Tensor& b) { return a = div(a, b); }

// Scalar overloads for the binary functions: pow(x, 2.f), maximum(x, 0.f), ...
#define DUET_SCALAR_OVERLOAD(FN)       \
  template <Scalar S>                  \
  Tensor FN(const Tensor& a, S b) {    \
    return FN(a, internal::lit(a, b)); \
  }                                    \
  template <Scalar S>                  \
  Tensor FN(S a, const Tensor& b) {    \
    return FN(internal::lit(b, a), b); \
  }
DUET_SCALAR_OVERLOAD(add)
DUET_SCALAR_OVERLOAD(sub)
DUET_SCALAR_OVERLOAD(mul)
DUET_SCALAR_OVERLOAD(div)
DUET_SCALAR_OVERLOAD(pow)
DUET_SCALAR_OVERLOAD(maximum)
DUET_SCALAR_OVERLOAD(minimum)
DUET_SCALAR_OVERLOAD(equal)
DUET_SCALAR_OVERLOAD(not_equal)
DUET_SCALAR_OVERLOAD(less)
DUET_SCALAR_OVERLOAD(less_equal)
DUET_SCALAR_OVERLOAD(greater)
DUET_SCALAR_OVERLOAD(greater_equal)
#undef DUET_SCALAR_OVERLOAD

}  // namespace duet
