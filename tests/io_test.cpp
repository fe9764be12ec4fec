// IDX reading: real files, and every kind of bad file giving an IOError that names it.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace duet {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path =
      fs::temp_directory_path() / ("duet_io_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  static inline int counter = 0;
};

std::vector<unsigned char> idx_bytes(const std::vector<std::uint32_t>& dims, std::size_t data_bytes,
                                     unsigned char type = 0x08) {
  std::vector<unsigned char> b{0, 0, type, static_cast<unsigned char>(dims.size())};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
  for (std::size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<unsigned char>(i % 251));
  return b;
}

void write_gz(const fs::path& p, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

template <class F>
void expect_io_error(F f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "expected IOError";
  } catch (const IOError& e) {
    for (auto& s : fragments) EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what();
  }
}

TEST(Idx, ReadsCompressedAndPlainFiles) {
  TempDir d;
  write_gz(d.path / "a.gz", idx_bytes({2, 3}, 6));
  auto raw = idx_bytes({4}, 4);
  std::ofstream(d.path / "b.idx", std::ios::binary)
      .write(reinterpret_cast<const char*>(raw.data()), static_cast<std::streamsize>(raw.size()));
  Tensor a = data::read_idx((d.path / "a.gz").string());
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(data::read_idx((d.path / "b.idx").string(), DType::Int32).to_vector<int>(), (std::vector<int>{0, 1, 2, 3}));
}

TEST(Idx, BadFilesNameTheFile) {
  TempDir d;
  std::string missing = (d.path / "nope.gz").string();
  expect_io_error([&] { data::read_idx(missing); }, {"nope.gz", "cannot open"});
  write_gz(d.path / "magic.gz", idx_bytes({2}, 2, 0x0d));
  expect_io_error([&] { data::read_idx((d.path / "magic.gz").string()); }, {"magic.gz", "magic number is 00 00 0d 01"});
  write_gz(d.path / "short.gz", idx_bytes({10, 10}, 37));
  expect_io_error([&] { data::read_idx((d.path / "short.gz").string()); },
                  {"short.gz", "truncated", "100 bytes", "37"});
}

TEST(FashionMnist, MismatchedCountsAndMissingFilesAreReported) {
  TempDir d;
  write_gz(d.path / "train-images-idx3-ubyte.gz", idx_bytes({3, 28, 28}, 3 * 784));
  write_gz(d.path / "train-labels-idx1-ubyte.gz", idx_bytes({2}, 2));
  expect_io_error([&] { data::load_fashion_mnist(d.path.string()); },
                  {"train-labels-idx1-ubyte.gz", "2 labels", "3 images"});
  expect_io_error([&] { data::load_fashion_mnist((d.path / "absent").string()); },
                  {"absent/train-images-idx3-ubyte.gz", "cannot open"});
}

TEST(FashionMnist, LoadsTheInstalledDataSet) {
  std::string dir = data::default_fashion_mnist_dir();
  ASSERT_TRUE(fs::exists(fs::path(dir) / "t10k-labels-idx1-ubyte.gz"))
      << "Fashion-MNIST is not installed at " << dir << "; scripts/install-deps.sh (run by make test) installs it";
  auto ds = data::load_fashion_mnist();
  EXPECT_EQ(ds.train.images.shape(), (Shape{60000, 28, 28, 1}));
  EXPECT_EQ(ds.test.labels.shape(), (Shape{10000}));
  EXPECT_GE(min(ds.train.images).item<float>(), 0.f);
  EXPECT_LE(max(ds.train.images).item<float>(), 1.f);
  EXPECT_EQ(max(ds.test.labels).item<int>(), 9);
  EXPECT_STREQ(data::fashion_mnist_class(9), "Ankle boot");
}

}  // namespace
}  // namespace duet
