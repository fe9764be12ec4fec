#pragma once
// Keras-style layers. A layer builds its weights once, from the shape of its first input; called on
// concrete tensors it computes now, called on symbolic ones (an Input, or inside a traced function) it
// records. Layers are shared objects: create them with the factories in duet::layers (each returns a typed
// handle, Ref<DenseLayer> and so on, whose -> reaches the layer's weights and options) or make_layer<T>(...)
// for your own subclasses, and call the handle. Options are Keras's names in one XxxOptions struct per layer.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "duet/nn.h"
#include "duet/tensor.h"
#include "duet/variable.h"

namespace duet {

// Weight initializers by name: "glorot_uniform" (default), "glorot_normal", "he_normal", "he_uniform", "zeros",
// "ones", "random_normal", "random_uniform"; or a callable (shape, dtype) -> tensor. initializers::constant(v).
using InitializerFn = std::function<Tensor(const Shape&, DType)>;
// A layer's constructor arguments as plain values (Keras get_config): what model.save writes and load_model
// rebuilds the layer from. Always holds "name" when saved.
using ConfigValue = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>>;

// Keras's initializers by name ("glorot_uniform", "zeros", ...; initializers::make for their arguments), or
// any callable.
struct Initializer {
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design ("zeros")
  Initializer(const char* name);
  // NOLINTNEXTLINE(google-explicit-constructor): same
  Initializer(const std::string& name);
  // NOLINTNEXTLINE(google-explicit-constructor): same
  Initializer(InitializerFn fn) : fn(std::move(fn)) {}
  InitializerFn fn;
  std::string name;                         // "" for a custom callable
  std::map<std::string, ConfigValue> args;  // the arguments given (the others take Keras's defaults)
};
namespace initializers {
// By Keras's name and arguments (keras.initializers.RandomNormal(stddev=0.02) is
// make("random_normal", {{"stddev", 0.02}})): zeros, ones, constant(value), random_normal(mean, stddev, seed),
// random_uniform(minval, maxval, seed), truncated_normal(mean, stddev, seed), variance_scaling(scale, mode,
// distribution, seed), glorot_uniform/glorot_normal/he_normal/he_uniform/lecun_normal/lecun_uniform(seed),
// orthogonal(gain, seed), identity(gain). A seed makes every call draw the same values, as in Keras. Unknown
// names or arguments, and values out of range, throw ValueError.
Initializer make(const std::string& name, std::map<std::string, ConfigValue> args);
Initializer constant(double value);
// Each initializer's arguments in Keras's order, with their defaults (nullopt: None, a seed).
struct Info {
  std::string name;
  std::vector<std::pair<std::string, std::optional<ConfigValue>>> args;
};
std::vector<Info> registered();
}  // namespace initializers

// add_weight's options (Keras names).
struct WeightOptions {
  Initializer initializer = "glorot_uniform";
  bool trainable = true;
  DType dtype = DType::Float32;
};

class LayerConfig {
 public:
  explicit LayerConfig(std::string owner = "layer") : owner_(std::move(owner)) {}
  LayerConfig& set(const std::string& key, ConfigValue value);
  bool has(const std::string& key) const { return items_.count(key) != 0; }
  const ConfigValue& get(const std::string& key) const { return at(key, "a value"); }
  // Typed reads: a missing key or a value of another type throws ValueError naming the layer class and key.
  bool get_bool(const std::string& key) const;
  std::int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;  // an integer value reads as a double too
  const std::string& get_string(const std::string& key) const;
  const std::vector<std::int64_t>& get_ints(const std::string& key) const;
  // `rank` integers, where one integer stands for all of them (Keras's Conv2D(32, 3): kernel_size 3 is (3, 3)).
  std::vector<std::int64_t> get_ints(const std::string& key, std::size_t rank) const;
  const std::map<std::string, ConfigValue>& items() const { return items_; }
  // The keys no typed read has asked for: arguments the layer class does not take (a Python constructor's
  // misspelled keyword argument is reported from these).
  std::vector<std::string> unread() const;
  const std::string& owner() const { return owner_; }

