// Layer configs (Keras get_config / from_config): LayerConfig, the registry of layer classes load_model
// rebuilds, and the config of every built-in layer.
#include <mutex>
#include <unordered_map>

#include "config_helpers.h"
#include "duet/layers.h"

namespace duet {

LayerConfig& LayerConfig::set(const std::string& key, ConfigValue value) {
  items_[key] = std::move(value);
  return *this;
}

namespace {
template <class T>
const T& typed(const ConfigValue& v, const std::string& owner, const std::string& key, const char* want) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw ValueError("[" + owner + " config] '" + key + "' is not " + want);
}
}  // namespace

const ConfigValue& LayerConfig::at(const std::string& key, const char* want) const {
  auto it = items_.find(key);
  if (it == items_.end()) {
    throw ValueError("[" + owner_ + " config] has no '" + key + "' (" + want + "): pass " + key +
                     " to the layer's constructor (a file without it was written by another program or edited)");
  }
  read_.insert(key);
  return it->second;
}

std::vector<std::string> LayerConfig::unread() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items_)
    if (!read_.count(k)) out.push_back(k);
  return out;
}

std::vector<std::int64_t> LayerConfig::get_ints(const std::string& key, std::size_t rank) const {
  const ConfigValue& v = at(key, "integers");
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::vector<std::int64_t>(rank, *i);
  const auto& list = typed<std::vector<std::int64_t>>(v, owner_, key, "an integer or a list of integers");
  if (list.size() != rank) {
    throw ValueError("[" + owner_ + "] '" + key + "' needs " + std::to_string(rank) +
                     " integers (or one integer for all of them), got " + std::to_string(list.size()));
  }
  return list;
}

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
struct Registered {
  LayerFactory factory;
  std::vector<std::string> positional;
};
std::map<std::string, Registered>& registry() {
  static auto* r = new std::map<std::string, Registered>();
  return *r;
}

}  // namespace

namespace layer_config {

// Initializers are saved by name, each argument given as "<key>_<argument>" (kernel_initializer_stddev); a
// custom callable cannot be saved: it comes back as the default, which only matters for weights the file does
// not hold.
void set_initializer(LayerConfig& c, const std::string& key, const Initializer& init) {
  c.set(key, init.name.empty() ? std::string("glorot_uniform") : init.name);
  for (const auto& [arg, v] : init.args) c.set(key + "_" + arg, v);
}
Initializer get_initializer(const LayerConfig& c, const std::string& key, const char* fallback) {
  if (!c.has(key)) return Initializer(fallback);
  const std::string& name = c.get_string(key);
  std::map<std::string, ConfigValue> args;
  for (const initializers::Info& info : initializers::registered()) {
    for (const auto& [arg, unused] : info.args)
      if (c.has(key + "_" + arg)) args[arg] = c.get(key + "_" + arg);
  }
  return initializers::make(name, std::move(args));
}
LayerConfig base(const Layer& l) {
  LayerConfig c(l.type());
  c.set("name", l.name());
  return c;
}
std::string name_of(const LayerConfig& c) { return c.has("name") ? c.get_string("name") : std::string(); }

void opt(const LayerConfig& c, const char* k, std::string& f) {
  if (c.has(k)) f = c.get_string(k);
}
void opt(const LayerConfig& c, const char* k, bool& f) {
  if (c.has(k)) f = c.get_bool(k);
}
void opt(const LayerConfig& c, const char* k, std::int64_t& f) {
  if (c.has(k)) f = c.get_int(k);
}
void opt(const LayerConfig& c, const char* k, double& f) {
  if (c.has(k)) f = c.get_double(k);
}
void opt(const LayerConfig& c, const char* k, std::vector<std::int64_t>& f, std::size_t rank) {
  if (c.has(k)) f = c.get_ints(k, rank);
}
void opt(const LayerConfig& c, const char* k, Initializer& f) {
  if (c.has(k)) f = get_initializer(c, k, "glorot_uniform");
}
static std::string shown(const ConfigValue& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "True" : "False";
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  if (const auto* s = std::get_if<std::string>(&v)) return "'" + s->substr(0, 64) + "'";
  std::string out = "(";
  for (auto i : std::get<std::vector<std::int64_t>>(v)) out += (out.size() > 1 ? ", " : "") + std::to_string(i);
  return out + ")";
}
void only(const LayerConfig& c, const char* k, const ConfigValue& allowed, const char* why) {
  if (!c.has(k)) return;
  const ConfigValue& v = c.get(k);
  const bool same =
      v == allowed || (std::holds_alternative<std::int64_t>(v) && std::holds_alternative<double>(allowed) &&
                       static_cast<double>(std::get<std::int64_t>(v)) == std::get<double>(allowed));
  if (!same) {
    throw ValueError("[" + c.owner() + "] " + k + "=" + shown(v) + " is not supported: " + why + " (only " + k + "=" +
                     shown(allowed) + ")");
  }
}
void unsupported(const LayerConfig& c, std::initializer_list<const char*> keys, const char* why) {
  for (const char* k : keys)
    if (c.has(k)) throw ValueError("[" + c.owner() + "] " + k + " is not supported yet: " + why);
}
const char* const kNoRegularizers =
    "regularizers and constraints are planned (issue 30); add the penalty to the loss in a custom training "
    "step meanwhile";
const char* const kNhwc = "duet's images are NHWC, channels last";
void no_regularizers(const LayerConfig& c) {
  unsupported(c,
              {"kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint",
               "embeddings_regularizer", "embeddings_constraint", "recurrent_regularizer", "recurrent_constraint",
               "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint", "depthwise_regularizer",
               "depthwise_constraint", "pointwise_regularizer", "pointwise_constraint"},
              kNoRegularizers);
}

}  // namespace layer_config

