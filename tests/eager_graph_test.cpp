// Eager = graph: regression tests for divergences found from outside (issue 11). Each case runs the
// same code eagerly and compiled and compares values, gradients and side effects.
#include "test_util.h"

namespace duet {
namespace {

using testing::expect_close;
using testing::to_arr;

// The fused backward of a value used twice by one op (a*a) and by a chain (a/(a+2)) once gave
// 2aw - 2wa/(a+2)^2 instead of 2aw + w/(a+2) - wa/(a+2)^2.
TEST(EagerEqualsGraph, FusedBackwardOfAValueUsedTwice) {
  Tensor a = random::uniform({200, 200}, 0.5, 2.0, DType::Float32, 1);
  Tensor w = random::uniform({200, 200}, -1.0, 1.0, DType::Float32, 2);
  auto grad = [](const Tensor& a, const Tensor& w) {
    GradientTape tape;
    tape.watch(a);
    Tensor out = a * a + a / (a + 2.f);
    return tape.gradient(sum(out * w), a);
  };
  Tensor eager = grad(a, w);
  auto fused = function(grad, {.passes = {.fusion_min_elements = 1}});
  auto unfused = function(grad, {.passes = {.fusion = false}});
  auto av = a.to_vector<double>(), wv = w.to_vector<double>();
  testing::Arr want{{200, 200}, {}};
  for (std::size_t i = 0; i < av.size(); ++i) {
    double x = av[i], y = wv[i];
    want.v.push_back(2 * x * y + y / (x + 2) - y * x / ((x + 2) * (x + 2)));
  }
  expect_close(to_arr(eager), want, 1e-5, 1e-5, "eager");
  expect_close(to_arr(unfused(a, w)), want, 1e-5, 1e-5, "traced, unfused");
  expect_close(to_arr(fused(a, w)), want, 1e-5, 1e-5, "traced, fused");
  EXPECT_NE(fused.graph_text().find("FusedElementwise"), std::string::npos);
}

TEST(EagerEqualsGraph, BatchedMatmulBroadcastsUnknownBatchDims) {
  Tensor a = random::normal({2, 1, 3, 4}, 0, 1, DType::Float32, 3);
  Tensor b = random::normal({3, 4, 5}, 0, 1, DType::Float32, 4);
  constexpr std::int64_t N = Shape::kUnknown;
  auto f = function(
      [](const Tensor& a, const Tensor& b) { return matmul(a, b); },
      {.input_signature = std::vector<TensorSpec>{{DType::Float32, {N, N, 3, 4}}, {DType::Float32, {N, 4, 5}}}});
  Tensor eager = matmul(a, b);
  ASSERT_EQ(eager.shape(), (Shape{2, 3, 3, 5}));
  Tensor traced = f(a, b);
  ASSERT_EQ(traced.shape(), eager.shape());
  expect_close(to_arr(traced), to_arr(eager), 1e-6, 1e-6, "matmul (2,1,3,4) @ (3,4,5) with unknown batch dims");
  // Gradients sum the broadcast back, traced as eagerly.
  auto g = [](const Tensor& a, const Tensor& b) {
    GradientTape tape;
    tape.watch(a);
    tape.watch(b);
    auto gs = tape.gradient(sum(matmul(a, b)), {a, b});
    return std::vector<Tensor>{gs[0], gs[1]};
  };
  auto tg = function(
      g, {.input_signature = std::vector<TensorSpec>{{DType::Float32, {N, N, 3, 4}}, {DType::Float32, {N, 4, 5}}}});
  auto ge = g(a, b), gt = tg(a, b);
  expect_close(to_arr(gt[0]), to_arr(ge[0]), 1e-5, 1e-5, "d/da");
  expect_close(to_arr(gt[1]), to_arr(ge[1]), 1e-5, 1e-5, "d/db");
}

TEST(EagerEqualsGraph, SqueezeOfAnUnknownDimNeedsExplicitAxes) {
  constexpr std::int64_t N = Shape::kUnknown;
  Tensor x = ones({1, 3, 2});
  EXPECT_EQ(squeeze(x).shape(), (Shape{3, 2}));
  auto all = function([](const Tensor& t) { return squeeze(t); },
                      {.input_signature = std::vector<TensorSpec>{{DType::Float32, {N, 3, 2}}}});
  try {
    all(x);
    FAIL() << "squeeze() of an unknown dim must not silently keep it";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[squeeze]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("axes"), std::string::npos) << e.what();
  }
  auto named = function([](const Tensor& t) { return squeeze(t, {0}); },
                        {.input_signature = std::vector<TensorSpec>{{DType::Float32, {N, 3, 2}}}});
  EXPECT_EQ(named(x).shape(), (Shape{3, 2}));
  EXPECT_THROW(named(ones({2, 3, 2})), ShapeError);  // axis 0 is not 1 at run time: a clear error
}

TEST(EagerEqualsGraph, ConvWithAnUnknownFilterDim) {
  constexpr std::int64_t N = Shape::kUnknown;
  Tensor x = random::normal({2, 7, 6, 3}, 0, 1, DType::Float32, 5);
  Tensor w = random::normal({3, 2, 3, 4}, 0, 1, DType::Float32, 6);
  for (const char* padding : {"valid", "same"}) {
    auto f = function(
        [&](const Tensor& x, const Tensor& w) { return conv2d(x, w, {.padding = padding}); },
        {.input_signature = std::vector<TensorSpec>{{DType::Float32, {N, 7, 6, 3}}, {DType::Float32, {N, 2, 3, 4}}}});
    Tensor eager = conv2d(x, w, {.padding = padding});
    Tensor traced = f(x, w);
    ASSERT_EQ(traced.shape(), eager.shape()) << padding;
    expect_close(to_arr(traced), to_arr(eager), 1e-5, 1e-5, padding);
  }
}

// Every value a user changes between steps is read at run time, never frozen into the trace.
TEST(EagerEqualsGraph, ChangedLearningRateIsUsedByTheCompiledStep) {
  for (bool eager : {true, false}) {
    random::set_seed(7);
    Sequential model({layers::Dense(1)});
    auto opt = optimizers::SGD(0.1);
    model.compile({.optimizer = opt, .loss = "mse", .run_eagerly = eager});
    Tensor x = random::normal({8, 3}, 0, 1, DType::Float32, 8), y = random::normal({8, 1}, 0, 1, DType::Float32, 9);
    model.fit(x, y, {.epochs = 1, .batch_size = 8, .verbose = 0});
    auto before = model.weights()[0].value().to_vector<float>();
    opt->learning_rate = 0.0;
    EXPECT_EQ(static_cast<double>(opt->learning_rate), 0.0);
    model.fit(x, y, {.epochs = 2, .batch_size = 8, .verbose = 0});
    EXPECT_EQ(model.weights()[0].value().to_vector<float>(), before) << (eager ? "eager" : "compiled");
    opt->learning_rate = 0.5;
    model.fit(x, y, {.epochs = 1, .batch_size = 8, .verbose = 0});
    EXPECT_NE(model.weights()[0].value().to_vector<float>(), before) << (eager ? "eager" : "compiled");
  }
}

TEST(EagerEqualsGraph, EveryHyperparameterIsReadAtRunTime) {
  // Each optimizer trains 3 steps, changes every hyperparameter, trains 3 more: compiled == eager.
  using MakeOpt = std::function<optimizers::OptimizerPtr()>;
  std::vector<std::pair<std::string, MakeOpt>> makers = {
      {"sgd", [] { return optimizers::SGD(0.05, 0.9); }},
      {"adam", [] { return optimizers::Adam(0.01); }},
      {"adamw", [] { return optimizers::AdamW(0.01, 0.01); }},
      {"rmsprop", [] { return optimizers::RMSprop(0.01, 0.9, 0.5); }},
  };
  for (auto& [name, make] : makers) {
    std::vector<std::vector<float>> results;
    for (bool eager : {true, false}) {
      random::set_seed(11);
      Sequential model({layers::Dense(4, "tanh"), layers::Dropout(0.25, {.seed = 3}), layers::Dense(1)});
      auto opt = make();
      model.compile({.optimizer = opt, .loss = "mse", .run_eagerly = eager});
      Tensor x = random::normal({16, 3}, 0, 1, DType::Float32, 12),
             y = random::normal({16, 1}, 0, 1, DType::Float32, 13);
      model.fit(x, y, {.epochs = 3, .batch_size = 16, .shuffle = false, .verbose = 0});
      opt->learning_rate = 0.002;
      for (auto& [hp, v] : opt->hyperparameters()) {
        if (hp != "learning_rate") *v = static_cast<double>(*v) * 0.5;
      }
      auto drop = std::static_pointer_cast<layers::DropoutLayer>(model.layers()[1].ptr());
      drop->rate = 0.5;
      model.fit(x, y, {.epochs = 3, .batch_size = 16, .shuffle = false, .verbose = 0});
      std::vector<float> all;
      for (auto& w : model.weights()) {
        auto v = w.value().to_vector<float>();
        all.insert(all.end(), v.begin(), v.end());
      }
      results.push_back(all);
    }
    ASSERT_EQ(results[0].size(), results[1].size());
    for (std::size_t i = 0; i < results[0].size(); ++i)
      EXPECT_NEAR(results[0][i], results[1][i], 1e-5) << name << " weight " << i;
  }
}

TEST(EagerEqualsGraph, LearningRateSchedules) {
  using namespace optimizers::schedules;
  auto at = [](const SchedulePtr& s, std::int64_t step) {
    return (*s)(scalar(static_cast<double>(step))).item<double>();
  };
  auto exp_decay = ExponentialDecay(0.1, 10, 0.5);
  EXPECT_NEAR(at(exp_decay, 0), 0.1, 1e-12);
  EXPECT_NEAR(at(exp_decay, 5), 0.1 * std::pow(0.5, 0.5), 1e-12);
  EXPECT_NEAR(at(ExponentialDecay(0.1, 10, 0.5, true), 15), 0.05, 1e-12);
  auto piecewise = PiecewiseConstantDecay({10, 20}, {1.0, 0.5, 0.1});
  EXPECT_EQ(at(piecewise, 0), 1.0);
  EXPECT_EQ(at(piecewise, 10), 1.0);  // Keras: step <= boundary keeps the earlier value
  EXPECT_EQ(at(piecewise, 11), 0.5);
  EXPECT_EQ(at(piecewise, 21), 0.1);
  EXPECT_THROW(PiecewiseConstantDecay({10}, {1.0}), ValueError);
  auto cosine = CosineDecay(0.0, 100, 0.1, 1.0, 10);  // warm up 0 -> 1 in 10 steps, then decay to 0.1
  EXPECT_NEAR(at(cosine, 5), 0.5, 1e-12);
  EXPECT_NEAR(at(cosine, 10), 1.0, 1e-12);
  EXPECT_NEAR(at(cosine, 60), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.5)), 1e-12);
  EXPECT_NEAR(at(cosine, 500), 0.1, 1e-12);
  // A schedule drives the optimizer by its iteration count, eager and compiled alike.
  std::vector<std::vector<float>> results;
  for (bool eager : {true, false}) {
    random::set_seed(5);
    Sequential model({layers::Dense(1)});
    auto opt = optimizers::SGD(PiecewiseConstantDecay({2}, {0.1, 0.0}));
    model.compile({.optimizer = opt, .loss = "mse", .run_eagerly = eager});
    Tensor x = random::normal({4, 2}, 0, 1, DType::Float32, 1), y = ones({4, 1});
    model.fit(x, y, {.epochs = 3, .batch_size = 4, .verbose = 0});
    auto after3 = model.weights()[0].value().to_vector<float>();
    model.fit(x, y, {.epochs = 2, .batch_size = 4, .verbose = 0});  // lr is 0 from step 3 on
    EXPECT_EQ(model.weights()[0].value().to_vector<float>(), after3);
    EXPECT_NEAR(static_cast<double>(opt->learning_rate), 0.0, 0);
    EXPECT_THROW(opt->learning_rate = 0.5, StateError);  // a schedule owns it
    results.push_back(after3);
  }
  EXPECT_EQ(results[0], results[1]);
}

