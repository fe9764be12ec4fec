// The Keras oracle, duet's side: every built-in layer with its config, its weights, an input, its output and
// the gradients of sum(output * cotangent) with respect to the inputs and the trainable weights, in inference
// and in training mode (and the weights after the call: BatchNormalization's moving statistics); then every
// loss, metric, optimizer and learning-rate schedule (train_dump.cpp). JSON lines for
// tests/oracle/check_keras.py, which builds the same Keras 3 objects from the same values and compares.
#include <duet/duet.h>
#include "json_lines.h"

#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

using namespace duet;
using oracle::arr;
using oracle::num;
using oracle::quote;

namespace oracle {
void dump_training(std::mt19937_64& rng);  // train_dump.cpp
}

namespace {

struct In {
  std::vector<std::int64_t> shape;
  std::int64_t ids = 0;  // > 0: integer ids in [0, ids) (int32), else float32 normal values
};

struct LayerCase {
  std::string name;
  std::function<LayerRef()> make;
  std::vector<In> ins;
};

std::string config_json(const LayerConfig& c) {
  std::string o = "{";
  bool first = true;
  for (const auto& [k, v] : c.items()) {
    o += (first ? "" : ",") + quote(k) + ":";
    first = false;
    std::visit(
        [&](const auto& x) {
          using X = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<X, bool>) {
            o += x ? "true" : "false";
          } else if constexpr (std::is_same_v<X, std::string>) {
            o += quote(x);
          } else if constexpr (std::is_same_v<X, std::vector<std::int64_t>>) {
            o += "[";
            for (std::size_t i = 0; i < x.size(); ++i) o += (i ? "," : "") + std::to_string(x[i]);
            o += "]";
          } else if constexpr (std::is_same_v<X, double>) {
            o += num(x);
          } else {
            o += std::to_string(x);
          }
        },
        v);
  }
  return o + "}";
}

// The weights a case starts from: unit normals scaled to keep activations in range; BatchNormalization's gamma
// near 1, its moving variance positive.
Tensor initial_value(const Variable& w, std::mt19937_64& rng) {
  std::normal_distribution<double> norm(0, 1);
  const std::string& n = w.name();
  auto ends = [&](const std::string& s) {
    return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
  };
  std::vector<double> v(static_cast<std::size_t>(w.shape().num_elements()));
  for (double& x : v) {
    double r = norm(rng);
    x = ends("gamma")             ? 1 + 0.2 * r
        : ends("moving_variance") ? 0.5 + std::abs(r)
        : ends("moving_mean")     ? 0.3 * r
                                  : 0.5 * r;
  }
  return constant(v, w.shape(), w.dtype());
}

