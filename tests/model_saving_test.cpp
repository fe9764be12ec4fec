// Model::save / load_model: every built-in layer, functional graphs (shared layers, several inputs and outputs,
// ops between layers, constants), nested models, registered custom layers; refusals (Lambda, subclassed,
// unregistered); Lambdas and layers without config as graphs; hostile model files.
#include "test_util.h"

namespace duet {
namespace {

using testing::Scratch;

void expect_bitwise(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].shape(), b[i].shape()) << "output " << i;
    EXPECT_EQ(a[i].to_vector<double>(), b[i].to_vector<double>()) << "output " << i;
  }
}

TEST(ModelFile, SequentialCnnRoundTripsAndTrainsOn) {
  Scratch s;
  Sequential a(Input({12, 12, 2}),
               {layers::Conv2D(4, {3, 3}, {.strides = {1, 1}, .padding = "same", .activation = "relu"}),
                layers::BatchNormalization({.momentum = 0.9}), layers::MaxPooling2D(),
                layers::AveragePooling2D({.pool_size = {2, 2}, .strides = {1, 1}}), layers::Flatten(),
                layers::Dropout(0.3, {.seed = 9}), layers::Dense(6, {.activation = "tanh", .use_bias = false}),
                layers::Activation("softmax")},
               "cnn");
  a.compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy"});
  Tensor x = random::normal({16, 12, 12, 2}, 0, 1, DType::Float32, 1);
  Tensor y = constant(std::vector<std::int32_t>(16, 2), Shape{16});
  a.fit(x, y, {.epochs = 1, .batch_size = 8, .verbose = 0});  // moving statistics and weights move
  std::string p = s.path("cnn.duet");
  a.save(p);
  std::shared_ptr<Model> b = load_model(p);
  EXPECT_EQ(b->name(), "cnn");
  EXPECT_EQ(b->summary_string(), a.summary_string());
  expect_bitwise({b->predict(x)}, {a.predict(x)});
  // It compiles and trains further.
  b->compile({.optimizer = "sgd", .loss = "sparse_categorical_crossentropy"});
  b->fit(x, y, {.epochs = 1, .batch_size = 8, .verbose = 0});
  EXPECT_NE(b->predict(x).to_vector<float>(), a.predict(x).to_vector<float>());
}

// Loading assigns every weight from the file: no initializer runs, so the user's random stream is untouched.
TEST(ModelFile, LoadingDrawsNoRandomNumbers) {
  Scratch s;
  Sequential a(Input({8}), {layers::Dense(16), layers::Dropout(0.5), layers::Dense(4)});
  a.save(s.path("r.duet"));
  random::set_seed(42);
  Tensor want = random::normal({5});
  random::set_seed(42);
  std::shared_ptr<Model> b = load_model(s.path("r.duet"));
  EXPECT_EQ(random::normal({5}).to_vector<float>(), want.to_vector<float>());
  Tensor x = random::normal({3, 8}, 0, 1, DType::Float32, 1);
  expect_bitwise({b->predict(x)}, {a.predict(x)});
}

TEST(ModelFile, FunctionalGraphsWithSharedLayersOpsAndConstantsRoundTrip) {
  Scratch s;
  Tensor ids = Input({5}, DType::Int32, "ids");
  Tensor feats = Input({5, 3}, DType::Float32, "feats");
  auto shared = layers::Dense(4, {.activation = "relu", .name = "shared"});
  Tensor e = layers::Embedding(20, 3)(ids);
  Tensor both = layers::Concatenate({.axis = -1})({e, feats});  // (None, 5, 6)
  Tensor seq = layers::LSTM(4, {.return_sequences = true})(both);
  Tensor a1 = shared(seq), a2 = shared(layers::Dense(4)(seq));                     // the shared layer called twice
  Tensor mixed = layers::Add()({a1, a2}) * 0.5f + constant({1.f, 2.f, 3.f, 4.f});  // ops and a constant
  Tensor gated = layers::Multiply()({mixed, sigmoid(mixed)});
  Tensor img = layers::Reshape({5, 4, 1})(gated);
  Tensor pooled = layers::GlobalAveragePooling2D()(img);
  Tensor out1 = layers::Dense(2, {.name = "head1"})(layers::Flatten()(gated));
  Model a({ids, feats}, {out1, pooled}, "two_heads");
  a.layers()[2]->set_trainable(false);
  std::string p = s.path("f.duet");
  a.save(p);
  std::shared_ptr<Model> b = load_model(p);
  EXPECT_EQ(b->summary_string(), a.summary_string());
  EXPECT_EQ(b->num_inputs(), 2u);
  EXPECT_EQ(b->num_outputs(), 2u);
  EXPECT_EQ(b->trainable_weights().size(), a.trainable_weights().size());
  Tensor xi = constant(std::vector<std::int32_t>{1, 5, 19, 0, 7, 2, 2, 3, 4, 0}, Shape{2, 5});
  Tensor xf = random::normal({2, 5, 3}, 0, 1, DType::Float32, 3);
  expect_bitwise(b->predict({xi, xf}), a.predict({xi, xf}));
}

