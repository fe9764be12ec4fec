// The threading contract (README, function.h, model.h): a compiled function and a built model's
// predict/evaluate/operator() may be called from many threads at once, first calls (traces) included; what
// may not run at once (two fits, predict during another thread's fit) throws StateError. Each stress test
// runs 8 threads cold (the first calls race) and warm, against single-threaded results. Run under
// ThreadSanitizer by `make test-tsan`.
#include <atomic>
#include <future>
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
