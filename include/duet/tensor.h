#pragma once
// The Tensor handle: concrete (owns a buffer) or symbolic (an output of a node being traced).
// One type for both, so user code is written once.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "duet/dtype.h"
#include "duet/error.h"
#include "duet/shape.h"

namespace duet {

struct TensorImpl;
struct TensorAccess;  // internal

struct TensorSpec {
  DType dtype = DType::Float32;
  Shape shape;
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(const Tensor& o);
  Tensor(Tensor&& o) noexcept : impl_(o.impl_) { o.impl_ = nullptr; }
  Tensor& operator=(const Tensor& o);
  Tensor& operator=(Tensor&& o) noexcept;
  ~Tensor();

  bool defined() const { return impl_ != nullptr; }
  DType dtype() const;
  const Shape& shape() const;
  int rank() const { return shape().rank(); }
  // Number of elements; -1 when a dim is unknown (symbolic tensors only).
  std::int64_t num_elements() const;
  bool is_symbolic() const;
  TensorSpec spec() const { return {dtype(), shape()}; }

  // Value access. These throw SymbolicValueError on a symbolic tensor (the message says why the tensor is
  // symbolic here and what to do instead). item/to_vector convert between numeric types; data<T> does not.
  template <class T>
  T item() const {
    T v{};
    read_item(dtype_of<T>(), &v);
    return v;
  }
  template <class T>
  std::vector<T> to_vector() const {
    if constexpr (std::is_same_v<T, bool>) {  // std::vector<bool> has no data(): read bytes, then convert
      auto bytes = std::vector<unsigned char>(static_cast<std::size_t>(checked_num_elements("to_vector")));
      read_all(DType::Bool, bytes.data());
      return std::vector<bool>(bytes.begin(), bytes.end());
    } else {
      std::vector<T> v;
      try {
        v.resize(static_cast<std::size_t>(checked_num_elements("to_vector")));
      } catch (const std::bad_alloc&) {
        out_of_memory("to_vector");
      }
      read_all(dtype_of<T>(), v.data());
      return v;
    }
  }
  template <class T>
  const T* data() const {
    return static_cast<const T*>(raw_data(dtype_of<T>(), "data"));
  }
  template <class T>
  T* mutable_data() {
    return static_cast<T*>(raw_data(dtype_of<T>(), "mutable_data"));
  }
  // Truth value of a one-element tensor. On a symbolic tensor this throws and points to duet::cond.
  explicit operator bool() const;

  // TensorFlow-style text: Tensor([[1. 2.] [3. 4.]], shape=(2, 2), dtype=float32).
  std::string str() const;
  // The name of the op that produced a symbolic tensor ("MatMul_3"), or "" for a concrete one.
  std::string op_name() const;

  // The engine's view of the handle (opaque outside the library).
  TensorImpl* impl() const { return impl_; }

 private:
  friend struct TensorAccess;
  explicit Tensor(TensorImpl* impl) : impl_(impl) {}  // adopts one reference
  [[noreturn]] void out_of_memory(const char* what) const;
  std::int64_t checked_num_elements(const char* what) const;
  void read_item(DType as, void* out) const;
  void read_all(DType as, void* out) const;
  const void* raw_data(DType expect, const char* what) const;
  void* raw_data(DType expect, const char* what);

  TensorImpl* impl_ = nullptr;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- creation -------------------------------------------------------------------------------------
// Builds a tensor from raw elements of type src (converted to dtype).
Tensor from_data(const void* src, DType src_dtype, const Shape& shape, DType dtype);

// A tensor over memory duet does not own, without a copy: `data` holds shape's elements of dtype, C-contiguous
// and aligned to the element size, and stays valid and unchanged until `release` runs (once, when the last
// tensor using the memory is gone, on whichever thread drops it). The engine never writes to it: a Variable
// made from such a tensor copies on its first update. Throws ValueError for misaligned data or unknown dims.
Tensor from_external(void* data, DType dtype, const Shape& shape, std::function<void()> release = {});

// An uninitialized concrete tensor (kernels and loaders fill it).
Tensor empty(const Shape& shape, DType dtype = DType::Float32);

namespace internal {
[[noreturn]] void ragged_initializer(const char* where);
// Throws ShapeError unless count values fill shape exactly.
void check_value_count(std::size_t count, const Shape& shape);
}  // namespace internal

template <class T>
Tensor constant(const std::vector<T>& values, const Shape& shape, std::optional<DType> dtype = {}) {
  internal::check_value_count(values.size(), shape);
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<std::uint8_t> b(values.begin(), values.end());
    return from_data(b.data(), DType::Bool, shape, dtype.value_or(DType::Bool));
  } else {
    using S = std::conditional_t<std::is_floating_point_v<T>, std::conditional_t<sizeof(T) == 4, float, double>,
                                 std::conditional_t<sizeof(T) <= 4, std::int32_t, std::int64_t>>;
    std::vector<S> v(values.begin(), values.end());
    return from_data(v.data(), dtype_of<S>(), shape, dtype.value_or(dtype_of_literal<T>()));
  }
}

// Rank 0..4 from (nested) initializer lists: constant({{1.f, 2.f}, {3.f, 4.f}}). Ragged lists throw.
template <class T>
Tensor scalar(T v, std::optional<DType> dtype = {}) {
  return constant(std::vector<T>{v}, Shape{}, dtype);
}
template <class T>
Tensor constant(std::initializer_list<T> v, std::optional<DType> dtype = {}) {
  return constant(std::vector<T>(v), Shape{static_cast<std::int64_t>(v.size())}, dtype);
}
template <class T>
Tensor constant(std::initializer_list<std::initializer_list<T>> v, std::optional<DType> dtype = {}) {
  std::vector<T> flat;
  std::int64_t cols = v.size() ? static_cast<std::int64_t>(v.begin()->size()) : 0;
  for (auto& row : v) {
    if (static_cast<std::int64_t>(row.size()) != cols) internal::ragged_initializer("constant");
    flat.insert(flat.end(), row.begin(), row.end());
  }
  return constant(flat, Shape{static_cast<std::int64_t>(v.size()), cols}, dtype);
}
template <class T>
Tensor constant(std::initializer_list<std::initializer_list<std::initializer_list<T>>> v,
                std::optional<DType> dtype = {}) {
  std::vector<T> flat;
  std::int64_t d1 = v.size() ? static_cast<std::int64_t>(v.begin()->size()) : 0;
  std::int64_t d2 = (v.size() && v.begin()->size()) ? static_cast<std::int64_t>(v.begin()->begin()->size()) : 0;
  for (auto& a : v) {
    if (static_cast<std::int64_t>(a.size()) != d1) internal::ragged_initializer("constant");
    for (auto& b : a) {
      if (static_cast<std::int64_t>(b.size()) != d2) internal::ragged_initializer("constant");
      flat.insert(flat.end(), b.begin(), b.end());
    }
  }
  return constant(flat, Shape{static_cast<std::int64_t>(v.size()), d1, d2}, dtype);
}

Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
Tensor ones(const Shape& shape, DType dtype = DType::Float32);
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32);
// Shaped like t (at run time, for a symbolic t).
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
// [start, stop) by step, like numpy.arange.
Tensor arange(double start, double stop, double step = 1.0, DType dtype = DType::Float32);
Tensor arange(std::int64_t stop, DType dtype = DType::Int32);
// num evenly spaced values from start to stop inclusive.
Tensor linspace(double start, double stop, std::int64_t num, DType dtype = DType::Float32);
// n x m identity (m = n by default).
Tensor eye(std::int64_t n, std::int64_t m = -1, DType dtype = DType::Float32);

}  // namespace duet
