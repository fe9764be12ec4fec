// FunctionOptions::check_eager: a compiled call is also run eagerly from the same state; a difference
// throws EagerMismatchError naming the node, its layer and the graph pass that produced it.
#include "kernels/elementwise_kernels.h"
#include "ops/op_def.h"
#include "test_util.h"

namespace duet {
namespace {

using testing::expect_close;
using testing::to_arr;

// A deliberately broken elementwise op for these tests: its fused float32 block kernel forgets to negate,
// so it differs from its own general kernel only inside fused groups (as a real fusion bug would).
void copy_block(const float* const* in, const bool* scalar, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = in[0][scalar[0] ? 0 : i];
}
void infer_same(InferContext& c) { c.set_output(c.dtype(0), c.shape(0)); }
const OpDef kBrokenNeg{.name = "BrokenNeg",
                       .public_name = "broken_neg",
                       .num_inputs = 1,
                       .infer = infer_same,
                       .kernel = kernels::unary<kernels::fn::Neg>,
                       .grad = nullptr,
                       .traits = kElementwise,
                       .block_f32 = copy_block};
Tensor broken_neg(const Tensor& x) { return call(kBrokenNeg, {x}); }

TEST(CheckEager, PassesWhenCompiledEqualsEager) {
  auto f = function([](const Tensor& x) { return tanh(x) * 2.f + x * x; },
                    {.passes = {.fusion_min_elements = 1}, .check_eager = true});
  Tensor x = random::normal({64, 64}, 0, 1, DType::Float32, 1);
  expect_close(to_arr(f(x)), to_arr(tanh(x) * 2.f + x * x), 1e-6, 1e-6, "checked call");
}

TEST(CheckEager, NamesTheFusionPassAndTheNode) {
  auto f = function([](const Tensor& x) { return broken_neg(x * 3.f) + 1.f; },
                    {.name = "buggy", .passes = {.fusion_min_elements = 1}, .check_eager = true});
  try {
    f(ones({4, 5}));
    FAIL() << "the broken fused kernel was not caught";
  } catch (const EagerMismatchError& e) {
    std::string m = e.what();
    RecordProperty("message", m);  // --gtest_output=xml shows the full message
    EXPECT_NE(m.find("[buggy]"), std::string::npos) << m;
    EXPECT_NE(m.find("output 0"), std::string::npos) << m;
    EXPECT_NE(m.find("FusedElementwise"), std::string::npos) << m;
    EXPECT_NE(m.find("BrokenNeg"), std::string::npos) << m;
    EXPECT_NE(m.find("'fusion'"), std::string::npos) << m;
    EXPECT_NE(m.find("compiled 4, eager -2"), std::string::npos) << m;
  }
  // Without fusion the same function is right, and the check stays quiet.
  auto ok = function([](const Tensor& x) { return broken_neg(x * 3.f) + 1.f; },
                     {.passes = {.fusion = false}, .check_eager = true});
  EXPECT_EQ(ok(ones({2})).to_vector<float>(), (std::vector<float>{-2.f, -2.f}));
}

TEST(CheckEager, NamesTheLayerInsideACompiledModel) {
  auto inner = layers::Lambda([](const Tensor& t) { return broken_neg(t) * 2.f; }, {.name = "suspect"});
  Sequential model({layers::Dense(3, {.kernel_initializer = "ones"}), inner});
  auto f =
      function([&](const Tensor& x) { return model(x); }, {.passes = {.fusion_min_elements = 1}, .check_eager = true});
  try {
    f(random::normal({8, 4}, 0, 1, DType::Float32, 2));
    FAIL() << "the broken fused kernel was not caught";
  } catch (const EagerMismatchError& e) {
    std::string m = e.what();
    RecordProperty("message", m);
    EXPECT_NE(m.find("in layer '" + model.name() + "/suspect'"), std::string::npos) << m;
    EXPECT_NE(m.find("'fusion'"), std::string::npos) << m;
  }
  // compile({.check_eager = true}) checks the model's own steps: a correct model passes.
  Sequential ok({layers::Dense(3, "tanh"), layers::Dense(1)});
  ok.compile({.optimizer = "adam", .loss = "mse", .check_eager = true});
  Tensor x = random::normal({32, 4}, 0, 1, DType::Float32, 3), y = random::normal({32, 1}, 0, 1, DType::Float32, 4);
  auto h = ok.fit(x, y, {.epochs = 2, .batch_size = 8, .verbose = 0});
  EXPECT_EQ(h.epochs_run, 2);
  EXPECT_EQ(ok.predict(x).shape(), (Shape{32, 1}));
}

// A C++ value captured when the function was traced is frozen into the graph; eagerly it is read on every
// call. check_eager catches the difference and blames tracing, not a pass.
TEST(CheckEager, FindsAValueFrozenIntoTheTrace) {
  float scale = 2.f;
  auto f = function([&](const Tensor& x) { return x * scale; }, {.name = "frozen", .check_eager = true});
  EXPECT_EQ(f(ones({3})).to_vector<float>(), (std::vector<float>{2.f, 2.f, 2.f}));
  scale = 5.f;
  try {
    f(ones({3}));
    FAIL();
  } catch (const EagerMismatchError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("compiled 2, eager 5"), std::string::npos) << m;
    EXPECT_NE(m.find("tracing itself"), std::string::npos) << m;
    EXPECT_NE(m.find("Mul"), std::string::npos) << m;
  }
}

TEST(CheckEager, ComparesVariablesAndRandomDraws) {
  Variable v(zeros({2}), {.name = "acc"});
  float step = 1.f;
  auto f = function(
      [&](const Tensor& x) {
        v.assign_add(x * step);  // the variable differs after the call, while the output does not
        return random::uniform({3});
      },
      {.name = "stateful", .check_eager = true});
  random::set_seed(4);
  Tensor r1 = f(ones({2}));
  EXPECT_EQ(v.value().to_vector<float>(), (std::vector<float>{1.f, 1.f}));  // once, not twice
  random::set_seed(4);
  EXPECT_EQ(random::uniform({3}).to_vector<float>(), r1.to_vector<float>());  // the compiled draw, replayed eagerly
  step = 3.f;
  try {
    f(ones({2}));
    FAIL();
  } catch (const EagerMismatchError& e) {
    EXPECT_NE(std::string(e.what()).find("variable 'acc'"), std::string::npos) << e.what();
  }
}

TEST(CheckEager, WarnOnlyKeepsTheCompiledResult) {
  std::vector<std::string> warnings;
  config::set_log_handler([&](config::LogLevel l, const std::string& m) {
    if (l == config::LogLevel::Warning) warnings.push_back(m);
  });
  auto f = function([](const Tensor& x) { return broken_neg(x) * 2.f; },
                    {.passes = {.fusion_min_elements = 1}, .check_eager = true, .check_eager_warn_only = true});
  Tensor y = f(ones({2}) + 0.f);
  config::set_log_handler(nullptr);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("differs"), std::string::npos);
}

}  // namespace
}  // namespace duet
