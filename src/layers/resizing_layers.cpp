// Layers that change the spatial size of (N, L, C), (N, H, W, C) or (N, D, H, W, C) inputs: UpSampling1D/2D/3D,
// ZeroPadding1D/2D/3D, Cropping1D/2D/3D and Resizing: classes, configs and their registration. Resizing and
// bilinear upsampling follow tf.image.resize (half-pixel centers, no antialiasing, its float32 index
// arithmetic), one spatial axis at a time (width first, as TensorFlow's kernel): a gather of the two source
// rows and a lerp, which is exact since the interpolation is separable.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "config_helpers.h"
#include "duet/layers.h"
#include "duet/ops.h"

namespace duet::layers {
namespace {

using namespace layer_config;  // NOLINT(google-build-using-namespace): the config helpers

constexpr const char* kChannelsLast = "duet's tensors are channels last (N, ..., C)";

std::string typed(const char* family, int rank) { return std::string(family) + std::to_string(rank) + "D"; }
const char* layout(int rank) { return rank == 1 ? "(N, L, C)" : rank == 2 ? "(N, H, W, C)" : "(N, D, H, W, C)"; }

void require_rank(const Layer& l, const Shape& s, int rank) {
  if (s.rank() != rank + 2) {
    throw ShapeError("[" + l.name() + "] " + l.type() + " expects inputs of rank " + std::to_string(rank + 2) + " " +
                     layout(rank) + ", got shape " + s.str() +
                     (s.rank() == rank + 1 ? ": add the batch dim (expand_dims(x, 0))" : ""));
  }
}
void require_known(const Layer& l, const Shape& s, int axis) {
  if (s[axis] < 0) {
    throw ShapeError("[" + l.name() + "] " + l.type() + " needs a known size along dim " + std::to_string(axis) +
                     " of " + s.str() + ": give the Input a full per-example shape");
  }
}

// One value for every side, one per spatial dim (both sides), or (before, after) per spatial dim -> the pairs.
std::vector<std::int64_t> side_pairs(const std::string& type, const char* what, int rank,
                                     const std::vector<std::int64_t>& v) {
  const auto r = static_cast<std::size_t>(rank);
  std::vector<std::int64_t> out;
  if (v.size() == 1) {
    out.assign(2 * r, v[0]);
  } else if (v.size() == r) {
    for (auto i : v) out.insert(out.end(), {i, i});
  } else if (v.size() == 2 * r) {
    out = v;
  } else {
    throw ValueError("[" + type + "] " + what + " takes 1 integer, " + std::to_string(r) +
                     " (one per spatial dim) or " + std::to_string(2 * r) + " ((before, after) per spatial dim), got " +
                     Shape(v).str());
  }
  if (std::any_of(out.begin(), out.end(), [](std::int64_t i) { return i < 0; }))
    throw ValueError("[" + type + "] " + what + " must be >= 0, got " + Shape(v).str());
  return out;
}

std::vector<std::int64_t> positive_sizes(const std::string& type, const char* what, int rank,
                                         const std::vector<std::int64_t>& v) {
  std::vector<std::int64_t> out = v.size() == 1 ? std::vector<std::int64_t>(static_cast<std::size_t>(rank), v[0]) : v;
  if (out.size() != static_cast<std::size_t>(rank) ||
      std::any_of(out.begin(), out.end(), [](std::int64_t i) { return i <= 0; })) {
    throw ValueError("[" + type + "] " + what + " needs " + std::to_string(rank) +
                     " positive integers (or one for all), got " + Shape(v).str());
  }
  return out;
}

Tensor index_tensor(const std::vector<std::int64_t>& idx) {
  return constant(idx, Shape{static_cast<std::int64_t>(idx.size())}, DType::Int64);
}

// x resized along `axis` from its size to `out` as tf.image.resize does one axis (half-pixel centers): nearest
// picks floor((o + 0.5) * in / out); bilinear lerps between the rows around (o + 0.5) * in / out - 0.5, clamped to
// the edges. The positions are computed in float32, as TensorFlow's kernels do.
Tensor resize_axis(const Tensor& x, int axis, std::int64_t out, bool bilinear) {
  const std::int64_t in = x.shape()[axis];
  if (in == out) return x;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  std::vector<std::int64_t> lo(static_cast<std::size_t>(out)), hi(lo.size());
  std::vector<double> lerp(lo.size());
  bool any_lerp = false;
  for (std::int64_t o = 0; o < out; ++o) {
    const auto i = static_cast<std::size_t>(o);
    if (!bilinear) {
      const float at = (static_cast<float>(o) + 0.5f) * scale;
      lo[i] = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(at)), 0, in - 1);
      continue;
    }
    const float at = (static_cast<float>(o) + 0.5f) * scale - 0.5f;
    const float base = std::floor(at);
    lo[i] = std::max<std::int64_t>(static_cast<std::int64_t>(base), 0);
    hi[i] = std::min<std::int64_t>(static_cast<std::int64_t>(std::ceil(at)), in - 1);
    lerp[i] = at - base;
    any_lerp = any_lerp || (lerp[i] != 0 && lo[i] != hi[i]);
  }
  Tensor a = gather(x, index_tensor(lo), axis);
  if (!bilinear || !any_lerp) return a;
  Tensor b = gather(x, index_tensor(hi), axis);
  std::vector<std::int64_t> wshape(static_cast<std::size_t>(x.rank()), 1);
  wshape[static_cast<std::size_t>(axis)] = out;
  return a + (b - a) * constant(lerp, Shape(wshape), x.dtype());
}

}  // namespace

