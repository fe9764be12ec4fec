// Dot, and the registration of the elementwise merge layers Subtract, Average, Maximum and Minimum (MergeLayer
// itself is in more_layers.cpp, beside Concatenate, Add and Multiply).
#include <numeric>

#include "config_helpers.h"
#include "duet/layers.h"
#include "duet/linalg.h"
#include "duet/ops.h"

namespace duet::layers {
namespace {

using namespace layer_config;  // NOLINT(google-build-using-namespace): the config helpers

std::string axes_str(const std::vector<std::int64_t>& a) {
  std::string s = "(";
  for (std::size_t i = 0; i < a.size(); ++i) s += (i ? ", " : "") + std::to_string(a[i]);
  return s + (a.size() == 1 ? ",)" : ")");
}

// Keras's normalize(x, axis) for Dot(normalize=True): x * min(rsqrt(sum(x^2)), 1 / epsilon), epsilon 1e-7.
Tensor l2_normalize(const Tensor& x, std::int64_t axis) {
  return x * minimum(rsqrt(sum(square(x), {axis}, true)), internal::lit(x, 1e7));
}

}  // namespace

DotLayer::DotLayer(std::vector<std::int64_t> axes, const DotOptions& o)
    : Layer("Dot", o.name), axes_(std::move(axes)), o_(o) {
  if (axes_.empty() || axes_.size() > 2) {
    throw ValueError("[Dot] axes is one axis (for both inputs) or a pair, got " + std::to_string(axes_.size()) +
                     " axes " + axes_str(axes_));
  }
}

std::vector<Tensor> DotLayer::call(const std::vector<Tensor>& xs, bool) {
  if (xs.size() != 2) {
    throw ValueError("[" + name() + "] takes exactly two inputs, got " + std::to_string(xs.size()));
  }
  Tensor x = xs[0], y = xs[1];
  const Shape &sx = x.shape(), &sy = y.shape();
  if (sx.rank() < 2 || sy.rank() < 2) {
    throw ShapeError("[" + name() + "] needs inputs of rank >= 2 (batch, ...), got shapes " + sx.str() + " and " +
                     sy.str());
  }
  // One axis stands for both; a negative one counts from the end of each input.
  std::int64_t a0 = axes_[0], a1 = axes_.size() == 2 ? axes_[1] : axes_[0];
  if (a0 < 0) a0 += sx.rank();
  if (a1 < 0) a1 += sy.rank();
  if (a0 < 1 || a0 >= sx.rank() || a1 < 1 || a1 >= sy.rank()) {
    throw ShapeError("[" + name() + "] axes " + axes_str(axes_) + " do not name a non-batch axis of each of " +
                     sx.str() + " and " + sy.str() + "; use axes in 1..rank-1 (or negative, from the end)");
  }
  if (sx[a0] >= 0 && sy[a1] >= 0 && sx[a0] != sy[a1]) {
    throw ShapeError("[" + name() + "] the summed axes differ in size: " + sx.str() + " axis " + std::to_string(a0) +
                     " has " + std::to_string(sx[a0]) + ", " + sy.str() + " axis " + std::to_string(a1) + " has " +
                     std::to_string(sy[a1]) + "; pick axes of the same size");
  }
  if (sx[0] >= 0 && sy[0] >= 0 && sx[0] != sy[0]) {
    throw ShapeError("[" + name() + "] the inputs' batch sizes differ: " + sx.str() + " and " + sy.str());
  }
  if (o_.normalize) {
    x = l2_normalize(x, a0);
    y = l2_normalize(y, a1);
  }
  if (sx.rank() == 2 && sy.rank() == 2) return {sum(x * y, {1}, true)};  // (b, d) . (b, d) -> (b, 1)
  // x's summed axis last, y's second: (b, X..., d) x (b, d, Y...), then one batched matmul over the flattened
  // X and Y dims (Keras's batch_dot).
  std::vector<std::int64_t> px, py{0, a1}, out{-1}, xd, yd;
  for (std::int64_t d = 0; d < sx.rank(); ++d)
    if (d != a0) px.push_back(d);
  px.push_back(a0);
  for (std::int64_t d = 1; d < sy.rank(); ++d)
    if (d != a1) py.push_back(d);
  for (std::size_t i = 1; i + 1 < px.size(); ++i) xd.push_back(sx[px[i]]);
  for (std::size_t i = 2; i < py.size(); ++i) yd.push_back(sy[py[i]]);
  const std::int64_t depth = sx[a0] >= 0 ? sx[a0] : sy[a1];
  std::int64_t nx = 1, ny = 1;
  for (auto d : xd) nx *= d;
  for (auto d : yd) ny *= d;
  if (depth < 0 || nx < 0 || ny < 0) {
    throw ShapeError("[" + name() + "] needs known non-batch dims, got shapes " + sx.str() + " and " + sy.str());
  }
  Tensor x3 = reshape(transpose(x, px), {-1, nx, depth});
  Tensor y3 = reshape(transpose(y, py), {-1, depth, ny});
  out.insert(out.end(), xd.begin(), xd.end());
  out.insert(out.end(), yd.begin(), yd.end());
  return {reshape(matmul(x3, y3), out)};
}

Ref<DotLayer> Dot(std::vector<std::int64_t> axes, const DotOptions& o) {
  return make_layer<DotLayer>(std::move(axes), o);
}
std::optional<LayerConfig> DotLayer::get_config() const {
  LayerConfig c = base(*this);
  if (axes_.size() == 1) {
    c.set("axes", axes_[0]);
  } else {
    c.set("axes", axes_);
  }
  return c.set("normalize", o_.normalize);
}

namespace {

const bool g_registered = [] {
  register_layer("Subtract", [](const LayerConfig& c) { return LayerRef(Subtract({.name = name_of(c)})); });
  register_layer("Average", [](const LayerConfig& c) { return LayerRef(Average({.name = name_of(c)})); });
  register_layer("Maximum", [](const LayerConfig& c) { return LayerRef(Maximum({.name = name_of(c)})); });
  register_layer("Minimum", [](const LayerConfig& c) { return LayerRef(Minimum({.name = name_of(c)})); });
  register_layer("Dot",
                 [](const LayerConfig& c) {
                   DotOptions o{.name = name_of(c)};
                   opt(c, "normalize", o.normalize);
                   const ConfigValue& a = c.get("axes");
                   return LayerRef(Dot(std::holds_alternative<std::int64_t>(a)
                                           ? std::vector<std::int64_t>{std::get<std::int64_t>(a)}
                                           : c.get_ints("axes"),
                                       o));
                 },
                 {"axes", "normalize"});
  return true;
}();

}  // namespace
}  // namespace duet::layers
