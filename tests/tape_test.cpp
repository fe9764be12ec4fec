// GradientTape: watching, variables, unconnected sources, persistence, stop_gradient, higher orders.
#include "ops/op_def.h"
#include "test_util.h"

namespace duet {
namespace {

TEST(Tape, GradientOfAWatchedTensor) {
  Tensor x = constant({1.0, 2.0, 3.0});
  GradientTape tape;
  tape.watch(x);
  Tensor y = sum(x * x);
  EXPECT_EQ(tape.gradient(y, x).to_vector<double>(), (std::vector<double>{2, 4, 6}));
}

// A braced list of sources gives one gradient per source, a list of one included ({w} once was ambiguous
// between the vector and the single-source overloads).
TEST(Tape, ABracedListOfOneSourceGivesAVector) {
  Variable w(constant({1.0, 2.0}));
  GradientTape tape(TapeOptions{.persistent = true});
  Tensor y = sum(w.value() * 3.0);
  std::vector<Tensor> g = tape.gradient(y, {w});
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{3, 3}));
  EXPECT_EQ(tape.gradient(y, w).to_vector<double>(), (std::vector<double>{3, 3}));
  EXPECT_EQ(tape.gradient(y, {w, w}).size(), 2u);
}

TEST(Tape, TensorsAreNotWatchedAutomatically) {
  Tensor x = constant({1.0, 2.0});
  GradientTape tape;
  Tensor y = sum(x * x);
  EXPECT_FALSE(tape.gradient(y, x).defined());
}

TEST(Tape, TrainableVariablesAreWatchedWhenRead) {
  Variable w(constant({2.f}), {.name = "w"});
  Variable frozen(constant({3.f}), {.name = "frozen", .trainable = false});
  GradientTape tape;
  Tensor y = sum(w * frozen * w);
  auto g = tape.gradient(y, {w, frozen});
  EXPECT_EQ(g[0].to_vector<float>(), (std::vector<float>{12.f}));  // d/dw 3 w^2 = 6w
  EXPECT_FALSE(g[1].defined());
  ASSERT_EQ(tape.watched_variables().size(), 1u);
  EXPECT_EQ(tape.watched_variables()[0].name(), "w");
}

TEST(Tape, WatchAccessedVariablesCanBeOff) {
  Variable w(constant({2.f}));
  Variable u(constant({5.f}));
  GradientTape tape({.watch_accessed_variables = false});
  tape.watch(u);
  Tensor y = sum(w * u);
  auto g = tape.gradient(y, {w, u});
  EXPECT_FALSE(g[0].defined());
  EXPECT_EQ(g[1].item<float>(), 2.f);
}

TEST(Tape, UnconnectedSourcesGiveNoneOrZeros) {
  Tensor x = constant({1.0, 2.0});
  Tensor z = constant({{1.0, 2.0}, {3.0, 4.0}});
  GradientTape tape({.persistent = true});
  tape.watch(x);
  tape.watch(z);
  Tensor y = sum(x * 3.0);
  EXPECT_FALSE(tape.gradient(y, z).defined());
  Tensor gz = tape.gradient(y, z, {.unconnected = UnconnectedGradients::Zero});
  EXPECT_EQ(gz.shape(), z.shape());
  EXPECT_EQ(gz.to_vector<double>(), (std::vector<double>(4, 0.0)));
}

TEST(Tape, NonPersistentTapeAllowsOneGradient) {
  Tensor x = scalar(3.0);
  GradientTape tape;
  tape.watch(x);
  Tensor y = x * x;
  tape.gradient(y, x);
  EXPECT_THROW(tape.gradient(y, x), StateError);
}

TEST(Tape, PersistentTapeAllowsMany) {
  Tensor x = scalar(3.0);
  GradientTape tape({.persistent = true});
  tape.watch(x);
  Tensor y = x * x;
  Tensor z = y * y;
  EXPECT_EQ(tape.gradient(y, x).item<double>(), 6.0);
  EXPECT_EQ(tape.gradient(z, x).item<double>(), 108.0);  // 4 x^3
}

TEST(Tape, StopGradientBlocksFlow) {
  Tensor x = scalar(2.0);
  GradientTape tape;
  tape.watch(x);
  Tensor y = x * stop_gradient(x);  // d/dx = stop(x) = 2, not 2x = 4
  EXPECT_EQ(tape.gradient(y, x).item<double>(), 2.0);
}

TEST(Tape, StopRecordingPausesTheTape) {
  Tensor x = scalar(2.0);
  GradientTape tape;
  tape.watch(x);
  Tensor y = x * x;
  Tensor c;
  {
    auto pause = tape.stop_recording();
    c = x * 10.0;  // not recorded: a constant to the tape
  }
  EXPECT_EQ(tape.gradient(y + c, x).item<double>(), 4.0);
}

TEST(Tape, GradientsAccumulateOverUses) {
  Tensor x = constant({1.0, -2.0});
  GradientTape tape;
  tape.watch(x);
  Tensor y = sum(x * x + sin(x) + x);
  auto g = tape.gradient(y, x).to_vector<double>();
  EXPECT_NEAR(g[0], 2 * 1.0 + std::cos(1.0) + 1, 1e-12);
  EXPECT_NEAR(g[1], 2 * -2.0 + std::cos(-2.0) + 1, 1e-12);
}

