// Activations by name and the activation, merge and shape layers (ReLU, LeakyReLU, PReLU, ELU, Softmax,
// Subtract, Average, Maximum, Minimum, Dot, Permute, RepeatVector, Identity): values against naive references,
// float64 gradients against central differences, eager against compiled (traced and optimized) for outputs and
// gradients, configs that rebuild the layer, a saved model that loads bitwise, and errors for bad input.
#include <cmath>
#include <map>

#include "test_util.h"

namespace duet {
namespace {

using testing::Arr;
using testing::check_gradients;
using testing::expect_close;
using testing::Scratch;
using testing::to_arr;

double sigmoid_ref(double v) { return 1 / (1 + std::exp(-v)); }
double softplus_ref(double v) { return std::log1p(std::exp(-std::fabs(v))) + std::max(v, 0.0); }
double hard_sigmoid_ref(double v) { return std::clamp(v + 3, 0.0, 6.0) / 6; }

// Every elementwise activation of Keras's table with its definition (glu, softmax and log_softmax are checked
// along rows below). A name added to the table without a reference here, or listed here but missing from the
// table, fails ActivationNames.
const std::map<std::string, double (*)(double)>& elementwise_refs() {
  static const std::map<std::string, double (*)(double)> refs{
      {"celu", [](double v) { return v > 0 ? v : std::expm1(v); }},
      {"elu", [](double v) { return v > 0 ? v : std::expm1(v); }},
      {"exponential", [](double v) { return std::exp(v); }},
      {"gelu", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
      {"hard_shrink", [](double v) { return std::fabs(v) > 0.5 ? v : 0.0; }},
      {"hard_sigmoid", hard_sigmoid_ref},
      {"hard_silu", [](double v) { return v * hard_sigmoid_ref(v); }},
      {"hard_swish", [](double v) { return v * hard_sigmoid_ref(v); }},
      {"hard_tanh", [](double v) { return std::clamp(v, -1.0, 1.0); }},
      {"leaky_relu", [](double v) { return v > 0 ? v : 0.2 * v; }},
      {"linear", [](double v) { return v; }},
      {"log_sigmoid", [](double v) { return -softplus_ref(-v); }},
      {"mish", [](double v) { return v * std::tanh(softplus_ref(v)); }},
      {"relu", [](double v) { return std::max(v, 0.0); }},
      {"relu6", [](double v) { return std::clamp(v, 0.0, 6.0); }},
      {"selu", [](double v) { return 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * std::expm1(v)); }},
      {"sigmoid", sigmoid_ref},
      {"silu", [](double v) { return v * sigmoid_ref(v); }},
      {"soft_shrink", [](double v) { return v > 0.5    ? v - 0.5
                                            : v < -0.5 ? v + 0.5
                                                       : 0.0; }},
      {"softplus", softplus_ref},
      {"softsign", [](double v) { return v / (1 + std::fabs(v)); }},
      {"sparse_plus", [](double v) { return v <= -1 ? 0.0
                                            : v < 1 ? (v + 1) * (v + 1) / 4
                                                    : v; }},
      {"sparse_sigmoid", [](double v) { return v <= -1  ? 0.0
                                               : v >= 1 ? 1.0
                                                        : (v + 1) / 2; }},
      {"squareplus", [](double v) { return (v + std::sqrt(v * v + 4)) / 2; }},
      {"swish", [](double v) { return v * sigmoid_ref(v); }},
      {"tanh", [](double v) { return std::tanh(v); }},
      {"tanh_shrink", [](double v) { return v - std::tanh(v); }},
  };
  return refs;
}
const std::set<std::string> kRowwise{"glu", "softmax", "log_softmax"};

// (4, 6) values from -3.7 to 8.5, none within 0.01 of a kink (0, +-0.5, +-1, -3, 6), so central differences hold.
Tensor grid(DType d = DType::Float64) {
  std::vector<double> v;
  for (int i = 0; i < 24; ++i) v.push_back(-3.7 + 0.53 * i);
  return constant(v, Shape{4, 6}, d);
}

// Rows of a (rows, n) array through f.
Arr by_rows(const Arr& a, const std::function<std::vector<double>(const std::vector<double>&)>& f) {
  const std::int64_t n = a.shape.back(), rows = a.size() / n;
  Arr out{{rows}, {}};
  for (std::int64_t r = 0; r < rows; ++r) {
    auto y = f(std::vector<double>(a.v.begin() + r * n, a.v.begin() + (r + 1) * n));
    out.v.insert(out.v.end(), y.begin(), y.end());
  }
  out.shape.push_back(static_cast<std::int64_t>(out.v.size()) / rows);
  return out;
}
std::vector<double> softmax_row(const std::vector<double>& x) {
  double m = *std::max_element(x.begin(), x.end()), s = 0;
  for (double v : x) s += std::exp(v - m);
  std::vector<double> y;
  for (double v : x) y.push_back(std::exp(v - m) / s);
  return y;
}

TEST(Activations, NamesAreKerasesAndTheErrorListsThem) {
  std::set<std::string> want;
  for (const auto& [n, f] : elementwise_refs()) want.insert(n);
  want.insert(kRowwise.begin(), kRowwise.end());
  const auto& names = activation_names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), want);
  EXPECT_EQ(names.size(), want.size()) << "a name listed twice";
  try {
    (void)activation("leakyrelu");
    FAIL() << "an unknown name was accepted";
  } catch (const ValueError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'leakyrelu'"), std::string::npos) << msg;
    for (const auto& n : names) EXPECT_NE(msg.find(n), std::string::npos) << n << " missing from: " << msg;
  }
  EXPECT_EQ(to_arr(activation("")(grid())).v, to_arr(grid()).v);  // "" is linear
}

