// Activations by name: Keras's table, the one list of the names (activation() and its error, Python's
// keras.activations and the oracle all read it). Each is Keras's definition written with public ops.
#include <array>

#include "duet/layers.h"
#include "duet/ops.h"

namespace duet {
namespace {

Tensor lit(const Tensor& x, double v) { return internal::lit(x, v); }

Tensor hard_sigmoid(const Tensor& x) { return relu6(x + 3.0) / 6.0; }  // Keras 3's: relu6(x + 3) / 6

// glu(x) = a * sigmoid(b), a and b the two halves of the last axis.
Tensor glu(const Tensor& x) {
  const std::int64_t n = x.rank() ? x.shape()[x.rank() - 1] : 0;
  if (x.rank() == 0 || n % 2 != 0) {
    throw ShapeError("[activation glu] needs a last dim of even size (it is split in two halves), got shape " +
                     x.shape().str());
  }
  auto halves = split(x, 2, -1);
  return halves[0] * sigmoid(halves[1]);
}

struct Entry {
  const char* name;
  Tensor (*fn)(const Tensor&);
};

// Alphabetical, as keras.activations lists them. Not here: "threshold" (it needs its arguments, so Keras cannot
// use it by name either) and "sparsemax" (Keras 3.15's does not sum to 1: it sums every cumulative sum of the
// support where the threshold needs the last one).
const std::array kActivations{
    Entry{"celu", [](const Tensor& x) { return maximum(x, lit(x, 0)) + expm1(minimum(x, lit(x, 0))); }},
    Entry{"elu", [](const Tensor& x) { return elu(x); }},
    Entry{"exponential", [](const Tensor& x) { return exp(x); }},
    Entry{"gelu", [](const Tensor& x) { return gelu(x, false); }},  // keras.activations.gelu: approximate=False
    Entry{"glu", glu},
    Entry{"hard_shrink", [](const Tensor& x) { return where(abs(x) > 0.5, x, lit(x, 0)); }},
    Entry{"hard_sigmoid", hard_sigmoid},
    Entry{"hard_silu", [](const Tensor& x) { return x * hard_sigmoid(x); }},
    Entry{"hard_swish", [](const Tensor& x) { return x * hard_sigmoid(x); }},
    Entry{"hard_tanh", [](const Tensor& x) { return clip(x, -1, 1); }},
    Entry{"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }},
    Entry{"linear", [](const Tensor& x) { return x; }},
    Entry{"log_sigmoid", [](const Tensor& x) { return log_sigmoid(x); }},
    Entry{"log_softmax", [](const Tensor& x) { return log_softmax(x); }},
    Entry{"mish", [](const Tensor& x) { return x * tanh(softplus(x)); }},
    Entry{"relu", [](const Tensor& x) { return relu(x); }},
    Entry{"relu6", [](const Tensor& x) { return relu6(x); }},
    Entry{"selu", [](const Tensor& x) { return selu(x); }},
    Entry{"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
    Entry{"silu", [](const Tensor& x) { return silu(x); }},
    Entry{"soft_shrink", [](const Tensor& x) { return where(x > 0.5, x - 0.5, where(x < -0.5, x + 0.5, lit(x, 0))); }},
    Entry{"softmax", [](const Tensor& x) { return softmax(x); }},
    Entry{"softplus", [](const Tensor& x) { return softplus(x); }},
    Entry{"softsign", [](const Tensor& x) { return softsign(x); }},
    // 0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1
    Entry{"sparse_plus",
          [](const Tensor& x) { return where(x <= -1, lit(x, 0), where(x < 1, square(x + 1) * 0.25, x)); }},
    Entry{"sparse_sigmoid",
          [](const Tensor& x) { return where(x <= -1, lit(x, 0), where(x >= 1, lit(x, 1), (x + 1) * 0.5)); }},
    Entry{"squareplus", [](const Tensor& x) { return (x + sqrt(square(x) + 4)) * 0.5; }},  // Keras's b = 4
    Entry{"swish", [](const Tensor& x) { return silu(x); }},
    Entry{"tanh", [](const Tensor& x) { return tanh(x); }},
    Entry{"tanh_shrink", [](const Tensor& x) { return x - tanh(x); }},
};

}  // namespace

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const Entry& e : kActivations) n.emplace_back(e.name);
    return n;
  }();
  return names;
}

std::function<Tensor(const Tensor&)> activation(const std::string& name) {
  if (name.empty()) return [](const Tensor& x) { return x; };
  for (const Entry& e : kActivations)
    if (name == e.name) return e.fn;
  std::string valid;
  for (const Entry& e : kActivations) valid += (valid.empty() ? "" : ", ") + std::string(e.name);
  throw ValueError("[activation] unknown activation '" + name.substr(0, 64) + "'; use one of Keras's names: " + valid +
                   " (or \"\" for none)");
}

}  // namespace duet
