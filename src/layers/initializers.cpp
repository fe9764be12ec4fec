// Keras's initializers, by name with their arguments: one table holds each initializer's arguments and
// defaults (the config keys a layer saves, Python's keras.initializers classes and the errors all read it).
#include <algorithm>
#include <cmath>
#include <functional>

#include "duet/layers.h"
#include "duet/ops.h"
#include "duet/random.h"

namespace duet {
namespace {

// fan_in, fan_out as Keras computes them (dense: (in, out); conv HWIO: receptive field * in/out).
std::pair<double, double> fans(const Shape& s) {
  if (s.rank() < 1) return {1, 1};
  if (s.rank() == 1) return {static_cast<double>(s[0]), static_cast<double>(s[0])};
  double receptive = 1;
  for (int d = 0; d < s.rank() - 2; ++d) receptive *= static_cast<double>(s[d]);
  return {static_cast<double>(s[s.rank() - 2]) * receptive, static_cast<double>(s[s.rank() - 1]) * receptive};
}

// The standard deviation of a unit normal truncated at +-2 standard deviations: Keras divides by it so that
// truncated_normal-based initializers keep the intended variance.
constexpr double kTruncatedNormalStddev = 0.87962566103423978;

using Seed = std::optional<std::uint64_t>;
using Args = std::map<std::string, ConfigValue>;

// An argument and its default: a number, a string, or none (a seed, which is an integer when given).
struct Arg {
  const char* name;
  std::optional<ConfigValue> default_value;
};
struct Def {
  const char* name;
  std::vector<Arg> args;                           // Keras's arguments, in Keras's order
  std::function<InitializerFn(const Args&)> make;  // given every argument that has a value (defaults filled in)
};

double num(const Args& a, const char* k) {
  const ConfigValue& v = a.at(k);
  return std::holds_alternative<std::int64_t>(v) ? static_cast<double>(std::get<std::int64_t>(v)) : std::get<double>(v);
}
std::string text(const Args& a, const char* k) { return std::get<std::string>(a.at(k)); }
Seed seed_of(const Args& a) {
  auto it = a.find("seed");
  if (it == a.end()) return std::nullopt;
  return static_cast<std::uint64_t>(std::get<std::int64_t>(it->second));
}

Tensor variance_scaling(const Shape& s, DType d, double scale, const std::string& mode, const std::string& dist,
                        Seed seed) {
  auto [in, out] = fans(s);
  const double fan = mode == "fan_in" ? in : mode == "fan_out" ? out : (in + out) / 2;
  scale /= std::max(1.0, fan);
  if (dist == "truncated_normal")
    return random::truncated_normal(s, 0.0, std::sqrt(scale) / kTruncatedNormalStddev, d, seed);
  if (dist == "untruncated_normal") return random::normal(s, 0.0, std::sqrt(scale), d, seed);
  const double limit = std::sqrt(3.0 * scale);
  return random::uniform(s, -limit, limit, d, seed);
}

// Keras's orthogonal: the Q of a QR factorization of a normal (rows x cols) matrix, its columns' signs those
// of R's diagonal, transposed when there are fewer rows than columns; rows = the product of all but the
// last dim. Factorized here in double (modified Gram-Schmidt), once per weight.
Tensor orthogonal(const Shape& s, DType d, double gain, Seed seed) {
  if (s.rank() < 2) {
    throw ShapeError("[Initializer orthogonal] needs a shape of rank >= 2, got " + s.str() +
                     "; use another initializer for vectors");
  }
  const std::int64_t cols = s[s.rank() - 1], rows = s.num_elements() / std::max<std::int64_t>(1, cols);
  const std::int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  std::vector<double> a = random::normal(Shape{m, n}, 0.0, 1.0, DType::Float64, seed).to_vector<double>();
  std::vector<double> q(a.size());
  for (std::int64_t j = 0; j < n; ++j) {
    for (std::int64_t i = 0; i < m; ++i) q[i * n + j] = a[i * n + j];
    for (std::int64_t k = 0; k < j; ++k) {
      double dot = 0;
      for (std::int64_t i = 0; i < m; ++i) dot += q[i * n + k] * q[i * n + j];
      for (std::int64_t i = 0; i < m; ++i) q[i * n + j] -= dot * q[i * n + k];
    }
    double norm = 0;
    for (std::int64_t i = 0; i < m; ++i) norm += q[i * n + j] * q[i * n + j];
    norm = std::sqrt(norm);
    // R's diagonal is this norm (positive), so Q already has the signs Keras's sign(diag(R)) gives it.
    for (std::int64_t i = 0; i < m; ++i) q[i * n + j] = norm > 0 ? q[i * n + j] / norm : 0.0;
  }
  std::vector<double> out(static_cast<std::size_t>(rows * cols));
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) out[i * cols + j] = gain * (rows >= cols ? q[i * n + j] : q[j * n + i]);
  return from_data(out.data(), DType::Float64, s, d);
}

void need(bool ok, const std::string& init, const std::string& what) {
  if (!ok) throw ValueError("[Initializer " + init + "] " + what);
}

const std::vector<Def>& table() {
  static const std::vector<Def> t{
      {"zeros", {}, [](const Args&) { return InitializerFn([](const Shape& s, DType d) { return zeros(s, d); }); }},
      {"ones", {}, [](const Args&) { return InitializerFn([](const Shape& s, DType d) { return ones(s, d); }); }},
      {"constant",
       {{"value", 0.0}},
       [](const Args& a) {
         const double v = num(a, "value");
         return InitializerFn([v](const Shape& s, DType d) { return full(s, v, d); });
       }},
      {"random_normal",
       {{"mean", 0.0}, {"stddev", 0.05}, {"seed", std::nullopt}},
       [](const Args& a) {
         const double mean = num(a, "mean"), sd = num(a, "stddev");
         need(sd >= 0, "random_normal", "stddev must be >= 0, got " + std::to_string(sd));
         return InitializerFn(
             [=, seed = seed_of(a)](const Shape& s, DType d) { return random::normal(s, mean, sd, d, seed); });
       }},
      {"random_uniform",
       {{"minval", -0.05}, {"maxval", 0.05}, {"seed", std::nullopt}},
       [](const Args& a) {
         const double lo = num(a, "minval"), hi = num(a, "maxval");
         need(lo <= hi, "random_uniform",
              "minval must be <= maxval, got " + std::to_string(lo) + " > " + std::to_string(hi));
         return InitializerFn(
             [=, seed = seed_of(a)](const Shape& s, DType d) { return random::uniform(s, lo, hi, d, seed); });
       }},
      {"truncated_normal",
       {{"mean", 0.0}, {"stddev", 0.05}, {"seed", std::nullopt}},
       [](const Args& a) {
         const double mean = num(a, "mean"), sd = num(a, "stddev");
         need(sd >= 0, "truncated_normal", "stddev must be >= 0, got " + std::to_string(sd));
         return InitializerFn([=, seed = seed_of(a)](const Shape& s, DType d) {
           return random::truncated_normal(s, mean, sd, d, seed);
         });
       }},
      {"variance_scaling",
       {{"scale", 1.0},
        {"mode", std::string("fan_in")},
        {"distribution", std::string("truncated_normal")},
        {"seed", std::nullopt}},
       [](const Args& a) {
         const double scale = num(a, "scale");
         const std::string mode = text(a, "mode"), dist = text(a, "distribution");
         need(scale > 0, "variance_scaling", "scale must be > 0, got " + std::to_string(scale));
         need(mode == "fan_in" || mode == "fan_out" || mode == "fan_avg", "variance_scaling",
              "mode must be fan_in, fan_out or fan_avg, got '" + mode + "'");
         need(dist == "truncated_normal" || dist == "untruncated_normal" || dist == "uniform", "variance_scaling",
              "distribution must be truncated_normal, untruncated_normal or uniform, got '" + dist + "'");
         return InitializerFn([=, seed = seed_of(a)](const Shape& s, DType d) {
           return variance_scaling(s, d, scale, mode, dist, seed);
         });
       }},
      // Keras's named variance scalings.
      {"glorot_uniform",
       {{"seed", std::nullopt}},
       [](const Args& a) {
         return InitializerFn([seed = seed_of(a)](const Shape& s, DType d) {
           return variance_scaling(s, d, 1.0, "fan_avg", "uniform", seed);
         });
       }},
      {"glorot_normal",
       {{"seed", std::nullopt}},
       [](const Args& a) {
         return InitializerFn([seed = seed_of(a)](const Shape& s, DType d) {
           return variance_scaling(s, d, 1.0, "fan_avg", "truncated_normal", seed);
         });
       }},
      {"he_normal",
       {{"seed", std::nullopt}},
       [](const Args& a) {
         return InitializerFn([seed = seed_of(a)](const Shape& s, DType d) {
           return variance_scaling(s, d, 2.0, "fan_in", "truncated_normal", seed);
         });
       }},
      {"he_uniform",
       {{"seed", std::nullopt}},
       [](const Args& a) {
         return InitializerFn([seed = seed_of(a)](const Shape& s, DType d) {
           return variance_scaling(s, d, 2.0, "fan_in", "uniform", seed);
         });
       }},
      {"lecun_normal",
       {{"seed", std::nullopt}},
       [](const Args& a) {
         return InitializerFn([seed = seed_of(a)](const Shape& s, DType d) {
           return variance_scaling(s, d, 1.0, "fan_in", "truncated_normal", seed);
         });
       }},
      {"lecun_uniform",
       {{"seed", std::nullopt}},
       [](const Args& a) {
         return InitializerFn([seed = seed_of(a)](const Shape& s, DType d) {
           return variance_scaling(s, d, 1.0, "fan_in", "uniform", seed);
         });
       }},
      {"orthogonal",
       {{"gain", 1.0}, {"seed", std::nullopt}},
       [](const Args& a) {
         const double gain = num(a, "gain");
         return InitializerFn(
             [gain, seed = seed_of(a)](const Shape& s, DType d) { return orthogonal(s, d, gain, seed); });
       }},
      {"identity",
       {{"gain", 1.0}},
       [](const Args& a) {
         const double gain = num(a, "gain");
         return InitializerFn([gain](const Shape& s, DType d) {
           if (s.rank() != 2) {
             throw ShapeError("[Initializer identity] needs a 2-D shape, got " + s.str() +
                              "; it makes an identity matrix (Dense kernels)");
           }
           return eye(s[0], s[1], d) * gain;
         });
       }},
  };
  return t;
}

// Keras's other spellings of the same initializers: its class names (GlorotUniform) and short names.
std::string canonical(const std::string& name) {
  std::string snake;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char ch = name[i];
    if (ch >= 'A' && ch <= 'Z') {
      if (i > 0) snake += '_';
      snake += static_cast<char>(ch - 'A' + 'a');
    } else {
      snake += ch;
    }
  }
  if (snake == "normal") return "random_normal";
  if (snake == "uniform") return "random_uniform";
  return snake;
}

