// Layers and models, including the seed articles' examples (with seeds/README.md's corrections).
#include <sstream>

#include "core/allocator.h"
#include "test_util.h"

namespace duet {
namespace {

struct Warnings {
  std::vector<std::string> seen;
  Warnings() {
    config::set_log_handler([this](config::LogLevel l, const std::string& m) {
      if (l == config::LogLevel::Warning) seen.push_back(m);
    });
  }
  ~Warnings() { config::set_log_handler(nullptr); }
};

// seed 004 example 1: a Dense layer on a symbolic Input records; the model computes on concrete data.
TEST(Seed004, DenseOnInputIsSymbolicThenModelComputes) {
  Tensor input = Input({5});
  auto dense = layers::Dense(10);
  Tensor output = dense(input);
  EXPECT_EQ(input.shape(), (Shape{Shape::kUnknown, 5}));
  EXPECT_TRUE(output.is_symbolic());
  EXPECT_EQ(output.str().rfind("SymbolicTensor(shape=(None, 10), dtype=float32", 0), 0u) << output.str();
  Model model(input, output);
  Tensor result = model(random::normal(Shape{1, 5}));
  EXPECT_FALSE(result.is_symbolic());
  EXPECT_EQ(result.shape(), (Shape{1, 10}));
}

// seed 004 example 2: a subclassed model called on an Input gives (None, 10); on data it computes (1, 10).
class MyModel : public SubclassedModel {
 public:
  MyModel() : SubclassedModel("my_model") {}
  Tensor call(const Tensor& x, bool) override { return dense2(dense1(x)); }
  LayerRef dense1 = layers::Dense(32, "relu");
  LayerRef dense2 = layers::Dense(10);
};

TEST(Seed004, SubclassedModelSymbolicThenConcrete) {
  auto model = make_layer<MyModel>();
  Tensor sym = model(Input({100}));
  EXPECT_EQ(sym.shape(), (Shape{Shape::kUnknown, 10}));
  Tensor result = model(random::normal(Shape{1, 100}));
  EXPECT_EQ(result.shape(), (Shape{1, 10}));
  EXPECT_EQ(model->weights().size(), 4u);  // sublayers were tracked automatically
  EXPECT_EQ(model->count_params(), 100 * 32 + 32 + 32 * 10 + 10);
}

// seed 004 example 3 (corrected): run_functions_eagerly does not make a layer on concrete input symbolic.
TEST(Seed004, LayerOnConcreteInputAlwaysComputes) {
  auto dense = layers::Dense(10);
  Tensor x = random::normal(Shape{1, 5});
  config::run_functions_eagerly(true);
  EXPECT_FALSE(dense(x).is_symbolic());
  config::run_functions_eagerly(false);
  EXPECT_FALSE(dense(x).is_symbolic());
}

// seed 000 examples 1-2: Lambda layers of ordinary tensor code and of cond, eagerly and compiled.
TEST(Seed000, LambdaElementwiseAndCond) {
  auto elementwise = layers::Lambda([](const Tensor& x) { return square(x) + sin(x); });
  Tensor x = constant({{1.f, 2.f}, {3.f, 4.f}});
  Tensor eager = elementwise(x);
  EXPECT_NEAR(eager.to_vector<float>()[0], 1 + std::sin(1.f), 1e-6);
  auto compiled = function([&](const Tensor& t) { return elementwise(t); });
  EXPECT_EQ(compiled(x).to_vector<float>(), eager.to_vector<float>());
  // The article's vector predicate is ambiguous; with a scalar predicate cond works in both modes.
  auto conditional = layers::Lambda([](const Tensor& t) {
    return cond(
        max(t) > 2.f, [&] { return log(t); }, [&] { return exp(t); });
  });
  Tensor v = constant({1.f, 3.f});
  auto traced = function([&](const Tensor& t) { return conditional(t); });
  EXPECT_EQ(traced(v).to_vector<float>(), conditional(v).to_vector<float>());
  EXPECT_NEAR(conditional(v).to_vector<float>()[1], std::log(3.f), 1e-6);
}

// seed 000 example 3 (corrected): a Lambda that reads values works eagerly and, in a compiled model, runs
// as a host step with a one-time warning instead of failing.
TEST(Seed000, ValueReadingLambdaBecomesAHostStep) {
  Warnings w;
  auto numpy_like = layers::Lambda(
      [](const Tensor& t) {
        auto v = t.to_vector<float>();
        for (auto& e : v) e = e > 1 ? e * 2 : e / 2;
        return constant(v, t.shape());
      },
      {.name = "numpy_like"});
  Tensor x = constant({1.f, 3.f});
  EXPECT_EQ(numpy_like(x).to_vector<float>(), (std::vector<float>{0.5f, 6.f}));
  auto compiled = function([&](const Tensor& t) { return numpy_like(t) + 1.f; });
  EXPECT_EQ(compiled(x).to_vector<float>(), (std::vector<float>{1.5f, 7.f}));
  EXPECT_EQ(compiled(constant({4.f, 0.f})).to_vector<float>(), (std::vector<float>{9.f, 1.f}));
  EXPECT_TRUE(numpy_like->runs_as_host_step());
  ASSERT_EQ(w.seen.size(), 1u);
  EXPECT_NE(w.seen[0].find("'numpy_like'"), std::string::npos) << w.seen[0];
}

// seed 001 example 1: a custom layer wrapping a function, in a Sequential with an Input, compiled with names.
class ElementWiseLambda : public Layer {
 public:
  explicit ElementWiseLambda(std::function<Tensor(const Tensor&)> f) : Layer("ElementWiseLambda"), f_(std::move(f)) {}
  Tensor call(const Tensor& x, bool) override { return f_(x); }

