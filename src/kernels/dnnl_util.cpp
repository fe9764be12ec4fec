#include "kernels/dnnl_util.h"

#include "core/tensor_impl.h"
#include "kernels/parallel.h"

namespace duet::dnnl_util {

dnnl::engine& engine() {
  static dnnl::engine e = [] {
    num_threads();  // applies DUET_NUM_THREADS/OMP_NUM_THREADS to the OpenMP pool oneDNN uses
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return e;
}

dnnl::stream& stream() {
  // oneDNN CPU streams run work on the calling thread (and its OpenMP team); one per thread is safe.
  thread_local dnnl::stream s(engine());
  return s;
}

dnnl::primitive_attr attr() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

Tensor buffer_for(const dnnl::memory::desc& md) {
  return make_concrete(DType::Float32, Shape{static_cast<std::int64_t>((md.get_size() + 3) / 4)});
}

dnnl::memory scratchpad(const dnnl::memory::desc& md, std::vector<Tensor>& keep) {
  if (md.get_size() == 0) return dnnl::memory(md, engine(), nullptr);
  keep.push_back(buffer_for(md));
  return dnnl::memory(md, engine(), keep.back().mutable_data<float>());
}

}  // namespace duet::dnnl_util
