// Core: dtypes and promotion, shapes, creation, value access, printing, the allocator, random seeding.
#include <omp.h>

#include <thread>

#include "core/allocator.h"
#include "kernels/philox.h"
#include "test_util.h"

namespace duet {
namespace {

TEST(DType, PromotionIsTheWiderType) {
  EXPECT_EQ(promote_types(DType::Int32, DType::Float32), DType::Float32);
  EXPECT_EQ(promote_types(DType::Float32, DType::Float64), DType::Float64);
  EXPECT_EQ(promote_types(DType::Bool, DType::Int64), DType::Int64);
  EXPECT_EQ(promote_types(DType::Int64, DType::Float32), DType::Float32);
}

TEST(DType, LiteralsAreWeaklyTyped) {
  Tensor f = constant({1.f, 2.f});
  EXPECT_EQ((f * 2.0).dtype(), DType::Float32);  // a double literal does not widen float32
  EXPECT_EQ((f + 1).dtype(), DType::Float32);
  Tensor i = constant({1, 2});
  EXPECT_EQ(i.dtype(), DType::Int32);
  EXPECT_EQ((i + 1).dtype(), DType::Int32);
  EXPECT_EQ((i * 0.5f).dtype(), DType::Float32);  // int with float gives float
  EXPECT_EQ((i * 0.5f).to_vector<float>(), (std::vector<float>{0.5f, 1.f}));
  Tensor d = constant({1.0, 2.0});
  EXPECT_EQ(d.dtype(), DType::Float64);
  EXPECT_EQ((d + f).dtype(), DType::Float64);  // two tensors: the wider wins
}

TEST(Shape, PrintsUnknownDimsAsNone) {
  EXPECT_EQ(Shape({Shape::kUnknown, 10}).str(), "(None, 10)");
  EXPECT_EQ(Shape({3}).str(), "(3,)");
  EXPECT_EQ(Shape().str(), "()");
  EXPECT_EQ(Shape({Shape::kUnknown, 3}).num_elements(), -1);
  EXPECT_FALSE(Shape({Shape::kUnknown, 3}).is_fully_known());
  EXPECT_TRUE(Shape({Shape::kUnknown, 3}).compatible_with(Shape{7, 3}));
  EXPECT_FALSE(Shape({2, 3}).compatible_with(Shape{3, 3}));
}

TEST(Shape, HighRankSpillsToTheHeapCorrectly) {
  Shape s{1, 2, 3, 4, 5, 6, 7, 8};
  Shape t = s;
  EXPECT_EQ(t.rank(), 8);
  EXPECT_EQ(t[7], 8);
  EXPECT_EQ(t.num_elements(), 40320);
  Shape small{2};
  t = small;
  EXPECT_EQ(t, small);
  Tensor x = reshape(arange(40320), s.to_vector());
  EXPECT_EQ(sum(x, {7}).shape(), (Shape{1, 2, 3, 4, 5, 6, 7}));
}

TEST(Shape, IndexesFromTheEndAndRefusesOutOfRange) {
  Shape s{2, 3, 5};
  EXPECT_EQ(s[-1], 5);
  EXPECT_EQ(s[-3], 2);
  EXPECT_EQ(s[1], 3);
  EXPECT_EQ(s.dim(-2), 3);
  s[-1] = 7;
  EXPECT_EQ(s[2], 7);
  for (int bad : {3, -4, 100, -100}) {
    try {
      (void)s[bad];
      ADD_FAILURE() << "index " << bad << " was accepted";
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find("(2, 3, 7)"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("-3 to 2"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW((void)Shape{}[0], ShapeError);
}

TEST(Create, FromInitializerListsAndVectors) {
  Tensor a = constant({{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}});
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  Tensor b = constant({{{1, 2}}, {{3, 4}}});
  EXPECT_EQ(b.shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(b.dtype(), DType::Int32);
  Tensor c = constant(std::vector<double>{1, 2, 3, 4}, Shape{2, 2}, DType::Float32);
  EXPECT_EQ(c.dtype(), DType::Float32);
  EXPECT_THROW(constant({{1.f, 2.f}, {3.f}}), ValueError);
  EXPECT_THROW(constant(std::vector<float>{1, 2, 3}, Shape{2, 2}), Error);
}

TEST(Create, Fillers) {
  EXPECT_EQ(zeros({2, 2}).to_vector<float>(), (std::vector<float>(4, 0.f)));
  EXPECT_EQ(ones({3}, DType::Int64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 1, 1}));
  EXPECT_EQ(full({2}, 7.5).to_vector<float>(), (std::vector<float>{7.5f, 7.5f}));
  EXPECT_EQ(arange(0.0, 1.0, 0.25).to_vector<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f}));
  EXPECT_EQ(arange(4).to_vector<int>(), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(linspace(0, 1, 5).to_vector<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1}));
  EXPECT_EQ(eye(2, 3).to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(zeros({0, 3}).num_elements(), 0);
  EXPECT_THROW(arange(0.0, 1.0, 0.0), ValueError);
}

TEST(Access, ItemToVectorAndData) {
  Tensor s = scalar(2.5f);
  EXPECT_EQ(s.item<float>(), 2.5f);
  EXPECT_EQ(s.item<double>(), 2.5);
  EXPECT_EQ(s.item<int>(), 2);  // item converts
  Tensor v = constant({1.f, 2.f});
  EXPECT_EQ(v.data<float>()[1], 2.f);
  EXPECT_THROW(v.data<double>(), DTypeError);  // data does not convert
  EXPECT_TRUE(static_cast<bool>(scalar(1) > 0));
  EXPECT_THROW(static_cast<void>(static_cast<bool>(v > 0.f)), ValueError);
  Tensor undefined;
  EXPECT_THROW(undefined.shape(), StateError);
}

TEST(Access, ItemOfANonScalarNamesTheShape) {
  try {
    constant({1.f, 2.f, 3.f}).item<float>();
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[item]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(3,)"), std::string::npos) << e.what();
  }
}

TEST(Print, LikeTensorFlow) {
  EXPECT_EQ(constant({{1.f, 2.f}, {3.f, 4.f}}).str(), "Tensor(\n[[1. 2.]\n [3. 4.]], shape=(2, 2), dtype=float32)");
  EXPECT_EQ(constant({1.5f, -2.25f}).str(), "Tensor([ 1.5  -2.25], shape=(2,), dtype=float32)");
  EXPECT_EQ(scalar(3.f).str(), "Tensor(3.0, shape=(), dtype=float32)");
  EXPECT_EQ(constant({1, 20}).str(), "Tensor([ 1 20], shape=(2,), dtype=int32)");
  EXPECT_EQ(constant({true, false}).str(), "Tensor([ True False], shape=(2,), dtype=bool)");
  std::string big = arange(2000).str();
  EXPECT_NE(big.find("[   0    1    2 ... 1997 1998 1999]"), std::string::npos) << big;
  Tensor g = reshape(arange(2000), {2, 1000});
  EXPECT_NE(g.str().find("..."), std::string::npos);
}

TEST(Allocator, SteadyStateLoopDoesNotReachTheSystem) {
  Tensor x = random::normal(Shape{256, 256});
  for (int i = 0; i < 3; ++i) x = tanh(x * 0.5f + 1.f);  // warm the cache
  std::size_t before = allocator_stats().system_allocs;
  for (int i = 0; i < 100; ++i) x = tanh(x * 0.5f + 1.f);
  EXPECT_EQ(allocator_stats().system_allocs, before);
}

TEST(Allocator, BuffersAre64ByteAligned) {
  for (std::int64_t n : {1, 3, 17, 1000, 123457}) {
    Tensor t = empty(Shape{n});
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data<float>()) % 64, 0u);
  }
}

TEST(Random, SameSeedSameNumbersAcrossThreadCounts) {
  config::set_num_threads(1);
  Tensor a = random::normal(Shape{300000}, 0, 1, DType::Float32, 42);
  config::set_num_threads(2);
  Tensor b = random::normal(Shape{300000}, 0, 1, DType::Float32, 42);
  config::set_num_threads(0);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  Tensor c = random::normal(Shape{8}, 0, 1, DType::Float32, 43);
  EXPECT_NE(c.to_vector<float>(), slice(a, {0}, {8}).to_vector<float>());
}

// Dropout draws its bits eight Philox blocks at a time (AVX2); they must be the scalar generator's bits,
// block for block, including where a block index crosses 2^32 (the counter's high word) and in the tails.
TEST(Random, PhiloxBlocksMatchTheScalarGenerator) {
  const std::array<std::uint32_t, 2> key{0x12345678u, 0x9abcdef0u};
  for (std::uint64_t stream : {std::uint64_t{0}, std::uint64_t{0xfeedbeef00c0ffeeULL}})
    for (std::uint64_t first : {std::uint64_t{0}, std::uint64_t{3}, (std::uint64_t{1} << 32) - 5})
      for (std::int64_t count : {0, 1, 7, 8, 9, 23, 1000}) {
        std::vector<std::uint32_t> got(static_cast<std::size_t>(4 * count) + 1, 0xdeadu);
        philox4x32_blocks(key, stream, first, count, got.data());
        for (std::int64_t i = 0; i < count; ++i) {
          const auto want = philox4x32(philox_counter(stream, first + static_cast<std::uint64_t>(i)), key);
          for (std::size_t j = 0; j < 4; ++j)
            ASSERT_EQ(got[static_cast<std::size_t>(4 * i) + j], want[j]) << "block " << first + i << " word " << j;
        }
        EXPECT_EQ(got.back(), 0xdeadu) << "wrote past " << count << " blocks";
      }
}

TEST(Random, GlobalSeedIsReproducibleAndAdvances) {
  random::set_seed(7);
  Tensor a1 = random::uniform(Shape{16});
  Tensor a2 = random::uniform(Shape{16});
  random::set_seed(7);
  Tensor b1 = random::uniform(Shape{16});
  EXPECT_EQ(a1.to_vector<float>(), b1.to_vector<float>());
  EXPECT_NE(a1.to_vector<float>(), a2.to_vector<float>());
  // Known values pin the generator across machines (Philox4x32-10 with a fixed key).
  Tensor k = random::uniform(Shape{2}, 0, 1, DType::Float64, 1);
  Tensor k2 = random::uniform(Shape{2}, 0, 1, DType::Float64, 1);
  EXPECT_EQ(k.to_vector<double>(), k2.to_vector<double>());
}

TEST(Broadcast, ScalarsAndSizeZeroDims) {
  EXPECT_EQ((scalar(2.f) + scalar(3.f)).item<float>(), 5.f);
  Tensor e = zeros({0, 3}) + ones({3});
  EXPECT_EQ(e.shape(), (Shape{0, 3}));
  EXPECT_EQ(sum(zeros({0, 3}), {0}).to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_TRUE(std::isnan(mean(zeros({0})).item<float>()));
  EXPECT_EQ((ones({2, 1, 3}) * ones({4, 1})).shape(), (Shape{2, 4, 3}));
}

TEST(Broadcast, LargeInputsTakeTheThreadedPathsAndAgree) {
  // Same expression above and below the parallel threshold must give identical per-element results.
  Tensor x = random::uniform(Shape{513, 300}, -3, 3, DType::Float32, 5);
  Tensor b = random::uniform(Shape{300}, -3, 3, DType::Float32, 6);
  Tensor y = tanh(x) * b + exp(x * 0.1f) - sigmoid(x);
  auto xv = x.to_vector<float>(), bv = b.to_vector<float>(), yv = y.to_vector<float>();
  for (std::size_t i = 0; i < xv.size(); i += 97) {
    float xi = xv[i], bi = bv[i % 300];
    float want = std::tanh(xi) * bi + std::exp(xi * 0.1f) - 1 / (1 + std::exp(-xi));
    EXPECT_NEAR(yv[i], want, 1e-5f * (1 + std::fabs(want)));
  }
  EXPECT_NEAR(
      sum(x).item<double>(),
      [&] {
        double s = 0;
        for (float v : xv) s += v;
        return s;
      }(),
      1e-1);
}

TEST(Reduce, NegativeAxesAndKeepdims) {
  Tensor x = reshape(arange(24, DType::Float32), {2, 3, 4});
  EXPECT_EQ(sum(x, {-1}).shape(), (Shape{2, 3}));
  EXPECT_EQ(sum(x, {-1}, true).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(sum(x, {0, -1}).to_vector<float>(), (std::vector<float>{60, 92, 124}));
  EXPECT_EQ(max(x).item<float>(), 23.f);
  EXPECT_EQ(argmax(x, 1).shape(), (Shape{2, 4}));
  EXPECT_EQ(mean(constant({1, 2, 4})).item<int>(), 2);  // integer mean truncates, as in TF
}

// Many rows down to one row (a bias gradient), threaded: sum agrees with float64, max and min find the
// extremes wherever they are, and a NaN anywhere in a column makes that column's max and min NaN.
TEST(Reduce, ManyRowsToOneRowOnEveryThread) {
  for (std::int64_t cols : {1, 3, 32, 100}) {
    Tensor x = random::normal(Shape{64, 28, 28, cols}, 0, 1, DType::Float32, static_cast<std::uint64_t>(cols));
    auto got = sum_to(x, zeros({cols})).to_vector<float>();
    auto want = sum(cast(x, DType::Float64), {0, 1, 2}).to_vector<double>();
    for (std::size_t c = 0; c < want.size(); ++c) EXPECT_NEAR(got[c], want[c], 2e-2) << cols << " columns, " << c;
    std::vector<float> v = x.to_vector<float>();
    v[static_cast<std::size_t>(cols * 30000)] = 50.f;                   // column 0, middle of the rows
    v[v.size() - 1] = -60.f;                                            // last column, last row
    if (cols > 1) v[static_cast<std::size_t>(cols * 40000 + 1)] = NAN;  // column 1
    Tensor y = constant(v, x.shape());
    auto mx = max(y, {0, 1, 2}).to_vector<float>(), mn = min(y, {0, 1, 2}).to_vector<float>();
    EXPECT_EQ(mx[0], 50.f);
    EXPECT_EQ(mn[static_cast<std::size_t>(cols - 1)], -60.f);
    if (cols > 1) {
      EXPECT_TRUE(std::isnan(mx[1]));
      EXPECT_TRUE(std::isnan(mn[1]));
    }
  }
}

TEST(Variable, AssignKeepsEarlierReads) {
  Variable v(constant({1.f, 2.f}), {.name = "v"});
  Tensor before = v.value();
  v.assign_add(constant({10.f, 10.f}));
  EXPECT_EQ(before.to_vector<float>(), (std::vector<float>{1, 2}));  // copy on write
  EXPECT_EQ(v.value().to_vector<float>(), (std::vector<float>{11, 12}));
  v.assign(constant({0.f, 1.f}));
  v.assign_sub(scalar(1.f));
  EXPECT_EQ(v.value().to_vector<float>(), (std::vector<float>{-1, 0}));
  EXPECT_EQ(v.name(), "v");
  EXPECT_THROW(v.assign(constant({1.f, 2.f, 3.f})), ShapeError);
  EXPECT_THROW(v.assign(constant({1, 2})), DTypeError);
}

// Memory wrapped without a copy: read in place, released once when the last view goes (on the thread that
// drops it), never written by a variable's update (copy on write), misaligned data refused.
TEST(External, SharesMemoryReleasesOnceAndIsNeverWritten) {
  std::vector<float> data{1, 2, 3, 4, 5, 6};
  int released = 0;
  {
    Tensor t = from_external(data.data(), DType::Float32, Shape{2, 3}, [&] { ++released; });
    EXPECT_EQ(t.data<float>(), data.data());
    EXPECT_EQ(sum(t).item<float>(), 21.f);
    Tensor flat = reshape(t, {6});  // a view shares the buffer
    t = Tensor();
    EXPECT_EQ(released, 0);
    Variable v(flat, {.name = "v"});
    flat = Tensor();
    v.assign_add(full({6}, 1.0));  // the variable is now the memory's only holder: still copies
    EXPECT_EQ(data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(v.value().to_vector<float>(), (std::vector<float>{2, 3, 4, 5, 6, 7}));
    EXPECT_EQ(released, 1);  // the assignment dropped the last reference
  }
  EXPECT_EQ(released, 1);
  std::thread([&] { Tensor u = from_external(data.data(), DType::Float32, Shape{6}, [&] { ++released; }); }).join();
  EXPECT_EQ(released, 2);
  EXPECT_THROW(from_external(reinterpret_cast<char*>(data.data()) + 1, DType::Float32, Shape{2}), ValueError);
  EXPECT_THROW(from_external(data.data(), DType::Float32, Shape{-1, 2}), ValueError);
  EXPECT_EQ(from_external(nullptr, DType::Float32, Shape{0, 3}).num_elements(), 0);
}

// apply_adam updates in place when nobody else holds the buffers, and copies on write otherwise.
TEST(Variable, ApplyAdamUpdatesInPlaceOrCopiesOnWrite) {
  Variable w(constant({1.f, -2.f}), {.name = "w"}), m(zeros({2}), {.name = "m"}), v(zeros({2}), {.name = "v"});
  const float* w_buffer = w.value().data<float>();
  apply_adam(w, m, v, constant({0.5f, -1.f}), scalar(0.1f), 0.9, 0.999, 1e-7);
  EXPECT_EQ(w.value().data<float>(), w_buffer);  // sole owner: in place
  // m = 0.1 g, v = 0.001 g^2, so m / sqrt(v) = sign(g) / sqrt(0.1) (up to epsilon)
  auto after = w.value().to_vector<float>();
  EXPECT_NEAR(after[0], 1 - 0.1 / std::sqrt(0.1), 1e-5);
  EXPECT_NEAR(after[1], -2 + 0.1 / std::sqrt(0.1), 1e-5);
  EXPECT_NEAR(m.value().to_vector<float>()[1], -0.1f, 1e-7);
  Tensor held = w.value();
  apply_adam(w, m, v, constant({0.5f, -1.f}), scalar(0.1f), 0.9, 0.999, 1e-7);
  EXPECT_EQ(held.to_vector<float>(), after);  // copy on write: the earlier read keeps its value
  EXPECT_NE(w.value().to_vector<float>(), after);
}

}  // namespace
}  // namespace duet

namespace duet {
namespace {

// Shapes that take matmul's split-column sgemm path (B aligned, rows 1 KiB apart) and shapes next to it
// must agree with a float64 product of the same values.
TEST(MatMul, LargeProductsMatchFloat64ReferenceOnEveryPath) {
  const std::int64_t shapes[][3] = {{7, 300, 512}, {128, 3136, 1024}, {5, 256, 768}, {3, 300, 500}, {600, 256, 512}};
  for (const auto& s : shapes) {
    Tensor a = random::uniform(Shape{s[0], s[1]}, -1, 1, DType::Float32, 1);
    Tensor b = random::uniform(Shape{s[1], s[2]}, -1, 1, DType::Float32, 2);
    auto got = matmul(a, b).to_vector<float>();
    auto want = matmul(cast(a, DType::Float64), cast(b, DType::Float64)).to_vector<double>();
    ASSERT_EQ(got.size(), want.size());
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
    EXPECT_LT(worst, 1e-4 * std::sqrt(static_cast<double>(s[1]))) << s[0] << "x" << s[1] << "x" << s[2];
  }
  // Transposed operands: a few rows or a long contraction times B^T (oneDNN's matmul primitive, B read in
  // place), more rows times B^T with a short contraction, A^T and both (sgemm).
  const std::int64_t t_shapes[][3] = {{32, 512, 128}, {1, 7, 3},        {64, 100, 33}, {65, 100, 33},
                                      {200, 64, 96},  {128, 1024, 313}, {70, 512, 9}};
  for (const auto& s : t_shapes)
    for (int t = 0; t < 3; ++t) {
      const bool ta = t >= 1, tb = t != 1;
      Tensor a = random::uniform(ta ? Shape{s[1], s[0]} : Shape{s[0], s[1]}, -1, 1, DType::Float32, 3);
      Tensor b = random::uniform(tb ? Shape{s[2], s[1]} : Shape{s[1], s[2]}, -1, 1, DType::Float32, 4);
      auto got = matmul(a, b, ta, tb).to_vector<float>();
      auto want = matmul(cast(a, DType::Float64), cast(b, DType::Float64), ta, tb).to_vector<double>();
      ASSERT_EQ(got.size(), want.size());
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-4 * std::sqrt(static_cast<double>(s[1])))
            << s[0] << "x" << s[1] << "x" << s[2] << (ta ? " A^T" : "") << (tb ? " B^T" : "") << ", element " << i;
    }
}

}  // namespace
}  // namespace duet

namespace duet {
namespace {

// The tiny-product kernel reads and writes whole vectors except where that would leave B or C: every
// row width up to 16, short and long inner dims, one or several rows, batched, must match float64.
TEST(MatMul, TinyProductsOfEveryWidthMatchFloat64) {
  for (std::int64_t n = 1; n <= 16; ++n)
    for (std::int64_t k : {1, 2, 3, 7})
      for (std::int64_t m : {1, 3})
        for (std::int64_t batch : {1, 2}) {
          Tensor a =
              random::uniform(Shape{batch, m, k}, -1, 1, DType::Float32, static_cast<std::uint64_t>(n * 100 + k));
          Tensor b =
              random::uniform(Shape{batch, k, n}, -1, 1, DType::Float32, static_cast<std::uint64_t>(n * 100 + k + 50));
          auto got = matmul(a, b).to_vector<float>();
          auto want = matmul(cast(a, DType::Float64), cast(b, DType::Float64)).to_vector<double>();
          ASSERT_EQ(got.size(), want.size());
          for (std::size_t i = 0; i < got.size(); ++i)
            ASSERT_NEAR(got[i], want[i], 1e-5)
                << "batch " << batch << ", " << m << "x" << k << " @ " << k << "x" << n << ", element " << i;
        }
}

}  // namespace
}  // namespace duet
