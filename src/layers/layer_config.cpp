// Layer configs (Keras get_config / from_config): LayerConfig, the registry of layer classes load_model
// rebuilds, and the config of every built-in layer.
#include <mutex>
#include <unordered_map>

#include "duet/layers.h"

namespace duet {

LayerConfig& LayerConfig::set(const std::string& key, ConfigValue value) {
  items_[key] = std::move(value);
  return *this;
}

const ConfigValue& LayerConfig::at(const std::string& key, const char* want) const {
  auto it = items_.find(key);
  if (it == items_.end()) {
    throw ValueError("[" + owner_ + " config] has no '" + key + "' (" + want +
                     "); the file was written by another program or edited");
  }
  return it->second;
}

namespace {
template <class T>
const T& typed(const ConfigValue& v, const std::string& owner, const std::string& key, const char* want) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw ValueError("[" + owner + " config] '" + key + "' is not " + want);
}
}  // namespace

bool LayerConfig::get_bool(const std::string& key) const {
  return typed<bool>(at(key, "a bool"), owner_, key, "a bool");
}
std::int64_t LayerConfig::get_int(const std::string& key) const {
  return typed<std::int64_t>(at(key, "an integer"), owner_, key, "an integer");
}
double LayerConfig::get_double(const std::string& key) const {
  const ConfigValue& v = at(key, "a number");
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  return typed<double>(v, owner_, key, "a number");
}
const std::string& LayerConfig::get_string(const std::string& key) const {
  return typed<std::string>(at(key, "a string"), owner_, key, "a string");
}
const std::vector<std::int64_t>& LayerConfig::get_ints(const std::string& key) const {
  return typed<std::vector<std::int64_t>>(at(key, "a list of integers"), owner_, key, "a list of integers");
}

std::optional<LayerConfig> Layer::get_config() const { return std::nullopt; }

namespace {

std::mutex g_registry_mu;
std::unordered_map<std::string, LayerFactory>& registry() {
  static auto* r = new std::unordered_map<std::string, LayerFactory>();
  return *r;
}

// Initializers are saved by name (a custom callable cannot be: it comes back as the default, which only
// matters for weights the file does not hold).
void set_initializer(LayerConfig& c, const std::string& key, const Initializer& init) {
  c.set(key, init.name.empty() ? std::string("glorot_uniform") : init.name);
  if (init.name == "constant") c.set(key + "_value", init.value);
}
Initializer get_initializer(const LayerConfig& c, const std::string& key, const char* fallback) {
  if (!c.has(key)) return Initializer(fallback);
  const std::string& n = c.get_string(key);
  if (n == "constant") return initializers::constant(c.get_double(key + "_value"));
  return Initializer(n);
}
LayerConfig base(const Layer& l) {
  LayerConfig c(l.type());
  c.set("name", l.name());
  return c;
}
std::string name_of(const LayerConfig& c) { return c.has("name") ? c.get_string("name") : std::string(); }

}  // namespace

void register_layer(const std::string& class_name, LayerFactory factory) {
  if (class_name.empty() || !factory) throw ValueError("[register_layer] needs a class name and a factory");
  std::lock_guard<std::mutex> lock(g_registry_mu);
  registry()[class_name] = std::move(factory);
}

LayerRef layer_from_config(const std::string& class_name, const LayerConfig& config) {
  LayerFactory f;
  {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    auto it = registry().find(class_name);
    if (it == registry().end()) {
      throw ValueError("[load_model] layer class '" + class_name.substr(0, 64) +
                       "' is not registered: call duet::register_layer<" + class_name.substr(0, 64) + ">(\"" +
                       class_name.substr(0, 64) + "\") (with a static from_config) before loading");
    }
    f = it->second;
  }
  LayerRef l = f(config);
  if (!l) throw ValueError("[load_model] the factory of layer class '" + class_name + "' returned no layer");
  return l;
}

namespace layers {

std::optional<LayerConfig> DenseLayer::get_config() const {
  LayerConfig c = base(*this);
  c.set("units", units_).set("activation", o_.activation).set("use_bias", o_.use_bias);
  set_initializer(c, "kernel_initializer", o_.kernel_initializer);
  set_initializer(c, "bias_initializer", o_.bias_initializer);
  return c;
}
std::optional<LayerConfig> ActivationLayer::get_config() const { return base(*this).set("activation", activation_); }
std::optional<LayerConfig> FlattenLayer::get_config() const { return base(*this); }
std::optional<LayerConfig> ReshapeLayer::get_config() const { return base(*this).set("target_shape", target_); }
std::optional<LayerConfig> DropoutLayer::get_config() const {
  LayerConfig c = base(*this);
  c.set("rate", rate.get());
  if (o_.seed) c.set("seed", static_cast<std::int64_t>(*o_.seed));
  return c;
}
std::optional<LayerConfig> Conv2DLayer::get_config() const {
  LayerConfig c = base(*this);
  c.set("filters", filters_).set("kernel_size", kernel_size_).set("strides", o_.strides).set("padding", o_.padding);
  c.set("dilation_rate", o_.dilation_rate).set("activation", o_.activation).set("use_bias", o_.use_bias);
  set_initializer(c, "kernel_initializer", o_.kernel_initializer);
  set_initializer(c, "bias_initializer", o_.bias_initializer);
  return c;
}
std::optional<LayerConfig> Pooling2DLayer::get_config() const {
  return base(*this).set("pool_size", o_.pool_size).set("strides", o_.strides).set("padding", o_.padding);
}
std::optional<LayerConfig> GlobalAveragePooling2DLayer::get_config() const { return base(*this); }
std::optional<LayerConfig> BatchNormalizationLayer::get_config() const {
  return base(*this)
      .set("momentum", o_.momentum)
      .set("epsilon", o_.epsilon)
      .set("center", o_.center)
      .set("scale", o_.scale);
}
std::optional<LayerConfig> MergeLayer::get_config() const {
  LayerConfig c = base(*this);
  if (mode_ == Mode::Concatenate) c.set("axis", o_.axis);
  return c;
}
std::optional<LayerConfig> EmbeddingLayer::get_config() const {
  LayerConfig c = base(*this);
  c.set("input_dim", in_).set("output_dim", out_);
  set_initializer(c, "embeddings_initializer", o_.embeddings_initializer);
  return c;
}
std::optional<LayerConfig> LSTMLayer::get_config() const {
  return base(*this).set("units", units_).set("return_sequences", o_.return_sequences);
}

}  // namespace layers

