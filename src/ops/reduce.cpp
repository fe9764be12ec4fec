// Reductions, argmax/argmin, size, and sum_to (the reduction that undoes broadcasting).
#include "duet/gradient_ops.h"
#include "duet/ops.h"
#include "kernels/kernels.h"
#include "ops/api.h"
#include "ops/fused.h"
#include "ops/infer_util.h"
#include "ops/registry.h"

namespace duet {
namespace {

void infer_reduce(InferContext& c) {
  require_numeric(c, 0);
  const Shape& x = c.shape(0);
  auto axes = normalize_axes(c, c.attrs.ints("axes"), x.rank());
  bool keep = c.attrs.b("keepdims");
  std::vector<bool> red(x.rank(), false);
  for (auto a : axes) red[a] = true;
  Shape out;
  for (int d = 0; d < x.rank(); ++d) {
    if (!red[d])
      out.push_back(x[d]);
    else if (keep)
      out.push_back(1);
  }
  c.set_output(c.dtype(0), out);
}

void infer_minmax(InferContext& c) {
  infer_reduce(c);
  const Shape& x = c.shape(0);
  for (auto a : c.attrs.ints("axes")) {
    if (x[static_cast<int>(a)] == 0) {
      c.value_error("cannot reduce over axis " + std::to_string(a) + " of size 0 (shape " + x.str() +
                    "): the result has no identity element");
    }
  }
}

void infer_arg(InferContext& c) {
  require_numeric(c, 0);
  const Shape& x = c.shape(0);
  auto axis = normalize_axis(c, c.attrs.i("axis"), x.rank());
  if (x[static_cast<int>(axis)] == 0) c.value_error("cannot take the arg of an empty axis (shape " + x.str() + ")");
  Shape out;
  for (int d = 0; d < x.rank(); ++d)
    if (d != axis) out.push_back(x[d]);
  c.set_output(DType::Int64, out);
}

void infer_size(InferContext& c) {
  normalize_axes(c, c.attrs.ints("axes"), c.shape(0).rank());
  c.set_output(c.attrs.dtype("dtype"), Shape{});
}

void infer_sum_to(InferContext& c) {
  const Shape& x = c.shape(0);
  const Shape& t = c.shape(1);
  // like's shape must broadcast to x's shape.
  bool ok = t.rank() <= x.rank();
  for (int d = 0; ok && d < t.rank(); ++d) {
    std::int64_t td = t[d], xd = x[d + x.rank() - t.rank()];
    ok = td == 1 || td < 0 || xd < 0 || td == xd;
  }
  if (!ok)
    c.shape_error("cannot sum " + x.str() + " down to " + t.str() + ": the target does not broadcast to the source");
  c.set_output(c.dtype(0), t);
}

// Gradient of a reduction seen with its reduced dims kept (size 1), ready to broadcast against x.
Tensor keep_reduced_dims(const Tensor& g, const GradContext& c) {
  if (c.attrs.b("keepdims")) return g;
  Tensor r = g;
  for (auto a : c.attrs.ints("axes")) r = expand_dims(r, a);
  return r;
}

// d sum(x) = broadcast g back over the reduced axes
std::vector<Tensor> grad_sum(const GradContext& c) {
  return {broadcast_like(keep_reduced_dims(c.grads[0], c), c.inputs[0])};
}
// d mean(x) = g / n, broadcast back
std::vector<Tensor> grad_mean(const GradContext& c) {
  const Tensor& x = c.inputs[0];
  Tensor n = size(x, c.attrs.ints("axes"), x.dtype());
  return {broadcast_like(keep_reduced_dims(c.grads[0], c) / n, x)};
}
// d max(x): g is shared evenly by the elements equal to the max
std::vector<Tensor> grad_minmax(const GradContext& c) {
  const Tensor& x = c.inputs[0];
  Tensor y = keep_reduced_dims(c.outputs[0], c);
  Tensor mask = cast(equal(x, y), x.dtype());
  Tensor count = sum(mask, c.attrs.ints("axes"), true);
  return {mask * (keep_reduced_dims(c.grads[0], c) / count)};
}
// The product of the other elements along the reduced axes, with IEEE semantics and no division (y / x_i
// would be wrong at zeros and infinities): along one axis, the product of those before times the product of
// those after (two exclusive running products, as TensorFlow); over several, the others of the remaining
// axes within this slice times the others along the first axis of the slices' products.
Tensor product_of_others(const Tensor& x, std::span<const std::int64_t> axes) {
  Tensor along = cumprod(x, axes[0], true) * cumprod(x, axes[0], true, true);
  if (axes.size() == 1) return along;
  Tensor slices = prod(x, {axes.begin() + 1, axes.end()}, true);
  return (cumprod(slices, axes[0], true) * cumprod(slices, axes[0], true, true)) *
         product_of_others(x, axes.subspan(1));
}
// d prod(x)/dx_i = the product of the other elements ([inf, 1, 0, 2] -> [0, nan, inf, nan], as TensorFlow)
std::vector<Tensor> grad_prod(const GradContext& c) {
  const auto& axes = c.attrs.ints("axes");
  if (axes.empty()) return {broadcast_like(c.grads[0], c.inputs[0])};
  return {keep_reduced_dims(c.grads[0], c) * product_of_others(c.inputs[0], axes)};
}

void infer_scan(InferContext& c) {
  require_numeric(c, 0);
  normalize_axis(c, c.attrs.i("axis"), c.shape(0).rank());
  c.set_output(c.dtype(0), c.shape(0));
}
// d cumsum(x) = the running sum of g the other way round (exclusive stays exclusive)
std::vector<Tensor> grad_cumsum(const GradContext& c) {
  return {cumsum(c.grads[0], c.attrs.i("axis"), c.attrs.b("exclusive"), !c.attrs.b("reverse"))};
}
// d cumprod(x)/dx_i = sum over k of g_k y_k / x_i (k at or after i): TensorFlow's rule, 0 where x_i is 0
// (like TensorFlow's, it holds where x has no zero).
std::vector<Tensor> grad_cumprod(const GradContext& c) {
  const Tensor& x = c.inputs[0];
  const std::int64_t axis = c.attrs.i("axis");
  const bool exclusive = c.attrs.b("exclusive"), reverse = c.attrs.b("reverse");
  Tensor summed = cumsum(c.outputs[0] * c.grads[0], axis, exclusive, !reverse);
  Tensor is_zero = equal(x, internal::lit(x, 0));
  return {where(is_zero, zeros_like(x), summed / where(is_zero, ones_like(x), x))};
}
// d sum_to(x) = broadcast g back to x
std::vector<Tensor> grad_sum_to(const GradContext& c) { return {broadcast_like(c.grads[0], c.inputs[0]), Tensor()}; }

const OpDef kSum{.name = "Sum",
                 .public_name = "sum",
                 .num_inputs = 1,
                 .infer = infer_reduce,
                 .kernel = kernels::reduce_sum,
                 .grad = grad_sum,
                 .traits = 0};
const OpDef kMean{.name = "Mean",
                  .public_name = "mean",
                  .num_inputs = 1,
                  .infer = infer_reduce,
                  .kernel = kernels::reduce_mean,
                  .grad = grad_mean,
                  .traits = 0};
const OpDef kMax{.name = "Max",
                 .public_name = "max",
                 .num_inputs = 1,
                 .infer = infer_minmax,
                 .kernel = kernels::reduce_max,
                 .grad = grad_minmax,
                 .traits = 0};
const OpDef kMin{.name = "Min",
                 .public_name = "min",
                 .num_inputs = 1,
                 .infer = infer_minmax,
                 .kernel = kernels::reduce_min,
                 .grad = grad_minmax,
                 .traits = 0};
const OpDef kProd{.name = "Prod",
                  .public_name = "prod",
                  .num_inputs = 1,
                  .infer = infer_reduce,
                  .kernel = kernels::reduce_prod,
                  .grad = grad_prod,
                  .traits = 0};
const OpDef kCumsum{.name = "Cumsum",
                    .public_name = "cumsum",
                    .num_inputs = 1,
                    .infer = infer_scan,
                    .kernel = kernels::cumsum,
                    .grad = grad_cumsum,
                    .traits = 0};
const OpDef kCumprod{.name = "Cumprod",
                     .public_name = "cumprod",
                     .num_inputs = 1,
                     .infer = infer_scan,
                     .kernel = kernels::cumprod,
                     .grad = grad_cumprod,
                     .traits = 0};
const OpDef kArgMax{.name = "ArgMax",
                    .public_name = "argmax",
                    .num_inputs = 1,
                    .infer = infer_arg,
                    .kernel = kernels::arg_max,
                    .grad = nullptr,
                    .traits = 0};
const OpDef kArgMin{.name = "ArgMin",
                    .public_name = "argmin",
                    .num_inputs = 1,
                    .infer = infer_arg,
                    .kernel = kernels::arg_min,
                    .grad = nullptr,
                    .traits = 0};
const OpDef kSize{.name = "Size",
                  .public_name = "size",
                  .num_inputs = 1,
                  .infer = infer_size,
                  .kernel = kernels::size,
                  .grad = nullptr,
                  .traits = 0};
const OpDef kSumTo{.name = "SumTo",
                   .public_name = "sum_to",
                   .num_inputs = 2,
                   .infer = infer_sum_to,
                   .kernel = kernels::sum_to,
                   .grad = grad_sum_to,
                   .traits = kView};

Tensor reduction(const OpDef& op, const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdims) {
  if (!x.defined()) return call(op, {x});
  return call(op, {x}, {{"axes", normalize_axes(op.public_name, axes, x.rank())}, {"keepdims", keepdims}});
}

}  // namespace

static void register_reduce_ops(std::vector<const OpDef*>& r) {
  for (const OpDef* d : {&kSum, &kMean, &kMax, &kMin, &kProd, &kCumsum, &kCumprod, &kArgMax, &kArgMin, &kSize, &kSumTo})
    r.push_back(d);
}
const OpRegistration kRegisterReduceOps{register_reduce_ops};
const OpDef& sum_to_op() { return kSumTo; }

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdims) {
  return reduction(kSum, x, axes, keepdims);
}
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdims) {
  return reduction(kMean, x, axes, keepdims);
}
Tensor max(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdims) {
  return reduction(kMax, x, axes, keepdims);
}
Tensor min(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdims) {
  return reduction(kMin, x, axes, keepdims);
}
Tensor prod(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdims) {
  return reduction(kProd, x, axes, keepdims);
}
// The kernels take a non-negative axis; out-of-range axes are left for inference to report.
std::int64_t positive_axis(const Tensor& x, std::int64_t axis) {
  return x.defined() && axis < 0 && axis >= -x.rank() ? axis + x.rank() : axis;
}
Tensor cumsum(const Tensor& x, std::int64_t axis, bool exclusive, bool reverse) {
  return call(kCumsum, {x}, {{"axis", positive_axis(x, axis)}, {"exclusive", exclusive}, {"reverse", reverse}});
}
Tensor cumprod(const Tensor& x, std::int64_t axis, bool exclusive, bool reverse) {
  return call(kCumprod, {x}, {{"axis", positive_axis(x, axis)}, {"exclusive", exclusive}, {"reverse", reverse}});
}
Tensor argmax(const Tensor& x, std::int64_t axis) { return call(kArgMax, {x}, {{"axis", positive_axis(x, axis)}}); }
Tensor argmin(const Tensor& x, std::int64_t axis) { return call(kArgMin, {x}, {{"axis", positive_axis(x, axis)}}); }
Tensor size(const Tensor& x, const std::vector<std::int64_t>& axes, DType dtype) {
  if (!x.defined()) return call(kSize, {x});
  return call(kSize, {x}, {{"axes", normalize_axes("size", axes, x.rank())}, {"dtype", dtype}});
}
Tensor sum_to(const Tensor& x, const Tensor& like) {
  // Static shortcut: nothing to reduce when the shapes are equal and fully known.
  if (x.defined() && like.defined() && x.shape() == like.shape() && x.shape().is_fully_known()) return x;
  return call(kSumTo, {x, like});
}

