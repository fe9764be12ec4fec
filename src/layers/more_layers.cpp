// Convolution and pooling layers, BatchNormalization, merge layers, Embedding and LSTM.
#include "duet/layers.h"
#include "duet/linalg.h"
#include "duet/ops.h"
#include "duet/random.h"

namespace duet::layers {
namespace {

void require_rank(const Layer& l, const Shape& s, int rank, const char* what) {
  if (s.rank() != rank) {
    throw ShapeError("[" + l.name() + "] expects " + what + " inputs of rank " + std::to_string(rank) + ", got shape " + s.str());
  }
}

class Conv2DLayer : public Layer {
 public:
  Conv2DLayer(std::int64_t filters, std::vector<std::int64_t> k, Conv2DArgs a)
      : Layer("Conv2D", a.name), filters_(filters), k_(std::move(k)), a_(std::move(a)), act_(activation(a_.activation)) {
    if (filters <= 0 || k_.size() != 2 || k_[0] <= 0 || k_[1] <= 0) {
      throw ValueError("[Conv2D] needs filters > 0 and a kernel_size of two positive numbers");
    }
  }
  void build(const std::vector<Shape>& s) override {
    require_rank(*this, s[0], 4, "NHWC");
    if (s[0][3] < 0) throw ShapeError("[" + name() + "] needs a known channel dim, got " + s[0].str());
    kernel_ = add_weight("kernel", Shape{k_[0], k_[1], s[0][3], filters_}, a_.kernel_initializer);
    if (a_.use_bias) bias_ = add_weight("bias", Shape{filters_}, a_.bias_initializer);
  }
  Tensor call(const Tensor& x, bool) override {
    Tensor y = conv2d(x, kernel_, {a_.strides, a_.padding, a_.dilation_rate});
    if (a_.use_bias) y = bias_add(y, bias_);
    return act_(y);
  }

 private:
  std::int64_t filters_;
  std::vector<std::int64_t> k_;
  Conv2DArgs a_;
  std::function<Tensor(const Tensor&)> act_;
  Variable kernel_, bias_;
};

class PoolLayer : public Layer {
 public:
  PoolLayer(bool is_max, Pool2DOptions o, const std::string& name)
      : Layer(is_max ? "MaxPooling2D" : "AveragePooling2D", name), max_(is_max), o_(std::move(o)) {}
  Tensor call(const Tensor& x, bool) override { return max_ ? max_pool2d(x, o_) : avg_pool2d(x, o_); }

 private:
  bool max_;
  Pool2DOptions o_;
};

class GAPLayer : public Layer {
 public:
  explicit GAPLayer(const std::string& name) : Layer("GlobalAveragePooling2D", name) {}
  Tensor call(const Tensor& x, bool) override {
    require_rank(*this, x.shape(), 4, "NHWC");
    return mean(x, {1, 2});
  }
};

// y = gamma (x - mean) / sqrt(var + eps) + beta over the last axis.
class BatchNormLayer : public Layer {
 public:
  BatchNormLayer(double momentum, double eps, const std::string& name) : Layer("BatchNormalization", name), momentum_(momentum), eps_(eps) {}
  void build(const std::vector<Shape>& s) override {
    std::int64_t c = s[0].rank() ? s[0][s[0].rank() - 1] : -1;
    if (c < 0) throw ShapeError("[" + name() + "] needs a known last dim, got " + s[0].str());
    gamma_ = add_weight("gamma", Shape{c}, "ones");
    beta_ = add_weight("beta", Shape{c}, "zeros");
    moving_mean_ = add_weight("moving_mean", Shape{c}, "zeros", false);
    moving_var_ = add_weight("moving_variance", Shape{c}, "ones", false);
  }
  Tensor call(const Tensor& x, bool training) override {
    std::vector<std::int64_t> axes;
    for (int d = 0; d + 1 < x.rank(); ++d) axes.push_back(d);
    Tensor m, v;
    if (training) {
      m = mean(x, axes);
      v = mean(square(x - m), axes);
      moving_mean_.assign(moving_mean_.value() * momentum_ + stop_gradient(m) * (1 - momentum_));
      moving_var_.assign(moving_var_.value() * momentum_ + stop_gradient(v) * (1 - momentum_));
    } else {
      m = moving_mean_.value();
      v = moving_var_.value();
    }
    return (x - m) * rsqrt(v + eps_) * gamma_ + beta_;
  }

 private:
  double momentum_, eps_;
  Variable gamma_, beta_, moving_mean_, moving_var_;
};

class MergeLayer : public Layer {
 public:
  enum Kind { kConcat, kAdd, kMul };
  MergeLayer(Kind k, std::int64_t axis, const std::string& name)
      : Layer(k == kConcat ? "Concatenate" : k == kAdd ? "Add" : "Multiply", name), kind_(k), axis_(axis) {}
  std::vector<Tensor> call(const std::vector<Tensor>& xs, bool) override {
    if (xs.size() < 2) throw ValueError("[" + name() + "] merges at least two inputs, got " + std::to_string(xs.size()));
    if (kind_ == kConcat) return {concat(xs, axis_)};
    Tensor y = xs[0];
    for (std::size_t i = 1; i < xs.size(); ++i) {
      if (!xs[i].shape().compatible_with(xs[0].shape())) {
        throw ShapeError("[" + name() + "] inputs must have the same shape, got " + xs[0].shape().str() + " and " + xs[i].shape().str());
      }
      y = kind_ == kAdd ? y + xs[i] : y * xs[i];
    }
    return {y};
  }

