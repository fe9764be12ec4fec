// libFuzzer target: Checkpoint::restore of arbitrary bytes into a compiled model (the seed corpus holds real
// checkpoints of this model). Every input must end in a restored model or a duet::Error.
#include <unistd.h>
#include <sys/mman.h>

#include <cstdint>
#include <string>

#include "duet/duet.h"

namespace {
duet::Model& model() {
  static duet::Sequential* m = [] {
    auto* s = new duet::Sequential(duet::Input({4}), {duet::layers::Dense(3, "relu"), duet::layers::Dense(2)}, "fuzz");
    s->compile({.optimizer = "adam", .loss = "mse"});
    return s;
  }();
  return *m;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = memfd_create("checkpoint", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    duet::Checkpoint(model()).restore(path);
  } catch (const duet::Error&) {
  }
  return 0;
}
