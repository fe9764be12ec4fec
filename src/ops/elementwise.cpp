// Elementwise primitives and the composites built from them (square, elu, gelu, softplus, the other activations,
// clip).
#include <cmath>
#include <numbers>

#include "duet/gradient_ops.h"
#include "duet/ops.h"
#include "kernels/elementwise_kernels.h"
#include "kernels/kernels.h"
#include "ops/api.h"
#include "ops/fused.h"
#include "ops/infer_util.h"
#include "ops/registry.h"

namespace duet {
namespace {

namespace fn = kernels::fn;

void infer_arith(InferContext& c) {
  require_same_dtypes(c);
  require_numeric(c, 0);
  c.set_output(c.dtype(0), broadcast_shapes(c, c.shape(0), c.shape(1)));
}
// Comparisons take one dtype, or int64 with float64 (compared exactly, see compare()).
bool exact_mixed(DType a, DType b) {
  return (a == DType::Int64 && b == DType::Float64) || (a == DType::Float64 && b == DType::Int64);
}
void infer_compare(InferContext& c) {
  if (!exact_mixed(c.dtype(0), c.dtype(1))) require_same_dtypes(c);
  c.set_output(DType::Bool, broadcast_shapes(c, c.shape(0), c.shape(1)));
}
void infer_ordered(InferContext& c) {
  if (!exact_mixed(c.dtype(0), c.dtype(1))) require_same_dtypes(c);
  require_numeric(c, 0);
  require_numeric(c, 1);
  c.set_output(DType::Bool, broadcast_shapes(c, c.shape(0), c.shape(1)));
}
void infer_logical(InferContext& c) {
  for (std::size_t i = 0; i < c.inputs.size(); ++i) require_dtype(c, i, DType::Bool);
  Shape s = c.shape(0);
  if (c.inputs.size() == 2) s = broadcast_shapes(c, s, c.shape(1));
  c.set_output(DType::Bool, s);
}
void infer_select(InferContext& c) {
  require_dtype(c, 0, DType::Bool);
  if (c.dtype(1) != c.dtype(2)) {
    c.dtype_error(std::string("the two branches have different dtypes: ") + dtype_name(c.dtype(1)) + " vs " +
                  dtype_name(c.dtype(2)) + "; cast() one of them");
  }
  Shape s = broadcast_shapes(c, broadcast_shapes(c, c.shape(0), c.shape(1)), c.shape(2));
  c.set_output(c.dtype(1), s);
}
void infer_numeric_unary(InferContext& c) {
  require_numeric(c, 0);
  c.set_output(c.dtype(0), c.shape(0));
}
void infer_float_unary(InferContext& c) {
  require_floating(c, 0);
  c.set_output(c.dtype(0), c.shape(0));
}
void infer_float_binary(InferContext& c) {
  require_same_dtypes(c);
  require_floating(c, 0);
  c.set_output(c.dtype(0), broadcast_shapes(c, c.shape(0), c.shape(1)));
}
void infer_same(InferContext& c) { c.set_output(c.dtype(0), c.shape(0)); }
void infer_cast(InferContext& c) { c.set_output(c.attrs.dtype("dtype"), c.shape(0)); }

Tensor zero_like_scalar(const Tensor& g) { return internal::weak_scalar(g, 0.0, false); }

// d(a+b) = (g, g), each summed back to its operand's shape.
std::vector<Tensor> grad_add(const GradContext& c) {
  return {sum_to(c.grads[0], c.inputs[0]), sum_to(c.grads[0], c.inputs[1])};
}
// d(a-b) = (g, -g)
std::vector<Tensor> grad_sub(const GradContext& c) {
  return {sum_to(c.grads[0], c.inputs[0]), sum_to(neg(c.grads[0]), c.inputs[1])};
}
// d(a*b) = (g*b, g*a)
std::vector<Tensor> grad_mul(const GradContext& c) {
  return {sum_to(c.grads[0] * c.inputs[1], c.inputs[0]), sum_to(c.grads[0] * c.inputs[0], c.inputs[1])};
}
// d(a/b) = (g/b, -g*a/b^2)
std::vector<Tensor> grad_div(const GradContext& c) {
  const Tensor& a = c.inputs[0];
  const Tensor& b = c.inputs[1];
  const Tensor& g = c.grads[0];
  return {sum_to(g / b, a), sum_to(neg(g) * c.outputs[0] / b, b)};
}
// d(a^b) = (g*b*a^(b-1), g*a^b*log(a)) with log(a) taken as 0 where a <= 0.
std::vector<Tensor> grad_pow(const GradContext& c) {
  const Tensor& a = c.inputs[0];
  const Tensor& b = c.inputs[1];
  const Tensor& g = c.grads[0];
  Tensor da = g * b * pow(a, b - 1);
  Tensor safe_log = where(a > 0, log(where(a > 0, a, internal::lit(a, 1))), zero_like_scalar(a));
  Tensor db = g * c.outputs[0] * safe_log;
  return {sum_to(da, a), sum_to(db, b)};
}
// The gradient goes to the operand the output came from: the larger one (a on ties, as TensorFlow), or the
// NaN one (NaN propagates, and so does its gradient: a NaN is never hidden).
std::vector<Tensor> grad_maximum(const GradContext& c) {
  Tensor m = logical_or(c.inputs[0] >= c.inputs[1], c.inputs[0] != c.inputs[0]);
  Tensor z = zero_like_scalar(c.grads[0]);
  return {sum_to(where(m, c.grads[0], z), c.inputs[0]), sum_to(where(m, z, c.grads[0]), c.inputs[1])};
}
std::vector<Tensor> grad_minimum(const GradContext& c) {
  Tensor m = logical_or(c.inputs[0] <= c.inputs[1], c.inputs[0] != c.inputs[0]);
  Tensor z = zero_like_scalar(c.grads[0]);
  return {sum_to(where(m, c.grads[0], z), c.inputs[0]), sum_to(where(m, z, c.grads[0]), c.inputs[1])};
}
// d where(c, a, b) = (none, g where c, g where !c)
std::vector<Tensor> grad_select(const GradContext& c) {
  Tensor z = zero_like_scalar(c.grads[0]);
  return {Tensor(), sum_to(where(c.inputs[0], c.grads[0], z), c.inputs[1]),
          sum_to(where(c.inputs[0], z, c.grads[0]), c.inputs[2])};
}
// d/dx -x = -1
std::vector<Tensor> grad_neg(const GradContext& c) { return {neg(c.grads[0])}; }
// d/dx |x| = sign(x)
std::vector<Tensor> grad_abs(const GradContext& c) { return {c.grads[0] * sign(c.inputs[0])}; }
// d/dx sign(x) = 0 (almost everywhere)
std::vector<Tensor> grad_sign(const GradContext& c) { return {c.grads[0] * 0}; }
// d/dx exp(x) = exp(x)
std::vector<Tensor> grad_exp(const GradContext& c) { return {c.grads[0] * c.outputs[0]}; }
// d/dx expm1(x) = exp(x) = expm1(x) + 1
std::vector<Tensor> grad_expm1(const GradContext& c) { return {c.grads[0] * (c.outputs[0] + 1)}; }
// d/dx atan(x) = 1 / (1 + x^2)
std::vector<Tensor> grad_atan(const GradContext& c) { return {c.grads[0] / (c.inputs[0] * c.inputs[0] + 1)}; }
// d/dx softsign(x) = 1 / (1 + |x|)^2 (0 at +-inf, where the quotient rule's terms give inf / inf)
std::vector<Tensor> grad_softsign(const GradContext& c) { return {c.grads[0] / square(abs(c.inputs[0]) + 1)}; }
// d/dx log(x) = 1/x
std::vector<Tensor> grad_log(const GradContext& c) { return {c.grads[0] / c.inputs[0]}; }
// d/dx log1p(x) = 1/(1+x)
std::vector<Tensor> grad_log1p(const GradContext& c) { return {c.grads[0] / (c.inputs[0] + 1)}; }
// d/dx sqrt(x) = 1/(2 sqrt(x))
std::vector<Tensor> grad_sqrt(const GradContext& c) { return {c.grads[0] * 0.5 / c.outputs[0]}; }
// d/dx x^-1/2 = -1/2 x^-3/2 = -y^3/2
std::vector<Tensor> grad_rsqrt(const GradContext& c) {
  const Tensor& y = c.outputs[0];
  return {c.grads[0] * (y * y * y) * -0.5};
}
// d/dx sin(x) = cos(x)
std::vector<Tensor> grad_sin(const GradContext& c) { return {c.grads[0] * cos(c.inputs[0])}; }
// d/dx cos(x) = -sin(x)
std::vector<Tensor> grad_cos(const GradContext& c) { return {neg(c.grads[0] * sin(c.inputs[0]))}; }
// d/dx tan(x) = 1 + tan(x)^2
std::vector<Tensor> grad_tan(const GradContext& c) {
  const Tensor& y = c.outputs[0];
  return {c.grads[0] * (y * y + 1)};
}
// d/dx tanh(x) = 1 - tanh(x)^2
std::vector<Tensor> grad_tanh(const GradContext& c) { return {tanh_grad(c.outputs[0], c.grads[0])}; }
// tanh_grad(y, g) = g (1 - y^2): d/dy = -2 gg g y, d/dg = tanh_grad(y, gg).
std::vector<Tensor> grad_tanh_grad(const GradContext& c) {
  const Tensor& y = c.inputs[0];
  const Tensor& gg = c.grads[0];
  return {sum_to(gg * c.inputs[1] * y * -2, y), sum_to(tanh_grad(y, gg), c.inputs[1])};
}
// d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
std::vector<Tensor> grad_erf(const GradContext& c) {
  const Tensor& x = c.inputs[0];
  return {c.grads[0] * (2.0 / std::sqrt(std::numbers::pi)) * exp(neg(x * x))};
}
// d/dx sigmoid(x) = y (1 - y)
std::vector<Tensor> grad_sigmoid(const GradContext& c) { return {sigmoid_grad(c.outputs[0], c.grads[0])}; }
// sigmoid_grad(y, g) = g y (1 - y): d/dy = gg g (1 - 2y), d/dg = sigmoid_grad(y, gg).
std::vector<Tensor> grad_sigmoid_grad(const GradContext& c) {
  const Tensor& y = c.inputs[0];
  const Tensor& gg = c.grads[0];
  return {sum_to(gg * c.inputs[1] * (1 - 2 * y), y), sum_to(sigmoid_grad(y, gg), c.inputs[1])};
}
// d/dx relu(x) = 1 where x > 0, else 0
std::vector<Tensor> grad_relu(const GradContext& c) { return {relu_grad(c.outputs[0], c.grads[0])}; }
// relu_grad(y, g) is linear in g and piecewise constant in y.
std::vector<Tensor> grad_relu_grad(const GradContext& c) {
  return {Tensor(), sum_to(relu_grad(c.inputs[0], c.grads[0]), c.inputs[1])};
}
// Only float-to-float casts carry a gradient (cast back to the input dtype).
std::vector<Tensor> grad_cast(const GradContext& c) {
  if (!is_floating(c.inputs[0].dtype()) || !is_floating(c.outputs[0].dtype())) return {Tensor()};
  return {cast(c.grads[0], c.inputs[0].dtype())};
}
std::vector<Tensor> grad_identity(const GradContext& c) { return {c.grads[0]}; }

constexpr std::uint32_t kEw = kElementwise;
const OpDef kAdd{.name = "Add",
                 .public_name = "add",
                 .num_inputs = 2,
                 .infer = infer_arith,
                 .kernel = kernels::binary<fn::Add>,
                 .grad = grad_add,
                 .traits = kEw | kCommutative,
                 .block_f32 = kernels::binary_block<fn::Add>};
const OpDef kSub{.name = "Sub",
                 .public_name = "sub",
                 .num_inputs = 2,
                 .infer = infer_arith,
                 .kernel = kernels::binary<fn::Sub>,
                 .grad = grad_sub,
                 .traits = kEw,
                 .block_f32 = kernels::binary_block<fn::Sub>};
const OpDef kMul{.name = "Mul",
                 .public_name = "mul",
                 .num_inputs = 2,
                 .infer = infer_arith,
                 .kernel = kernels::binary<fn::Mul>,
                 .grad = grad_mul,
                 .traits = kEw | kCommutative,
                 .block_f32 = kernels::binary_block<fn::Mul>};
const OpDef kDiv{.name = "Div",
                 .public_name = "div",
                 .num_inputs = 2,
                 .infer = infer_arith,
                 .kernel = kernels::div,
                 .grad = grad_div,
                 .traits = kEw | kChecksIntegers,
                 .block_f32 = kernels::binary_block<fn::Div>};
const OpDef kPow{.name = "Pow",
                 .public_name = "pow",
                 .num_inputs = 2,
                 .infer = infer_arith,
                 .kernel = kernels::pow,
                 .grad = grad_pow,
                 .traits = kEw};
const OpDef kMaximum{.name = "Maximum",
                     .public_name = "maximum",
                     .num_inputs = 2,
                     .infer = infer_arith,
                     .kernel = kernels::binary<fn::Maximum>,
                     .grad = grad_maximum,
                     .traits = kEw | kCommutative,
                     .block_f32 = kernels::binary_block<fn::Maximum>};
const OpDef kMinimum{.name = "Minimum",
                     .public_name = "minimum",
                     .num_inputs = 2,
                     .infer = infer_arith,
                     .kernel = kernels::binary<fn::Minimum>,
                     .grad = grad_minimum,
                     .traits = kEw | kCommutative,
                     .block_f32 = kernels::binary_block<fn::Minimum>};
const OpDef kEqual{.name = "Equal",
                   .public_name = "equal",
                   .num_inputs = 2,
                   .infer = infer_compare,
                   .kernel = kernels::equal,
                   .grad = nullptr,
                   .traits = kEw | kCommutative};
const OpDef kNotEqual{.name = "NotEqual",
                      .public_name = "not_equal",
                      .num_inputs = 2,
                      .infer = infer_compare,
                      .kernel = kernels::not_equal,
                      .grad = nullptr,
                      .traits = kEw | kCommutative};
const OpDef kLess{.name = "Less",
                  .public_name = "less",
                  .num_inputs = 2,
                  .infer = infer_ordered,
                  .kernel = kernels::less,
                  .grad = nullptr,
                  .traits = kEw};
const OpDef kLessEqual{.name = "LessEqual",
                       .public_name = "less_equal",
                       .num_inputs = 2,
                       .infer = infer_ordered,
                       .kernel = kernels::less_equal,
                       .grad = nullptr,
                       .traits = kEw};
const OpDef kGreater{.name = "Greater",
                     .public_name = "greater",
                     .num_inputs = 2,
                     .infer = infer_ordered,
                     .kernel = kernels::greater,
                     .grad = nullptr,
                     .traits = kEw};
const OpDef kGreaterEqual{.name = "GreaterEqual",
                          .public_name = "greater_equal",
                          .num_inputs = 2,
                          .infer = infer_ordered,
                          .kernel = kernels::greater_equal,
                          .grad = nullptr,
                          .traits = kEw};
const OpDef kLogicalAnd{.name = "LogicalAnd",
                        .public_name = "logical_and",
                        .num_inputs = 2,
                        .infer = infer_logical,
                        .kernel = kernels::logical_and,
                        .grad = nullptr,
                        .traits = kEw | kCommutative};
const OpDef kLogicalOr{.name = "LogicalOr",
                       .public_name = "logical_or",
                       .num_inputs = 2,
                       .infer = infer_logical,
                       .kernel = kernels::logical_or,
                       .grad = nullptr,
                       .traits = kEw | kCommutative};
const OpDef kLogicalNot{.name = "LogicalNot",
                        .public_name = "logical_not",
                        .num_inputs = 1,
                        .infer = infer_logical,
                        .kernel = kernels::logical_not,
                        .grad = nullptr,
                        .traits = kEw};
const OpDef kSelect{.name = "Select",
                    .public_name = "where",
                    .num_inputs = 3,
                    .infer = infer_select,
                    .kernel = kernels::select,
                    .grad = grad_select,
                    .traits = kEw};
const OpDef kNeg{.name = "Neg",
                 .public_name = "neg",
                 .num_inputs = 1,
                 .infer = infer_numeric_unary,
                 .kernel = kernels::unary<fn::Neg>,
                 .grad = grad_neg,
                 .traits = kEw,
                 .block_f32 = kernels::unary_block<fn::Neg>};
const OpDef kAbs{.name = "Abs",
                 .public_name = "abs",
                 .num_inputs = 1,
                 .infer = infer_numeric_unary,
                 .kernel = kernels::unary<fn::Abs>,
                 .grad = grad_abs,
                 .traits = kEw,
                 .block_f32 = kernels::unary_block<fn::Abs>};
const OpDef kSign{.name = "Sign",
                  .public_name = "sign",
                  .num_inputs = 1,
                  .infer = infer_numeric_unary,
                  .kernel = kernels::unary<fn::Sign>,
                  .grad = grad_sign,
                  .traits = kEw,
                  .block_f32 = kernels::unary_block<fn::Sign>};
const OpDef kRelu{.name = "Relu",
                  .public_name = "relu",
                  .num_inputs = 1,
                  .infer = infer_numeric_unary,
                  .kernel = kernels::unary<fn::Relu>,
                  .grad = grad_relu,
                  .traits = kEw,
                  .block_f32 = kernels::unary_block<fn::Relu>};
const OpDef kReluGrad{.name = "ReluGrad",
                      .public_name = "relu_grad",
                      .num_inputs = 2,
                      .infer = infer_arith,
                      .kernel = kernels::binary<fn::ReluGrad>,
                      .grad = grad_relu_grad,
                      .traits = kEw,
                      .block_f32 = kernels::binary_block<fn::ReluGrad>};
const OpDef kExp{.name = "Exp",
                 .public_name = "exp",
                 .num_inputs = 1,
                 .infer = infer_float_unary,
                 .kernel = kernels::unary<fn::Exp>,
                 .grad = grad_exp,
                 .traits = kEw,
                 .block_f32 = kernels::unary_block<fn::Exp>};
const OpDef kExpm1{.name = "Expm1",
                   .public_name = "expm1",
                   .num_inputs = 1,
                   .infer = infer_float_unary,
                   .kernel = kernels::unary<fn::Expm1>,
                   .grad = grad_expm1,
                   .traits = kEw,
                   .block_f32 = kernels::unary_block<fn::Expm1>};
const OpDef kAtan{.name = "Atan",
                  .public_name = "atan",
                  .num_inputs = 1,
                  .infer = infer_float_unary,
                  .kernel = kernels::unary<fn::Atan>,
                  .grad = grad_atan,
                  .traits = kEw,
                  .block_f32 = kernels::unary_block<fn::Atan>};
const OpDef kSoftsign{.name = "Softsign",
                      .public_name = "softsign",
                      .num_inputs = 1,
                      .infer = infer_float_unary,
                      .kernel = kernels::unary<fn::Softsign>,
                      .grad = grad_softsign,
                      .traits = kEw,
                      .block_f32 = kernels::unary_block<fn::Softsign>};
const OpDef kLog{.name = "Log",
                 .public_name = "log",
                 .num_inputs = 1,
                 .infer = infer_float_unary,
                 .kernel = kernels::unary<fn::Log>,
                 .grad = grad_log,
                 .traits = kEw,
                 .block_f32 = kernels::unary_block<fn::Log>};
const OpDef kLog1p{.name = "Log1p",
                   .public_name = "log1p",
                   .num_inputs = 1,
                   .infer = infer_float_unary,
                   .kernel = kernels::unary<fn::Log1p>,
                   .grad = grad_log1p,
                   .traits = kEw,
                   .block_f32 = kernels::unary_block<fn::Log1p>};
const OpDef kSqrt{.name = "Sqrt",
                  .public_name = "sqrt",
                  .num_inputs = 1,
                  .infer = infer_float_unary,
                  .kernel = kernels::unary<fn::Sqrt>,
                  .grad = grad_sqrt,
                  .traits = kEw,
                  .block_f32 = kernels::unary_block<fn::Sqrt>};
const OpDef kRsqrt{.name = "Rsqrt",
                   .public_name = "rsqrt",
                   .num_inputs = 1,
                   .infer = infer_float_unary,
                   .kernel = kernels::unary<fn::Rsqrt>,
                   .grad = grad_rsqrt,
                   .traits = kEw,
                   .block_f32 = kernels::unary_block<fn::Rsqrt>};
const OpDef kSin{.name = "Sin",
                 .public_name = "sin",
                 .num_inputs = 1,
                 .infer = infer_float_unary,
                 .kernel = kernels::unary<fn::Sin>,
                 .grad = grad_sin,
                 .traits = kEw,
                 .block_f32 = kernels::unary_block<fn::Sin>};
const OpDef kCos{.name = "Cos",
                 .public_name = "cos",
                 .num_inputs = 1,
                 .infer = infer_float_unary,
                 .kernel = kernels::unary<fn::Cos>,
                 .grad = grad_cos,
                 .traits = kEw,
                 .block_f32 = kernels::unary_block<fn::Cos>};
const OpDef kTan{.name = "Tan",
                 .public_name = "tan",
                 .num_inputs = 1,
                 .infer = infer_float_unary,
                 .kernel = kernels::unary<fn::Tan>,
                 .grad = grad_tan,
                 .traits = kEw,
                 .block_f32 = kernels::unary_block<fn::Tan>};
const OpDef kTanh{.name = "Tanh",
                  .public_name = "tanh",
                  .num_inputs = 1,
                  .infer = infer_float_unary,
                  .kernel = kernels::unary<fn::Tanh>,
                  .grad = grad_tanh,
                  .traits = kEw,
                  .block_f32 = kernels::unary_block<fn::Tanh>};
const OpDef kTanhGrad{.name = "TanhGrad",
                      .public_name = "tanh_grad",
                      .num_inputs = 2,
                      .infer = infer_float_binary,
                      .kernel = kernels::binary<fn::TanhGrad>,
                      .grad = grad_tanh_grad,
                      .traits = kEw,
                      .block_f32 = kernels::binary_block<fn::TanhGrad>};
const OpDef kErf{.name = "Erf",
                 .public_name = "erf",
                 .num_inputs = 1,
                 .infer = infer_float_unary,
                 .kernel = kernels::unary<fn::Erf>,
                 .grad = grad_erf,
                 .traits = kEw,
                 .block_f32 = kernels::unary_block<fn::Erf>};
const OpDef kSigmoid{.name = "Sigmoid",
                     .public_name = "sigmoid",
                     .num_inputs = 1,
                     .infer = infer_float_unary,
                     .kernel = kernels::unary<fn::Sigmoid>,
                     .grad = grad_sigmoid,
                     .traits = kEw,
                     .block_f32 = kernels::unary_block<fn::Sigmoid>};
const OpDef kSigmoidGrad{.name = "SigmoidGrad",
                         .public_name = "sigmoid_grad",
                         .num_inputs = 2,
                         .infer = infer_float_binary,
                         .kernel = kernels::binary<fn::SigmoidGrad>,
                         .grad = grad_sigmoid_grad,
                         .traits = kEw,
                         .block_f32 = kernels::binary_block<fn::SigmoidGrad>};
const OpDef kCast{.name = "Cast",
                  .public_name = "cast",
                  .num_inputs = 1,
                  .infer = infer_cast,
                  .kernel = kernels::cast,
                  .grad = grad_cast,
                  .traits = kEw};
const OpDef kIdentity{.name = "Identity",
                      .public_name = "identity",
                      .num_inputs = 1,
                      .infer = infer_same,
                      .kernel = kernels::identity,
                      .grad = grad_identity,
                      .traits = kEw | kView};
const OpDef kStopGradient{.name = "StopGradient",
                          .public_name = "stop_gradient",
                          .num_inputs = 1,
                          .infer = infer_same,
                          .kernel = kernels::identity,
                          .grad = nullptr,
                          .traits = kEw | kView};

// Binary public ops promote mismatched dtypes (promote_types) with explicit casts, so kernels and
// graph nodes always see one dtype.
Tensor binary(const OpDef& op, const Tensor& a, const Tensor& b) {
  if (a.defined() && b.defined() && a.dtype() != b.dtype()) {
    DType d = promote_types(a.dtype(), b.dtype());
    return call(op, {a.dtype() == d ? a : cast(a, d), b.dtype() == d ? b : cast(b, d)});
  }
  return call(op, {a, b});
}

// Comparisons between integers and floats are exact, not done in the promoted float (int32 16777217 is not
// float32 16777216): int32/bool with a float compare in float64, which holds every int32; int64 with a
// float compares by value in the kernel (float64 cannot hold every int64).
Tensor compare(const OpDef& op, const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || a.dtype() == b.dtype() || is_floating(a.dtype()) == is_floating(b.dtype()))
    return binary(op, a, b);
  const Tensor& i = is_floating(a.dtype()) ? b : a;
  auto f64 = [](const Tensor& t) { return t.dtype() == DType::Float64 ? t : cast(t, DType::Float64); };
  if (i.dtype() != DType::Int64) return call(op, {f64(a), f64(b)});
  return call(op, {a.dtype() == DType::Int64 ? a : f64(a), b.dtype() == DType::Int64 ? b : f64(b)});
}

}  // namespace

