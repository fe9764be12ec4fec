// Pooling and resizing layers (MaxPooling1D/3D, AveragePooling1D/3D, GlobalAverage/GlobalMax Pooling1D/2D/3D,
// UpSampling1D/2D/3D, ZeroPadding1D/2D/3D, Cropping1D/2D/3D, Resizing): values against naive references, float64
// gradients against central differences, eager against compiled (traced and optimized) for outputs and
// gradients, configs that rebuild the layer, a saved model that loads bitwise, and errors for bad input.
#include <cmath>

#include "test_util.h"

namespace duet {
namespace {

using testing::Arr;
using testing::check_gradients;
using testing::expect_close;
using testing::Scratch;
using testing::to_arr;
using Ints = std::vector<std::int64_t>;

// Offsets of a row-major shape.
Ints strides(const Ints& s) {
  Ints st(s.size(), 1);
  for (int d = static_cast<int>(s.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * s[d + 1];
  return st;
}
std::int64_t count(const Ints& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}
// Calls f(index) for every index of shape s, in row-major order.
void each(const Ints& s, const std::function<void(const Ints&)>& f) {
  Ints at(s.size(), 0);
  for (std::int64_t i = 0, n = count(s); i < n; ++i) {
    std::int64_t r = i;
    for (int d = static_cast<int>(s.size()) - 1; d >= 0; --d) {
      at[d] = r % s[d];
      r /= s[d];
    }
    f(at);
  }
}
double at(const Arr& a, const Ints& i) {
  auto st = strides(a.shape);
  std::int64_t off = 0;
  for (std::size_t d = 0; d < i.size(); ++d) off += i[d] * st[d];
  return a.v[static_cast<std::size_t>(off)];
}

// TensorFlow's pooling over the spatial dims of (N, spatial..., C): "same" pads (total - 1) / 2 before, and
// padded positions are neither a max nor counted in an average.
Arr ref_pool(const Arr& a, const Ints& k, const Ints& s, bool same, bool is_max) {
  const std::size_t r = k.size();
  Ints out{a.shape[0]}, before;
  for (std::size_t d = 0; d < r; ++d) {
    const std::int64_t n = a.shape[d + 1];
    const std::int64_t o = same ? (n + s[d] - 1) / s[d] : (n - k[d]) / s[d] + 1;
    out.push_back(o);
    before.push_back(same ? std::max<std::int64_t>((o - 1) * s[d] + k[d] - n, 0) / 2 : 0);
  }
  out.push_back(a.shape.back());
  Arr y{out, {}};
  each(out, [&](const Ints& o) {
    double acc = is_max ? -INFINITY : 0;
    int seen = 0;
    each(k, [&](const Ints& w) {
      Ints i{o[0]};
      for (std::size_t d = 0; d < r; ++d) {
        const std::int64_t p = o[d + 1] * s[d] - before[d] + w[d];
        if (p < 0 || p >= a.shape[d + 1]) return;
        i.push_back(p);
      }
      i.push_back(o.back());
      const double v = at(a, i);
      acc = is_max ? std::max(acc, v) : acc + v;
      ++seen;
    });
    y.v.push_back(is_max ? acc : acc / seen);
  });
  return y;
}

// The input, each spatial index mapped through src(d, i) (UpSampling nearest, padding, cropping): -1 gives 0.
Arr ref_map(const Arr& a, const Ints& out_spatial, const std::function<std::int64_t(std::size_t, std::int64_t)>& src) {
  Ints out{a.shape[0]};
  out.insert(out.end(), out_spatial.begin(), out_spatial.end());
  out.push_back(a.shape.back());
  Arr y{out, {}};
  each(out, [&](const Ints& o) {
    Ints i = o;
    for (std::size_t d = 0; d < out_spatial.size(); ++d) {
      i[d + 1] = src(d, o[d + 1]);
      if (i[d + 1] < 0) {
        y.v.push_back(0);
        return;
      }
    }
    y.v.push_back(at(a, i));
  });
  return y;
}

// tf.image.resize of (N, H, W, C) with half-pixel centers, written as TensorFlow's kernel computes each pixel.
Arr ref_resize(const Arr& a, std::int64_t oh, std::int64_t ow, bool bilinear) {
  const std::int64_t h = a.shape[1], w = a.shape[2];
  const float sy = static_cast<float>(h) / static_cast<float>(oh), sx = static_cast<float>(w) / static_cast<float>(ow);
  Arr y{{a.shape[0], oh, ow, a.shape[3]}, {}};
  each(y.shape, [&](const Ints& o) {
    if (!bilinear) {
      auto pick = [](std::int64_t i, float sc, std::int64_t n) {
        return std::min<std::int64_t>(static_cast<std::int64_t>(std::floor((static_cast<float>(i) + 0.5f) * sc)),
                                      n - 1);
      };
      y.v.push_back(at(a, {o[0], pick(o[1], sy, h), pick(o[2], sx, w), o[3]}));
      return;
    }
    const float fy = (static_cast<float>(o[1]) + 0.5f) * sy - 0.5f, fx = (static_cast<float>(o[2]) + 0.5f) * sx - 0.5f;
    const auto y0 = std::max<std::int64_t>(static_cast<std::int64_t>(std::floor(fy)), 0);
    const auto y1 = std::min<std::int64_t>(static_cast<std::int64_t>(std::ceil(fy)), h - 1);
    const auto x0 = std::max<std::int64_t>(static_cast<std::int64_t>(std::floor(fx)), 0);
    const auto x1 = std::min<std::int64_t>(static_cast<std::int64_t>(std::ceil(fx)), w - 1);
    const double ly = fy - std::floor(fy), lx = fx - std::floor(fx);
    const double top = at(a, {o[0], y0, x0, o[3]}) + (at(a, {o[0], y0, x1, o[3]}) - at(a, {o[0], y0, x0, o[3]})) * lx;
    const double bot = at(a, {o[0], y1, x0, o[3]}) + (at(a, {o[0], y1, x1, o[3]}) - at(a, {o[0], y1, x0, o[3]})) * lx;
    y.v.push_back(top + (bot - top) * ly);
  });
  return y;
}

Arr ref_global(const Arr& a, bool is_max, bool keepdims) {
  const std::int64_t n = a.shape.front(), c = a.shape.back(), m = count(a.shape) / (n * c);
  Arr y{{n}, {}};
  for (std::size_t d = 1; keepdims && d + 1 < a.shape.size(); ++d) y.shape.push_back(1);
  y.shape.push_back(c);
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch) {
      double acc = is_max ? -INFINITY : 0;
      for (std::int64_t i = 0; i < m; ++i) {
        const double v = a.v[static_cast<std::size_t>((b * m + i) * c + ch)];
        acc = is_max ? std::max(acc, v) : acc + v;
      }
      y.v.push_back(is_max ? acc : acc / static_cast<double>(m));
    }
  return y;
}

struct Case {
  std::string what;
  std::function<LayerRef()> make;
  Shape shape;
  std::function<Arr(const Arr&)> ref;
};

std::vector<Case> cases() {
  using namespace layers;
  std::vector<Case> c;
  const Shape seq{2, 7, 3}, img{2, 5, 6, 3}, vol{2, 5, 4, 6, 2};
  c.push_back({"MaxPooling1D", [] { return LayerRef(MaxPooling1D()); }, seq,
               [](const Arr& a) { return ref_pool(a, {2}, {2}, false, true); }});
  c.push_back({"MaxPooling1D/same_3_2",
               [] {
                 return LayerRef(MaxPooling1D({3, 2, "same"}));
               },
               seq, [](const Arr& a) { return ref_pool(a, {3}, {2}, true, true); }});
  c.push_back({"AveragePooling1D/strides1", [] { return LayerRef(AveragePooling1D({.pool_size = 3, .strides = 1})); },
               seq, [](const Arr& a) { return ref_pool(a, {3}, {1}, false, false); }});
  c.push_back({"AveragePooling1D/same", [] { return LayerRef(AveragePooling1D({.pool_size = 4, .padding = "same"})); },
               seq, [](const Arr& a) { return ref_pool(a, {4}, {4}, true, false); }});
  c.push_back({"MaxPooling3D", [] { return LayerRef(MaxPooling3D()); }, vol,
               [](const Arr& a) {
                 return ref_pool(a, {2, 2, 2}, {2, 2, 2}, false, true);
               }});
  c.push_back({"MaxPooling3D/same",
               [] {
                 return LayerRef(MaxPooling3D({.pool_size = {3, 2, 3}, .strides = {2, 1, 2}, .padding = "same"}));
               },
               vol,
               [](const Arr& a) {
                 return ref_pool(a, {3, 2, 3}, {2, 1, 2}, true, true);
               }});
  c.push_back({"AveragePooling3D/same",
               [] {
                 return LayerRef(AveragePooling3D({.pool_size = {3, 3, 2}, .strides = {2, 2, 2}, .padding = "same"}));
               },
               vol,
               [](const Arr& a) {
                 return ref_pool(a, {3, 3, 2}, {2, 2, 2}, true, false);
               }});
  c.push_back({"AveragePooling3D/valid",
               [] {
                 return LayerRef(AveragePooling3D({.pool_size = {2, 3, 2}, .strides = {1, 1, 3}}));
               },
               vol,
               [](const Arr& a) {
                 return ref_pool(a, {2, 3, 2}, {1, 1, 3}, false, false);
               }});
  for (bool keep : {false, true}) {
    const std::string k = keep ? "/keepdims" : "";
    c.push_back({"GlobalAveragePooling1D" + k, [keep] { return LayerRef(GlobalAveragePooling1D({.keepdims = keep})); },
                 seq, [keep](const Arr& a) { return ref_global(a, false, keep); }});
    c.push_back({"GlobalMaxPooling1D" + k, [keep] { return LayerRef(GlobalMaxPooling1D({.keepdims = keep})); }, seq,
                 [keep](const Arr& a) { return ref_global(a, true, keep); }});
    c.push_back({"GlobalAveragePooling2D" + k, [keep] { return LayerRef(GlobalAveragePooling2D({.keepdims = keep})); },
                 img, [keep](const Arr& a) { return ref_global(a, false, keep); }});
    c.push_back({"GlobalMaxPooling2D" + k, [keep] { return LayerRef(GlobalMaxPooling2D({.keepdims = keep})); }, img,
                 [keep](const Arr& a) { return ref_global(a, true, keep); }});
    c.push_back({"GlobalAveragePooling3D" + k, [keep] { return LayerRef(GlobalAveragePooling3D({.keepdims = keep})); },
                 vol, [keep](const Arr& a) { return ref_global(a, false, keep); }});
    c.push_back({"GlobalMaxPooling3D" + k, [keep] { return LayerRef(GlobalMaxPooling3D({.keepdims = keep})); }, vol,
                 [keep](const Arr& a) { return ref_global(a, true, keep); }});
  }
  auto repeat = [](Ints size) { return [size](std::size_t d, std::int64_t i) { return i / size[d]; }; };
  c.push_back({"UpSampling1D", [] { return LayerRef(UpSampling1D({.size = 3})); }, seq,
               [=](const Arr& a) { return ref_map(a, {21}, repeat({3})); }});
  c.push_back({"UpSampling2D", [] { return LayerRef(UpSampling2D()); }, img,
               [=](const Arr& a) {
                 return ref_map(a, {10, 12}, repeat({2, 2}));
               }});
  c.push_back({"UpSampling2D/3_1",
               [] {
                 return LayerRef(UpSampling2D({.size = {3, 1}}));
               },
               img,
               [=](const Arr& a) {
                 return ref_map(a, {15, 6}, repeat({3, 1}));
               }});
  c.push_back({"UpSampling2D/bilinear", [] { return LayerRef(UpSampling2D({.interpolation = "bilinear"})); }, img,
               [](const Arr& a) { return ref_resize(a, 10, 12, true); }});
  c.push_back({"UpSampling2D/bilinear_3_2",
               [] {
                 return LayerRef(UpSampling2D({.size = {3, 2}, .interpolation = "bilinear"}));
               },
               img, [](const Arr& a) { return ref_resize(a, 15, 12, true); }});
  c.push_back({"UpSampling3D",
               [] {
                 return LayerRef(UpSampling3D({.size = {2, 1, 3}}));
               },
               vol,
               [=](const Arr& a) {
                 return ref_map(a, {10, 4, 18}, repeat({2, 1, 3}));
               }});
  // padding / cropping: (before, after) per spatial dim
  auto padded = [](Ints p) {
    return [p](std::size_t d, std::int64_t i) { return i - p[2 * d]; };  // out of range below: checked by ref_map
  };
  auto pad_ref = [=](Ints p) {
    return [=](const Arr& a) {
      Ints out;
      for (std::size_t d = 0; d + 2 < a.shape.size(); ++d) out.push_back(a.shape[d + 1] + p[2 * d] + p[2 * d + 1]);
      return ref_map(a, out, [=](std::size_t d, std::int64_t i) {
        const std::int64_t j = padded(p)(d, i);
        return j >= a.shape[d + 1] ? -1 : j;
      });
    };
  };
  auto crop_ref = [](Ints p) {
    return [=](const Arr& a) {
      Ints out;
      for (std::size_t d = 0; d + 2 < a.shape.size(); ++d) out.push_back(a.shape[d + 1] - p[2 * d] - p[2 * d + 1]);
      return ref_map(a, out, [=](std::size_t d, std::int64_t i) { return i + p[2 * d]; });
    };
  };
  c.push_back({"ZeroPadding1D", [] { return LayerRef(ZeroPadding1D()); }, seq, pad_ref({1, 1})});
  c.push_back({"ZeroPadding1D/pair", [] { return LayerRef(ZeroPadding1D({2, 0})); }, seq, pad_ref({2, 0})});
  c.push_back({"ZeroPadding2D", [] { return LayerRef(ZeroPadding2D()); }, img, pad_ref({1, 1, 1, 1})});
  c.push_back({"ZeroPadding2D/symmetric", [] { return LayerRef(ZeroPadding2D({2, 1})); }, img, pad_ref({2, 2, 1, 1})});
  c.push_back({"ZeroPadding2D/pairs",
               [] {
                 return LayerRef(ZeroPadding2D({1, 2, 0, 3}));
               },
               img, pad_ref({1, 2, 0, 3})});
  c.push_back({"ZeroPadding3D/pairs",
               [] {
                 return LayerRef(ZeroPadding3D({1, 0, 0, 2, 1, 1}));
               },
               vol, pad_ref({1, 0, 0, 2, 1, 1})});
  c.push_back({"Cropping1D", [] { return LayerRef(Cropping1D()); }, seq, crop_ref({1, 1})});
  c.push_back({"Cropping1D/pair", [] { return LayerRef(Cropping1D({2, 0})); }, seq, crop_ref({2, 0})});
  c.push_back({"Cropping2D/default", [] { return LayerRef(Cropping2D()); }, img, crop_ref({0, 0, 0, 0})});
  c.push_back({"Cropping2D/symmetric", [] { return LayerRef(Cropping2D({1, 2})); }, img, crop_ref({1, 1, 2, 2})});
  c.push_back({"Cropping2D/pairs", [] { return LayerRef(Cropping2D({0, 2, 3, 1})); }, img, crop_ref({0, 2, 3, 1})});
  c.push_back({"Cropping3D", [] { return LayerRef(Cropping3D()); }, vol, crop_ref({1, 1, 1, 1, 1, 1})});
  c.push_back({"Cropping3D/pairs",
               [] {
                 return LayerRef(Cropping3D({2, 0, 0, 1, 1, 3}));
               },
               vol, crop_ref({2, 0, 0, 1, 1, 3})});
  c.push_back({"Resizing/bilinear_down", [] { return LayerRef(Resizing(3, 4)); }, img,
               [](const Arr& a) { return ref_resize(a, 3, 4, true); }});
  c.push_back({"Resizing/bilinear_up", [] { return LayerRef(Resizing(7, 9)); }, img,
               [](const Arr& a) { return ref_resize(a, 7, 9, true); }});
  c.push_back({"Resizing/nearest", [] { return LayerRef(Resizing(4, 9, {.interpolation = "nearest"})); }, img,
               [](const Arr& a) { return ref_resize(a, 4, 9, false); }});
  // (5, 6) to the aspect 1:1 crops width 5 from column int(1 / 2) = 0; to 2:1 crops 3 rows from row 1
  c.push_back({"Resizing/crop_square", [] { return LayerRef(Resizing(3, 3, {.crop_to_aspect_ratio = true})); }, img,
               [=](const Arr& a) {
                 return ref_resize(crop_ref({0, 0, 0, 1})(a), 3, 3, true);
               }});
  c.push_back({"Resizing/crop_wide",
               [] { return LayerRef(Resizing(2, 4, {.interpolation = "nearest", .crop_to_aspect_ratio = true})); }, img,
               [=](const Arr& a) {
                 return ref_resize(crop_ref({1, 1, 0, 0})(a), 2, 4, false);
               }});
  return c;
}

TEST(PoolingResizingLayers, ValuesGradientsAndCompiledEqualEager) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.what);
    LayerRef layer = c.make();
    Tensor x64 = random::normal(c.shape, 0, 1, DType::Float64, 11);
    Tensor y64 = layer(x64);
    expect_close(to_arr(y64), c.ref(to_arr(x64)), 1e-6, 1e-6, c.what + " value");
    check_gradients([&](const std::vector<Tensor>& in) { return layer(in[0]); }, {x64}, {true}, 1e-6, c.what);
    // float32, compiled against eager: the output and the input gradient.
    Tensor x32 = random::normal(c.shape, 0, 1, DType::Float32, 21);
    expect_close(to_arr(layer(x32)), c.ref(to_arr(x32)), 2e-6, 2e-6, c.what + " float32 value");
    auto step = [&](const std::vector<Tensor>& in) {
      GradientTape tape;
      tape.watch(in[0]);
      Tensor y = layer(in[0], true);
      return std::vector<Tensor>{y, tape.gradient(sum(y * y), in[0])};
    };
    auto eager = step({x32});
    auto got = function(step, {.name = "layer", .check_eager = true})(std::vector<Tensor>{x32});
    for (std::size_t i = 0; i < 2; ++i)
      expect_close(to_arr(got[i]), to_arr(eager[i]), 1e-5, 1e-6, c.what + " compiled part " + std::to_string(i));
  }
}