 private:
  const ConfigValue& at(const std::string& key, const char* want) const;
  std::string owner_;
  std::map<std::string, ConfigValue> items_;
  mutable std::set<std::string> read_;  // a config is read by one thread (its factory)
};

// What calling a layer on a list of inputs returns: its outputs, which also read as the one output when there
// is exactly one, so Concatenate()({a, b}) is a Tensor as in Keras (several outputs: index them).
class LayerOutputs : public std::vector<Tensor> {
 public:
  LayerOutputs() = default;
  // NOLINTNEXTLINE(google-explicit-constructor): a layer's call() returns a plain vector
  LayerOutputs(std::vector<Tensor> outputs) : std::vector<Tensor>(std::move(outputs)) {}
  // The single output; ValueError when there are several or none.
  // NOLINTNEXTLINE(google-explicit-constructor): reads as the one output
  operator Tensor() const;
};

class Layer : public std::enable_shared_from_this<Layer> {
 public:
  // type: the class name shown by summary() ("Dense"); the default name is its snake_case with a
  // per-type counter: dense, dense_1, ...
  explicit Layer(std::string type, std::string name = "");
  virtual ~Layer();
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // Calls the layer (Keras __call__): builds on first use, then call().
  Tensor operator()(const Tensor& x, bool training = false);
  LayerOutputs operator()(const std::vector<Tensor>& xs, bool training = false);

  // Override points. Single-input layers override call(Tensor); several inputs: call(vector).
  virtual void build(const std::vector<Shape>& input_shapes);
  virtual Tensor call(const Tensor& x, bool training);
  virtual std::vector<Tensor> call(const std::vector<Tensor>& xs, bool training);
  // Optional: the output shapes for these input shapes (batch dim included, may be None). When given, a
  // functional model records the layer without tracing call(), and a host step knows its output shapes
  // before its first real call.
  virtual std::optional<std::vector<Shape>> compute_output_shape(const std::vector<Shape>& input_shapes);
  // Optional: the arguments that rebuild this layer (with a factory registered by register_layer under its
  // type()). Without one, model.save refuses the model and names the layer. Built-in layers have one.
  virtual std::optional<LayerConfig> get_config() const;

  // A weight owned by this layer (created eagerly even inside a trace): add_weight("w", {3, 4}) or
  // add_weight("b", {4}, {.initializer = "zeros", .trainable = false}).
  Variable add_weight(const std::string& name, const Shape& shape, const WeightOptions& options = {});
  // Registers a sublayer (sublayers called from call() are also registered automatically on first call).
  template <class L>
  std::shared_ptr<L> track(std::shared_ptr<L> child) {
    add_child(child);
    return child;
  }

  const std::string& name() const { return name_; }
  const std::string& type() const { return type_; }
  bool built() const { return built_; }
  // Weights of this layer and its sublayers (a frozen layer's weights are all non-trainable).
  std::vector<Variable> weights() const;
  std::vector<Variable> trainable_weights() const;
  std::vector<Variable> non_trainable_weights() const;
  std::int64_t count_params() const;
  bool trainable() const { return trainable_; }
  void set_trainable(bool t) { trainable_ = t; }
  // A dynamic layer only runs eagerly: inside a compiled model it runs as a host step.
  bool dynamic() const { return dynamic_; }
  void set_dynamic(bool d) { dynamic_ = d; }
  // True once this layer has run as a host step inside a compiled function (a graph break).
  bool runs_as_host_step() const { return host_step_; }
  std::vector<std::shared_ptr<Layer>> sublayers() const;

 protected:
  void add_child(std::shared_ptr<Layer> child);
  std::atomic<bool> built_{false};

 private:
  friend struct LayerAccess;
  std::vector<Tensor> call_now(const std::vector<Tensor>& xs, bool training);
  std::vector<Tensor> call_as_host_step(const std::vector<Tensor>& xs, bool training, const std::string& why);
  std::optional<std::vector<TensorSpec>> host_output_specs(const std::vector<Tensor>& xs);
  void ensure_built(const std::vector<Tensor>& xs);

