// The convolution layers Conv1D, Conv2DTranspose and Conv1DTranspose: outputs against naive float64 references
// (written here, with Keras's output sizes and TensorFlow's padding rule), gradients for inputs and weights against
// central differences of those references, eager against compiled (traced and optimized), configs that rebuild
// the layer, a saved model that loads bitwise, and errors for bad input.
#include <cmath>

#include "test_util.h"

namespace duet {
namespace {

using testing::Arr;
using testing::expect_close;
using testing::Scratch;
using testing::to_arr;

// One spatial dim of a convolution: stride, dilation, padding before, and the output length.
struct Dim {
  std::int64_t stride = 1, dilation = 1, pad = 0, out = 0;
};

// TensorFlow's rule for a convolution of an `in`-long dim: "valid" no padding, "same" ceil(in / stride) outputs
// with the extra padding after, "causal" (1-D) (kernel - 1) * dilation zeros before.
Dim conv_dim(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d, const std::string& padding) {
  const std::int64_t span = (k - 1) * d + 1;
  if (padding == "valid") return {s, d, 0, (in - span) / s + 1};
  if (padding == "causal") return {s, d, span - 1, (in - 1) / s + 1};
  const std::int64_t out = (in + s - 1) / s;
  return {s, d, std::max<std::int64_t>((out - 1) * s + span - in, 0) / 2, out};
}

// Keras's transposed output length (op < 0: none), and the padding of the convolution from it back to `in`.
Dim transpose_dim(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d, const std::string& padding,
                  std::int64_t op) {
  const std::int64_t span = (k - 1) * d + 1;
  std::int64_t out = 0;
  if (padding == "valid")
    out = (in - 1) * s + span + (op < 0 ? std::max<std::int64_t>(s - span, 0) : op);
  else
    out = op < 0 ? in * s : (in - 1) * s + span % 2 + op;
  const std::int64_t pad = padding == "valid" ? 0 : std::max<std::int64_t>((in - 1) * s + span - out, 0) / 2;
  return {s, d, pad, out};
}

// Visits every (input index, kernel index, output index) of a convolution of x (N, H, W, C) with a (KH, KW, C, O)
// kernel.
template <class F>
void taps(const std::vector<std::int64_t>& xs, std::int64_t kh, std::int64_t kw, std::int64_t o, const Dim& y,
          const Dim& x, F f) {
  const std::int64_t c = xs[3];
  for (std::int64_t n = 0; n < xs[0]; ++n)
    for (std::int64_t oy = 0; oy < y.out; ++oy)
      for (std::int64_t ox = 0; ox < x.out; ++ox)
        for (std::int64_t ky = 0; ky < kh; ++ky)
          for (std::int64_t kx = 0; kx < kw; ++kx) {
            const std::int64_t iy = oy * y.stride - y.pad + ky * y.dilation;
            const std::int64_t ix = ox * x.stride - x.pad + kx * x.dilation;
            if (iy < 0 || iy >= xs[1] || ix < 0 || ix >= xs[2]) continue;
            for (std::int64_t ci = 0; ci < c; ++ci)
              for (std::int64_t oi = 0; oi < o; ++oi) {
                f(((n * xs[1] + iy) * xs[2] + ix) * c + ci, ((ky * kw + kx) * c + ci) * o + oi,
                  ((n * y.out + oy) * x.out + ox) * o + oi);
              }
          }
}

Arr bias_act(Arr y, const std::vector<double>& bias, const std::string& act) {
  for (std::size_t i = 0; i < y.v.size(); ++i) {
    double v = y.v[i] + (bias.empty() ? 0.0 : bias[i % bias.size()]);
    y.v[i] = act == "relu" ? std::max(v, 0.0) : act == "tanh" ? std::tanh(v) : v;
  }
  return y;
}

// A layer's reference: its output for input x and weights w (kernel, then bias when it has one), float64.
using RefFn = std::function<Arr(const Arr& x, const std::vector<Arr>& w)>;

// Conv2D-like: x (N, H, W, C), kernel (KH, KW, C, O); spatial dims given as Dims for H and W.
Arr conv_ref(const Arr& x, const Arr& k, const Dim& y, const Dim& xd) {
  const std::int64_t o = k.shape[3];
  Arr out{{x.shape[0], y.out, xd.out, o}, {}};
  out.v.assign(static_cast<std::size_t>(testing::numel(out.shape)), 0.0);
  taps(x.shape, k.shape[0], k.shape[1], o, y, xd, [&](std::int64_t xi, std::int64_t wi, std::int64_t yi) {
    out.v[static_cast<std::size_t>(yi)] += x.v[static_cast<std::size_t>(xi)] * k.v[static_cast<std::size_t>(wi)];
  });
  return out;
}

// Transposed: x (N, H, W, C), kernel (KH, KW, O, C) into (N, y.out, xd.out, O): x scattered along the taps of the
// convolution of the output, whose (KH, KW, in, out) kernel it is.
Arr conv_transpose_ref(const Arr& x, const Arr& k, const Dim& y, const Dim& xd) {
  const std::int64_t o = k.shape[2];
  Arr out{{x.shape[0], y.out, xd.out, o}, {}};
  out.v.assign(static_cast<std::size_t>(testing::numel(out.shape)), 0.0);
  // The convolution goes from the output (o channels) to x (C channels): its "input" is the output.
  Dim back_y{y.stride, y.dilation, y.pad, x.shape[1]}, back_x{xd.stride, xd.dilation, xd.pad, x.shape[2]};
  taps(out.shape, k.shape[0], k.shape[1], x.shape[3], back_y, back_x,
       [&](std::int64_t oi, std::int64_t wi, std::int64_t xi) {
         out.v[static_cast<std::size_t>(oi)] += x.v[static_cast<std::size_t>(xi)] * k.v[static_cast<std::size_t>(wi)];
       });
  return out;
}

// 1-D as 2-D over a height of 1.
Arr as_image(Arr a) {
  a.shape.insert(a.shape.begin() + 1, 1);
  return a;
}
Arr as_seq(Arr a) {
  a.shape.erase(a.shape.begin() + 1);
  return a;
}
Arr kernel_as_image(Arr k) {
  k.shape.insert(k.shape.begin(), 1);
  return k;
}

struct Case {
  std::string what;
  std::function<LayerRef()> make;
  Shape in;
  RefFn ref;
};

std::vector<double> bias_of(const std::vector<Arr>& w) { return w.size() > 1 ? w[1].v : std::vector<double>{}; }

RefFn conv1d_ref(std::int64_t s, std::int64_t d, std::string padding, std::string act) {
  return [=](const Arr& x, const std::vector<Arr>& w) {
    const Dim one{1, 1, 0, 1}, t = conv_dim(x.shape[1], w[0].shape[0], s, d, padding);
    return bias_act(as_seq(conv_ref(as_image(x), kernel_as_image(w[0]), one, t)), bias_of(w), act);
  };
}
RefFn conv2d_transpose_ref(std::vector<std::int64_t> s, std::vector<std::int64_t> d, std::string padding,
                           std::vector<std::int64_t> op, std::string act) {
  return [=](const Arr& x, const std::vector<Arr>& w) {
    const Dim y = transpose_dim(x.shape[1], w[0].shape[0], s[0], d[0], padding, op.empty() ? -1 : op[0]);
    const Dim xd = transpose_dim(x.shape[2], w[0].shape[1], s[1], d[1], padding, op.empty() ? -1 : op[1]);
    return bias_act(conv_transpose_ref(x, w[0], y, xd), bias_of(w), act);
  };
}
RefFn conv1d_transpose_ref(std::int64_t s, std::int64_t d, std::string padding, std::int64_t op, std::string act) {
  return [=](const Arr& x, const std::vector<Arr>& w) {
    const Dim one{1, 1, 0, 1}, t = transpose_dim(x.shape[1], w[0].shape[0], s, d, padding, op);
    return bias_act(as_seq(conv_transpose_ref(as_image(x), kernel_as_image(w[0]), one, t)), bias_of(w), act);
  };
}

std::vector<Case> cases() {
  using namespace layers;
  std::vector<Case> c;
  const Initializer bias_init = "random_normal";
  c.push_back({"Conv1D/valid",
               [=] { return LayerRef(Conv1D(3, {3}, {.bias_initializer = bias_init})); },
               {2, 7, 2},
               conv1d_ref(1, 1, "valid", "")});
  c.push_back({"Conv1D/same_strides2_relu",
               [=] {
                 return LayerRef(Conv1D(
                     4, {3}, {.strides = {2}, .padding = "same", .activation = "relu", .bias_initializer = bias_init}));
               },
               {2, 7, 3},
               conv1d_ref(2, 1, "same", "relu")});
  c.push_back({"Conv1D/causal",
               [=] { return LayerRef(Conv1D(2, {3}, {.padding = "causal"})); },
               {2, 6, 2},
               conv1d_ref(1, 1, "causal", "")});
  c.push_back({"Conv1D/causal_dilated_no_bias",
               [=] { return LayerRef(Conv1D(3, {2}, {.padding = "causal", .dilation_rate = {3}, .use_bias = false})); },
               {1, 5, 2},
               conv1d_ref(1, 3, "causal", "")});
  c.push_back({"Conv1D/causal_strides2",
               [=] { return LayerRef(Conv1D(2, {3}, {.strides = {2}, .padding = "causal", .activation = "tanh"})); },
               {2, 7, 1},
               conv1d_ref(2, 1, "causal", "tanh")});
  c.push_back({"Conv2DTranspose/same_strides2",
               [=] {
                 return LayerRef(
                     Conv2DTranspose(3, {3, 3}, {.strides = {2, 2}, .padding = "same", .bias_initializer = bias_init}));
               },
               {2, 3, 4, 2},
               conv2d_transpose_ref({2, 2}, {1, 1}, "same", {}, "")});
  c.push_back({"Conv2DTranspose/valid_default",
               [=] {
                 return LayerRef(Conv2DTranspose(2, {2, 3}));
               },
               {1, 3, 3, 3},
               conv2d_transpose_ref({1, 1}, {1, 1}, "valid", {}, "")});
  c.push_back({"Conv2DTranspose/valid_strides3_kernel2",  // stride past the kernel: Keras's max(span, stride)
               [=] {  // a random bias keeps the gaps' outputs (bias alone) off relu's kink
                 return LayerRef(Conv2DTranspose(
                     2, {2, 2}, {.strides = {3, 2}, .activation = "relu", .bias_initializer = bias_init}));
               },
               {1, 3, 3, 2},
               conv2d_transpose_ref({3, 2}, {1, 1}, "valid", {}, "relu")});
  c.push_back({"Conv2DTranspose/output_padding",
               [=] {
                 return LayerRef(Conv2DTranspose(
                     2, {3, 3}, {.strides = {2, 3}, .padding = "same", .output_padding = {1, 2}, .use_bias = false}));
               },
               {1, 3, 2, 2},
               conv2d_transpose_ref({2, 3}, {1, 1}, "same", {1, 2}, "")});
  c.push_back({"Conv2DTranspose/valid_output_padding",
               [=] {
                 return LayerRef(Conv2DTranspose(3, {3, 2}, {.strides = {2, 2}, .output_padding = {1, 0}}));
               },
               {2, 2, 3, 2},
               conv2d_transpose_ref({2, 2}, {1, 1}, "valid", {1, 0}, "")});
  c.push_back({"Conv2DTranspose/dilated_same",
               [=] {
                 return LayerRef(Conv2DTranspose(2, {3, 3}, {.padding = "same", .dilation_rate = {2, 1}}));
               },
               {1, 4, 4, 2},
               conv2d_transpose_ref({1, 1}, {2, 1}, "same", {}, "")});
  c.push_back({"Conv1DTranspose/same_strides2",
               [=] {
                 return LayerRef(
                     Conv1DTranspose(3, {3}, {.strides = {2}, .padding = "same", .bias_initializer = bias_init}));
               },
               {2, 4, 2},
               conv1d_transpose_ref(2, 1, "same", -1, "")});
  c.push_back(
      {"Conv1DTranspose/valid_output_padding_tanh",
       [=] { return LayerRef(Conv1DTranspose(2, {4}, {.strides = {3}, .output_padding = {2}, .activation = "tanh"})); },
       {1, 3, 3},
       conv1d_transpose_ref(3, 1, "valid", 2, "tanh")});
  c.push_back({"Conv1DTranspose/dilated",
               [=] { return LayerRef(Conv1DTranspose(2, {2}, {.dilation_rate = {2}})); },
               {2, 4, 1},
               conv1d_transpose_ref(1, 2, "valid", -1, "")});
  return c;
}

std::vector<Arr> weights_of(const Layer& l) {
  std::vector<Arr> w;
  for (const Variable& v : l.weights()) w.push_back(to_arr(v.value()));
  return w;
}

// d/dp sum(ref(p) * ct) by central differences, p being x (which = -1) or weight `which`.
Arr numeric_grad(const RefFn& ref, Arr x, std::vector<Arr> w, const Arr& ct, int which) {
  Arr& p = which < 0 ? x : w[static_cast<std::size_t>(which)];
  Arr g{p.shape, std::vector<double>(p.v.size(), 0.0)};
  auto value = [&] {
    const Arr y = ref(x, w);
    double s = 0;
    for (std::size_t i = 0; i < y.v.size(); ++i) s += y.v[i] * ct.v[i];
    return s;
  };
  const double h = 1e-5;
  for (std::size_t i = 0; i < p.v.size(); ++i) {
    const double keep = p.v[i];
    p.v[i] = keep + h;
    const double up = value();
    p.v[i] = keep - h;
    const double down = value();
    p.v[i] = keep;
    g.v[i] = (up - down) / (2 * h);
  }
  return g;
}

TEST(ConvLayers, ValuesGradientsAndCompiledEqualEager) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.what);
    LayerRef layer = c.make();
    Tensor x = random::normal(c.in, 0, 1, DType::Float32, 7);
    Tensor y = layer(x);
    const Arr want = c.ref(to_arr(x), weights_of(*layer));
    ASSERT_EQ(y.shape().to_vector(), want.shape) << c.what;
    expect_close(to_arr(y), want, 2e-5, 2e-5, c.what + " value");
    // gradients of sum(y * ct) for the input and every weight, against the reference's central differences
    Tensor ct = random::normal(y.shape(), 0, 1, DType::Float32, 9);
    GradientTape tape({.persistent = true});
    tape.watch(x);
    Tensor target = sum(layer(x) * ct);
    expect_close(to_arr(tape.gradient(target, x)), numeric_grad(c.ref, to_arr(x), weights_of(*layer), to_arr(ct), -1),
                 1e-4, 1e-4, c.what + " d input");
    const auto ws = layer->trainable_weights();
    for (std::size_t k = 0; k < ws.size(); ++k) {
      expect_close(to_arr(tape.gradient(target, ws[k])),
                   numeric_grad(c.ref, to_arr(x), weights_of(*layer), to_arr(ct), static_cast<int>(k)), 1e-4, 1e-4,
                   c.what + " d " + ws[k].name());
    }
    // compiled (traced, optimized) against eager, with the gradients, the batch dim unknown
    auto step = [&](const std::vector<Tensor>& in) {
      GradientTape t;
      t.watch(in[0]);
      Tensor out = layer(in[0], true);
      std::vector<Source> src{Source(in[0])};
      for (const Variable& w : layer->trainable_weights()) src.emplace_back(w);
      std::vector<Tensor> r{out};
      for (Tensor& g : t.gradient(sum(out * out), src)) r.push_back(g);
      return r;
    };
    auto eager = step({x});
    std::vector<std::int64_t> sig = c.in.to_vector();
    sig[0] = -1;
    FunctionOptions fo{.name = c.what, .check_eager = true};
    fo.input_signature = std::vector<TensorSpec>{TensorSpec{DType::Float32, Shape(sig)}};
    auto compiled = function(step, fo);
    auto got = compiled(std::vector<Tensor>{x});
    ASSERT_EQ(got.size(), eager.size());
    for (std::size_t i = 0; i < got.size(); ++i)
      expect_close(to_arr(got[i]), to_arr(eager[i]), 1e-5, 1e-6, c.what + " compiled part " + std::to_string(i));
  }
}

