#include "duet/linalg.h"
#include "duet/gradient_ops.h"

#include "duet/ops.h"
#include "kernels/kernels.h"
#include "ops/api.h"
#include "ops/fused.h"
#include "ops/infer_util.h"
#include "ops/registry.h"

namespace duet {
namespace {

struct MatDims {
  std::int64_t m, k, k2, n;
};

MatDims mat_dims(const Shape& a, const Shape& b, bool ta, bool tb) {
  const int ra = a.rank(), rb = b.rank();
  return {ta ? a[ra - 1] : a[ra - 2], ta ? a[ra - 2] : a[ra - 1], tb ? b[rb - 1] : b[rb - 2],
          tb ? b[rb - 2] : b[rb - 1]};
}

Shape batch_of(const Shape& s) { return Shape(std::span<const std::int64_t>(s.begin(), s.end() - 2)); }

void infer_matmul(InferContext& c) {
  const Shape& a = c.shape(0);
  const Shape& b = c.shape(1);
  require_same_dtypes(c);
  require_numeric(c, 0);
  const bool ta = c.attrs.b("transpose_a"), tb = c.attrs.b("transpose_b");
  if (a.rank() < 2 || b.rank() < 2) {
    c.shape_error("needs inputs of rank >= 2 (matrices, optionally batched), got " + a.str() + " and " + b.str() +
                  "; use expand_dims or reshape to make a vector a 1-row or 1-column matrix");
  }
  MatDims d = mat_dims(a, b, ta, tb);
  if (d.k >= 0 && d.k2 >= 0 && d.k != d.k2) {
    c.shape_error("inner dimensions differ: " + a.str() + (ta ? " (transposed)" : "") + " vs " + b.str() +
                  (tb ? " (transposed)" : "") + ": " + std::to_string(d.k) + " != " + std::to_string(d.k2));
  }
  Shape out = broadcast_shapes(c, batch_of(a), batch_of(b));
  out.push_back(d.m);
  out.push_back(d.n);
  c.set_output(c.dtype(0), out);
}

// C = op(A) op(B). With G = dC:
//   C = A B     : dA = G B^T,   dB = A^T G
//   C = A^T B   : dA = B G^T,   dB = A G
//   C = A B^T   : dA = G B,     dB = G^T A
//   C = A^T B^T : dA = B^T G^T, dB = G^T A^T
std::vector<Tensor> grad_matmul(const GradContext& c) {
  const Tensor& a = c.inputs[0];
  const Tensor& b = c.inputs[1];
  const Tensor& g = c.grads[0];
  const bool ta = c.attrs.b("transpose_a"), tb = c.attrs.b("transpose_b");
  Tensor da, db;
  const bool need_a = c.needs(0), need_b = c.needs(1);
  if (!ta && !tb) {
    if (need_a) da = matmul(g, b, false, true);
    if (need_b) db = matmul(a, g, true, false);
  } else if (ta && !tb) {
    if (need_a) da = matmul(b, g, false, true);
    if (need_b) db = matmul(a, g, false, false);
  } else if (!ta && tb) {
    if (need_a) da = matmul(g, b, false, false);
    if (need_b) db = matmul(g, a, true, false);
  } else {
    if (need_a) da = matmul(b, g, true, true);
    if (need_b) db = matmul(g, a, true, true);
  }
  return {need_a ? sum_to(da, a) : Tensor(), need_b ? sum_to(db, b) : Tensor()};
}

const OpDef kMatMul{.name = "MatMul",
                    .public_name = "matmul",
                    .num_inputs = 2,
                    .infer = infer_matmul,
                    .kernel = kernels::matmul,
                    .grad = grad_matmul,
                    .traits = 0};

// MatMulSum (a_1..a_t, b_1..b_t, c_1..c_e; transpose_a, transpose_b, terms = t, pack): the sum of
// op(a_i) op(b_i) over 2-D operands, plus the extra addends c_j of the output's shape or of one row of it
// (broadcast). pack (default true): one GEMM over operands packed along the contraction dimension; false:
// one GEMM per term accumulating into the output. Built by the matmul_sum pass from
// an addition tree of products (a weight used at every step of a recurrent net gets one gradient term
// per step); no gradient of its own.
void infer_matmul_sum(InferContext& c) {
  const std::int64_t terms = c.attrs.i("terms");
  const auto count = static_cast<std::int64_t>(c.inputs.size());
  if (terms < 1 || 2 * terms > count) {
    c.value_error("needs 'terms' >= 1 and two inputs per term, got terms=" + std::to_string(terms) + " with " +
                  std::to_string(count) + " inputs");
  }
  require_same_dtypes(c);
  require_numeric(c, 0);
  const bool ta = c.attrs.b("transpose_a"), tb = c.attrs.b("transpose_b");
  std::int64_t m = -1, n = -1;
  for (std::int64_t i = 0; i < terms; ++i) {
    const Shape& a = c.shape(static_cast<std::size_t>(i));
    const Shape& b = c.shape(static_cast<std::size_t>(terms + i));
    if (a.rank() != 2 || b.rank() != 2 || !a.is_fully_known() || !b.is_fully_known())
      c.shape_error("term " + std::to_string(i) + " needs two matrices of known shape, got " + a.str() + " and " +
                    b.str());
    MatDims d = mat_dims(a, b, ta, tb);
    if (d.k != d.k2 || (i > 0 && (d.m != m || d.n != n))) {
      c.shape_error("term " + std::to_string(i) + " (" + a.str() + " times " + b.str() +
                    ") does not match the others' product shape (" + std::to_string(m) + ", " + std::to_string(n) +
                    ")");
    }
    m = d.m;
    n = d.n;
  }
  for (std::int64_t j = 2 * terms; j < count; ++j) {
    const Shape& s = c.shape(static_cast<std::size_t>(j));
    if (s != Shape{m, n} && s != Shape{n} && s != Shape{1, n})
      c.shape_error("addend " + s.str() + " has neither the product shape (" + std::to_string(m) + ", " +
                    std::to_string(n) + ") nor that of one row of it");
  }
  c.set_output(c.dtype(0), Shape{m, n});
}

const OpDef kMatMulSum{.name = "MatMulSum",
                       .public_name = "matmul_sum",
                       .num_inputs = -1,
                       .infer = infer_matmul_sum,
                       .kernel = kernels::matmul_sum,
                       .grad = nullptr,
                       .traits = 0};

}  // namespace

const OpDef& matmul_op() { return kMatMul; }
const OpDef& matmul_sum_op() { return kMatMulSum; }

static void register_linalg_ops(std::vector<const OpDef*>& r) {
  r.push_back(&kMatMul);
  r.push_back(&kMatMulSum);
}
const OpRegistration kRegisterLinalgOps{register_linalg_ops};

Tensor matmul(const Tensor& a_in, const Tensor& b_in, bool transpose_a, bool transpose_b) {
  Tensor a = a_in, b = b_in;
  if (a.defined() && b.defined() && a.dtype() != b.dtype()) {
    DType d = promote_types(a.dtype(), b.dtype());
    a = cast(a, d);
    b = cast(b, d);
  }
  return call(kMatMul, {a, b}, {{"transpose_a", transpose_a}, {"transpose_b", transpose_b}});
}

// As TensorFlow names it (src/ops/api.h).
namespace {
const api::ApiRegistration kLinalgApi{{
    api::fn("matmul", "linalg,.", &matmul, "a, b, transpose_a=False, transpose_b=False"),
}};
}  // namespace

}  // namespace duet