TEST(Tape, NestedTapesGiveSecondOrder) {
  Tensor x = scalar(3.0);
  GradientTape outer;
  outer.watch(x);
  Tensor dy;
  {
    GradientTape inner;
    inner.watch(x);
    Tensor y = x * x * x;
    dy = inner.gradient(y, x);  // 3 x^2 = 27
  }
  EXPECT_EQ(dy.item<double>(), 27.0);
  EXPECT_EQ(outer.gradient(dy, x).item<double>(), 18.0);  // 6x
}

TEST(Tape, ThirdOrderOfTanh) {
  // d/dx tanh = 1 - t^2; d2 = -2t(1 - t^2); d3 = (6t^2 - 2)(1 - t^2)
  Tensor x = scalar(0.3);
  GradientTape t3;
  t3.watch(x);
  GradientTape t2;
  t2.watch(x);
  GradientTape t1;
  t1.watch(x);
  Tensor y = tanh(x);
  Tensor d1 = t1.gradient(y, x);
  Tensor d2 = t2.gradient(d1, x);
  Tensor d3 = t3.gradient(d2, x);
  double t = std::tanh(0.3);
  EXPECT_NEAR(d1.item<double>(), 1 - t * t, 1e-12);
  EXPECT_NEAR(d2.item<double>(), -2 * t * (1 - t * t), 1e-12);
  EXPECT_NEAR(d3.item<double>(), (6 * t * t - 2) * (1 - t * t), 1e-12);
}

TEST(Tape, NonScalarTargetUsesOnesOrTheGivenOutputGradient) {
  Tensor x = constant({1.0, 2.0});
  GradientTape tape({.persistent = true});
  tape.watch(x);
  Tensor y = x * x;
  EXPECT_EQ(tape.gradient(y, x).to_vector<double>(), (std::vector<double>{2, 4}));
  Tensor g = tape.gradient(y, x, {.output_gradient = constant({1.0, 0.5})});
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{2, 2}));
}

TEST(Tape, BroadcastGradientsSumBackToTheOperandShape) {
  Tensor a = ones({3, 4}, DType::Float64);
  Tensor b = constant({1.0, 2.0, 3.0, 4.0});
  GradientTape tape;
  tape.watch(b);
  Tensor y = sum(a * b);
  Tensor g = tape.gradient(y, b);
  EXPECT_EQ(g.shape(), (Shape{4}));
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{3, 3, 3, 3}));
}

TEST(Tape, IntegerTensorsCannotBeWatched) {
  GradientTape tape;
  EXPECT_THROW(tape.watch(constant({1, 2})), DTypeError);
}

TEST(Tape, TrainsALinearModel) {
  Variable w(zeros({3, 1}), {.name = "w"});
  Variable b(zeros({1}), {.name = "b"});
  Tensor x = random::normal(Shape{64, 3}, 0, 1, DType::Float32, 3);
  Tensor true_w = constant({{1.f}, {-2.f}, {0.5f}});
  Tensor y = sum(x * reshape(true_w, {1, 3}), {1}, true) + 0.7f;
  float last = 0;
  for (int i = 0; i < 300; ++i) {
    GradientTape tape;
    Tensor pred = sum(x * reshape(w, {1, 3}), {1}, true) + b;
    Tensor loss = mean(square(pred - y));
    auto g = tape.gradient(loss, {w, b});
    w.assign_sub(g[0] * 0.1f);
    b.assign_sub(g[1] * 0.1f);
    last = loss.item<float>();
  }
  EXPECT_LT(last, 1e-6f);
  EXPECT_NEAR(w.value().to_vector<float>()[1], -2.f, 1e-3f);
  EXPECT_NEAR(b.value().item<float>(), 0.7f, 1e-3f);
}

}  // namespace
}  // namespace duet

namespace duet {
namespace {

TEST(Tape, GradientsOfUnwatchedInputsAreNotComputed) {
  // Only w is a source: the tape must not run matmul's other gradient (observed through the op log).
  Tensor x = random::normal(Shape{4, 3}, 0, 1, DType::Float64, 1);
  Variable w(random::normal(Shape{3, 2}, 0, 1, DType::Float64, 2));
  GradientTape tape;
  Tensor loss = sum(matmul(x, w));
  int matmuls = 0;
  internal::set_op_observer(
      [](const OpDef& op, void* n) {
        if (std::string(op.name) == "MatMul") ++*static_cast<int*>(n);
      },
      &matmuls);
  Tensor g = tape.gradient(loss, w);
  internal::set_op_observer(nullptr, nullptr);
  EXPECT_EQ(matmuls, 1);
  // d/dw sum(x w) = x^T 1
  Tensor want = matmul(x, ones({4, 2}, DType::Float64), true);
  EXPECT_EQ(g.to_vector<double>(), want.to_vector<double>());
}

}  // namespace
}  // namespace duet