// Keras's output sizes (compute_output_shape agrees with the call), and the Python check's example.
TEST(ConvLayers, OutputShapesAreKerases) {
  using namespace layers;
  EXPECT_EQ(Tensor(Conv2DTranspose(4, {3, 3}, {.strides = {2, 2}, .padding = "same"})(ones({1, 5, 5, 2}))).shape(),
            Shape({1, 10, 10, 4}));
  EXPECT_EQ(Tensor(Conv2DTranspose(4, {3, 3}, {.strides = {2, 2}})(ones({1, 5, 5, 2}))).shape(), Shape({1, 11, 11, 4}));
  EXPECT_EQ(Tensor(Conv2DTranspose(1, {1, 1}, {.strides = {3, 3}})(ones({1, 2, 2, 1}))).shape(), Shape({1, 6, 6, 1}));
  EXPECT_EQ(Tensor(Conv1DTranspose(2, {5}, {.strides = {2}, .padding = "same", .output_padding = {0}})(ones({1, 4, 3})))
                .shape(),
            Shape({1, 7, 2}));
  EXPECT_EQ(Tensor(Conv1D(2, {3}, {.strides = {2}, .padding = "causal"})(ones({1, 7, 3}))).shape(), Shape({1, 4, 2}));
  auto t = Conv2DTranspose(4, {3, 2}, {.strides = {2, 1}, .output_padding = {1, 0}});
  Tensor in = Input({3, 5, 2});
  Tensor out = t(in);
  EXPECT_EQ(out.shape(), Shape({-1, 8, 6, 4}));
  EXPECT_EQ(Tensor(t(ones({2, 3, 5, 2}))).shape(), Shape({2, 8, 6, 4}));
}