TEST(Activations, EachMatchesItsDefinitionGradientAndCompiledForm) {
  for (const std::string& name : activation_names()) {
    auto fn = activation(name);
    Tensor x = grid();
    Arr want;
    if (name == "glu") {
      want = by_rows(to_arr(x), [](const std::vector<double>& r) {
        std::vector<double> y;
        for (std::size_t i = 0; i < 3; ++i) y.push_back(r[i] * sigmoid_ref(r[i + 3]));
        return y;
      });
    } else if (name == "softmax" || name == "log_softmax") {
      want = by_rows(to_arr(x), [&](const std::vector<double>& r) {
        auto y = softmax_row(r);
        if (name == "log_softmax")
          for (double& v : y) v = std::log(v);
        return y;
      });
    } else {
      want = testing::ref_unary(to_arr(x), elementwise_refs().at(name));
    }
    expect_close(to_arr(fn(x)), want, 1e-12, 1e-12, name + " float64");
    expect_close(to_arr(fn(grid(DType::Float32))), want, 2e-6, 2e-6, name + " float32");
    check_gradients([&](const std::vector<Tensor>& in) { return fn(in[0]); }, {x}, {true}, 1e-6, name);
    // Compiled (traced, optimized, fused) against eager, with the gradient.
    auto value_and_grad = [&](const std::vector<Tensor>& in) {
      GradientTape tape;
      tape.watch(in[0]);
      Tensor y = fn(in[0]);
      Tensor g = tape.gradient(sum(y * y), in[0]);
      return std::vector<Tensor>{y, g};
    };
    Tensor x32 = grid(DType::Float32);
    auto eager = value_and_grad({x32});
    auto compiled = function(value_and_grad, {.name = name, .check_eager = true})(std::vector<Tensor>{x32});
    for (std::size_t i = 0; i < 2; ++i)
      expect_close(to_arr(compiled[i]), to_arr(eager[i]), 1e-5, 1e-6, name + (i ? " gradient" : "") + " compiled");
  }
  EXPECT_THROW((void)activation("glu")(ones({2, 5})), ShapeError);  // an odd last dim cannot be halved
}

// Every layer name takes: Dense(activation = ...) and Activation(...), for each of Keras's names.
TEST(Activations, EveryNameWorksInLayers) {
  Tensor x = grid(DType::Float32);
  for (const std::string& name : activation_names()) {
    EXPECT_EQ(layers::Activation(name)(x).to_vector<float>(), activation(name)(x).to_vector<float>()) << name;
    auto dense = layers::Dense(4, {.activation = name});
    Tensor y = dense(x);
    Tensor z = matmul(x, dense->kernel().value()) + dense->bias().value();
    expect_close(to_arr(y), to_arr(activation(name)(z)), 1e-6, 1e-6, "Dense " + name);
  }
  EXPECT_THROW(layers::Dense(3, {.activation = "swishh"}), ValueError);
}

