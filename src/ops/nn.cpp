// softmax/log_softmax, cross-entropies, bias_add, dropout, fused batch normalization.
#include "duet/nn.h"

#include <cmath>

#include "duet/gradient_ops.h"
#include "duet/ops.h"
#include "kernels/kernels.h"
#include "ops/api.h"
#include "ops/fused.h"
#include "ops/infer_util.h"
#include "ops/registry.h"

namespace duet {
namespace {

void infer_softmax(InferContext& c) {
  require_floating(c, 0);
  normalize_axis(c, c.attrs.i("axis"), c.shape(0).rank());
  c.set_output(c.dtype(0), c.shape(0));
}

void infer_sparse_ce(InferContext& c) {  // (labels, logits)
  const Shape& l = c.shape(0);
  const Shape& x = c.shape(1);
  if (!is_integral(c.dtype(0))) {
    c.dtype_error(std::string("labels must be int32 or int64 class indices, got ") + dtype_name(c.dtype(0)) + " " +
                  l.str() + "; for one-hot or probability labels use softmax_cross_entropy_with_logits");
  }
  require_floating(c, 1);
  if (x.rank() < 1 || l.rank() != x.rank() - 1 ||
      !Shape(std::span<const std::int64_t>(x.begin(), x.end() - 1)).compatible_with(l)) {
    c.shape_error("labels " + l.str() + " must have the shape of logits " + x.str() + " without its last (class) dim");
  }
  c.set_output(c.dtype(1), l);
}

void infer_dense_ce(InferContext& c) {  // (labels, logits)
  require_same_dtypes(c);
  require_floating(c, 1);
  const Shape& l = c.shape(0);
  const Shape& x = c.shape(1);
  if (x.rank() < 1 || !l.compatible_with(x)) {
    c.shape_error("labels " + l.str() + " and logits " + x.str() + " must have the same shape (..., classes)");
  }
  c.set_output(c.dtype(1), Shape(std::span<const std::int64_t>(x.begin(), x.end() - 1)));
}

void infer_bias_add(InferContext& c) {
  require_same_dtypes(c);
  require_numeric(c, 0);
  const Shape& x = c.shape(0);
  const Shape& b = c.shape(1);
  if (b.rank() != 1 || x.rank() < 1 || (x[x.rank() - 1] >= 0 && b[0] >= 0 && x[x.rank() - 1] != b[0])) {
    c.shape_error("bias must have shape (channels,) matching the last dim of x: x " + x.str() + ", bias " + b.str());
  }
  c.set_output(c.dtype(0), x);
}

// (x, rate): the rate is a scalar read when the op runs (a Dropout layer's rate is a hyperparameter).
void infer_dropout(InferContext& c) {
  require_floating(c, 0);
  require_floating(c, 1);
  if (c.shape(1).rank() != 0) c.shape_error("rate must be a scalar, got shape " + c.shape(1).str());
  c.set_output(c.dtype(0), c.shape(0));
  c.set_output(c.dtype(0), c.shape(0));
}

// d softmax: dx = y (g - sum(g y))
std::vector<Tensor> grad_softmax(const GradContext& c) {
  const Tensor& y = c.outputs[0];
  const Tensor& g = c.grads[0];
  std::int64_t axis = c.attrs.i("axis");
  return {y * (g - sum(g * y, {axis}, true))};
}
// d log_softmax: dx = g - softmax(x) sum(g)
std::vector<Tensor> grad_log_softmax(const GradContext& c) {
  const Tensor& g = c.grads[0];
  std::int64_t axis = c.attrs.i("axis");
  return {g - exp(c.outputs[0]) * sum(g, {axis}, true)};
}
// d/dlogits = g (softmax(logits) - one_hot(labels))
std::vector<Tensor> grad_sparse_ce(const GradContext& c) {
  const Tensor& logits = c.inputs[1];
  std::int64_t classes = logits.shape()[logits.rank() - 1];
  Tensor p = softmax(logits) - one_hot(c.inputs[0], classes, 1.0, 0.0, logits.dtype());
  return {Tensor(), expand_dims(c.grads[0], -1) * p};
}
// d/dlogits = g (softmax(logits) sum(labels) - labels); d/dlabels = -g log_softmax(logits)
std::vector<Tensor> grad_dense_ce(const GradContext& c) {
  const Tensor& labels = c.inputs[0];
  const Tensor& logits = c.inputs[1];
  Tensor g = expand_dims(c.grads[0], -1);
  Tensor dlogits = g * (softmax(logits) * sum(labels, {-1}, true) - labels);
  Tensor dlabels = neg(g * log_softmax(logits));
  return {dlabels, dlogits};
}
// d bias_add = (g, g summed over every dim but the last)
std::vector<Tensor> grad_bias_add(const GradContext& c) { return {c.grads[0], sum_to(c.grads[0], c.inputs[1])}; }
// d dropout = g * scale (the mask output)
std::vector<Tensor> grad_dropout(const GradContext& c) { return {c.grads[0] * c.outputs[1], Tensor()}; }

void infer_check_numerics(InferContext& c) {
  require_floating(c, 0);
  c.set_output(c.dtype(0), c.shape(0));
}
// The gradient is checked too (as TensorFlow's CheckNumerics).
std::vector<Tensor> grad_check_numerics(const GradContext& c) {
  return {check_numerics(c.grads[0], c.attrs.s("message") + " (gradient)")};
}

const OpDef kCheckNumerics{.name = "CheckNumerics",
                           .public_name = "check_numerics",
                           .num_inputs = 1,
                           .infer = infer_check_numerics,
                           .kernel = kernels::check_numerics,
                           .grad = grad_check_numerics,
                           .traits = kView | kNotFoldable};
const OpDef kSoftmax{.name = "Softmax",
                     .public_name = "softmax",
                     .num_inputs = 1,
                     .infer = infer_softmax,
                     .kernel = kernels::softmax,
                     .grad = grad_softmax,
                     .traits = 0};
const OpDef kLogSoftmax{.name = "LogSoftmax",
                        .public_name = "log_softmax",
                        .num_inputs = 1,
                        .infer = infer_softmax,
                        .kernel = kernels::log_softmax,
                        .grad = grad_log_softmax,
                        .traits = 0};
const OpDef kSparseCE{.name = "SparseSoftmaxCrossEntropyWithLogits",
                      .public_name = "sparse_softmax_cross_entropy_with_logits",
                      .num_inputs = 2,
                      .infer = infer_sparse_ce,
                      .kernel = kernels::sparse_softmax_cross_entropy,
                      .grad = grad_sparse_ce,
                      .traits = 0};
const OpDef kDenseCE{.name = "SoftmaxCrossEntropyWithLogits",
                     .public_name = "softmax_cross_entropy_with_logits",
                     .num_inputs = 2,
                     .infer = infer_dense_ce,
                     .kernel = kernels::softmax_cross_entropy,
                     .grad = grad_dense_ce,
                     .traits = 0};
const OpDef kBiasAdd{.name = "BiasAdd",
                     .public_name = "bias_add",
                     .num_inputs = 2,
                     .infer = infer_bias_add,
                     .kernel = kernels::bias_add,
                     .grad = grad_bias_add,
                     .traits = 0};
const OpDef kDropout{.name = "Dropout",
                     .public_name = "dropout",
                     .num_inputs = 2,
                     .infer = infer_dropout,
                     .kernel = kernels::dropout,
                     .grad = grad_dropout,
                     .traits = kStateful | kRandom};

// (x, gamma, beta; epsilon) -> (y, mean, variance) over every axis but the last.
void infer_fused_batch_norm(InferContext& c) {
  require_same_dtypes(c);
  require_floating(c, 0);
  const Shape& x = c.shape(0);
  if (x.rank() < 1) c.shape_error("needs an input with a channel axis (rank >= 1), got a scalar");
  const std::int64_t ch = x[x.rank() - 1];
  std::int64_t C = ch;
  for (std::size_t i = 1; i < 3; ++i) {
    const Shape& p = c.shape(i);
    if (p.rank() != 1 || (ch >= 0 && p[0] >= 0 && p[0] != ch)) {
      c.shape_error(std::string(i == 1 ? "gamma" : "beta") +
                    " must have shape (channels,) matching the last dim of x: x " + x.str() + ", " +
                    (i == 1 ? "gamma " : "beta ") + p.str());
    }
    if (C < 0) C = p[0];
  }
  const double eps = c.attrs.f("epsilon");
  if (!(eps >= 0) || !std::isfinite(eps)) c.value_error("epsilon must be finite and >= 0, got " + std::to_string(eps));
  c.set_output(c.dtype(0), x);
  c.set_output(c.dtype(0), Shape{C});
  c.set_output(c.dtype(0), Shape{C});
}

// (dy, x, mean, variance, gamma, dmean, dvariance; epsilon) -> (dx, dgamma, dbeta).
void infer_fused_batch_norm_grad(InferContext& c) {
  require_same_dtypes(c);
  require_floating(c, 0);
  const Shape& x = c.shape(1);
  if (!c.shape(0).compatible_with(x) || x.rank() < 1)
    c.shape_error("dy " + c.shape(0).str() + " and x " + x.str() + " must have one shape with a channel axis");
  const std::int64_t ch = x[x.rank() - 1];
  for (std::size_t i = 2; i < 7; ++i) {
    const Shape& p = c.shape(i);
    if (p.rank() != 1 || (ch >= 0 && p[0] >= 0 && p[0] != ch))
      c.shape_error("statistics and gamma must have shape (channels,) matching x " + x.str() + ", got " + p.str());
  }
  c.set_output(c.dtype(0), x);
  c.set_output(c.dtype(0), c.shape(4));
  c.set_output(c.dtype(0), c.shape(4));
}

// Recorded on tapes like any op, so a second derivative through batch normalization fails loudly here
// instead of silently missing this op's contribution.
std::vector<Tensor> grad_fused_batch_norm_grad(const GradContext& c) {
  throw ValueError("[fused_batch_norm] a second derivative through batch normalization is not supported (x " +
                   c.inputs[1].shape().str() +
                   "); compute it without nesting gradient tapes over a "
                   "BatchNormalization layer in training mode, or write the normalization with elementwise ops");
}

const OpDef kFusedBatchNormGrad{.name = "FusedBatchNormGrad",
                                .public_name = "fused_batch_norm_grad",
                                .num_inputs = 7,
                                .infer = infer_fused_batch_norm_grad,
                                .kernel = kernels::fused_batch_norm_grad,
                                .grad = grad_fused_batch_norm_grad,
                                .traits = 0};

std::vector<Tensor> grad_fused_batch_norm(const GradContext& c) {
  const Tensor ins[] = {c.grads[0], c.inputs[0], c.outputs[1], c.outputs[2], c.inputs[1], c.grads[1], c.grads[2]};
  Tensors r = dispatch(kFusedBatchNormGrad, std::span<const Tensor>(ins, 7), c.attrs);
  return {r[0], r[1], r[2]};
}

const OpDef kFusedBatchNorm{.name = "FusedBatchNorm",
                            .public_name = "fused_batch_norm",
                            .num_inputs = 3,
                            .infer = infer_fused_batch_norm,
                            .kernel = kernels::fused_batch_norm,
                            .grad = grad_fused_batch_norm,
                            .traits = 0};

// Graph-only (built by the batch_norm_relu pass after gradients): the relu applied as y is written.
const OpDef kFusedBatchNormRelu{.name = "FusedBatchNormRelu",
                                .public_name = "fused_batch_norm_relu",
                                .num_inputs = 3,
                                .infer = infer_fused_batch_norm,
                                .kernel = kernels::fused_batch_norm_relu,
                                .grad = nullptr,
                                .traits = 0};

std::int64_t positive_axis(const Tensor& x, std::int64_t axis) {
  return x.defined() && axis < 0 && axis >= -x.rank() ? axis + x.rank() : axis;
}

}  // namespace

static void register_nn_ops(std::vector<const OpDef*>& r) {
  for (const OpDef* d : {&kSoftmax, &kLogSoftmax, &kSparseCE, &kDenseCE, &kBiasAdd, &kDropout, &kCheckNumerics,
                         &kFusedBatchNorm, &kFusedBatchNormGrad, &kFusedBatchNormRelu})
    r.push_back(d);
}
const OpRegistration kRegisterNnOps{register_nn_ops};

Tensor softmax(const Tensor& x, std::int64_t axis) { return call(kSoftmax, {x}, {{"axis", positive_axis(x, axis)}}); }
Tensor log_softmax(const Tensor& x, std::int64_t axis) {
  return call(kLogSoftmax, {x}, {{"axis", positive_axis(x, axis)}});
}
Tensor sparse_softmax_cross_entropy_with_logits(const Tensor& labels, const Tensor& logits) {
  return call(kSparseCE, {labels, logits});
}
Tensor softmax_cross_entropy_with_logits(const Tensor& labels, const Tensor& logits) {
  return call(kDenseCE, {labels.defined() && logits.defined() ? cast(labels, logits.dtype()) : labels, logits});
}
Tensor bias_add(const Tensor& x, const Tensor& b) { return call(kBiasAdd, {x, b}); }
std::vector<Tensor> fused_batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double epsilon) {
  const Tensor ins[] = {x, gamma, beta};
  Tensors r = dispatch(kFusedBatchNorm, std::span<const Tensor>(ins, 3), {{"epsilon", epsilon}});
  return {r[0], r[1], r[2]};
}
Tensor check_numerics(const Tensor& x, const std::string& message) {
  return call(kCheckNumerics, {x}, {{"message", message}});
}
const OpDef& bias_add_op() { return kBiasAdd; }
const OpDef& fused_batch_norm_op() { return kFusedBatchNorm; }
const OpDef& fused_batch_norm_relu_op() { return kFusedBatchNormRelu; }
Tensor dropout(const Tensor& x, double rate, bool training, std::optional<std::uint64_t> seed) {
  if (!(rate >= 0 && rate < 1)) throw ValueError("[dropout] rate must be in [0, 1), got " + std::to_string(rate));
  if (!training || rate == 0) return x;
  return dropout(x, full({}, rate, DType::Float64), training, seed);
}
Tensor dropout(const Tensor& x, const Tensor& rate, bool training, std::optional<std::uint64_t> seed) {
  if (!training) return x;
  std::int64_t s = seed ? static_cast<std::int64_t>(*seed & 0x7fffffffffffffffULL) : -1;
  return call(kDropout, {x, rate}, {{"seed", s}});
}

