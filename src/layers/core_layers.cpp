// Initializers, activations by name, and the core layers: Dense, Activation, Flatten, Reshape, Dropout,
// Lambda.
#include <cmath>

#include "duet/layers.h"
#include "duet/linalg.h"
#include "duet/ops.h"
#include "duet/random.h"

namespace duet {
namespace {

// fan_in, fan_out as Keras computes them (dense: (in, out); conv HWIO: receptive field * in/out).
std::pair<double, double> fans(const Shape& s) {
  if (s.rank() < 1) return {1, 1};
  if (s.rank() == 1) return {static_cast<double>(s[0]), static_cast<double>(s[0])};
  double receptive = 1;
  for (int d = 0; d < s.rank() - 2; ++d) receptive *= static_cast<double>(s[d]);
  return {static_cast<double>(s[s.rank() - 2]) * receptive, static_cast<double>(s[s.rank() - 1]) * receptive};
}

InitializerFn by_name(const std::string& name) {
  if (name == "glorot_uniform") {
    return [](const Shape& s, DType d) {
      auto [in, out] = fans(s);
      double limit = std::sqrt(6.0 / (in + out));
      return random::uniform(s, -limit, limit, d);
    };
  }
  if (name == "he_normal") {
    return [](const Shape& s, DType d) { return random::truncated_normal(s, 0.0, std::sqrt(2.0 / fans(s).first) / 0.87962566103423978, d); };
  }
  if (name == "zeros") return [](const Shape& s, DType d) { return zeros(s, d); };
  if (name == "ones") return [](const Shape& s, DType d) { return ones(s, d); };
  if (name == "random_normal") return [](const Shape& s, DType d) { return random::normal(s, 0.0, 0.05, d); };
  throw ValueError("[Initializer] unknown initializer '" + name +
                   "'; use glorot_uniform, he_normal, zeros, ones, random_normal, initializers::constant(v) or a callable");
}

}  // namespace

Initializer::Initializer(const char* n) : fn(by_name(n)), name(n) {}
Initializer::Initializer(const std::string& n) : fn(by_name(n)), name(n) {}

Initializer initializers::constant(double value) {
  Initializer i([value](const Shape& s, DType d) { return full(s, value, d); });
  i.name = "constant";
  return i;
}

std::function<Tensor(const Tensor&)> activation(const std::string& name) {
  if (name.empty() || name == "linear") return [](const Tensor& x) { return x; };
  if (name == "relu") return [](const Tensor& x) { return relu(x); };
  if (name == "sigmoid") return [](const Tensor& x) { return sigmoid(x); };
  if (name == "tanh") return [](const Tensor& x) { return tanh(x); };
  if (name == "softmax") return [](const Tensor& x) { return softmax(x); };
  if (name == "gelu") return [](const Tensor& x) { return gelu(x); };
  if (name == "elu") return [](const Tensor& x) { return elu(x); };
  if (name == "softplus") return [](const Tensor& x) { return softplus(x); };
  throw ValueError("[activation] unknown activation '" + name + "'; use relu, sigmoid, tanh, softmax, gelu, elu, softplus or linear");
}

namespace layers {
namespace {

class DenseLayer : public Layer {
 public:
  DenseLayer(std::int64_t units, const std::string& act, bool use_bias, Initializer k, Initializer b, const std::string& name)
      : Layer("Dense", name), units_(units), act_(activation(act)), use_bias_(use_bias), k_init_(std::move(k)), b_init_(std::move(b)) {
    if (units <= 0) throw ValueError("[Dense] units must be positive, got " + std::to_string(units));
  }
  void build(const std::vector<Shape>& s) override {
    std::int64_t in = s[0].rank() ? s[0][s[0].rank() - 1] : -1;
    if (in < 0) throw ShapeError("[" + name() + "] needs a known last input dim, got input shape " + s[0].str());
    kernel_ = add_weight("kernel", Shape{in, units_}, k_init_);
    if (use_bias_) bias_ = add_weight("bias", Shape{units_}, b_init_);
  }
  Tensor call(const Tensor& x, bool) override {
    std::int64_t in = kernel_.shape()[0];
    if (x.rank() < 1 || (x.shape()[x.rank() - 1] >= 0 && x.shape()[x.rank() - 1] != in)) {
      throw ShapeError("[" + name() + "] expects inputs with last dim " + std::to_string(in) + ", got shape " + x.shape().str());
    }
    Tensor y = matmul(x.rank() == 2 ? x : reshape(x, {-1, in}), kernel_);
    if (use_bias_) y = bias_add(y, bias_);
    if (x.rank() != 2) {
      std::vector<std::int64_t> s;
      for (int d = 0; d + 1 < x.rank(); ++d) s.push_back(x.shape()[d]);
      s.push_back(units_);
      y = reshape(y, s);
    }
    return act_(y);
  }

