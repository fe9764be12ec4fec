// The threading contract (README, function.h, model.h): a compiled function and a built model's
// predict/evaluate/operator() may be called from many threads at once, first calls (traces) included; what
// may not run at once (two fits, predict during another thread's fit) throws StateError. Each stress test
// runs 8 threads cold (the first calls race) and warm, against single-threaded results. Run under
// ThreadSanitizer by `make test-tsan`.
#include <atomic>
#include <future>
#include <set>
#include <thread>

#include "test_util.h"

namespace duet {
namespace {

constexpr int kThreads = 8;

template <class F>
void in_threads(int n, F&& f) {
  std::vector<std::thread> ts;
  std::atomic<int> ready{0};
  for (int t = 0; t < n; ++t) {
    ts.emplace_back([&, t] {
      ++ready;
      while (ready.load() < n) std::this_thread::yield();  // start together: the first calls race
      f(t);
    });
  }
  for (auto& t : ts) t.join();
}

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

TEST(Concurrency, OneFunctionFromManyThreadsColdAndWarm) {
  auto f = function([](const Tensor& x) { return tanh(x) * 2.f + sum(x * x, {-1}, true); },
                    {.name = "shared", .max_traces = 4});
  std::vector<Tensor> inputs;
  for (int t = 0; t < kThreads; ++t)
    inputs.push_back(random::normal({2 + t % 5, 3}, 0, 1, DType::Float32, static_cast<std::uint64_t>(t)));
  std::vector<std::vector<float>> want;
  for (const Tensor& x : inputs) want.push_back(values(tanh(x) * 2.f + sum(x * x, {-1}, true)));
  for (int round = 0; round < 3; ++round) {  // round 0 cold (traces race, 5 shapes with 4 kept: evictions), then warm
    std::vector<std::vector<float>> got(kThreads);
    in_threads(kThreads, [&](int t) {
      for (int k = 0; k < 20; ++k) got[static_cast<std::size_t>(t)] = values(f(inputs[static_cast<std::size_t>(t)]));
    });
    for (int t = 0; t < kThreads; ++t)
      EXPECT_EQ(got[static_cast<std::size_t>(t)], want[static_cast<std::size_t>(t)]) << "thread " << t;
  }
  EXPECT_GE(f.trace_count(), 5);
  EXPECT_FALSE(f.retrace_reasons().empty());
}

// A function with an unknown batch dim, called from many threads with two batch sizes at once: each set of
// argument shapes gets its own memory plan, instances are taken and given back concurrently, and a switch
// of shapes releases the other shape's idle instances while other threads still run on theirs.
TEST(Concurrency, PerShapeMemoryPlansFromManyThreads) {
  auto body = [](const Tensor& x) { return sum(tanh(x * 0.5f) * x + 1.f, {1}); };
  auto f = function(body, {.name = "batched",
                           .input_signature = std::vector<TensorSpec>{{DType::Float32, Shape{Shape::kUnknown, 8}}}});
  std::vector<Tensor> inputs;
  std::vector<std::vector<float>> want;
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(random::normal({t % 2 ? 3 : 16, 8}, 0, 1, DType::Float32, static_cast<std::uint64_t>(t + 1)));
    want.push_back(values(body(inputs.back())));
  }
  std::vector<int> wrong(kThreads, 0);
  in_threads(kThreads, [&](int t) {
    for (int k = 0; k < 40; ++k) {
      const auto i = static_cast<std::size_t>((t + k) % kThreads);  // every thread uses both shapes
      if (values(f(inputs[i])) != want[i]) ++wrong[static_cast<std::size_t>(t)];
    }
  });
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(wrong[static_cast<std::size_t>(t)], 0) << "thread " << t;
  EXPECT_EQ(f.trace_count(), 1);
}

// Loading the same function file from many threads at once, then calling one loaded function from all of them
// (several signatures, so calls pick different plans).
TEST(Concurrency, LoadedFunctionsFromManyThreads) {
  testing::Scratch s;
  Variable w(random::normal({3, 3}, 0, 1, DType::Float32, 1), {.name = "w"});
  auto f = function([&](const Tensor& x) { return tanh(matmul(x, w.value())) + 1.f; }, {.name = "saved"});
  std::vector<Tensor> inputs;
  std::vector<std::vector<float>> want;
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(random::normal({1 + t % 3, 3}, 0, 1, DType::Float32, static_cast<std::uint64_t>(t)));
    want.push_back(values(f(inputs.back())));
  }
  const std::string path = s.path("saved.duetfn");
  f.save(path);
  std::vector<LoadedFunction> loaded(kThreads);
  in_threads(kThreads, [&](int t) { loaded[static_cast<std::size_t>(t)] = load_function(path); });
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(values(loaded[t](inputs[t])[0]), want[t]) << "thread " << t;
  const LoadedFunction& shared = loaded[0];
  std::atomic<int> wrong{0};
  in_threads(kThreads, [&](int t) {
    for (int i = 0; i < 20; ++i)
      if (values(shared(inputs[t])[0]) != want[t]) ++wrong;
  });
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Concurrency, ModelPredictEvaluateAndCallFromManyThreads) {
  Sequential model({layers::Conv2D(4, {3, 3}, {.padding = "same", .activation = "relu"}), layers::MaxPooling2D(),
                    layers::Flatten(), layers::Dropout(0.5), layers::Dense(3)});
  model.compile({.optimizer = "adam", .loss = losses::SparseCategoricalCrossentropy(true), .metrics = {"accuracy"}});
  Tensor x = random::normal({24, 6, 6, 1}, 0, 1, DType::Float32, 1);
  Tensor y = cast(random::uniform({24}, 0, 3, DType::Float32, 2), DType::Int32);
  model(x);  // build
  std::vector<std::vector<float>> preds(kThreads);
  std::vector<double> losses(kThreads);
  in_threads(kThreads, [&](int t) {  // cold: the predict and test steps are traced by whichever thread comes first
    preds[static_cast<std::size_t>(t)] = values(model.predict(x, {.batch_size = 8 + t}));
    losses[static_cast<std::size_t>(t)] = model.evaluate(x, y, {.batch_size = 24})["loss"];
  });
  const auto want = values(model.predict(x, {.batch_size = 24}));
  const double want_loss = model.evaluate(x, y, {.batch_size = 24})["loss"];
  for (int t = 0; t < kThreads; ++t) {
    testing::expect_close(
        {{24, 3}, {preds[static_cast<std::size_t>(t)].begin(), preds[static_cast<std::size_t>(t)].end()}},
        {{24, 3}, {want.begin(), want.end()}}, 1e-5, 1e-6, "predict in thread " + std::to_string(t));
    EXPECT_NEAR(losses[static_cast<std::size_t>(t)], want_loss, 1e-6) << "evaluate in thread " << t;
  }
  in_threads(kThreads, [&](int t) {  // warm, and eager calls of the model itself
    auto got = values(model(x));
    EXPECT_EQ(got.size(), want.size());
    auto p = values(model.predict(x, {.batch_size = 5 + t}));
    for (std::size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], want[i], 1e-5) << "thread " << t;
  });
}