// Each layer's config rebuilds it (the class registered under its type) with the same config.
TEST(PoolingResizingLayers, ConfigsRebuildTheLayers) {
  for (const Case& c : cases()) {
    LayerRef l = c.make();
    auto config = l->get_config();
    ASSERT_TRUE(config.has_value()) << c.what;
    LayerRef again = layer_from_config(l->type(), *config);
    EXPECT_EQ(again->type(), l->type());
    EXPECT_EQ(again->get_config()->items(), config->items()) << c.what;
  }
  // Keras's spellings: ints for tuples, strides None, a tuple of pairs (flat), another interpolation refused.
  LayerConfig up("UpSampling2D");
  up.set("size", std::int64_t{3}).set("interpolation", std::string("bilinear"));
  EXPECT_EQ(layer_from_config("UpSampling2D", up)->get_config()->get_ints("size"), (Ints{3, 3}));
  LayerConfig pool("MaxPooling3D");
  pool.set("pool_size", std::int64_t{3}).set("strides", Ints{});
  EXPECT_EQ(layer_from_config("MaxPooling3D", pool)->get_config()->get_ints("strides"), (Ints{3, 3, 3}));
  LayerConfig pad("ZeroPadding2D");
  pad.set("padding", Ints{1, 2, 3, 4});
  EXPECT_EQ(layer_from_config("ZeroPadding2D", pad)(ones({1, 2, 2, 1})).shape(), (Shape{1, 5, 9, 1}));
  LayerConfig cubic("UpSampling2D");
  cubic.set("interpolation", std::string("bicubic"));
  EXPECT_THROW((void)layer_from_config("UpSampling2D", cubic), ValueError);
  LayerConfig nchw("GlobalMaxPooling1D");
  nchw.set("data_format", std::string("channels_first"));
  EXPECT_THROW((void)layer_from_config("GlobalMaxPooling1D", nchw), ValueError);
  LayerConfig anti("Resizing");
  anti.set("height", std::int64_t{2}).set("width", std::int64_t{2}).set("antialias", true);
  EXPECT_THROW((void)layer_from_config("Resizing", anti), ValueError);
}

