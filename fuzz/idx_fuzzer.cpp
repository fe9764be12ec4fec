// libFuzzer target: data::read_idx on arbitrary bytes (plain or gzip). Every input must end in a tensor or
// a duet::Error; anything else (a crash, a sanitizer report, another exception, a huge allocation) is a
// finding. Run by `make fuzz` (CI: a fixed time per target).
#include <unistd.h>
#include <sys/mman.h>

#include <cstdint>
#include <string>

#include "duet/data.h"
#include "duet/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An in-memory regular file: read_idx takes a path and refuses anything but regular files.
  static const int fd = memfd_create("idx", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    duet::Tensor t = duet::data::read_idx(path);
    (void)t.num_elements();
  } catch (const duet::Error&) {
  }
  return 0;
}
