// The duet command line: train the Fashion-MNIST models, and the demo `make demo` runs.
#include <duet/duet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace duet;

namespace {

const char* kUsage =
    "usage: duet <command> [options]\n"
    "\n"
    "commands:\n"
    "  train fashion-mnist   train a model on Fashion-MNIST and report test accuracy and throughput\n"
    "  evaluate MODEL        test accuracy and loss of a saved model (duet train --save) on Fashion-MNIST\n"
    "  predict MODEL         classify the images of an IDX file with a saved model\n"
    "  info FILE             a saved model's summary, inputs, outputs and sizes (or a saved function's\n"
    "                        signatures and variables)\n"
    "  demo                  what `make demo` runs: train the small CNN compiled, then compare eager and graph\n"
    "\n"
    "run `duet <command> --help` for its options\n";

const char* kTrainHelp =
    "usage: duet train fashion-mnist [options]\n"
    "\n"
    "  --model {mlp,cnn,tf-cnn}  mlp: 784-256-128-10; cnn: two 3x3 conv blocks (50K params); tf-cnn: the\n"
    "                            TensorFlow tutorial network (5x5x32, 5x5x64, dense 1024, dropout 0.4). default cnn\n"
    "  --epochs N                passes over the 60,000 training images (default 5)\n"
    "  --batch-size B            examples per step (default 64)\n"
    "  --mode {graph,eager}      graph: the train step is one traced function; eager: op by op (default graph)\n"
    "  --learning-rate LR        Adam learning rate (default 0.001)\n"
    "  --seed S                  weight initialization and shuffling seed (default 1)\n"
    "  --steps N                 train on only the first N batches of the training set (benchmarks)\n"
    "  --data-dir DIR            IDX files (default /usr/share/datasets/fashion-mnist, or $DUET_DATA_DIR)\n"
    "  --save PATH               write the trained model there (architecture and weights; duet evaluate reads it)\n"
    "  --checkpoint-dir DIR      back the run up into DIR while it trains; if DIR holds a backup (the run was\n"
    "                            killed), continue from it: same flags, bitwise the same result. Removed when done\n"
    "  --checkpoint-every N      back up every N steps (default: every epoch)\n"
    "  --quiet                   no progress bar\n"
    "\n"
    "Started by an MPI launcher, the ranks train data-parallel: each takes its part of every batch (the global\n"
    "batch B), they average gradients, and rank 0 alone prints, saves and backs up, e.g.\n"
    "  mpirun -np 2 duet train fashion-mnist --model mlp    (as root: --allow-run-as-root)\n";

const char* kEvaluateHelp =
    "usage: duet evaluate MODEL [--data-dir DIR] [--batch-size B]\n"
    "\n"
    "Loads a model saved by `duet train --save` (or Model::save) and reports its accuracy and loss on the\n"
    "Fashion-MNIST test set.\n";

const char* kPredictHelp =
    "usage: duet predict MODEL --images FILE [--output FILE] [--batch-size B]\n"
    "\n"
    "Classifies the images of an IDX file (28x28 unsigned bytes, .gz or plain) with a saved model: one line\n"
    "per image, 'index class name', on stdout, or the class numbers, one per line, into --output.\n";

const char* kInfoHelp =
    "usage: duet info FILE\n"
    "\n"
    "Prints a saved model's summary, its inputs and outputs, parameter count and file size; for a function saved\n"
    "by Function::save, its signatures and variables.\n";

const char* kDemoHelp =
    "usage: duet demo [--epochs N] [--steps N] [--data-dir DIR]\n"
    "\n"
    "Trains the small CNN on Fashion-MNIST with a compiled train step, prints the test\n"
    "accuracy (default 15 epochs, Adam with a cosine-decayed learning rate), then runs 300 training steps eagerly and "
    "300 compiled on the same model, in three alternating rounds of 100 each, and prints the median images/s.\n"
    "--steps N trains on only the first N batches per epoch and times N steps per mode (a quick check).\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
};