// As TensorFlow names them (src/ops/api.h). TensorFlow's argmax reduces axis 0 when none is given and
// returns int64 unless output_type says int32; size gives int32 by default.
namespace {
Tensor reduce_sum_api(const Tensor& x, const std::vector<std::int64_t>& axis, bool keepdims) {
  return sum(x, axis, keepdims);
}
Tensor reduce_mean_api(const Tensor& x, const std::vector<std::int64_t>& axis, bool keepdims) {
  return mean(x, axis, keepdims);
}
Tensor reduce_max_api(const Tensor& x, const std::vector<std::int64_t>& axis, bool keepdims) {
  return max(x, axis, keepdims);
}
Tensor reduce_min_api(const Tensor& x, const std::vector<std::int64_t>& axis, bool keepdims) {
  return min(x, axis, keepdims);
}
Tensor reduce_prod_api(const Tensor& x, const std::vector<std::int64_t>& axis, bool keepdims) {
  return prod(x, axis, keepdims);
}
Tensor arg_api(bool largest, const Tensor& x, const std::vector<std::int64_t>& axis, DType out) {
  if (axis.size() > 1)
    throw ValueError("[argmax] axis must be one int, got " + std::to_string(axis.size()) + " of them");
  Tensor r = largest ? argmax(x, axis.empty() ? 0 : axis[0]) : argmin(x, axis.empty() ? 0 : axis[0]);
  if (out != DType::Int64 && out != DType::Int32)
    throw DTypeError(std::string("[argmax] output_type must be int32 or int64, got ") + dtype_name(out));
  return out == DType::Int64 ? r : cast(r, out);
}
const api::ApiRegistration kReduceApi{{
    api::fn("reduce_sum", "math,.", &reduce_sum_api, "input_tensor, axis=None, keepdims=False"),
    api::fn("reduce_mean", "math,.", &reduce_mean_api, "input_tensor, axis=None, keepdims=False"),
    api::fn("reduce_max", "math,.", &reduce_max_api, "input_tensor, axis=None, keepdims=False"),
    api::fn("reduce_min", "math,.", &reduce_min_api, "input_tensor, axis=None, keepdims=False"),
    api::fn("reduce_prod", "math,.", &reduce_prod_api, "input_tensor, axis=None, keepdims=False"),
    api::fn(
        "argmax", "math,.",
        +[](const Tensor& x, const std::vector<std::int64_t>& axis, DType out) { return arg_api(true, x, axis, out); },
        "input, axis=None, output_type=int64"),
    api::fn(
        "argmin", "math,.",
        +[](const Tensor& x, const std::vector<std::int64_t>& axis, DType out) { return arg_api(false, x, axis, out); },
        "input, axis=None, output_type=int64"),
    api::fn(
        "size", ".", +[](const Tensor& x, DType out) { return size(x, {}, out); }, "input, out_type=int32"),
    // tf.shape: each dim's size, known at run time (a dim unknown while tracing is read when the graph runs).
    api::fn(
        "shape", ".",
        +[](const Tensor& x, DType out) {
          if (out != DType::Int32 && out != DType::Int64)
            throw DTypeError(std::string("[shape] out_type must be int32 or int64, got ") + dtype_name(out));
          if (x.defined() && x.rank() == 0) return zeros(Shape{0}, out);
          std::vector<Tensor> dims;
          for (std::int64_t i = 0; i < x.rank(); ++i) dims.push_back(size(x, {i}, out));
          return stack(dims);
        },
        "input, out_type=int32"),
    api::fn("cumsum", "math,.", &cumsum, "x, axis=0, exclusive=False, reverse=False"),
    api::fn("cumprod", "math,.", &cumprod, "x, axis=0, exclusive=False, reverse=False"),
}};
}  // namespace

}  // namespace duet
