#pragma once
// A vector with inline room for N elements, so the few inputs/outputs of an op call never allocate.
#include <cstddef>
#include <initializer_list>
#include <new>
#include <span>
#include <utility>
#include <vector>

namespace duet {

template <class T, std::size_t N>
class SmallVec {
 public:
  SmallVec() = default;
  SmallVec(std::initializer_list<T> l) {
    for (auto& v : l) push_back(v);
  }
  SmallVec(const SmallVec& o) {
    for (auto& v : o) push_back(v);
  }
  SmallVec& operator=(const SmallVec& o) {
    if (this != &o) {
      clear();
      for (auto& v : o) push_back(v);
    }
    return *this;
  }
  ~SmallVec() { clear(); }

  void push_back(T v) {
    if (size_ < N) {
      new (&slot(size_)) T(std::move(v));
    } else {
      if (size_ == N) {
        overflow_.reserve(2 * N);
        for (std::size_t i = 0; i < N; ++i) overflow_.push_back(std::move(slot(i)));
        for (std::size_t i = 0; i < N; ++i) slot(i).~T();
      }
      overflow_.push_back(std::move(v));
    }
    ++size_;
  }
  template <class... A>
  T& emplace_back(A&&... a) {
    push_back(T(std::forward<A>(a)...));
    return back();
  }
  void resize(std::size_t n) {
    while (size_ < n) push_back(T());
  }
  void clear() {
    if (size_ <= N) {
      for (std::size_t i = 0; i < size_; ++i) slot(i).~T();
    }
    overflow_.clear();
    size_ = 0;
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return size_ > N ? overflow_.data() : &slot(0); }
  const T* data() const { return size_ > N ? overflow_.data() : &slot(0); }
  T& operator[](std::size_t i) { return data()[i]; }
  const T& operator[](std::size_t i) const { return data()[i]; }
  T& back() { return data()[size_ - 1]; }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  operator std::span<const T>() const { return {data(), size_}; }
  operator std::span<T>() { return {data(), size_}; }

 private:
  T& slot(std::size_t i) { return reinterpret_cast<T*>(storage_)[i]; }
  const T& slot(std::size_t i) const { return reinterpret_cast<const T*>(storage_)[i]; }
  alignas(T) unsigned char storage_[N * sizeof(T)];
  std::size_t size_ = 0;
  std::vector<T> overflow_;
};

}  // namespace duet