Args parse(int argc, char** argv, int start, const std::map<std::string, std::vector<std::string>>& options,
           const std::set<std::string>& switches) {
  Args a;
  for (int i = start; i < argc; ++i) {
    std::string k = argv[i];
    if (switches.count(k)) {
      a.flags.insert(k);
      continue;
    }
    auto it = options.find(k);
    if (it == options.end()) {
      std::string valid;
      for (auto& [name, _] : options) valid += " " + name;
      for (auto& s : switches) valid += " " + s;
      throw UsageError("unknown option '" + k + "'; valid options:" + valid);
    }
    if (i + 1 >= argc) throw UsageError("option " + k + " needs a value");
    std::string v = argv[++i];
    if (!it->second.empty() && std::find(it->second.begin(), it->second.end(), v) == it->second.end()) {
      std::string valid;
      for (auto& c : it->second) valid += (valid.empty() ? "" : ", ") + c;
      throw UsageError("invalid value '" + v + "' for " + k + "; valid values: " + valid);
    }
    a.values[k] = v;
  }
  return a;
}

// Numbers are parsed strictly: the whole text, no overflow, within [lo, hi].
std::int64_t to_int(const Args& a, const std::string& k, std::int64_t def, std::int64_t lo, std::int64_t hi) {
  auto it = a.values.find(k);
  if (it == a.values.end()) return def;
  const std::string& s = it->second;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi) {
    throw UsageError(k + " needs a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got '" +
                     s + "'");
  }
  return v;
}

double to_double(const Args& a, const std::string& k, double def, double lo, double hi) {
  auto it = a.values.find(k);
  if (it == a.values.end()) return def;
  const std::string& s = it->second;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || !end || *end || errno == ERANGE || !std::isfinite(v) || !(v > lo) || v > hi) {
    throw UsageError(k + " needs a finite number above " + std::to_string(lo) + " and at most " + std::to_string(hi) +
                     ", got '" + s + "'");
  }
  return v;
}