  std::string type_, name_;
  std::vector<Variable> own_weights_;
  std::vector<std::shared_ptr<Layer>> children_;
  // A model first called from several threads at once is built once, and registers each sublayer once.
  std::mutex build_mu_;
  mutable std::mutex children_mu_;
  bool trainable_ = true;
  bool dynamic_ = false;
  std::atomic<bool> host_step_{false};
  std::atomic<bool> warned_{false};
  // Output specs of this layer as a host step, by input specs (batch dim None): learned from
  // compute_output_shape, from the model build, or from its first real call.
  std::mutex host_specs_mu_;
  std::vector<std::pair<std::vector<TensorSpec>, std::vector<TensorSpec>>> host_specs_;
};

// A handle to a layer of type L: call it like the layer; -> reaches the layer (weights, options).
template <class L>
class Ref {
 public:
  Ref() = default;
  // NOLINTNEXTLINE(google-explicit-constructor): implicit from the shared layer
  Ref(std::shared_ptr<L> p) : p_(std::move(p)) {}
  template <class U>
  // NOLINTNEXTLINE(google-explicit-constructor): upcast
  requires std::is_convertible_v<U*, L*> Ref(const Ref<U>& o) : p_(o.ptr()) {}
  Tensor operator()(const Tensor& x, bool training = false) const { return (*p_)(x, training); }
  LayerOutputs operator()(const std::vector<Tensor>& xs, bool training = false) const { return (*p_)(xs, training); }
  L* operator->() const { return p_.get(); }
  L& operator*() const { return *p_; }
  const std::shared_ptr<L>& ptr() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  std::shared_ptr<L> p_;
};
using LayerRef = Ref<Layer>;

template <class L, class... A>
Ref<L> make_layer(A&&... args) {
  return Ref<L>(std::make_shared<L>(std::forward<A>(args)...));
}

// Layer classes load_model can rebuild, by class name (a layer's type()). Built-in layers are registered;
// register a custom layer with its factory, or with register_layer<MyLayer>("MyLayer") when MyLayer has a
// static std::shared_ptr<MyLayer> from_config(const LayerConfig&).
// `positional`: the config keys a call may give by position, in order (Dense: {"units"}), which is how the
// Python package's generic constructor (duet.keras.layers.Dense(32, activation="relu")) maps its arguments:
// every registered class appears there with no binding code of its own.
using LayerFactory = std::function<LayerRef(const LayerConfig&)>;
void register_layer(const std::string& class_name, LayerFactory factory, std::vector<std::string> positional = {});
template <class L>
void register_layer(const std::string& class_name, std::vector<std::string> positional = {}) {
  register_layer(
      class_name, [](const LayerConfig& c) { return LayerRef(L::from_config(c)); }, std::move(positional));
}
// The registered layer classes and their positional argument names, sorted by class name.
std::vector<std::pair<std::string, std::vector<std::string>>> registered_layers();
// The layer `class_name` rebuilt from `config`; ValueError when the class is not registered (naming it).
LayerRef layer_from_config(const std::string& class_name, const LayerConfig& config);

// A symbolic model input of the given per-example shape; its batch dim is unknown: Input({10}) is (None, 10).
// Inputs are named input_1, input_2, ... unless named.
Tensor Input(const std::vector<std::int64_t>& shape, DType dtype = DType::Float32, const std::string& name = "");

// Activations by Keras's names (activation_names(): relu, relu6, leaky_relu, elu, selu, celu, gelu, silu and
// swish, sigmoid, hard_sigmoid, hard_silu and hard_swish, softsign, softplus, mish, exponential, tanh, softmax,
// log_softmax, linear, ...; "" is linear too), with Keras's default arguments: leaky_relu's slope is 0.2, gelu is
// exact (approximate=False), softmax and log_softmax run over the last axis. An unknown name: ValueError listing
// them.
std::function<Tensor(const Tensor&)> activation(const std::string& name);
const std::vector<std::string>& activation_names();

namespace layers {

struct DenseOptions {
  std::string activation;
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  std::string name;
};
// y = activation(x kernel + bias) over the last axis.
class DenseLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit DenseLayer(std::int64_t units, const DenseOptions& options = {});
  std::int64_t units() const { return units_; }
  const DenseOptions& options() const { return o_; }
  const Variable& kernel() const { return kernel_; }  // (input_dim, units), once built
  const Variable& bias() const { return bias_; }      // (units,); undefined without use_bias
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor call(const Tensor& x, bool training) override;