// As TensorFlow names them (src/ops/api.h). tf.nn.softmax's axis=None is the last axis; tf.nn.dropout
// always drops (training); fused_batch_norm returns (y, batch mean, batch variance).
namespace {
std::int64_t last_axis_if_none(const std::vector<std::int64_t>& axis, const char* op) {
  if (axis.size() > 1) throw ValueError(std::string("[") + op + "] axis must be one int");
  return axis.empty() ? -1 : axis[0];
}
const api::ApiRegistration kNnApi{{
    api::fn(
        "softmax", "nn,math",
        +[](const Tensor& logits, const std::vector<std::int64_t>& axis) {
          return softmax(logits, last_axis_if_none(axis, "softmax"));
        },
        "logits, axis=None"),
    api::fn(
        "log_softmax", "nn,math",
        +[](const Tensor& logits, const std::vector<std::int64_t>& axis) {
          return log_softmax(logits, last_axis_if_none(axis, "log_softmax"));
        },
        "logits, axis=None"),
    api::fn(
        "dropout", "nn",
        +[](const Tensor& x, double rate, std::optional<std::uint64_t> seed) { return dropout(x, rate, true, seed); },
        "x, rate, seed=None"),
    api::fn("sparse_softmax_cross_entropy_with_logits", "nn", &sparse_softmax_cross_entropy_with_logits,
            "labels, logits"),
    api::fn("softmax_cross_entropy_with_logits", "nn", &softmax_cross_entropy_with_logits, "labels, logits"),
    api::fn("bias_add", "nn", &bias_add, "value, bias"),
    api::fn("check_numerics", "debugging", &check_numerics, "tensor, message"),
    api::fn("fused_batch_norm", "nn", &fused_batch_norm, "x, scale, offset, epsilon=0.001"),
}};
}  // namespace

}  // namespace duet