std::shared_ptr<Sequential> build_model(const std::string& kind) {
  Tensor in = Input({28, 28, 1});
  std::vector<LayerRef> ls;
  if (kind == "mlp") {
    ls = {layers::Flatten(), layers::Dense(256, "relu"), layers::Dense(128, "relu"), layers::Dense(10)};
  } else if (kind == "cnn") {
    // Batch normalization between each convolution and its relu (the convolutions need no bias then).
    ls = {layers::Conv2D(32, {3, 3}, {.padding = "same", .use_bias = false}),
          layers::BatchNormalization(),
          layers::Activation("relu"),
          layers::MaxPooling2D(),
          layers::Conv2D(64, {3, 3}, {.padding = "same", .use_bias = false}),
          layers::BatchNormalization(),
          layers::Activation("relu"),
          layers::MaxPooling2D(),
          layers::Flatten(),
          layers::Dropout(0.3),
          layers::Dense(10)};
  } else {
    ls = {layers::Conv2D(32, {5, 5}, {.padding = "same", .activation = "relu"}),
          layers::MaxPooling2D(),
          layers::Conv2D(64, {5, 5}, {.padding = "same", .activation = "relu"}),
          layers::MaxPooling2D(),
          layers::Flatten(),
          layers::Dense(1024, "relu"),
          layers::Dropout(0.4),
          layers::Dense(10)};
  }
  return std::make_shared<Sequential>(in, ls, kind);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int train(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "duet: train needs a data set\n" << kTrainHelp;
    return 2;
  }
  if (std::string(argv[2]) == "--help" || std::string(argv[2]) == "-h") {
    std::cout << kTrainHelp;
    return 0;
  }
  if (std::string(argv[2]) != "fashion-mnist")
    throw UsageError("unknown data set '" + std::string(argv[2]) + "'; valid: fashion-mnist");
  Args a = parse(argc, argv, 3,
                 {{"--model", {"mlp", "cnn", "tf-cnn"}},
                  {"--epochs", {}},
                  {"--batch-size", {}},
                  {"--mode", {"graph", "eager"}},
                  {"--seed", {}},
                  {"--data-dir", {}},
                  {"--learning-rate", {}},
                  {"--steps", {}},
                  {"--save", {}},
                  {"--checkpoint-dir", {}},
                  {"--checkpoint-every", {}}},
                 {"--quiet", "--help"});
  if (a.flags.count("--help")) {
    std::cout << kTrainHelp;
    return 0;
  }
  std::string kind = a.values.count("--model") ? a.values["--model"] : "cnn";
  const std::int64_t epochs = to_int(a, "--epochs", 5, 1, 100000), batch = to_int(a, "--batch-size", 64, 1, 1 << 20),
                     seed = to_int(a, "--seed", 1, 0, INT64_MAX);
  bool eager = a.values.count("--mode") && a.values["--mode"] == "eager";
  double lr = to_double(a, "--learning-rate", 1e-3, 0.0, 10.0);
  const std::int64_t ckpt_every = to_int(a, "--checkpoint-every", 0, 1, INT64_MAX);
  if (a.values.count("--checkpoint-every") && !a.values.count("--checkpoint-dir"))
    throw UsageError("--checkpoint-every needs --checkpoint-dir");
  for (const char* k : {"--save", "--checkpoint-dir", "--data-dir"})
    if (a.values.count(k) && a.values[k].empty()) throw UsageError(std::string(k) + " needs a non-empty path");
  auto data = data::load_fashion_mnist(a.values.count("--data-dir") ? a.values["--data-dir"] : "");
  if (std::int64_t steps = to_int(a, "--steps", 0, 0, 1000000000); steps > 0) {
    std::int64_t n = std::min<std::int64_t>(steps * batch, data.train.images.shape()[0]);
    if (n < data.train.images.shape()[0]) {  // slicing copies: not when every image is used anyway
      data.train.images = slice(data.train.images, {0, 0, 0, 0}, {n, -1, -1, -1});
      data.train.labels = slice(data.train.labels, {0}, {n});
    }
  }
  random::set_seed(static_cast<std::uint64_t>(seed));
  auto model = build_model(kind);
  // Data parallel when an MPI launcher started several ranks (one rank: the usual training).
  model->compile({.optimizer = optimizers::Adam(lr),
                  .loss = losses::SparseCategoricalCrossentropy(true),
                  .metrics = {"accuracy"},
                  .run_eagerly = eager,
                  .distribute = distributed::DataParallel{}});
  const int ranks = distributed::size();
  const bool chief = distributed::is_chief();
  if (chief) {
    model->summary();
    std::cout << "training " << kind << " on " << data.train.images.shape()[0] << " images, "
              << (eager ? "eager" : "graph") << " mode, batch " << batch << ", " << config::num_threads() << " threads";
    if (ranks > 1) std::cout << " on each of " << ranks << " ranks (" << batch / ranks << "+ examples per rank)";
    std::cout << "\n";
  }
  std::vector<callbacks::CallbackPtr> cbs;
  if (a.values.count("--checkpoint-dir")) {
    cbs.push_back(callbacks::BackupAndRestore(a.values["--checkpoint-dir"], {.save_freq = ckpt_every}));
  }
  // The first step also traces and plans the train step: the rate after it is the steady one (what the
  // benchmark's peers report, their first step compiling too).
  std::optional<std::chrono::steady_clock::time_point> after_first;
  cbs.push_back(callbacks::LambdaCallback({.on_batch_end = [&](Model&, int, const Logs&) {
    if (!after_first) after_first = std::chrono::steady_clock::now();
  }}));
  auto t0 = std::chrono::steady_clock::now();
  distributed::reset_stats();
  History h = model->fit(data.train.images, data.train.labels,
                         {.epochs = static_cast<int>(epochs),
                          .batch_size = batch,
                          .verbose = a.flags.count("--quiet") ? 0 : 1,
                          .callbacks = cbs,
                          .seed = static_cast<std::uint64_t>(seed)});
  double secs = seconds_since(t0);
  const distributed::Stats comm = distributed::stats();
  auto logs = model->evaluate(data.test.images, data.test.labels, {.batch_size = 256});
  if (!chief) return 0;
  std::printf("test accuracy: %.4f  test loss: %.4f\n", logs["accuracy"], logs["loss"]);
  if (h.epochs_run > 0 && secs > 0) {
    double images =
        static_cast<double>(h.history.begin()->second.size()) * static_cast<double>(data.train.images.shape()[0]);
    std::printf("training: %.1f s, %.0f images/s", secs, images / secs);
    const double rest = after_first ? seconds_since(*after_first) - (seconds_since(t0) - secs) : 0;
    if (rest > 0 && images > static_cast<double>(batch))
      std::printf(" (%.0f images/s after the first step)", (images - static_cast<double>(batch)) / rest);
    std::printf("\n");
    if (ranks > 1) {
      std::printf("collectives (rank 0): %lld calls, %.1f MB, %.2f s (%.1f%% of training)\n",
                  static_cast<long long>(comm.calls), static_cast<double>(comm.bytes) / 1e6, comm.seconds,
                  100 * comm.seconds / secs);
    }
  }
  if (a.values.count("--save")) {
    model->save(a.values["--save"]);
    std::printf("saved the model to %s\n", a.values["--save"].c_str());
  }
  return 0;
}

