// The Keras oracle, duet's side, part two: every loss (value and gradients for y_pred and float labels), every
// metric (result after each of several update_state calls, and after reset_state), every optimizer (weights
// and slots after each of three steps from the same weights and gradients) and every learning-rate schedule.
#include <duet/duet.h>
#include "json_lines.h"

#include <cmath>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

using namespace duet;
using oracle::arr;
using oracle::num;
using oracle::quote;

namespace {

Tensor normal(const Shape& s, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<double> norm(0, 1);
  std::vector<double> v(static_cast<std::size_t>(s.num_elements()));
  for (double& x : v) x = scale * norm(rng);
  return constant(v, s, DType::Float32);
}
Tensor values(std::vector<double> v, const Shape& s, DType d = DType::Float32) { return constant(v, s, d); }
// Labels: one class per row (as ids, or one-hot), a pattern that is the same every run.
Tensor ids(std::int64_t n, std::int64_t classes, const Shape& s) {
  std::vector<double> v;
  for (std::int64_t i = 0; i < n; ++i) v.push_back(static_cast<double>((i * 3 + 1) % classes));
  return constant(v, s, DType::Int64);
}
Tensor one_hot_rows(std::int64_t n, std::int64_t classes) {
  return one_hot(ids(n, classes, Shape{n}), classes, 1.0, 0.0, DType::Float32);
}

struct LossCase {
  std::string name, cls;
  bool from_logits;
  std::string by_name;  // losses::get(by_name) when set
  Tensor y_true, y_pred;
};

void dump_losses(std::mt19937_64& rng) {
  std::vector<LossCase> c;
  Tensor probs = softmax(normal({4, 5}, rng));
  Tensor binary = values({1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0}, {4, 3});
  Tensor p01 = sigmoid(normal({4, 3}, rng, 2));
  // predictions at and beyond the clipping bounds (1e-7, 1 - 1e-7): 0, 1, 1e-9, 1 - 1e-9, and ordinary ones
  Tensor edge_p = values({0, 1, 1e-9, 1 - 1e-9, 0.5, 0.999, 1e-8, 0.2, 1, 0, 0.3, 0.7}, {4, 3});
  Tensor soft = values({0.3, 0.9, 0.1, 0.5, 0.2, 0.8, 0.6, 0.4, 1, 0, 0.25, 0.75}, {4, 3});
  for (std::string n : {"MeanSquaredError", "MeanAbsoluteError"}) {
    c.push_back({n, n, false, "", normal({4, 3}, rng), normal({4, 3}, rng)});
  }
  c.push_back({"BinaryCrossentropy/probs", "BinaryCrossentropy", false, "", binary, p01});
  c.push_back({"BinaryCrossentropy/soft_labels", "BinaryCrossentropy", false, "", soft, p01});
  c.push_back({"BinaryCrossentropy/edges", "BinaryCrossentropy", false, "", binary, edge_p});
  c.push_back({"BinaryCrossentropy/logits", "BinaryCrossentropy", true, "", soft, normal({4, 3}, rng, 3)});
  c.push_back({"BinaryCrossentropy/logits_edges", "BinaryCrossentropy", true, "", binary,
               values({100, -100, 0, 30, -30, 1e-3, 80, -80, 5, -5, 17, -17}, {4, 3})});
  c.push_back({"CategoricalCrossentropy/probs", "CategoricalCrossentropy", false, "", one_hot_rows(4, 5), probs});
  c.push_back({"CategoricalCrossentropy/soft_unnormalized", "CategoricalCrossentropy", false, "",
               softmax(normal({4, 5}, rng)), abs(normal({4, 5}, rng)) + 0.1});
  c.push_back({"CategoricalCrossentropy/edges", "CategoricalCrossentropy", false, "", one_hot_rows(4, 5),
               values({1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0.5, 0.5, 0, 0, 0, 1e-9, 0, 0, 1 - 1e-9, 0}, {4, 5})});
  c.push_back({"CategoricalCrossentropy/logits", "CategoricalCrossentropy", true, "", softmax(normal({4, 5}, rng)),
               normal({4, 5}, rng, 2)});
  c.push_back(
      {"SparseCategoricalCrossentropy/probs", "SparseCategoricalCrossentropy", false, "", ids(4, 5, {4}), probs});
  c.push_back({"SparseCategoricalCrossentropy/labels_n1", "SparseCategoricalCrossentropy", false, "", ids(4, 5, {4, 1}),
               probs});
  c.push_back({"SparseCategoricalCrossentropy/edges", "SparseCategoricalCrossentropy", false, "", ids(4, 5, {4}),
               values({0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0.5, 0.5, 0, 0, 0, 1e-9, 1 - 1e-9, 0, 0, 0}, {4, 5})});
  c.push_back({"SparseCategoricalCrossentropy/logits", "SparseCategoricalCrossentropy", true, "", ids(4, 5, {4}),
               normal({4, 5}, rng, 2)});
  for (std::string n : {"mse", "mean_squared_error", "mae", "mean_absolute_error", "binary_crossentropy",
                        "categorical_crossentropy", "sparse_categorical_crossentropy"}) {
    bool sparse = n == "sparse_categorical_crossentropy";
    Tensor yt = sparse ? ids(4, 5, {4}) : n == "binary_crossentropy" ? binary : one_hot_rows(4, 5);
    Tensor yp = n == "binary_crossentropy" ? p01 : probs;
    c.push_back({"get/" + n, "", false, n, yt, yp});
  }
  for (const LossCase& lc : c) {
    losses::LossPtr loss = !lc.by_name.empty()              ? losses::get(lc.by_name)
                           : lc.cls == "MeanSquaredError"   ? losses::MeanSquaredError()
                           : lc.cls == "MeanAbsoluteError"  ? losses::MeanAbsoluteError()
                           : lc.cls == "BinaryCrossentropy" ? losses::BinaryCrossentropy(lc.from_logits)
                           : lc.cls == "CategoricalCrossentropy"
                               ? losses::CategoricalCrossentropy(lc.from_logits)
                               : losses::SparseCategoricalCrossentropy(lc.from_logits);
    GradientTape tape({.persistent = true});
    tape.watch(lc.y_pred);
    bool float_labels = is_floating(lc.y_true.dtype());
    if (float_labels) tape.watch(lc.y_true);
    Tensor value = (*loss)(lc.y_true, lc.y_pred);
    std::cout << "{\"kind\":\"loss\",\"case\":" << quote(lc.name) << ",\"class\":" << quote(lc.cls)
              << ",\"name\":" << quote(loss->name()) << ",\"get\":" << quote(lc.by_name)
              << ",\"from_logits\":" << (lc.from_logits ? "true" : "false") << ",\"y_true\":" << arr(lc.y_true)
              << ",\"y_pred\":" << arr(lc.y_pred) << ",\"value\":" << arr(value)
              << ",\"grads\":{\"y_pred\":" << arr(tape.gradient(value, lc.y_pred));
    if (float_labels) std::cout << ",\"y_true\":" << arr(tape.gradient(value, lc.y_true));
    std::cout << "}}\n";
  }
}

struct MetricCase {
  std::string name, cls;
  double threshold;
  std::string by_name;
  std::vector<std::pair<Tensor, Tensor>> updates;
};

void dump_metrics(std::mt19937_64& rng) {
  auto probs = [&](std::int64_t n, std::int64_t k) { return softmax(normal({n, k}, rng)); };
  // ties: the first of equal scores is the argmax (and a binary prediction exactly at the threshold is 0)
  Tensor tied = values({0.4, 0.4, 0.2, 0.1, 0.3, 0.3, 0.5, 0.5, 0}, {3, 3});
  Tensor bin_p = values({0.5, 0.2, 0.9, 0.3, 0.7, 0.49, 0.51, 1, 0}, {9, 1});
  Tensor bin_y = values({1, 0, 1, 1, 0, 0, 1, 1, 0}, {9, 1});
  std::vector<MetricCase> c;
  c.push_back({"SparseCategoricalAccuracy",
               "SparseCategoricalAccuracy",
               0,
               "",
               {{ids(6, 4, {6}), probs(6, 4)}, {ids(5, 4, {5}), probs(5, 4)}, {ids(3, 3, {3}), tied}}});
  c.push_back({"SparseCategoricalAccuracy/labels_n1",
               "SparseCategoricalAccuracy",
               0,
               "",
               {{ids(6, 4, {6, 1}), probs(6, 4)}, {ids(5, 4, {5, 1}), probs(5, 4)}}});
  c.push_back({"CategoricalAccuracy",
               "CategoricalAccuracy",
               0,
               "",
               {{one_hot_rows(6, 4), probs(6, 4)}, {one_hot_rows(3, 4), probs(3, 4)}}});
  c.push_back({"CategoricalAccuracy/ties", "CategoricalAccuracy", 0, "", {{one_hot_rows(3, 3), tied}}});
  c.push_back({"BinaryAccuracy", "BinaryAccuracy", 0.5, "", {{bin_y, bin_p}, {bin_y, sigmoid(normal({9, 1}, rng))}}});
  c.push_back({"BinaryAccuracy/threshold", "BinaryAccuracy", 0.3, "", {{bin_y, bin_p}}});
  c.push_back({"BinaryAccuracy/matrix",
               "BinaryAccuracy",
               0.5,
               "",
               {{values({1, 0, 1, 1, 0, 0}, {2, 3}), sigmoid(normal({2, 3}, rng))}}});
  c.push_back({"MeanAbsoluteError",
               "MeanAbsoluteError",
               0,
               "",
               {{normal({4, 3}, rng), normal({4, 3}, rng)}, {normal({2, 3}, rng), normal({2, 3}, rng)}}});
  c.push_back({"Mean",
               "Mean",
               0,
               "",
               {{Tensor(), normal({5}, rng)}, {Tensor(), normal({2, 3}, rng)}, {Tensor(), values({7}, {})}}});
  // "accuracy" picks its variant from the shapes, as Keras's compile does
  c.push_back({"accuracy/sparse", "accuracy", 0, "accuracy", {{ids(6, 4, {6}), probs(6, 4)}}});
  c.push_back({"accuracy/sparse_n1", "accuracy", 0, "accuracy", {{ids(6, 4, {6, 1}), probs(6, 4)}}});
  c.push_back({"accuracy/categorical", "accuracy", 0, "accuracy", {{one_hot_rows(6, 4), probs(6, 4)}}});
  c.push_back({"accuracy/binary", "accuracy", 0, "accuracy", {{bin_y, bin_p}}});
  c.push_back({"accuracy/binary_flat_labels", "accuracy", 0, "accuracy", {{reshape(bin_y, {9}), bin_p}}});
  c.push_back({"accuracy/acc", "acc", 0, "acc", {{one_hot_rows(6, 4), probs(6, 4)}}});
  for (std::string n :
       {"sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy", "mae", "mean_absolute_error"}) {
    std::pair<Tensor, Tensor> u = n == "sparse_categorical_accuracy" ? std::pair{ids(6, 4, {6}), probs(6, 4)}
                                  : n == "categorical_accuracy"      ? std::pair{one_hot_rows(6, 4), probs(6, 4)}
                                  : n == "binary_accuracy"           ? std::pair{bin_y, bin_p}
                                                           : std::pair{normal({4, 3}, rng), normal({4, 3}, rng)};
    c.push_back({"get/" + n, n, 0, n, {u}});
  }
  for (const MetricCase& mc : c) {
    metrics::MetricPtr m = !mc.by_name.empty()                     ? metrics::get(mc.by_name)
                           : mc.cls == "SparseCategoricalAccuracy" ? metrics::SparseCategoricalAccuracy()
                           : mc.cls == "CategoricalAccuracy"       ? metrics::CategoricalAccuracy()
                           : mc.cls == "BinaryAccuracy"            ? metrics::BinaryAccuracy(mc.threshold)
                           : mc.cls == "MeanAbsoluteError"         ? metrics::MeanAbsoluteError()
                                                                   : metrics::Mean("mean");
    std::cout << "{\"kind\":\"metric\",\"case\":" << quote(mc.name) << ",\"class\":" << quote(mc.cls)
              << ",\"name\":" << quote(m->name()) << ",\"get\":" << quote(mc.by_name)
              << ",\"threshold\":" << num(mc.threshold) << ",\"updates\":[";
    for (std::size_t i = 0; i < mc.updates.size(); ++i) {
      const auto& [y, p] = mc.updates[i];
      m->update_state(y, p);
      std::cout << (i ? "," : "") << "{\"y_true\":" << (y.defined() ? arr(y) : "null") << ",\"y_pred\":" << arr(p)
                << ",\"result\":" << num(m->result()) << "}";
    }
    m->reset_state();
    std::cout << "],\"after_reset\":" << num(m->result()) << "}\n";
  }
}

struct OptCase {
  std::string name, cls;
  std::string config;  // the Keras constructor's arguments, as JSON
  std::function<optimizers::OptimizerPtr()> make;
  std::string by_name;  // optimizers::get(by_name) (and keras.optimizers.get) when set
};

void dump_optimizers(std::mt19937_64& rng) {
  using namespace optimizers;
  using namespace optimizers::schedules;
  std::vector<OptCase> c = {
      {"SGD", "SGD", R"({"learning_rate":0.1})", [] { return SGD(0.1); }},
      {"SGD/momentum", "SGD", R"({"learning_rate":0.1,"momentum":0.9})", [] { return SGD(0.1, 0.9); }},
      {"SGD/nesterov", "SGD", R"({"learning_rate":0.05,"momentum":0.8,"nesterov":true})",
       [] { return SGD(0.05, 0.8, true); }},
      {"Adam", "Adam", "{}", [] { return Adam(); }},
      {"Adam/options", "Adam", R"({"learning_rate":0.01,"beta_1":0.8,"beta_2":0.95,"epsilon":1e-5})",
       [] { return Adam(0.01, 0.8, 0.95, 1e-5); }},
      {"AdamW", "AdamW", "{}", [] { return AdamW(); }},
      {"AdamW/options", "AdamW", R"({"learning_rate":0.01,"weight_decay":0.1,"beta_1":0.85,"beta_2":0.99})",
       [] { return AdamW(0.01, 0.1, 0.85, 0.99); }},
      {"RMSprop", "RMSprop", "{}", [] { return RMSprop(); }},
      {"RMSprop/momentum", "RMSprop", R"({"learning_rate":0.01,"rho":0.8,"momentum":0.9,"epsilon":1e-4})",
       [] { return RMSprop(0.01, 0.8, 0.9, 1e-4); }},
      {"SGD/exponential_decay", "SGD",
       R"({"learning_rate":{"class":"ExponentialDecay","initial_learning_rate":0.1,"decay_steps":2,"decay_rate":0.5}})",
       [] { return SGD(ExponentialDecay(0.1, 2, 0.5)); }},
      {"Adam/cosine_warmup", "Adam",
       R"({"learning_rate":{"class":"CosineDecay","initial_learning_rate":0.001,"decay_steps":4,"alpha":0.1,"warmup_target":0.01,"warmup_steps":2}})",
       [] { return Adam(CosineDecay(0.001, 4, 0.1, 0.01, 2)); }},
      {"RMSprop/piecewise", "RMSprop",
       R"({"learning_rate":{"class":"PiecewiseConstantDecay","boundaries":[0,1],"values":[0.1,0.01,0.001]}})",
       [] {
         return RMSprop(PiecewiseConstantDecay({0, 1}, {0.1, 0.01, 0.001}));
       }},
  };
  for (std::string n : {"sgd", "adam", "adamw", "rmsprop"}) {
    std::string cls = n == "sgd" ? "SGD" : n == "adam" ? "Adam" : n == "adamw" ? "AdamW" : "RMSprop";
    c.push_back({"get/" + n, cls, "{}", [n] { return get(n); }, n});
  }
  for (const OptCase& oc : c) {
    OptimizerPtr opt = oc.make();
    std::vector<Variable> vars = {Variable(normal({3, 4}, rng), {.name = "w"}),
                                  Variable(normal({5}, rng), {.name = "b"})};
    std::cout << "{\"kind\":\"optimizer\",\"case\":" << quote(oc.name) << ",\"class\":" << quote(oc.cls)
              << ",\"get\":" << quote(oc.by_name) << ",\"config\":" << oc.config << ",\"variables\":[";
    for (std::size_t k = 0; k < vars.size(); ++k)
      std::cout << (k ? "," : "") << "{\"name\":" << quote(vars[k].name()) << ",\"value\":" << arr(vars[k].value())
                << "}";
    std::cout << "],\"steps\":[";
    for (int step = 0; step < 3; ++step) {
      // gradients with a zero and a large element, different at each step
      std::vector<Tensor> grads = {normal({3, 4}, rng) * values({0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1000}, {3, 4}),
                                   normal({5}, rng, 0.1)};
      opt->apply_gradients(vars, grads);
      std::cout << (step ? "," : "") << "{\"grads\":[" << arr(grads[0]) << "," << arr(grads[1]) << "],\"variables\":[";
      for (std::size_t k = 0; k < vars.size(); ++k) std::cout << (k ? "," : "") << arr(vars[k].value());
      std::cout << "],\"slots\":[";
      for (std::size_t k = 0; k < vars.size(); ++k) {
        std::cout << (k ? "," : "") << "{";
        auto slots = opt->slots(vars[k]);
        for (std::size_t j = 0; j < slots.size(); ++j) {
          std::string n = slots[j].name().substr(slots[j].name().rfind('/') + 1);
          std::cout << (j ? "," : "") << quote(n) << ":" << arr(slots[j].value());
        }
        std::cout << "}";
      }
      std::cout << "],\"iterations\":" << opt->iterations().value().item<std::int64_t>() << "}";
    }
    std::cout << "]}\n";
  }
}

void dump_schedules() {
  using namespace optimizers::schedules;
  std::vector<std::tuple<std::string, std::string, SchedulePtr>> c = {
      {"ExponentialDecay", R"({"initial_learning_rate":0.1,"decay_steps":3,"decay_rate":0.5})",
       ExponentialDecay(0.1, 3, 0.5)},
      {"ExponentialDecay/staircase",
       R"({"initial_learning_rate":0.1,"decay_steps":3,"decay_rate":0.5,"staircase":true})",
       ExponentialDecay(0.1, 3, 0.5, true)},
      {"PiecewiseConstantDecay", R"({"boundaries":[2,5],"values":[1.0,0.5,0.1]})",
       PiecewiseConstantDecay({2, 5}, {1.0, 0.5, 0.1})},
      {"CosineDecay", R"({"initial_learning_rate":0.1,"decay_steps":8,"alpha":0.2})", CosineDecay(0.1, 8, 0.2)},
      {"CosineDecay/warmup",
       R"({"initial_learning_rate":0.0,"decay_steps":6,"alpha":0.0,"warmup_target":0.1,"warmup_steps":4})",
       CosineDecay(0.0, 6, 0.0, 0.1, 4)},
  };
  for (const auto& [name, config, s] : c) {
    std::cout << "{\"kind\":\"schedule\",\"case\":" << quote(name)
              << ",\"class\":" << quote(name.substr(0, name.find('/'))) << ",\"config\":" << config << ",\"values\":[";
    for (int step = 0; step <= 12; ++step)
      std::cout << (step ? "," : "") << num((*s)(full({}, step, DType::Float64)).item<double>());
    std::cout << "]}\n";
  }
}

}  // namespace

namespace oracle {
void dump_training(std::mt19937_64& rng) {
  dump_losses(rng);
  dump_metrics(rng);
  dump_optimizers(rng);
  dump_schedules();
}
}  // namespace oracle
