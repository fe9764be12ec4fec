// Rounding to integral values (floor, ceil, round half to even) and the floor division and modulo built on
// them (Python's // and %).
#include <cmath>

#include "duet/ops.h"
#include "kernels/elementwise_kernels.h"
#include "kernels/kernels.h"
#include "ops/api.h"
#include "ops/infer_util.h"
#include "ops/registry.h"

namespace duet {
namespace {

namespace fn = kernels::fn;

void infer_rounding(InferContext& c) {
  require_floating(c, 0);
  c.set_output(c.dtype(0), c.shape(0));
}
// Piecewise constant: zero almost everywhere (TensorFlow has no gradient there; its unconnected zeros agree).
std::vector<Tensor> grad_zero(const GradContext& c) { return {c.grads[0] * 0}; }

const OpDef kFloor{.name = "Floor",
                   .public_name = "floor",
                   .num_inputs = 1,
                   .infer = infer_rounding,
                   .kernel = kernels::unary<fn::Floor>,
                   .grad = grad_zero,
                   .traits = kElementwise,
                   .block_f32 = kernels::unary_block<fn::Floor>};
const OpDef kCeil{.name = "Ceil",
                  .public_name = "ceil",
                  .num_inputs = 1,
                  .infer = infer_rounding,
                  .kernel = kernels::unary<fn::Ceil>,
                  .grad = grad_zero,
                  .traits = kElementwise,
                  .block_f32 = kernels::unary_block<fn::Ceil>};
const OpDef kRound{.name = "Round",
                   .public_name = "round",
                   .num_inputs = 1,
                   .infer = infer_rounding,
                   .kernel = kernels::unary<fn::Round>,
                   .grad = grad_zero,
                   .traits = kElementwise,
                   .block_f32 = kernels::unary_block<fn::Round>};

void register_rounding_ops(std::vector<const OpDef*>& r) {
  for (const OpDef* d : {&kFloor, &kCeil, &kRound}) r.push_back(d);
}
const OpRegistration kRegisterRoundingOps{register_rounding_ops};

// Integer operands: div truncates toward zero; where the remainder is nonzero and its sign differs from the
// divisor's, the floor quotient is one less and the floor remainder is one divisor more.
Tensor needs_adjusting(const Tensor& r, const Tensor& b) { return (r != 0) & ((r < 0) != (b < 0)); }

}  // namespace

Tensor floor(const Tensor& x) { return call(kFloor, {x}); }
Tensor ceil(const Tensor& x) { return call(kCeil, {x}); }
Tensor round(const Tensor& x) { return call(kRound, {x}); }

Tensor floor_div(const Tensor& a, const Tensor& b) {
  // No gradient, as TensorFlow's FloorDiv: the quotient's own gradient times floor's zero would be NaN where
  // b is 0 or a is infinite.
  if (a.defined() && is_floating(a.dtype())) return floor(stop_gradient(a / b));
  const Tensor q = a / b;  // checks dtypes and shapes, and throws on a zero divisor
  return where(needs_adjusting(a - q * b, b), q - 1, q);
}

Tensor floor_mod(const Tensor& a, const Tensor& b) {
  if (a.defined() && is_floating(a.dtype())) return a - floor(a / b) * b;
  const Tensor r = a - (a / b) * b;
  return where(needs_adjusting(r, b), r + b, r);
}

namespace {
using Binary = Tensor (*)(const Tensor&, const Tensor&);
using Unary = Tensor (*)(const Tensor&);
const api::ApiRegistration kRoundingApi{{
    api::fn("floor", "math,.", static_cast<Unary>(floor), "x"),
    api::fn("ceil", "math", static_cast<Unary>(ceil), "x"),
    api::fn("round", "math,.", static_cast<Unary>(round), "x"),
    api::fn("floordiv", "math,.", static_cast<Binary>(floor_div), "x, y"),
    api::fn("floormod", "math,.", static_cast<Binary>(floor_mod), "x, y"),
    api::fn("mod", "math", static_cast<Binary>(floor_mod), "x, y"),
}};
}  // namespace

}  // namespace duet