 private:
  Kind kind_;
  std::int64_t axis_;
};

class EmbeddingLayer : public Layer {
 public:
  EmbeddingLayer(std::int64_t in, std::int64_t out, const std::string& name) : Layer("Embedding", name), in_(in), out_(out) {
    if (in <= 0 || out <= 0) throw ValueError("[Embedding] input_dim and output_dim must be positive");
  }
  void build(const std::vector<Shape>&) override {
    table_ = add_weight("embeddings", Shape{in_, out_}, Initializer([](const Shape& s, DType d) { return random::uniform(s, -0.05, 0.05, d); }));
  }
  Tensor call(const Tensor& ids, bool) override {
    return gather(table_, is_integral(ids.dtype()) ? ids : cast(ids, DType::Int64), 0);
  }

 private:
  std::int64_t in_, out_;
  Variable table_;
};

// Gates as Keras orders them: input, forget, cell, output; the forget gate's bias starts at 1.
class LSTMLayer : public Layer {
 public:
  LSTMLayer(std::int64_t units, bool seq, const std::string& name) : Layer("LSTM", name), units_(units), seq_(seq) {
    if (units <= 0) throw ValueError("[LSTM] units must be positive");
  }
  void build(const std::vector<Shape>& s) override {
    require_rank(*this, s[0], 3, "(batch, time, features)");
    std::int64_t f = s[0][2];
    if (f < 0) throw ShapeError("[" + name() + "] needs a known feature dim, got " + s[0].str());
    kernel_ = add_weight("kernel", Shape{f, 4 * units_});
    recurrent_ = add_weight("recurrent_kernel", Shape{units_, 4 * units_});
    std::int64_t u = units_;
    bias_ = add_weight("bias", Shape{4 * u}, Initializer([u](const Shape& sh, DType d) {
                         std::vector<float> b(static_cast<std::size_t>(4 * u), 0.f);
                         for (std::int64_t i = u; i < 2 * u; ++i) b[static_cast<std::size_t>(i)] = 1.f;
                         return cast(constant(b, sh), d);
                       }));
  }
  Tensor call(const Tensor& x, bool) override {
    std::int64_t steps = x.shape()[1];
    if (steps <= 0) throw ShapeError("[" + name() + "] needs a known, positive number of time steps, got input shape " + x.shape().str());
    Tensor h, c;  // the state starts at zero, so step 0 skips the recurrent terms
    std::vector<Tensor> outs;
    for (std::int64_t t = 0; t < steps; ++t) {
      Tensor xt = reshape(slice(x, {0, t, 0}, {-1, 1, -1}), {-1, x.shape()[2]});
      Tensor z = t == 0 ? bias_add(matmul(xt, kernel_), bias_) : bias_add(matmul(xt, kernel_) + matmul(h, recurrent_), bias_);
      auto g = split(z, 4, 1);
      c = t == 0 ? sigmoid(g[0]) * tanh(g[2]) : sigmoid(g[1]) * c + sigmoid(g[0]) * tanh(g[2]);
      h = sigmoid(g[3]) * tanh(c);
      if (seq_) outs.push_back(expand_dims(h, 1));
    }
    return seq_ ? concat(outs, 1) : h;
  }

 private:
  std::int64_t units_;
  bool seq_;
  Variable kernel_, recurrent_, bias_;
};

}  // namespace

Ref<Layer> Conv2D(std::int64_t filters, std::vector<std::int64_t> k, Conv2DArgs a) { return make_layer<Conv2DLayer>(filters, std::move(k), std::move(a)); }
Ref<Layer> MaxPooling2D(std::vector<std::int64_t> p, std::vector<std::int64_t> s, const std::string& pad, const std::string& name) {
  return make_layer<PoolLayer>(true, Pool2DOptions{std::move(p), std::move(s), pad}, name);
}
Ref<Layer> AveragePooling2D(std::vector<std::int64_t> p, std::vector<std::int64_t> s, const std::string& pad, const std::string& name) {
  return make_layer<PoolLayer>(false, Pool2DOptions{std::move(p), std::move(s), pad}, name);
}
Ref<Layer> GlobalAveragePooling2D(const std::string& name) { return make_layer<GAPLayer>(name); }
Ref<Layer> BatchNormalization(double momentum, double eps, const std::string& name) { return make_layer<BatchNormLayer>(momentum, eps, name); }
Ref<Layer> Concatenate(std::int64_t axis, const std::string& name) { return make_layer<MergeLayer>(MergeLayer::kConcat, axis, name); }
Ref<Layer> Add(const std::string& name) { return make_layer<MergeLayer>(MergeLayer::kAdd, 0, name); }
Ref<Layer> Multiply(const std::string& name) { return make_layer<MergeLayer>(MergeLayer::kMul, 0, name); }
Ref<Layer> Embedding(std::int64_t in, std::int64_t out, const std::string& name) { return make_layer<EmbeddingLayer>(in, out, name); }
Ref<Layer> LSTM(std::int64_t units, bool seq, const std::string& name) { return make_layer<LSTMLayer>(units, seq, name); }

}  // namespace duet::layers
