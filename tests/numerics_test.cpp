// Numerics at the edges (issue 11): each case checked eagerly and traced with fusion forced on every size,
// against the value TensorFlow and PyTorch give (or the mathematical limit where both give NaN).
#include <climits>
#include <cmath>

#include "test_util.h"

namespace duet {
namespace {

// fn eagerly, traced without passes, and traced with every pass and fusion on any size.
std::vector<Tensor> three_ways(const std::function<Tensor(const Tensor&)>& fn, const Tensor& x) {
  auto plain = function(fn, {.passes = {.constant_folding = false, .cse = false, .dce = false, .fusion = false}});
  auto fused = function(fn, {.passes = {.fusion_min_elements = 1}});
  return {fn(x), plain(x), fused(x)};
}

TEST(Numerics, TanhStaysWithinMinusOneAndOne) {
  std::vector<float> xs;
  for (float v = 8.5f; v < 12.f; v += 0.001f) xs.push_back(v);
  xs.insert(xs.end(), {20.f, 100.f, 1e30f, INFINITY});
  std::vector<float> both = xs;
  for (float v : xs) both.push_back(-v);
  Tensor x = constant(both, Shape{static_cast<std::int64_t>(both.size())});
  for (const Tensor& y : three_ways([](const Tensor& t) { return tanh(t); }, x)) {
    for (float v : y.to_vector<float>()) ASSERT_LE(std::fabs(v), 1.f) << v;
  }
  // gelu's tanh form far left is (-)0, not a small positive number from tanh overshooting -1
  for (float v : gelu(constant({-20.f, -50.f, -1e6f}), true).to_vector<float>()) EXPECT_LE(v, 0.f);
  // ...and tanh's gradient 1 - tanh^2 is never negative there
  Tensor far = constant({9.5f, -9.5f, 30.f});
  GradientTape tape;
  tape.watch(far);
  for (float g : tape.gradient(sum(tanh(far)), far).to_vector<float>()) EXPECT_GE(g, 0.f);
  EXPECT_TRUE(std::isnan(tanh(constant({NAN})).item<float>()));
}

TEST(Numerics, ReluPropagatesNaN) {
  Tensor x = constant({NAN, -1.f, 2.f, -0.f});
  for (const Tensor& y : three_ways([](const Tensor& t) { return relu(t); }, x)) {
    auto v = y.to_vector<float>();
    EXPECT_TRUE(std::isnan(v[0]));
    EXPECT_EQ(v[1], 0.f);
    EXPECT_EQ(v[2], 2.f);
    EXPECT_FALSE(std::signbit(v[3]));
  }
  // Its gradient passes through NaN outputs (PyTorch's rule), so a NaN is not hidden.
  GradientTape tape;
  tape.watch(x);
  Tensor g = tape.gradient(sum(relu(x)), x);
  auto gv = g.to_vector<float>();
  EXPECT_EQ(gv[0], 1.f);
  EXPECT_EQ(gv[1], 0.f);
  EXPECT_EQ(gv[2], 1.f);
}

TEST(Numerics, AbsOfNegativeZeroIsPositiveZero) {
  for (DType d : {DType::Float32, DType::Float64}) {
    Tensor x = constant({-0.0, -2.0, 3.0}, d);
    for (const Tensor& y : three_ways([](const Tensor& t) { return abs(t); }, x)) {
      auto v = y.to_vector<double>();
      EXPECT_FALSE(std::signbit(v[0])) << dtype_name(d);
      EXPECT_EQ(v[1], 2.0);
    }
  }
  EXPECT_EQ(abs(constant({INT32_MIN})).item<std::int32_t>(), INT32_MIN);  // wraps, as TensorFlow and PyTorch
}

TEST(Numerics, SoftplusGradientAtZeroIsOneHalf) {
  for (DType d : {DType::Float32, DType::Float64}) {
    Tensor x = constant({0.0, -30.0, 30.0, -1000.0, 1000.0}, d);
    GradientTape tape;
    tape.watch(x);
    Tensor y = softplus(x);
    Tensor g = tape.gradient(sum(y), x);
    auto gv = g.to_vector<double>(), yv = y.to_vector<double>();
    EXPECT_EQ(gv[0], 0.5) << dtype_name(d);
    EXPECT_NEAR(gv[1], 1 / (1 + std::exp(30.0)), 1e-15);
    EXPECT_NEAR(gv[2], 1.0, 1e-12);
    EXPECT_EQ(gv[3], 0.0);
    EXPECT_EQ(gv[4], 1.0);
    EXPECT_NEAR(yv[0], std::log(2.0), 1e-7);
    EXPECT_EQ(yv[4], 1000.0);  // no overflow
    EXPECT_TRUE(std::isfinite(yv[3]));
  }
}

TEST(Numerics, EluIsAccurateNearZero) {
  std::vector<double> xs = {-1e-4, -1e-6, -3e-8, -0.5, -20};
  Tensor x = constant(xs, Shape{5}, DType::Float32);
  for (const Tensor& y : three_ways([](const Tensor& t) { return elu(t, 1.0); }, x)) {
    auto v = y.to_vector<double>();
    for (std::size_t i = 0; i < xs.size(); ++i) {
      double want = std::expm1(static_cast<double>(static_cast<float>(xs[i])));
      EXPECT_NEAR(v[i], want, 3e-7 * std::fabs(want)) << xs[i];
    }
  }
  Tensor z = constant({1e-5, -2.0}, DType::Float64);
  auto e = expm1(z).to_vector<double>();
  EXPECT_DOUBLE_EQ(e[0], std::expm1(1e-5));
  EXPECT_DOUBLE_EQ(e[1], std::expm1(-2.0));
}

TEST(Numerics, SoftmaxWithInfinityTakesTheLimit) {
  Tensor x = constant({INFINITY, 1.f, 2.f});
  for (const Tensor& y : three_ways([](const Tensor& t) { return softmax(t); }, x)) {
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1.f, 0.f, 0.f}));
  }
  auto two = softmax(constant({INFINITY, INFINITY, 0.f})).to_vector<float>();
  EXPECT_EQ(two, (std::vector<float>{0.5f, 0.5f, 0.f}));
  auto ls = log_softmax(constant({INFINITY, 1.f})).to_vector<float>();
  EXPECT_EQ(ls[0], 0.f);
  EXPECT_EQ(ls[1], -INFINITY);
  EXPECT_TRUE(std::isnan(softmax(constant({INFINITY, NAN})).to_vector<float>()[1]));
  auto neg = softmax(constant({-INFINITY, 0.f})).to_vector<float>();
  EXPECT_EQ(neg, (std::vector<float>{0.f, 1.f}));
}

