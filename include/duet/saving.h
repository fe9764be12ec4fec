#pragma once
// Files: tensors in the safetensors format, and the atomic write every duet file goes through.
//
// safetensors (the format Hugging Face defined, read by many tools): an 8-byte little-endian header length N,
// N bytes of JSON ({"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "value"}}), then the tensors' raw little-endian bytes, contiguous, in offset order.
// duet reads and writes F32, F64, I32, I64 and BOOL. Loading checks everything before trusting it (the
// header size and JSON, every dtype, shape and offset against the file's real size, no gaps or overlaps) and
// throws IOError naming the file and what is wrong; it never runs or allocates what the file merely claims.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "duet/tensor.h"

namespace duet::saving {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct TensorFile {
  NamedTensors tensors;                         // in file (offset) order
  std::map<std::string, std::string> metadata;  // "__metadata__"
  const Tensor* find(const std::string& name) const;
};

// Writes `tensors` (concrete; names unique and non-empty, not "__metadata__") in this order, atomically.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});
TensorFile load_safetensors(const std::string& path);

// The largest JSON header accepted (as the reference implementation: 100 MB).
inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

// Writes a file so that `path` holds either its old content or all of the new one, whatever happens (a
// crash, SIGKILL, a full disk): `write` fills a temporary file in the same directory, which is flushed to
// disk (fsync) and renamed over `path`, and the directory entry is synced. Throws IOError naming the path.
void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& write);

}  // namespace duet::saving
