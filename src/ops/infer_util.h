#pragma once
// Shape rules shared by many ops (written once; every op's inference calls these).
#include <cstdint>
#include <string>
#include <vector>

#include "ops/op_def.h"

namespace duet {

// NumPy broadcasting of two shapes; unknown dims broadcast against 1 and match known dims.
// Throws ShapeError "[op] shapes (2, 3) and (4,) cannot be broadcast".
Shape broadcast_shapes(const InferContext& c, const Shape& a, const Shape& b);
// Axis in [-rank, rank) to [0, rank); throws "[op] axis 3 is out of range for a tensor of rank 2".
std::int64_t normalize_axis(const InferContext& c, std::int64_t axis, int rank);
// Normalized, sorted, unique axes; empty input means all axes.
std::vector<std::int64_t> normalize_axes(const InferContext& c, const std::vector<std::int64_t>& axes, int rank);
// Same as above for callers outside inference (public wrappers).
std::vector<std::int64_t> normalize_axes(const char* op, const std::vector<std::int64_t>& axes, int rank);

void require_same_dtypes(const InferContext& c);
void require_floating(const InferContext& c, std::size_t input);
void require_numeric(const InferContext& c, std::size_t input);
void require_dtype(const InferContext& c, std::size_t input, DType d);

std::string shapes_str(const InferContext& c);  // "(2, 3) and (3,)"

}  // namespace duet
