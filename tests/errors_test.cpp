// Bad input gets a duet::Error subclass whose message names the op and the shapes (never a crash).
#include "duet/gradient_ops.h"
#include "test_util.h"

namespace duet {
namespace {

using testing::expect_error;

TEST(Errors, BroadcastMismatchNamesOpAndShapes) {
  expect_error<ShapeError>([] { add(ones({2, 3}), ones({4})); }, {"[add]", "(2, 3)", "(4,)", "cannot be broadcast"});
  expect_error<ShapeError>([] { ones({2, 3}) * ones({3, 2}); }, {"[mul]", "(2, 3)", "(3, 2)"});
}

TEST(Errors, BadAxis) {
  expect_error<ValueError>([] { sum(ones({2, 3}), {2}); }, {"[sum]", "axis 2", "rank 2"});
  expect_error<ValueError>([] { argmax(ones({2, 3}), -3); }, {"[argmax]", "axis -3", "(2, 3)"});
  expect_error<ValueError>([] { expand_dims(ones({2}), 5); }, {"[expand_dims]", "axis 5"});
  expect_error<ShapeError>([] { squeeze(ones({2, 3}), {0}); }, {"[squeeze]", "(2, 3)"});
}

TEST(Errors, DTypeMismatch) {
  expect_error<DTypeError>([] { logical_and(ones({2}), ones({2})); }, {"[logical_and]", "bool", "float32"});
  expect_error<DTypeError>([] { exp(constant({1, 2})); }, {"[exp]", "int32", "cast"});
  expect_error<DTypeError>([] { where(constant({1.f}), ones({1}), ones({1})); }, {"[where]", "bool"});
  expect_error<DTypeError>([] { add(constant({true}), constant({false})); }, {"[add]", "bool"});
  // A pool gradient's output and grad in another dtype than its input were read as the input's dtype.
  expect_error<DTypeError>(
      [] {
        Tensor x = ones({1, 4, 4, 2});
        Tensor y = cast(max_pool2d(x), DType::Float64);
        (void)max_pool2d_grad(x, y, y);
      },
      {"[max_pool2d_grad]", "float32", "float64", "cast"});
  // The gradient ops of sigmoid and tanh take float dtypes only.
  expect_error<DTypeError>([] { (void)sigmoid_grad(constant({1, 2}), constant({1, 2})); }, {"[sigmoid_grad]", "int32"});
}

TEST(Errors, ReshapeSizeMismatch) {
  expect_error<ShapeError>([] { reshape(ones({2, 3}), {4, 2}); }, {"[reshape]", "(2, 3)", "6 elements", "(4, 2)"});
  expect_error<ShapeError>([] { reshape(ones({2, 3}), {4, -1}); }, {"[reshape]", "not divisible"});
  expect_error<ShapeError>([] { reshape(ones({2, 3}), {-1, -1}); }, {"[reshape]", "only one"});
}

TEST(Errors, ItemOfNonScalar) {
  expect_error<ValueError>([] { ones({2, 2}).item<float>(); }, {"[item]", "(2, 2)"});
}

TEST(Errors, ShapeOps) {
  expect_error<ShapeError>([] { concat({ones({2, 3}), ones({3, 3})}, 1); }, {"[concat]", "(2, 3)", "(3, 3)"});
  expect_error<ShapeError>([] { transpose(ones({2, 3}), {0, 0}); }, {"[transpose]", "perm"});
  expect_error<ShapeError>([] { slice(ones({4}), {2}, {3}); }, {"[slice]", "out of bounds", "(4,)"});
  expect_error<ValueError>([] { gather(ones({3, 2}), constant({3})); }, {"[gather]", "index 3", "(3, 2)"});
  expect_error<DTypeError>([] { gather(ones({3, 2}), constant({1.f})); }, {"[gather]", "int32 or int64"});
  expect_error<ShapeError>([] { broadcast_to(ones({3}), Shape{2, 4}); }, {"[broadcast_to]", "(3,)", "(2, 4)"});
  expect_error<ShapeError>([] { split(ones({5}), 2, 0); }, {"[split]", "(5,)"});
  expect_error<ValueError>([] { max(zeros({0, 2}), {0}); }, {"[max]", "size 0"});
}

TEST(Errors, IntegerDivisionByZeroIsAnErrorNotACrash) {
  expect_error<ValueError>([] { constant({1, 2}) / constant({1, 0}); }, {"[div]", "division by zero"});
  expect_error<ValueError>([] { pow(constant({2}), constant({-1})); }, {"[pow]", "negative"});
  // Compiled with fusion on every size: the division is left out of the integer group, so the message
  // names the divisor's own shape, not a block of the group (it once said (8192,)).
  auto f = function([](const Tensor& a) { return (a / a) * 2 + 1; }, {.passes = {.fusion_min_elements = 1}});
  try {
    f(zeros({1 << 20}, DType::Int32));
    ADD_FAILURE() << "no error";
  } catch (const ValueError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("[div] integer division by zero (divisor of shape (1048576,))"), std::string::npos) << m;
    EXPECT_EQ(m.find("8192"), std::string::npos) << m;
  }
  // Float division still fuses with its neighbours.
  auto g = function([](const Tensor& a) { return (a / (a + 1)) * 2 + 1; }, {.passes = {.fusion_min_elements = 1}});
  g(ones({8}));
  EXPECT_NE(g.graph_text().find("FusedElementwise"), std::string::npos) << g.graph_text();
}

// Strides, dilations and windows are checked before a kernel sees them (a 2^62 dilation reached oneDNN
// and ended in its "could not create a descriptor").
TEST(Errors, HugeStridesDilationsAndWindowsAreRefusedByName) {
  const std::int64_t huge = std::int64_t{1} << 62;
  expect_error<ValueError>(
      [&] {
        conv2d(ones({1, 4, 4, 1}), ones({3, 3, 1, 1}), {.padding = "same", .dilation_rate = {huge, 1}});
      },
      {"[conv2d]", "dilated kernel 3x3", "2^31 - 1", "dilation_rate"});
  expect_error<ValueError>(
      [&] {
        conv2d(ones({1, 4, 4, 1}), ones({3, 3, 1, 1}), {.strides = {1, huge}, .padding = "same"});
      },
      {"[conv2d]", "strides", "2^31 - 1"});
  expect_error<ValueError>(
      [&] {
        max_pool2d(ones({1, 4, 4, 1}), {.pool_size = {huge, 2}, .padding = "same"});
      },
      {"[max_pool2d]", "window", "pool_size"});
  expect_error<ValueError>(
      [&] {
        avg_pool2d(ones({1, 4, 4, 1}), {.pool_size = {2, 2}, .strides = {huge, 1}});
      },
      {"[avg_pool2d]", "strides"});
  // The layer says the same (the options reach the op unchanged).
  auto conv = layers::Conv2D(2, {3, 3}, {.padding = "same", .dilation_rate = {huge, 1}});
  expect_error<ValueError>([&] { conv(ones({1, 4, 4, 1})); }, {"[conv2d]", "dilation_rate"});
  // Large but sound: a dilation wider than the input with "same" padding is fine (the taps read padding).
  EXPECT_EQ(conv2d(ones({1, 4, 4, 1}), ones({3, 3, 1, 1}), {.padding = "same", .dilation_rate = {1000, 1}}).shape(),
            (Shape{1, 4, 4, 1}));
}

TEST(Errors, UndefinedInputs) {
  Tensor t;
  expect_error<ValueError>([&] { add(t, ones({1})); }, {"[add]", "undefined"});
  expect_error<StateError>(
      [&] {
        Variable v;
        v.value();
      },
      {"[Variable]", "empty"});
}

TEST(Errors, RandomArguments) {
  expect_error<ValueError>([] { random::uniform(Shape{2}, 1.0, 1.0); }, {"[random::uniform]", "minval < maxval"});
  expect_error<DTypeError>([] { random::normal(Shape{2}, 0, 1, DType::Int32); }, {"[random::normal]", "float32"});
}

}  // namespace
}  // namespace duet

