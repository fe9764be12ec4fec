#include "duet/dtype.h"

namespace duet {

namespace internal {
extern int cpu_check_anchor;
}
// Every program that uses duet uses dtype.cpp; this reference makes a static link pull in the CPU check.
[[maybe_unused]] __attribute__((used)) static int* const g_keep_cpu_check = &internal::cpu_check_anchor;

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::Bool:
      return 1;
    case DType::Int32:
      return 4;
    case DType::Int64:
      return 8;
    case DType::Float32:
      return 4;
    case DType::Float64:
      return 8;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Bool:
      return "bool";
    case DType::Int32:
      return "int32";
    case DType::Int64:
      return "int64";
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
  }
  return "?";
}

bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }
bool is_integral(DType t) { return t == DType::Int32 || t == DType::Int64; }

DType promote_types(DType a, DType b) {
  // The enum is declared in promotion order.
  return static_cast<std::uint8_t>(a) >= static_cast<std::uint8_t>(b) ? a : b;
}

}  // namespace duet
