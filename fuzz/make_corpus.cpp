// Writes the fuzzers' seed corpora (fuzz/corpus/<target>): real files of every kind the loaders read.
// Usage: make_corpus fuzz/corpus (built with the fuzz targets).
#include <sys/stat.h>

#include <duet/duet.h>

using namespace duet;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR\n");
    return 2;
  }
  std::string root = argv[1];
  for (auto d : {"safetensors", "model", "checkpoint", "function"}) mkdir((root + "/" + d).c_str(), 0755);
  random::set_seed(3);
  // safetensors: every dtype, a scalar, an empty tensor, metadata.
  saving::save_safetensors(root + "/safetensors/dtypes.safetensors",
                           {{"f32", constant({{1.f, 2.f}, {3.f, 4.f}})},
                            {"f64", constant(std::vector<double>{0.5}, Shape{1})},
                            {"i32", constant({1, 2, 3})},
                            {"i64", scalar(std::int64_t{7})},
                            {"b", constant(std::vector<bool>{true, false}, Shape{2})},
                            {"e", zeros({0, 3})}},
                           {{"format", "x"}});
  Sequential small(Input({4}), {layers::Dense(3, "relu"), layers::Dense(2)}, "fuzz");
  small.save_weights(root + "/safetensors/weights.safetensors");
  // models: a Sequential CNN and a functional graph with ops, a constant, shared and merge layers.
  Sequential cnn(Input({6, 6, 1}),
                 {layers::Conv2D(2, {3, 3}, {.padding = "same"}), layers::BatchNormalization(), layers::MaxPooling2D(),
                  layers::Flatten(), layers::Dropout(0.2), layers::Dense(2)},
                 "cnn");
  cnn.save(root + "/model/cnn.duet");
  Tensor a = Input({3}), b = Input({5}, DType::Int32);
  auto shared = layers::Dense(2);
  Tensor e = layers::Flatten()(layers::Embedding(10, 2)(b));
  Tensor h = layers::Concatenate()({shared(a) * 2.f + constant({1.f, -1.f}), shared(a), e});
  Model f({a, b}, {layers::Dense(1)(h), layers::Activation("tanh")(h)}, "graph");
  f.save(root + "/model/functional.duet");
  Sequential nested(
      Input({4}),
      {LayerRef(std::make_shared<Sequential>(Input({4}), std::vector<LayerRef>{layers::Dense(4)})), layers::Dense(2)});
  nested.save(root + "/model/nested.duet");
  // a Lambda, saved as its traced graph.
  Sequential lam(Input({3}),
                 {layers::Lambda([](const Tensor& t) {
                    return relu(t) * 2.f + constant({1.f, 2.f, 3.f});
                  }),
                  layers::Dense(2)},
                 "lambda");
  lam.save(root + "/model/lambda.duet");
  // functions: variables, cond, while_loop, several signatures, a registered host function.
  Variable w(random::normal({3, 3}), {.name = "w"});
  auto loop = function([&](const Tensor& x, const Tensor& n) {
    Tensor y = cond(
        sum(x) > 0.f, [&] { return matmul(x, w.value()); }, [&] { return -x; });
    return while_loop([&](const std::vector<Tensor>& v) { return v[0] < n; },
                      [&](const std::vector<Tensor>& v) {
                        return std::vector<Tensor>{v[0] + 1, tanh(v[1]) + y};
                      },
                      {scalar(0), y}, {.maximum_iterations = 8});
  });
  (void)loop(ones({2, 3}), scalar(3));
  (void)loop(ones({4, 3}), scalar(2));
  loop.save(root + "/function/control_flow.duetfn");
  register_host_function("fuzz.identity", [](const std::vector<Tensor>& in) { return in; });
  auto host = function(
      [](const Tensor& x) {
        return host_function("fuzz.identity", {x * 2.f}, {{DType::Float32, Shape{Shape::kUnknown}}})[0] + 1.f;
      },
      {.input_signature = std::vector<TensorSpec>{{DType::Float32, Shape{Shape::kUnknown}}}});
  (void)host(ones({5}));
  host.save(root + "/function/host.duetfn");
  // checkpoints of the fuzzer's model, before and after training.
  small.compile({.optimizer = "adam", .loss = "mse"});
  Checkpoint(small).save(root + "/checkpoint/fresh.safetensors");
  small.fit(random::normal({8, 4}), random::normal({8, 2}), {.epochs = 1, .batch_size = 4, .verbose = 0});
  Checkpoint(small).save(root + "/checkpoint/trained.safetensors");
  return 0;
}