 private:
  std::int64_t units_;
  DenseOptions o_;
  std::function<Tensor(const Tensor&)> act_;
  Variable kernel_, bias_;
};
Ref<DenseLayer> Dense(std::int64_t units, const DenseOptions& options = {});
Ref<DenseLayer> Dense(std::int64_t units, const char* activation);  // Dense(32, "relu")

struct LayerOptions {
  std::string name;
};

class ActivationLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit ActivationLayer(std::string activation, const LayerOptions& options = {});
  const std::string& activation() const { return activation_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  std::string activation_;
  std::function<Tensor(const Tensor&)> fn_;
};
Ref<ActivationLayer> Activation(const std::string& activation, const LayerOptions& options = {});

// (N, d1, d2, ...) -> (N, d1 * d2 * ...).
class FlattenLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit FlattenLayer(const LayerOptions& options = {});
  Tensor call(const Tensor& x, bool training) override;
};
Ref<FlattenLayer> Flatten(const LayerOptions& options = {});

// Per-example target shape (one dim may be -1).
class ReshapeLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit ReshapeLayer(std::vector<std::int64_t> target_shape, const LayerOptions& options = {});
  const std::vector<std::int64_t>& target_shape() const { return target_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  std::vector<std::int64_t> target_;
};
Ref<ReshapeLayer> Reshape(std::vector<std::int64_t> target_shape, const LayerOptions& options = {});

struct DropoutOptions {
  std::optional<std::uint64_t> seed;  // the same mask on every call
  std::string name;
};
// Active only when called with training = true (as in fit). `rate` is read when the step runs: assigning
// it between steps (layer->rate = 0.5) changes the compiled step too.
class DropoutLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit DropoutLayer(double rate, const DropoutOptions& options = {});
  Hyperparameter rate;
  const DropoutOptions& options() const { return o_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  DropoutOptions o_;
};
Ref<DropoutLayer> Dropout(double rate, const DropoutOptions& options = {});

struct LambdaOptions {
  std::string name;
  // Per-example output shape (without the batch dim), checked on every call when given.
  std::optional<std::vector<std::int64_t>> output_shape;
};
// Wraps a function of one tensor (a generic lambda `[](auto x) { ... }` is called with a Tensor), or of
// several (const std::vector<Tensor>&: the layer is called with a vector of inputs).
class LambdaLayer : public Layer {
 public:
  using OneFn = std::function<Tensor(const Tensor&)>;
  using ManyFn = std::function<Tensor(const std::vector<Tensor>&)>;
  LambdaLayer(OneFn one, ManyFn many, const LambdaOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& xs, bool training) override;

 private:
  OneFn one_;
  ManyFn many_;
  LambdaOptions o_;
};
template <class F>
Ref<LambdaLayer> Lambda(F fn, const LambdaOptions& options = {}) {
  if constexpr (std::is_invocable_v<F&, const Tensor&>) {
    return make_layer<LambdaLayer>(LambdaLayer::OneFn([f = std::move(fn)](const Tensor& x) { return Tensor(f(x)); }),
                                   nullptr, options);
  } else {
    static_assert(std::is_invocable_v<F&, const std::vector<Tensor>&>,
                  "Lambda takes a function of one Tensor or of a const std::vector<Tensor>& returning a Tensor");
    return make_layer<LambdaLayer>(
        nullptr, LambdaLayer::ManyFn([f = std::move(fn)](const std::vector<Tensor>& xs) { return Tensor(f(xs)); }),
        options);
  }
}

struct Conv2DOptions {
  std::vector<std::int64_t> strides = {1, 1};
  std::string padding = "valid";
  std::vector<std::int64_t> dilation_rate = {1, 1};
  std::string activation;
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  std::string name;
};
// 2-D convolution over NHWC inputs with `filters` output channels and a (kh, kw) kernel.
class Conv2DLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  Conv2DLayer(std::int64_t filters, std::vector<std::int64_t> kernel_size, const Conv2DOptions& options = {});
  std::int64_t filters() const { return filters_; }
  const std::vector<std::int64_t>& kernel_size() const { return kernel_size_; }
  const Conv2DOptions& options() const { return o_; }
  const Variable& kernel() const { return kernel_; }  // (kh, kw, in_channels, filters)
  const Variable& bias() const { return bias_; }
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor call(const Tensor& x, bool training) override;

 private:
  std::int64_t filters_;
  std::vector<std::int64_t> kernel_size_;
  Conv2DOptions o_;
  std::function<Tensor(const Tensor&)> act_;
  Variable kernel_, bias_;
};
Ref<Conv2DLayer> Conv2D(std::int64_t filters, std::vector<std::int64_t> kernel_size, const Conv2DOptions& options = {});