TEST(EagerEqualsGraph, ReduceLROnPlateau) {
  random::set_seed(3);
  Sequential model({layers::Dense(1)});
  auto opt = optimizers::Adam(0.01);
  model.compile({.optimizer = opt, .loss = "mse"});
  Tensor x = random::normal({8, 2}, 0, 1, DType::Float32, 1), y = random::normal({8, 1}, 0, 1, DType::Float32, 2);
  // min_delta = 100: the loss never "improves", so after `patience` epochs the rate is cut, then waits
  // `cooldown` epochs, and never goes below min_lr.
  auto cb = callbacks::ReduceLROnPlateau(
      {.monitor = "loss", .factor = 0.5, .patience = 1, .min_delta = 100, .cooldown = 2, .min_lr = 0.002});
  std::vector<double> lrs;
  auto rec =
      callbacks::LambdaCallback({.on_epoch_end = [&](Model&, int, const Logs&) { lrs.push_back(opt->learning_rate); }});
  model.fit(x, y, {.epochs = 8, .batch_size = 8, .verbose = 0, .callbacks = {cb, rec}});
  ASSERT_EQ(lrs.size(), 8u);
  // Keras's cooldown: epochs 2, 4 and 6 cool down; the epoch that ends a cooldown counts again.
  EXPECT_EQ(lrs, (std::vector<double>{0.01, 0.005, 0.005, 0.0025, 0.0025, 0.002, 0.002, 0.002}));
}