// A layer case: the layer, its inputs, and a naive reference for its output.
struct Case {
  std::string what;
  std::function<LayerRef()> make;
  std::vector<Shape> shapes;
  std::function<Arr(const std::vector<Arr>&, const Layer&)> ref;
};

Arr elementwise2(const std::vector<Arr>& a, const std::function<double(const std::vector<double>&)>& f) {
  return testing::ref_broadcast(a, f);
}

std::vector<Case> cases() {
  using namespace layers;
  auto unary = [](double (*f)(double)) {
    return [f](const std::vector<Arr>& a, const Layer&) { return testing::ref_unary(a[0], f); };
  };
  std::vector<Case> c;
  c.push_back({"ReLU", [] { return LayerRef(ReLU()); }, {{3, 5}}, unary([](double v) { return std::max(v, 0.0); })});
  c.push_back({"ReLU/max_value", [] { return LayerRef(ReLU({.max_value = 0.8})); }, {{3, 5}}, unary([](double v) {
                 return std::clamp(v, 0.0, 0.8);
               })});
  c.push_back({"ReLU/max_value6", [] { return LayerRef(ReLU({.max_value = 6})); }, {{3, 5}}, unary([](double v) {
                 return std::clamp(v, 0.0, 6.0);
               })});
  c.push_back({"ReLU/slope", [] { return LayerRef(ReLU({.negative_slope = 0.1})); }, {{3, 5}}, unary([](double v) {
                 return v > 0 ? v : 0.1 * v;
               })});
  c.push_back({"ReLU/all",
               [] { return LayerRef(ReLU({.max_value = 1.2, .negative_slope = 0.25, .threshold = 0.3})); },
               {{3, 5}},
               unary([](double v) { return v > 0.3 ? std::min(v, 1.2) : 0.25 * (v - 0.3); })});
  c.push_back({"ReLU/threshold", [] { return LayerRef(ReLU({.threshold = 0.4})); }, {{3, 5}}, unary([](double v) {
                 return v > 0.4 ? v : 0.0;
               })});
  c.push_back({"ReLU/slope_max",
               [] { return LayerRef(ReLU({.max_value = 1.0, .negative_slope = 0.5})); },
               {{3, 5}},
               unary([](double v) { return v > 0 ? std::min(v, 1.0) : 0.5 * v; })});
  c.push_back({"LeakyReLU", [] { return LayerRef(LeakyReLU()); }, {{3, 5}}, unary([](double v) {
                 return v > 0 ? v : 0.3 * v;
               })});
  c.push_back({"ELU", [] { return LayerRef(ELU({.alpha = 0.6})); }, {{3, 5}}, unary([](double v) {
                 return v > 0 ? v : 0.6 * std::expm1(v);
               })});
  c.push_back({"Softmax/axis1",
               [] { return LayerRef(Softmax({.axis = 1})); },
               {{2, 4, 3}},
               [](const std::vector<Arr>& a, const Layer&) {
                 Arr out = a[0];  // softmax over axis 1 of (2, 4, 3)
                 for (int b = 0; b < 2; ++b)
                   for (int k = 0; k < 3; ++k) {
                     std::vector<double> col;
                     for (int i = 0; i < 4; ++i) col.push_back(a[0].v[static_cast<std::size_t>(b * 12 + i * 3 + k)]);
                     auto y = softmax_row(col);
                     for (int i = 0; i < 4; ++i) out.v[static_cast<std::size_t>(b * 12 + i * 3 + k)] = y[i];
                   }
                 return out;
               }});
  c.push_back({"PReLU/shared",
               [] { return LayerRef(PReLU({.alpha_initializer = "ones", .shared_axes = {1}})); },
               {{2, 3, 4}},
               [](const std::vector<Arr>& a, const Layer& l) {
                 Arr alpha = to_arr(l.weights()[0].value());  // (1, 4)
                 Arr out = a[0];
                 for (std::size_t i = 0; i < out.v.size(); ++i)
                   out.v[i] = out.v[i] > 0 ? out.v[i] : alpha.v[i % 4] * out.v[i];
                 return out;
               }});
  c.push_back({"Subtract",
               [] { return LayerRef(Subtract()); },
               {{3, 4}, {3, 4}},
               [](const std::vector<Arr>& a, const Layer&) {
                 return elementwise2(a, [](const std::vector<double>& v) { return v[0] - v[1]; });
               }});
  c.push_back({"Average",
               [] { return LayerRef(Average()); },
               {{3, 4}, {3, 4}, {3, 4}},
               [](const std::vector<Arr>& a, const Layer&) {
                 return elementwise2(a, [](const std::vector<double>& v) { return (v[0] + v[1] + v[2]) / 3; });
               }});
  c.push_back({"Maximum",
               [] { return LayerRef(Maximum()); },
               {{3, 4}, {3, 4}, {3, 4}},
               [](const std::vector<Arr>& a, const Layer&) {
                 return elementwise2(a, [](const std::vector<double>& v) { return std::max({v[0], v[1], v[2]}); });
               }});
  c.push_back({"Minimum",
               [] { return LayerRef(Minimum()); },
               {{3, 4}, {3, 4}},
               [](const std::vector<Arr>& a, const Layer&) {
                 return elementwise2(a, [](const std::vector<double>& v) { return std::min(v[0], v[1]); });
               }});
  // Dot: out[b, ...x, ...y] = sum_k x[b, ..k..] y[b, ..k..], written as loops over the reference's shapes.
  auto dot_ref = [](std::int64_t ax, std::int64_t ay, bool normalize) {
    return [=](const std::vector<Arr>& a, const Layer&) {
      Arr x = a[0], y = a[1];
      auto norm = [&](Arr& t, std::int64_t axis) {
        auto st = testing::strides_of(t.shape);
        std::vector<double> out(t.v.size());
        for (std::size_t i = 0; i < t.v.size(); ++i) {
          std::int64_t pos = (static_cast<std::int64_t>(i) / st[axis]) % t.shape[axis];
          double s = 0;
          for (std::int64_t k = 0; k < t.shape[axis]; ++k) {
            double v = t.v[i + (k - pos) * st[axis]];
            s += v * v;
          }
          out[i] = t.v[i] / std::sqrt(s);
        }
        t.v = out;
      };
      if (normalize) {
        norm(x, ax);
        norm(y, ay);
      }
      auto sx = testing::strides_of(x.shape), sy = testing::strides_of(y.shape);
      std::vector<std::int64_t> xo, yo;  // the kept non-batch axes
      for (std::int64_t d = 1; d < static_cast<std::int64_t>(x.shape.size()); ++d)
        if (d != ax) xo.push_back(d);
      for (std::int64_t d = 1; d < static_cast<std::int64_t>(y.shape.size()); ++d)
        if (d != ay) yo.push_back(d);
      Arr out{{x.shape[0]}, {}};
      for (auto d : xo) out.shape.push_back(x.shape[d]);
      for (auto d : yo) out.shape.push_back(y.shape[d]);
      if (out.shape.size() == 1) out.shape.push_back(1);
      std::vector<std::int64_t> idx(xo.size() + yo.size());
      const std::int64_t n = testing::numel(out.shape);
      auto so = testing::strides_of(out.shape);
      for (std::int64_t o = 0; o < n; ++o) {
        std::int64_t b = o / so[0], ix = b * sx[0], iy = b * sy[0];
        for (std::size_t j = 0; j < xo.size(); ++j) ix += ((o / so[j + 1]) % out.shape[j + 1]) * sx[xo[j]];
        for (std::size_t j = 0; j < yo.size(); ++j)
          iy += ((o / so[xo.size() + j + 1]) % out.shape[xo.size() + j + 1]) * sy[yo[j]];
        double s = 0;
        for (std::int64_t k = 0; k < x.shape[ax]; ++k) s += x.v[ix + k * sx[ax]] * y.v[iy + k * sy[ay]];
        out.v.push_back(s);
      }
      return out;
    };
  };
  c.push_back({"Dot/vectors", [] { return LayerRef(Dot({1})); }, {{3, 4}, {3, 4}}, dot_ref(1, 1, false)});
  c.push_back({"Dot/normalize",
               [] { return LayerRef(Dot({-1}, {.normalize = true})); },
               {{3, 4}, {3, 4}},
               dot_ref(1, 1, true)});
  c.push_back({"Dot/seq", [] { return LayerRef(Dot({2})); }, {{2, 3, 4}, {2, 5, 4}}, dot_ref(2, 2, false)});
  c.push_back({"Dot/pair", [] { return LayerRef(Dot({1, 2})); }, {{2, 4, 3}, {2, 5, 4}}, dot_ref(1, 2, false)});
  c.push_back({"Dot/rank4_normalize",
               [] {
                 return LayerRef(Dot({2, 1}, {.normalize = true}));
               },
               {{2, 3, 4, 2}, {2, 4, 3}},
               dot_ref(2, 1, true)});
  c.push_back({"Dot/rank2_rank3", [] { return LayerRef(Dot({1, 2})); }, {{2, 4}, {2, 3, 4}}, dot_ref(1, 2, false)});
  c.push_back({"Permute",
               [] {
                 return LayerRef(Permute({2, 3, 1}));
               },
               {{2, 3, 4, 5}},
               [](const std::vector<Arr>& a, const Layer&) {
                 Arr out{{2, 4, 5, 3}, {}};
                 for (int b = 0; b < 2; ++b)
                   for (int i = 0; i < 4; ++i)
                     for (int j = 0; j < 5; ++j)
                       for (int k = 0; k < 3; ++k) out.v.push_back(a[0].v[((b * 3 + k) * 4 + i) * 5 + j]);
                 return out;
               }});
  c.push_back({"RepeatVector",
               [] { return LayerRef(RepeatVector(3)); },
               {{2, 4}},
               [](const std::vector<Arr>& a, const Layer&) {
                 Arr out{{2, 3, 4}, {}};
                 for (int b = 0; b < 2; ++b)
                   for (int r = 0; r < 3; ++r)
                     for (int f = 0; f < 4; ++f) out.v.push_back(a[0].v[b * 4 + f]);
                 return out;
               }});
  c.push_back({"Identity",
               [] { return LayerRef(Identity()); },
               {{2, 4}},
               [](const std::vector<Arr>& a, const Layer&) { return a[0]; }});
  return c;
}