// round is half to even (TensorFlow's, NumPy's rint); floor, ceil and round keep signed zeros, infinities and
// NaN; // and % of integers round toward minus infinity for every sign combination (Python's). Eagerly,
// traced, and traced with fusion on every size.
TEST(Numerics, RoundingAndFloorDivisionAtTheEdges) {
  Tensor x = constant({0.5f, 1.5f, 2.5f, -0.5f, -2.5f, -0.f, INFINITY, -INFINITY, NAN, 1e30f});
  for (const Tensor& y : three_ways([](const Tensor& t) { return round(t); }, x)) {
    auto v = y.to_vector<float>();
    EXPECT_EQ(std::vector<float>(v.begin(), v.begin() + 5), (std::vector<float>{0.f, 2.f, 2.f, -0.f, -2.f}));
    EXPECT_TRUE(std::signbit(v[3]) && std::signbit(v[5]) && v[5] == 0.f);
    EXPECT_EQ(v[6], INFINITY);
    EXPECT_EQ(v[7], -INFINITY);
    EXPECT_TRUE(std::isnan(v[8]));
    EXPECT_EQ(v[9], 1e30f);
  }
  for (const Tensor& y : three_ways([](const Tensor& t) { return floor(t) + ceil(t); }, x)) {
    auto v = y.to_vector<float>();
    EXPECT_EQ(std::vector<float>(v.begin(), v.begin() + 5), (std::vector<float>{1.f, 3.f, 5.f, -1.f, -5.f}));
  }
  Tensor a = constant({7, -7, 7, -7, 0, 6}), b = constant({2, 2, -2, -2, 5, 3});
  for (const Tensor& q : three_ways([&](const Tensor& t) { return floor_div(t, b); }, a))
    EXPECT_EQ(q.to_vector<std::int32_t>(), (std::vector<std::int32_t>{3, -4, -4, 3, 0, 2}));
  for (const Tensor& r : three_ways([&](const Tensor& t) { return floor_mod(t, b); }, a))
    EXPECT_EQ(r.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 1, -1, -1, 0, 0}));
  EXPECT_THROW((void)floor_div(a, constant({1, 1, 0, 1, 1, 1})), ValueError);
  EXPECT_THROW((void)floor(a), DTypeError);
}

