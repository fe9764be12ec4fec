// IDX reader (the MNIST file format): 2 zero bytes, a type code (0x08 = unsigned byte), the number of
// dims, each dim as a big-endian 32-bit integer, then the data row-major. Read through zlib, which also
// reads uncompressed files.
#include <zlib.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdio>

#include <cstdlib>
#include <memory>
#include <vector>

#include "core/convert.h"
#include "core/tensor_impl.h"
#include "duet/data.h"
#include "duet/ops.h"

namespace duet::data {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const {
    if (f) gzclose(f);
  }
};

void read_exact(gzFile f, void* dst, std::size_t n, const std::string& path, const char* what) {
  std::size_t done = 0;
  while (done < n) {
    unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
    int got = gzread(f, static_cast<char*>(dst) + done, chunk);
    if (got < 0) {
      int err = 0;
      throw IOError("[read_idx] " + path + ": read error in the " + what + " (" + gzerror(f, &err) + ")");
    }
    if (got == 0) {
      throw IOError("[read_idx] " + path + " is truncated: the " + what + " needs " + std::to_string(n) +
                    " bytes, the file has " + std::to_string(done));
    }
    done += static_cast<std::size_t>(got);
  }
}

}  // namespace

// The most data bytes the file at `path` (of `size` bytes, gzip-compressed or not) can hold: its size for a
// plain file; for gzip, deflate's largest expansion (1032:1) of it. A header claiming more is refused before
// anything is allocated.
std::uint64_t max_data_bytes(const std::string& path, std::uint64_t size) {
  unsigned char head[2] = {0, 0};
  if (FILE* raw = std::fopen(path.c_str(), "rb")) {
    std::size_t got = std::fread(head, 1, 2, raw);
    std::fclose(raw);
    if (got == 2 && head[0] == 0x1f && head[1] == 0x8b) return size * 1032 + 1024;
  }
  return size;
}

Tensor read_idx(const std::string& path, DType dtype, double scale) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw IOError("[read_idx] cannot open " + path + " (missing file or no permission)");
  if (!S_ISREG(st.st_mode)) {
    throw IOError("[read_idx] " + path +
                  " is not a regular file (a directory, FIFO or device); give the path of an IDX file");
  }
  if (!std::isfinite(scale)) throw ValueError("[read_idx] scale must be finite, got " + std::to_string(scale));
  const std::uint64_t max_bytes = max_data_bytes(path, static_cast<std::uint64_t>(st.st_size));
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) throw IOError("[read_idx] cannot open " + path + " (missing file or no permission)");
  unsigned char magic[4];
  read_exact(f.get(), magic, 4, path, "header");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] == 0 || magic[3] > 8) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%02x %02x %02x %02x", magic[0], magic[1], magic[2], magic[3]);
    throw IOError("[read_idx] " + path + " is not an unsigned-byte IDX file: its magic number is " + buf +
                  " (expected 00 00 08 then the number of dims, 1 to 8)");
  }
  std::vector<std::int64_t> dims;
  std::uint64_t claimed = 1;
  bool overflow = false;
  for (int i = 0; i < magic[3]; ++i) {
    unsigned char b[4];
    read_exact(f.get(), b, 4, path, "header");
    dims.push_back((std::int64_t{b[0]} << 24) | (std::int64_t{b[1]} << 16) | (std::int64_t{b[2]} << 8) | b[3]);
    overflow = __builtin_mul_overflow(claimed, static_cast<std::uint64_t>(dims.back()), &claimed) || overflow;
  }
  Shape shape(dims);
  if (overflow || claimed > max_bytes) {
    throw IOError("[read_idx] " + path + " claims " + shape.str() + " = " +
                  (overflow ? std::string("more than 2^64") : std::to_string(claimed)) +
                  " bytes of data, but a file of " + std::to_string(st.st_size) + " bytes can hold at most " +
                  std::to_string(max_bytes) + ": the header is corrupt or the file is truncated");
  }
  // Chunks go straight into the result: peak memory is the result plus one chunk.
  Tensor out = empty(shape, dtype);
  const std::int64_t n = shape.num_elements();
  const std::size_t es = dtype_size(dtype);
  std::vector<std::uint8_t> chunk(static_cast<std::size_t>(std::min<std::int64_t>(n, 1 << 20)));
  std::vector<double> scaled(scale != 1.0 ? chunk.size() : 0);
  for (std::int64_t done = 0; done < n;) {
    std::size_t m = static_cast<std::size_t>(std::min<std::int64_t>(n - done, static_cast<std::int64_t>(chunk.size())));
    read_exact(f.get(), chunk.data(), m, path, "data");
    char* dst = static_cast<char*>(raw(out)) + done * static_cast<std::int64_t>(es);
    if (scale != 1.0) {
      for (std::size_t i = 0; i < m; ++i) scaled[i] = chunk[i] * scale;
      convert_elements(scaled.data(), DType::Float64, dst, dtype, static_cast<std::int64_t>(m));
    } else {
      // Bytes are uint8 storage; converting to a non-bool dtype keeps their values 0..255.
      convert_elements(chunk.data(), DType::Bool, dst, dtype, static_cast<std::int64_t>(m));
    }
    done += static_cast<std::int64_t>(m);
  }
  return out;
}

std::string default_fashion_mnist_dir() {
  if (const char* d = std::getenv("DUET_DATA_DIR")) return d;
  return "/usr/share/datasets/fashion-mnist";
}

FashionMnist load_fashion_mnist(const std::string& dir_in) {
  std::string dir = dir_in.empty() ? default_fashion_mnist_dir() : dir_in;
  auto load = [&](const char* images, const char* labels) {
    std::string ip = dir + "/" + images, lp = dir + "/" + labels;
    Tensor x = read_idx(ip, DType::Float32, 1.0 / 255.0);
    Tensor y = read_idx(lp, DType::Int32);
    if (x.rank() != 3 || x.shape()[1] != 28 || x.shape()[2] != 28) {
      throw IOError("[load_fashion_mnist] " + ip + " holds images of shape " + x.shape().str() +
                    ", expected (N, 28, 28)");
    }
    if (y.rank() != 1 || y.shape()[0] != x.shape()[0]) {
      throw IOError("[load_fashion_mnist] " + lp + " has " + std::to_string(y.shape()[0]) + " labels but " + ip +
                    " has " + std::to_string(x.shape()[0]) + " images");
    }
    if (x.shape()[0] == 0) throw IOError("[load_fashion_mnist] " + ip + " holds 0 images");
    if (max(y).item<int>() > 9) throw IOError("[load_fashion_mnist] " + lp + " has a label above 9");
    return Split{reshape(x, {-1, 28, 28, 1}), y};
  };
  return {load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")};
}

const char* fashion_mnist_class(int label) {
  static const char* names[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return label >= 0 && label < 10 ? names[label] : "?";
}

}  // namespace duet::data
