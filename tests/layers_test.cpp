// The layer catalogue, graph breaks inside fit, dynamic layers and frozen layers.
#include "test_util.h"

namespace duet {
namespace {

using testing::expect_close;
using testing::to_arr;

TEST(Layers, SmallCnnShapesAndParams) {
  Sequential model(Input({28, 28, 1}),
                   {layers::Conv2D(8, {5, 5}, {.padding = "same", .activation = "relu"}), layers::MaxPooling2D(),
                    layers::Conv2D(16, {3, 3}), layers::AveragePooling2D({.pool_size = {2, 2}}),
                    layers::GlobalAveragePooling2D(), layers::Dense(10)});
  EXPECT_EQ(model.count_params(), (5 * 5 * 1 * 8 + 8) + (3 * 3 * 8 * 16 + 16) + (16 * 10 + 10));
  std::string s = model.summary_string();
  EXPECT_NE(s.find("(None, 28, 28, 8)"), std::string::npos) << s;
  EXPECT_NE(s.find("(None, 14, 14, 8)"), std::string::npos) << s;
  EXPECT_NE(s.find("(None, 12, 12, 16)"), std::string::npos) << s;
  EXPECT_NE(s.find("(None, 6, 6, 16)"), std::string::npos) << s;
  EXPECT_NE(s.find("(None, 16)"), std::string::npos) << s;
  EXPECT_EQ(model(ones({2, 28, 28, 1})).shape(), (Shape{2, 10}));
}

TEST(Layers, CnnLearnsAToyTask) {
  // Images whose left half is brighter than the right are class 1.
  Tensor x = random::uniform(Shape{256, 8, 8, 1}, 0, 1, DType::Float32, 2);
  Tensor diff =
      sum(slice(x, {0, 0, 0, 0}, {-1, -1, 4, -1}), {1, 2, 3}) - sum(slice(x, {0, 0, 4, 0}, {-1, -1, 4, -1}), {1, 2, 3});
  Tensor y = cast(diff > 0.f, DType::Int32);
  Sequential model(
      {layers::Conv2D(4, {3, 3}, {.padding = "same", .activation = "relu"}), layers::Flatten(), layers::Dense(2)});
  model.compile({.optimizer = optimizers::Adam(0.01),
                 .loss = losses::SparseCategoricalCrossentropy(true),
                 .metrics = {"accuracy"}});
  auto h = model.fit(x, y, {.epochs = 15, .batch_size = 32, .verbose = 0});
  EXPECT_GT(h.history["accuracy"].back(), 0.9);
}

TEST(Layers, BatchNormalizationTrainingAndInference) {
  auto bn = layers::BatchNormalization({.momentum = 0.5});
  Tensor x = random::normal(Shape{64, 3}, 5, 2, DType::Float32, 4);
  Tensor y = bn(x, true);
  auto m = mean(y, {0}).to_vector<float>();
  for (float v : m) EXPECT_NEAR(v, 0.f, 1e-4f);
  auto w = bn->weights();
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(bn->trainable_weights().size(), 2u);
  // moving_mean = 0.5 * 0 + 0.5 * batch_mean
  expect_close(to_arr(w[2].value()), to_arr(mean(x, {0}) * 0.5f), 1e-5, 1e-5, "moving_mean");
  Tensor inf = bn(x, false);  // uses the moving statistics
  expect_close(to_arr(inf), to_arr((x - w[2].value()) * rsqrt(w[3].value() + 1e-3f)), 1e-5, 1e-5, "inference");
  auto traced = function([&](const Tensor& t) { return bn(t, true); });
  traced(x);
  traced(x);  // moving statistics update on every replay
  EXPECT_GT(w[2].value().to_vector<float>()[0], 4.f);
}

TEST(Layers, MergeLayers) {
  Tensor a = Input({3}), b = Input({3});
  Tensor cat = layers::Concatenate()({a, b})[0];
  Tensor add = layers::Add()({a, b})[0];
  Tensor mul = layers::Multiply()({a, b})[0];
  Model m({a, b}, {cat, add, mul});
  auto out = m({constant({{1.f, 2.f, 3.f}}), constant({{4.f, 5.f, 6.f}})});
  EXPECT_EQ(out[0].shape(), (Shape{1, 6}));
  EXPECT_EQ(out[1].to_vector<float>(), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(out[2].to_vector<float>(), (std::vector<float>{4, 10, 18}));
  EXPECT_THROW(layers::Add()({ones({1, 3}), ones({1, 4})}), ShapeError);
}

TEST(Layers, EmbeddingLooksUpAndLearns) {
  auto emb = layers::Embedding(10, 4);
  Tensor ids = constant({{1, 2}, {3, 1}});
  Tensor v = emb(ids);
  EXPECT_EQ(v.shape(), (Shape{2, 2, 4}));
  expect_close(to_arr(slice(v, {0, 0, 0}, {1, 1, 4})), to_arr(slice(v, {1, 1, 0}, {1, 1, 4})), 0, 0,
               "same id, same vector");
  Sequential model({emb, layers::Flatten(), layers::Dense(1)});
  model.compile({.optimizer = optimizers::SGD(0.1), .loss = "mse"});
  Tensor before = emb->weights()[0].value();
  model.fit(ids, ones({2, 1}), {.epochs = 1, .verbose = 0});
  Tensor after = emb->weights()[0].value();
  EXPECT_NE(before.to_vector<float>()[4], after.to_vector<float>()[4]);    // row 1 was used
  EXPECT_EQ(before.to_vector<float>()[36], after.to_vector<float>()[36]);  // row 9 was not
}

TEST(Layers, LstmMatchesAManualCellAndReturnsSequences) {
  auto lstm = layers::LSTM(3);
  Tensor x = random::normal(Shape{2, 1, 4}, 0, 1, DType::Float32, 6);
  Tensor h = lstm(x);
  auto w = lstm->weights();
  Tensor z = matmul(reshape(x, {2, 4}), w[0].value()) + w[2].value();
  auto g = split(z, 4, 1);
  Tensor c = sigmoid(g[0]) * tanh(g[2]);
  expect_close(to_arr(h), to_arr(sigmoid(g[3]) * tanh(c)), 1e-6, 1e-6, "one step");
  EXPECT_EQ(layers::LSTM(5, {.return_sequences = true})(random::normal(Shape{2, 7, 4})).shape(), (Shape{2, 7, 5}));
  Tensor seq_in = Input({6, 4});
  EXPECT_EQ(layers::LSTM(8)(seq_in).shape(), (Shape{Shape::kUnknown, 8}));
}

TEST(Layers, DropoutOnlyWhenTraining) {
  auto d = layers::Dropout(0.5, {.seed = 1});
  Tensor x = ones({1000});
  EXPECT_EQ(d(x, false).to_vector<float>(), x.to_vector<float>());
  auto t = d(x, true).to_vector<float>();
  EXPECT_GT(std::count(t.begin(), t.end(), 0.f), 400);
}

TEST(Layers, LambdaOutputShapeIsChecked) {
  auto l = layers::Lambda(
      [](const Tensor& t) {
        return concat({t, t}, 1);
      },
      {.name = "dup", .output_shape = std::vector<std::int64_t>{3}});
  EXPECT_THROW(l(ones({2, 3})), ShapeError);
  EXPECT_EQ(layers::Lambda([](const Tensor& t) { return t * 2.f; },
                           {.name = "", .output_shape = std::vector<std::int64_t>{3}})(ones({2, 3}))
                .shape(),
            (Shape{2, 3}));
}

// A value-reading Lambda between two Dense layers: fit compiles the model with one host step, and both
// Dense layers learn (gradients flow through the host step).
TEST(GraphBreak, HostStepInsideFitKeepsGradientsFlowing) {
  std::vector<std::string> warnings;
  config::set_log_handler([&](config::LogLevel l, const std::string& m) {
    if (l == config::LogLevel::Warning) warnings.push_back(m);
  });
  auto first = layers::Dense(4, {.name = "first"});
  auto reader = layers::Lambda(
      [](const Tensor& t) {
        auto v = t.to_vector<float>();  // a value read: not traceable
        float scale = v.empty() ? 1.f : 1.f;
        return t * scale;
      },
      {.name = "reader"});
  auto last = layers::Dense(1, {.name = "last"});
  Sequential model({first, reader, last});
  model.compile({.optimizer = optimizers::SGD(0.05), .loss = "mse"});
  Tensor x = random::normal(Shape{64, 3}, 0, 1, DType::Float32, 8);
  Tensor y = sum(x, {1}, true);
  model.fit(x, y, {.epochs = 1, .batch_size = 64, .verbose = 0});  // builds the weights
  Tensor w_first = first->weights()[0].value(), w_last = last->weights()[0].value();
  auto h = model.fit(x, y, {.epochs = 30, .batch_size = 64, .verbose = 0});
  config::set_log_handler(nullptr);
  EXPECT_LT(h.history["loss"].back(), h.history["loss"].front());
  EXPECT_NE(first->weights()[0].value().to_vector<float>(), w_first.to_vector<float>());
  EXPECT_NE(last->weights()[0].value().to_vector<float>(), w_last.to_vector<float>());
  EXPECT_TRUE(reader->runs_as_host_step());
  EXPECT_FALSE(first->runs_as_host_step());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("'reader'"), std::string::npos);
  EXPECT_NE(model.summary_string().find("reader (Lambda) [host step]"), std::string::npos) << model.summary_string();
}

TEST(GraphBreak, DynamicLayerRunsAsHostStep) {
  config::set_log_handler([](config::LogLevel, const std::string&) {});
  auto d = layers::Dense(2);
  d->set_dynamic(true);
  auto f = function([&](const Tensor& x) { return d(x); });
  Tensor x = ones({3, 4});
  expect_close(to_arr(f(x)), to_arr(d(x)), 1e-6, 1e-6, "dynamic");
  EXPECT_TRUE(d->runs_as_host_step());
  config::set_log_handler(nullptr);
}

// A layer that declares its output shape is recorded without tracing call() (so a value-reading call()
// still builds into a functional model), and its host step needs no probe run.
class Doubler : public Layer {
 public:
  Doubler() : Layer("Doubler") {}
  std::optional<std::vector<Shape>> compute_output_shape(const std::vector<Shape>& in) override {
    Shape s = in[0];
    s[s.rank() - 1] *= 2;
    return std::vector<Shape>{s};
  }
  Tensor call(const Tensor& x, bool) override {
    ++calls;
    auto v = x.to_vector<float>();  // value read
    std::vector<float> out;
    for (float e : v) out.insert(out.end(), {e, e});
    return constant(out, Shape{x.shape()[0], 2 * x.shape()[1]});
  }
  int calls = 0;
};

TEST(Layers, ComputeOutputShapeSkipsTracing) {
  config::set_log_handler([](config::LogLevel, const std::string&) {});
  auto d = make_layer<Doubler>();
  Tensor in = Input({3});
  Tensor out = d(in);
  EXPECT_EQ(out.shape(), (Shape{Shape::kUnknown, 6}));
  EXPECT_EQ(d->calls, 0);
  Model m(in, layers::Dense(1)(out));
  m.compile({.optimizer = "sgd", .loss = "mse"});
  m.fit(ones({4, 3}), zeros({4, 1}), {.epochs = 1, .verbose = 0});
  EXPECT_TRUE(d->runs_as_host_step());
  config::set_log_handler(nullptr);
}

TEST(Trainable, FrozenLayerIsNotUpdated) {
  auto frozen = layers::Dense(3);
  Sequential model(Input({2}), {frozen, layers::Dense(1)});
  frozen->set_trainable(false);
  model.compile({.optimizer = "sgd", .loss = "mse"});
  Tensor before = frozen->weights()[0].value();
  model.fit(ones({8, 2}), zeros({8, 1}), {.epochs = 3, .verbose = 0});
  EXPECT_EQ(frozen->weights()[0].value().to_vector<float>(), before.to_vector<float>());
  EXPECT_NE(model.summary_string().find("Non-trainable params: 9"), std::string::npos) << model.summary_string();
}

TEST(Optimizers, EachReducesALoss) {
  for (auto opt :
       {optimizers::SGD(0.1, 0.9, true), optimizers::Adam(0.05), optimizers::AdamW(0.05), optimizers::RMSprop(0.1)}) {
    Variable w(constant({5.f, -3.f}));
    auto step = function([&]() {
      GradientTape tape;
      Tensor loss = sum(square(w.value()));
      opt->apply_gradients({w}, {tape.gradient(loss, w)});
      return loss;
    });
    float first = step().item<float>(), last = first;
    for (int i = 0; i < 100; ++i) last = step().item<float>();
    EXPECT_LT(last, first * 0.05f) << opt->name();
    EXPECT_EQ(opt->iterations().value().item<std::int64_t>(), 101) << opt->name();
  }
}

}  // namespace
}  // namespace duet