// d prod(x)/dx_i is the product of the other elements, with IEEE semantics (TensorFlow's and PyTorch's
// values): a zero and an infinity among the others give NaN; an infinity in x_i itself does not spoil
// its own gradient (y / x_i would give inf / inf = NaN). Eagerly and traced, over one and two axes.
TEST(Numerics, ProdGradientIsTheProductOfTheOthersWithZerosAndInfinities) {
  auto grad_of = [](const Tensor& x, std::vector<std::int64_t> axes) {
    auto g = [axes](const Tensor& t) {
      GradientTape tape;
      tape.watch(t);
      return tape.gradient(sum(prod(t, axes)), t);
    };
    std::vector<std::vector<float>> out;
    for (const Tensor& r : three_ways(g, x)) out.push_back(r.to_vector<float>());
    return out;
  };
  auto same = [](const std::vector<float>& got, const std::vector<float>& want) {
    if (got.size() != want.size()) return false;
    for (std::size_t i = 0; i < got.size(); ++i)
      if (!(got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i])))) return false;
    return true;
  };
  const std::vector<std::pair<std::vector<float>, std::vector<float>>> cases = {
      {{INFINITY, 1.f, 0.f, 2.f}, {0.f, NAN, INFINITY, NAN}},  // TensorFlow and PyTorch
      {{INFINITY, 2.f}, {2.f, INFINITY}},
      {{0.f, 0.f, 3.f}, {0.f, 0.f, 0.f}},
      {{0.f, 2.f, 3.f}, {6.f, 0.f, 0.f}},
      {{NAN, 2.f}, {2.f, NAN}},
      {{-INFINITY, -2.f, 0.5f}, {-1.f, -INFINITY, INFINITY}}};
  for (const auto& [x, want] : cases) {
    for (const auto& got : grad_of(constant(x, Shape{static_cast<std::int64_t>(x.size())}), {0}))
      EXPECT_TRUE(same(got, want)) << ::testing::PrintToString(got) << " want " << ::testing::PrintToString(want);
  }
  // Two axes of a (2, 2, 2): the others of each element are the other 3 of its (axis 0, axis 2) slice.
  Tensor x = constant(std::vector<float>{INFINITY, 1.f, 2.f, 3.f, 0.f, 5.f, 6.f, 7.f}, Shape{2, 2, 2});
  // slice j=0: {x000=inf, x001=1, x100=0, x101=5}; slice j=1: {2, 3, 6, 7}
  const std::vector<float> want = {0.f, NAN, 3.f * 6 * 7, 2.f * 6 * 7, INFINITY, NAN, 2.f * 3 * 7, 2.f * 3 * 6};
  for (const auto& got : grad_of(x, {0, 2}))
    EXPECT_TRUE(same(got, want)) << ::testing::PrintToString(got) << " want " << ::testing::PrintToString(want);
}