// Causal padding: output t depends on inputs up to t only (a change at step 4 leaves steps 0..3 alone).
TEST(ConvLayers, CausalSeesNoFuture) {
  auto l = layers::Conv1D(2, {3}, {.padding = "causal", .dilation_rate = {2}});
  Tensor a = random::normal({1, 8, 2}, 0, 1, DType::Float32, 1);
  std::vector<float> v = a.to_vector<float>();
  v[4 * 2] += 10;
  Tensor b = constant(std::vector<double>(v.begin(), v.end()), Shape{1, 8, 2}, DType::Float32);
  auto ya = Tensor(l(a)).to_vector<float>(), yb = Tensor(l(b)).to_vector<float>();
  for (std::size_t i = 0; i < ya.size(); ++i) {
    if (i < 4 * 2) {
      EXPECT_EQ(ya[i], yb[i]) << i;
    } else if (i < 5 * 2) {
      EXPECT_NE(ya[i], yb[i]) << i;
    }
  }
}

TEST(ConvLayers, ModelWithEveryLayerSavesLoadsAndTrains) {
  using namespace layers;
  Scratch s;
  Tensor seq = Input({8, 3});
  Tensor h = Conv1D(4, {3}, {.padding = "causal", .activation = "relu"})(seq);           // (None, 8, 4)
  h = Conv1D(4, {2}, {.strides = {2}})(h);                                               // (None, 4, 4)
  h = Conv1DTranspose(3, {3}, {.strides = {2}, .padding = "same"})(h);                   // (None, 8, 3)
  Tensor img = Reshape({2, 4, 3})(h);                                                    // (None, 2, 4, 3)
  img = Conv2DTranspose(2, {3, 3}, {.strides = {2, 2}, .output_padding = {1, 1}})(img);  // (None, 6, 10, 2)
  Tensor out = Dense(1)(Flatten()(img));
  Model m(seq, out, "conv_family");
  Tensor x = random::normal({5, 8, 3}, 0, 1, DType::Float32, 4);
  Tensor want = m.predict(x);
  m.save(s.path("m.duet"));
  std::shared_ptr<Model> loaded = load_model(s.path("m.duet"));
  EXPECT_EQ(loaded->summary_string(), m.summary_string());
  EXPECT_EQ(loaded->predict(x).to_vector<float>(), want.to_vector<float>());
  loaded->compile({.optimizer = "adam", .loss = "mse"});
  auto hist = loaded->fit(x, zeros({5, 1}), {.epochs = 4, .verbose = 0});
  EXPECT_LT(hist.history["loss"].back(), hist.history["loss"].front());
}

