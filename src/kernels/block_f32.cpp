// Float32 block kernels for fused elementwise groups (OpDef::block_f32). A fused group runs its members
// one after another over blocks that stay in L1, so these are plain loops over raw pointers: no tensors,
// no threading (the group splits its blocks across threads), no dispatch.
#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/scalar_fns.h"
#include "kernels/vmath.h"

namespace duet::kernels::f32block {
namespace {

template <class F>
void binary(const float* const* in, const bool* scalar, float* __restrict out, std::int64_t n, F f) {
  const float* __restrict a = in[0];
  const float* __restrict b = in[1];
  if (!scalar[0] && !scalar[1]) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (!scalar[0]) {
    const float y = b[0];
    for (std::int64_t i = 0; i < n; ++i) out[i] = f(a[i], y);
  } else if (!scalar[1]) {
    const float x = a[0];
    for (std::int64_t i = 0; i < n; ++i) out[i] = f(x, b[i]);
  } else {
    std::fill(out, out + n, f(a[0], b[0]));
  }
}

template <class F>
void unary(const float* const* in, const bool* scalar, float* __restrict out, std::int64_t n, F f) {
  const float* __restrict a = in[0];
  if (scalar[0]) {
    std::fill(out, out + n, f(a[0]));
  } else {
    for (std::int64_t i = 0; i < n; ++i) out[i] = f(a[i]);
  }
}

void math(vmath::Fn fn, const float* const* in, const bool* scalar, float* out, std::int64_t n) {
  if (scalar[0]) {
    vmath::apply(fn, in[0], out, 1);
    std::fill(out + 1, out + n, out[0]);
  } else {
    vmath::apply(fn, in[0], out, n);
  }
}

}  // namespace

void add(const float* const* in, const bool* s, float* out, std::int64_t n) { binary(in, s, out, n, fn::Add{}); }
void sub(const float* const* in, const bool* s, float* out, std::int64_t n) { binary(in, s, out, n, fn::Sub{}); }
void mul(const float* const* in, const bool* s, float* out, std::int64_t n) { binary(in, s, out, n, fn::Mul{}); }
void div(const float* const* in, const bool* s, float* out, std::int64_t n) { binary(in, s, out, n, fn::Div{}); }
void maximum(const float* const* in, const bool* s, float* out, std::int64_t n) { binary(in, s, out, n, fn::Maximum{}); }
void minimum(const float* const* in, const bool* s, float* out, std::int64_t n) { binary(in, s, out, n, fn::Minimum{}); }
void relu_grad(const float* const* in, const bool* s, float* out, std::int64_t n) { binary(in, s, out, n, fn::ReluGrad{}); }
void neg(const float* const* in, const bool* s, float* out, std::int64_t n) { unary(in, s, out, n, fn::Neg{}); }
void abs(const float* const* in, const bool* s, float* out, std::int64_t n) { unary(in, s, out, n, fn::Abs{}); }
void relu(const float* const* in, const bool* s, float* out, std::int64_t n) { unary(in, s, out, n, fn::Relu{}); }
void sqrt(const float* const* in, const bool* s, float* out, std::int64_t n) { unary(in, s, out, n, fn::Sqrt{}); }
void rsqrt(const float* const* in, const bool* s, float* out, std::int64_t n) { unary(in, s, out, n, fn::Rsqrt{}); }
void exp(const float* const* in, const bool* s, float* out, std::int64_t n) { math(vmath::Fn::Exp, in, s, out, n); }
void expm1(const float* const* in, const bool* s, float* out, std::int64_t n) { math(vmath::Fn::Expm1, in, s, out, n); }
void log(const float* const* in, const bool* s, float* out, std::int64_t n) { math(vmath::Fn::Log, in, s, out, n); }
void log1p(const float* const* in, const bool* s, float* out, std::int64_t n) { math(vmath::Fn::Log1p, in, s, out, n); }
void sin(const float* const* in, const bool* s, float* out, std::int64_t n) { math(vmath::Fn::Sin, in, s, out, n); }
void cos(const float* const* in, const bool* s, float* out, std::int64_t n) { math(vmath::Fn::Cos, in, s, out, n); }
void tan(const float* const* in, const bool* s, float* out, std::int64_t n) { math(vmath::Fn::Tan, in, s, out, n); }
void tanh(const float* const* in, const bool* s, float* out, std::int64_t n) { math(vmath::Fn::Tanh, in, s, out, n); }
void erf(const float* const* in, const bool* s, float* out, std::int64_t n) { math(vmath::Fn::Erf, in, s, out, n); }
void sigmoid(const float* const* in, const bool* s, float* out, std::int64_t n) { math(vmath::Fn::Sigmoid, in, s, out, n); }

}  // namespace duet::kernels::f32block