// Integer images: nearest copies them, bilinear interpolates in float32 and rounds back (half to even).
TEST(PoolingResizingLayers, ResizingKeepsIntegerImagesAndTakesUnbatchedOnes) {
  Tensor img = constant(std::vector<std::int32_t>{0, 3, 10, 20}, Shape{1, 1, 4, 1});
  Tensor up = layers::Resizing(1, 2)(img);
  EXPECT_EQ(up.dtype(), DType::Int32);
  EXPECT_EQ(up.to_vector<std::int32_t>(), (std::vector<std::int32_t>{2, 15}));  // 1.5 -> 2, 15
  EXPECT_EQ(layers::Resizing(1, 2, {.interpolation = "nearest"})(img).to_vector<std::int32_t>(),
            (std::vector<std::int32_t>{3, 20}));
  Tensor hwc = random::normal(Shape{5, 6, 2}, 0, 1, DType::Float32, 3);
  Tensor one = layers::Resizing(3, 4)(hwc);
  EXPECT_EQ(one.shape(), (Shape{3, 4, 2}));
  expect_close(to_arr(expand_dims(one, 0)), ref_resize(to_arr(expand_dims(hwc, 0)), 3, 4, true), 2e-6, 2e-6,
               "unbatched");
}

// A functional model through every family, saved and loaded: the same outputs bitwise; and it trains.
TEST(PoolingResizingLayers, ModelSavesLoadsAndTrains) {
  using namespace layers;
  Scratch s;
  Tensor seq_in = Input({12, 3}), img_in = Input({6, 5, 2});
  Tensor a = GlobalMaxPooling1D()(AveragePooling1D({.padding = "same"})(
      UpSampling1D()(MaxPooling1D({3, 1})(Cropping1D({1, 2})(ZeroPadding1D({2})(seq_in))))));
  Tensor b = ZeroPadding2D({1, 0, 2, 1})(Cropping2D({1, 1, 0, 2})(img_in));
  b = UpSampling2D({.size = {2, 1}, .interpolation = "bilinear"})(Resizing(4, 4)(b));
  b = GlobalAveragePooling2D({.keepdims = true})(Conv2D(3, {3, 3}, {.padding = "same"})(b));
  Tensor v = Reshape({2, 3, 4, 1})(Dense(24)(Flatten()(b)));
  v = GlobalAveragePooling3D()(AveragePooling3D({.pool_size = {1, 2, 2}, .padding = "same"})(
      MaxPooling3D({.pool_size = {2, 1, 2}})(Cropping3D({0, 1, 0})(ZeroPadding3D({1})(UpSampling3D()(v))))));
  Tensor out = Dense(2)(Concatenate()({a, v, GlobalMaxPooling3D()(Reshape({1, 1, 1, 3})(Flatten()(b)))}));
  Model m({seq_in, img_in}, {out}, "pool_resize");
  Tensor xs = random::normal({4, 12, 3}, 0, 1, DType::Float32, 1),
         xi = random::normal({4, 6, 5, 2}, 0, 1, DType::Float32, 2);
  Tensor want = m.predict({xs, xi})[0];
  m.save(s.path("m.duet"));
  std::shared_ptr<Model> loaded = load_model(s.path("m.duet"));
  EXPECT_EQ(loaded->summary_string(), m.summary_string());
  EXPECT_EQ(loaded->predict({xs, xi})[0].to_vector<float>(), want.to_vector<float>());
  loaded->compile({.optimizer = "adam", .loss = "mse"});
  auto h = loaded->fit({xs, xi}, {zeros({4, 2})}, {.epochs = 5, .verbose = 0});
  EXPECT_LT(h.history["loss"].back(), h.history["loss"].front());
}

