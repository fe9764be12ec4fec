// Permute, RepeatVector and Identity: classes, configs and their registration.
#include <algorithm>

#include "config_helpers.h"
#include "duet/layers.h"
#include "duet/ops.h"

namespace duet::layers {
namespace {

using namespace layer_config;  // NOLINT(google-build-using-namespace): the config helpers

std::string dims_str(const std::vector<std::int64_t>& a) {
  std::string s = "(";
  for (std::size_t i = 0; i < a.size(); ++i) s += (i ? ", " : "") + std::to_string(a[i]);
  return s + ")";
}

}  // namespace

PermuteLayer::PermuteLayer(std::vector<std::int64_t> dims, const LayerOptions& o)
    : Layer("Permute", o.name), dims_(std::move(dims)) {
  std::vector<std::int64_t> sorted = dims_;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] != static_cast<std::int64_t>(i) + 1) {
      throw ValueError("[Permute] dims must be a permutation of 1.." + std::to_string(dims_.size()) +
                       " (1-based: the batch dim is not included), got " + dims_str(dims_));
    }
  }
  if (dims_.empty()) throw ValueError("[Permute] dims must name at least one dim, got ()");
}
Tensor PermuteLayer::call(const Tensor& x, bool) {
  if (x.rank() != static_cast<int>(dims_.size()) + 1) {
    throw ShapeError("[" + name() + "] dims " + dims_str(dims_) + " permute inputs of rank " +
                     std::to_string(dims_.size() + 1) + " (batch first), got shape " + x.shape().str());
  }
  std::vector<std::int64_t> perm{0};
  perm.insert(perm.end(), dims_.begin(), dims_.end());
  return transpose(x, perm);
}
Ref<PermuteLayer> Permute(std::vector<std::int64_t> dims, const LayerOptions& o) {
  return make_layer<PermuteLayer>(std::move(dims), o);
}
std::optional<LayerConfig> PermuteLayer::get_config() const { return base(*this).set("dims", dims_); }

RepeatVectorLayer::RepeatVectorLayer(std::int64_t n, const LayerOptions& o) : Layer("RepeatVector", o.name), n_(n) {
  if (n < 1) throw ValueError("[RepeatVector] n (the number of repetitions) must be >= 1, got " + std::to_string(n));
}
// (b, f) -> (b, n, f): n copies of (b, 1, f) side by side (the gradient sums them).
Tensor RepeatVectorLayer::call(const Tensor& x, bool) {
  if (x.rank() != 2) {
    throw ShapeError("[" + name() + "] expects (batch, features) inputs of rank 2, got shape " + x.shape().str() +
                     "; Flatten or Reshape it first");
  }
  Tensor row = expand_dims(x, 1);
  return n_ == 1 ? row : concat(std::vector<Tensor>(static_cast<std::size_t>(n_), row), 1);
}
Ref<RepeatVectorLayer> RepeatVector(std::int64_t n, const LayerOptions& o) {
  return make_layer<RepeatVectorLayer>(n, o);
}
std::optional<LayerConfig> RepeatVectorLayer::get_config() const { return base(*this).set("n", n_); }

IdentityLayer::IdentityLayer(const LayerOptions& o) : Layer("Identity", o.name) {}
// Each output is an identity op of its input, so a functional model records a node of its own.
std::vector<Tensor> IdentityLayer::call(const std::vector<Tensor>& xs, bool) {
  std::vector<Tensor> out;
  for (const Tensor& x : xs) out.push_back(identity(x));
  return out;
}
Ref<IdentityLayer> Identity(const LayerOptions& o) { return make_layer<IdentityLayer>(o); }
std::optional<LayerConfig> IdentityLayer::get_config() const { return base(*this); }

namespace {

const bool g_registered = [] {
  register_layer("Permute",
                 [](const LayerConfig& c) { return LayerRef(Permute(c.get_ints("dims"), {.name = name_of(c)})); },
                 {"dims"});
  register_layer("RepeatVector",
                 [](const LayerConfig& c) { return LayerRef(RepeatVector(c.get_int("n"), {.name = name_of(c)})); },
                 {"n"});
  register_layer("Identity", [](const LayerConfig& c) { return LayerRef(Identity({.name = name_of(c)})); });
  return true;
}();

}  // namespace
}  // namespace duet::layers