// ---- UpSampling --------------------------------------------------------------------------------------------

UpSamplingLayer::UpSamplingLayer(int rank, const std::vector<std::int64_t>& size, std::string interpolation,
                                 const std::string& name)
    : Layer(typed("UpSampling", rank), name), rank_(rank), interpolation_(lowercase(std::move(interpolation))) {
  size_ = positive_sizes(type(), "size", rank, size);
  if (interpolation_ != "nearest" && interpolation_ != "bilinear") {
    throw ValueError("[" + type() + "] interpolation \"" + interpolation_ +
                     "\" is not supported: duet has \"nearest\" and \"bilinear\" (bicubic, lanczos and area are not "
                     "implemented)");
  }
  if (interpolation_ == "bilinear" && rank != 2) {
    throw ValueError("[" + type() + "] interpolation \"bilinear\" is for UpSampling2D; " + type() + " repeats");
  }
}

Tensor UpSamplingLayer::call(const Tensor& x, bool) {
  require_rank(*this, x.shape(), rank_);
  Tensor y = x;
  if (interpolation_ == "bilinear") {
    if (!is_floating(x.dtype())) {
      throw DTypeError("[" + name() + "] bilinear UpSampling2D needs floating inputs, got " +
                       std::string(dtype_name(x.dtype())) + ": cast them first");
    }
    for (int axis : {2, 1}) {  // width first, as tf.image.resize
      require_known(*this, x.shape(), axis);
      y = resize_axis(y, axis, x.shape()[axis] * size_[static_cast<std::size_t>(axis - 1)], true);
    }
    return y;
  }
  // nearest: each row repeated size times (a gather along the axis; its gradient sums the copies)
  for (int axis = 1; axis <= rank_; ++axis) {
    const std::int64_t s = size_[static_cast<std::size_t>(axis - 1)];
    if (s == 1) continue;
    require_known(*this, x.shape(), axis);
    std::vector<std::int64_t> idx;
    for (std::int64_t i = 0; i < x.shape()[axis]; ++i) idx.insert(idx.end(), static_cast<std::size_t>(s), i);
    y = gather(y, index_tensor(idx), axis);
  }
  return y;
}

std::optional<LayerConfig> UpSamplingLayer::get_config() const {
  LayerConfig c = base(*this);
  if (rank_ == 1) return c.set("size", size_[0]);
  c.set("size", size_);
  if (rank_ == 2) c.set("interpolation", interpolation_);
  return c;
}

Ref<UpSamplingLayer> UpSampling1D(const UpSampling1DOptions& o) {
  return make_layer<UpSamplingLayer>(1, std::vector<std::int64_t>{o.size}, "nearest", o.name);
}
Ref<UpSamplingLayer> UpSampling2D(const UpSampling2DOptions& o) {
  return make_layer<UpSamplingLayer>(2, o.size, o.interpolation, o.name);
}
Ref<UpSamplingLayer> UpSampling3D(const UpSampling3DOptions& o) {
  return make_layer<UpSamplingLayer>(3, o.size, "nearest", o.name);
}

// ---- ZeroPadding and Cropping ------------------------------------------------------------------------------

ZeroPaddingLayer::ZeroPaddingLayer(int rank, const std::vector<std::int64_t>& padding, const LayerOptions& o)
    : Layer(typed("ZeroPadding", rank), o.name), rank_(rank), pad_(side_pairs(type(), "padding", rank, padding)) {}