std::vector<Tensor> inputs_for(const Case& c, DType d, std::uint64_t seed) {
  std::vector<Tensor> xs;
  for (const Shape& s : c.shapes) xs.push_back(random::normal(s, 0, 1, d, seed++));
  return xs;
}

TEST(ActivationMergeShapeLayers, ValuesGradientsAndCompiledEqualEager) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.what);
    LayerRef layer = c.make();
    // float64 values and gradients (inputs; PReLU's float32 alpha promotes them to float64 too)
    std::vector<Tensor> x64 = inputs_for(c, DType::Float64, 11);
    std::vector<Arr> a;
    for (const Tensor& x : x64) a.push_back(to_arr(x));
    Tensor y64 = layer(x64);
    expect_close(to_arr(y64), c.ref(a, *layer), 1e-6, 1e-6, c.what + " value");
    check_gradients([&](const std::vector<Tensor>& in) { return Tensor(layer(in)); }, x64,
                    std::vector<bool>(x64.size(), true), 1e-6, c.what);
    // float32, compiled against eager: the output and the gradients for inputs and trainable weights.
    std::vector<Tensor> x32 = inputs_for(c, DType::Float32, 21);
    auto step = [&](const std::vector<Tensor>& in) {
      GradientTape tape;
      for (const Tensor& x : in) tape.watch(x);
      Tensor y = layer(in, true);
      std::vector<Source> src(in.begin(), in.end());
      for (const Variable& w : layer->trainable_weights()) src.emplace_back(w);
      std::vector<Tensor> out{y};
      for (Tensor& g : tape.gradient(sum(y * y), src)) out.push_back(g);
      return out;
    };
    auto eager = step(x32);
    auto compiled = function(step, {.name = c.what, .check_eager = true});
    auto got = compiled(x32);
    ASSERT_EQ(got.size(), eager.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      expect_close(to_arr(got[i]), to_arr(eager[i]), 1e-5, 1e-6, c.what + " compiled part " + std::to_string(i));
  }
}