TEST(ModelFile, NestedModelsRoundTrip) {
  Scratch s;
  Tensor in = Input({6});
  Model block(in, layers::Dense(5, "relu")(in), "block");
  Sequential outer(Input({6}), {LayerRef(std::shared_ptr<Layer>(std::shared_ptr<Layer>(), &block)), layers::Dense(2)},
                   "outer");
  std::string p = s.path("n.duet");
  outer.save(p);
  std::shared_ptr<Model> b = load_model(p);
  Tensor x = random::normal({3, 6}, 0, 1, DType::Float32, 4);
  expect_bitwise({b->predict(x)}, {outer.predict(x)});
  EXPECT_EQ(b->summary_string(), outer.summary_string());
}

// A custom layer with a config, registered by class name.
class Scale : public Layer {
 public:
  explicit Scale(double factor, const std::string& name = "") : Layer("TestScale", name), factor_(factor) {}
  void build(const std::vector<Shape>& s) override { w_ = add_weight("w", Shape{s[0][-1]}, {.initializer = "ones"}); }
  Tensor call(const Tensor& x, bool) override { return x * w_ * static_cast<float>(factor_); }
  std::optional<LayerConfig> get_config() const override { return LayerConfig("TestScale").set("factor", factor_); }
  static std::shared_ptr<Scale> from_config(const LayerConfig& c) {
    return std::make_shared<Scale>(c.get_double("factor"), c.get_string("name"));
  }

 private:
  double factor_;
  Variable w_;
};

TEST(ModelFile, RegisteredCustomLayersRoundTripAndUnregisteredOnesAreNamed) {
  Scratch s;
  Sequential a(Input({3}), {make_layer<Scale>(2.5), layers::Dense(2)});
  a.weights()[0].assign(constant({1.f, -1.f, 0.5f}));
  std::string p = s.path("c.duet");
  a.save(p);
  try {
    load_model(p);
    // Registration is process-wide: a run where another test registered it first is fine.
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("TestScale"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("register_layer"), std::string::npos) << e.what();
  }
  register_layer<Scale>("TestScale");
  std::shared_ptr<Model> b = load_model(p);
  Tensor x = random::normal({4, 3}, 0, 1, DType::Float32, 5);
  expect_bitwise({b->predict(x)}, {a.predict(x)});
}

// A layer with weights, a sublayer and training-dependent behaviour, and no get_config.
class Gated : public Layer {
 public:
  Gated() : Layer("Gated") {}
  void build(const std::vector<Shape>& in) override {
    gate_ = add_weight("gate", {in[0][-1]}, {.initializer = "ones"});
    count_ = add_weight("count", {}, {.initializer = "zeros", .trainable = false});
  }
  Tensor call(const Tensor& x, bool training) override {
    if (training) count_.assign_add(scalar(1.f));  // a side effect only while training
    Tensor h = dense_(x * sigmoid(gate_.value()));
    return training ? h * 0.5f : h;
  }

 private:
  Variable gate_, count_;
  Ref<layers::DenseLayer> dense_ = track(layers::Dense(3, {.name = "gated_inner"}).ptr());
};