 private:
  std::function<Tensor(const Tensor&)> f_;
};

TEST(Seed001, CustomLayerInSequential) {
  Sequential model(Input({10}),
                   {make_layer<ElementWiseLambda>([](const Tensor& x) { return sqrt(x); }), layers::Dense(5)});
  model.compile({.optimizer = "adam", .loss = "mse"});
  std::string s = model.summary_string();
  EXPECT_NE(s.find(" element_wise_lambda         (None, 10)                0\n (ElementWiseLambda)\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("(None, 5)"), std::string::npos) << s;
  EXPECT_NE(s.find("Total params: 55"), std::string::npos) << s;
}

// seed 001 example 2: a weight from add_weight is trained.
class WeightedLambda : public Layer {
 public:
  explicit WeightedLambda(std::function<Tensor(const Tensor&, const Tensor&)> f)
      : Layer("WeightedLambda"), f_(std::move(f)) {
    weight_ = add_weight("weight", Shape{1}, {.initializer = "ones"});
  }
  Tensor call(const Tensor& x, bool) override { return f_(x, weight_); }
  Variable weight_;

 private:
  std::function<Tensor(const Tensor&, const Tensor&)> f_;
};

TEST(Seed001, AddWeightIsLearned) {
  auto wl = make_layer<WeightedLambda>([](const Tensor& x, const Tensor& w) { return x * w; });
  Sequential model(Input({10}), {wl});
  model.compile({.optimizer = optimizers::SGD(0.1), .loss = "mse"});
  Tensor x = random::normal(Shape{256, 10}, 0, 1, DType::Float32, 1);
  model.fit(x, x * 3.f, {.epochs = 30, .batch_size = 32, .verbose = 0});
  EXPECT_NEAR(wl->weight_.value().item<float>(), 3.f, 1e-3f);
}

// seed 001 example 3: a layer with several inputs in a functional model.
TEST(Seed001, MultiInputLambda) {
  Tensor in1 = Input({10}), in2 = Input({5});
  auto complex_layer = layers::Lambda([](const std::vector<Tensor>& v) { return concat({sin(v[0]), cos(v[1])}, -1); });
  Tensor out = complex_layer({in1, in2})[0];  // a multi-input call returns the list of outputs
  Model model({in1, in2}, {out});
  EXPECT_EQ(out.shape(), (Shape{Shape::kUnknown, 15}));
  model.compile({.optimizer = "adam", .loss = "mse"});
  auto y = model({ones({2, 10}), zeros({2, 5})});
  EXPECT_EQ(y[0].shape(), (Shape{2, 15}));
  EXPECT_NEAR(y[0].to_vector<float>()[10], 1.f, 1e-6);  // cos(0)
}

// seed 002 example 3 (corrected): a stateful layer needs no flag and updates on every call, eager and compiled.
class MyStatefulLayer : public Layer {
 public:
  MyStatefulLayer() : Layer("MyStatefulLayer") {
    state_ = add_weight("state", Shape{1}, {.initializer = "zeros", .trainable = false});
  }
  Tensor call(const Tensor& x, bool) override { return state_.assign_add(x); }
  Variable state_;
};

TEST(Seed002, StatefulLayerUpdatesEveryCall) {
  auto layer = make_layer<MyStatefulLayer>();
  layer(constant({1.f}));
  layer(constant({2.f}));
  EXPECT_EQ(layer->state_.value().item<float>(), 3.f);
  auto compiled = function([&](const Tensor& x) { return layer(x); });
  compiled(constant({10.f}));
  EXPECT_EQ(compiled(constant({100.f})).item<float>(), 113.f);
  EXPECT_EQ(layer->state_.value().item<float>(), 113.f);
}

// seed 002 example 1 (corrected): the weight is (input_dim, units), created in build().
class MyCustomLayer : public Layer {
 public:
  explicit MyCustomLayer(std::int64_t units) : Layer("MyCustomLayer"), units_(units) {}
  void build(const std::vector<Shape>& s) override {
    w_ = add_weight("w", Shape{s[0][1], units_}, {.initializer = "random_normal"});
  }
  Tensor call(const Tensor& x, bool) override { return matmul(x, w_); }

 private:
  std::int64_t units_;
  Variable w_;
};

TEST(Seed002, CustomLayerBuildsFromTheInputShape) {
  Sequential model({make_layer<MyCustomLayer>(10), layers::Dense(1)});
  model.compile({.optimizer = "adam", .loss = "mse"});
  Tensor x = random::normal(Shape{64, 7});
  auto h = model.fit(x, sum(x, {1}, true), {.epochs = 2, .batch_size = 16, .verbose = 0});
  EXPECT_EQ(h.history["loss"].size(), 2u);
  EXPECT_EQ(model.count_params(), 7 * 10 + 10 + 1);
}

TEST(Fit, DenseLambdaRegressionConvergesAndCompiledMatchesEager) {
  Tensor x = random::uniform(Shape{512, 4}, -1, 1, DType::Float32, 3);
  Tensor y = sum(x * constant({{0.5f, -1.f, 2.f, 0.25f}}), {1}, true) + 0.3f;
  auto build = [](std::uint64_t seed) {
    random::set_seed(seed);
    Tensor in = Input({4});
    Tensor h = layers::Dense(16, "tanh")(in);
    h = layers::Lambda([](const Tensor& t) { return t * 1.5f; })(h);
    return std::make_shared<Model>(in, layers::Dense(1)(h));
  };
  auto compiled = build(11), eager = build(11);
  compiled->compile({.optimizer = optimizers::Adam(0.01), .loss = "mse", .metrics = {"mae"}});
  eager->compile({.optimizer = optimizers::Adam(0.01), .loss = "mse", .metrics = {"mae"}, .run_eagerly = true});
  auto hc = compiled->fit(x, y, {.epochs = 3, .batch_size = 50, .shuffle = false, .verbose = 0});
  auto he = eager->fit(x, y, {.epochs = 3, .batch_size = 50, .shuffle = false, .verbose = 0});
  auto wc = compiled->weights(), we = eager->weights();
  ASSERT_EQ(wc.size(), we.size());
  for (std::size_t i = 0; i < wc.size(); ++i)
    expect_close(testing::to_arr(wc[i].value()), testing::to_arr(we[i].value()), 1e-4, 1e-5, wc[i].name());
  auto h = compiled->fit(x, y, {.epochs = 40, .batch_size = 50, .verbose = 0});
  EXPECT_LT(h.history["loss"].back(), 2e-3);
  EXPECT_LT(compiled->evaluate(x, y).at("loss"), 2e-3);
  EXPECT_EQ(compiled->predict(x, {.batch_size = 100}).shape(), (Shape{512, 1}));
}

TEST(Fit, ClassifierWithAccuracyValidationAndCallbacks) {
  Tensor x = random::normal(Shape{600, 2}, 0, 1, DType::Float32, 5);
  Tensor labels = cast(greater(sum(x, {1}), scalar(0.f)), DType::Int32);
  Sequential model({layers::Dense(8, "relu"), layers::Dropout(0.1, {.seed = 3}), layers::Dense(2)});
  model.compile({.optimizer = "adam", .loss = losses::SparseCategoricalCrossentropy(true), .metrics = {"accuracy"}});
  int epochs_seen = 0;
  std::ostringstream out;
  auto h = model.fit(
      x, labels,
      {.epochs = 40,
       .batch_size = 64,
       .validation_split = 0.2,
       .verbose = 1,
       .callbacks = {callbacks::EarlyStopping({.monitor = "val_loss", .patience = 2}),
                     callbacks::LambdaCallback({.on_epoch_end = [&](Model&, int, const Logs&) { ++epochs_seen; }})},
       .out = &out});
  EXPECT_EQ(epochs_seen, h.epochs_run);
  EXPECT_GT(h.history["val_accuracy"].back(), 0.9);
  EXPECT_NE(out.str().find("Epoch 1/40\n"), std::string::npos);
  EXPECT_NE(out.str().find("8/8 [==============================]"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("- val_accuracy: "), std::string::npos);
}

// As Keras: the first floor(n * (1 - split)) rows train and the rest validate (10 rows at 0.05: 9 and 1),
// and a split that leaves either side empty is an error, not a run without validation.
TEST(Fit, ValidationSplitKeepsFloorOfTheTrainingShareAsKeras) {
  Tensor x = random::normal(Shape{10, 3}, 0, 1, DType::Float32, 7),
         y = random::normal(Shape{10, 1}, 0, 1, DType::Float32, 8);
  Sequential model({layers::Dense(1)});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  std::ostringstream out;
  auto h = model.fit(x, y, {.epochs = 1, .batch_size = 1, .validation_split = 0.05, .verbose = 1, .out = &out});
  EXPECT_NE(out.str().find("9/9 ["), std::string::npos) << out.str();
  ASSERT_EQ(h.history.count("val_loss"), 1u);
  Tensor last_x = slice(x, {9, 0}, {1, 3}), last_y = slice(y, {9, 0}, {1, 1});
  EXPECT_NEAR(h.history["val_loss"].back(), model.evaluate(last_x, last_y).at("loss"), 1e-6);
  try {
    model.fit(slice(x, {0, 0}, {1, 3}), slice(y, {0, 0}, {1, 1}), {.validation_split = 0.5, .verbose = 0});
    ADD_FAILURE() << "a split leaving no training example must throw";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("validation_split=0.5 of 1 examples leaves no example to train on"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(model.fit(x, y, {.validation_split = 1e-17, .verbose = 0}), ValueError);  // nothing validates
}

TEST(Summary, FunctionalModelLooksLikeKeras) {
  Tensor in = Input({10}, DType::Float32, "features");
  Tensor h = layers::Dense(32, {.activation = "relu", .name = "hidden"})(in);
  Model model(in, layers::Dense(1, {.name = "head"})(h), "regressor");
  std::string s = model.summary_string();
  EXPECT_NE(s.find("Model: \"regressor\""), std::string::npos) << s;
  // Keras's columns: name 28 wide after a space, output shape 26 wide, then the count.
  EXPECT_NE(s.find(" Layer (type)                Output Shape              Param #\n"), std::string::npos) << s;
  EXPECT_NE(s.find(" features (InputLayer)       [(None, 10)]              0\n"), std::string::npos) << s;
  EXPECT_NE(s.find(" hidden (Dense)              (None, 32)                352\n"), std::string::npos) << s;
  EXPECT_NE(s.find("Total params: 385"), std::string::npos) << s;
  EXPECT_NE(s.find("Trainable params: 385"), std::string::npos) << s;
  EXPECT_NE(s.find("Non-trainable params: 0"), std::string::npos) << s;
}

// A cell wider than its column continues on the next line (as Keras wraps it): columns never run together.
TEST(Summary, LongLayerNamesWrapInsteadOfRunningIntoTheShape) {
  Tensor in = Input({10}, DType::Float32, "features");
  Tensor y = layers::Dense(4, {.name = "a_rather_long_dense_layer_name"})(in);
  std::string s = Model(in, y, "wide").summary_string();
  EXPECT_NE(s.find(" a_rather_long_dense_layer_n (None, 4)                 44\n ame (Dense)\n"), std::string::npos)
      << s;
}

TEST(Names, KerasStyleUniqueNames) {
  auto a = layers::Dense(1), b = layers::Dense(1);
  EXPECT_EQ(a->name().substr(0, 5), "dense");
  EXPECT_NE(a->name(), b->name());
  EXPECT_EQ(b->name(), a->name() == "dense" ? "dense_1" : b->name());
}

TEST(ModelErrors, NameTheModelOrLayer) {
  Sequential model({layers::Dense(1)}, {.name = "reg"});
  Tensor x = ones({4, 3}), y = ones({4, 1});
  try {
    model.fit(x, y);
    FAIL();
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("[reg] fit() before compile()"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model.compile({.optimizer = "adamm", .loss = "mse"}), ValueError);
  EXPECT_THROW(model.compile({.optimizer = "adam", .loss = "msee"}), ValueError);
  model.compile({.optimizer = "adam", .loss = "mse"});
  try {
    model.fit(x, ones({5, 1}), {.verbose = 0});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[reg]"), std::string::npos) << e.what();
  }
  model.fit(x, y, {.verbose = 0});
  try {
    model(ones({4, 7}));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("(None, 3)"), std::string::npos) << e.what();
  }
  // A Lambda whose result dtype changes after the model was built is named with both dtypes.
  auto bad =
      layers::Lambda([](const Tensor& t) { return t.is_symbolic() ? t : cast(t, DType::Int32); }, {.name = "to_int"});
  Tensor in = Input({2});
  Model m(in, bad(in), "wrapper");
  try {
    m(ones({1, 2}));
    FAIL();
  } catch (const DTypeError& e) {
    EXPECT_NE(std::string(e.what()).find("[wrapper] layer 'to_int' returned int32 (1, 2)"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("float32 (None, 2)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace duet

namespace duet::internal {
std::int64_t live_layer_count();
}

namespace duet {
namespace {

// Symbolic history is owned by the tensors that carry it: building and dropping models frees their layers and
// their weights (there is no process-wide functional graph any more).
TEST(ModelLifetime, ThousandModelsBuiltAndDroppedLeaveNothingBehind) {
  auto build_and_drop = [] {
    Tensor in = Input({16});
    Tensor h = layers::Dense(32, "relu")(in);
    Tensor out = layers::Dense(4)(layers::Dropout(0.1)(h));
    Model m(in, out);
    m.compile({.optimizer = "adam", .loss = "mse"});
    Sequential s(Input({16}), {layers::Dense(8), layers::Dense(2)});
    static_cast<void>(m(ones({2, 16})));
    static_cast<void>(s(ones({2, 16})));
  };
  build_and_drop();  // warm up (first-use caches)
  const std::int64_t layers_before = internal::live_layer_count();
  const std::size_t bytes_before = allocator_stats().bytes_in_use;
  for (int i = 0; i < 1000; ++i) build_and_drop();
  EXPECT_EQ(internal::live_layer_count(), layers_before);
  EXPECT_LE(allocator_stats().bytes_in_use, bytes_before + 4096) << "tensor memory grew with every model";
}

// A subclassed model, like a Sequential, may live on the stack: called on Input tensors, compiled and fitted.
class StackModel : public SubclassedModel {
 public:
  StackModel() : SubclassedModel("stack_model") {}
  Tensor call(const Tensor& x, bool training) override { return out(hidden(x, training), training); }
  Ref<layers::DenseLayer> hidden = layers::Dense(8, "tanh");
  Ref<layers::DenseLayer> out = layers::Dense(1);
};

TEST(ModelLifetime, SubclassedModelOnTheStackWorksLikeSequential) {
  StackModel model;
  EXPECT_EQ(model(Input({3})).shape(), (Shape{Shape::kUnknown, 1}));
  model.compile({.optimizer = "adam", .loss = "mse"});
  Tensor x = random::normal({32, 3}, 0, 1, DType::Float32, 1);
  auto h = model.fit(x, sum(x, {1}, true), {.epochs = 3, .batch_size = 8, .verbose = 0});
  EXPECT_EQ(h.epochs_run, 3);
  EXPECT_EQ(model.hidden->kernel().shape(), (Shape{3, 8}));  // typed handles reach the weights
  EXPECT_EQ(model.predict(x).shape(), (Shape{32, 1}));
  Sequential seq({layers::Dense(2)});  // and a Sequential on the stack inside a functional model
  Tensor in = Input({3});
  Model outer(in, seq(in));
  EXPECT_EQ(outer(ones({1, 3})).shape(), (Shape{1, 2}));
}

TEST(KerasTrips, GenericLambdasAndMultiInputModels) {
  auto twice = layers::Lambda([](auto x) { return x * 2.f; });
  EXPECT_EQ(twice(ones({2})).to_vector<float>(), (std::vector<float>{2.f, 2.f}));
  Tensor a = Input({2}, DType::Float32, "a"), b = Input({3}, DType::Float32, "b");
  Tensor joined = layers::Concatenate()({a, b})[0];
  Tensor y1 = layers::Dense(1, {.name = "first"})(joined);
  Tensor y2 = layers::Dense(2, {.name = "second"})(joined);
  Model model({a, b}, {y1, y2});
  model.compile({.optimizer = "adam", .losses = {"mse", "mae"}, .loss_weights = {1.0, 0.5}, .metrics = {"mae"}});
  Tensor xa = random::normal({16, 2}, 0, 1, DType::Float32, 2), xb = random::normal({16, 3}, 0, 1, DType::Float32, 3);
  auto h = model.fit({xa, xb}, {ones({16, 1}), zeros({16, 2})}, {.epochs = 2, .batch_size = 4, .verbose = 0});
  // Keras names a metric as it was asked for: "mae" logs as first_mae
  for (const char* k : {"loss", "first_loss", "second_loss", "first_mae", "second_mae"})
    EXPECT_EQ(h.history[k].size(), 2u) << k;
  auto p = model.predict({xa, xb});
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].shape(), (Shape{16, 1}));
  EXPECT_EQ(p[1].shape(), (Shape{16, 2}));
  auto logs = model.evaluate({xa, xb}, {ones({16, 1}), zeros({16, 2})});
  EXPECT_NEAR(logs["loss"], logs["first_loss"] + 0.5 * logs["second_loss"], 1e-5);
  model.loss_weights()[1] = 0.0;  // read at run time by the compiled step
  auto logs0 = model.evaluate({xa, xb}, {ones({16, 1}), zeros({16, 2})});
  EXPECT_NEAR(logs0["loss"], logs0["first_loss"], 1e-6);
  EXPECT_NE(model.summary_string().find("a (InputLayer)"), std::string::npos);
}

// As Keras: data of another dtype is converted to a floating Input's dtype (token ids given to a float32
// Input reach the Embedding behind it), in Sequential and functional models, eagerly and in fit; an integer
// Input still refuses floats.
TEST(Models, InputsConvertToAFloatingInputsDtype) {
  Tensor ids = constant({{1, 2, 3}, {4, 5, 6}});  // int32
  Sequential seq(Input({3}), {layers::Embedding(10, 4), layers::Flatten(), layers::Dense(1)});
  Tensor a = seq(ids), b = seq(cast(ids, DType::Float32));
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  seq.compile({.optimizer = optimizers::SGD(0.1), .loss = losses::MeanSquaredError()});
  History h = seq.fit(ids, constant({{1.f}, {0.f}}), {.epochs = 2, .batch_size = 2, .verbose = 0});
  EXPECT_EQ(h.epochs_run, 2);
  Tensor in = Input({3});
  Model fn({in}, {layers::Dense(2)(in)});
  EXPECT_EQ(fn(ids).shape(), (Shape{2, 2}));
  Sequential ints(Input({3}, DType::Int32), {layers::Embedding(10, 4)});
  EXPECT_THROW((void)ints(cast(ids, DType::Float32)), ShapeError);
}

// Keras's rule for labels against predictions: (N,) labels with (N, 1) predictions (and the reverse) compare
// element by element in the losses and the MAE metric, never broadcast to (N, N); other mismatches throw.
TEST(Losses, LabelsOfRankOneAgainstPredictionsOfOneColumn) {
  Tensor p = constant({{2.f}, {-2.f}, {3.f}, {1.f}});
  Tensor y = constant({1.f, 1.f, 0.f, 1.f});
  Tensor y2 = reshape(y, {4, 1});
  for (const auto& loss : {losses::MeanSquaredError(), losses::MeanAbsoluteError(), losses::BinaryCrossentropy(true)}) {
    EXPECT_FLOAT_EQ((*loss)(y, p).item<float>(), (*loss)(y2, p).item<float>()) << loss->name();
    EXPECT_FLOAT_EQ((*loss)(y2, reshape(p, {4})).item<float>(), (*loss)(y2, p).item<float>()) << loss->name();
  }
  EXPECT_FLOAT_EQ((*losses::MeanAbsoluteError())(y, p).item<float>(), 1.75f);  // (1 + 3 + 3 + 0) / 4
  auto mae = metrics::MeanAbsoluteError();
  mae->update_state(y, p);
  EXPECT_DOUBLE_EQ(mae->result(), 1.75);
  EXPECT_THROW((void)(*losses::MeanSquaredError())(y, constant({{1.f, 2.f}, {1.f, 2.f}, {1.f, 2.f}, {1.f, 2.f}})),
               ShapeError);
}

}  // namespace
}  // namespace duet