TEST(ActivationMergeShapeLayers, PReLULearnsItsSlopes) {
  auto p = layers::PReLU({.shared_axes = {1, 2}});
  Tensor x = random::normal(Shape{4, 3, 3, 2}, 0, 1, DType::Float32, 3);
  Tensor y = p(x);
  ASSERT_EQ(p->alpha().shape(), Shape({1, 1, 2}));
  EXPECT_EQ(y.to_vector<float>(), relu(x).to_vector<float>());  // alpha starts at zeros, as Keras's
  GradientTape tape;
  Tensor loss = sum(p(x));
  Tensor g = tape.gradient(loss, p->alpha());
  // d/dalpha sum(relu(x) - alpha relu(-x)) = -sum(relu(-x)) over the shared axes
  expect_close(to_arr(g), to_arr(reshape(neg(sum(relu(neg(x)), {0, 1, 2})), {1, 1, 2})), 1e-5, 1e-5, "d alpha");
  EXPECT_EQ(p->trainable_weights().size(), 1u);
}

// Functional models through every new layer, saved and loaded: the same outputs bitwise, the same summary.
TEST(ActivationMergeShapeLayers, ModelWithEveryLayerSavesAndLoads) {
  using namespace layers;
  Scratch s;
  Tensor a = Input({4}), b = Input({4});
  Tensor h1 = ReLU({.max_value = 2, .negative_slope = 0.1, .threshold = 0.2})(a);
  Tensor h2 = LeakyReLU({.negative_slope = 0.05})(b);
  Tensor h3 = PReLU({.alpha_initializer = initializers::constant(0.25)})(Subtract()({h1, h2}));
  Tensor h4 = ELU({.alpha = 0.5})(Average()({h3, Maximum()({h1, h2}), Minimum()({h1, h2})}));
  Tensor seq = RepeatVector(3)(Identity()(h4));                               // (None, 3, 4)
  Tensor perm = Permute({2, 1})(seq);                                         // (None, 4, 3)
  Tensor att = Softmax({.axis = 1})(Dot({2})({seq, Permute({2, 1})(perm)}));  // (None, 3, 3)
  Tensor cos = Dot({1}, {.normalize = true})({h3, h4});                       // (None, 1)
  Tensor out = Dense(2, {.activation = "hard_swish"})(Flatten()(att));
  Model m({a, b}, {out, cos}, "every_layer");
  Tensor xa = random::normal({5, 4}, 0, 1, DType::Float32, 1), xb = random::normal({5, 4}, 0, 1, DType::Float32, 2);
  auto want = m.predict({xa, xb});
  m.save(s.path("m.duet"));
  std::shared_ptr<Model> loaded = load_model(s.path("m.duet"));
  EXPECT_EQ(loaded->summary_string(), m.summary_string());
  auto got = loaded->predict({xa, xb});
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].to_vector<float>(), want[i].to_vector<float>());
  // and it trains (compiled fit through every layer)
  loaded->compile({.optimizer = "adam", .loss = "mse"});
  auto h = loaded->fit({xa, xb}, {zeros({5, 2}), ones({5, 1})}, {.epochs = 3, .verbose = 0});
  EXPECT_LT(h.history["loss"].back(), h.history["loss"].front());
}

