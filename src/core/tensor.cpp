#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <vector>

#include "core/convert.h"
#include "core/symbolic_hook.h"
#include "core/tensor_impl.h"

namespace duet {
namespace {

// Per-thread free list of impls: the steady-state eager loop reuses them instead of calling malloc.
struct ImplPool {
  TensorImpl* head = nullptr;
  int count = 0;
  ~ImplPool() {
    while (head) {
      TensorImpl* n = head->next_free;
      ::operator delete(head);
      head = n;
    }
  }
};
thread_local ImplPool t_impl_pool;
constexpr int kImplPoolMax = 4096;

}  // namespace

void* TensorImpl::operator new(std::size_t n) {
  ImplPool& p = t_impl_pool;
  if (p.head) {
    TensorImpl* t = p.head;
    p.head = t->next_free;
    --p.count;
    return t;
  }
  return ::operator new(n);
}

void TensorImpl::operator delete(void* ptr) {
  ImplPool& p = t_impl_pool;
  if (p.count < kImplPoolMax) {
    auto* t = static_cast<TensorImpl*>(ptr);
    t->next_free = p.head;
    p.head = t;
    ++p.count;
    return;
  }
  ::operator delete(ptr);
}

void impl_release(TensorImpl* t) {
  if (t->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (t->buffer) buffer_release(t->buffer);
  delete t;
}

Tensor make_concrete(DType dtype, const Shape& shape) {
  const std::int64_t numel = shape.num_elements();  // may throw (an overflowing count): before anything is owned
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<std::size_t>(numel), dtype_size(dtype), &bytes)) {
    throw ResourceExhaustedError("out of memory: a " + std::string(dtype_name(dtype)) + " tensor of shape " +
                                 shape.str() + " needs more bytes than a 64-bit size holds");
  }
  auto* t = new TensorImpl;
  t->dtype = dtype;
  t->shape = shape;
  t->numel = numel;
  try {
    t->buffer = buffer_alloc(bytes);
  } catch (...) {
    delete t;
    throw;
  }
  t->data = t->buffer->data;
  return TensorAccess::adopt(t);
}

Tensor make_view(const Tensor& base, const Shape& shape) {
  auto* t = new TensorImpl;
  TensorImpl* b = base.impl();
  t->dtype = b->dtype;
  t->shape = shape;
  t->numel = shape.num_elements();
  t->buffer = b->buffer;
  buffer_retain(b->buffer);
  t->data = b->data;
  return TensorAccess::adopt(t);
}

Tensor make_flat_view(const Tensor& base, std::int64_t offset, std::int64_t n) {
  auto* t = new TensorImpl;
  TensorImpl* b = base.impl();
  t->dtype = b->dtype;
  t->shape = Shape{n};
  t->numel = n;
  t->buffer = b->buffer;
  buffer_retain(b->buffer);
  t->data = static_cast<char*>(b->data) + offset * static_cast<std::int64_t>(dtype_size(b->dtype));
  return TensorAccess::adopt(t);
}

Tensor make_symbolic(DType dtype, const Shape& shape, std::shared_ptr<graph::Node> node, int index) {
  auto* t = new TensorImpl;
  t->dtype = dtype;
  t->shape = shape;
  t->numel = shape.num_elements();
  t->node = std::move(node);
  t->out_index = index;
  return TensorAccess::adopt(t);
}

void Tensor::out_of_memory(const char* what) const {
  throw ResourceExhaustedError(std::string("[") + what + "] out of memory copying a tensor of shape " + shape().str() +
                               " (" + dtype_name(dtype()) + ")");
}

namespace internal {
SymbolicHooks& symbolic_hooks() {
  static SymbolicHooks h;
  return h;
}
}  // namespace internal

Tensor::Tensor(const Tensor& o) : impl_(o.impl_) {
  if (impl_) impl_retain(impl_);
}

// Self-assignment is safe: the new reference is taken before the old one is dropped.
// NOLINTNEXTLINE(bugprone-unhandled-self-assignment)
Tensor& Tensor::operator=(const Tensor& o) {
  if (o.impl_) impl_retain(o.impl_);
  if (impl_) impl_release(impl_);
  impl_ = o.impl_;
  return *this;
}

Tensor& Tensor::operator=(Tensor&& o) noexcept {
  if (this != &o) {
    if (impl_) impl_release(impl_);
    impl_ = o.impl_;
    o.impl_ = nullptr;
  }
  return *this;
}

Tensor::~Tensor() {
  if (impl_) impl_release(impl_);
}

static TensorImpl* checked(TensorImpl* t, const char* what) {
  if (!t) throw StateError(std::string("[Tensor] ") + what + " called on an undefined (empty) Tensor handle");
  return t;
}