static void register_elementwise_ops(std::vector<const OpDef*>& r) {
  for (const OpDef* d :
       {&kAdd,      &kSub,  &kMul,       &kDiv,     &kPow,          &kMaximum,      &kMinimum,     &kEqual,
        &kNotEqual, &kLess, &kLessEqual, &kGreater, &kGreaterEqual, &kLogicalAnd,   &kLogicalOr,   &kLogicalNot,
        &kSelect,   &kNeg,  &kAbs,       &kSign,    &kRelu,         &kReluGrad,     &kExp,         &kExpm1,
        &kAtan,     &kLog,  &kLog1p,     &kSqrt,    &kRsqrt,        &kSin,          &kCos,         &kTan,
        &kTanh,     &kErf,  &kSigmoid,   &kCast,    &kIdentity,     &kStopGradient, &kSigmoidGrad, &kTanhGrad})
    r.push_back(d);
  r.push_back(&kSoftsign);
}
const OpRegistration kRegisterElementwiseOps{register_elementwise_ops};

namespace internal {
Tensor weak_scalar(const Tensor& like, double v, bool is_float) {
  if (!like.defined()) throw ValueError("[operator] a C++ number is combined with an undefined Tensor handle");
  DType t = like.dtype();
  if (!is_float) return weak_scalar_int(like, static_cast<std::int64_t>(v));
  return full(Shape{}, v, is_floating(t) ? t : DType::Float32);
}

Tensor weak_scalar_int(const Tensor& like, std::int64_t v, bool above_int64) {
  if (!like.defined()) throw ValueError("[operator] a C++ number is combined with an undefined Tensor handle");
  DType t = like.dtype();
  DType d = t == DType::Bool ? DType::Int32 : t;
  const bool fits = !above_int64 && (d != DType::Int32 || (v >= INT32_MIN && v <= INT32_MAX));
  if (!fits) {
    throw ValueError(std::string("[operator] the C++ integer ") + (above_int64 ? "above 2^63" : std::to_string(v)) +
                     " does not fit " + dtype_name(d) + ", the dtype of the " + like.shape().str() +
                     " tensor it is combined with; cast the tensor to " +
                     (d == DType::Int32 ? "int64" : "a float dtype") + " first, or write a floating-point literal");
  }
  if (d == DType::Int64) {
    Tensor s = empty(Shape{}, DType::Int64);
    *s.mutable_data<std::int64_t>() = v;  // exact: no trip through double
    return s;
  }
  return full(Shape{}, static_cast<double>(v), d);
}
}  // namespace internal