// Each layer's config rebuilds it (the class registered under its type) with the same config.
TEST(ActivationMergeShapeLayers, ConfigsRebuildTheLayers) {
  for (const Case& c : cases()) {
    LayerRef l = c.make();
    auto config = l->get_config();
    ASSERT_TRUE(config.has_value()) << c.what;
    LayerRef again = layer_from_config(l->type(), *config);
    EXPECT_EQ(again->type(), l->type());
    EXPECT_EQ(again->get_config()->items(), config->items()) << c.what;
  }
  // Keras's spellings: one int for Dot's axes and PReLU's shared_axes, LeakyReLU's deprecated alpha.
  LayerConfig dot("Dot");
  dot.set("axes", std::int64_t{-1});
  EXPECT_EQ(Tensor(layer_from_config("Dot", dot)({ones({2, 3}), ones({2, 3})})).to_vector<float>(),
            (std::vector<float>{3, 3}));
  LayerConfig prelu("PReLU");
  prelu.set("shared_axes", std::int64_t{1});
  LayerRef p = layer_from_config("PReLU", prelu);
  (void)p(ones({2, 3, 4}));
  EXPECT_EQ(p->weights()[0].shape(), Shape({1, 4}));
  LayerConfig leaky("LeakyReLU");
  leaky.set("alpha", 0.1);
  EXPECT_EQ(layer_from_config("LeakyReLU", leaky)->get_config()->get_double("negative_slope"), 0.1);
  LayerConfig reg("PReLU");
  reg.set("alpha_regularizer", std::string("l2"));
  EXPECT_THROW((void)layer_from_config("PReLU", reg), ValueError);
  for (const char* cls : {"ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Subtract", "Average", "Maximum", "Minimum",
                          "Dot", "Permute", "RepeatVector", "Identity"}) {
    bool found = false;
    for (const auto& [name, positional] : registered_layers()) found = found || name == cls;
    EXPECT_TRUE(found) << cls;
  }
}