namespace {

using namespace layer_config;  // NOLINT(google-build-using-namespace): this file's own helpers

}  // namespace

void register_layer(const std::string& class_name, LayerFactory factory, std::vector<std::string> positional) {
  if (class_name.empty() || !factory) throw ValueError("[register_layer] needs a class name and a factory");
  std::lock_guard<std::mutex> lock(g_registry_mu);
  registry()[class_name] = Registered{std::move(factory), std::move(positional)};
}

std::vector<std::pair<std::string, std::vector<std::string>>> registered_layers() {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& [name, r] : registry()) out.emplace_back(name, r.positional);
  return out;
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
    f = it->second.factory;
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

// The built-in layer classes, registered at start-up, with Keras's arguments: what is not given keeps the
// default of the layer's options struct.
const bool g_builtins = [] {
  using namespace layers;
  register_layer("Dense",
                 [](const LayerConfig& c) {
                   no_regularizers(c);
                   DenseOptions o{.name = name_of(c)};
                   opt(c, "activation", o.activation);
                   opt(c, "use_bias", o.use_bias);
                   opt(c, "kernel_initializer", o.kernel_initializer);
                   opt(c, "bias_initializer", o.bias_initializer);
                   return LayerRef(Dense(c.get_int("units"), o));
                 },
                 {"units", "activation"});
  register_layer(
      "Activation",
      [](const LayerConfig& c) { return LayerRef(Activation(c.get_string("activation"), {.name = name_of(c)})); },
      {"activation"});
  register_layer("Flatten", [](const LayerConfig& c) {
    only(c, "data_format", std::string("channels_last"), kNhwc);
    return LayerRef(Flatten({.name = name_of(c)}));
  });
  register_layer(
      "Reshape",
      [](const LayerConfig& c) { return LayerRef(Reshape(c.get_ints("target_shape"), {.name = name_of(c)})); },
      {"target_shape"});
  register_layer("Dropout",
                 [](const LayerConfig& c) {
                   DropoutOptions o{.name = name_of(c)};
                   if (c.has("seed")) o.seed = static_cast<std::uint64_t>(c.get_int("seed"));
                   unsupported(c, {"noise_shape"}, "Dropout draws an independent mask for every element");
                   return LayerRef(Dropout(c.get_double("rate"), o));
                 },
                 {"rate", "noise_shape", "seed"});
  register_layer("Conv2D",
                 [](const LayerConfig& c) {
                   no_regularizers(c);
                   only(c, "data_format", std::string("channels_last"), kNhwc);
                   only(c, "groups", std::int64_t{1}, "grouped convolutions are planned (issue 29)");
                   layers::Conv2DOptions o{.name = name_of(c)};
                   opt(c, "strides", o.strides, 2);
                   opt(c, "padding", o.padding);
                   opt(c, "dilation_rate", o.dilation_rate, 2);
                   opt(c, "activation", o.activation);
                   opt(c, "use_bias", o.use_bias);
                   opt(c, "kernel_initializer", o.kernel_initializer);
                   opt(c, "bias_initializer", o.bias_initializer);
                   return LayerRef(Conv2D(c.get_int("filters"), c.get_ints("kernel_size", 2), o));
                 },
                 {"filters", "kernel_size", "strides", "padding"});
  auto pooling = [](bool is_max) {
    return [is_max](const LayerConfig& c) {
      only(c, "data_format", std::string("channels_last"), kNhwc);
      Pooling2DOptions o{.name = name_of(c)};
      opt(c, "pool_size", o.pool_size, 2);
      // No strides (an empty list in a saved config) means pool_size's.
      const auto* none = c.has("strides") ? std::get_if<std::vector<std::int64_t>>(&c.get("strides")) : nullptr;
      if (!none || !none->empty()) opt(c, "strides", o.strides, 2);
      opt(c, "padding", o.padding);
      return LayerRef(is_max ? MaxPooling2D(o) : AveragePooling2D(o));
    };
  };
  register_layer("MaxPooling2D", pooling(true), {"pool_size", "strides", "padding"});
  register_layer("AveragePooling2D", pooling(false), {"pool_size", "strides", "padding"});
  register_layer("BatchNormalization",
                 [](const LayerConfig& c) {
                   no_regularizers(c);
                   only(c, "axis", std::int64_t{-1},
                        "BatchNormalization normalizes over the last axis (any axis: issue 29)");
                   BatchNormalizationOptions o{.name = name_of(c)};
                   opt(c, "momentum", o.momentum);
                   opt(c, "epsilon", o.epsilon);
                   opt(c, "center", o.center);
                   opt(c, "scale", o.scale);
                   only(c, "beta_initializer", std::string("zeros"), "beta starts at zeros");
                   only(c, "gamma_initializer", std::string("ones"), "gamma starts at ones");
                   only(c, "moving_mean_initializer", std::string("zeros"), "the moving mean starts at zeros");
                   only(c, "moving_variance_initializer", std::string("ones"), "the moving variance starts at ones");
                   return LayerRef(BatchNormalization(o));
                 },
                 {"axis", "momentum", "epsilon", "center", "scale"});
  register_layer("Concatenate",
                 [](const LayerConfig& c) {
                   ConcatenateOptions o{.name = name_of(c)};
                   opt(c, "axis", o.axis);
                   return LayerRef(Concatenate(o));
                 },
                 {"axis"});
  register_layer("Add", [](const LayerConfig& c) { return LayerRef(Add({.name = name_of(c)})); });
  register_layer("Multiply", [](const LayerConfig& c) { return LayerRef(Multiply({.name = name_of(c)})); });
  register_layer("Embedding",
                 [](const LayerConfig& c) {
                   no_regularizers(c);
                   only(c, "mask_zero", false, "masks are planned (issue 29)");
                   EmbeddingOptions o{.name = name_of(c)};
                   opt(c, "embeddings_initializer", o.embeddings_initializer);
                   return LayerRef(Embedding(c.get_int("input_dim"), c.get_int("output_dim"), o));
                 },
                 {"input_dim", "output_dim", "embeddings_initializer"});
  register_layer("LSTM",
                 [](const LayerConfig& c) {
                   no_regularizers(c);
                   constexpr const char* kLater = "the recurrent layers' full arguments are planned (issue 29)";
                   only(c, "activation", std::string("tanh"), kLater);
                   only(c, "recurrent_activation", std::string("sigmoid"), kLater);
                   only(c, "use_bias", true, kLater);
                   only(c, "return_state", false, kLater);
                   only(c, "go_backwards", false, kLater);
                   only(c, "stateful", false, kLater);
                   only(c, "dropout", 0.0, kLater);
                   only(c, "recurrent_dropout", 0.0, kLater);
                   LSTMOptions o{.name = name_of(c)};
                   opt(c, "return_sequences", o.return_sequences);
                   return LayerRef(LSTM(c.get_int("units"), o));
                 },
                 {"units", "activation", "recurrent_activation", "use_bias"});
  return true;
}();

}  // namespace
}  // namespace duet