namespace duet {
namespace {

TEST(Errors, MatMulShapes) {
  expect_error<ShapeError>(
      [] {
        matmul(ones({2, 3}), ones({4, 5}));
      },
      {"[matmul]", "inner dimensions differ", "(2, 3)", "(4, 5)"});
  // seed 002 example 1: a (units,) weight is a rank error, named with both shapes
  expect_error<ShapeError>([] { matmul(ones({8, 10}), ones({10})); }, {"[matmul]", "rank >= 2", "(8, 10)", "(10,)"});
  expect_error<DTypeError>(
      [] {
        matmul(constant({{true, false}}), constant({{true}, {false}}));
      },
      {"[matmul]", "numeric", "bool"});
  expect_error<ShapeError>([] { matmul(ones({2, 2, 3}), ones({3, 3, 4})); }, {"[matmul]", "cannot be broadcast"});
}

TEST(Errors, ConvAndPool) {
  Tensor img = ones({1, 8, 8, 3});
  expect_error<ShapeError>(
      [&] {
        conv2d(img, ones({3, 3, 4, 2}));
      },
      {"[conv2d]", "3 channels", "expect 4", "(1, 8, 8, 3)", "(3, 3, 4, 2)"});
  expect_error<ShapeError>([&] { conv2d(img, ones({9, 9, 3, 2})); }, {"[conv2d]", "larger than the input", "valid"});
  expect_error<ShapeError>([&] { conv2d(ones({8, 8, 3}), ones({3, 3, 3, 2})); }, {"[conv2d]", "rank 4", "NHWC"});
  expect_error<ValueError>([&] { conv2d(img, ones({3, 3, 3, 2}), {.strides = {0, 1}}); }, {"[conv2d]", "strides"});
  expect_error<ValueError>([&] { conv2d(img, ones({3, 3, 3, 2}), {.strides = {-1, 1}}); }, {"[conv2d]", "strides"});
  expect_error<ValueError>(
      [&] {
        conv2d(img, ones({3, 3, 3, 2}), {.padding = "full"});
      },
      {"[conv2d]", "padding", "full"});
  expect_error<ShapeError>([&] { max_pool2d(img, {.pool_size = {9, 9}}); }, {"[max_pool2d]", "larger than the input"});
  expect_error<ValueError>([&] { avg_pool2d(img, {.pool_size = {0, 2}}); }, {"[avg_pool2d]", "pool_size"});
  EXPECT_EQ(conv2d(img, ones({9, 9, 3, 2}), {.padding = "same"}).shape(), (Shape{1, 8, 8, 2}));  // same pads instead
}

TEST(Errors, ApplyAdamChecksSlotsGradientAndHyperparameters) {
  Variable w(ones({2, 3}), {.name = "w"}), m(zeros({2, 3}), {.name = "m"}), bad(zeros({3}), {.name = "bad_slot"});
  Tensor lr = scalar(0.1f);
  expect_error<ValueError>(
      [&] {
        apply_adam(w, bad, Variable(zeros({2, 3})), ones({2, 3}), lr, 0.9, 0.999, 1e-7);
      },
      {"[apply_adam]", "bad_slot", "(3,)", "'w'", "(2, 3)"});
  Variable v(zeros({2, 3}), {.name = "v"});
  expect_error<ShapeError>(
      [&] {
        apply_adam(w, m, v, ones({3, 2}), lr, 0.9, 0.999, 1e-7);
      },
      {"[apply_adam]", "gradient", "(3, 2)", "(2, 3)"});
  expect_error<ShapeError>(
      [&] {
        apply_adam(w, m, v, ones({2, 3}), ones({2}), 0.9, 0.999, 1e-7);
      },
      {"[apply_adam]", "lr_t", "scalar"});
  expect_error<ValueError>(
      [&] {
        apply_adam(w, m, v, ones({2, 3}), lr, 1.5, 0.999, 1e-7);
      },
      {"[apply_adam]", "beta_1=1.5"});
  expect_error<ValueError>(
      [&] {
        apply_adam(w, m, m, ones({2, 3}), lr, 0.9, 0.999, 1e-7);
      },
      {"[apply_adam]", "three different variables"});
  EXPECT_EQ(w.value().to_vector<float>(), std::vector<float>(6, 1.f));  // nothing was applied
}

TEST(Errors, Losses) {
  expect_error<ValueError>(
      [] {
        sparse_softmax_cross_entropy_with_logits(constant({0, 3}), ones({2, 3}));
      },
      {"[sparse_softmax_cross_entropy_with_logits]", "label 3", "(2, 3)"});
  expect_error<DTypeError>(
      [] {
        sparse_softmax_cross_entropy_with_logits(ones({2}), ones({2, 3}));
      },
      {"labels must be int32 or int64", "softmax_cross_entropy_with_logits"});
  expect_error<ShapeError>(
      [] {
        sparse_softmax_cross_entropy_with_logits(constant({0, 1, 2}), ones({2, 3}));
      },
      {"(3,)", "(2, 3)"});
  expect_error<ShapeError>([] { softmax_cross_entropy_with_logits(ones({2, 4}), ones({2, 3})); }, {"(2, 4)", "(2, 3)"});
  expect_error<ValueError>([] { dropout(ones({3}), 1.0); }, {"[dropout]", "rate"});
  expect_error<ShapeError>([] { bias_add(ones({2, 3}), ones({4})); }, {"[bias_add]", "(2, 3)", "(4,)"});
}

}  // namespace
}  // namespace duet

