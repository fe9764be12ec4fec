// Pooling over sequences and volumes (MaxPooling1D/3D, AveragePooling1D/3D) and global pooling over 1, 2 or 3
// spatial dims: classes, configs and their registration. All are compositions of max_pool2d / avg_pool2d,
// reshapes and reductions (exact: a box window's max, or its in-bounds average, factors by axis).
#include <algorithm>
#include <cctype>

#include "config_helpers.h"
#include "duet/layers.h"
#include "duet/ops.h"

namespace duet::layers {
namespace {

using namespace layer_config;  // NOLINT(google-build-using-namespace): the config helpers

constexpr const char* kChannelsLast = "duet's tensors are channels last (N, ..., C)";

const char* pool_type(int rank, bool is_max) {
  static const char* const names[2][3] = {{"AveragePooling1D", "AveragePooling2D", "AveragePooling3D"},
                                          {"MaxPooling1D", "MaxPooling2D", "MaxPooling3D"}};
  return names[is_max ? 1 : 0][rank - 1];
}
const char* global_type(int rank, bool is_max) {
  static const char* const names[2][3] = {
      {"GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D"},
      {"GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D"}};
  return names[is_max ? 1 : 0][rank - 1];
}
const char* layout(int rank) { return rank == 1 ? "(N, L, C)" : rank == 2 ? "(N, H, W, C)" : "(N, D, H, W, C)"; }

void require_rank(const Layer& l, const Shape& s, int rank) {
  if (s.rank() != rank + 2) {
    throw ShapeError("[" + l.name() + "] " + l.type() + " expects inputs of rank " + std::to_string(rank + 2) + " " +
                     layout(rank) + ", got shape " + s.str() +
                     (s.rank() == rank + 1 ? ": add the batch dim (expand_dims(x, 0))" : ""));
  }
}

}  // namespace

PoolingLayer::PoolingLayer(int rank, bool is_max, std::vector<std::int64_t> pool_size,
                           std::vector<std::int64_t> strides, std::string padding, const std::string& name)
    : Layer(pool_type(rank, is_max), name),
      rank_(rank),
      max_(is_max),
      pool_(std::move(pool_size)),
      strides_(std::move(strides)),
      padding_(lowercase(std::move(padding))) {
  if (strides_.empty()) strides_ = pool_;
  auto positive = [&](const std::vector<std::int64_t>& v) {
    return v.size() == static_cast<std::size_t>(rank) &&
           std::all_of(v.begin(), v.end(), [](std::int64_t i) { return i > 0; });
  };
  if (!positive(pool_) || !positive(strides_)) {
    throw ValueError("[" + type() + "] needs pool_size and strides of " + std::to_string(rank) +
                     " positive integers, got pool_size " + Shape(pool_).str() + ", strides " + Shape(strides_).str());
  }
  if (padding_ != "valid" && padding_ != "same") {
    throw ValueError("[" + type() + "] padding must be \"valid\" or \"same\", got \"" + padding_ + "\"");
  }
}

Tensor PoolingLayer::call(const Tensor& x, bool) {
  require_rank(*this, x.shape(), rank_);
  const Shape& s = x.shape();
  if (padding_ == "valid") {
    for (int d = 0; d < rank_; ++d) {
      if (s[d + 1] >= 0 && s[d + 1] < pool_[static_cast<std::size_t>(d)]) {
        throw ShapeError("[" + name() + "] " + type() + "'s pool_size " + Shape(pool_).str() +
                         " is larger than the input " + s.str() + " along spatial dim " + std::to_string(d) +
                         " with padding=\"valid\": use padding=\"same\" or a smaller pool_size");
      }
    }
  }
  auto pool2 = [&](const Tensor& t, std::vector<std::int64_t> k, std::vector<std::int64_t> st) {
    Pool2DOptions p{.pool_size = std::move(k), .strides = std::move(st), .padding = padding_};
    return max_ ? max_pool2d(t, p) : avg_pool2d(t, p);
  };
  if (rank_ == 1) {  // (N, L, C) as (N, L, 1, C)
    return squeeze(pool2(expand_dims(x, 2), {pool_[0], 1}, {strides_[0], 1}), {2});
  }
  // (N, D, H, W, C): pool (H, W) of each depth slice, then pool D over the (H' W') positions.
  for (int d = 1; d < 5; ++d) {
    if (s[d] < 0) {
      throw ShapeError("[" + name() + "] " + type() + " needs known depth, height, width and channels, got " + s.str() +
                       ": give the Input a full per-example shape");
    }
  }
  Tensor hw = pool2(reshape(x, {-1, s[2], s[3], s[4]}), {pool_[1], pool_[2]}, {strides_[1], strides_[2]});
  const std::int64_t oh = hw.shape()[1], ow = hw.shape()[2];
  Tensor dz = pool2(reshape(hw, {-1, s[1], oh * ow, s[4]}), {pool_[0], 1}, {strides_[0], 1});
  return reshape(dz, {-1, dz.shape()[1], oh, ow, s[4]});
}

std::optional<LayerConfig> PoolingLayer::get_config() const {
  LayerConfig c = base(*this);
  if (rank_ == 1) {
    c.set("pool_size", pool_[0]).set("strides", strides_[0]);
  } else {
    c.set("pool_size", pool_).set("strides", strides_);
  }
  return c.set("padding", padding_);
}

Ref<PoolingLayer> MaxPooling1D(const Pooling1DOptions& o) {
  return make_layer<PoolingLayer>(1, true, std::vector<std::int64_t>{o.pool_size},
                                  std::vector<std::int64_t>{o.strides.value_or(o.pool_size)}, o.padding, o.name);
}
Ref<PoolingLayer> AveragePooling1D(const Pooling1DOptions& o) {
  return make_layer<PoolingLayer>(1, false, std::vector<std::int64_t>{o.pool_size},
                                  std::vector<std::int64_t>{o.strides.value_or(o.pool_size)}, o.padding, o.name);
}
Ref<PoolingLayer> MaxPooling3D(const Pooling3DOptions& o) {
  return make_layer<PoolingLayer>(3, true, o.pool_size, o.strides, o.padding, o.name);
}
Ref<PoolingLayer> AveragePooling3D(const Pooling3DOptions& o) {
  return make_layer<PoolingLayer>(3, false, o.pool_size, o.strides, o.padding, o.name);
}

GlobalPoolingLayer::GlobalPoolingLayer(int rank, bool is_max, const GlobalPoolingOptions& o)
    : Layer(global_type(rank, is_max), o.name), rank_(rank), max_(is_max), o_(o) {}

Tensor GlobalPoolingLayer::call(const Tensor& x, bool) {
  require_rank(*this, x.shape(), rank_);
  std::vector<std::int64_t> axes;
  for (int d = 1; d <= rank_; ++d) axes.push_back(d);
  return max_ ? max(x, axes, o_.keepdims) : mean(x, axes, o_.keepdims);
}

std::optional<LayerConfig> GlobalPoolingLayer::get_config() const { return base(*this).set("keepdims", o_.keepdims); }

Ref<GlobalPoolingLayer> GlobalAveragePooling1D(const GlobalPoolingOptions& o) {
  return make_layer<GlobalPoolingLayer>(1, false, o);
}
Ref<GlobalPoolingLayer> GlobalAveragePooling2D(const GlobalPoolingOptions& o) {
  return make_layer<GlobalPoolingLayer>(2, false, o);
}
Ref<GlobalPoolingLayer> GlobalAveragePooling3D(const GlobalPoolingOptions& o) {
  return make_layer<GlobalPoolingLayer>(3, false, o);
}
Ref<GlobalPoolingLayer> GlobalMaxPooling1D(const GlobalPoolingOptions& o) {
  return make_layer<GlobalPoolingLayer>(1, true, o);
}
Ref<GlobalPoolingLayer> GlobalMaxPooling2D(const GlobalPoolingOptions& o) {
  return make_layer<GlobalPoolingLayer>(2, true, o);
}
Ref<GlobalPoolingLayer> GlobalMaxPooling3D(const GlobalPoolingOptions& o) {
  return make_layer<GlobalPoolingLayer>(3, true, o);
}

namespace {

// strides: absent or None (an empty list in a saved config) means pool_size's.
bool has_strides(const LayerConfig& c) {
  if (!c.has("strides")) return false;
  const auto* list = std::get_if<std::vector<std::int64_t>>(&c.get("strides"));
  return !list || !list->empty();
}

LayerRef pooling_from_config(const LayerConfig& c, int rank, bool is_max) {
  only(c, "data_format", std::string("channels_last"), kChannelsLast);
  std::string padding = "valid";
  opt(c, "padding", padding);
  std::vector<std::int64_t> pool(static_cast<std::size_t>(rank), 2);
  opt(c, "pool_size", pool, static_cast<std::size_t>(rank));
  std::vector<std::int64_t> strides;
  if (has_strides(c)) strides = c.get_ints("strides", static_cast<std::size_t>(rank));
  return LayerRef(make_layer<PoolingLayer>(rank, is_max, pool, strides, padding, name_of(c)));
}

const bool g_registered = [] {
  const std::vector<std::string> pool_args{"pool_size", "strides", "padding", "data_format"};
  for (int rank : {1, 3}) {
    for (bool is_max : {true, false}) {
      register_layer(
          pool_type(rank, is_max),
          [rank, is_max](const LayerConfig& c) { return pooling_from_config(c, rank, is_max); }, pool_args);
    }
  }
  for (int rank : {1, 2, 3}) {
    for (bool is_max : {true, false}) {
      register_layer(global_type(rank, is_max),
                     [rank, is_max](const LayerConfig& c) {
                       only(c, "data_format", std::string("channels_last"), kChannelsLast);
                       GlobalPoolingOptions o{.name = name_of(c)};
                       opt(c, "keepdims", o.keepdims);
                       return LayerRef(make_layer<GlobalPoolingLayer>(rank, is_max, o));
                     },
                     {"data_format", "keepdims"});
    }
  }
  return true;
}();

}  // namespace
}  // namespace duet::layers