const Def& def_of(const std::string& given) {
  const std::string name = canonical(given);
  for (const Def& d : table())
    if (name == d.name) return d;
  std::string names;
  for (const Def& d : table()) names += (names.empty() ? "" : ", ") + std::string(d.name);
  throw ValueError("[Initializer] unknown initializer '" + given + "'; use one of " + names + " (Keras's names), " +
                   "or a callable (shape, dtype) -> tensor");
}

}  // namespace

Initializer::Initializer(const char* n) : Initializer(initializers::make(n, {})) {}
Initializer::Initializer(const std::string& n) : Initializer(initializers::make(n, {})) {}

Initializer initializers::make(const std::string& name, std::map<std::string, ConfigValue> args) {
  const Def& d = def_of(name);
  Args all;
  for (const Arg& a : d.args)
    if (a.default_value) all[a.name] = *a.default_value;
  for (const auto& [key, v] : args) {
    const std::string& k = key;  // (a structured binding cannot be captured in C++20's lambdas by clang)
    auto it = std::find_if(d.args.begin(), d.args.end(), [&k](const Arg& a) { return k == a.name; });
    if (it == d.args.end()) {
      std::string known;
      for (const Arg& a : d.args) known += (known.empty() ? "" : ", ") + std::string(a.name);
      throw ValueError("[Initializer " + std::string(d.name) + "] has no argument '" + k + "'" +
                       (known.empty() ? "; it takes none" : "; its arguments: " + known));
    }
    const bool want_text = it->default_value && std::holds_alternative<std::string>(*it->default_value);
    const bool want_int = !it->default_value;
    const bool ok = want_text  ? std::holds_alternative<std::string>(v)
                    : want_int ? std::holds_alternative<std::int64_t>(v)
                               : std::holds_alternative<double>(v) || std::holds_alternative<std::int64_t>(v);
    if (!ok) {
      throw ValueError("[Initializer " + std::string(d.name) + "] argument '" + k + "' must be " +
                       (want_text  ? "a string"
                        : want_int ? "an integer"
                                   : "a number"));
    }
    all[k] = v;
  }
  Initializer i(d.make(all));
  i.name = d.name;
  i.args = std::move(args);
  return i;
}

Initializer initializers::constant(double value) { return make("constant", {{"value", value}}); }

std::vector<initializers::Info> initializers::registered() {
  std::vector<Info> out;
  for (const Def& d : table()) {
    Info info{d.name, {}};
    for (const Arg& a : d.args) info.args.emplace_back(a.name, a.default_value);
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace duet