// Plain double arguments are part of the trace key, exactly.
TEST(EagerEqualsGraph, DoubleArgumentsAreKeyedExactly) {
  auto f = function([](const Tensor& x, double s) { return x * s; });
  Tensor x = scalar(1.0);
  EXPECT_EQ(f(x, 1e-7).item<double>(), 1e-7);
  EXPECT_EQ(f(x, 2e-7).item<double>(), 2e-7);
  EXPECT_EQ(f(x, 0.1 + 0.2).item<double>(), 0.1 + 0.2);
  EXPECT_EQ(f(x, 0.3).item<double>(), 0.3);    // differs from 0.1 + 0.2 in the last bit
  EXPECT_EQ(f(x, 1e-7).item<double>(), 1e-7);  // cache hit
  EXPECT_EQ(f.trace_count(), 4);
  ASSERT_GE(f.retrace_reasons().size(), 1u);
  EXPECT_EQ(f.retrace_reasons()[0], "arg 1: 1e-07 -> 2e-07");
  auto g = function([](const Tensor& x, const std::string& mode, bool flag, int k) { return flag ? x * k : x; });
  g(x, "a", true, 1);
  g(x, "b", true, 1);
  g(x, "b", false, 2);
  EXPECT_EQ(g.retrace_reasons()[0], "arg 1: \"a\" -> \"b\"");
  EXPECT_EQ(g.retrace_reasons()[1], "arg 2: true -> false; arg 3: 1 -> 2");
}