namespace duet {
namespace {

// A layer that updates state and then reads a value: traced, the partial trace (with its assign_add)
// is rolled back when call() hits the value read, and the probe run that finds the host step's output
// shape leaves the state as it was. So each call of the compiled function counts exactly once.
class CountingReader : public Layer {
 public:
  CountingReader() : Layer("CountingReader") {}
  void build(const std::vector<Shape>&) override {
    count = add_weight("count", Shape{}, {.initializer = "zeros", .trainable = false});
  }
  Tensor call(const Tensor& x, bool) override {
    count.assign_add(scalar(1.f));
    return sum(x).item<float>() > 0 ? x : -x;  // value read: a graph break
  }
  Variable count;
};

TEST(GraphBreak, StateChangedBeforeTheValueReadHappensOncePerCall) {
  config::set_log_handler([](config::LogLevel, const std::string&) {});
  auto layer = make_layer<CountingReader>();
  auto f = function([&](const Tensor& x) { return (*layer)(x)*2.f; }, {.name = "counting"});
  Tensor x = constant({1.f, -3.f});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f(x).to_vector<float>(), (std::vector<float>{-2.f, 6.f}));
  EXPECT_TRUE(layer->runs_as_host_step());
  EXPECT_EQ(layer->count.value().item<float>(), 3.f) << f.graph_text();
  config::set_log_handler(nullptr);
}

}  // namespace
}  // namespace duet