DType Tensor::dtype() const { return checked(impl_, "dtype")->dtype; }
const Shape& Tensor::shape() const { return checked(impl_, "shape")->shape; }
std::int64_t Tensor::num_elements() const { return checked(impl_, "num_elements")->numel; }
bool Tensor::is_symbolic() const { return checked(impl_, "is_symbolic")->node != nullptr; }

std::string Tensor::op_name() const {
  if (!impl_ || !impl_->node) return "";
  return internal::symbolic_hooks().op_name(*this);
}

std::int64_t Tensor::checked_num_elements(const char* what) const {
  checked(impl_, what);
  if (impl_->node) internal::symbolic_hooks().throw_value_error(*this, what);
  return impl_->numel;
}

void Tensor::read_item(DType as, void* out) const {
  std::int64_t n = checked_num_elements("item");
  if (n != 1) {
    throw ValueError("[item] needs a tensor with exactly one element, got shape " + impl_->shape.str() + " (" +
                     std::to_string(n) + " elements); use to_vector() to read all elements, or index first");
  }
  convert_elements(impl_->data, impl_->dtype, out, as, 1);
}

void Tensor::read_all(DType as, void* out) const { convert_elements(impl_->data, impl_->dtype, out, as, impl_->numel); }

const void* Tensor::raw_data(DType expect, const char* what) const {
  checked_num_elements(what);
  if (expect != impl_->dtype) {
    throw DTypeError(std::string("[") + what + "] requested " + dtype_name(expect) + " elements from a " +
                     dtype_name(impl_->dtype) + " tensor of shape " + impl_->shape.str() +
                     "; use cast() first or to_vector<T>() to convert");
  }
  return impl_->data;
}

void* Tensor::raw_data(DType expect, const char* what) {
  return const_cast<void*>(static_cast<const Tensor*>(this)->raw_data(expect, what));
}

Tensor::operator bool() const {
  checked(impl_, "operator bool");
  if (impl_->node) internal::symbolic_hooks().throw_value_error(*this, "operator bool");
  if (impl_->numel != 1) {
    throw ValueError("[operator bool] the truth value of a tensor with " + std::to_string(impl_->numel) +
                     " elements (shape " + impl_->shape.str() +
                     ") is ambiguous; reduce it first with any()/all()-style reductions (max/min) or compare "
                     "elementwise with where()");
  }
  std::uint8_t v = 0;
  convert_elements(impl_->data, impl_->dtype, &v, DType::Bool, 1);
  return v != 0;
}

namespace internal {
void check_value_count(std::size_t count, const Shape& shape) {
  if (!shape.is_fully_known() || static_cast<std::int64_t>(count) != shape.num_elements()) {
    throw ShapeError("[constant] " + std::to_string(count) + " values cannot fill shape " + shape.str() + " (" +
                     std::to_string(shape.num_elements()) + " elements)");
  }
}
void ragged_initializer(const char* where) {
  throw ValueError(std::string("[") + where +
                   "] nested initializer lists must be rectangular (every row the same length)");
}
}  // namespace internal

namespace {
// A new tensor for creation function `op`: known, non-negative dims, and out-of-memory errors naming the op.
Tensor create(const char* op, const Shape& shape, DType dtype) {
  if (!shape.is_fully_known()) {
    throw ShapeError(std::string("[") + op + "] shape " + shape.str() +
                     " has unknown or negative dims; concrete tensors need known sizes");
  }
  try {
    return make_concrete(dtype, shape);
  } catch (const Error& e) {
    e.rethrow_with_context(std::string("[") + op + "] ");
  }
  throw;  // not reached
}
}  // namespace

Tensor empty(const Shape& shape, DType dtype) { return create("empty", shape, dtype); }

Tensor from_data(const void* src, DType src_dtype, const Shape& shape, DType dtype) {
  Tensor t = create("constant", shape, dtype);
  convert_elements(src, src_dtype, raw(t), dtype, t.num_elements());
  return t;
}

