#pragma once
// Iteration over broadcast operands: dims are aligned right, broadcast dims get stride 0, and adjacent
// dims that stay contiguous for every operand are merged, so the inner loop is as long as possible.
#include <cstdint>

#include "duet/shape.h"
#include "kernels/parallel.h"

namespace duet {

constexpr int kMaxOperands = 3;

struct BroadcastPlan {
  int rank = 0;  // after merging; >= 1
  std::int64_t dims[16] = {};
  std::int64_t strides[kMaxOperands][16] = {};
  int nops = 0;
};

BroadcastPlan make_broadcast_plan(const Shape& out, const Shape* const* ins, int nops);

// Calls row(out_offset, in_offsets, len) for each inner row segment; work is split across threads.
// Inner strides are plan.strides[k][rank - 1] (0 or 1).
template <class Row>
void for_each_row(const BroadcastPlan& p, Row&& row) {
  const int r = p.rank;
  const std::int64_t inner = p.dims[r - 1];
  std::int64_t rows = 1;
  for (int d = 0; d < r - 1; ++d) rows *= p.dims[d];
  const std::int64_t total = rows * inner;
  if (total == 0) return;
  parallel_for(total, kParallelGrain, [&](std::int64_t begin, std::int64_t end) {
    std::int64_t idx[16];
    std::int64_t row_i = begin / inner, col = begin % inner;
    std::int64_t rem = row_i;
    for (int d = r - 2; d >= 0; --d) {
      idx[d] = rem % p.dims[d];
      rem /= p.dims[d];
    }
    std::int64_t off[kMaxOperands];
    for (int k = 0; k < p.nops; ++k) {
      off[k] = 0;
      for (int d = 0; d < r - 1; ++d) off[k] += idx[d] * p.strides[k][d];
      off[k] += col * p.strides[k][r - 1];
    }
    std::int64_t pos = begin;
    while (pos < end) {
      std::int64_t len = std::min(inner - col, end - pos);
      row(pos, off, len);
      pos += len;
      col = 0;
      // Advance the outer index (odometer) and recompute offsets incrementally.
      for (int d = r - 2; d >= 0; --d) {
        if (++idx[d] < p.dims[d]) break;
        idx[d] = 0;
      }
      for (int k = 0; k < p.nops; ++k) {
        off[k] = 0;
        for (int d = 0; d < r - 1; ++d) off[k] += idx[d] * p.strides[k][d];
      }
    }
  });
}

}  // namespace duet