struct Conv1DOptions {
  std::vector<std::int64_t> strides = {1};
  std::string padding = "valid";  // "valid", "same" or "causal" (zeros on the left only: output t sees inputs <= t)
  std::vector<std::int64_t> dilation_rate = {1};
  std::string activation;
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  std::string name;
};
// 1-D convolution over (batch, steps, channels) inputs with `filters` output channels: conv2d over a height of 1.
class Conv1DLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  Conv1DLayer(std::int64_t filters, std::vector<std::int64_t> kernel_size, const Conv1DOptions& options = {});
  std::int64_t filters() const { return filters_; }
  const std::vector<std::int64_t>& kernel_size() const { return kernel_size_; }
  const Conv1DOptions& options() const { return o_; }
  const Variable& kernel() const { return kernel_; }  // (k, in_channels, filters)
  const Variable& bias() const { return bias_; }
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor call(const Tensor& x, bool training) override;

 private:
  std::int64_t filters_;
  std::vector<std::int64_t> kernel_size_;
  Conv1DOptions o_;
  std::function<Tensor(const Tensor&)> act_;
  Variable kernel_, bias_;
};
Ref<Conv1DLayer> Conv1D(std::int64_t filters, std::vector<std::int64_t> kernel_size, const Conv1DOptions& options = {});

// Transposed convolutions (Keras's Conv2DTranspose / Conv1DTranspose): conv2d_transpose, the input gradient of a
// convolution, with Keras's output sizes (conv_transpose_output_length); output_padding (each < its stride) picks
// one of the sizes a strided convolution maps to the same input size (none: Keras's default).
struct Conv2DTransposeOptions {
  std::vector<std::int64_t> strides = {1, 1};
  std::string padding = "valid";
  std::vector<std::int64_t> output_padding = {};  // none
  std::vector<std::int64_t> dilation_rate = {1, 1};
  std::string activation;
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  std::string name;
};
class Conv2DTransposeLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  Conv2DTransposeLayer(std::int64_t filters, std::vector<std::int64_t> kernel_size,
                       const Conv2DTransposeOptions& options = {});
  std::int64_t filters() const { return filters_; }
  const std::vector<std::int64_t>& kernel_size() const { return kernel_size_; }
  const Conv2DTransposeOptions& options() const { return o_; }
  const Variable& kernel() const { return kernel_; }  // (kh, kw, filters, in_channels), as Keras's
  const Variable& bias() const { return bias_; }
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor call(const Tensor& x, bool training) override;
  std::optional<std::vector<Shape>> compute_output_shape(const std::vector<Shape>& input_shapes) override;

 private:
  std::int64_t filters_;
  std::vector<std::int64_t> kernel_size_;
  Conv2DTransposeOptions o_;
  std::function<Tensor(const Tensor&)> act_;
  Variable kernel_, bias_;
};
Ref<Conv2DTransposeLayer> Conv2DTranspose(std::int64_t filters, std::vector<std::int64_t> kernel_size,
                                          const Conv2DTransposeOptions& options = {});

struct Conv1DTransposeOptions {
  std::vector<std::int64_t> strides = {1};
  std::string padding = "valid";
  std::vector<std::int64_t> output_padding = {};  // none
  std::vector<std::int64_t> dilation_rate = {1};
  std::string activation;
  bool use_bias = true;
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  std::string name;
};
class Conv1DTransposeLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  Conv1DTransposeLayer(std::int64_t filters, std::vector<std::int64_t> kernel_size,
                       const Conv1DTransposeOptions& options = {});
  std::int64_t filters() const { return filters_; }
  const std::vector<std::int64_t>& kernel_size() const { return kernel_size_; }
  const Conv1DTransposeOptions& options() const { return o_; }
  const Variable& kernel() const { return kernel_; }  // (k, filters, in_channels), as Keras's
  const Variable& bias() const { return bias_; }
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor call(const Tensor& x, bool training) override;
  std::optional<std::vector<Shape>> compute_output_shape(const std::vector<Shape>& input_shapes) override;

 private:
  std::int64_t filters_;
  std::vector<std::int64_t> kernel_size_;
  Conv1DTransposeOptions o_;
  std::function<Tensor(const Tensor&)> act_;
  Variable kernel_, bias_;
};
Ref<Conv1DTransposeLayer> Conv1DTranspose(std::int64_t filters, std::vector<std::int64_t> kernel_size,
                                          const Conv1DTransposeOptions& options = {});

