#include "duet/random.h"

#include "kernels/kernels.h"
#include "ops/api.h"
#include "ops/infer_util.h"
#include "ops/registry.h"

namespace duet {
namespace {

void infer_random(InferContext& c) {
  const Shape& s = c.attrs.shape("shape");
  if (!s.is_fully_known()) c.shape_error("shape " + s.str() + " must be fully known and non-negative");
  DType d = c.attrs.dtype("dtype");
  if (!is_floating(d)) c.dtype_error(std::string("dtype must be float32 or float64, got ") + dtype_name(d));
  c.set_output(d, s);
}

constexpr std::uint32_t kRandomTraits = kStateful | kRandom;
const OpDef kRandomNormal{.name = "RandomNormal",
                          .public_name = "random::normal",
                          .num_inputs = 0,
                          .infer = infer_random,
                          .kernel = kernels::random_normal,
                          .grad = nullptr,
                          .traits = kRandomTraits};
const OpDef kRandomUniform{.name = "RandomUniform",
                           .public_name = "random::uniform",
                           .num_inputs = 0,
                           .infer = infer_random,
                           .kernel = kernels::random_uniform,
                           .grad = nullptr,
                           .traits = kRandomTraits};
const OpDef kTruncatedNormal{.name = "TruncatedNormal",
                             .public_name = "random::truncated_normal",
                             .num_inputs = 0,
                             .infer = infer_random,
                             .kernel = kernels::truncated_normal,
                             .grad = nullptr,
                             .traits = kRandomTraits};

Tensor draw(const OpDef& op, const Shape& shape, double a, double b, DType dtype, std::optional<std::uint64_t> seed) {
  std::int64_t s = seed ? static_cast<std::int64_t>(*seed & 0x7fffffffffffffffULL) : -1;
  return dispatch1(op, {}, {{"shape", shape}, {"a", a}, {"b", b}, {"dtype", dtype}, {"seed", s}});
}

}  // namespace

static void register_random_ops(std::vector<const OpDef*>& r) {
  for (const OpDef* d : {&kRandomNormal, &kRandomUniform, &kTruncatedNormal}) r.push_back(d);
}
const OpRegistration kRegisterRandomOps{register_random_ops};

namespace random {
Tensor normal(const Shape& shape, double mean, double stddev, DType dtype, std::optional<std::uint64_t> seed) {
  if (!(stddev >= 0)) throw ValueError("[random::normal] stddev must be >= 0, got " + std::to_string(stddev));
  return draw(kRandomNormal, shape, mean, stddev, dtype, seed);
}
Tensor uniform(const Shape& shape, double minval, double maxval, DType dtype, std::optional<std::uint64_t> seed) {
  if (!(minval < maxval)) {
    throw ValueError("[random::uniform] needs minval < maxval, got " + std::to_string(minval) + " and " +
                     std::to_string(maxval));
  }
  return draw(kRandomUniform, shape, minval, maxval, dtype, seed);
}
Tensor truncated_normal(const Shape& shape, double mean, double stddev, DType dtype,
                        std::optional<std::uint64_t> seed) {
  if (!(stddev >= 0)) throw ValueError("[random::truncated_normal] stddev must be >= 0, got " + std::to_string(stddev));
  return draw(kTruncatedNormal, shape, mean, stddev, dtype, seed);
}
}  // namespace random

// As TensorFlow names them (src/ops/api.h): duet.random.normal(shape, mean, stddev, dtype, seed).
namespace {
const api::ApiRegistration kRandomApi{{
    api::fn("normal", "random", &random::normal, "shape, mean=0.0, stddev=1.0, dtype=float32, seed=None"),
    api::fn("uniform", "random", &random::uniform, "shape, minval=0.0, maxval=1.0, dtype=float32, seed=None"),
    api::fn("truncated_normal", "random", &random::truncated_normal,
            "shape, mean=0.0, stddev=1.0, dtype=float32, seed=None"),
}};
}  // namespace

}  // namespace duet
