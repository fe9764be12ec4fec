#include "kernels/dnnl_util.h"

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

}  // namespace duet::dnnl_util
