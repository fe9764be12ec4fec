#pragma once
// What a Tensor handle points to. Concrete tensors own (a reference to) a buffer; symbolic tensors
// point to the graph node that will produce them.
#include <atomic>
#include <memory>

#include "core/allocator.h"
#include "duet/tensor.h"

namespace duet {
namespace graph {
struct Node;
}

struct TensorImpl {
  std::atomic<std::int32_t> refs{1};
  DType dtype = DType::Float32;
  Shape shape;
  std::int64_t numel = 0;  // -1 when a dim is unknown
  Buffer* buffer = nullptr;
  void* data = nullptr;
  std::shared_ptr<graph::Node> node;  // set for symbolic tensors
  int out_index = 0;
  TensorImpl* next_free = nullptr;  // impl pool link

  static void* operator new(std::size_t n);
  static void operator delete(void* p);
};

// Builds handles from impls (the Tensor constructor that adopts a reference is private).
struct TensorAccess {
  static Tensor adopt(TensorImpl* t) { return Tensor(t); }
  // A handle that took no reference: it must be given up with forget() while its source still lives
  // (execution plans lend an argument to a step's input list this way, without reference counting).
  static Tensor borrow(const Tensor& t) { return Tensor(t.impl()); }
  static void forget(Tensor& t) { t.impl_ = nullptr; }
};

inline void impl_retain(TensorImpl* t) { t->refs.fetch_add(1, std::memory_order_relaxed); }
void impl_release(TensorImpl* t);

// A concrete tensor with a fresh buffer (uninitialized).
Tensor make_concrete(DType dtype, const Shape& shape);
// A concrete tensor viewing another's buffer with a new shape (same number of elements).
Tensor make_view(const Tensor& base, const Shape& shape);
// A 1-D view of n elements of base's buffer starting at element `offset` (blocks of fused kernels).
Tensor make_flat_view(const Tensor& base, std::int64_t offset, std::int64_t n);
// A symbolic tensor for output `index` of a traced node.
Tensor make_symbolic(DType dtype, const Shape& shape, std::shared_ptr<graph::Node> node, int index);

inline void* raw(const Tensor& t) { return t.impl()->data; }
template <class T>
inline T* ptr(const Tensor& t) {
  return static_cast<T*>(t.impl()->data);
}

}  // namespace duet