TEST(ConvLayers, ConfigsRebuildTheLayers) {
  for (const Case& c : cases()) {
    LayerRef l = c.make();
    auto config = l->get_config();
    ASSERT_TRUE(config.has_value()) << c.what;
    LayerRef again = layer_from_config(l->type(), *config);
    EXPECT_EQ(again->type(), l->type());
    EXPECT_EQ(again->get_config()->items(), config->items()) << c.what;
  }
  // Keras's spellings: one int for sizes, output_padding None (an empty list), data_format refused with the reason.
  LayerConfig t("Conv2DTranspose");
  t.set("filters", std::int64_t{2}).set("kernel_size", std::int64_t{3}).set("strides", std::int64_t{2});
  t.set("output_padding", std::vector<std::int64_t>{});
  LayerRef l = layer_from_config("Conv2DTranspose", t);
  EXPECT_EQ(Tensor(l(ones({1, 2, 2, 1}))).shape(), Shape({1, 5, 5, 2}));
  LayerConfig one("Conv1D");
  one.set("filters", std::int64_t{2}).set("kernel_size", std::int64_t{2}).set("padding", std::string("causal"));
  EXPECT_EQ(Tensor(layer_from_config("Conv1D", one)(ones({1, 4, 1}))).shape(), Shape({1, 4, 2}));
  LayerConfig cf("Conv1DTranspose");
  cf.set("filters", std::int64_t{2})
      .set("kernel_size", std::int64_t{2})
      .set("data_format", std::string("channels_first"));
  try {
    (void)layer_from_config("Conv1DTranspose", cf);
    FAIL() << "channels_first was accepted";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("channels last"), std::string::npos) << e.what();
  }
  for (const char* cls : {"Conv1D", "Conv2DTranspose", "Conv1DTranspose"}) {
    bool found = false;
    for (const auto& [name, positional] : registered_layers())
      if (name == cls) {
        found = true;
        EXPECT_EQ(positional, (std::vector<std::string>{"filters", "kernel_size", "strides", "padding"})) << cls;
      }
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

TEST(ConvLayers, BadInputSaysWhatAndWhatToDo) {
  using namespace layers;
  auto has = [](const std::string& msg, std::initializer_list<const char*> parts) {
    for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  };
  has(error_of<ValueError>([] { (void)Conv2DTranspose(0, {3, 3}); }), {"[Conv2DTranspose]", "filters", "0"});
  has(error_of<ValueError>([] { (void)Conv2DTranspose(2, {3, 0}); }), {"[Conv2DTranspose]", "kernel_size", "(3, 0)"});
  has(error_of<ValueError>([] { (void)Conv2DTranspose(2, {3}); }), {"[Conv2DTranspose]", "kernel_size", "2 positive"});
  has(error_of<ValueError>([] {
        (void)Conv2DTranspose(2, {3, 3}, {.strides = {2, 2}, .output_padding = {2, 0}});
      }),
      {"[Conv2DTranspose]", "output_padding (2, 0)", "less than its stride", "strides (2, 2)"});
  has(error_of<ValueError>([] {
        (void)Conv2DTranspose(2, {3, 3}, {.output_padding = {1}});
      }),
      {"[Conv2DTranspose]", "one number per dim"});
  has(error_of<ValueError>([] {
        (void)Conv2DTranspose(2, {3, 3}, {.padding = "causal"});
      }),
      {"[Conv2DTranspose]", "padding", "\"causal\""});
  has(error_of<ValueError>([] { (void)Conv1DTranspose(2, {3}, {.strides = {0}}); }),
      {"[Conv1DTranspose]", "strides", "(0,)"});
  has(error_of<ValueError>([] { (void)Conv1D(2, {3}, {.dilation_rate = {-1}}); }), {"[Conv1D]", "dilation_rate"});
  has(error_of<ValueError>([] { (void)Conv1D(2, {3}, {.padding = "full"}); }), {"[Conv1D]", "\"causal\"", "\"full\""});
  has(error_of<ShapeError>([] { (void)Conv1D(2, {3})(ones({4, 5})); }), {"[conv1d", "rank 3", "(4, 5)", "Reshape"});
  has(error_of<ShapeError>([] {
        (void)Conv1DTranspose(2, {3})(ones({1, 4, 5, 2}));
      }),
      {"[conv1d_transpose", "rank 3", "(1, 4, 5, 2)"});
  has(error_of<ShapeError>([] {
        (void)Conv2DTranspose(2, {3, 3})(ones({4, 5, 2}));
      }),
      {"[conv2d_transpose", "rank 4", "(4, 5, 2)"});
  has(error_of<ShapeError>([] { (void)Conv1D(2, {6})(ones({1, 4, 2})); }), {"[conv2d]", "larger than the input"});
  // Keras's "same" size for an even kernel without output_padding is one short of mapping back: the op says so.
  has(error_of<ShapeError>([] {
        (void)Conv2DTranspose(1, {2, 2}, {.padding = "same", .output_padding = {0, 0}})(ones({1, 3, 3, 1}));
      }),
      {"[conv2d_transpose]", "output_size [2, 2]", "does not fit the input", "(1, 3, 3, 1)"});
  // the op itself
  has(error_of<ShapeError>([] {
        (void)conv2d_transpose(ones({1, 3, 3, 2}), ones({3, 3, 4, 5}), {5, 5});
      }),
      {"[conv2d_transpose]", "2 channels", "expect 5"});
  has(error_of<ValueError>([] {
        (void)conv2d_transpose(ones({1, 3, 3, 2}), ones({3, 3, 4, 2}), {0, 5});
      }),
      {"[conv2d_transpose]", "output_size", "positive"});
  has(error_of<ShapeError>([] {
        (void)conv2d_transpose(ones({1, 3, 3, 2}), ones({3, 3, 4, 2}), {6, 5});
      }),
      {"[conv2d_transpose]", "does not fit", "4x3 positions"});
  has(error_of<ShapeError>([] {
        (void)conv2d_transpose(ones({1, 3, 3, 2}), ones({3, 4, 2}), {5, 5});
      }),
      {"[conv2d_transpose]", "filters must have rank 4"});
}

}  // namespace
}  // namespace duet
