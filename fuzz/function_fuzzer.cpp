// libFuzzer target: load_function on arbitrary bytes (the seed corpus holds real function files), then a call
// of every loaded signature on zeros (unknown dims as 1, small inputs only). Every input must end in results or
// a duet::Error.
#include <unistd.h>
#include <sys/mman.h>

#include <cstdint>
#include <string>

#include "duet/duet.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = memfd_create("function", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  static const bool registered = [] {
    duet::register_host_function("fuzz.identity", [](const std::vector<duet::Tensor>& in) { return in; });
    return true;
  }();
  (void)registered;
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    duet::LoadedFunction f = duet::load_function(path);
    for (const auto& sig : f.signatures()) {
      std::vector<duet::Tensor> args;
      std::int64_t total = 0;
      for (const duet::TensorSpec& s : sig) {
        std::vector<std::int64_t> dims;
        std::int64_t n = 1;
        for (std::int64_t d : s.shape) {
          dims.push_back(d < 0 ? 1 : d);
          n *= std::max<std::int64_t>(dims.back(), 1);
          if (n > 4096) break;
        }
        total += n;
        if (n > 4096 || total > 16384) break;
        args.push_back(duet::zeros(duet::Shape(dims), s.dtype));
      }
      if (args.size() == sig.size()) (void)f(args);
    }
  } catch (const duet::Error&) {
  }
  return 0;
}
