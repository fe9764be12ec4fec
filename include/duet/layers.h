#pragma once
// Keras-style layers. A layer builds its weights once, from the shape of its first input; called on
// concrete tensors it computes now, called on symbolic ones (an Input, or inside a traced function) it
// records. Layers are shared objects: create them with the factories in duet::layers (or
// make_layer<T>(...) for your own subclasses) and call the returned handle.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "duet/nn.h"
#include "duet/tensor.h"
#include "duet/variable.h"

namespace duet {

// Weight initializers by name: "glorot_uniform" (default), "he_normal", "zeros", "ones", "random_normal";
// or a callable (shape, dtype) -> tensor. constant(v) makes a constant initializer.
using InitializerFn = std::function<Tensor(const Shape&, DType)>;
struct Initializer {
  Initializer(const char* name);         // NOLINT: implicit by design ("zeros")
  Initializer(const std::string& name);  // NOLINT
  Initializer(InitializerFn fn) : fn(std::move(fn)) {}  // NOLINT
  InitializerFn fn;
  std::string name;
};
namespace initializers {
Initializer constant(double value);
}

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
  std::vector<Tensor> operator()(const std::vector<Tensor>& xs, bool training = false);

  // Override points. Single-input layers override call(Tensor); several inputs: call(vector).
  virtual void build(const std::vector<Shape>& input_shapes);
  virtual Tensor call(const Tensor& x, bool training);
  virtual std::vector<Tensor> call(const std::vector<Tensor>& xs, bool training);
  // Optional: the output shapes for these input shapes (batch dim included, may be None). When given, a
  // functional model records the layer without tracing call(), and a host step needs no probe run.
  virtual std::optional<std::vector<Shape>> compute_output_shape(const std::vector<Shape>& input_shapes);

  // A weight owned by this layer (created eagerly even inside a trace).
  Variable add_weight(const std::string& name, const Shape& shape, const Initializer& init = "glorot_uniform",
                      bool trainable = true, DType dtype = DType::Float32);
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
  const std::vector<std::shared_ptr<Layer>>& sublayers() const { return children_; }

 protected:
  void add_child(std::shared_ptr<Layer> child);
  bool built_ = false;

 private:
  friend struct LayerCallAccess;
  std::vector<Tensor> call_now(const std::vector<Tensor>& xs, bool training);
  std::vector<Tensor> call_as_host_step(const std::vector<Tensor>& xs, bool training, const std::string& why);
  void ensure_built(const std::vector<Tensor>& xs);

  std::string type_, name_;
  std::vector<Variable> own_weights_;
  std::vector<std::shared_ptr<Layer>> children_;
  bool trainable_ = true;
  bool dynamic_ = false;
  bool host_step_ = false;
  bool warned_ = false;
};

// A handle to a layer of type L: call it like the layer; -> reaches the layer.
template <class L>
class Ref {
 public:
  Ref() = default;
  Ref(std::shared_ptr<L> p) : p_(std::move(p)) {}  // NOLINT
  template <class U>
  Ref(const Ref<U>& o) : p_(o.ptr()) {}  // NOLINT: upcast
  Tensor operator()(const Tensor& x, bool training = false) const { return (*p_)(x, training); }
  std::vector<Tensor> operator()(const std::vector<Tensor>& xs, bool training = false) const { return (*p_)(xs, training); }
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

// A symbolic model input of the given per-example shape; its batch dim is unknown: Input({10}) is (None, 10).
Tensor Input(const std::vector<std::int64_t>& shape, DType dtype = DType::Float32, const std::string& name = "");

// Activations by name: "relu", "sigmoid", "tanh", "softmax", "gelu", "elu", "softplus", "linear" (or "").
std::function<Tensor(const Tensor&)> activation(const std::string& name);

namespace layers {

Ref<Layer> Dense(std::int64_t units, const std::string& activation = "", bool use_bias = true,
                 const Initializer& kernel_initializer = "glorot_uniform", const Initializer& bias_initializer = "zeros",
                 const std::string& name = "");
Ref<Layer> Activation(const std::string& activation, const std::string& name = "");
Ref<Layer> Flatten(const std::string& name = "");
// Per-example target shape (one dim may be -1).
Ref<Layer> Reshape(const std::vector<std::int64_t>& target_shape, const std::string& name = "");
// Active only when called with training = true (as in fit).
Ref<Layer> Dropout(double rate, std::optional<std::uint64_t> seed = {}, const std::string& name = "");

// Lambda: wraps a function of one tensor, or of several (called with a vector of inputs). output_shape
// (per example, without the batch dim) is checked on every call when given.
Ref<Layer> Lambda(std::function<Tensor(const Tensor&)> fn, const std::string& name = "",
                  std::optional<std::vector<std::int64_t>> output_shape = {});
Ref<Layer> Lambda(std::function<Tensor(const std::vector<Tensor>&)> fn, const std::string& name = "",
                  std::optional<std::vector<std::int64_t>> output_shape = {});

struct Conv2DArgs {
  std::vector<std::int64_t> strides = {1, 1};
  std::string padding = "valid";
  std::string activation = "";
  bool use_bias = true;
  std::vector<std::int64_t> dilation_rate = {1, 1};
  Initializer kernel_initializer = "glorot_uniform";
  Initializer bias_initializer = "zeros";
  std::string name = "";
};
// 2-D convolution over NHWC inputs with `filters` output channels and a (kh, kw) kernel.
Ref<Layer> Conv2D(std::int64_t filters, std::vector<std::int64_t> kernel_size, Conv2DArgs args = {});
Ref<Layer> MaxPooling2D(std::vector<std::int64_t> pool_size = {2, 2}, std::vector<std::int64_t> strides = {},
                        const std::string& padding = "valid", const std::string& name = "");
Ref<Layer> AveragePooling2D(std::vector<std::int64_t> pool_size = {2, 2}, std::vector<std::int64_t> strides = {},
                            const std::string& padding = "valid", const std::string& name = "");
// Mean over the spatial dims: (N, H, W, C) -> (N, C).
Ref<Layer> GlobalAveragePooling2D(const std::string& name = "");
// Normalizes over the last axis with batch statistics in training (updating moving statistics) and the
// moving statistics otherwise.
Ref<Layer> BatchNormalization(double momentum = 0.99, double epsilon = 1e-3, const std::string& name = "");
// Merge layers over several inputs.
Ref<Layer> Concatenate(std::int64_t axis = -1, const std::string& name = "");
Ref<Layer> Add(const std::string& name = "");
Ref<Layer> Multiply(const std::string& name = "");
// Integer ids (N, ...) -> vectors (N, ..., output_dim).
Ref<Layer> Embedding(std::int64_t input_dim, std::int64_t output_dim, const std::string& name = "");
// LSTM over (N, T, F) inputs (T known): the last output (N, units), or every step's (N, T, units).
Ref<Layer> LSTM(std::int64_t units, bool return_sequences = false, const std::string& name = "");

}  // namespace layers

}  // namespace duet