struct Pooling2DOptions {
  std::vector<std::int64_t> pool_size = {2, 2};
  std::vector<std::int64_t> strides = {};  // default: pool_size
  std::string padding = "valid";
  std::string name;
};
class Pooling2DLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit Pooling2DLayer(bool is_max, const Pooling2DOptions& options = {});
  bool is_max() const { return max_; }
  const Pooling2DOptions& options() const { return o_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  bool max_;
  Pooling2DOptions o_;
};
Ref<Pooling2DLayer> MaxPooling2D(const Pooling2DOptions& options = {});
Ref<Pooling2DLayer> AveragePooling2D(const Pooling2DOptions& options = {});

// Pooling over sequences (N, L, C) (as 2-D pooling of (N, L, 1, C)) and volumes (N, D, H, W, C) (a 2-D pooling
// over (H, W), then one over D: a box's max or in-bounds average factors by axis).
struct Pooling1DOptions {
  std::int64_t pool_size = 2;
  std::optional<std::int64_t> strides;  // default: pool_size
  std::string padding = "valid";
  std::string name;
};
struct Pooling3DOptions {
  std::vector<std::int64_t> pool_size = {2, 2, 2};
  std::vector<std::int64_t> strides = {};  // default: pool_size
  std::string padding = "valid";
  std::string name;
};
class PoolingLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  // rank: 1 or 3 spatial dims; pool_size and strides hold one value per spatial dim.
  PoolingLayer(int rank, bool is_max, std::vector<std::int64_t> pool_size, std::vector<std::int64_t> strides,
               std::string padding, const std::string& name);
  int rank() const { return rank_; }
  bool is_max() const { return max_; }
  const std::vector<std::int64_t>& pool_size() const { return pool_; }
  const std::vector<std::int64_t>& strides() const { return strides_; }
  const std::string& padding() const { return padding_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  int rank_;
  bool max_;
  std::vector<std::int64_t> pool_, strides_;
  std::string padding_;
};
Ref<PoolingLayer> MaxPooling1D(const Pooling1DOptions& options = {});
Ref<PoolingLayer> AveragePooling1D(const Pooling1DOptions& options = {});
Ref<PoolingLayer> MaxPooling3D(const Pooling3DOptions& options = {});
Ref<PoolingLayer> AveragePooling3D(const Pooling3DOptions& options = {});

struct GlobalPoolingOptions {
  bool keepdims = false;  // keep the spatial dims, as size 1
  std::string name;
};
// Mean or max over every spatial dim: (N, L, C), (N, H, W, C) or (N, D, H, W, C) -> (N, C).
class GlobalPoolingLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  GlobalPoolingLayer(int rank, bool is_max, const GlobalPoolingOptions& options = {});
  int rank() const { return rank_; }
  bool is_max() const { return max_; }
  const GlobalPoolingOptions& options() const { return o_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  int rank_;
  bool max_;
  GlobalPoolingOptions o_;
};
Ref<GlobalPoolingLayer> GlobalAveragePooling1D(const GlobalPoolingOptions& options = {});
Ref<GlobalPoolingLayer> GlobalAveragePooling2D(const GlobalPoolingOptions& options = {});
Ref<GlobalPoolingLayer> GlobalAveragePooling3D(const GlobalPoolingOptions& options = {});
Ref<GlobalPoolingLayer> GlobalMaxPooling1D(const GlobalPoolingOptions& options = {});
Ref<GlobalPoolingLayer> GlobalMaxPooling2D(const GlobalPoolingOptions& options = {});
Ref<GlobalPoolingLayer> GlobalMaxPooling3D(const GlobalPoolingOptions& options = {});