// Lambdas and custom layers without a config are saved as their traced graphs: no code in the file.
TEST(ModelFile, LambdasAndLayersWithoutConfigAreSavedAsGraphs) {
  Scratch s;
  Sequential a(Input({4}),
               {layers::Dense(4, {.activation = "relu"}),
                layers::Lambda(
                    [](const Tensor& t) {
                      return t * 2.f + constant({1.f, 2.f, 3.f, 4.f});
                    },
                    {.name = "affine"}),
                make_layer<Gated>(), layers::Dense(2)},
               "with_lambda");
  a.compile({.optimizer = "adam", .loss = "mse"});
  Tensor x = random::normal({8, 4}, 0, 1, DType::Float32, 11), y = random::normal({8, 2}, 0, 1, DType::Float32, 12);
  a.fit(x, y, {.epochs = 2, .batch_size = 4, .verbose = 0});
  std::string p = s.path("lambda.duet");
  a.save(p);
  const std::string cfg = saved_model_config(p);
  EXPECT_NE(cfg.find("\"GraphLayer\""), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("\"Gated\""), std::string::npos) << cfg;
  std::shared_ptr<Model> b = load_model(p);
  EXPECT_EQ(b->summary_string(), a.summary_string());
  expect_bitwise({b->predict(x)}, {a.predict(x)});
  // Training mode replays the training graph (its side effect included), as the original layer runs.
  std::vector<Tensor> ta = {a(x, true)}, tb = {(*b)(x, true)};
  expect_bitwise(tb, ta);
  ASSERT_EQ(b->weights().size(), a.weights().size());
  ASSERT_EQ(a.weights()[3].name(), "gated/count");
  EXPECT_EQ(b->weights()[3].name(), "gated/count");
  EXPECT_EQ(b->weights()[3].value().item<float>(), a.weights()[3].value().item<float>()) << "the training counter";
  EXPECT_GT(a.weights()[3].value().item<float>(), 0.f);
  // Trains further the same way, and saves again.
  b->compile({.optimizer = "sgd", .loss = "mse"});
  a.compile({.optimizer = "sgd", .loss = "mse"});
  b->fit(x, y, {.epochs = 1, .batch_size = 4, .shuffle = false, .verbose = 0});
  a.fit(x, y, {.epochs = 1, .batch_size = 4, .shuffle = false, .verbose = 0});
  expect_bitwise({b->predict(x)}, {a.predict(x)});
  b->save(s.path("again.duet"));
  expect_bitwise({load_model(s.path("again.duet"))->predict(x)}, {a.predict(x)});

  // A functional model with a Lambda over two inputs.
  Tensor i1 = Input({3}), i2 = Input({3});
  Tensor mixed = layers::Lambda([](const std::vector<Tensor>& v) { return maximum(v[0], v[1]) - v[1]; })({i1, i2});
  Model f({i1, i2}, {layers::Dense(1)(mixed)}, "two_in");
  f.save(s.path("f.duet"));
  Tensor u = random::normal({5, 3}, 0, 1, DType::Float32, 1), v = random::normal({5, 3}, 0, 1, DType::Float32, 2);
  expect_bitwise({load_model(s.path("f.duet"))->predict({u, v})[0]}, {f.predict({u, v})[0]});
}

TEST(ModelFile, WhatCannotBeSavedIsRefusedByName) {
  Scratch s;
  Variable outside(constant({1.f, 2.f, 3.f}), {.name = "outside"});
  Sequential lam(Input({3}),
                 {layers::Lambda([&](const Tensor& t) { return t * outside.value(); }, {.name = "captures"})});
  try {
    lam.save(s.path("l.duet"));
    FAIL() << "a Lambda reading a variable that is not a weight was saved";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("captures"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("outside"), std::string::npos) << e.what();
  }
  Sequential reads(Input({3}), {layers::Lambda([](const Tensor& t) { return sum(t).item<float>() > 0 ? t : -t; },
                                               {.name = "peeks"})});
  (void)reads(ones({1, 3}));
  try {
    reads.save(s.path("r.duet"));
    FAIL() << "a Lambda that reads values was saved";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("peeks"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("save only the weights"), std::string::npos) << e.what();
  }
  struct Sub : SubclassedModel {
    Sub() : SubclassedModel("sub") {}
    Ref<layers::DenseLayer> d = layers::Dense(2);
    Tensor call(const Tensor& x, bool) override { return d(x); }
  } sub;
  (void)sub(ones({1, 3}));
  EXPECT_THROW(sub.save(s.path("s.duet")), ValueError);
  Sequential lazy({layers::Dense(2)});
  EXPECT_THROW(lazy.save(s.path("z.duet")), StateError);
  EXPECT_EQ(testing::Scratch::read(s.path("l.duet")), "") << "a refused save writes nothing";
}