 private:
  std::int64_t units_;
  std::function<Tensor(const Tensor&)> act_;
  bool use_bias_;
  Initializer k_init_, b_init_;
  Variable kernel_, bias_;
};

class ActivationLayer : public Layer {
 public:
  ActivationLayer(const std::string& act, const std::string& name) : Layer("Activation", name), act_(activation(act)) {}
  Tensor call(const Tensor& x, bool) override { return act_(x); }

 private:
  std::function<Tensor(const Tensor&)> act_;
};

class FlattenLayer : public Layer {
 public:
  explicit FlattenLayer(const std::string& name) : Layer("Flatten", name) {}
  Tensor call(const Tensor& x, bool) override {
    std::int64_t rest = 1;
    for (int d = 1; d < x.rank(); ++d) {
      if (x.shape()[d] < 0) throw ShapeError("[" + name() + "] needs known non-batch dims, got " + x.shape().str());
      rest *= x.shape()[d];
    }
    return reshape(x, {-1, rest});
  }
};

class ReshapeLayer : public Layer {
 public:
  ReshapeLayer(std::vector<std::int64_t> target, const std::string& name) : Layer("Reshape", name), target_(std::move(target)) {}
  Tensor call(const Tensor& x, bool) override {
    std::vector<std::int64_t> s{x.shape()[0] < 0 ? -1 : x.shape()[0]};
    if (s[0] != -1 && std::count(target_.begin(), target_.end(), -1) > 0) s[0] = x.shape()[0];
    s.insert(s.end(), target_.begin(), target_.end());
    if (std::count(s.begin(), s.end(), -1) > 1) {
      throw ShapeError("[" + name() + "] target shape may use -1 only when the batch dim is known, got input " + x.shape().str());
    }
    return reshape(x, s);
  }

 private:
  std::vector<std::int64_t> target_;
};

class DropoutLayer : public Layer {
 public:
  DropoutLayer(double rate, std::optional<std::uint64_t> seed, const std::string& name)
      : Layer("Dropout", name), rate_(rate), seed_(seed) {
    if (!(rate >= 0 && rate < 1)) throw ValueError("[Dropout] rate must be in [0, 1), got " + std::to_string(rate));
  }
  Tensor call(const Tensor& x, bool training) override { return dropout(x, rate_, training, seed_); }

 private:
  double rate_;
  std::optional<std::uint64_t> seed_;
};

class LambdaLayer : public Layer {
 public:
  LambdaLayer(std::function<Tensor(const Tensor&)> one, std::function<Tensor(const std::vector<Tensor>&)> many, const std::string& name,
              std::optional<std::vector<std::int64_t>> out_shape)
      : Layer("Lambda", name), one_(std::move(one)), many_(std::move(many)), out_shape_(std::move(out_shape)) {}
  std::vector<Tensor> call(const std::vector<Tensor>& xs, bool) override {
    Tensor y;
    if (one_) {
      if (xs.size() != 1) throw ValueError("[" + name() + "] wraps a one-input function but got " + std::to_string(xs.size()) + " inputs");
      y = one_(xs[0]);
    } else {
      y = many_(xs);
    }
    if (!y.defined()) throw ValueError("[" + name() + "] the wrapped function returned an undefined Tensor handle");
    if (out_shape_) {
      Shape want{Shape::kUnknown};
      for (auto d : *out_shape_) want.push_back(d);
      if (!want.compatible_with(y.shape())) {
        throw ShapeError("[" + name() + "] returned shape " + y.shape().str() + " but its output_shape says " + want.str());
      }
    }
    return {y};
  }

 private:
  std::function<Tensor(const Tensor&)> one_;
  std::function<Tensor(const std::vector<Tensor>&)> many_;
  std::optional<std::vector<std::int64_t>> out_shape_;
};

}  // namespace

Ref<Layer> Dense(std::int64_t units, const std::string& act, bool use_bias, const Initializer& k, const Initializer& b,
                 const std::string& name) {
  return make_layer<DenseLayer>(units, act, use_bias, k, b, name);
}
Ref<Layer> Activation(const std::string& act, const std::string& name) { return make_layer<ActivationLayer>(act, name); }
Ref<Layer> Flatten(const std::string& name) { return make_layer<FlattenLayer>(name); }
Ref<Layer> Reshape(const std::vector<std::int64_t>& target, const std::string& name) { return make_layer<ReshapeLayer>(target, name); }
Ref<Layer> Dropout(double rate, std::optional<std::uint64_t> seed, const std::string& name) {
  return make_layer<DropoutLayer>(rate, seed, name);
}
Ref<Layer> Lambda(std::function<Tensor(const Tensor&)> fn, const std::string& name, std::optional<std::vector<std::int64_t>> out) {
  return make_layer<LambdaLayer>(std::move(fn), nullptr, name, std::move(out));
}
Ref<Layer> Lambda(std::function<Tensor(const std::vector<Tensor>&)> fn, const std::string& name,
                  std::optional<std::vector<std::int64_t>> out) {
  return make_layer<LambdaLayer>(nullptr, std::move(fn), name, std::move(out));
}

}  // namespace layers
}  // namespace duet