namespace duet {
namespace {

// fused_batch_norm has a first derivative only: a second one through it is refused, not silently partial.
TEST(Errors, SecondDerivativeThroughBatchNormIsRefused) {
  Tensor x = random::normal({6, 3}, 0, 1, DType::Float32, 1);
  Tensor g = ones({3}), b = zeros({3});
  GradientTape outer;
  outer.watch(x);
  Tensor dx;
  {
    GradientTape inner;
    inner.watch(x);
    Tensor y = fused_batch_norm(x * x, g, b)[0];
    dx = inner.gradient(sum(y * y), x);
  }
  try {
    (void)outer.gradient(sum(dx), x);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("second derivative through batch normalization"), std::string::npos)
        << e.what();
  }
}

// duet::distributed in a process started without an MPI launcher: rank 0 of 1, collectives are the identity,
// bad arguments get the same errors as on N ranks, and data-parallel fit trains as usual.
TEST(Errors, CollectivesWithoutALauncher) {
  EXPECT_EQ(distributed::rank(), 0);
  EXPECT_EQ(distributed::size(), 1);
  EXPECT_TRUE(distributed::is_chief());
  Tensor x = constant(std::vector<float>{1, -2}, Shape{2});
  EXPECT_EQ(distributed::allreduce(x, distributed::ReduceOp::Mean).to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(distributed::broadcast(x, 0).to_vector<float>(), x.to_vector<float>());
  distributed::barrier();
  expect_error<ValueError>([&] { (void)distributed::broadcast(x, 1); }, {"distributed::broadcast", "root 1", "0..0"});
  expect_error<DTypeError>([] { (void)distributed::allreduce(zeros({2}, DType::Int64), distributed::ReduceOp::Mean); },
                           {"distributed::allreduce", "int64", "cast"});
  expect_error<DTypeError>([] { (void)distributed::allreduce(zeros({2}, DType::Bool)); }, {"bool", "max"});
  expect_error<ValueError>([] { (void)distributed::allreduce(zeros({2}), static_cast<distributed::ReduceOp>(9)); },
                           {"ReduceOp 9"});
  expect_error<ValueError>([] { distributed::set_timeout(-1); }, {"set_timeout", "positive"});
  Sequential m(Input({3}), {layers::Dense(2)});
  expect_error<ValueError>(
      [&] {
        m.compile({.optimizer = "sgd", .loss = "mse", .distribute = distributed::DataParallel{.bucket_bytes = 0}});
      },
      {"bucket_bytes", "positive"});
  m.compile({.optimizer = "sgd", .loss = "mse", .distribute = distributed::DataParallel{}});
  History h = m.fit(random::normal({10, 3}), random::normal({10, 2}), {.epochs = 2, .batch_size = 4, .verbose = 0});
  EXPECT_EQ(h.epochs_run, 2);
  EXPECT_EQ(distributed::stats().calls, 0);  // one process: nothing was sent
}

}  // namespace
}  // namespace duet