Tensor ZeroPaddingLayer::call(const Tensor& x, bool) {
  require_rank(*this, x.shape(), rank_);
  std::vector<std::pair<std::int64_t, std::int64_t>> p{{0, 0}};
  for (std::size_t d = 0; d < static_cast<std::size_t>(rank_); ++d) p.emplace_back(pad_[2 * d], pad_[2 * d + 1]);
  p.emplace_back(0, 0);
  return pad(x, p);
}

std::optional<LayerConfig> ZeroPaddingLayer::get_config() const { return base(*this).set("padding", pad_); }

Ref<ZeroPaddingLayer> ZeroPadding1D(const std::vector<std::int64_t>& p, const LayerOptions& o) {
  return make_layer<ZeroPaddingLayer>(1, p, o);
}
Ref<ZeroPaddingLayer> ZeroPadding2D(const std::vector<std::int64_t>& p, const LayerOptions& o) {
  return make_layer<ZeroPaddingLayer>(2, p, o);
}
Ref<ZeroPaddingLayer> ZeroPadding3D(const std::vector<std::int64_t>& p, const LayerOptions& o) {
  return make_layer<ZeroPaddingLayer>(3, p, o);
}

CroppingLayer::CroppingLayer(int rank, const std::vector<std::int64_t>& cropping, const LayerOptions& o)
    : Layer(typed("Cropping", rank), o.name), rank_(rank), crop_(side_pairs(type(), "cropping", rank, cropping)) {}

Tensor CroppingLayer::call(const Tensor& x, bool) {
  const Shape& s = x.shape();
  require_rank(*this, s, rank_);
  std::vector<std::int64_t> begin(static_cast<std::size_t>(s.rank()), 0), size(begin.size(), -1);
  for (int d = 1; d <= rank_; ++d) {
    const std::int64_t b = crop_[static_cast<std::size_t>(2 * d - 2)], a = crop_[static_cast<std::size_t>(2 * d - 1)];
    begin[static_cast<std::size_t>(d)] = b;
    if (a == 0 && s[d] < 0) continue;  // to the end, whatever the size
    require_known(*this, s, d);
    if (b + a >= s[d]) {
      throw ShapeError("[" + name() + "] " + type() + " crops " + std::to_string(b) + " + " + std::to_string(a) +
                       " along dim " + std::to_string(d) + " of the input " + s.str() + ", which has only " +
                       std::to_string(s[d]) + ": crop less than the input's size");
    }
    size[static_cast<std::size_t>(d)] = s[d] - b - a;
  }
  return slice(x, begin, size);
}

std::optional<LayerConfig> CroppingLayer::get_config() const { return base(*this).set("cropping", crop_); }

Ref<CroppingLayer> Cropping1D(const std::vector<std::int64_t>& c, const LayerOptions& o) {
  return make_layer<CroppingLayer>(1, c, o);
}
Ref<CroppingLayer> Cropping2D(const std::vector<std::int64_t>& c, const LayerOptions& o) {
  return make_layer<CroppingLayer>(2, c, o);
}
Ref<CroppingLayer> Cropping3D(const std::vector<std::int64_t>& c, const LayerOptions& o) {
  return make_layer<CroppingLayer>(3, c, o);
}

// ---- Resizing ----------------------------------------------------------------------------------------------

ResizingLayer::ResizingLayer(std::int64_t height, std::int64_t width, const ResizingOptions& o)
    : Layer("Resizing", o.name), h_(height), w_(width), o_(o) {
  o_.interpolation = lowercase(o_.interpolation);
  if (h_ <= 0 || w_ <= 0) {
    throw ValueError("[Resizing] needs a positive height and width, got " + std::to_string(h_) + " x " +
                     std::to_string(w_));
  }
  if (o_.interpolation != "bilinear" && o_.interpolation != "nearest") {
    throw ValueError("[Resizing] interpolation \"" + o_.interpolation +
                     "\" is not supported: duet has \"bilinear\" and \"nearest\" (bicubic, lanczos and area are not "
                     "implemented)");
  }
}