// Repeats each step / row / column `size` times (nearest), or interpolates bilinearly as tf.image.resize
// does (half-pixel centers) for UpSampling2D(interpolation = "bilinear").
struct UpSampling1DOptions {
  std::int64_t size = 2;
  std::string name;
};
struct UpSampling2DOptions {
  std::vector<std::int64_t> size = {2, 2};
  std::string interpolation = "nearest";  // or "bilinear"
  std::string name;
};
struct UpSampling3DOptions {
  std::vector<std::int64_t> size = {2, 2, 2};
  std::string name;
};
class UpSamplingLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  UpSamplingLayer(int rank, const std::vector<std::int64_t>& size, std::string interpolation, const std::string& name);
  int rank() const { return rank_; }
  const std::vector<std::int64_t>& size() const { return size_; }
  const std::string& interpolation() const { return interpolation_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  int rank_;
  std::vector<std::int64_t> size_;
  std::string interpolation_;
};
Ref<UpSamplingLayer> UpSampling1D(const UpSampling1DOptions& options = {});
Ref<UpSamplingLayer> UpSampling2D(const UpSampling2DOptions& options = {});
Ref<UpSamplingLayer> UpSampling3D(const UpSampling3DOptions& options = {});

// Zeros added around (ZeroPadding) or rows cut from (Cropping) the spatial dims of (N, L, C), (N, H, W, C) or
// (N, D, H, W, C). `amounts`: one value for every side, one per spatial dim (both sides), or a (before,
// after) pair per spatial dim, flat: ZeroPadding2D({1, 2, 3, 4}) is Keras's ((1, 2), (3, 4)).
class ZeroPaddingLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  ZeroPaddingLayer(int rank, const std::vector<std::int64_t>& padding, const LayerOptions& options = {});
  const std::vector<std::int64_t>& padding() const { return pad_; }  // (before, after) per spatial dim
  Tensor call(const Tensor& x, bool training) override;

 private:
  int rank_;
  std::vector<std::int64_t> pad_;
};
Ref<ZeroPaddingLayer> ZeroPadding1D(const std::vector<std::int64_t>& padding = {1}, const LayerOptions& options = {});
Ref<ZeroPaddingLayer> ZeroPadding2D(const std::vector<std::int64_t>& padding = {1}, const LayerOptions& options = {});
Ref<ZeroPaddingLayer> ZeroPadding3D(const std::vector<std::int64_t>& padding = {1}, const LayerOptions& options = {});
class CroppingLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  CroppingLayer(int rank, const std::vector<std::int64_t>& cropping, const LayerOptions& options = {});
  const std::vector<std::int64_t>& cropping() const { return crop_; }  // (before, after) per spatial dim
  Tensor call(const Tensor& x, bool training) override;

 private:
  int rank_;
  std::vector<std::int64_t> crop_;
};
Ref<CroppingLayer> Cropping1D(const std::vector<std::int64_t>& cropping = {1}, const LayerOptions& options = {});
Ref<CroppingLayer> Cropping2D(const std::vector<std::int64_t>& cropping = {0}, const LayerOptions& options = {});
Ref<CroppingLayer> Cropping3D(const std::vector<std::int64_t>& cropping = {1}, const LayerOptions& options = {});

struct ResizingOptions {
  std::string interpolation = "bilinear";  // or "nearest"
  // Center-crop to the target's aspect ratio first (as Keras: the crop's sides are truncated in float32).
  bool crop_to_aspect_ratio = false;
  std::string name;
};
// Images (N, H, W, C) or (H, W, C) resized to (height, width) as tf.image.resize (half-pixel centers, no
// antialiasing). Integer images are interpolated in float32 and rounded back to their dtype.
class ResizingLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  ResizingLayer(std::int64_t height, std::int64_t width, const ResizingOptions& options = {});
  std::int64_t height() const { return h_; }
  std::int64_t width() const { return w_; }
  const ResizingOptions& options() const { return o_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  std::int64_t h_, w_;
  ResizingOptions o_;
};
Ref<ResizingLayer> Resizing(std::int64_t height, std::int64_t width, const ResizingOptions& options = {});

struct BatchNormalizationOptions {
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true;  // learn beta
  bool scale = true;   // learn gamma
  std::string name;
};
// Normalizes over the last axis with batch statistics in training (updating the moving statistics) and the
// moving statistics otherwise.
class BatchNormalizationLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit BatchNormalizationLayer(const BatchNormalizationOptions& options = {});
  const BatchNormalizationOptions& options() const { return o_; }
  const Variable& gamma() const { return gamma_; }
  const Variable& beta() const { return beta_; }
  const Variable& moving_mean() const { return moving_mean_; }
  const Variable& moving_variance() const { return moving_var_; }
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor call(const Tensor& x, bool training) override;

 private:
  BatchNormalizationOptions o_;
  Variable gamma_, beta_, moving_mean_, moving_var_;
};
Ref<BatchNormalizationLayer> BatchNormalization(const BatchNormalizationOptions& options = {});