namespace {

// The built-in layer classes, registered at start-up.
const bool g_builtins = [] {
  using namespace layers;
  register_layer("Dense", [](const LayerConfig& c) {
    return LayerRef(
        Dense(c.get_int("units"), {.activation = c.get_string("activation"),
                                   .use_bias = c.get_bool("use_bias"),
                                   .kernel_initializer = get_initializer(c, "kernel_initializer", "glorot_uniform"),
                                   .bias_initializer = get_initializer(c, "bias_initializer", "zeros"),
                                   .name = name_of(c)}));
  });
  register_layer("Activation", [](const LayerConfig& c) {
    return LayerRef(Activation(c.get_string("activation"), {.name = name_of(c)}));
  });
  register_layer("Flatten", [](const LayerConfig& c) { return LayerRef(Flatten({.name = name_of(c)})); });
  register_layer("Reshape", [](const LayerConfig& c) {
    return LayerRef(Reshape(c.get_ints("target_shape"), {.name = name_of(c)}));
  });
  register_layer("Dropout", [](const LayerConfig& c) {
    DropoutOptions o{.name = name_of(c)};
    if (c.has("seed")) o.seed = static_cast<std::uint64_t>(c.get_int("seed"));
    return LayerRef(Dropout(c.get_double("rate"), o));
  });
  register_layer("Conv2D", [](const LayerConfig& c) {
    return LayerRef(Conv2D(c.get_int("filters"), c.get_ints("kernel_size"),
                           {.strides = c.get_ints("strides"),
                            .padding = c.get_string("padding"),
                            .dilation_rate = c.get_ints("dilation_rate"),
                            .activation = c.get_string("activation"),
                            .use_bias = c.get_bool("use_bias"),
                            .kernel_initializer = get_initializer(c, "kernel_initializer", "glorot_uniform"),
                            .bias_initializer = get_initializer(c, "bias_initializer", "zeros"),
                            .name = name_of(c)}));
  });
  auto pooling = [](bool is_max) {
    return [is_max](const LayerConfig& c) {
      Pooling2DOptions o{.pool_size = c.get_ints("pool_size"),
                         .strides = c.get_ints("strides"),
                         .padding = c.get_string("padding"),
                         .name = name_of(c)};
      return LayerRef(is_max ? MaxPooling2D(o) : AveragePooling2D(o));
    };
  };
  register_layer("MaxPooling2D", pooling(true));
  register_layer("AveragePooling2D", pooling(false));
  register_layer("GlobalAveragePooling2D",
                 [](const LayerConfig& c) { return LayerRef(GlobalAveragePooling2D({.name = name_of(c)})); });
  register_layer("BatchNormalization", [](const LayerConfig& c) {
    return LayerRef(BatchNormalization({.momentum = c.get_double("momentum"),
                                        .epsilon = c.get_double("epsilon"),
                                        .center = c.get_bool("center"),
                                        .scale = c.get_bool("scale"),
                                        .name = name_of(c)}));
  });
  register_layer("Concatenate", [](const LayerConfig& c) {
    return LayerRef(Concatenate({.axis = c.get_int("axis"), .name = name_of(c)}));
  });
  register_layer("Add", [](const LayerConfig& c) { return LayerRef(Add({.name = name_of(c)})); });
  register_layer("Multiply", [](const LayerConfig& c) { return LayerRef(Multiply({.name = name_of(c)})); });
  register_layer("Embedding", [](const LayerConfig& c) {
    return LayerRef(Embedding(c.get_int("input_dim"), c.get_int("output_dim"),
                              {.embeddings_initializer = get_initializer(c, "embeddings_initializer", "random_uniform"),
                               .name = name_of(c)}));
  });
  register_layer("LSTM", [](const LayerConfig& c) {
    return LayerRef(LSTM(c.get_int("units"), {.return_sequences = c.get_bool("return_sequences"), .name = name_of(c)}));
  });
  return true;
}();

}  // namespace
}  // namespace duet
