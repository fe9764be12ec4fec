// libFuzzer target: saving::load_safetensors on arbitrary bytes. Every input must end in tensors or a
// duet::Error; anything else (a crash, a sanitizer report, another exception, a huge allocation) is a finding.
#include <unistd.h>
#include <sys/mman.h>

#include <cstdint>
#include <string>

#include "duet/error.h"
#include "duet/saving.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = memfd_create("safetensors", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    duet::saving::TensorFile f = duet::saving::load_safetensors(path);
    for (const auto& [name, t] : f.tensors) (void)t.num_elements();
  } catch (const duet::Error&) {
  }
  return 0;
}
