#pragma once
// Shape layers (Permute, RepeatVector, Identity). Part of <duet/layers.h>, which includes this header.
#include "duet/layers.h"

namespace duet::layers {

// Permutes the per-example dims: dims is a permutation of 1..rank-1 (1-based, the batch dim stays first), as
// Keras's: Permute({2, 1}) turns (batch, a, b) into (batch, b, a).
class PermuteLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit PermuteLayer(std::vector<std::int64_t> dims, const LayerOptions& options = {});
  const std::vector<std::int64_t>& dims() const { return dims_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  std::vector<std::int64_t> dims_;
};
Ref<PermuteLayer> Permute(std::vector<std::int64_t> dims, const LayerOptions& options = {});

// (batch, features) -> (batch, n, features): the input repeated n times.
class RepeatVectorLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit RepeatVectorLayer(std::int64_t n, const LayerOptions& options = {});
  std::int64_t n() const { return n_; }
  Tensor call(const Tensor& x, bool training) override;

 private:
  std::int64_t n_;
};
Ref<RepeatVectorLayer> RepeatVector(std::int64_t n, const LayerOptions& options = {});

// Returns its inputs unchanged.
class IdentityLayer : public Layer {
 public:
  std::optional<LayerConfig> get_config() const override;
  explicit IdentityLayer(const LayerOptions& options = {});
  std::vector<Tensor> call(const std::vector<Tensor>& xs, bool training) override;
};
Ref<IdentityLayer> Identity(const LayerOptions& options = {});

}  // namespace duet::layers