// Issue 26: four threads, each with its own GradientTape, call one shared model and take the gradients of
// the loss with respect to its weights. oneDNN's library-managed scratchpad was shared by every execution
// of a cached primitive (a dense layer's input gradient, dy @ W^T), so 4 to 14 of 240 gradients came out
// wrong (max abs difference 0.47), with one kernel thread too. Eager tapes, tapes inside a compiled
// function and predict run at once, each checked against the single-threaded result.
std::vector<std::vector<float>> all_values(const std::vector<Tensor>& ts) {
  std::vector<std::vector<float>> v;
  for (const Tensor& t : ts) v.push_back(values(t));
  return v;
}
int count_differences(const std::vector<std::vector<float>>& got, const std::vector<std::vector<float>>& want) {
  int bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    for (std::size_t j = 0; j < want[i].size(); ++j)
      bad += !(std::abs(got[i][j] - want[i][j]) <= 1e-5f * (1.f + std::abs(want[i][j])));
  return bad;
}

TEST(Concurrency, TapesInEveryThreadOnOneModelEagerAndCompiled) {
  Sequential model({layers::Conv2D(8, {3, 3}, {.padding = "same", .activation = "relu"}), layers::MaxPooling2D(),
                    layers::Flatten(), layers::Dense(32, "relu"), layers::Dense(10)});
  Tensor x = random::normal({8, 28, 28, 1}, 0, 1, DType::Float32, 1);
  Tensor y = cast(random::uniform({8}, 0, 10, DType::Float32, 2), DType::Int32);
  model(x);  // build
  const auto loss_fn = losses::SparseCategoricalCrossentropy(true);
  auto gradients = [&](const Tensor& xb, const Tensor& yb) {
    GradientTape tape;
    Tensor loss = (*loss_fn)(yb, model(xb, true));
    const auto ws = model.trainable_weights();
    return tape.gradient(loss, std::vector<Source>(ws.begin(), ws.end()));
  };
  auto compiled =
      function([&](const Tensor& xb, const Tensor& yb) { return gradients(xb, yb); }, {.name = "gradients"});
  const auto want = all_values(gradients(x, y));
  const auto want_logits = values(model(x));
  ASSERT_EQ(count_differences(all_values(compiled(x, y)), want), 0) << "compiled vs eager, one thread";
  constexpr int kTapeThreads = 4, kCalls = 60;
  std::vector<int> wrong_eager(kTapeThreads), wrong_compiled(kTapeThreads), wrong_predict(kTapeThreads);
  in_threads(kTapeThreads, [&](int t) {
    for (int k = 0; k < kCalls; ++k) {
      const auto i = static_cast<std::size_t>(t);
      wrong_eager[i] += count_differences(all_values(gradients(x, y)), want) > 0;
      if (k % 4 == t % 4) wrong_compiled[i] += count_differences(all_values(compiled(x, y)), want) > 0;
      if (k % 8 == t % 8) wrong_predict[i] += count_differences({values(model.predict(x))}, {want_logits}) > 0;
    }
  });
  for (int t = 0; t < kTapeThreads; ++t) {
    const auto i = static_cast<std::size_t>(t);
    EXPECT_EQ(wrong_eager[i], 0) << "thread " << t << ": eager tape gradients that differ from one thread's";
    EXPECT_EQ(wrong_compiled[i], 0) << "thread " << t << ": compiled tape gradients that differ";
    EXPECT_EQ(wrong_predict[i], 0) << "thread " << t << ": predictions that differ";
  }
}