TEST(Numerics, IntegerDivisionOfMinByMinusOneWraps) {
  Tensor a = constant({INT32_MIN, 7, -7}), b = constant({-1, -1, 2});
  for (const Tensor& y : three_ways([&](const Tensor& t) { return t / b; }, a)) {
    EXPECT_EQ(y.to_vector<std::int32_t>(), (std::vector<std::int32_t>{INT32_MIN, -7, -3}));  // truncating, as C++
  }
  Tensor a64 = constant(std::vector<std::int64_t>{INT64_MIN}, Shape{1});
  EXPECT_EQ((a64 / -1).to_vector<std::int64_t>()[0], INT64_MIN);
  EXPECT_THROW(a / constant({1, 0, 1}), ValueError);
}

TEST(Numerics, IntegerArithmeticWraps) {
  Tensor a = constant({INT32_MAX, INT32_MIN});
  EXPECT_EQ((a + 1).to_vector<std::int32_t>(), (std::vector<std::int32_t>{INT32_MIN, INT32_MIN + 1}));
  EXPECT_EQ((a - 1).to_vector<std::int32_t>(), (std::vector<std::int32_t>{INT32_MAX - 1, INT32_MAX}));
  EXPECT_EQ((a * 2).to_vector<std::int32_t>(), (std::vector<std::int32_t>{-2, 0}));
  EXPECT_EQ((-a).to_vector<std::int32_t>(), (std::vector<std::int32_t>{-INT32_MAX, INT32_MIN}));
  EXPECT_EQ(pow(constant({3}), constant({40})).item<std::int32_t>(),
            static_cast<std::int32_t>(12157665459056928801ull & 0xffffffffu));
}

TEST(Numerics, IntegerLiteralsThatDoNotFitAreRefused) {
  Tensor a = constant({1, 2});
  try {
    a + (std::int64_t{1} << 33);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("8589934592"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("int32"), std::string::npos) << e.what();
  }
  EXPECT_EQ((a + INT32_MAX).to_vector<std::int32_t>()[0], INT32_MIN);  // fits: wraps like any int32 sum
  Tensor b = constant(std::vector<std::int64_t>{1}, Shape{1});
  EXPECT_EQ((b + 9007199254740993LL).item<std::int64_t>(), 9007199254740994LL);  // exact, no trip through double
  EXPECT_THROW(b + 18446744073709551615ULL, ValueError);
  EXPECT_THROW(full({2}, 1e10, DType::Int32), ValueError);
  EXPECT_THROW(full({2}, NAN, DType::Int64), ValueError);
  EXPECT_EQ((a * 0.5f).dtype(), DType::Float32);  // a floating literal with an int tensor gives float32
}

TEST(Numerics, IntegerAndFloatCompareExactly) {
  Tensor i = constant({16777217});
  Tensor f = constant({16777216.f});
  EXPECT_FALSE(equal(i, f).item<bool>());
  EXPECT_TRUE(greater(i, f).item<bool>());
  Tensor big = constant(std::vector<std::int64_t>{(1LL << 53) + 1, INT64_MAX}, Shape{2});
  Tensor d = constant({9007199254740992.0, 9223372036854775808.0});
  EXPECT_EQ(equal(big, d).to_vector<bool>(), (std::vector<bool>{false, false}));
  EXPECT_EQ(less(big, d).to_vector<bool>(), (std::vector<bool>{false, true}));
  EXPECT_EQ(equal(constant({3}), 3.0).item<bool>(), true);
  EXPECT_FALSE(equal(constant(std::vector<std::int64_t>{0}, Shape{1}), constant({NAN})).item<bool>());
  // traced the same
  auto f_traced = function([](const Tensor& a, const Tensor& b) { return less(a, b); });
  EXPECT_EQ(f_traced(big, d).to_vector<bool>(), (std::vector<bool>{false, true}));
}