// A saved model's path: the first argument after the command (help handled by the caller).
std::string model_path(int argc, char** argv, const char* help) {
  if (argc < 3 || argv[2][0] == '-') throw UsageError(std::string("the model file is missing\n") + help);
  return argv[2];
}

// The model compiled for Fashion-MNIST: sparse labels, logits unless its last layer applies a softmax.
void compile_for_labels(Model& m) {
  bool logits = true;
  auto ls = m.layers();
  if (!ls.empty()) {
    if (auto c = ls.back()->get_config(); c && c->has("activation") && c->get_string("activation") == "softmax")
      logits = false;
  }
  m.compile({.optimizer = "adam", .loss = losses::SparseCategoricalCrossentropy(logits), .metrics = {"accuracy"}});
}

bool wants_help(int argc, char** argv) {
  for (int i = 2; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") return true;
  return false;
}

int evaluate(int argc, char** argv) {
  if (wants_help(argc, argv)) {
    std::cout << kEvaluateHelp;
    return 0;
  }
  std::string path = model_path(argc, argv, kEvaluateHelp);
  Args a = parse(argc, argv, 3, {{"--data-dir", {}}, {"--batch-size", {}}}, {});
  const std::int64_t batch = to_int(a, "--batch-size", 256, 1, 1 << 20);
  std::shared_ptr<Model> model = load_model(path);
  compile_for_labels(*model);
  auto data = data::load_fashion_mnist(a.values.count("--data-dir") ? a.values["--data-dir"] : "");
  auto logs = model->evaluate(data.test.images, data.test.labels, {.batch_size = batch});
  std::printf("test accuracy: %.4f  test loss: %.4f  (%lld images, model %s)\n", logs["accuracy"], logs["loss"],
              static_cast<long long>(data.test.images.shape()[0]), model->name().c_str());
  return 0;
}

int predict(int argc, char** argv) {
  if (wants_help(argc, argv)) {
    std::cout << kPredictHelp;
    return 0;
  }
  std::string path = model_path(argc, argv, kPredictHelp);
  Args a = parse(argc, argv, 3, {{"--images", {}}, {"--output", {}}, {"--batch-size", {}}}, {});
  if (!a.values.count("--images")) throw UsageError(std::string("--images FILE is required\n") + kPredictHelp);
  const std::int64_t batch = to_int(a, "--batch-size", 256, 1, 1 << 20);
  std::shared_ptr<Model> model = load_model(path);
  Tensor x = data::read_idx(a.values["--images"], DType::Float32, 1.0 / 255.0);
  if (x.rank() == 3) x = expand_dims(x, -1);
  if (x.rank() == 2) x = reshape(x, {1, x.shape()[0], x.shape()[1], 1});  // one image
  Tensor y = model->predict(x, {.batch_size = batch});
  if (y.rank() != 2) {
    throw ValueError("[predict] the model returns " + y.shape().str() +
                     "; duet predict needs class scores (N, classes)");
  }
  std::vector<std::int64_t> cls = argmax(y, -1).to_vector<std::int64_t>();
  if (a.values.count("--output")) {
    saving::write_file_atomically(a.values["--output"], [&](std::FILE* f) {
      for (std::int64_t c : cls) std::fprintf(f, "%lld\n", static_cast<long long>(c));
    });
    std::printf("wrote %zu predictions to %s\n", cls.size(), a.values["--output"].c_str());
  } else {
    for (std::size_t i = 0; i < cls.size(); ++i) {
      std::printf("%zu %lld %s\n", i, static_cast<long long>(cls[i]),
                  y.shape()[1] == 10 ? data::fashion_mnist_class(static_cast<int>(cls[i])) : "");
    }
  }
  return 0;
}

int info(int argc, char** argv) {
  if (wants_help(argc, argv)) {
    std::cout << kInfoHelp;
    return 0;
  }
  std::string path = model_path(argc, argv, kInfoHelp);
  parse(argc, argv, 3, {}, {});
  saving::TensorFile f = saving::load_safetensors(path);
  std::shared_ptr<Model> model;
  if (f.metadata["format"] == "duet.function") {
    LoadedFunction fn = load_function(path);
    std::printf("function '%s', %zu signature(s):\n", fn.name().c_str(), fn.signatures().size());
    for (const auto& sig : fn.signatures()) {
      std::string s;
      for (const TensorSpec& t : sig)
        s += (s.empty() ? "" : ", ") + std::string(dtype_name(t.dtype)) + " " + t.shape.str();
      std::printf("  (%s)\n", s.c_str());
    }
    std::printf("variables: %zu\n", fn.variables().size());
    for (const Variable& v : fn.variables())
      std::printf("  %s %s %s%s\n", v.name().c_str(), dtype_name(v.dtype()), v.shape().str().c_str(),
                  v.trainable() ? "" : " (non-trainable)");
  } else {
    model = load_model(path);
    model->summary();
  }
  std::uint64_t weight_bytes = 0;
  for (const auto& [n, t] : f.tensors)
    weight_bytes += static_cast<std::uint64_t>(t.num_elements()) * dtype_size(t.dtype());
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  long size = -1;
  if (fp) {
    std::fseek(fp, 0, SEEK_END);
    size = std::ftell(fp);
    std::fclose(fp);
  }
  std::printf("file: %s, %ld bytes (%llu bytes of tensors, %zu tensors), format %s version %s\n", path.c_str(), size,
              static_cast<unsigned long long>(weight_bytes), f.tensors.size(), f.metadata["format"].c_str(),
              f.metadata["format_version"].c_str());
  if (model) {
    std::printf("inputs: %zu, outputs: %zu, parameters: %lld\n", model->num_inputs(), model->num_outputs(),
                static_cast<long long>(model->count_params()));
  }
  return 0;
}

int demo(int argc, char** argv) {
  Args a = parse(argc, argv, 2, {{"--epochs", {}}, {"--steps", {}}, {"--data-dir", {}}}, {"--help"});
  if (a.flags.count("--help")) {
    std::cout << kDemoHelp;
    return 0;
  }
  const std::int64_t epochs = to_int(a, "--epochs", 15, 1, 100000);
  const std::int64_t steps = to_int(a, "--steps", 300, 1, 1000000000), batch = 64;
  auto data = data::load_fashion_mnist(a.values.count("--data-dir") ? a.values["--data-dir"] : "");
  if (a.values.count("--steps")) {
    std::int64_t n = std::min<std::int64_t>(steps * batch, data.train.images.shape()[0]);
    if (n < data.train.images.shape()[0]) {
      data.train.images = slice(data.train.images, {0, 0, 0, 0}, {n, -1, -1, -1});
      data.train.labels = slice(data.train.labels, {0}, {n});
    }
  }
  random::set_seed(1);
  auto model = build_model("cnn");
  // Adam with a cosine decay of the learning rate from 2e-3 to 0 over the whole run.
  const std::int64_t total_steps = epochs * ((data.train.images.shape()[0] + batch - 1) / batch);
  model->compile({.optimizer = optimizers::Adam(optimizers::schedules::CosineDecay(2e-3, total_steps)),
                  .loss = losses::SparseCategoricalCrossentropy(true),
                  .metrics = {"accuracy"}});
  model->summary();
  std::cout << "Training the CNN on Fashion-MNIST (" << data.train.images.shape()[0] << " images), graph mode, "
            << config::num_threads() << " threads\n";
  auto t0 = std::chrono::steady_clock::now();
  model->fit(data.train.images, data.train.labels, {.epochs = static_cast<int>(epochs), .batch_size = 64, .seed = 1});
  double secs = seconds_since(t0);
  auto logs = model->evaluate(data.test.images, data.test.labels, {.batch_size = 256});
  std::printf("\ntest accuracy: %.4f (test loss %.4f) after %ld epochs, %.0f s of training\n", logs["accuracy"],
              logs["loss"], epochs, secs);

  // The same model, eagerly and compiled: `steps` steps each, in three alternating rounds (a slow phase of a
  // shared machine then hits both modes alike), each round after one warm-up batch; medians of the rounds.
  const std::int64_t per_round = std::max<std::int64_t>(1, steps / 3);
  const std::int64_t timed = std::min<std::int64_t>(per_round * batch, data.train.images.shape()[0]);
  Tensor x = slice(data.train.images, {0, 0, 0, 0}, {timed, -1, -1, -1});
  Tensor y = slice(data.train.labels, {0}, {timed});
  std::printf("\neager vs graph, %lld training steps of batch %lld each, in 3 alternating rounds:\n",
              static_cast<long long>(3 * per_round), static_cast<long long>(batch));
  std::vector<double> rates[2];  // [eager, graph] images/s per round
  for (int round = 0; round < 3; ++round) {
    for (bool eager : {true, false}) {
      model->compile({.optimizer = optimizers::Adam(1e-3),
                      .loss = losses::SparseCategoricalCrossentropy(true),
                      .run_eagerly = eager});
      model->fit(slice(x, {0, 0, 0, 0}, {batch, -1, -1, -1}), slice(y, {0}, {batch}),
                 {.epochs = 1, .batch_size = batch, .verbose = 0});
      auto t = std::chrono::steady_clock::now();
      model->fit(x, y, {.epochs = 1, .batch_size = batch, .shuffle = false, .verbose = 0});
      rates[eager ? 0 : 1].push_back(static_cast<double>(timed) / seconds_since(t));
    }
  }
  for (int m = 0; m < 2; ++m) {
    std::sort(rates[m].begin(), rates[m].end());
    std::printf("  %-6s %8.0f images/s  (%.2f ms/step; rounds %.0f %.0f %.0f)\n", m == 0 ? "eager" : "graph",
                rates[m][1], static_cast<double>(batch) / rates[m][1] * 1e3, rates[m][0], rates[m][1], rates[m][2]);
  }
  std::printf("  graph / eager: %.2fx\n", rates[1][1] / rates[0][1]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::cerr << "duet: missing command\n" << kUsage;
      return 2;
    }
    if (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
      std::cout << kUsage;
      return 0;
    }
    std::string cmd = argv[1];
    if (cmd == "train") return train(argc, argv);
    if (cmd == "demo") return demo(argc, argv);
    if (cmd == "evaluate") return evaluate(argc, argv);
    if (cmd == "predict") return predict(argc, argv);
    if (cmd == "info") return info(argc, argv);
    throw UsageError("unknown command '" + cmd + "'; valid commands: train, evaluate, predict, info, demo");
  } catch (const UsageError& e) {
    std::cerr << "duet: " << e.what() << "\n";
    return 2;
  } catch (const duet::Error& e) {
    std::cerr << "duet: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "duet: out of memory; use a smaller --batch-size or model\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "duet: internal error: " << e.what() << " (please report this)\n";
    return 1;
  }
}
