#pragma once
// CPU kernels, one per primitive. Kernels trust their inputs: inference has validated them.
#include "core/tensor_impl.h"
#include "kernels/kernel.h"

namespace duet::kernels {

// elementwise.cpp
void add(KernelContext& k);
void sub(KernelContext& k);
void mul(KernelContext& k);
void div(KernelContext& k);
void pow(KernelContext& k);
void maximum(KernelContext& k);
void minimum(KernelContext& k);
void equal(KernelContext& k);
void not_equal(KernelContext& k);
void less(KernelContext& k);
void less_equal(KernelContext& k);
void greater(KernelContext& k);
void greater_equal(KernelContext& k);
void logical_and(KernelContext& k);
void logical_or(KernelContext& k);
void logical_not(KernelContext& k);
void select(KernelContext& k);
void neg(KernelContext& k);
void abs(KernelContext& k);
void sign(KernelContext& k);
void exp(KernelContext& k);
void expm1(KernelContext& k);
void log(KernelContext& k);
void log1p(KernelContext& k);
void sqrt(KernelContext& k);
void rsqrt(KernelContext& k);
void sin(KernelContext& k);
void cos(KernelContext& k);
void tan(KernelContext& k);
void tanh(KernelContext& k);
void erf(KernelContext& k);
void sigmoid(KernelContext& k);
void relu(KernelContext& k);
void relu_grad(KernelContext& k);
void cast(KernelContext& k);
void identity(KernelContext& k);

// block_f32.cpp: float32 block kernels of elementwise ops (OpDef::block_f32), for fused groups.
namespace f32block {
void add(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void sub(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void mul(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void div(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void maximum(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void minimum(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void neg(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void abs(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void relu(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void relu_grad(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void sqrt(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void rsqrt(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void exp(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void expm1(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void log(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void log1p(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void sin(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void cos(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void tan(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void tanh(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void erf(const float* const* in, const bool* scalar, float* out, std::int64_t n);
void sigmoid(const float* const* in, const bool* scalar, float* out, std::int64_t n);
}  // namespace f32block

// reduce.cpp
struct NonFinite {
  std::int64_t nan = 0, inf = 0, first = -1;  // first: index of the first NaN/Inf
};
NonFinite count_nonfinite(const Tensor& t);  // float tensors
void check_numerics(KernelContext& k);
void reduce_sum(KernelContext& k);
void reduce_mean(KernelContext& k);
void reduce_max(KernelContext& k);
void reduce_min(KernelContext& k);
void reduce_prod(KernelContext& k);
void arg_max(KernelContext& k);
void arg_min(KernelContext& k);
void size(KernelContext& k);
void sum_to(KernelContext& k);

// linalg.cpp
void matmul(KernelContext& k);

// conv.cpp, pool.cpp
void conv2d(KernelContext& k);
void fused_conv2d(KernelContext& k);
void conv2d_backprop_input(KernelContext& k);
void conv2d_backprop_filter(KernelContext& k);
void max_pool2d(KernelContext& k);
void avg_pool2d(KernelContext& k);
void max_pool2d_grad(KernelContext& k);
void max_pool2d_grad_grad(KernelContext& k);
void avg_pool2d_grad(KernelContext& k);

// nn.cpp
void softmax(KernelContext& k);
void log_softmax(KernelContext& k);
void sparse_softmax_cross_entropy(KernelContext& k);
void softmax_cross_entropy(KernelContext& k);
void bias_add(KernelContext& k);
void dropout(KernelContext& k);

// shape.cpp
void reshape(KernelContext& k);
void transpose(KernelContext& k);
void concat(KernelContext& k);
void split(KernelContext& k);
void slice(KernelContext& k);
void pad_like(KernelContext& k);
void gather(KernelContext& k);
void scatter_add_like(KernelContext& k);
void one_hot(KernelContext& k);
void broadcast(KernelContext& k);
// y (allocated, of a shape x broadcasts to) = x broadcast (used by kernels that broadcast an operand).
void broadcast_copy(const Tensor& x, Tensor& y);

// random.cpp
void random_normal(KernelContext& k);
void random_uniform(KernelContext& k);
void truncated_normal(KernelContext& k);

}  // namespace duet::kernels