Tensor from_external(void* data, DType dtype, const Shape& shape, std::function<void()> release) {
  const std::int64_t numel = shape.num_elements();
  if (numel < 0) {
    throw ValueError("[from_external] the shape " + shape.str() + " has unknown dims; memory has a known size");
  }
  const std::size_t item = dtype_size(dtype);
  if (numel > 0 && (data == nullptr || reinterpret_cast<std::uintptr_t>(data) % item != 0)) {
    throw ValueError("[from_external] " + std::string(dtype_name(dtype)) +
                     " elements must start at an address aligned to " + std::to_string(item) +
                     " bytes; copy the data (from_data) instead");
  }
  auto* t = new TensorImpl;
  t->dtype = dtype;
  t->shape = shape;
  t->numel = numel;
  // The callback lives on the heap until the buffer goes; a plain function pointer runs it.
  auto* fn = release ? new std::function<void()>(std::move(release)) : nullptr;
  auto run = [](void* p) {
    auto* f = static_cast<std::function<void()>*>(p);
    (*f)();
    delete f;
  };
  t->buffer = buffer_wrap(data, static_cast<std::size_t>(numel) * item, fn ? +run : nullptr, fn);
  t->data = data;
  return TensorAccess::adopt(t);
}

Tensor full(const Shape& shape, double value, DType dtype) {
  if (is_integral(dtype)) {
    const double lo = dtype == DType::Int32 ? -2147483648.0 : -9223372036854775808.0;
    const double hi = dtype == DType::Int32 ? 2147483648.0 : 9223372036854775808.0;  // exclusive
    if (!(value >= lo && value < hi)) {
      throw ValueError("[full] the value " + std::to_string(value) + " does not fit " + dtype_name(dtype) +
                       "; use a wider or a floating-point dtype");
    }
  }
  Tensor t = create("full", shape, dtype);
  std::int64_t n = t.num_elements();
  visit_dtype(dtype, [&](auto z) {
    using T = decltype(z);
    T v = dtype == DType::Bool ? T(value != 0) : static_cast<T>(value);
    T* p = ptr<T>(t);
    for (std::int64_t i = 0; i < n; ++i) p[i] = v;
  });
  return t;
}

Tensor zeros(const Shape& shape, DType dtype) {
  Tensor t = create("zeros", shape, dtype);
  std::memset(raw(t), 0, static_cast<std::size_t>(t.num_elements()) * dtype_size(dtype));
  return t;
}

Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor arange(double start, double stop, double step, DType dtype) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    throw ValueError("[arange] needs a finite start/stop and a non-zero step, got start=" + std::to_string(start) +
                     " stop=" + std::to_string(stop) + " step=" + std::to_string(step));
  }
  double count = std::ceil((stop - start) / step);
  if (!(count < 4.6e18)) {  // also NaN: stop - start overflowing to inf with a huge step
    throw ValueError("[arange] start=" + std::to_string(start) + " stop=" + std::to_string(stop) +
                     " step=" + std::to_string(step) + " would have more elements than a tensor can");
  }
  if (is_integral(dtype)) {
    const double lim = dtype == DType::Int32 ? 2147483648.0 : 9223372036854775808.0;
    if (!(start >= -lim && start < lim && stop >= -lim - 1 && stop <= lim)) {
      throw ValueError("[arange] the range [" + std::to_string(start) + ", " + std::to_string(stop) +
                       ") does not fit " + dtype_name(dtype));
    }
  }
  auto n = static_cast<std::int64_t>(count > 0 ? count : 0);
  Tensor t = create("arange", Shape{n}, dtype);
  visit_dtype(dtype, [&](auto z) {
    using T = decltype(z);
    T* p = ptr<T>(t);
    for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return t;
}

Tensor arange(std::int64_t stop, DType dtype) { return arange(0.0, static_cast<double>(stop), 1.0, dtype); }

Tensor linspace(double start, double stop, std::int64_t num, DType dtype) {
  if (num < 0) throw ValueError("[linspace] num must be >= 0, got " + std::to_string(num));
  if (!std::isfinite(start) || !std::isfinite(stop)) throw ValueError("[linspace] start and stop must be finite");
  Tensor t = create("linspace", Shape{num}, dtype);
  visit_dtype(dtype, [&](auto z) {
    using T = decltype(z);
    T* p = ptr<T>(t);
    double step = num > 1 ? (stop - start) / static_cast<double>(num - 1) : 0.0;
    for (std::int64_t i = 0; i < num; ++i) p[i] = static_cast<T>(i == num - 1 ? stop : start + step * i);
  });
  return t;
}

Tensor eye(std::int64_t n, std::int64_t m, DType dtype) {
  if (m < 0) m = n;
  if (n < 0) throw ValueError("[eye] n must be >= 0, got " + std::to_string(n));
  Tensor t = create("eye", Shape{n, m}, dtype);
  std::memset(raw(t), 0, static_cast<std::size_t>(t.num_elements()) * dtype_size(dtype));
  visit_dtype(dtype, [&](auto z) {
    using T = decltype(z);
    T* p = ptr<T>(t);
    for (std::int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = T(1);
  });
  return t;
}

}  // namespace duet