// Layers and models made, built and trained from several threads at once: every layer gets a name of its
// own, every model its own weights, and what each thread computed (predictions, tape gradients, one fit
// epoch) is what the same model gives afterwards on one thread.
TEST(Concurrency, LayersAndModelsCreatedFromManyThreads) {
  struct Made {
    std::shared_ptr<Sequential> model;
    std::vector<float> predicted;
    std::vector<std::vector<float>> grads;
  };
  std::vector<Made> made(kThreads);
  Tensor x = random::normal({6, 6, 6, 1}, 0, 1, DType::Float32, 5);
  Tensor y = cast(random::uniform({6}, 0, 3, DType::Float32, 6), DType::Int32);
  const auto loss_fn = losses::SparseCategoricalCrossentropy(true);
  auto gradients = [&](Sequential& m) {
    GradientTape tape;
    Tensor loss = (*loss_fn)(y, m(x, true));
    const auto ws = m.trainable_weights();
    return all_values(tape.gradient(loss, std::vector<Source>(ws.begin(), ws.end())));
  };
  in_threads(kThreads, [&](int t) {
    Made& m = made[static_cast<std::size_t>(t)];
    m.model = std::make_shared<Sequential>(
        std::vector<LayerRef>{layers::Conv2D(4, {3, 3}, {.padding = "same", .activation = "relu"}),
                              layers::MaxPooling2D(), layers::Flatten(), layers::Dense(5, "tanh"), layers::Dense(3)});
    m.model->compile({.optimizer = "sgd", .loss = losses::SparseCategoricalCrossentropy(true)});
    m.model->fit(x, y, {.epochs = 1, .batch_size = 3, .verbose = 0});  // builds, traces and trains
    m.predicted = values(m.model->predict(x));
    m.grads = gradients(*m.model);
  });
  std::set<std::string> names;
  std::set<const void*> weights;
  std::size_t n_layers = 0, n_weights = 0;
  for (const Made& m : made) {
    for (const auto& l : m.model->sublayers()) names.insert(l->name()), ++n_layers;
    for (const auto& w : m.model->weights()) weights.insert(w.ref().get()), ++n_weights;
    EXPECT_EQ(values(m.model->predict(x)), m.predicted);
    EXPECT_EQ(count_differences(gradients(*m.model), m.grads), 0);
  }
  EXPECT_EQ(names.size(), n_layers) << "two layers made at once got the same name";
  EXPECT_EQ(weights.size(), n_weights);
  EXPECT_EQ(n_layers, static_cast<std::size_t>(5 * kThreads));
}

