#include "duet/shape.h"

#include <cstring>

#include "duet/error.h"

namespace duet {

Shape::Shape(std::initializer_list<std::int64_t> dims)
    : Shape(std::span<const std::int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const std::int64_t> dims) {
  resize(static_cast<int>(dims.size()));
  if (!dims.empty()) std::memcpy(data(), dims.data(), dims.size() * sizeof(std::int64_t));
}

Shape::Shape(const Shape& o) {
  resize(o.rank_);
  if (rank_) std::memcpy(data(), o.data(), rank_ * sizeof(std::int64_t));
}

Shape& Shape::operator=(const Shape& o) {
  if (this != &o) {
    resize(o.rank_);
    if (rank_) std::memcpy(data(), o.data(), rank_ * sizeof(std::int64_t));
  }
  return *this;
}

Shape::~Shape() { delete[] heap_; }

void Shape::resize(int rank) {
  if (rank > kMaxRank) {
    throw ShapeError("[Shape] rank " + std::to_string(rank) + " is more than duet's maximum of " +
                     std::to_string(kMaxRank) + " dims; reshape the tensor to fewer dims");
  }
  if (rank > kInline) {
    if (!heap_ || rank > rank_) {
      auto* h = new std::int64_t[rank];
      if (rank_) std::memcpy(h, data(), rank_ * sizeof(std::int64_t));
      delete[] heap_;
      heap_ = h;
    }
  } else if (heap_) {
    std::memcpy(inline_, heap_, std::min(rank, rank_) * sizeof(std::int64_t));
    delete[] heap_;
    heap_ = nullptr;
  }
  rank_ = rank;
}

void Shape::push_back(std::int64_t d) {
  int r = rank_;
  resize(r + 1);
  data()[r] = d;
}

void Shape::throw_index(int i) const {
  throw ShapeError("[Shape] dim " + std::to_string(i) + " is out of range for shape " + str() + " (rank " +
                   std::to_string(rank_) + "); valid indexes are " + std::to_string(-rank_) + " to " +
                   std::to_string(rank_ - 1));
}

bool Shape::is_fully_known() const {
  for (auto d : *this)
    if (d < 0) return false;
  return true;
}

std::int64_t Shape::num_elements() const {
  std::int64_t n = 1;
  bool overflow = false;
  for (auto d : *this) {
    if (d < 0) return -1;
    overflow = __builtin_mul_overflow(n, d, &n) || overflow;
  }
  if (overflow) {
    bool empty = false;
    for (auto d : *this) empty = empty || d == 0;
    if (empty) return 0;  // a zero dim makes the product 0, however large the others
    throw ShapeError("[Shape] " + str() +
                     " has more elements than a 64-bit count holds; no tensor can have this shape");
  }
  return n;
}

std::string Shape::str() const {
  std::string s = "(";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += data()[i] < 0 ? "None" : std::to_string(data()[i]);
  }
  if (rank_ == 1) s += ",";
  return s + ")";
}

bool Shape::compatible_with(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if ((*this)[i] >= 0 && o[i] >= 0 && (*this)[i] != o[i]) return false;
  return true;
}

bool operator==(const Shape& a, const Shape& b) {
  return a.rank_ == b.rank_ && (a.rank_ == 0 || std::memcmp(a.data(), b.data(), a.rank_ * sizeof(std::int64_t)) == 0);
}

std::size_t hash_value(const Shape& s) {
  std::size_t h = 0x9e3779b97f4a7c15ull ^ static_cast<std::size_t>(s.rank());
  for (auto d : s) h = (h ^ static_cast<std::size_t>(d)) * 0x100000001b3ull;
  return h;
}

}  // namespace duet