Tensor ResizingLayer::call(const Tensor& images, bool) {
  const Shape& s = images.shape();
  if (s.rank() != 4 && s.rank() != 3) {
    throw ShapeError("[" + name() + "] Resizing expects images (N, H, W, C) or (H, W, C), got shape " + s.str());
  }
  Tensor x = s.rank() == 3 ? expand_dims(images, 0) : images;
  require_known(*this, x.shape(), 1);
  require_known(*this, x.shape(), 2);
  if (o_.crop_to_aspect_ratio) {  // the centered crop of the target's aspect ratio, sides truncated in float32
    const std::int64_t h = x.shape()[1], w = x.shape()[2];
    auto side = [](std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t limit) {
      const auto v = static_cast<std::int64_t>(static_cast<float>(a * b) / static_cast<float>(c));
      return std::max<std::int64_t>(std::min(limit, v), 1);
    };
    const std::int64_t ch = side(w, h_, w_, h), cw = side(h, w_, h_, w);
    const auto top = static_cast<std::int64_t>(static_cast<float>(h - ch) / 2);
    const auto left = static_cast<std::int64_t>(static_cast<float>(w - cw) / 2);
    x = slice(x, {0, top, left, 0}, {-1, ch, cw, -1});
  }
  const bool bilinear = o_.interpolation == "bilinear";
  const DType dtype = x.dtype();
  // Integer images are interpolated in float32 and rounded back (nearest copies: no conversion needed).
  const bool integer = bilinear && !is_floating(dtype);
  if (integer) x = cast(x, DType::Float32);
  x = resize_axis(x, 2, w_, bilinear);  // width first, as tf.image.resize
  x = resize_axis(x, 1, h_, bilinear);
  if (integer) x = cast(round(x), dtype);
  return s.rank() == 3 ? squeeze(x, {0}) : x;
}

std::optional<LayerConfig> ResizingLayer::get_config() const {
  return base(*this)
      .set("height", h_)
      .set("width", w_)
      .set("interpolation", o_.interpolation)
      .set("crop_to_aspect_ratio", o_.crop_to_aspect_ratio);
}

Ref<ResizingLayer> Resizing(std::int64_t height, std::int64_t width, const ResizingOptions& o) {
  return make_layer<ResizingLayer>(height, width, o);
}

namespace {

// An amount given as one integer or a list (a Keras tuple of pairs arrives flat).
std::vector<std::int64_t> amounts(const LayerConfig& c, const char* key, std::vector<std::int64_t> fallback) {
  if (!c.has(key)) return fallback;
  if (const auto* i = std::get_if<std::int64_t>(&c.get(key))) return {*i};
  return c.get_ints(key);
}

const bool g_registered = [] {
  for (int rank : {1, 2, 3}) {
    register_layer(
        typed("UpSampling", rank),
        [rank](const LayerConfig& c) {
          only(c, "data_format", std::string("channels_last"), kChannelsLast);
          std::string interpolation = "nearest";
          if (rank == 2) opt(c, "interpolation", interpolation);
          return LayerRef(make_layer<UpSamplingLayer>(rank, amounts(c, "size", {2}), interpolation, name_of(c)));
        },
        rank == 2 ? std::vector<std::string>{"size", "data_format", "interpolation"}
                  : std::vector<std::string>{"size", "data_format"});
    register_layer(typed("ZeroPadding", rank),
                   [rank](const LayerConfig& c) {
                     only(c, "data_format", std::string("channels_last"), kChannelsLast);
                     return LayerRef(make_layer<ZeroPaddingLayer>(rank, amounts(c, "padding", {1}),
                                                                  LayerOptions{.name = name_of(c)}));
                   },
                   {"padding", "data_format"});
    register_layer(typed("Cropping", rank),
                   [rank](const LayerConfig& c) {
                     only(c, "data_format", std::string("channels_last"), kChannelsLast);
                     return LayerRef(make_layer<CroppingLayer>(rank, amounts(c, "cropping", {rank == 2 ? 0 : 1}),
                                                               LayerOptions{.name = name_of(c)}));
                   },
                   {"cropping", "data_format"});
  }
  register_layer("Resizing",
                 [](const LayerConfig& c) {
                   only(c, "data_format", std::string("channels_last"), kChannelsLast);
                   constexpr const char* kLater =
                       "padding to the aspect ratio and antialiasing are not implemented: crop_to_aspect_ratio=True "
                       "keeps the aspect ratio by cropping";
                   only(c, "pad_to_aspect_ratio", false, kLater);
                   only(c, "fill_mode", std::string("constant"), kLater);
                   only(c, "fill_value", 0.0, kLater);
                   only(c, "antialias", false, kLater);
                   ResizingOptions o{.name = name_of(c)};
                   opt(c, "interpolation", o.interpolation);
                   opt(c, "crop_to_aspect_ratio", o.crop_to_aspect_ratio);
                   return LayerRef(Resizing(c.get_int("height"), c.get_int("width"), o));
                 },
                 {"height", "width", "interpolation", "crop_to_aspect_ratio"});
  return true;
}();

}  // namespace
}  // namespace duet::layers
