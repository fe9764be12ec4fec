// Shape ops: reshape, transpose, expand_dims/squeeze, concat/split/stack, slice, gather, one_hot,
// broadcasting. Ops whose output depends on another tensor's run-time shape take it as a `like` input.
#include <algorithm>
#include <cctype>
#include <numeric>

#include "duet/gradient_ops.h"
#include "duet/ops.h"
#include "kernels/kernels.h"
#include "ops/api.h"
#include "ops/fused.h"
#include "ops/infer_util.h"
#include "ops/registry.h"

namespace duet {
namespace {

std::string ints_str(const std::vector<std::int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

void infer_reshape(InferContext& c) {
  const Shape& x = c.shape(0);
  const auto& req = c.attrs.ints("shape");
  Shape out;
  int infer_at = -1;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < req.size(); ++i) {
    if (req[i] == -1) {
      if (infer_at >= 0) c.shape_error("only one dim of the new shape may be -1, got " + ints_str(req));
      infer_at = static_cast<int>(i);
    } else if (req[i] < 0) {
      c.shape_error("new shape " + ints_str(req) + " has a negative dim (use -1 for one inferred dim)");
    } else if (__builtin_mul_overflow(known, req[i], &known)) {
      c.shape_error("new shape " + ints_str(req) + " has more elements than a tensor can hold");
    }
    out.push_back(req[i]);
  }
  std::int64_t n = x.num_elements();
  if (n < 0) {  // unknown input dims: an inferred dim stays unknown
    if (infer_at >= 0) out[infer_at] = Shape::kUnknown;
    c.set_output(c.dtype(0), out);
    return;
  }
  if (infer_at >= 0) {
    if (known == 0 || n % known != 0) {
      c.shape_error("cannot reshape a tensor of shape " + x.str() + " (" + std::to_string(n) + " elements) into " +
                    ints_str(req) + ": " + std::to_string(n) + " is not divisible by " + std::to_string(known));
    }
    out[infer_at] = n / known;
  } else if (known != n) {
    c.shape_error("cannot reshape a tensor of shape " + x.str() + " (" + std::to_string(n) + " elements) into " +
                  out.str() + " (" + std::to_string(known) + " elements)");
  }
  c.set_output(c.dtype(0), out);
}

void infer_reshape_like(InferContext& c) {
  std::int64_t a = c.shape(0).num_elements(), b = c.shape(1).num_elements();
  if (a >= 0 && b >= 0 && a != b) {
    c.shape_error("cannot reshape " + c.shape(0).str() + " into the shape of " + c.shape(1).str());
  }
  c.set_output(c.dtype(0), c.shape(1));
}

void infer_expand_dims(InferContext& c) {
  const Shape& x = c.shape(0);
  const std::int64_t axis = c.attrs.i("axis");
  if (axis < 0 || axis > x.rank()) c.shape_error("axis " + std::to_string(axis) + " is out of range for " + x.str());
  Shape out;
  for (int d = 0; d <= x.rank(); ++d) {
    if (d == axis) out.push_back(1);
    if (d < x.rank()) out.push_back(x[d]);
  }
  c.set_output(c.dtype(0), out);
}

// axes: normalized and sorted (the public squeeze does it); each must be 1, or unknown until the graph runs.
void infer_squeeze(InferContext& c) {
  const Shape& x = c.shape(0);
  const auto& axes = c.attrs.ints("axes");
  Shape out;
  std::size_t k = 0;
  for (int d = 0; d < x.rank(); ++d) {
    if (k < axes.size() && axes[k] == d) {
      ++k;
      if (x[d] != 1 && x[d] != Shape::kUnknown) {
        c.shape_error("cannot squeeze axis " + std::to_string(d) + " of shape " + x.str() + ": its size is not 1");
      }
      continue;
    }
    out.push_back(x[d]);
  }
  if (k != axes.size()) c.shape_error("axes " + ints_str(axes) + " are out of range for " + x.str());
  c.set_output(c.dtype(0), out);
}

void infer_transpose(InferContext& c) {
  const Shape& x = c.shape(0);
  const auto& perm = c.attrs.ints("perm");
  std::vector<std::int64_t> sorted(perm);
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> expect(static_cast<std::size_t>(x.rank()));
  std::iota(expect.begin(), expect.end(), 0);
  if (sorted != expect) {
    c.shape_error("perm " + ints_str(perm) + " is not a permutation of the " + std::to_string(x.rank()) +
                  " dims of a tensor of shape " + x.str());
  }
  Shape out;
  for (auto p : perm) out.push_back(x[static_cast<int>(p)]);
  c.set_output(c.dtype(0), out);
}

void infer_concat(InferContext& c) {
  if (c.inputs.empty()) c.value_error("needs at least one tensor");
  require_same_dtypes(c);
  const Shape& s0 = c.shape(0);
  auto axis = normalize_axis(c, c.attrs.i("axis"), s0.rank());
  Shape out = s0;
  for (std::size_t i = 1; i < c.inputs.size(); ++i) {
    const Shape& s = c.shape(i);
    bool ok = s.rank() == s0.rank();
    for (int d = 0; ok && d < s.rank(); ++d)
      if (d != axis && s[d] >= 0 && out[d] >= 0 && s[d] != out[d]) ok = false;
    if (!ok) {
      c.shape_error("all shapes must match except along axis " + std::to_string(axis) + ", got " + shapes_str(c));
    }
    for (int d = 0; d < s.rank(); ++d)
      if (d != axis && out[d] < 0) out[d] = s[d];
    out[static_cast<int>(axis)] = (out[static_cast<int>(axis)] < 0 || s[static_cast<int>(axis)] < 0)
                                      ? Shape::kUnknown
                                      : out[static_cast<int>(axis)] + s[static_cast<int>(axis)];
  }
  c.set_output(c.dtype(0), out);
}

void infer_split(InferContext& c) {
  const Shape& x = c.shape(0);
  auto axis = static_cast<int>(normalize_axis(c, c.attrs.i("axis"), x.rank()));
  const auto& sizes = c.attrs.ints("sizes");
  std::int64_t total = 0;
  for (auto s : sizes) {
    // split() checks this too; a saved graph's attrs reach the op directly.
    if (s < 0) c.shape_error("split sizes must be >= 0, got " + ints_str(sizes));
    total += s;
  }
  if (x[axis] >= 0 && total != x[axis]) {
    c.shape_error("split sizes " + ints_str(sizes) + " add up to " + std::to_string(total) + " but axis " +
                  std::to_string(axis) + " of " + x.str() + " has " + std::to_string(x[axis]));
  }
  for (auto s : sizes) {
    Shape o = x;
    o[axis] = s;
    c.set_output(c.dtype(0), o);
  }
}

// Its parts are views of the input's rows: only the first axis has contiguous parts.
void infer_split_view(InferContext& c) {
  if (normalize_axis(c, c.attrs.i("axis"), c.shape(0).rank()) != 0)
    c.shape_error("splits along axis 0 only, got axis " + std::to_string(c.attrs.i("axis")));
  infer_split(c);
}

void infer_slice(InferContext& c) {
  const Shape& x = c.shape(0);
  const auto& begin = c.attrs.ints("begin");
  const auto& size = c.attrs.ints("size");
  if (static_cast<int>(begin.size()) != x.rank() || static_cast<int>(size.size()) != x.rank()) {
    c.shape_error("begin " + ints_str(begin) + " and size " + ints_str(size) + " need one entry per dim of " + x.str());
  }
  Shape out;
  for (int d = 0; d < x.rank(); ++d) {
    std::int64_t b = begin[d], s = size[d], n = x[d];
    if (b < 0 || s < -1)
      c.value_error("begin " + ints_str(begin) + " / size " + ints_str(size) + " must be >= 0 (size -1 = to the end)");
    if (n >= 0 && (b > n || (s >= 0 && s > n - b))) {  // s > n - b: b + s could overflow
      c.shape_error("slice begin " + std::to_string(b) + ", size " + std::to_string(s) + " of dim " +
                    std::to_string(d) + " is out of bounds for shape " + x.str() + " (dim " + std::to_string(d) +
                    " has " + std::to_string(n) + ")");
    }
    out.push_back(s >= 0 ? s : (n >= 0 ? n - b : Shape::kUnknown));
  }
  c.set_output(c.dtype(0), out);
}

void infer_pad_like(InferContext& c) {
  const Shape& x = c.shape(0);
  const Shape& t = c.shape(1);
  const auto& begin = c.attrs.ints("begin");
  if (x.rank() != t.rank() || static_cast<int>(begin.size()) != x.rank()) {
    c.shape_error("x " + x.str() + ", like " + t.str() + " and begin " + ints_str(begin) + " need the same rank");
  }
  for (int d = 0; d < x.rank(); ++d) {
    if (begin[d] < 0 || (x[d] >= 0 && t[d] >= 0 && x[d] > t[d] - begin[d])) {
      c.shape_error("x " + x.str() + " at offset " + ints_str(begin) + " does not fit in " + t.str());
    }
  }
  c.set_output(c.dtype(0), t);
}

// paddings: (before, after) per dim, flat.
void infer_pad(InferContext& c) {
  const Shape& x = c.shape(0);
  const auto& p = c.attrs.ints("paddings");
  if (p.size() != 2 * static_cast<std::size_t>(x.rank())) {
    c.shape_error("needs one (before, after) pair per dim of " + x.str() + ", got " + std::to_string(p.size() / 2) +
                  " pairs " + ints_str(p));
  }
  Shape out;
  for (int d = 0; d < x.rank(); ++d) {
    const std::int64_t b = p[2 * d], a = p[2 * d + 1];
    if (b < 0 || a < 0) c.value_error("paddings must be >= 0 (use slice to cut), got " + ints_str(p));
    out.push_back(x[d] >= 0 ? x[d] + b + a : Shape::kUnknown);
  }
  c.set_output(c.dtype(0), out);
}

void infer_slice_like(InferContext& c) {
  const Shape& x = c.shape(0);
  const Shape& t = c.shape(1);
  const auto& begin = c.attrs.ints("begin");
  if (x.rank() != t.rank() || static_cast<int>(begin.size()) != x.rank()) {
    c.shape_error("x " + x.str() + ", like " + t.str() + " and begin " + ints_str(begin) + " need the same rank");
  }
  for (int d = 0; d < x.rank(); ++d) {
    if (begin[d] < 0 || (x[d] >= 0 && t[d] >= 0 && t[d] > x[d] - begin[d])) {
      c.shape_error("a box of " + t.str() + " at offset " + ints_str(begin) + " does not fit in x " + x.str());
    }
  }
  c.set_output(c.dtype(0), t);
}

void infer_gather(InferContext& c) {
  const Shape& p = c.shape(0);
  const Shape& idx = c.shape(1);
  if (!is_integral(c.dtype(1))) {
    c.dtype_error(std::string("indices must be int32 or int64, got ") + dtype_name(c.dtype(1)) + " " + idx.str());
  }
  auto axis = static_cast<int>(normalize_axis(c, c.attrs.i("axis"), p.rank()));
  Shape out;
  for (int d = 0; d < axis; ++d) out.push_back(p[d]);
  for (auto d : idx) out.push_back(d);
  for (int d = axis + 1; d < p.rank(); ++d) out.push_back(p[d]);
  c.set_output(c.dtype(0), out);
}

void infer_scatter_add_like(InferContext& c) {
  const Shape& u = c.shape(0);
  const Shape& idx = c.shape(1);
  const Shape& t = c.shape(2);
  if (!is_integral(c.dtype(1)))
    c.dtype_error(std::string("indices must be int32 or int64, got ") + dtype_name(c.dtype(1)));
  auto axis = static_cast<int>(normalize_axis(c, c.attrs.i("axis"), t.rank()));
  if (u.rank() != t.rank() - 1 + idx.rank()) {
    c.shape_error("updates " + u.str() + " do not match indices " + idx.str() + " gathered from " + t.str());
  }
  (void)axis;
  c.set_output(c.dtype(0), t);
}

void infer_one_hot(InferContext& c) {
  if (!is_integral(c.dtype(0))) {
    c.dtype_error(std::string("indices must be int32 or int64, got ") + dtype_name(c.dtype(0)) + " " +
                  c.shape(0).str());
  }
  std::int64_t depth = c.attrs.i("depth");
  if (depth < 0) c.value_error("depth must be >= 0, got " + std::to_string(depth));
  Shape out = c.shape(0);
  out.push_back(depth);
  c.set_output(c.attrs.dtype("dtype"), out);
}

void check_broadcastable(InferContext& c, const Shape& x, const Shape& t) {
  bool ok = x.rank() <= t.rank();
  for (int d = 0; ok && d < x.rank(); ++d) {
    std::int64_t xd = x[d], td = t[d + t.rank() - x.rank()];
    ok = xd == 1 || xd < 0 || td < 0 || xd == td;
  }
  if (!ok) c.shape_error("cannot broadcast " + x.str() + " to " + t.str() + "; dims must be equal or 1");
}

void infer_broadcast_to(InferContext& c) {
  const Shape& t = c.attrs.shape("shape");
  check_broadcastable(c, c.shape(0), t);
  c.set_output(c.dtype(0), t);
}

void infer_broadcast_like(InferContext& c) {
  check_broadcastable(c, c.shape(0), c.shape(1));
  c.set_output(c.dtype(0), c.shape(1));
}

// d reshape = reshape the gradient back to x's run-time shape
std::vector<Tensor> grad_reshape(const GradContext& c) { return {reshape_like(c.grads[0], c.inputs[0])}; }
std::vector<Tensor> grad_reshape_like(const GradContext& c) {
  return {reshape_like(c.grads[0], c.inputs[0]), Tensor()};
}
// d transpose(x, p) = transpose(g, inverse(p))
std::vector<Tensor> grad_transpose(const GradContext& c) {
  const auto& perm = c.attrs.ints("perm");
  std::vector<std::int64_t> inv(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inv[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
  return {transpose(c.grads[0], inv)};
}
// d concat = split g back into the inputs' sizes along axis
std::vector<Tensor> grad_concat(const GradContext& c) {
  auto axis = static_cast<int>(c.attrs.i("axis"));
  std::vector<std::int64_t> sizes;
  for (const Tensor& x : c.inputs) {
    std::int64_t s = x.shape()[axis];
    if (s < 0) {
      throw ShapeError("[concat] gradient needs the sizes of the inputs along the concat axis " + std::to_string(axis) +
                       ", but an input has shape " + x.shape().str() + "; give that dim a known size");
    }
    sizes.push_back(s);
  }
  auto parts = split(c.grads[0], sizes, axis);
  return {parts.begin(), parts.end()};
}
// d split = concat of the parts' gradients
std::vector<Tensor> grad_split(const GradContext& c) {
  return {concat({c.grads.begin(), c.grads.end()}, c.attrs.i("axis"))};
}
// d slice = g padded with zeros back to x's shape
std::vector<Tensor> grad_slice(const GradContext& c) {
  return {pad_like(c.grads[0], c.inputs[0], c.attrs.ints("begin"))};
}
// d pad_like = the slice of g where x was written
std::vector<Tensor> grad_pad_like(const GradContext& c) {
  const Shape& s = c.inputs[0].shape();
  if (!s.is_fully_known()) {
    throw ShapeError("[pad_like] gradient needs the static shape of x, got " + s.str());
  }
  return {slice(c.grads[0], c.attrs.ints("begin"), s.to_vector()), Tensor()};
}
// d pad = the slice of g where x was written (the padding is constant)
std::vector<Tensor> grad_pad(const GradContext& c) {
  const auto& p = c.attrs.ints("paddings");
  std::vector<std::int64_t> begin;
  for (std::size_t d = 0; d < p.size(); d += 2) begin.push_back(p[d]);
  return {slice_like(c.grads[0], c.inputs[0], begin)};
}
// slice_like is linear in x: its adjoint writes g back at begin, zeros elsewhere
std::vector<Tensor> grad_slice_like(const GradContext& c) {
  return {pad_like(c.grads[0], c.inputs[0], c.attrs.ints("begin")), Tensor()};
}
// d gather(params) = scatter-add g into zeros shaped like params
std::vector<Tensor> grad_gather(const GradContext& c) {
  return {scatter_add_like(c.grads[0], c.inputs[1], c.inputs[0], c.attrs.i("axis")), Tensor()};
}
// d scatter_add_like(updates) = gather g at the same indices
std::vector<Tensor> grad_scatter_add_like(const GradContext& c) {
  return {gather(c.grads[0], c.inputs[1], c.attrs.i("axis")), Tensor(), Tensor()};
}
// d broadcast(x) = g summed back to x
std::vector<Tensor> grad_broadcast(const GradContext& c) {
  std::vector<Tensor> r{sum_to(c.grads[0], c.inputs[0])};
  if (c.inputs.size() == 2) r.emplace_back();
  return r;
}

const OpDef kReshape{.name = "Reshape",
                     .public_name = "reshape",
                     .num_inputs = 1,
                     .infer = infer_reshape,
                     .kernel = kernels::reshape,
                     .grad = grad_reshape,
                     .traits = kView};
const OpDef kExpandDims{.name = "ExpandDims",
                        .public_name = "expand_dims",
                        .num_inputs = 1,
                        .infer = infer_expand_dims,
                        .kernel = kernels::reshape,
                        .grad = grad_reshape,
                        .traits = kView};
const OpDef kSqueeze{.name = "Squeeze",
                     .public_name = "squeeze",
                     .num_inputs = 1,
                     .infer = infer_squeeze,
                     .kernel = kernels::reshape,
                     .grad = grad_reshape,
                     .traits = kView};
const OpDef kReshapeLike{.name = "ReshapeLike",
                         .public_name = "reshape_like",
                         .num_inputs = 2,
                         .infer = infer_reshape_like,
                         .kernel = kernels::reshape,
                         .grad = grad_reshape_like,
                         .traits = kView};
const OpDef kTranspose{.name = "Transpose",
                       .public_name = "transpose",
                       .num_inputs = 1,
                       .infer = infer_transpose,
                       .kernel = kernels::transpose,
                       .grad = grad_transpose,
                       .traits = 0};
const OpDef kConcat{.name = "Concat",
                    .public_name = "concat",
                    .num_inputs = -1,
                    .infer = infer_concat,
                    .kernel = kernels::concat,
                    .grad = grad_concat,
                    .traits = 0};
const OpDef kSplit{.name = "Split",
                   .public_name = "split",
                   .num_inputs = 1,
                   .infer = infer_split,
                   .kernel = kernels::split,
                   .grad = grad_split,
                   .traits = 0};
// Built by the split_products pass: a split along the first axis whose parts are views of the input's
// rows (every part is contiguous there), so nothing is copied. Only graphs use it: their kernels never
// write their inputs, and the memory plan keeps the input alive while any part is read.
const OpDef kSplitView{.name = "SplitView",
                       .public_name = "split_view",
                       .num_inputs = 1,
                       .infer = infer_split_view,
                       .kernel = kernels::split_view,
                       .grad = grad_split,
                       .traits = kView};
const OpDef kSlice{.name = "Slice",
                   .public_name = "slice",
                   .num_inputs = 1,
                   .infer = infer_slice,
                   .kernel = kernels::slice,
                   .grad = grad_slice,
                   .traits = 0};
const OpDef kPadLike{.name = "PadLike",
                     .public_name = "pad_like",
                     .num_inputs = 2,
                     .infer = infer_pad_like,
                     .kernel = kernels::pad_like,
                     .grad = grad_pad_like,
                     .traits = 0};
const OpDef kPad{.name = "Pad",
                 .public_name = "pad",
                 .num_inputs = 1,
                 .infer = infer_pad,
                 .kernel = kernels::pad,
                 .grad = grad_pad,
                 .traits = 0};
const OpDef kSliceLike{.name = "SliceLike",
                       .public_name = "slice_like",
                       .num_inputs = 2,
                       .infer = infer_slice_like,
                       .kernel = kernels::slice,
                       .grad = grad_slice_like,
                       .traits = 0};
const OpDef kGather{.name = "Gather",
                    .public_name = "gather",
                    .num_inputs = 2,
                    .infer = infer_gather,
                    .kernel = kernels::gather,
                    .grad = grad_gather,
                    .traits = 0};
const OpDef kScatterAddLike{.name = "ScatterAddLike",
                            .public_name = "scatter_add_like",
                            .num_inputs = 3,
                            .infer = infer_scatter_add_like,
                            .kernel = kernels::scatter_add_like,
                            .grad = grad_scatter_add_like,
                            .traits = 0};
const OpDef kOneHot{.name = "OneHot",
                    .public_name = "one_hot",
                    .num_inputs = 1,
                    .infer = infer_one_hot,
                    .kernel = kernels::one_hot,
                    .grad = nullptr,
                    .traits = 0};
const OpDef kBroadcastTo{.name = "BroadcastTo",
                         .public_name = "broadcast_to",
                         .num_inputs = 1,
                         .infer = infer_broadcast_to,
                         .kernel = kernels::broadcast,
                         .grad = grad_broadcast,
                         .traits = kNotFoldable};
const OpDef kBroadcastLike{.name = "BroadcastLike",
                           .public_name = "broadcast_like",
                           .num_inputs = 2,
                           .infer = infer_broadcast_like,
                           .kernel = kernels::broadcast,
                           .grad = grad_broadcast,
                           .traits = kNotFoldable};

}  // namespace

const OpDef& transpose_op() { return kTranspose; }
const OpDef& split_op() { return kSplit; }
const OpDef& reshape_op() { return kReshape; }
const OpDef& split_view_op() { return kSplitView; }
const OpDef& concat_op() { return kConcat; }

static void register_shape_ops(std::vector<const OpDef*>& r) {
  for (const OpDef* d :
       {&kReshape, &kExpandDims, &kSqueeze, &kReshapeLike, &kTranspose, &kConcat, &kSplit, &kSplitView, &kSlice,
        &kPadLike, &kPad, &kSliceLike, &kGather, &kScatterAddLike, &kOneHot, &kBroadcastTo, &kBroadcastLike})
    r.push_back(d);
}
const OpRegistration kRegisterShapeOps{register_shape_ops};

Tensor reshape(const Tensor& x, std::vector<std::int64_t> shape) {
  return call(kReshape, {x}, {{"shape", std::move(shape)}});
}
Tensor reshape_like(const Tensor& x, const Tensor& like) {
  if (x.defined() && like.defined() && x.shape() == like.shape() && x.shape().is_fully_known()) return x;
  return call(kReshapeLike, {x, like});
}

Tensor transpose(const Tensor& x, std::vector<std::int64_t> perm) {
  if (perm.empty() && x.defined()) {
    for (int d = x.rank() - 1; d >= 0; --d) perm.push_back(d);
  }
  if (x.defined()) {
    for (auto& p : perm)
      if (p < 0) p += x.rank();
  }
  return call(kTranspose, {x}, {{"perm", std::move(perm)}});
}

// expand_dims and squeeze are views with their own shape rules, so any dims may be unknown (a reshape
// target could hold only one -1) and empty dims pass through.
Tensor expand_dims(const Tensor& x, std::int64_t axis) {
  if (!x.defined()) return call(kExpandDims, {x}, {{"axis", axis}});
  const int r = x.rank() + 1;
  if (axis < -r || axis >= r) {
    throw ValueError("[expand_dims] axis " + std::to_string(axis) + " is out of range for a tensor of rank " +
                     std::to_string(x.rank()) + " (shape " + x.shape().str() + "); valid axes are [" +
                     std::to_string(-r) + ", " + std::to_string(r - 1) + "]");
  }
  return call(kExpandDims, {x}, {{"axis", axis < 0 ? axis + r : axis}});
}

Tensor squeeze(const Tensor& x, std::vector<std::int64_t> axes) {
  if (!x.defined()) return call(kSqueeze, {x}, {{"axes", std::move(axes)}});
  const Shape& s = x.shape();
  if (axes.empty()) {
    for (int d = 0; d < s.rank(); ++d) {
      if (s[d] == Shape::kUnknown) {
        // Whether an unknown dim is 1 is only known when the graph runs, and the result's rank depends on it.
        throw ShapeError("[squeeze] without axes cannot tell whether dim " + std::to_string(d) + " of " + s.str() +
                         " is 1 (it is unknown while tracing), so the result's rank would depend on the data; name the "
                         "axes to remove: squeeze(x, {" +
                         std::to_string(d) + "}) (checked when the graph runs)");
      }
      if (s[d] == 1) axes.push_back(d);
    }
  } else {
    axes = normalize_axes("squeeze", axes, s.rank());
  }
  return call(kSqueeze, {x}, {{"axes", std::move(axes)}});
}

Tensor concat(const std::vector<Tensor>& xs, std::int64_t axis) {
  if (xs.empty()) throw ValueError("[concat] needs at least one tensor");
  if (xs.size() == 1) return xs[0];
  std::int64_t r = xs[0].rank();
  if (axis < 0) axis += r;
  return dispatch1(kConcat, xs, {{"axis", axis}});
}

Tensor stack(const std::vector<Tensor>& xs, std::int64_t axis) {
  if (xs.empty()) throw ValueError("[stack] needs at least one tensor");
  for (const Tensor& x : xs) {
    if (x.shape() != xs[0].shape()) {
      throw ShapeError("[stack] all tensors must have the same shape, got " + xs[0].shape().str() + " and " +
                       x.shape().str());
    }
  }
  if (axis < 0) axis += xs[0].rank() + 1;
  std::vector<Tensor> e;
  for (const Tensor& x : xs) e.push_back(expand_dims(x, axis));
  return concat(e, axis);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes_in, std::int64_t axis) {
  const Shape& s = x.shape();
  if (axis < -s.rank() || axis >= s.rank()) {
    throw ValueError("[split] axis " + std::to_string(axis) + " is out of range for shape " + s.str());
  }
  if (axis < 0) axis += s.rank();
  std::vector<std::int64_t> sizes = sizes_in;
  auto unknown = std::count(sizes.begin(), sizes.end(), -1);
  if (unknown > 1) throw ValueError("[split] at most one size may be -1, got " + ints_str(sizes));
  if (unknown == 1) {
    std::int64_t n = s[static_cast<int>(axis)], rest = 0;
    if (n < 0) throw ShapeError("[split] a -1 size needs a known dim along axis, got " + s.str());
    for (auto v : sizes)
      if (v >= 0) rest += v;
    *std::find(sizes.begin(), sizes.end(), -1) = n - rest;
  }
  for (auto v : sizes)
    if (v < 0) throw ValueError("[split] sizes must be >= 0, got " + ints_str(sizes_in));
  Tensors out = dispatch(kSplit, std::span<const Tensor>(&x, 1), {{"axis", axis}, {"sizes", sizes}});
  return {out.begin(), out.end()};
}

std::vector<Tensor> split(const Tensor& x, std::int64_t num, std::int64_t axis) {
  std::int64_t n = x.shape().dim(static_cast<int>(axis));
  if (num <= 0 || n < 0 || n % num != 0) {
    throw ShapeError("[split] cannot split axis " + std::to_string(axis) + " of shape " + x.shape().str() + " into " +
                     std::to_string(num) + " equal parts");
  }
  return split(x, std::vector<std::int64_t>(static_cast<std::size_t>(num), n / num), axis);
}

Tensor slice(const Tensor& x, std::vector<std::int64_t> begin, std::vector<std::int64_t> size) {
  return call(kSlice, {x}, {{"begin", std::move(begin)}, {"size", std::move(size)}});
}
Tensor pad_like(const Tensor& x, const Tensor& like, std::vector<std::int64_t> begin) {
  return call(kPadLike, {x, like}, {{"begin", std::move(begin)}});
}
Tensor pad(const Tensor& x, const std::vector<std::pair<std::int64_t, std::int64_t>>& paddings, double constant_value) {
  std::vector<std::int64_t> flat;
  for (const auto& [b, a] : paddings) flat.insert(flat.end(), {b, a});
  return call(kPad, {x}, {{"paddings", std::move(flat)}, {"constant_value", constant_value}});
}
Tensor slice_like(const Tensor& x, const Tensor& like, std::vector<std::int64_t> begin) {
  return call(kSliceLike, {x, like}, {{"begin", std::move(begin)}});
}
Tensor gather(const Tensor& params, const Tensor& indices, std::int64_t axis) {
  if (params.defined() && axis < 0 && axis >= -params.rank())
    axis += params.rank();  // else inference names the bad axis
  return call(kGather, {params, indices}, {{"axis", axis}});
}
Tensor scatter_add_like(const Tensor& updates, const Tensor& indices, const Tensor& like, std::int64_t axis) {
  if (like.defined() && axis < 0 && axis >= -like.rank()) axis += like.rank();
  return call(kScatterAddLike, {updates, indices, like}, {{"axis", axis}});
}
Tensor one_hot(const Tensor& indices, std::int64_t depth, double on_value, double off_value, DType dtype) {
  return call(kOneHot, {indices},
              {{"depth", depth}, {"on_value", on_value}, {"off_value", off_value}, {"dtype", dtype}});
}
// Symbolic tensors may have unknown dims, so their zeros/ones are a broadcast of a scalar at run time.
Tensor zeros_like(const Tensor& t) {
  if (t.is_symbolic()) return broadcast_like(full(Shape{}, 0.0, t.dtype()), t);
  return zeros(t.shape(), t.dtype());
}
Tensor ones_like(const Tensor& t) {
  if (t.is_symbolic()) return broadcast_like(full(Shape{}, 1.0, t.dtype()), t);
  return ones(t.shape(), t.dtype());
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.defined() && x.shape() == shape) return x;
  return call(kBroadcastTo, {x}, {{"shape", shape}});
}
Tensor broadcast_like(const Tensor& x, const Tensor& like) {
  if (x.defined() && like.defined() && x.shape() == like.shape() && x.shape().is_fully_known()) return x;
  return call(kBroadcastLike, {x, like});
}

// As TensorFlow names them (src/ops/api.h), with the array constructors of duet/tensor.h.
namespace {
// split's num_or_size_splits: an int is a number of equal parts, a list the sizes of the parts.
std::vector<Tensor> split_api(const Tensor& x, const api::Value& parts, std::int64_t axis) {
  if (const auto* n = std::get_if<std::int64_t>(&parts)) return split(x, *n, axis);
  if (const auto* sizes = std::get_if<std::vector<std::int64_t>>(&parts)) return split(x, *sizes, axis);
  throw DTypeError("[split] num_or_size_splits must be an int or a list of ints");
}
// TensorFlow's range(start, limit=None, delta=1): one argument is the limit; the dtype follows the
// arguments (int32 for ints, float32 otherwise) unless given.
// tf.pad: paddings arrive flat ((before, after) per dim; Python's [[1, 1], [2, 0]] is flattened); CONSTANT only.
Tensor pad_api(const Tensor& x, const std::vector<std::int64_t>& paddings, const std::string& mode,
               double constant_values) {
  std::string m = mode;
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  if (m != "CONSTANT") {
    throw ValueError("[pad] mode '" + mode.substr(0, 32) +
                     "' is not supported: duet pads with a constant (mode='CONSTANT'); reflect and symmetric "
                     "padding are not implemented");
  }
  if (paddings.size() % 2 != 0) {
    throw ValueError("[pad] paddings needs a (before, after) pair per dim, got " + std::to_string(paddings.size()) +
                     " numbers");
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  for (std::size_t i = 0; i < paddings.size(); i += 2) pairs.emplace_back(paddings[i], paddings[i + 1]);
  return pad(x, pairs, constant_values);
}
Tensor range_api(const api::Value& start, const api::Value& limit, const api::Value& delta, const api::Value& dtype) {
  auto number = [](const api::Value& v, const char* what) -> double {
    if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(&v)) return *d;
    throw DTypeError(std::string("[range] ") + what + " must be a number");
  };
  const bool ints = !std::holds_alternative<double>(start) && !std::holds_alternative<double>(limit) &&
                    !std::holds_alternative<double>(delta);
  DType d = ints ? DType::Int32 : DType::Float32;
  if (const auto* given = std::get_if<DType>(&dtype)) d = *given;
  const bool one = std::holds_alternative<std::monostate>(limit);
  return arange(one ? 0.0 : number(start, "start"), one ? number(start, "limit") : number(limit, "limit"),
                number(delta, "delta"), d);
}
const api::ApiRegistration kShapeApi{{
    api::fn("reshape", ".", &reshape, "tensor, shape"),
    api::fn("transpose", "linalg,.", &transpose, "a, perm=None"),
    api::fn("expand_dims", ".", &expand_dims, "input, axis"),
    api::fn("squeeze", ".", &squeeze, "input, axis=None"),
    api::fn("concat", ".", &concat, "values, axis"),
    api::fn("stack", ".", &stack, "values, axis=0"),
    api::fn("split", ".", &split_api, "value, num_or_size_splits, axis=0"),
    api::fn("slice", ".", &slice, "input_, begin, size"),
    api::fn("pad", ".", &pad_api, "tensor, paddings, mode='CONSTANT', constant_values=0.0"),
    api::fn("gather", ".", &gather, "params, indices, axis=0"),
    api::fn("one_hot", ".", &one_hot, "indices, depth, on_value=1.0, off_value=0.0, dtype=float32"),
    api::fn("broadcast_to", ".", &broadcast_to, "input, shape"),
    api::fn("zeros", ".", &zeros, "shape, dtype=float32"),
    api::fn("ones", ".", &ones, "shape, dtype=float32"),
    api::fn(
        "fill", ".", +[](const Shape& dims, double value, DType dtype) { return full(dims, value, dtype); },
        "dims, value, dtype=float32"),
    api::fn("zeros_like", ".", &zeros_like, "input"),
    api::fn("ones_like", ".", &ones_like, "input"),
    api::fn("range", ".", &range_api, "start, limit=None, delta=1, dtype=None"),
    api::fn("linspace", ".", &linspace, "start, stop, num, dtype=float32"),
    api::fn("eye", "linalg,.", &eye, "num_rows, num_columns=-1, dtype=float32"),
}};
}  // namespace

}  // namespace duet
