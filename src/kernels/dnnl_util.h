#pragma once
// oneDNN plumbing: one CPU engine and stream, and a cache of created primitives keyed by shapes and
// attributes, so repeated calls of the same shape pay no primitive creation cost.
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>
#include <dnnl.hpp>

#include "duet/tensor.h"

namespace duet::dnnl_util {

dnnl::engine& engine();
dnnl::stream& stream();

// The attributes every duet primitive is created with: a user-managed scratchpad, passed to each execution
// (scratchpad()). oneDNN's default, a library-managed scratchpad, is one buffer per creating thread that
// the primitives it created share: two threads running one cached primitive at once would write their
// partial results into the same memory (silently wrong gradients from concurrent tapes, issue 26).
dnnl::primitive_attr attr();
// A scratchpad for one execution, from duet's caching allocator (kept alive by `keep`); an empty memory
// when the primitive needs none.
dnnl::memory scratchpad(const dnnl::memory::desc& md, std::vector<Tensor>& keep);
// A buffer for a oneDNN layout, from duet's caching allocator.
Tensor buffer_for(const dnnl::memory::desc& md);

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
