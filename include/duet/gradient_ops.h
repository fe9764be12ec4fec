#pragma once
// The ops gradients are written with: the adjoints of broadcasting, slicing, gathering, relu, sigmoid, tanh,
// convolution and pooling. Each is an ordinary differentiable op (so gradients of gradients work); include this header
// to write custom gradients (HostFunctionOptions::gradient) with them. Not part of duet/duet.h.
#include <cstdint>
#include <vector>

#include "duet/nn.h"
#include "duet/tensor.h"

namespace duet {

// The gradient of relu from its output: dy where y > 0, else 0 (one pass; used by relu's gradient).
[[nodiscard]] Tensor relu_grad(const Tensor& y, const Tensor& dy);
// The gradients of sigmoid and tanh from their output, each one pass: dy * y * (1 - y) and dy * (1 - y * y)
// (float dtypes; y and dy broadcast).
[[nodiscard]] Tensor sigmoid_grad(const Tensor& y, const Tensor& dy);
[[nodiscard]] Tensor tanh_grad(const Tensor& y, const Tensor& dy);
// Reshapes x to the run-time shape of like.
[[nodiscard]] Tensor reshape_like(const Tensor& x, const Tensor& like);
// Zeros shaped like `like`, with x written at offset begin (the gradient of slice).
[[nodiscard]] Tensor pad_like(const Tensor& x, const Tensor& like, std::vector<std::int64_t> begin);
// The box of x at offset begin shaped like `like` (the gradient of pad).
[[nodiscard]] Tensor slice_like(const Tensor& x, const Tensor& like, std::vector<std::int64_t> begin);
// Zeros shaped like `like`, with updates added at the gathered positions (the gradient of gather).
[[nodiscard]] Tensor scatter_add_like(const Tensor& updates, const Tensor& indices, const Tensor& like,
                                      std::int64_t axis = 0);
// Broadcasts x to the run-time shape of like.
[[nodiscard]] Tensor broadcast_like(const Tensor& x, const Tensor& like);
// Sums x down to the run-time shape of like (undoes broadcasting).
[[nodiscard]] Tensor sum_to(const Tensor& x, const Tensor& like);

// Gradient of conv2d with respect to its input, shaped like `input_like` (also a differentiable op).
[[nodiscard]] Tensor conv2d_backprop_input(const Tensor& grad, const Tensor& filters, const Tensor& input_like,
                                           const Conv2DOptions& options = {});
// Gradient of conv2d with respect to its filters, shaped like `filters_like`.
[[nodiscard]] Tensor conv2d_backprop_filter(const Tensor& input, const Tensor& grad, const Tensor& filters_like,
                                            const Conv2DOptions& options = {});
// Gradients of the pools (differentiable ops themselves).
[[nodiscard]] Tensor max_pool2d_grad(const Tensor& input, const Tensor& output, const Tensor& grad,
                                     const Pool2DOptions& options = {});
[[nodiscard]] Tensor avg_pool2d_grad(const Tensor& grad, const Tensor& input_like, const Pool2DOptions& options = {});
// The adjoint of max_pool2d_grad in `grad`: picks dd at each window's max (second-order gradients).
[[nodiscard]] Tensor max_pool2d_grad_grad(const Tensor& input, const Tensor& output, const Tensor& dd,
                                          const Pool2DOptions& options = {});

}  // namespace duet
