// Saving and loading the tf-cnn (3.3M parameters, 13 MB of float32): whole-model files, weights and
// checkpoints, against a raw write/read of the same bytes (the floor any format pays). Files go to a
// directory under /tmp (set DUET_BENCH_DIR to measure another disk).
#include <fcntl.h>
#include <unistd.h>
#include <benchmark/benchmark.h>
#include <duet/duet.h>

#include <cstdlib>
#include <vector>

using namespace duet;

namespace {

std::string dir() {
  static const std::string d = [] {
    if (const char* e = std::getenv("DUET_BENCH_DIR")) return std::string(e);
    char tmpl[] = "/tmp/duet_bench_XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  return d;
}

Sequential& tf_cnn() {
  static Sequential* m = [] {
    auto* s =
        new Sequential(Input({28, 28, 1}),
                       {layers::Conv2D(32, {5, 5}, {.padding = "same", .activation = "relu"}), layers::MaxPooling2D(),
                        layers::Conv2D(64, {5, 5}, {.padding = "same", .activation = "relu"}), layers::MaxPooling2D(),
                        layers::Flatten(), layers::Dense(1024, "relu"), layers::Dropout(0.4), layers::Dense(10)},
                       "tf_cnn");
    s->compile({.optimizer = "adam", .loss = losses::SparseCategoricalCrossentropy(true)});
    s->fit(random::normal({8, 28, 28, 1}), zeros({8}, DType::Int32), {.epochs = 1, .batch_size = 8, .verbose = 0});
    return s;
  }();
  return *m;
}

std::int64_t weight_bytes() {
  std::int64_t n = 0;
  for (const Variable& v : tf_cnn().weights()) n += v.value().num_elements() * 4;
  return n;
}

void report(benchmark::State& state, const std::string& path) {
  state.SetBytesProcessed(state.iterations() * weight_bytes());
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f) {
    std::fseek(f, 0, SEEK_END);
    state.counters["file_MB"] = static_cast<double>(std::ftell(f)) / 1e6;
    std::fclose(f);
  }
  state.counters["params_M"] = static_cast<double>(tf_cnn().count_params()) / 1e6;
}

void BM_SaveModel(benchmark::State& state) {
  std::string p = dir() + "/m.duet";
  for (auto _ : state) tf_cnn().save(p);
  report(state, p);
}
BENCHMARK(BM_SaveModel)->Unit(benchmark::kMillisecond);

void BM_LoadModel(benchmark::State& state) {
  std::string p = dir() + "/m.duet";
  tf_cnn().save(p);
  for (auto _ : state) benchmark::DoNotOptimize(load_model(p));
  report(state, p);
}
BENCHMARK(BM_LoadModel)->Unit(benchmark::kMillisecond);

void BM_LoadWeights(benchmark::State& state) {
  std::string p = dir() + "/w.safetensors";
  tf_cnn().save_weights(p);
  for (auto _ : state) tf_cnn().load_weights(p);
  report(state, p);
}
BENCHMARK(BM_LoadWeights)->Unit(benchmark::kMillisecond);

void BM_SaveCheckpoint(benchmark::State& state) {
  std::string p = dir() + "/c.safetensors";
  Checkpoint c(tf_cnn());
  for (auto _ : state) c.save(p);
  report(state, p);
}
BENCHMARK(BM_SaveCheckpoint)->Unit(benchmark::kMillisecond);

// A traced function: the tf-cnn's forward pass on a batch of 64, saved by Function::save; the time from
// load_function to its first result (read, check, trace, optimize, compile, run), and one call once loaded.
std::string saved_forward() {
  static const std::string p = [] {
    std::string path = dir() + "/forward.duetfn";
    auto f = function([](const Tensor& x) { return tf_cnn()(x); }, {.name = "tf_cnn_forward"});
    (void)f(random::normal({64, 28, 28, 1}));
    f.save(path);
    return path;
  }();
  return p;
}

void BM_LoadFunctionToFirstResult(benchmark::State& state) {
  std::string p = saved_forward();
  Tensor x = random::normal({64, 28, 28, 1});
  for (auto _ : state) benchmark::DoNotOptimize(load_function(p)(x)[0].data<float>());
  report(state, p);
}
BENCHMARK(BM_LoadFunctionToFirstResult)->Unit(benchmark::kMillisecond);

void BM_LoadedFunctionCall(benchmark::State& state) {
  LoadedFunction f = load_function(saved_forward());
  Tensor x = random::normal({64, 28, 28, 1});
  for (auto _ : state) benchmark::DoNotOptimize(f(x)[0].data<float>());
}
BENCHMARK(BM_LoadedFunctionCall)->Unit(benchmark::kMillisecond);

// The same forward pass as a duet::function traced in this process (the loaded function should match it).
void BM_TracedFunctionCall(benchmark::State& state) {
  auto f = function([](const Tensor& x) { return tf_cnn()(x); });
  Tensor x = random::normal({64, 28, 28, 1});
  (void)f(x);
  for (auto _ : state) benchmark::DoNotOptimize(f(x).data<float>());
}
BENCHMARK(BM_TracedFunctionCall)->Unit(benchmark::kMillisecond);

// The floor: the same bytes written (with fsync, as every duet save) and read back with plain system calls.
void BM_RawWriteFsync(benchmark::State& state) {
  std::vector<char> bytes(static_cast<std::size_t>(weight_bytes()), 1);
  std::string p = dir() + "/raw";
  for (auto _ : state) {
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    benchmark::DoNotOptimize(::write(fd, bytes.data(), bytes.size()));
    ::fsync(fd);
    ::close(fd);
  }
  report(state, p);
}
BENCHMARK(BM_RawWriteFsync)->Unit(benchmark::kMillisecond);

void BM_RawRead(benchmark::State& state) {
  std::vector<char> bytes(static_cast<std::size_t>(weight_bytes()));
  std::string p = dir() + "/raw";
  for (auto _ : state) {
    int fd = ::open(p.c_str(), O_RDONLY);
    benchmark::DoNotOptimize(::read(fd, bytes.data(), bytes.size()));
    ::close(fd);
  }
  report(state, p);
}
BENCHMARK(BM_RawRead)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
