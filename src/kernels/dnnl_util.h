#pragma once
// oneDNN plumbing: one CPU engine and stream, and a cache of created primitives keyed by shapes and
// attributes, so repeated calls of the same shape pay no primitive creation cost.
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>
#include <dnnl.hpp>

namespace duet::dnnl_util {

dnnl::engine& engine();
dnnl::stream& stream();

using Key = std::vector<std::int64_t>;

// Returns the cached value for key, creating it with make() on first use (thread-safe).
template <class T>
class Cache {
 public:
  T& get(const Key& key, const std::function<T()>& make) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = items_.find(key);
    if (it == items_.end()) it = items_.emplace(key, make()).first;
    return it->second;
  }

 private:
  std::mutex mu_;
  std::map<Key, T> items_;
};

inline dnnl::memory::desc plain_md(const dnnl::memory::dims& dims, const dnnl::memory::dims& strides) {
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides);
}

}  // namespace duet::dnnl_util
