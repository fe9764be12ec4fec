#include "ops/infer_util.h"

#include <algorithm>

namespace duet {

std::string shapes_str(const InferContext& c) {
  std::string s;
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    if (i) s += i + 1 == c.inputs.size() ? " and " : ", ";
    s += c.inputs[i].shape().str();
  }
  return s;
}

Shape broadcast_shapes(const InferContext& c, const Shape& a, const Shape& b) {
  int r = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < r; ++i) {
    int ia = i - (r - a.rank()), ib = i - (r - b.rank());
    std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    // A 1 takes the other dim; an unknown dim takes the other one unless that is 1 (checked when it runs).
    const bool take_b = da == 1 || (da < 0 && db != 1);
    if (!take_b && db != 1 && da >= 0 && db >= 0 && da != db) {
      c.shape_error("shapes " + a.str() + " and " + b.str() + " cannot be broadcast (dim " + std::to_string(i) + ": " +
                    std::to_string(da) + " vs " + std::to_string(db) +
                    "); dims must be equal or 1. Reshape or expand_dims one operand");
    }
    out.push_back(take_b ? db : da);
  }
  return out;
}

std::int64_t normalize_axis(const InferContext& c, std::int64_t axis, int rank) {
  if (axis < -rank || axis >= rank || rank == 0) {
    c.value_error("axis " + std::to_string(axis) + " is out of range for a tensor of rank " + std::to_string(rank) +
                  " (shape " + (c.inputs.empty() ? std::string("?") : c.inputs[0].shape().str()) +
                  "); valid axes are " +
                  (rank ? "[" + std::to_string(-rank) + ", " + std::to_string(rank - 1) + "]" : "none"));
  }
  return axis < 0 ? axis + rank : axis;
}

std::vector<std::int64_t> normalize_axes(const char* op, const std::vector<std::int64_t>& axes, int rank) {
  std::vector<std::int64_t> out;
  if (axes.empty()) {
    for (int i = 0; i < rank; ++i) out.push_back(i);
    return out;
  }
  for (auto a : axes) {
    if (a < -rank || a >= rank) {
      throw ValueError(std::string("[") + op + "] axis " + std::to_string(a) +
                       " is out of range for a tensor of rank " + std::to_string(rank) + "; valid axes are [" +
                       std::to_string(-rank) + ", " + std::to_string(rank - 1) + "]");
    }
    out.push_back(a < 0 ? a + rank : a);
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    throw ValueError(std::string("[") + op + "] axes contain a repeated axis");
  }
  return out;
}

std::vector<std::int64_t> normalize_axes(const InferContext& c, const std::vector<std::int64_t>& axes, int rank) {
  return normalize_axes(c.op.public_name, axes, rank);
}

void require_same_dtypes(const InferContext& c) {
  for (std::size_t i = 1; i < c.inputs.size(); ++i) {
    if (c.dtype(i) != c.dtype(0)) {
      c.dtype_error(std::string("inputs have different dtypes: ") + dtype_name(c.dtype(0)) + " " + c.shape(0).str() +
                    " vs " + dtype_name(c.dtype(i)) + " " + c.shape(i).str() + "; cast() one of them");
    }
  }
}

void require_floating(const InferContext& c, std::size_t i) {
  if (!is_floating(c.dtype(i))) {
    c.dtype_error(std::string("needs a float32 or float64 input, got ") + dtype_name(c.dtype(i)) + " " +
                  c.shape(i).str() + "; cast(x, DType::Float32) first");
  }
}

void require_numeric(const InferContext& c, std::size_t i) {
  if (c.dtype(i) == DType::Bool) {
    c.dtype_error("needs a numeric input, got bool " + c.shape(i).str() + "; cast() it to a number first");
  }
}

void require_dtype(const InferContext& c, std::size_t i, DType d) {
  if (c.dtype(i) != d) {
    c.dtype_error(std::string("input ") + std::to_string(i) + " must be " + dtype_name(d) + ", got " +
                  dtype_name(c.dtype(i)) + " " + c.shape(i).str());
  }
}

}  // namespace duet
