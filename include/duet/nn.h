#pragma once
// Neural-network ops. Images are NHWC (batch, height, width, channels) and convolution filters HWIO
// (height, width, in_channels, out_channels), as in TensorFlow. Padding is "same" or "valid".
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "duet/tensor.h"

namespace duet {

struct Conv2DOptions {
  std::vector<std::int64_t> strides = {1, 1};
  std::string padding = "valid";
  std::vector<std::int64_t> dilation_rate = {1, 1};
};

// 2-D convolution (cross-correlation, as in every DL framework): input (N, H, W, C), filters (KH, KW, C, O).
[[nodiscard]] Tensor conv2d(const Tensor& input, const Tensor& filters, const Conv2DOptions& options = {});

// Transposed 2-D convolution (TensorFlow's conv2d_transpose): the input gradient of conv2d, input (N, H, W, C),
// filters (KH, KW, O, C), output (N, output_size[0], output_size[1], O); conv2d of the output's shape with the
// same filters and options must give the input's (H, W). conv_transpose_output_length gives Keras's sizes.
[[nodiscard]] Tensor conv2d_transpose(const Tensor& input, const Tensor& filters, std::vector<std::int64_t> output_size,
                                      const Conv2DOptions& options = {});
// Keras's output length of a transposed convolution along one dim, span = (kernel - 1) * dilation + 1:
// "valid": (in - 1) * stride + span + output_padding; "same": (in - 1) * stride + span % 2 + output_padding; with
// no output_padding (-1): "valid" (in - 1) * stride + max(span, stride), "same" in * stride. -1 for an unknown in.
[[nodiscard]] std::int64_t conv_transpose_output_length(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                                        const std::string& padding, std::int64_t output_padding = -1,
                                                        std::int64_t dilation = 1);

struct Pool2DOptions {
  std::vector<std::int64_t> pool_size = {2, 2};
  std::vector<std::int64_t> strides = {};  // default: pool_size
  std::string padding = "valid";
};

[[nodiscard]] Tensor max_pool2d(const Tensor& input, const Pool2DOptions& options = {});
// Average over the window; with "same" padding only real (not padded) elements are counted.
[[nodiscard]] Tensor avg_pool2d(const Tensor& input, const Pool2DOptions& options = {});

// exp(x) / sum(exp(x)) along axis, computed stably (the max is subtracted first).
[[nodiscard]] Tensor softmax(const Tensor& logits, std::int64_t axis = -1);
// x - log(sum(exp(x))) along axis, computed stably.
[[nodiscard]] Tensor log_softmax(const Tensor& logits, std::int64_t axis = -1);

// Zeroes each element with probability rate and scales the rest by 1/(1 - rate) when training;
// returns x unchanged otherwise. With `seed` the mask is the same on every call.
[[nodiscard]] Tensor dropout(const Tensor& x, double rate, bool training = true,
                             std::optional<std::uint64_t> seed = {});
// The same with the rate a scalar tensor read when the op runs (a hyperparameter; always dispatched when training).
[[nodiscard]] Tensor dropout(const Tensor& x, const Tensor& rate, bool training = true,
                             std::optional<std::uint64_t> seed = {});

// Per-example cross-entropy of integer class labels (...,) against logits (..., classes).
[[nodiscard]] Tensor sparse_softmax_cross_entropy_with_logits(const Tensor& labels, const Tensor& logits);
// Per-example cross-entropy of label distributions (..., classes) against logits (..., classes).
[[nodiscard]] Tensor softmax_cross_entropy_with_logits(const Tensor& labels, const Tensor& logits);

// x, unless x holds a NaN or an infinity: then NumericsError with `message` (traced: checked when the graph
// runs; its gradient is checked too).
[[nodiscard]] Tensor check_numerics(const Tensor& x, const std::string& message);
// Batch normalization with the batch's statistics (training mode), as one kernel forward and one backward:
// normalizes x (floating, channels last) over every axis but the last with the batch mean and biased
// variance, then y = gamma * xhat + beta, with gamma and beta of shape (channels,). Returns
// {y, mean, variance}. Gradients flow to x, gamma and beta (and through mean and variance); a second
// derivative through it is not supported. BatchNormalization layers use it while training.
[[nodiscard]] std::vector<Tensor> fused_batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                   double epsilon = 1e-3);

// x + bias along the last (channel) dim; bias has shape (channels,).
[[nodiscard]] Tensor bias_add(const Tensor& x, const Tensor& bias);

}  // namespace duet