TEST(Numerics, IntegerMatmul) {
  Tensor a = constant({{1, 2}, {3, 4}}), b = constant({{5, 6}, {7, 8}});
  EXPECT_EQ(matmul(a, b).to_vector<std::int32_t>(), (std::vector<std::int32_t>{19, 22, 43, 50}));
  Tensor a64 = cast(a, DType::Int64);
  EXPECT_EQ(matmul(a64, cast(b, DType::Int64), true, false).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{26, 30, 38, 44}));
  Tensor huge = constant({{INT32_MAX, INT32_MAX}});
  EXPECT_EQ(matmul(huge, constant({{2}, {0}})).item<std::int32_t>(), -2);  // wraps
  auto traced = function([](const Tensor& x, const Tensor& y) { return matmul(x, y); });
  EXPECT_EQ(traced(a, b).to_vector<std::int32_t>(), (std::vector<std::int32_t>{19, 22, 43, 50}));
}

TEST(Numerics, SignOfNaNIsNaN) {
  auto v = sign(constant({NAN, -0.f, -3.f, 2.f})).to_vector<float>();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 0.f);
  EXPECT_EQ(v[2], -1.f);
  EXPECT_EQ(v[3], 1.f);
}

// A max-pool window's gradient goes to the first input (row-major) equal to the max, NaN matching NaN:
// ties and NaN windows, through the tiled kernel (2x2 windows covering the input exactly) and the general
// one (the same windows with one more padded column), which must agree on the shared part.
TEST(Numerics, MaxPoolGradientGoesToTheFirstMaxOnTiesAndNaN) {
  // one image, 2 rows x 4 columns, 2 channels; windows: columns 0-1 and 2-3
  // channel 0: [1 1 | 0 NaN]   channel 1: [5 2 | 7 7]
  //            [1 0 | NaN 0]              [5 5 | 7 1]
  const std::vector<float> vals = {1, 5, 1, 2, 0,   7, NAN, 7,  //
                                   1, 5, 0, 5, NAN, 7, 0,   1};
  const Tensor x = constant(vals, Shape{1, 2, 4, 2});
  const Tensor dy = constant(std::vector<float>{10, 20, 30, 40}, Shape{1, 1, 2, 2});
  const std::vector<float> want = {10, 20, 0, 0, 0, 40, 30, 0,  //
                                   0,  0,  0, 0, 0, 0,  0,  0};
  for (const Tensor& got : {max_pool2d_grad(x, max_pool2d(x), dy, {}),
                            function([&](const Tensor& t) { return max_pool2d_grad(t, max_pool2d(t), dy, {}); })(x)}) {
    auto g = got.to_vector<float>();
    ASSERT_EQ(g.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(g[i], want[i]) << "element " << i;
  }
  // General path: "same" padding over 5 columns (the last window is a clipped 2x1); the first 4 columns agree.
  std::vector<float> wide;
  for (int r = 0; r < 2; ++r) {
    wide.insert(wide.end(), vals.begin() + r * 8, vals.begin() + r * 8 + 8);
    wide.insert(wide.end(), {-1.f, -1.f});
  }
  const Tensor xw = constant(wide, Shape{1, 2, 5, 2});
  const Pool2DOptions same{.padding = "same"};
  const Tensor dyw = constant(std::vector<float>{10, 20, 30, 40, 50, 60}, Shape{1, 1, 3, 2});
  auto gw = max_pool2d_grad(xw, max_pool2d(xw, same), dyw, same).to_vector<float>();
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 8; ++i)
      EXPECT_EQ(gw[static_cast<std::size_t>(r * 10 + i)], want[static_cast<std::size_t>(r * 8 + i)]);
  EXPECT_EQ(gw[8], 50.f);
  EXPECT_EQ(gw[9], 60.f);
}

}  // namespace
}  // namespace duet