// Layers saved as graphs, edited by hand: refused at load, naming the file.
TEST(ModelFile, HostileLayerGraphsAreRefused) {
  Scratch s;
  Sequential a(Input({3}), {layers::Lambda([](const Tensor& t) {
                              return t * 2.f + constant({1.f, 2.f, 3.f});
                            }),
                            make_layer<Gated>()});
  std::string p = s.path("g.duet");
  a.save(p);
  saving::TensorFile good = saving::load_safetensors(p);
  const std::string config = good.metadata.at("model_config");
  std::vector<std::pair<std::string, std::string>> cases;
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"op\":\"Mul\"", "\"op\":\"Exfiltrate\""},
           {"\"const\":\"constants/0\"", "\"const\":\"weights/gated_inner/kernel\""},
           {"/gate\",\"shape\":[3]", "/gate\",\"shape\":[null]"},
           {"\"type\":\"Gated\"", "\"type\":7"},
           {"\"inference\":", "\"inferences\":"},
           {"\"arg\":0", "\"arg\":1"},
       }) {
    auto meta = good.metadata;
    meta["model_config"] = testing::replace_once(config, from, to);
    std::string q = s.path("h" + std::to_string(cases.size()) + ".duet");
    saving::save_safetensors(q, good.tensors, meta);
    cases.emplace_back(from + " -> " + to, q);
  }
  testing::expect_files_refused(cases, [](const std::string& q) { (void)load_model(q); });
}

// Model files edited by hand: every one is refused with a duet::Error naming the file; none crashes, and none
// allocates what it merely claims.
TEST(ModelFile, HostileModelFilesAreRefused) {
  Scratch s;
  Tensor in = Input({4});
  Model a(in, layers::Dense(3)(in * 2.f), "m");
  std::string p = s.path("m.duet");
  a.save(p);
  saving::TensorFile good = saving::load_safetensors(p);
  const std::string config = good.metadata.at("model_config");
  auto with_config = [&](const std::string& name, const std::string& cfg) {
    auto meta = good.metadata;
    meta["model_config"] = cfg;
    std::string q = s.path(name);
    saving::save_safetensors(q, good.tensors, meta);
    return q;
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    return testing::replace_once(config, from, to);
  };
  std::string deep = R"({"class_name":"Sequential","name":"x","layers":[)";
  for (int i = 0; i < 40; ++i)
    deep += R"({"class_name":"Model","config":{"class_name":"Sequential","name":"x","layers":[)";
  deep += std::string(40, ']') + "}";
  std::vector<std::pair<std::string, std::string>> cases = {
      {"not JSON", with_config("a.duet", "{")},
      {"not an object", with_config("b.duet", "[]")},
      {"unknown model class", with_config("c.duet", replaced("\"Functional\"", "\"Mystery\""))},
      {"unknown layer class", with_config("d.duet", replaced("\"Dense\"", "\"Densest\""))},
      {"unknown op", with_config("e.duet", replaced("\"Mul\"", "\"LaunchMissiles\""))},
      {"stateful op", with_config("f.duet", replaced("\"Mul\"", "\"AssignVariable\""))},
      {"node index forward", with_config("g.duet", replaced("[[0,0]", "[[7,0]"))},
      {"output index", with_config("h.duet", replaced("\"outputs\":[[", "\"outputs\":[[99,"))},
      {"huge Dense", with_config("i.duet", replaced("\"units\":3", "\"units\":100000000000"))},
      {"negative units", with_config("j.duet", replaced("\"units\":3", "\"units\":-3"))},
      {"units as a string", with_config("k.duet", replaced("\"units\":3", "\"units\":\"3\""))},
      {"bad attr kind", with_config("l.duet", replaced("\"attrs\":{}", "\"attrs\":{\"y\":{\"complex\":1}}"))},
      {"attr not an object", with_config("l2.duet", replaced("\"attrs\":{}", "\"attrs\":{\"y\":3}"))},
      {"unknown node kind", with_config("m.duet", replaced("\"kind\":\"input\"", "\"kind\":\"wormhole\""))},
      {"bad dtype", with_config("n.duet", replaced("\"float32\"", "\"float128\""))},
      {"deep nesting", with_config("o.duet", deep)},
      {"more units than weights", with_config("p.duet", replaced("\"units\":3", "\"units\":4"))},
  };
  {
    auto meta = good.metadata;
    meta["format"] = "duet.weights";
    saving::save_safetensors(s.path("q.duet"), good.tensors, meta);
    cases.emplace_back("wrong format", s.path("q.duet"));
    saving::NamedTensors fewer(good.tensors.begin(), good.tensors.end() - 1);
    saving::save_safetensors(s.path("r.duet"), fewer, good.metadata);
    cases.emplace_back("missing weight", s.path("r.duet"));
  }
  // 3.2 GB of weights from a file of a few hundred bytes: refused by the allocation budget before allocating.
  try {
    load_model(with_config("budget.duet", replaced("\"units\":3", "\"units\":200000000")));
    ADD_FAILURE() << "a 3.2 GB layer was built from a tiny file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("justifies"), std::string::npos) << e.what();
  }
  testing::expect_files_refused(cases, [](const std::string& q) { (void)load_model(q); });
}