// User code in a host step runs exactly once per step: no re-run for the gradient, no probe on zeros.
class CountingDynamicLayer : public Layer {
 public:
  explicit CountingDynamicLayer(int* calls) : Layer("CountingDynamicLayer"), calls_(calls) {
    set_dynamic(true);
    state_ = add_weight("state", Shape{}, {.initializer = "zeros", .trainable = false});
  }
  Tensor call(const Tensor& x, bool) override {
    ++*calls_;
    state_.assign_add(scalar(1.f));
    return x * 2.f;
  }
  Variable state_;

 private:
  int* calls_;
};

TEST(EagerEqualsGraph, HostStepUserCodeRunsOncePerStep) {
  for (bool eager : {true, false}) {
    int calls = 0;
    auto counting = make_layer<CountingDynamicLayer>(&calls);
    Sequential model({layers::Dense(3), counting, layers::Dense(1)});
    model.compile({.optimizer = "sgd", .loss = "mse", .run_eagerly = eager});
    Tensor x = random::normal({8, 2}, 0, 1, DType::Float32, 1), y = random::normal({8, 1}, 0, 1, DType::Float32, 2);
    auto w0 = model.layers()[0].ptr();
    model.fit(x, y, {.epochs = 1, .batch_size = 2, .verbose = 0});  // 4 steps
    EXPECT_EQ(calls, 4) << (eager ? "eager" : "compiled");
    EXPECT_EQ(counting->state_.value().item<float>(), 4.f) << (eager ? "eager" : "compiled");
    model.predict(x, {.batch_size = 4});  // 2 batches
    EXPECT_EQ(calls, 6) << (eager ? "eager" : "compiled");
    model.evaluate(x, y, {.batch_size = 8});
    EXPECT_EQ(calls, 7) << (eager ? "eager" : "compiled");
    EXPECT_EQ(counting->state_.value().item<float>(), 7.f);
    // The gradient still flows through the host step to the first Dense layer.
    auto before = w0->weights()[0].value().to_vector<float>();
    model.fit(x, y, {.epochs = 1, .batch_size = 8, .verbose = 0});
    EXPECT_NE(w0->weights()[0].value().to_vector<float>(), before);
  }
}