Tensor add(const Tensor& a, const Tensor& b) { return binary(kAdd, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(kSub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(kMul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(kDiv, a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary(kPow, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(kMaximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(kMinimum, a, b); }
Tensor equal(const Tensor& a, const Tensor& b) { return compare(kEqual, a, b); }
Tensor not_equal(const Tensor& a, const Tensor& b) { return compare(kNotEqual, a, b); }
Tensor less(const Tensor& a, const Tensor& b) { return compare(kLess, a, b); }
Tensor less_equal(const Tensor& a, const Tensor& b) { return compare(kLessEqual, a, b); }
Tensor greater(const Tensor& a, const Tensor& b) { return compare(kGreater, a, b); }
Tensor greater_equal(const Tensor& a, const Tensor& b) { return compare(kGreaterEqual, a, b); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return call(kLogicalAnd, {a, b}); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return call(kLogicalOr, {a, b}); }
Tensor logical_not(const Tensor& x) { return call(kLogicalNot, {x}); }
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  if (a.defined() && b.defined() && a.dtype() != b.dtype()) {
    DType d = promote_types(a.dtype(), b.dtype());
    return call(kSelect, {cond, a.dtype() == d ? a : cast(a, d), b.dtype() == d ? b : cast(b, d)});
  }
  return call(kSelect, {cond, a, b});
}
Tensor neg(const Tensor& x) { return call(kNeg, {x}); }
Tensor abs(const Tensor& x) { return call(kAbs, {x}); }
Tensor sign(const Tensor& x) { return call(kSign, {x}); }
Tensor relu(const Tensor& x) { return call(kRelu, {x}); }
const OpDef& relu_op() { return kRelu; }
const OpDef& add_op() { return kAdd; }
const OpDef& relu_grad_op() { return kReluGrad; }
Tensor relu_grad(const Tensor& y, const Tensor& dy) { return binary(kReluGrad, y, dy); }
Tensor sigmoid_grad(const Tensor& y, const Tensor& dy) { return binary(kSigmoidGrad, y, dy); }
Tensor tanh_grad(const Tensor& y, const Tensor& dy) { return binary(kTanhGrad, y, dy); }
Tensor exp(const Tensor& x) { return call(kExp, {x}); }
Tensor expm1(const Tensor& x) { return call(kExpm1, {x}); }
Tensor atan(const Tensor& x) { return call(kAtan, {x}); }
Tensor log(const Tensor& x) { return call(kLog, {x}); }
Tensor log1p(const Tensor& x) { return call(kLog1p, {x}); }
Tensor sqrt(const Tensor& x) { return call(kSqrt, {x}); }
Tensor rsqrt(const Tensor& x) { return call(kRsqrt, {x}); }
Tensor sin(const Tensor& x) { return call(kSin, {x}); }
Tensor cos(const Tensor& x) { return call(kCos, {x}); }
Tensor tan(const Tensor& x) { return call(kTan, {x}); }
Tensor tanh(const Tensor& x) { return call(kTanh, {x}); }
Tensor erf(const Tensor& x) { return call(kErf, {x}); }
Tensor sigmoid(const Tensor& x) { return call(kSigmoid, {x}); }
Tensor cast(const Tensor& x, DType dtype) {
  if (x.defined() && x.dtype() == dtype) return x;
  return call(kCast, {x}, {{"dtype", dtype}});
}
Tensor identity(const Tensor& x) { return call(kIdentity, {x}); }
Tensor stop_gradient(const Tensor& x) { return call(kStopGradient, {x}); }

Tensor square(const Tensor& x) { return x * x; }

// elu(x) = x for x > 0, alpha expm1(x) otherwise (expm1: exp(x) - 1 loses digits near 0); it only sees
// min(x, 0), so it cannot overflow.
Tensor elu(const Tensor& x, double alpha) { return where(x > 0, x, expm1(minimum(x, 0)) * alpha); }

// gelu(x) = x/2 (1 + erf(x/sqrt 2)); tanh form: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
Tensor gelu(const Tensor& x, bool approximate) {
  if (approximate) {
    Tensor inner = (x + x * x * x * 0.044715) * std::sqrt(2.0 / std::numbers::pi);
    return x * 0.5 * (tanh(inner) + 1);
  }
  return x * 0.5 * (erf(x * (1.0 / std::numbers::sqrt2)) + 1);
}

// softplus(x) = x + log1p(exp(-x)) for x > 0, log1p(exp(x)) otherwise: exact, free of overflow (each branch
// only sees the side of 0 it is chosen for), and its gradient is sigmoid(x) everywhere, 0.5 at 0.
Tensor softplus(const Tensor& x) { return where(x > 0, x + log1p(exp(neg(maximum(x, 0)))), log1p(exp(minimum(x, 0)))); }

// relu6(x) = min(6, relu(x)); d/dx = 1 for 0 < x < 6, else 0 (minimum's tie goes to its first operand, the
// constant, so x == 6 gets 0 as in TensorFlow's Relu6Grad).
Tensor relu6(const Tensor& x) { return minimum(internal::lit(x, 6.0), relu(x)); }

// leaky_relu(x) = x for x > 0, alpha x otherwise; d/dx = 1 or alpha (alpha at 0, as TensorFlow's LeakyReluGrad).
Tensor leaky_relu(const Tensor& x, double alpha) { return where(x > 0, x, x * alpha); }

// selu(x) = scale x for x >= 0, scale alpha expm1(x) otherwise, with tf.nn.selu's constants; the x branch
// from 0 up (and at NaN), so the gradient at 0 is scale and a NaN's passes, as TensorFlow's SeluGrad. expm1
// sees only the negative x (0 elsewhere), so its unused branch cannot overflow or put a NaN into the gradient.
Tensor selu(const Tensor& x) {
  constexpr double kAlpha = 1.6732632423543772848170429916717;
  constexpr double kScale = 1.0507009873554804934193349852946;
  Tensor negative = x < 0;
  return where(negative, expm1(where(negative, x, internal::lit(x, 0))) * (kAlpha * kScale), x * kScale);
}

// silu(x) = x sigmoid(beta x).
Tensor silu(const Tensor& x, double beta) { return x * sigmoid(beta == 1.0 ? x : x * beta); }

Tensor softsign(const Tensor& x) { return call(kSoftsign, {x}); }

// log(sigmoid(x)) = -softplus(-x): softplus is exact and overflow-free on both sides.
Tensor log_sigmoid(const Tensor& x) { return neg(softplus(neg(x))); }

Tensor clip(const Tensor& x, double lo, double hi) {
  if (lo > hi) {
    throw ValueError("[clip] lower bound " + std::to_string(lo) + " is above upper bound " + std::to_string(hi));
  }
  return minimum(maximum(x, internal::lit(x, lo)), internal::lit(x, hi));
}

// As TensorFlow names them (src/ops/api.h): every math op at the top level and in duet.math, activations in
// duet.nn. Each exposes the public function above, so both languages run the same code.
namespace {
using Unary = Tensor (*)(const Tensor&);
using Binary = Tensor (*)(const Tensor&, const Tensor&);
api::Function binary_api(const char* name, Binary f, const char* modules = "math,.") {
  return api::fn(name, modules, f, "x, y");
}
api::Function unary_api(const char* name, Unary f, const char* modules = "math,.", const char* param = "x") {
  return api::fn(name, modules, f, param);
}
const api::ApiRegistration kElementwiseApi{{
    binary_api("add", static_cast<Binary>(add)),
    binary_api("subtract", static_cast<Binary>(sub)),
    binary_api("multiply", static_cast<Binary>(mul)),
    binary_api("divide", &api::true_divide),  // integers: float64, as TensorFlow (C++'s div truncates)
    binary_api("truediv", &api::true_divide, "math"),
    binary_api("truncatediv", static_cast<Binary>(div), "."),  // C++'s div: integers truncate
    binary_api("pow", static_cast<Binary>(pow)),
    binary_api("maximum", static_cast<Binary>(maximum)),
    binary_api("minimum", static_cast<Binary>(minimum)),
    binary_api("equal", static_cast<Binary>(equal)),
    binary_api("not_equal", static_cast<Binary>(not_equal)),
    binary_api("less", static_cast<Binary>(less)),
    binary_api("less_equal", static_cast<Binary>(less_equal)),
    binary_api("greater", static_cast<Binary>(greater)),
    binary_api("greater_equal", static_cast<Binary>(greater_equal)),
    binary_api("logical_and", &logical_and),
    binary_api("logical_or", &logical_or),
    unary_api("logical_not", &logical_not),
    api::fn("where", "math,.", &where, "condition, x, y"),
    unary_api("negative", &neg),
    unary_api("abs", &abs),
    unary_api("sign", &sign),
    unary_api("exp", &exp),
    unary_api("expm1", &expm1),
    unary_api("log", &log),
    unary_api("log1p", &log1p),
    unary_api("sqrt", &sqrt),
    unary_api("rsqrt", &rsqrt),
    unary_api("square", &square),
    unary_api("sin", &sin),
    unary_api("cos", &cos),
    unary_api("tan", &tan),
    unary_api("tanh", &tanh, "math,nn,."),
    unary_api("atan", &atan),
    unary_api("erf", &erf),
    unary_api("sigmoid", &sigmoid, "math,nn,."),
    unary_api("relu", &relu, "nn", "features"),
    api::fn("elu", "nn", &elu, "features, alpha=1.0"),
    api::fn("gelu", "nn", &gelu, "features, approximate=False"),
    unary_api("softplus", &softplus, "math,nn", "features"),
    unary_api("relu6", &relu6, "nn", "features"),
    api::fn("leaky_relu", "nn", &leaky_relu, "features, alpha=0.2"),
    unary_api("selu", &selu, "nn", "features"),
    api::fn("silu", "nn", &silu, "features, beta=1.0"),
    api::fn("swish", "nn", &silu, "features, beta=1.0"),
    unary_api("softsign", &softsign, "math,nn", "features"),
    unary_api("log_sigmoid", &log_sigmoid, "math", "x"),
    api::fn("clip_by_value", ".", &clip, "t, clip_value_min, clip_value_max"),
    api::fn("cast", "dtypes,.", &cast, "x, dtype"),
    unary_api("stop_gradient", &stop_gradient, ".", "input"),
    unary_api("identity", &identity, ".", "input"),
}};
}  // namespace

}  // namespace duet