struct ConcatenateOptions {
  std::int64_t axis = -1;
  std::string name;
};
// Merge layers over several inputs of one shape (call them with a vector): Concatenate joins them along axis;
// Add, Multiply, Average, Maximum and Minimum combine them elementwise; Subtract takes exactly two (a - b).
class MergeLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  enum class Mode { Concatenate, Add, Multiply, Subtract, Average, Maximum, Minimum };
  explicit MergeLayer(Mode mode, const ConcatenateOptions& options = {});
  Mode mode() const { return mode_; }
  std::int64_t axis() const { return o_.axis; }
  std::vector<Tensor> call(const std::vector<Tensor>& xs, bool training) override;

 private:
  Mode mode_;
  ConcatenateOptions o_;
};
Ref<MergeLayer> Concatenate(const ConcatenateOptions& options = {});
Ref<MergeLayer> Add(const LayerOptions& options = {});
Ref<MergeLayer> Multiply(const LayerOptions& options = {});
Ref<MergeLayer> Subtract(const LayerOptions& options = {});
Ref<MergeLayer> Average(const LayerOptions& options = {});
Ref<MergeLayer> Maximum(const LayerOptions& options = {});
Ref<MergeLayer> Minimum(const LayerOptions& options = {});

struct DotOptions {
  bool normalize = false;  // L2-normalize both inputs along their axes first (the result is a cosine)
  std::string name;
};
// The batchwise dot product of two inputs (batch, ...) along axes = {a} (the same axis of both) or {a, b}
// (Keras's `axes`; 0, the batch axis, is not allowed; negative counts from the end). The output keeps the
// first input's other dims, then the second's: (b, n, d) . (b, m, d) with axes {2} is (b, n, m); two
// (b, d) inputs give (b, 1).
class DotLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit DotLayer(std::vector<std::int64_t> axes, const DotOptions& options = {});
  const std::vector<std::int64_t>& axes() const { return axes_; }
  const DotOptions& options() const { return o_; }
  std::vector<Tensor> call(const std::vector<Tensor>& xs, bool training) override;

 private:
  std::vector<std::int64_t> axes_;
  DotOptions o_;
};
Ref<DotLayer> Dot(std::vector<std::int64_t> axes, const DotOptions& options = {});

struct EmbeddingOptions {
  Initializer embeddings_initializer = "random_uniform";  // uniform in [-0.05, 0.05], as Keras
  std::string name;
};
// Integer ids (N, ...) -> vectors (N, ..., output_dim).
class EmbeddingLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  EmbeddingLayer(std::int64_t input_dim, std::int64_t output_dim, const EmbeddingOptions& options = {});
  std::int64_t input_dim() const { return in_; }
  std::int64_t output_dim() const { return out_; }
  const EmbeddingOptions& options() const { return o_; }
  const Variable& embeddings() const { return table_; }
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor call(const Tensor& ids, bool training) override;

 private:
  std::int64_t in_, out_;
  EmbeddingOptions o_;
  Variable table_;
};
Ref<EmbeddingLayer> Embedding(std::int64_t input_dim, std::int64_t output_dim, const EmbeddingOptions& options = {});

struct LSTMOptions {
  bool return_sequences = false;  // every step's output (N, T, units) instead of the last (N, units)
  std::string name;
};
// LSTM over (N, T, F) inputs (T known). Gates in Keras's order: input, forget, cell, output.
class LSTMLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit LSTMLayer(std::int64_t units, const LSTMOptions& options = {});
  std::int64_t units() const { return units_; }
  const LSTMOptions& options() const { return o_; }
  const Variable& kernel() const { return kernel_; }
  const Variable& recurrent_kernel() const { return recurrent_; }
  const Variable& bias() const { return bias_; }
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor call(const Tensor& x, bool training) override;

 private:
  std::int64_t units_;
  LSTMOptions o_;
  Variable kernel_, recurrent_, bias_;
};
Ref<LSTMLayer> LSTM(std::int64_t units, const LSTMOptions& options = {});

}  // namespace layers

}  // namespace duet

// The layer families declared in their own headers.
#include "duet/activation_layers.h"
#include "duet/normalization_layers.h"
#include "duet/shape_layers.h"
