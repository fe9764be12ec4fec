#include "kernels/broadcast.h"

#include <stdexcept>

namespace duet {

BroadcastPlan make_broadcast_plan(const Shape& out, const Shape* const* ins, int nops) {
  const int r = out.rank();
  if (r > 64) throw std::length_error("broadcast: rank above 64");
  std::int64_t dims[64], strides[kMaxOperands][64];
  for (int k = 0; k < nops; ++k) {
    const Shape& s = *ins[k];
    std::int64_t st = 1;
    for (int d = r - 1; d >= 0; --d) {
      int sd = d - (r - s.rank());
      std::int64_t dim = sd >= 0 ? s[sd] : 1;
      strides[k][d] = (dim == 1 && out[d] != 1) ? 0 : st;
      st *= dim;
    }
  }
  for (int d = 0; d < r; ++d) dims[d] = out[d];
  // Merge dims from the right: dim d folds into the running inner dim when every operand is contiguous
  // across them (stride[d] == stride[inner] * dims[inner]).
  BroadcastPlan p;
  p.nops = nops;
  int m = 0;
  std::int64_t md[64], ms[kMaxOperands][64];
  for (int d = r - 1; d >= 0; --d) {
    if (dims[d] == 1) continue;
    if (m > 0) {
      bool merge = true;
      for (int k = 0; k < nops; ++k)
        if (strides[k][d] != ms[k][m - 1] * md[m - 1]) merge = false;
      if (merge) {
        md[m - 1] *= dims[d];
        continue;
      }
    }
    md[m] = dims[d];
    for (int k = 0; k < nops; ++k) ms[k][m] = strides[k][d];
    ++m;
  }
  if (m == 0) {
    md[0] = 1;
    for (int k = 0; k < nops; ++k) ms[k][0] = 0;
    m = 1;
  }
  if (m > 16) throw std::length_error("broadcast: too many non-mergeable dims");
  p.rank = m;
  for (int i = 0; i < m; ++i) {  // reverse back to outer-to-inner order
    p.dims[i] = md[m - 1 - i];
    for (int k = 0; k < nops; ++k) p.strides[k][i] = ms[k][m - 1 - i];
  }
  return p;
}

}  // namespace duet