// A model that is not built yet, first called from several threads at once: it is built once (one set of
// weights), and every thread gets the same result.
TEST(Concurrency, UnbuiltModelFirstCalledFromManyThreads) {
  Sequential model({layers::Dense(6, "relu"), layers::Dense(2)});
  Tensor x = random::normal({4, 3}, 0, 1, DType::Float32, 9);
  std::vector<std::vector<float>> got(kThreads);
  in_threads(kThreads, [&](int t) { got[static_cast<std::size_t>(t)] = values(model(x)); });
  EXPECT_EQ(model.weights().size(), 4u);
  const auto want = values(model(x));
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(got[static_cast<std::size_t>(t)], want) << "thread " << t;
}

TEST(Concurrency, ConcurrentFitsAndPredictDuringFitAreRefused) {
  Sequential model({layers::Dense(4), layers::Dense(1)});
  model.compile({.optimizer = "sgd", .loss = "mse"});
  Tensor x = random::normal({64, 3}, 0, 1, DType::Float32, 3), y = random::normal({64, 1}, 0, 1, DType::Float32, 4);
  model.fit(x, y, {.epochs = 1, .verbose = 0});  // build and trace
  std::promise<void> inside, checked;
  auto checked_future = checked.get_future().share();
  bool signalled = false;
  auto wait = callbacks::LambdaCallback({.on_batch_end = [&](Model&, int, const Logs&) {
    if (signalled) return;
    signalled = true;
    inside.set_value();
    checked_future.wait();  // hold this fit in the middle while the other thread tries
  }});
  std::thread fitter([&] { model.fit(x, y, {.epochs = 1, .batch_size = 8, .verbose = 0, .callbacks = {wait}}); });
  inside.get_future().wait();
  EXPECT_THROW(model.fit(x, y, {.epochs = 1, .verbose = 0}), StateError);
  EXPECT_THROW(model.predict(x), StateError);
  EXPECT_THROW(model.evaluate(x, y), StateError);
  EXPECT_THROW(model.compile({.optimizer = "adam", .loss = "mse"}), StateError);
  checked.set_value();
  fitter.join();
  EXPECT_EQ(model.predict(x).shape(), (Shape{64, 1}));  // fine again once fit is done
}

}  // namespace
}  // namespace duet
