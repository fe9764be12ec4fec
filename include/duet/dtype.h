#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace duet {

enum class DType : std::uint8_t { Bool, Int32, Int64, Float32, Float64 };

std::size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", ...
bool is_floating(DType t);
bool is_integral(DType t);  // int32/int64 (not bool)

// The one type-promotion rule: bool < int32 < int64 < float32 < float64, the wider wins
// (so int with float gives float). Scalars from C++ literals are "weak" and follow the tensor.
DType promote_types(DType a, DType b);

template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, bool>)
    return DType::Bool;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return DType::Int32;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return DType::Int64;
  else if constexpr (std::is_same_v<T, float>)
    return DType::Float32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::Float64;
  else
    static_assert(sizeof(T) == 0, "duet: unsupported element type (bool, int32, int64, float, double)");
}

// C++ literal types map to a dtype: int -> int32, long -> int64, float -> float32, double -> float64.
template <class T>
constexpr DType dtype_of_literal() {
  if constexpr (std::is_same_v<T, bool>)
    return DType::Bool;
  else if constexpr (std::is_integral_v<T> && sizeof(T) <= 4)
    return DType::Int32;
  else if constexpr (std::is_integral_v<T>)
    return DType::Int64;
  else if constexpr (std::is_same_v<T, float>)
    return DType::Float32;
  else
    return DType::Float64;
}

}  // namespace duet
