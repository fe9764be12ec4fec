// Accuracy of the vectorized transcendental functions over dense sweeps, including edge values.
#include <bit>
#include <cmath>
#include <limits>

#include "kernels/vmath.h"
#include "test_util.h"

namespace duet {
namespace {

double ulp_error(float got, double want) {
  float w = static_cast<float>(want);
  if (std::isnan(w)) return std::isnan(got) ? 0 : 1e9;
  if (got == w) return 0;
  double spacing = std::nextafter(std::fabs(w), INFINITY) - std::fabs(w);
  return std::fabs(got - want) / spacing;
}

TEST(VMath, TanhFloat32IsAccurateToAFewUlp) {
  std::vector<float> x;
  for (double v = -25; v <= 25; v += 0.000731) x.push_back(static_cast<float>(v));
  for (float v : {0.f, -0.f, 1e-30f, -1e-30f, 1e-8f, 3e-4f, 1e30f, -1e30f}) x.push_back(v);
  std::vector<float> y(x.size());
  vmath::apply(vmath::Fn::Tanh, x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, ulp_error(y[i], std::tanh(static_cast<double>(x[i]))));
  EXPECT_LE(worst, 6.0);  // the rational fit is good to 1 ulp; rounding near tanh = 1 adds up to ~5
  float special[3] = {NAN, INFINITY, -INFINITY}, out[3];
  vmath::apply(vmath::Fn::Tanh, special, out, 3);
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(out[1], 1.f);
  EXPECT_EQ(out[2], -1.f);
}

TEST(VMath, LibmvecFunctionsMatchLibm) {
  std::vector<float> x;
  for (double v = -8; v <= 8; v += 0.0013) x.push_back(static_cast<float>(v));
  const std::pair<vmath::Fn, double (*)(double)> fns[] = {
      {vmath::Fn::Exp, std::exp}, {vmath::Fn::Sin, std::sin}, {vmath::Fn::Cos, std::cos}, {vmath::Fn::Erf, std::erf}};
  for (auto [fn, ref] : fns) {
    std::vector<float> y(x.size());
    vmath::apply(fn, x.data(), y.data(), static_cast<std::int64_t>(x.size()));
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, ulp_error(y[i], ref(x[i])));
    EXPECT_LE(worst, 4.0) << static_cast<int>(fn);
  }
}

}  // namespace
}  // namespace duet

namespace duet {
namespace {

void sweep(vmath::Fn fn, double (*ref)(double), double lo, double hi, double step, double max_ulp, const char* what) {
  std::vector<float> x;
  for (double v = lo; v <= hi; v += step) x.push_back(static_cast<float>(v));
  for (float v : {0.f, -0.f, 1e-30f, -1e-30f, 1e-8f, -3e-4f}) x.push_back(v);
  std::vector<float> y(x.size());
  vmath::apply(fn, x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  double worst = 0;
  float worst_x = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    double want = ref(static_cast<double>(x[i]));
    // Subnormal results are judged in units of the smallest subnormal.
    double e = std::fabs(want) < 1.1754944e-38 ? std::fabs(y[i] - want) / 1.4e-45 / 4 : ulp_error(y[i], want);
    if (e > worst) {
      worst = e;
      worst_x = x[i];
    }
  }
  EXPECT_LE(worst, max_ulp) << what << " worst at x = " << worst_x;
  float special[3] = {NAN, INFINITY, -INFINITY}, out[3];
  vmath::apply(fn, special, out, 3);
  EXPECT_TRUE(std::isnan(out[0])) << what;
  EXPECT_EQ(out[1], static_cast<float>(ref(INFINITY))) << what;
  EXPECT_EQ(out[2], static_cast<float>(ref(-INFINITY))) << what;
}

double sigmoid_ref(double v) { return 1 / (1 + std::exp(-v)); }

TEST(VMath, ExpFloat32AcrossItsWholeRange) { sweep(vmath::Fn::Exp, std::exp, -110, 90, 0.00173, 4, "exp"); }
TEST(VMath, SigmoidFloat32AcrossItsWholeRange) {
  sweep(vmath::Fn::Sigmoid, sigmoid_ref, -110, 110, 0.00179, 4, "sigmoid");
}
TEST(VMath, TanhFloat32WideSweep) { sweep(vmath::Fn::Tanh, std::tanh, -30, 30, 0.000913, 6, "tanh"); }

// The fast exp path (all lanes normal) and the wide path must agree where they meet, lane by lane, whatever
// the neighbours in the vector are.
TEST(VMath, ExpAndSigmoidMixVectorsOfFastAndWideLanes) {
  std::vector<float> x;
  for (int i = 0; i < 4096; ++i)
    x.push_back(i % 9 == 4 ? -95.f - static_cast<float>(i % 7) : -3.f + 0.0017f * static_cast<float>(i));
  x[100] = NAN;
  x[201] = 200.f;
  std::vector<float> y(x.size()), s(x.size());
  vmath::apply(vmath::Fn::Exp, x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  vmath::apply(vmath::Fn::Sigmoid, x.data(), s.data(), static_cast<std::int64_t>(x.size()));
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(y[i]) && std::isnan(s[i]));
      continue;
    }
    double want = std::exp(static_cast<double>(x[i]));
    if (want > 3.4e38) {
      EXPECT_EQ(y[i], INFINITY);
    } else if (want < 1.1754944e-38) {
      EXPECT_NEAR(y[i], want, 4 * 1.4e-45) << x[i];
    } else {
      EXPECT_LE(ulp_error(y[i], want), 2.5) << x[i];
    }
    EXPECT_LE(ulp_error(s[i], sigmoid_ref(x[i])), 4.0) << x[i];
  }
}

// The AVX-512 and AVX2 code of exp, tanh and sigmoid is the same sequence of operations, so a model gives the
// same numbers on either kind of machine: every value of a sweep (fast and wide lanes mixed, NaN, infinities,
// subnormal results) and every tail length (masked AVX-512 lanes, scalar AVX2 remainder) agrees bit for bit.
TEST(VMath, Avx512AndAvx2GiveBitIdenticalResults) {
  if (!vmath::has_avx512()) GTEST_SKIP() << "this CPU has no AVX-512 (the qemu portability test covers AVX2 alone)";
  std::vector<float> x;
  for (double v = -120; v <= 120; v += 0.0137) x.push_back(static_cast<float>(v));
  for (float v : {0.f, -0.f, 1e-30f, -1e-30f, 87.3f, -87.34f, 88.72f, 88.73f, -103.9f, NAN, INFINITY, -INFINITY})
    x.push_back(v);
  for (auto fn : {vmath::Fn::Exp, vmath::Fn::Tanh, vmath::Fn::Sigmoid}) {
    for (std::size_t n : {x.size(), std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{15}, std::size_t{17},
                          std::size_t{31}, std::size_t{33}}) {
      const std::size_t off = x.size() - n;  // the tail holds the special values
      std::vector<float> a(n, -5.f), b(n, 5.f);
      vmath::apply_isa(fn, x.data() + off, a.data(), static_cast<std::int64_t>(n), true);
      vmath::apply_isa(fn, x.data() + off, b.data(), static_cast<std::int64_t>(n), false);
      for (std::size_t i = 0; i < n; ++i) {
        if (std::isnan(a[i]) && std::isnan(b[i])) continue;
        ASSERT_EQ(std::bit_cast<std::uint32_t>(a[i]), std::bit_cast<std::uint32_t>(b[i]))
            << "fn " << static_cast<int>(fn) << " x = " << x[off + i] << ": " << a[i] << " vs " << b[i];
      }
    }
  }
}

}  // namespace
}  // namespace duet