namespace duet {
namespace {

// config::enable_check_numerics names the first op producing NaN/Inf, its layer and shapes, eagerly and compiled.
TEST(NaNTooling, CheckNumericsNamesTheOpAndLayer) {
  auto logl = layers::Lambda([](const Tensor& t) { return log(t - 1.f); }, {.name = "risky_log"});
  Sequential model({layers::Dense(2, {.kernel_initializer = "zeros"}), logl});
  Tensor x = ones({3, 4});
  EXPECT_NO_THROW(model(x));  // unchecked: log(-1) is silently NaN
  config::enable_check_numerics();
  struct Off {
    ~Off() { config::disable_check_numerics(); }
  } off;
  for (bool compiled : {false, true}) {
    auto f = function([&](const Tensor& t) { return model(t); });
    try {
      compiled ? f(x) : model(x);
      FAIL() << "no NumericsError";
    } catch (const NumericsError& e) {
      std::string m = e.what();
      EXPECT_EQ(m.rfind("[log]", 0), 0u) << m;
      EXPECT_NE(m.find("in layer '" + model.name() + "/risky_log'"), std::string::npos) << m;
      EXPECT_NE(m.find("(3, 2)"), std::string::npos) << m;
      EXPECT_NE(m.find("6 NaN"), std::string::npos) << m;
      EXPECT_NE(m.find("inputs were finite"), std::string::npos) << m;
      if (compiled) {
        EXPECT_NE(m.find("compiled function"), std::string::npos) << m;
      }
    }
  }
  // Data that is already NaN is named as such.
  try {
    model(constant({{NAN, 1.f, 1.f, 1.f}}));
    FAIL();
  } catch (const NumericsError& e) {
    EXPECT_NE(std::string(e.what()).find("already held NaN"), std::string::npos) << e.what();
  }
}

TEST(NaNTooling, CheckNumericsOpAndItsGradient) {
  Tensor x = constant({1.f, 2.f});
  EXPECT_EQ(check_numerics(x, "fine").to_vector<float>(), x.to_vector<float>());
  try {
    check_numerics(constant({1.f, INFINITY, NAN}), "after the encoder");
    FAIL();
  } catch (const NumericsError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("after the encoder"), std::string::npos) << m;
    EXPECT_NE(m.find("1 NaN and 1 infinite"), std::string::npos) << m;
  }
  GradientTape tape;
  tape.watch(x);
  Tensor y = sum(check_numerics(x, "values") * constant({INFINITY, 1.f}));
  EXPECT_THROW(tape.gradient(y, x), NumericsError);  // the gradient is checked too
  auto f = function([](const Tensor& t) { return check_numerics(log(t), "log"); });
  EXPECT_NO_THROW(f(x));
  EXPECT_THROW(f(constant({-1.f, 1.f})), NumericsError);  // traced: checked when the graph runs
}

TEST(NaNTooling, FitStopsAtTheFirstNaNLossWithOneWarning) {
  std::vector<std::string> warnings;
  config::set_log_handler([&](config::LogLevel l, const std::string& m) {
    if (l == config::LogLevel::Warning) warnings.push_back(m);
  });
  Sequential model({layers::Dense(1)});
  model.compile({.optimizer = optimizers::SGD(1e30), .loss = "mse"});  // diverges at once
  Tensor x = random::normal({64, 3}, 0, 1e10, DType::Float32, 1), y = ones({64, 1});
  int batches = 0;
  auto count = callbacks::LambdaCallback({.on_batch_end = [&](Model&, int, const Logs&) { ++batches; }});
  auto h = model.fit(x, y, {.epochs = 5, .batch_size = 8, .verbose = 0, .callbacks = {count}});
  config::set_log_handler(nullptr);
  EXPECT_LT(batches, 8) << "training went on after the loss became NaN";
  EXPECT_EQ(h.epochs_run, 1);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("TerminateOnNaN"), std::string::npos) << warnings[0];
  // Switched off, fit runs all its epochs.
  Sequential other({layers::Dense(1)});
  other.compile({.optimizer = optimizers::SGD(1e30), .loss = "mse"});
  config::set_log_handler([](config::LogLevel, const std::string&) {});
  auto h2 = other.fit(x, y, {.epochs = 2, .batch_size = 32, .verbose = 0, .terminate_on_nan = false});
  config::set_log_handler(nullptr);
  EXPECT_EQ(h2.epochs_run, 2);
}

}  // namespace
}  // namespace duet
