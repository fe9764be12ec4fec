#pragma once
// CPU kernels, one per primitive. Kernels trust their inputs: inference has validated them.
#include "core/tensor_impl.h"
#include "kernels/kernel.h"

namespace duet::kernels {

// elementwise.cpp (the arithmetic and math ops are made from functors: kernels/elementwise_kernels.h)
void div(KernelContext& k);
void pow(KernelContext& k);
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
void cast(KernelContext& k);
void identity(KernelContext& k);

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
void cumsum(KernelContext& k);   // attrs axis, exclusive, reverse
void cumprod(KernelContext& k);  // the same
void arg_max(KernelContext& k);
void arg_min(KernelContext& k);
void size(KernelContext& k);
void sum_to(KernelContext& k);

// linalg.cpp
void matmul(KernelContext& k);
void matmul_sum(KernelContext& k);
double gemm_flops_per_ns_one_thread();  // measured once per process (cost models)  // MatMulSum: packs the terms along
                                        // the contraction dim, one matmul

// conv.cpp, pool.cpp
void conv2d(KernelContext& k);
void fused_conv2d(KernelContext& k);
void conv2d_backprop_input(KernelContext& k);
void conv2d_backprop_filter(KernelContext& k);
void conv2d_transpose(KernelContext& k);             // (input, filters) -> the input gradient of a conv of the output
void conv2d_backprop_filter_bias(KernelContext& k);  // (input, grad, filters_like) -> (dw, db)
void max_pool2d(KernelContext& k);
void avg_pool2d(KernelContext& k);
void max_pool2d_grad(KernelContext& k);
void max_pool2d_grad_relu(KernelContext& k);              // relu_grad(x, max_pool2d_grad(x, y, g)) in one pass
void conv2d_backprop_filter_bias_pool(KernelContext& k);  // the above, then conv2d_backprop_filter_bias
void fused_conv2d_pool(KernelContext& k);                 // (x, w, b) -> (fused_conv2d, max_pool2d of it)
void max_pool2d_grad_grad(KernelContext& k);
void avg_pool2d_grad(KernelContext& k);

// nn.cpp
void softmax(KernelContext& k);
void fused_batch_norm(KernelContext& k);       // (x, gamma, beta) -> (y, mean, variance)
void fused_batch_norm_relu(KernelContext& k);  // FusedBatchNormRelu: the same with relu on y
void fused_batch_norm_grad(
    KernelContext& k);  // (dy, x, mean, variance, gamma, dmean, dvariance) -> (dx, dgamma, dbeta)
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
// Split along the first axis without copying: each part is a view of its rows of the input.
void split_view(KernelContext& k);
void slice(KernelContext& k);
void pad_like(KernelContext& k);
// y = x with paddings (before, after per dim, flat) of constant_value around it.
void pad(KernelContext& k);
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