std::string message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PoolingResizingLayers, BadInputSaysWhatToDo) {
  using namespace layers;
  auto has = [](const std::string& msg, std::initializer_list<const char*> parts) {
    for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' missing from: " << msg;
  };
  has(message([] {
        (void)MaxPooling1D({.name = "p"})(ones({2, 3, 4, 1}));
      }),
      {"[p]", "MaxPooling1D", "rank 3", "(2, 3, 4, 1)"});
  has(message([] {
        (void)MaxPooling1D({.pool_size = 4})(ones({2, 3, 4}));
      }),
      {"MaxPooling1D", "(4,)", "(2, 3, 4)", "padding=\"same\""});
  has(message([] { (void)AveragePooling3D()(ones({2, 3, 4, 1})); }), {"rank 5", "add the batch dim"});
  has(message([] { (void)MaxPooling1D({.pool_size = 0}); }), {"positive"});
  has(message([] { (void)MaxPooling3D({.padding = "full"}); }), {"\"valid\" or \"same\""});
  has(message([] { (void)GlobalMaxPooling2D()(ones({2, 3, 4})); }), {"GlobalMaxPooling2D", "rank 4", "(2, 3, 4)"});
  has(message([] {
        (void)Cropping2D({2, 1})(ones({1, 4, 2, 1}));
      }),
      {"Cropping2D", "crops 2 + 2 along dim 1", "(1, 4, 2, 1)", "crop less"});
  has(message([] { (void)Cropping1D({1, 2, 3}); }), {"Cropping1D", "cropping takes 1 integer"});
  has(message([] { (void)ZeroPadding2D({-1}); }), {"ZeroPadding2D", ">= 0"});
  has(message([] { (void)UpSampling2D({.size = {0, 2}}); }), {"UpSampling2D", "positive"});
  has(message([] { (void)UpSampling2D({.interpolation = "area"}); }), {"\"area\" is not supported"});
  has(message([] {
        (void)UpSampling2D({.interpolation = "bilinear"})(ones({1, 2, 2, 1}, DType::Int32));
      }),
      {"floating", "cast"});
  has(message([] { (void)Resizing(0, 3); }), {"[Resizing]", "positive"});
  has(message([] { (void)Resizing(2, 3)(ones({4, 4})); }), {"Resizing", "(4, 4)"});
}

}  // namespace
}  // namespace duet