namespace duet {
namespace {

using testing::expect_error;

double stddev_of(const Tensor& t) {
  auto v = t.to_vector<float>();
  double m = 0, s = 0;
  for (float x : v) m += x;
  m /= static_cast<double>(v.size());
  for (float x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}

// Keras's initializers with their arguments: the distribution each asks for, seeds that repeat, orthogonal and
// identity matrices, Keras's class-name spellings, errors that name the argument, and the arguments kept
// through a layer's config (what model.save writes).
TEST(Initializers, KerasArgumentsSeedsOrthogonalAndConfigs) {
  const Shape big{300, 400};
  EXPECT_NEAR(stddev_of(initializers::make("random_normal", {{"stddev", 0.02}}).fn(big, DType::Float32)), 0.02, 0.001);
  EXPECT_NEAR(stddev_of(initializers::make("truncated_normal", {{"stddev", 1.0}}).fn(big, DType::Float32)), 0.8796,
              0.01);  // a normal cut at 2 standard deviations
  auto u = initializers::make("random_uniform", {{"minval", 2.0}, {"maxval", 3}}).fn(big, DType::Float32);
  auto uv = u.to_vector<float>();
  EXPECT_GE(*std::min_element(uv.begin(), uv.end()), 2.f);
  EXPECT_LT(*std::max_element(uv.begin(), uv.end()), 3.f);
  // variance_scaling, uniform, fan_in 300, scale 2: the he_uniform limit sqrt(6 / 300).
  auto vs = initializers::make("variance_scaling", {{"scale", 2.0}, {"distribution", std::string("uniform")}})
                .fn(big, DType::Float32)
                .to_vector<float>();
  EXPECT_NEAR(*std::max_element(vs.begin(), vs.end()), std::sqrt(6.0 / 300), 1e-3);
  // A seed draws the same values on every call; another seed others.
  auto seeded = initializers::make("glorot_uniform", {{"seed", std::int64_t{7}}});
  EXPECT_EQ(seeded.fn({4, 5}, DType::Float32).to_vector<float>(), seeded.fn({4, 5}, DType::Float32).to_vector<float>());
  EXPECT_NE(
      seeded.fn({4, 5}, DType::Float32).to_vector<float>(),
      initializers::make("glorot_uniform", {{"seed", std::int64_t{8}}}).fn({4, 5}, DType::Float32).to_vector<float>());
  // orthogonal: orthonormal columns (rows >= cols) or rows (rows < cols), times the gain.
  for (const Shape& s : {Shape{6, 4}, Shape{4, 6}, Shape{3, 2, 5}}) {
    Tensor q = initializers::make("orthogonal", {{"gain", 2.0}}).fn(s, DType::Float64);
    Tensor m = reshape(q, {-1, s[s.rank() - 1]});
    const bool tall = m.shape()[0] >= m.shape()[1];
    Tensor g = tall ? matmul(m, m, true, false) : matmul(m, m, false, true);
    expect_close(to_arr(g), to_arr(eye(g.shape()[0], -1, DType::Float64) * 4.0), 0, 1e-9, "orthogonal");
  }
  expect_close(to_arr(initializers::make("identity", {{"gain", 3}}).fn({2, 3}, DType::Float32)),
               to_arr(constant({{3.f, 0.f, 0.f}, {0.f, 3.f, 0.f}})), 0, 0, "identity");
  EXPECT_EQ(Initializer("GlorotUniform").name, "glorot_uniform");  // Keras's class names are its names too
  EXPECT_EQ(Initializer("normal").name, "random_normal");
  expect_error<ValueError>(
      [] {
        (void)initializers::make("random_normal", {{"stdev", 0.1}});
      },
      {"random_normal", "stdev", "mean, stddev, seed"});
  expect_error<ValueError>(
      [] {
        (void)initializers::make("variance_scaling", {{"mode", std::string("fan_up")}});
      },
      {"fan_in, fan_out or fan_avg"});
  expect_error<ValueError>([] { (void)Initializer("xavier"); }, {"unknown initializer 'xavier'", "glorot_uniform"});
  expect_error<ShapeError>([] { (void)initializers::make("orthogonal", {}).fn({5}, DType::Float32); }, {"rank >= 2"});

  // Through a layer's config: the arguments come back, and so do the weights they draw (seeded).
  auto dense = layers::Dense(
      8, {.kernel_initializer = initializers::make("random_normal", {{"stddev", 0.5}, {"seed", std::int64_t{3}}})});
  Tensor x = ones({2, 4});
  Tensor y = (*dense)(x);
  LayerConfig c = *dense->get_config();
  EXPECT_EQ(c.get_string("kernel_initializer"), "random_normal");
  EXPECT_EQ(c.get_double("kernel_initializer_stddev"), 0.5);
  EXPECT_EQ(c.get_int("kernel_initializer_seed"), 3);
  LayerRef again = layer_from_config("Dense", c);
  expect_close(to_arr((*again)(x)), to_arr(y), 0, 0, "Dense from its config");
}

}  // namespace
}  // namespace duet
