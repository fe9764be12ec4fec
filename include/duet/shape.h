#pragma once
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace duet {

// Rank + dims. A dim may be unknown (kUnknown, printed "None"), e.g. the batch dim of Input({10}).
// Dims are stored inline up to kInline, so shapes of ordinary rank never allocate.
class Shape {
 public:
  static constexpr std::int64_t kUnknown = -1;
  static constexpr int kInline = 6;
  // The most dims a shape may have (a ShapeError beyond it; kernels keep per-dim state in fixed arrays).
  static constexpr int kMaxRank = 16;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(std::span<const std::int64_t> dims);
  explicit Shape(const std::vector<std::int64_t>& dims) : Shape(std::span<const std::int64_t>(dims)) {}
  Shape(const Shape& o);
  Shape& operator=(const Shape& o);
  ~Shape();

  int rank() const { return rank_; }
  // Dim i, Python-style (-1 is the last); throws ShapeError when out of range.
  std::int64_t operator[](int i) const { return data()[index(i)]; }
  std::int64_t& operator[](int i) { return data()[index(i)]; }
  std::int64_t dim(int i) const { return data()[index(i)]; }
  // i in [-rank, rank) as an index in [0, rank).
  int index(int i) const {
    int j = i < 0 ? i + rank_ : i;
    if (j < 0 || j >= rank_) [[unlikely]]
      throw_index(i);
    return j;
  }
  const std::int64_t* data() const { return heap_ ? heap_ : inline_; }
  std::int64_t* data() { return heap_ ? heap_ : inline_; }
  const std::int64_t* begin() const { return data(); }
  const std::int64_t* end() const { return data() + rank_; }

  bool is_fully_known() const;
  bool is_scalar() const { return rank_ == 0; }
  // Product of dims; -1 if any dim is unknown. A product beyond int64 throws ShapeError.
  std::int64_t num_elements() const;
  void push_back(std::int64_t d);
  std::vector<std::int64_t> to_vector() const { return {begin(), end()}; }
  // "(2, None, 3)", "()" for a scalar, "(3,)" for rank 1.
  std::string str() const;
  // True when every known dim of both agrees (unknown matches anything) and ranks agree.
  bool compatible_with(const Shape& o) const;

  friend bool operator==(const Shape& a, const Shape& b);
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  void resize(int rank);
  [[noreturn]] void throw_index(int i) const;
  std::int64_t inline_[kInline] = {};
  std::int64_t* heap_ = nullptr;
  int rank_ = 0;
};

std::size_t hash_value(const Shape& s);

}  // namespace duet
