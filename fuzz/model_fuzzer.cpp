// libFuzzer target: load_model on arbitrary bytes (the seed corpus holds real model files: Sequential, functional,
// nested, layers saved as graphs), and summary() of every model that loads. Every input must end in a model or a
// duet::Error.
#include <unistd.h>
#include <sys/mman.h>

#include <cstdint>
#include <string>

#include "duet/duet.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = memfd_create("model", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    std::shared_ptr<duet::Model> m = duet::load_model(path);
    (void)m->summary_string();
  } catch (const duet::Error&) {
  }
  return 0;
}