std::vector<LayerCase> layer_cases() {
  using namespace layers;
  std::vector<LayerCase> c;
  const std::vector<In> mat{{{5, 6}}};
  // Every activation name (the engine's table: Keras's names), in a Dense layer and as an Activation layer.
  std::vector<std::string> acts{""};
  for (const std::string& a : activation_names()) acts.push_back(a);
  for (const std::string& act : acts) {
    c.push_back({"Dense/" + (act.empty() ? std::string("none") : act),
                 [act] { return LayerRef(Dense(4, {.activation = act})); }, mat});
    c.push_back({"Activation/" + (act.empty() ? std::string("empty") : act),
                 [act] { return LayerRef(Activation(act)); },
                 {{{3, 8}}}});
  }
  c.push_back({"Dense/no_bias", [] { return LayerRef(Dense(4, {.use_bias = false})); }, mat});
  c.push_back({"Dense/rank3", [] { return LayerRef(Dense(4, {.activation = "tanh"})); }, {{{2, 3, 6}}}});
  const std::vector<In> img{{{2, 7, 6, 3}}};
  c.push_back({"Conv2D/same", [] { return LayerRef(Conv2D(4, {3, 3}, {.padding = "same"})); }, img});
  c.push_back({"Conv2D/valid_strides2_relu",
               [] {
                 return LayerRef(Conv2D(4, {3, 2}, {.strides = {2, 2}, .activation = "relu"}));
               },
               img});
  c.push_back({"Conv2D/same_strides2",
               [] {
                 return LayerRef(Conv2D(2, {3, 3}, {.strides = {2, 2}, .padding = "same"}));
               },
               img});
  c.push_back({"Conv2D/dilated",
               [] {
                 return LayerRef(Conv2D(3, {2, 2}, {.padding = "valid", .dilation_rate = {2, 2}}));
               },
               img});
  c.push_back({"Conv2D/dilated_same_no_bias",
               [] {
                 return LayerRef(Conv2D(3, {3, 3}, {.padding = "same", .dilation_rate = {2, 1}, .use_bias = false}));
               },
               img});
  c.push_back({"Conv2D/no_bias_strides21",
               [] {
                 return LayerRef(Conv2D(2, {1, 3}, {.strides = {2, 1}, .padding = "same", .use_bias = false}));
               },
               img});
  const std::vector<In> seq{{{2, 7, 3}}};
  c.push_back({"Conv1D/valid", [] { return LayerRef(Conv1D(4, {3})); }, seq});
  c.push_back({"Conv1D/same_strides2_relu",
               [] { return LayerRef(Conv1D(3, {3}, {.strides = {2}, .padding = "same", .activation = "relu"})); },
               seq});
  c.push_back({"Conv1D/causal", [] { return LayerRef(Conv1D(2, {3}, {.padding = "causal"})); }, seq});
  c.push_back({"Conv1D/causal_dilated_no_bias",
               [] { return LayerRef(Conv1D(3, {2}, {.padding = "causal", .dilation_rate = {3}, .use_bias = false})); },
               seq});
  c.push_back(
      {"Conv1D/causal_strides2", [] { return LayerRef(Conv1D(2, {4}, {.strides = {2}, .padding = "causal"})); }, seq});
  c.push_back(
      {"Conv1D/dilated_same", [] { return LayerRef(Conv1D(2, {3}, {.padding = "same", .dilation_rate = {2}})); }, seq});
  const std::vector<In> small{{{2, 3, 4, 3}}};
  c.push_back({"Conv2DTranspose/valid", [] { return LayerRef(Conv2DTranspose(4, {3, 3})); }, small});
  c.push_back({"Conv2DTranspose/same_strides2",
               [] {
                 return LayerRef(Conv2DTranspose(4, {3, 3}, {.strides = {2, 2}, .padding = "same"}));
               },
               small});
  c.push_back({"Conv2DTranspose/valid_strides2_relu",
               [] {
                 return LayerRef(Conv2DTranspose(2, {3, 2}, {.strides = {2, 2}, .activation = "relu"}));
               },
               small});
  c.push_back({"Conv2DTranspose/strides_over_kernel",
               [] {
                 return LayerRef(Conv2DTranspose(2, {2, 2}, {.strides = {3, 3}}));
               },
               small});
  c.push_back({"Conv2DTranspose/same_output_padding",
               [] {
                 return LayerRef(Conv2DTranspose(
                     3, {3, 3}, {.strides = {2, 3}, .padding = "same", .output_padding = {1, 2}, .use_bias = false}));
               },
               small});
  c.push_back({"Conv2DTranspose/valid_output_padding",
               [] {
                 return LayerRef(Conv2DTranspose(2, {3, 2}, {.strides = {2, 2}, .output_padding = {1, 0}}));
               },
               small});
  c.push_back({"Conv2DTranspose/dilated_same",
               [] {
                 return LayerRef(Conv2DTranspose(2, {3, 3}, {.padding = "same", .dilation_rate = {2, 1}}));
               },
               small});
  c.push_back({"Conv1DTranspose/valid", [] { return LayerRef(Conv1DTranspose(2, {3})); }, seq});
  c.push_back({"Conv1DTranspose/same_strides2",
               [] { return LayerRef(Conv1DTranspose(3, {3}, {.strides = {2}, .padding = "same"})); }, seq});
  c.push_back(
      {"Conv1DTranspose/output_padding_tanh",
       [] { return LayerRef(Conv1DTranspose(2, {4}, {.strides = {3}, .output_padding = {2}, .activation = "tanh"})); },
       seq});
  c.push_back(
      {"Conv1DTranspose/dilated", [] { return LayerRef(Conv1DTranspose(2, {2}, {.dilation_rate = {2}})); }, seq});
  c.push_back({"MaxPooling2D/default", [] { return LayerRef(MaxPooling2D()); }, img});
  c.push_back({"MaxPooling2D/same_3_2",
               [] {
                 return LayerRef(MaxPooling2D({.pool_size = {3, 3}, .strides = {2, 2}, .padding = "same"}));
               },
               img});
  c.push_back({"MaxPooling2D/strides1",
               [] {
                 return LayerRef(MaxPooling2D({.pool_size = {2, 3}, .strides = {1, 1}}));
               },
               img});
  c.push_back({"AveragePooling2D/default", [] { return LayerRef(AveragePooling2D()); }, img});
  c.push_back({"AveragePooling2D/same_3_2",
               [] {
                 return LayerRef(AveragePooling2D({.pool_size = {3, 3}, .strides = {2, 2}, .padding = "same"}));
               },
               img});
  // Pooling and resizing over sequences (seq, above), images and volumes (pooling_layers.cpp,
  // resizing_layers.cpp).
  const std::vector<In> vol{{{2, 5, 4, 6, 2}}};
  c.push_back({"MaxPooling1D/default", [] { return LayerRef(MaxPooling1D()); }, seq});
  c.push_back({"MaxPooling1D/same_3_2", [] { return LayerRef(MaxPooling1D({3, 2, "same"})); }, seq});
  c.push_back(
      {"AveragePooling1D/strides1", [] { return LayerRef(AveragePooling1D({.pool_size = 3, .strides = 1})); }, seq});
  c.push_back(
      {"AveragePooling1D/same", [] { return LayerRef(AveragePooling1D({.pool_size = 4, .padding = "same"})); }, seq});
  c.push_back({"MaxPooling3D/default", [] { return LayerRef(MaxPooling3D()); }, vol});
  c.push_back({"MaxPooling3D/same",
               [] {
                 return LayerRef(MaxPooling3D({.pool_size = {3, 2, 3}, .strides = {2, 1, 2}, .padding = "same"}));
               },
               vol});
  c.push_back({"AveragePooling3D/same",
               [] {
                 return LayerRef(AveragePooling3D({.pool_size = {3, 3, 2}, .strides = {2, 2, 2}, .padding = "same"}));
               },
               vol});
  c.push_back({"AveragePooling3D/valid",
               [] {
                 return LayerRef(AveragePooling3D({.pool_size = {2, 3, 2}, .strides = {1, 1, 3}}));
               },
               vol});
  c.push_back({"GlobalAveragePooling2D", [] { return LayerRef(GlobalAveragePooling2D()); }, img});
  c.push_back(
      {"GlobalAveragePooling2D/keepdims", [] { return LayerRef(GlobalAveragePooling2D({.keepdims = true})); }, img});
  c.push_back({"GlobalAveragePooling1D", [] { return LayerRef(GlobalAveragePooling1D()); }, seq});
  c.push_back(
      {"GlobalAveragePooling3D/keepdims", [] { return LayerRef(GlobalAveragePooling3D({.keepdims = true})); }, vol});
  c.push_back({"GlobalMaxPooling1D/keepdims", [] { return LayerRef(GlobalMaxPooling1D({.keepdims = true})); }, seq});
  c.push_back({"GlobalMaxPooling2D", [] { return LayerRef(GlobalMaxPooling2D()); }, img});
  c.push_back({"GlobalMaxPooling3D", [] { return LayerRef(GlobalMaxPooling3D()); }, vol});
  c.push_back({"UpSampling1D", [] { return LayerRef(UpSampling1D({.size = 3})); }, seq});
  c.push_back({"UpSampling2D/nearest", [] { return LayerRef(UpSampling2D({.size = {2, 3}})); }, img});
  c.push_back({"UpSampling2D/bilinear", [] { return LayerRef(UpSampling2D({.interpolation = "bilinear"})); }, img});
  c.push_back({"UpSampling2D/bilinear_3_2",
               [] {
                 return LayerRef(UpSampling2D({.size = {3, 2}, .interpolation = "bilinear"}));
               },
               img});
  c.push_back({"UpSampling3D", [] { return LayerRef(UpSampling3D({.size = {2, 1, 3}})); }, vol});
  c.push_back({"ZeroPadding1D/pair", [] { return LayerRef(ZeroPadding1D({2, 0})); }, seq});
  c.push_back({"ZeroPadding2D/default", [] { return LayerRef(ZeroPadding2D()); }, img});
  c.push_back({"ZeroPadding2D/pairs", [] { return LayerRef(ZeroPadding2D({1, 2, 0, 3})); }, img});
  c.push_back({"ZeroPadding3D/pairs", [] { return LayerRef(ZeroPadding3D({1, 0, 0, 2, 1, 1})); }, vol});
  c.push_back({"Cropping1D/default", [] { return LayerRef(Cropping1D()); }, seq});
  c.push_back({"Cropping2D/pairs", [] { return LayerRef(Cropping2D({0, 2, 3, 1})); }, img});
  c.push_back({"Cropping2D/symmetric", [] { return LayerRef(Cropping2D({1, 2})); }, img});
  c.push_back({"Cropping3D/pairs", [] { return LayerRef(Cropping3D({2, 0, 0, 1, 1, 3})); }, vol});
  c.push_back({"Resizing/bilinear_down", [] { return LayerRef(Resizing(3, 4)); }, img});
  c.push_back({"Resizing/bilinear_up", [] { return LayerRef(Resizing(11, 9)); }, img});
  c.push_back({"Resizing/nearest", [] { return LayerRef(Resizing(4, 9, {.interpolation = "nearest"})); }, img});
  c.push_back({"Resizing/nearest_down", [] { return LayerRef(Resizing(3, 2, {.interpolation = "nearest"})); }, img});
  c.push_back(
      {"Resizing/crop_to_aspect_ratio", [] { return LayerRef(Resizing(5, 3, {.crop_to_aspect_ratio = true})); }, img});
  c.push_back({"Flatten", [] { return LayerRef(Flatten()); }, {{{2, 3, 4, 2}}}});
  c.push_back({"Reshape", [] { return LayerRef(Reshape({4, -1})); }, {{{2, 3, 4}}}});
  c.push_back({"Dropout", [] { return LayerRef(Dropout(0.3)); }, {{{40, 50}}}});
  c.push_back({"BatchNormalization/default", [] { return LayerRef(BatchNormalization()); }, {{{6, 4}}}});
  c.push_back({"BatchNormalization/image", [] { return LayerRef(BatchNormalization()); }, {{{2, 3, 3, 4}}}});
  c.push_back({"BatchNormalization/momentum_epsilon",
               [] { return LayerRef(BatchNormalization({.momentum = 0.9, .epsilon = 1e-5})); },
               {{{6, 4}}}});
  c.push_back({"BatchNormalization/no_center_no_scale",
               [] { return LayerRef(BatchNormalization({.center = false, .scale = false})); },
               {{{6, 4}}}});
  c.push_back({"Concatenate/last", [] { return LayerRef(Concatenate()); }, {{{2, 3, 4}}, {{2, 3, 2}}}});
  c.push_back({"Concatenate/axis1", [] { return LayerRef(Concatenate({.axis = 1})); }, {{{2, 3, 4}}, {{2, 1, 4}}}});
  c.push_back({"Add", [] { return LayerRef(Add()); }, {{{3, 4}}, {{3, 4}}, {{3, 4}}}});
  c.push_back({"Multiply", [] { return LayerRef(Multiply()); }, {{{3, 4}}, {{3, 4}}}});
  c.push_back({"Subtract", [] { return LayerRef(Subtract()); }, {{{3, 4}}, {{3, 4}}}});
  c.push_back({"Average", [] { return LayerRef(Average()); }, {{{3, 4}}, {{3, 4}}, {{3, 4}}}});
  c.push_back({"Maximum", [] { return LayerRef(Maximum()); }, {{{3, 4}}, {{3, 4}}, {{3, 4}}}});
  c.push_back({"Minimum", [] { return LayerRef(Minimum()); }, {{{3, 4}}, {{3, 4}}}});
  c.push_back({"Dot/vectors", [] { return LayerRef(Dot({1})); }, {{{3, 4}}, {{3, 4}}}});
  c.push_back({"Dot/normalize", [] { return LayerRef(Dot({-1}, {.normalize = true})); }, {{{3, 4}}, {{3, 4}}}});
  c.push_back({"Dot/sequences", [] { return LayerRef(Dot({2})); }, {{{2, 3, 4}}, {{2, 5, 4}}}});
  c.push_back({"Dot/pair", [] { return LayerRef(Dot({1, 2})); }, {{{2, 4, 3}}, {{2, 5, 4}}}});
  c.push_back({"Dot/rank4_normalize",
               [] {
                 return LayerRef(Dot({2, 1}, {.normalize = true}));
               },
               {{{2, 3, 4, 2}}, {{2, 4, 3}}}});
  c.push_back({"Dot/rank2_rank3", [] { return LayerRef(Dot({1, -1})); }, {{{2, 4}}, {{2, 3, 4}}}});
  c.push_back({"ReLU/default", [] { return LayerRef(ReLU()); }, {{{3, 8}}}});
  c.push_back({"ReLU/max_value", [] { return LayerRef(ReLU({.max_value = 0.8})); }, {{{3, 8}}}});
  c.push_back({"ReLU/slope", [] { return LayerRef(ReLU({.negative_slope = 0.1})); }, {{{3, 8}}}});
  c.push_back({"ReLU/threshold", [] { return LayerRef(ReLU({.threshold = 0.4})); }, {{{3, 8}}}});
  c.push_back({"ReLU/max6_slope", [] { return LayerRef(ReLU({.max_value = 6, .negative_slope = 0.2})); }, {{{3, 8}}}});
  c.push_back({"ReLU/all",
               [] { return LayerRef(ReLU({.max_value = 1.2, .negative_slope = 0.25, .threshold = 0.3})); },
               {{{3, 8}}}});
  c.push_back({"LeakyReLU/default", [] { return LayerRef(LeakyReLU()); }, {{{3, 8}}}});
  c.push_back({"LeakyReLU/slope", [] { return LayerRef(LeakyReLU({.negative_slope = 0.05})); }, {{{3, 8}}}});
  c.push_back({"PReLU/default", [] { return LayerRef(PReLU()); }, {{{3, 2, 4}}}});
  c.push_back({"PReLU/shared_axes", [] { return LayerRef(PReLU({.shared_axes = {1, 2}})); }, img});
  c.push_back({"ELU/default", [] { return LayerRef(ELU()); }, {{{3, 8}}}});
  c.push_back({"ELU/alpha", [] { return LayerRef(ELU({.alpha = 0.4})); }, {{{3, 8}}}});
  c.push_back({"Softmax/default", [] { return LayerRef(Softmax()); }, {{{3, 8}}}});
  c.push_back({"Softmax/axis1", [] { return LayerRef(Softmax({.axis = 1})); }, {{{2, 4, 3}}}});
  c.push_back({"LayerNormalization/default", [] { return LayerRef(LayerNormalization()); }, {{{3, 8}}}});
  c.push_back({"LayerNormalization/axes",
               [] {
                 return LayerRef(LayerNormalization({.axis = {1, 2}, .epsilon = 1e-5}));
               },
               {{{2, 3, 4, 2}}}});
  c.push_back(
      {"LayerNormalization/rms", [] { return LayerRef(LayerNormalization({.rms_scaling = true})); }, {{{3, 8}}}});
  c.push_back({"LayerNormalization/no_center_scale",
               [] { return LayerRef(LayerNormalization({.center = false, .scale = false})); },
               {{{2, 3, 5}}}});
  c.push_back(
      {"GroupNormalization/groups", [] { return LayerRef(GroupNormalization({.groups = 4})); }, {{{2, 3, 3, 8}}}});
  c.push_back(
      {"GroupNormalization/instance", [] { return LayerRef(GroupNormalization({.groups = -1})); }, {{{2, 5, 4}}}});
  c.push_back({"UnitNormalization/default", [] { return LayerRef(UnitNormalization()); }, {{{3, 8}}}});
  c.push_back({"UnitNormalization/axes", [] { return LayerRef(UnitNormalization({.axis = {1, 2}})); }, {{{2, 3, 4}}}});
  c.push_back({"Rescaling/default", [] { return LayerRef(Rescaling(1.0 / 255, {.offset = -1})); }, {{{3, 8}}}});
  c.push_back({"Permute/3d", [] { return LayerRef(Permute({2, 1})); }, {{{2, 3, 4}}}});
  c.push_back({"Permute/4d", [] { return LayerRef(Permute({2, 3, 1})); }, {{{2, 3, 4, 5}}}});
  c.push_back({"RepeatVector", [] { return LayerRef(RepeatVector(3)); }, {{{2, 4}}}});
  c.push_back({"Identity", [] { return LayerRef(Identity()); }, {{{2, 4}}}});
  c.push_back({"Embedding", [] { return LayerRef(Embedding(10, 4)); }, {{{3, 5}, 10}}});
  c.push_back({"LSTM/last", [] { return LayerRef(LSTM(4)); }, {{{2, 5, 3}}}});
  c.push_back({"LSTM/sequences", [] { return LayerRef(LSTM(3, {.return_sequences = true})); }, {{{2, 4, 3}}}});
  return c;
}

