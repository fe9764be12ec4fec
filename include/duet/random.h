#pragma once
// Random tensors from a counter-based generator (Philox4x32-10): element i of a call depends only on
// (seed, call counter, i), so the same seed gives the same numbers on every machine and thread count.
#include <cstdint>
#include <optional>

#include "duet/tensor.h"

namespace duet::random {

// Sets the global seed and restarts its call counter (like tf.random.set_seed).
void set_seed(std::uint64_t seed);

// The global generator's whole state: its seed and how many calls have drawn from it. Saving and restoring
// it replays the same numbers (checkpoints keep it so a resumed run draws what the uninterrupted one would).
struct GeneratorState {
  std::uint64_t seed = 0;
  std::uint64_t counter = 0;
};
GeneratorState get_state();
void set_state(const GeneratorState& state);

// With `seed`, the op is stateless: every call returns the same numbers. Without it, each call draws
// the next numbers of the global generator.
Tensor normal(const Shape& shape, double mean = 0.0, double stddev = 1.0, DType dtype = DType::Float32,
              std::optional<std::uint64_t> seed = {});
// Uniform in [minval, maxval).
Tensor uniform(const Shape& shape, double minval = 0.0, double maxval = 1.0, DType dtype = DType::Float32,
               std::optional<std::uint64_t> seed = {});
// Normal, redrawn beyond two standard deviations (as tf.random.truncated_normal).
Tensor truncated_normal(const Shape& shape, double mean = 0.0, double stddev = 1.0, DType dtype = DType::Float32,
                        std::optional<std::uint64_t> seed = {});

}  // namespace duet::random
