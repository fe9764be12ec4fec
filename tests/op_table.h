#pragma once
// The op table's row type, shared by the files that contribute rows (one per op family).
#include "test_util.h"

namespace duet::testing {

struct In {
  std::vector<std::int64_t> shape;
  double lo = -2, hi = 2;
  DType dtype = DType::Float32;     // Float32 inputs also run in float64 and take part in gradients
  std::vector<double> values = {};  // fixed values (indices, masks) instead of random ones
};
inline In F(std::vector<std::int64_t> s, double lo = -2, double hi = 2) { return {std::move(s), lo, hi}; }
inline In I(std::vector<std::int64_t> s, std::vector<double> v, DType d = DType::Int64) {
  return {std::move(s), 0, 0, d, std::move(v)};
}
inline In B(std::vector<std::int64_t> s, std::vector<double> v) {
  return {std::move(s), 0, 0, DType::Bool, std::move(v)};
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
using Ref = std::function<Arr(const std::vector<Arr>&)>;

struct Row {
  std::string name;
  std::vector<In> ins;
  Fn fn;
  Ref ref;  // empty for rows checked by `check`
  bool grad = true;
  double rtol = 2e-5;
  double grad_tol = 1e-5;
  std::function<void(const std::vector<Tensor>&)> check = nullptr;  // custom check (random ops)
  // Traced (optimized) vs eager; above 1e-6 only where a fused kernel legitimately rounds differently.
  double traced_rtol = 1e-6;
};

inline void PrintTo(const Row& r, std::ostream* os) { *os << r.name; }

std::vector<Row> nn_rows();

}  // namespace duet::testing