// The seed's stateful layer: a (1,) state plus a (None,) batch. Accepted while tracing, checked when it runs.
class SeedStatefulLayer : public Layer {
 public:
  SeedStatefulLayer() : Layer("SeedStatefulLayer") {
    state_ = add_weight("state", Shape{1}, {.initializer = "zeros", .trainable = false});
  }
  Tensor call(const Tensor& inputs, bool) override { return state_.assign_add(inputs); }
  Variable state_;
};

TEST(EagerEqualsGraph, AssigningABatchShapedValueIsCheckedWhenTheStepRuns) {
  auto layer = make_layer<SeedStatefulLayer>();
  Sequential model({layer});
  model.compile({.optimizer = "adam", .loss = "mse"});
  Tensor x = constant({1.f, 2.f, 3.f, 4.f});
  Tensor p = model.predict(x, {.batch_size = 1});  // 4 compiled calls, batch 1
  EXPECT_EQ(layer->state_.value().to_vector<float>(), (std::vector<float>{10.f}));
  EXPECT_EQ(p.to_vector<float>(), (std::vector<float>{1.f, 3.f, 6.f, 10.f}));
  try {
    model.predict(x, {.batch_size = 2});  // a (2,) value for a (1,) state: a clear error naming both
    FAIL();
  } catch (const ShapeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("(1,)"), std::string::npos) << m;
    EXPECT_NE(m.find("(2,)"), std::string::npos) << m;
  }
}

TEST(EagerEqualsGraph, SettingRunFunctionsEagerlyToItsValueWhileTracingIsANoOp) {
  auto f = function([](const Tensor& t) {
    config::run_functions_eagerly(false);  // already false: nothing changes
    return t + 1.f;
  });
  EXPECT_EQ(f(scalar(1.f)).item<float>(), 2.f);
  auto g = function([](const Tensor& t) {
    config::run_functions_eagerly(true);  // a change: still an error
    return t;
  });
  EXPECT_THROW(g(scalar(1.f)), StateError);
  EXPECT_FALSE(config::functions_run_eagerly());
}

}  // namespace
}  // namespace duet
