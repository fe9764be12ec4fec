#pragma once
#include <cstdint>

#include "duet/dtype.h"

namespace duet {

// Converts n elements from one dtype to another (C++ conversion rules; to bool means != 0).
void convert_elements(const void* src, DType src_dtype, void* dst, DType dst_dtype, std::int64_t n);

// Calls f(T{}) with T the C++ type of dtype (bool is stored as uint8_t).
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Bool:
      return f(std::uint8_t{});
    case DType::Int32:
      return f(std::int32_t{});
    case DType::Int64:
      return f(std::int64_t{});
    case DType::Float32:
      return f(float{});
    case DType::Float64:
      break;
  }
  return f(double{});
}

}  // namespace duet
