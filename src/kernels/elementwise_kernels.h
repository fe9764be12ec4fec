#pragma once
// Kernels made from an elementwise functor (kernels/elementwise_fns.h): the general kernel (every dtype,
// NumPy broadcasting, threads) and the float32 block kernel of fused groups (OpDef::block_f32). An op's OpDef
// names them: .kernel = kernels::unary<fn::Exp>, .block_f32 = kernels::unary_block<fn::Exp>.
#include <algorithm>
#include <type_traits>

#include "core/convert.h"
#include "core/tensor_impl.h"
#include "kernels/broadcast.h"
#include "kernels/elementwise_fns.h"
#include "kernels/kernel.h"
#include "kernels/parallel.h"
#include "kernels/vmath.h"

namespace duet::kernels {

template <class F>
concept HasVectorMath = requires {
  F::vm;
};
// F::vm, read through a function so that a discarded branch naming it compiles for functors without one.
template <class F>
constexpr vmath::Fn vector_math() {
  if constexpr (HasVectorMath<F>)
    return F::vm;
  else
    return vmath::Fn::Exp;  // never used
}

// out = f(a, b) with broadcasting; same-shape and scalar operands take flat, vectorizable loops.
template <class In, class Out, class F>
void binary_loop(KernelContext& k, F f) {
  const Tensor& a = k.inputs[0];
  const Tensor& b = k.inputs[1];
  const In* pa = ptr<In>(a);
  const In* pb = ptr<In>(b);
  Out* po = ptr<Out>(k.outputs[0]);
  const std::int64_t n = k.outputs[0].num_elements(), na = a.num_elements(), nb = b.num_elements();
  if (na == n && nb == n) {
    parallel_for(n, kParallelGrain, [&](std::int64_t s, std::int64_t e) {
      for (std::int64_t i = s; i < e; ++i) po[i] = static_cast<Out>(f(pa[i], pb[i]));
    });
  } else if (nb == 1 && na == n) {
    const In y = pb[0];
    parallel_for(n, kParallelGrain, [&](std::int64_t s, std::int64_t e) {
      for (std::int64_t i = s; i < e; ++i) po[i] = static_cast<Out>(f(pa[i], y));
    });
  } else if (na == 1 && nb == n) {
    const In x = pa[0];
    parallel_for(n, kParallelGrain, [&](std::int64_t s, std::int64_t e) {
      for (std::int64_t i = s; i < e; ++i) po[i] = static_cast<Out>(f(x, pb[i]));
    });
  } else {
    const Shape* ins[2] = {&a.shape(), &b.shape()};
    BroadcastPlan p = make_broadcast_plan(k.outputs[0].shape(), ins, 2);
    const std::int64_t sa = p.strides[0][p.rank - 1], sb = p.strides[1][p.rank - 1];
    for_each_row(p, [&](std::int64_t o, const std::int64_t* off, std::int64_t len) {
      const In* xa = pa + off[0];
      const In* xb = pb + off[1];
      Out* y = po + o;
      if (sa && sb) {
        for (std::int64_t i = 0; i < len; ++i) y[i] = static_cast<Out>(f(xa[i], xb[i]));
      } else if (sa) {
        for (std::int64_t i = 0; i < len; ++i) y[i] = static_cast<Out>(f(xa[i], xb[0]));
      } else if (sb) {
        for (std::int64_t i = 0; i < len; ++i) y[i] = static_cast<Out>(f(xa[0], xb[i]));
      } else {
        for (std::int64_t i = 0; i < len; ++i) y[i] = static_cast<Out>(f(xa[0], xb[0]));
      }
    });
  }
}

// y = F(x), the result in x's dtype.
template <class F>
void unary(KernelContext& k) {
  const Tensor& x = k.inputs[0];
  Tensor& y = k.outputs[0];
  visit_dtype(x.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* px = ptr<T>(x);
    T* py = ptr<T>(y);
    if constexpr (std::is_floating_point_v<T> && HasVectorMath<F>) {
      parallel_for(x.num_elements(), kParallelGrain / 4,
                   [&](std::int64_t s, std::int64_t e) { vmath::apply(vector_math<F>(), px + s, py + s, e - s); });
    } else {
      parallel_for(x.num_elements(), kParallelGrain, [&](std::int64_t s, std::int64_t e) {
        for (std::int64_t i = s; i < e; ++i) py[i] = static_cast<T>(F{}(px[i]));
      });
    }
  });
}

// out = F(a, b) with broadcasting, the result in the inputs' dtype.
template <class F>
void binary(KernelContext& k) {
  visit_dtype(k.inputs[0].dtype(), [&](auto z) {
    using T = decltype(z);
    binary_loop<T, T>(k, F{});
  });
}

// Float32 block kernels for fused groups: a fused group runs its members one after another over blocks that
// stay in L1, so these are plain loops over raw pointers (no tensors, no threads: the group splits its blocks
// across threads). in[j] points at n values, or at one value broadcast to all n when scalar[j].
template <class F>
void unary_block(const float* const* in, const bool* scalar, float* __restrict out, std::int64_t n) {
  const float* __restrict a = in[0];
  if constexpr (HasVectorMath<F>) {
    vmath::apply(vector_math<F>(), a, out, scalar[0] ? 1 : n);
    if (scalar[0]) std::fill(out + 1, out + n, out[0]);
  } else if (scalar[0]) {
    std::fill(out, out + n, F{}(a[0]));
  } else {
    for (std::int64_t i = 0; i < n; ++i) out[i] = F{}(a[i]);
  }
}

template <class F>
void binary_block(const float* const* in, const bool* scalar, float* __restrict out, std::int64_t n) {
  const float* __restrict a = in[0];
  const float* __restrict b = in[1];
  const F f{};
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

}  // namespace duet::kernels