void dump_layer(const LayerCase& lc, std::mt19937_64& rng) {
  std::normal_distribution<double> norm(0, 1);
  std::vector<Tensor> xs;
  for (const In& in : lc.ins) {
    std::vector<double> v(static_cast<std::size_t>(Shape(in.shape).num_elements()));
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = in.ids ? static_cast<double>((i * 7 + 3) % static_cast<std::size_t>(in.ids)) : norm(rng);
    xs.push_back(constant(v, Shape(in.shape), in.ids ? DType::Int32 : DType::Float32));
  }
  LayerRef layer = lc.make();
  (void)layer(xs, false);  // builds it
  std::vector<Variable> weights = layer->weights();
  std::vector<Tensor> initial;
  for (const Variable& w : weights) initial.push_back(initial_value(w, rng));
  for (bool training : {false, true}) {
    for (std::size_t k = 0; k < weights.size(); ++k) weights[k].assign(initial[k]);
    GradientTape tape({.persistent = true});
    for (const Tensor& x : xs)
      if (is_floating(x.dtype())) tape.watch(x);
    Tensor out = layer(xs, training);
    Tensor ct = oracle::cotangent(out);
    Tensor target = sum(out * ct);
    std::cout << "{\"kind\":\"layer\",\"case\":" << quote(lc.name) << ",\"class\":" << quote(layer->type())
              << ",\"config\":" << config_json(*layer->get_config())
              << ",\"training\":" << (training ? "true" : "false") << ",\"inputs\":[";
    for (std::size_t i = 0; i < xs.size(); ++i) std::cout << (i ? "," : "") << arr(xs[i]);
    std::cout << "],\"weights\":[";
    for (std::size_t k = 0; k < weights.size(); ++k) {
      std::cout << (k ? "," : "") << "{\"name\":" << quote(weights[k].name())
                << ",\"trainable\":" << (weights[k].trainable() ? "true" : "false") << ",\"value\":" << arr(initial[k])
                << ",\"after\":" << arr(weights[k].value()) << "}";
    }
    std::cout << "],\"output\":" << arr(out) << ",\"cotangent\":" << arr(ct) << ",\"grads\":{";
    bool first = true;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      if (!is_floating(xs[i].dtype())) continue;
      Tensor g = tape.gradient(target, xs[i], {.unconnected = UnconnectedGradients::Zero});
      std::cout << (first ? "" : ",") << "\"input" << i << "\":" << arr(g);
      first = false;
    }
    for (const Variable& w : layer->trainable_weights()) {
      Tensor g = tape.gradient(target, w, {.unconnected = UnconnectedGradients::Zero});
      std::cout << (first ? "" : ",") << quote(w.name()) << ":" << arr(g);
      first = false;
    }
    std::cout << "}}\n";
  }
}

}  // namespace

int main() {
  std::mt19937_64 rng(20261201);
  int n = 0;
  for (const LayerCase& lc : layer_cases()) {
    dump_layer(lc, rng);
    n += 2;
  }
  oracle::dump_training(rng);
  std::cerr << "layer_dump: " << n << " layer cases, then losses, metrics, optimizers, schedules\n";
  return 0;
}
