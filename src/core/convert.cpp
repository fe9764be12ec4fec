#include "core/convert.h"

#include <cstring>
#include <type_traits>

namespace duet {

void convert_elements(const void* src, DType sd, void* dst, DType dd, std::int64_t n) {
  if (n <= 0) return;  // empty tensors may have null buffers
  if (sd == dd) {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * dtype_size(sd));
    return;
  }
  visit_dtype(sd, [&](auto s) {
    using S = decltype(s);
    visit_dtype(dd, [&](auto d) {
      using D = decltype(d);
      const S* in = static_cast<const S*>(src);
      D* out = static_cast<D*>(dst);
      if (dd == DType::Bool) {
        for (std::int64_t i = 0; i < n; ++i) out[i] = in[i] != S(0) ? 1 : 0;
      } else {
        for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<D>(in[i]);
      }
    });
  });
}

}  // namespace duet