template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("another error: ") + e.what();
  }
  return "no error";
}

TEST(ActivationMergeShapeLayers, BadInputSaysWhatAndWhatToDo) {
  using namespace layers;
  auto has = [](const std::string& msg, std::initializer_list<const char*> parts) {
    for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  };
  has(error_of<ValueError>([] { (void)ReLU({.max_value = -1}); }), {"[ReLU]", "max_value", ">= 0"});
  has(error_of<ValueError>([] { (void)ReLU({.threshold = -0.5}); }), {"[ReLU]", "threshold"});
  has(error_of<ValueError>([] { (void)LeakyReLU({.negative_slope = -0.1}); }), {"[LeakyReLU]", "negative_slope"});
  has(error_of<ValueError>([] { (void)PReLU({.shared_axes = {0}}); }), {"[PReLU]", "shared_axes", "from 1"});
  has(error_of<ShapeError>([] {
        (void)PReLU({.shared_axes = {3}})(ones({2, 3}));
      }),
      {"[p_re_lu", "shared_axes", "(2, 3)"});
  has(error_of<ShapeError>([] { (void)PReLU()(ones({3})); }), {"[p_re_lu", "rank >= 2", "(3,)"});
  has(error_of<ShapeError>([] {
        (void)Softmax({.axis = 2})(ones({2, 3}));
      }),
      {"[softmax", "axis 2", "(2, 3)", "[-2, 1]"});
  has(error_of<ValueError>([] { (void)Subtract()({ones({2}), ones({2}), ones({2})}); }), {"[subtract", "exactly two"});
  has(error_of<ShapeError>([] { (void)Average()({ones({2, 3}), ones({2, 4})}); }), {"[average", "(2, 3)", "(2, 4)"});
  has(error_of<ValueError>([] { (void)Maximum()({ones({2, 3})}); }), {"[maximum", "at least two"});
  has(error_of<ValueError>([] { (void)Dot({1, 2, 3}); }), {"[Dot]", "pair", "(1, 2, 3)"});
  has(error_of<ValueError>([] { (void)Dot({1})({ones({2, 3})}); }), {"[dot", "exactly two"});
  has(error_of<ShapeError>([] { (void)Dot({0})({ones({2, 3}), ones({2, 3})}); }), {"[dot", "non-batch", "(2, 3)"});
  has(error_of<ShapeError>([] { (void)Dot({3})({ones({2, 3}), ones({2, 3})}); }), {"[dot", "(3,)"});
  has(error_of<ShapeError>([] { (void)Dot({1})({ones({2, 3}), ones({2, 4})}); }), {"[dot", "differ in size", "(2, 4)"});
  has(error_of<ShapeError>([] { (void)Dot({1})({ones({2, 3}), ones({5, 3})}); }), {"[dot", "batch sizes", "(5, 3)"});
  has(error_of<ShapeError>([] { (void)Dot({1})({ones({3}), ones({3})}); }), {"[dot", "rank >= 2"});
  has(error_of<ValueError>([] { (void)Permute({1, 3}); }), {"[Permute]", "permutation of 1..2", "(1, 3)"});
  has(error_of<ValueError>([] { (void)Permute({0, 1}); }), {"[Permute]", "1-based"});
  has(error_of<ShapeError>([] { (void)Permute({2, 1})(ones({2, 3})); }), {"[permute", "rank 3", "(2, 3)"});
  has(error_of<ValueError>([] { (void)RepeatVector(-2); }), {"[RepeatVector]", "n", "-2"});
  has(error_of<ShapeError>([] { (void)RepeatVector(2)(ones({2, 3, 4})); }), {"[repeat_vector", "rank 2", "(2, 3, 4)"});
}

}  // namespace
}  // namespace duet
