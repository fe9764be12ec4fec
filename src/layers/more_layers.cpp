// BatchNormalization, merge layers, Embedding and LSTM.
#include "duet/layers.h"
#include "duet/linalg.h"
#include "duet/ops.h"
#include "duet/random.h"

namespace duet::layers {

BatchNormalizationLayer::BatchNormalizationLayer(const BatchNormalizationOptions& o)
    : Layer("BatchNormalization", o.name), o_(o) {
  if (!(o_.momentum >= 0 && o_.momentum <= 1) || !(o_.epsilon > 0)) {
    throw ValueError("[BatchNormalization] needs 0 <= momentum <= 1 and epsilon > 0, got momentum " +
                     std::to_string(o_.momentum) + ", epsilon " + std::to_string(o_.epsilon));
  }
}

void BatchNormalizationLayer::build(const std::vector<Shape>& s) {
  std::int64_t c = s[0].rank() ? s[0][s[0].rank() - 1] : -1;
  if (c < 0) throw ShapeError("[" + name() + "] needs a known last dim, got " + s[0].str());
  if (o_.scale) gamma_ = add_weight("gamma", Shape{c}, {.initializer = "ones"});
  if (o_.center) beta_ = add_weight("beta", Shape{c}, {.initializer = "zeros"});
  moving_mean_ = add_weight("moving_mean", Shape{c}, {.initializer = "zeros", .trainable = false});
  moving_var_ = add_weight("moving_variance", Shape{c}, {.initializer = "ones", .trainable = false});
}

// y = gamma (x - mean) / sqrt(var + eps) + beta over the last axis.
Tensor BatchNormalizationLayer::call(const Tensor& x, bool training) {
  std::vector<std::int64_t> axes;
  for (int d = 0; d + 1 < x.rank(); ++d) axes.push_back(d);
  Tensor m, v;
  if (training) {
    // One kernel each way (fused_batch_norm), not a dozen full-size elementwise ops and reductions.
    const std::int64_t channels = moving_mean_.value().shape()[0];
    Tensor g = o_.scale ? gamma_.value() : ones({channels}, x.dtype());
    Tensor b = o_.center ? beta_.value() : zeros({channels}, x.dtype());
    auto r = fused_batch_norm(x, g, b, o_.epsilon);
    moving_mean_.assign(moving_mean_.value() * o_.momentum + stop_gradient(r[1]) * (1 - o_.momentum));
    moving_var_.assign(moving_var_.value() * o_.momentum + stop_gradient(r[2]) * (1 - o_.momentum));
    return r[0];
  } else {
    m = moving_mean_.value();
    v = moving_var_.value();
  }
  Tensor y = (x - m) * rsqrt(v + o_.epsilon);
  if (o_.scale) y = y * gamma_;
  if (o_.center) y = y + beta_;
  return y;
}

Ref<BatchNormalizationLayer> BatchNormalization(const BatchNormalizationOptions& o) {
  return make_layer<BatchNormalizationLayer>(o);
}

namespace {
const char* merge_type(MergeLayer::Mode m) {
  switch (m) {
    case MergeLayer::Mode::Concatenate:
      return "Concatenate";
    case MergeLayer::Mode::Add:
      return "Add";
    case MergeLayer::Mode::Multiply:
      return "Multiply";
    case MergeLayer::Mode::Subtract:
      return "Subtract";
    case MergeLayer::Mode::Average:
      return "Average";
    case MergeLayer::Mode::Maximum:
      return "Maximum";
    case MergeLayer::Mode::Minimum:
      return "Minimum";
  }
  return "Merge";
}
}  // namespace

MergeLayer::MergeLayer(Mode mode, const ConcatenateOptions& o) : Layer(merge_type(mode), o.name), mode_(mode), o_(o) {}

std::vector<Tensor> MergeLayer::call(const std::vector<Tensor>& xs, bool) {
  if (xs.size() < 2) throw ValueError("[" + name() + "] merges at least two inputs, got " + std::to_string(xs.size()));
  if (mode_ == Mode::Subtract && xs.size() != 2) {
    throw ValueError("[" + name() + "] subtracts exactly two inputs (a - b), got " + std::to_string(xs.size()) +
                     "; chain Subtract layers or Add the rest first");
  }
  if (mode_ == Mode::Concatenate) return {concat(xs, o_.axis)};
  Tensor y = xs[0];
  for (std::size_t i = 1; i < xs.size(); ++i) {
    if (!xs[i].shape().compatible_with(xs[0].shape())) {
      throw ShapeError("[" + name() + "] inputs must have the same shape, got " + xs[0].shape().str() + " and " +
                       xs[i].shape().str() + " (input " + std::to_string(i) + "); reshape them to one shape first");
    }
    switch (mode_) {
      case Mode::Add:
      case Mode::Average:
        y = y + xs[i];
        break;
      case Mode::Multiply:
        y = y * xs[i];
        break;
      case Mode::Subtract:
        y = y - xs[i];
        break;
      case Mode::Maximum:
        y = maximum(y, xs[i]);
        break;
      case Mode::Minimum:
        y = minimum(y, xs[i]);
        break;
      case Mode::Concatenate:
        break;
    }
  }
  // Keras's Average: the sum divided by the count.
  if (mode_ == Mode::Average) y = y / static_cast<double>(xs.size());
  return {y};
}

Ref<MergeLayer> Concatenate(const ConcatenateOptions& o) {
  return make_layer<MergeLayer>(MergeLayer::Mode::Concatenate, o);
}
Ref<MergeLayer> Add(const LayerOptions& o) {
  return make_layer<MergeLayer>(MergeLayer::Mode::Add, ConcatenateOptions{.name = o.name});
}
Ref<MergeLayer> Multiply(const LayerOptions& o) {
  return make_layer<MergeLayer>(MergeLayer::Mode::Multiply, ConcatenateOptions{.name = o.name});
}
Ref<MergeLayer> Subtract(const LayerOptions& o) {
  return make_layer<MergeLayer>(MergeLayer::Mode::Subtract, ConcatenateOptions{.name = o.name});
}
Ref<MergeLayer> Average(const LayerOptions& o) {
  return make_layer<MergeLayer>(MergeLayer::Mode::Average, ConcatenateOptions{.name = o.name});
}
Ref<MergeLayer> Maximum(const LayerOptions& o) {
  return make_layer<MergeLayer>(MergeLayer::Mode::Maximum, ConcatenateOptions{.name = o.name});
}
Ref<MergeLayer> Minimum(const LayerOptions& o) {
  return make_layer<MergeLayer>(MergeLayer::Mode::Minimum, ConcatenateOptions{.name = o.name});
}

EmbeddingLayer::EmbeddingLayer(std::int64_t in, std::int64_t out, const EmbeddingOptions& o)
    : Layer("Embedding", o.name), in_(in), out_(out), o_(o) {
  if (in <= 0 || out <= 0) {
    throw ValueError("[Embedding] input_dim and output_dim must be positive, got " + std::to_string(in) + " and " +
                     std::to_string(out));
  }
}
void EmbeddingLayer::build(const std::vector<Shape>&) {
  table_ = add_weight("embeddings", Shape{in_, out_}, {.initializer = o_.embeddings_initializer});
}
Tensor EmbeddingLayer::call(const Tensor& ids, bool) {
  return gather(table_, is_integral(ids.dtype()) ? ids : cast(ids, DType::Int64), 0);
}
Ref<EmbeddingLayer> Embedding(std::int64_t in, std::int64_t out, const EmbeddingOptions& o) {
  return make_layer<EmbeddingLayer>(in, out, o);
}

LSTMLayer::LSTMLayer(std::int64_t units, const LSTMOptions& o) : Layer("LSTM", o.name), units_(units), o_(o) {
  if (units <= 0) throw ValueError("[LSTM] units must be positive, got " + std::to_string(units));
}

void LSTMLayer::build(const std::vector<Shape>& s) {
  if (s[0].rank() != 3)
    throw ShapeError("[" + name() + "] expects (batch, time, features) inputs of rank 3, got shape " + s[0].str());
  std::int64_t f = s[0][2];
  if (f < 0) throw ShapeError("[" + name() + "] needs a known feature dim, got " + s[0].str());
  kernel_ = add_weight("kernel", Shape{f, 4 * units_});
  recurrent_ = add_weight("recurrent_kernel", Shape{units_, 4 * units_});
  // The forget gate's bias starts at 1 (Keras's unit_forget_bias).
  std::int64_t u = units_;
  bias_ = add_weight("bias", Shape{4 * u}, {.initializer = Initializer([u](const Shape& sh, DType d) {
                                              std::vector<float> b(static_cast<std::size_t>(4 * u), 0.f);
                                              for (std::int64_t i = u; i < 2 * u; ++i)
                                                b[static_cast<std::size_t>(i)] = 1.f;
                                              return cast(constant(b, sh), d);
                                            })});
}

Tensor LSTMLayer::call(const Tensor& x, bool) {
  if (x.rank() != 3)
    throw ShapeError("[" + name() + "] expects (batch, time, features) inputs of rank 3, got shape " + x.shape().str());
  std::int64_t steps = x.shape()[1];
  if (steps <= 0)
    throw ShapeError("[" + name() + "] needs a known, positive number of time steps, got input shape " +
                     x.shape().str());
  Tensor h, c;  // the state starts at zero, so step 0 skips the recurrent terms
  std::vector<Tensor> outs;
  for (std::int64_t t = 0; t < steps; ++t) {
    Tensor xt = reshape(slice(x, {0, t, 0}, {-1, 1, -1}), {-1, x.shape()[2]});
    Tensor z =
        t == 0 ? bias_add(matmul(xt, kernel_), bias_) : bias_add(matmul(xt, kernel_) + matmul(h, recurrent_), bias_);
    auto g = split(z, 4, 1);
    c = t == 0 ? sigmoid(g[0]) * tanh(g[2]) : sigmoid(g[1]) * c + sigmoid(g[0]) * tanh(g[2]);
    h = sigmoid(g[3]) * tanh(c);
    if (o_.return_sequences) outs.push_back(expand_dims(h, 1));
  }
  return o_.return_sequences ? concat(outs, 1) : h;
}

Ref<LSTMLayer> LSTM(std::int64_t units, const LSTMOptions& o) { return make_layer<LSTMLayer>(units, o); }

}  // namespace duet::layers