// The message of the ValueError `f` throws ("" when it throws none).
template <class F>
std::string value_error(F&& f) {
  try {
    f();
  } catch (const ValueError& e) {
    return e.what();
  }
  return "";
}

// Configs as constructor arguments (what duet.keras's generic layer classes send): missing optional keys keep
// the options' defaults, one integer stands for a whole kernel size, arguments the class does not take are
// reported as unread, and Keras arguments duet takes only at one value are refused with the reason.
TEST(LayerConfigs, OptionalKeysDefaultsScalarSizesUnreadKeysAndRefusedValues) {
  LayerConfig c("Conv2D");
  c.set("filters", std::int64_t{4}).set("kernel_size", std::int64_t{3}).set("paddding", std::string("same"));
  LayerRef l = layer_from_config("Conv2D", c);
  auto got = l->get_config();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->get_ints("kernel_size"), (std::vector<std::int64_t>{3, 3}));
  EXPECT_EQ(got->get_string("padding"), "valid");  // the default: "paddding" was misspelled
  EXPECT_EQ(c.unread(), (std::vector<std::string>{"paddding"}));
  Tensor y = l(ones({1, 5, 5, 2}));
  EXPECT_EQ(y.shape(), Shape({1, 3, 3, 4}));

  LayerConfig bad("Conv2D");
  bad.set("filters", std::int64_t{4}).set("kernel_size", std::vector<std::int64_t>{3, 3, 3});
  EXPECT_NE(value_error([&] { (void)layer_from_config("Conv2D", bad); }).find("needs 2 integers"), std::string::npos);
  LayerConfig nchw("Conv2D");
  nchw.set("filters", std::int64_t{4})
      .set("kernel_size", std::int64_t{3})
      .set("data_format", std::string("channels_first"));
  EXPECT_NE(value_error([&] { (void)layer_from_config("Conv2D", nchw); }).find("channels last"), std::string::npos);
  LayerConfig reg("Dense");
  reg.set("units", std::int64_t{2}).set("kernel_regularizer", std::string("l2"));
  EXPECT_NE(value_error([&] { (void)layer_from_config("Dense", reg); }).find("kernel_regularizer is not supported yet"),
            std::string::npos);
  EXPECT_NE(value_error([&] { (void)layer_from_config("Dense", LayerConfig("Dense")); }).find("has no 'units'"),
            std::string::npos);

  bool found = false;
  for (const auto& [name, positional] : registered_layers())
    if (name == "Dense") found = positional == std::vector<std::string>{"units", "activation"};
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace duet
