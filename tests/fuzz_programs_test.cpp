// The random-program differential fuzzer: seeded random programs of elementwise, broadcasting, reduction,
// matmul, shape and control-flow ops over random shapes (size-1 and empty dims included) and dtypes, with
// edge values (NaN, +-inf, +-0, huge). Each program runs eagerly, traced without passes, traced with every
// pass and fusion on every size, and traced with unknown (None) dims; forward values and gradients must
// agree. A failure prints its seed and the program; replay one with DUET_FUZZ_SEED=<seed>, run more with
// DUET_FUZZ_COUNT=<n> (the fuzz-long CTest label runs thousands).
#include <cstdlib>
#include <random>
#include <sstream>

#include "duet/gradient_ops.h"
#include "exec/lanes.h"
#include "test_util.h"

namespace duet {
namespace {

using Shp = std::vector<std::int64_t>;

struct Inst {
  std::string op;       // what it does (the listing shows it)
  std::vector<int> in;  // register indices
  Shp ints;             // axes, shapes, perms, sizes
  double x = 0;         // a scalar parameter
  bool flag = false;
};

struct Program {
  std::vector<std::pair<DType, Shp>> inputs;
  std::vector<std::vector<double>> values;  // per input
  std::vector<Inst> code;                   // each appends one register
  std::vector<int> outputs;
  std::string listing() const {
    std::ostringstream os;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      os << "  %" << i << " = input " << dtype_name(inputs[i].first) << " " << Shape(inputs[i].second).str() << "\n";
    }
    for (std::size_t k = 0; k < code.size(); ++k) {
      const Inst& c = code[k];
      os << "  %" << inputs.size() + k << " = " << c.op << "(";
      for (std::size_t j = 0; j < c.in.size(); ++j) os << (j ? ", " : "") << "%" << c.in[j];
      if (!c.ints.empty()) {
        os << "; [";
        for (std::size_t j = 0; j < c.ints.size(); ++j) os << (j ? "," : "") << c.ints[j];
        os << "]";
      }
      os << "; x=" << c.x << (c.flag ? "; flag" : "") << ")\n";
    }
    os << "  return";
    for (int o : outputs) os << " %" << o;
    return os.str();
  }
};

// Applies one instruction to the registers (eagerly or traced: the same code).
Tensor exec_inst(const Inst& c, const std::vector<Tensor>& r) {
  auto a = [&](int j) { return r[static_cast<std::size_t>(c.in[static_cast<std::size_t>(j)])]; };
  const std::string& o = c.op;
  if (o == "neg") return neg(a(0));
  if (o == "abs") return abs(a(0));
  if (o == "exp") return exp(a(0));
  if (o == "expm1") return expm1(a(0));
  if (o == "log_abs1") return log(abs(a(0)) + 1);
  if (o == "log1p_abs") return log1p(abs(a(0)));
  if (o == "sqrt_abs") return sqrt(abs(a(0)));
  if (o == "rsqrt_abs1") return rsqrt(abs(a(0)) + 1);
  if (o == "tanh") return tanh(a(0));
  if (o == "sigmoid") return sigmoid(a(0));
  if (o == "relu") return relu(a(0));
  if (o == "sin") return sin(a(0));
  if (o == "cos") return cos(a(0));
  if (o == "erf") return erf(a(0));
  if (o == "square") return square(a(0));
  if (o == "softplus") return softplus(a(0));
  if (o == "elu") return elu(a(0), c.x);
  if (o == "gelu") return gelu(a(0), c.flag);
  if (o == "sign") return sign(a(0));
  if (o == "floor") return floor(a(0));
  if (o == "ceil") return ceil(a(0));
  if (o == "round") return round(a(0));
  if (o == "floordiv_safe") return floor_div(a(0), abs(a(1)) + 1);
  if (o == "floormod_safe") return floor_mod(a(0), abs(a(1)) + 1);
  if (o == "clip") return clip(a(0), -c.x, c.x);
  if (o == "add") return a(0) + a(1);
  if (o == "sub") return a(0) - a(1);
  if (o == "mul") return a(0) * a(1);
  if (o == "div_safe") return a(0) / (abs(a(1)) + 1);
  if (o == "maximum") return maximum(a(0), a(1));
  if (o == "minimum") return minimum(a(0), a(1));
  if (o == "pow_safe") return pow(abs(a(0)) + 0.5, clip(a(1), -2, 2));
  if (o == "where_gt") return where(a(0) > a(1), a(0), a(1));
  if (o == "less_cast") return cast(less(a(0), a(1)), a(0).dtype());
  if (o == "scalar_mul") return a(0) * c.x;
  if (o == "scalar_add") return a(0) + c.x;
  if (o == "sum") return sum(a(0), c.ints, c.flag);
  if (o == "mean") return mean(a(0), c.ints, c.flag);
  if (o == "max") return max(a(0), c.ints, c.flag);
  if (o == "min") return min(a(0), c.ints, c.flag);
  if (o == "prod") return prod(a(0), c.ints, c.flag);
  if (o == "cumsum") return cumsum(a(0), static_cast<std::int64_t>(c.x), c.ints[0] != 0, c.ints[1] != 0);
  if (o == "cumprod") return cumprod(a(0), static_cast<std::int64_t>(c.x), c.ints[0] != 0, c.ints[1] != 0);
  if (o == "batch_norm_relu") {  // the normalized output's sole reader is the relu (the batch_norm_relu pass)
    const std::int64_t ch = a(0).shape()[a(0).rank() - 1];
    auto bn = fused_batch_norm(a(0), full({ch}, 1.25, a(0).dtype()), full({ch}, -0.125, a(0).dtype()));
    return c.flag ? relu(bn[0]) : relu(bn[0]) + bn[0] * 0.5;  // flag: fusable; else the output is read twice
  }
  if (o == "softmax") return softmax(a(0), static_cast<std::int64_t>(c.x));
  if (o == "log_softmax") return log_softmax(a(0), static_cast<std::int64_t>(c.x));
  if (o == "matmul") return matmul(a(0), a(1), c.flag, false);
  if (o == "reshape") return reshape(a(0), c.ints);
  if (o == "transpose") return transpose(a(0), c.ints);
  if (o == "expand_dims") return expand_dims(a(0), static_cast<std::int64_t>(c.x));
  if (o == "squeeze") return squeeze(a(0), c.ints);
  if (o == "concat") return concat({a(0), a(1)}, static_cast<std::int64_t>(c.x));
  if (o == "split_matmul") {  // each part of a first-axis split times one weight, scaled by its position
    std::vector<Tensor> ys;
    auto parts = split(a(0), c.ints, 0);
    for (std::size_t i = 0; i < parts.size(); ++i) ys.push_back(matmul(parts[i], a(1)) * static_cast<double>(i + 1));
    return concat(ys, 0);
  }
  if (o == "stack") return stack({a(0), a(1)}, static_cast<std::int64_t>(c.x));
  if (o == "slice") {
    const std::size_t n = c.ints.size() / 2;
    return slice(a(0), Shp(c.ints.begin(), c.ints.begin() + static_cast<std::ptrdiff_t>(n)),
                 Shp(c.ints.begin() + static_cast<std::ptrdiff_t>(n), c.ints.end()));
  }
  if (o == "pad") {
    std::vector<std::pair<std::int64_t, std::int64_t>> pads;
    for (std::size_t k = 0; k + 1 < c.ints.size(); k += 2) pads.emplace_back(c.ints[k], c.ints[k + 1]);
    return pad(a(0), pads, c.x);
  }
  if (o == "broadcast_to") return broadcast_to(a(0), Shape(c.ints));
  if (o == "cast") return cast(a(0), static_cast<DType>(static_cast<int>(c.x)));
  if (o == "argmax") return cast(argmax(a(0), static_cast<std::int64_t>(c.x)), a(0).dtype());
  if (o == "argmin") return cast(argmin(a(0), static_cast<std::int64_t>(c.x)), a(0).dtype());
  if (o == "gather")
    return gather(a(0),
                  constant(std::vector<std::int64_t>(c.ints.begin(), c.ints.end()),
                           Shape{static_cast<std::int64_t>(c.ints.size())}, DType::Int64),
                  static_cast<std::int64_t>(c.x));
  if (o == "one_hot")
    return one_hot(cast(abs(a(0)), DType::Int64), static_cast<std::int64_t>(c.x), 1.0, 0.0, DType::Float32);
  if (o == "stop_gradient") return stop_gradient(a(0)) * a(0);
  if (o == "bmatmul") return matmul(a(0), a(1), false, c.flag);
  if (o == "conv2d")
    return conv2d(a(0), a(1), {.strides = {c.ints[0], c.ints[1]}, .padding = c.flag ? "same" : "valid"});
  if (o == "conv2d_transpose")  // ints: strides, then Keras's output size
    return conv2d_transpose(a(0), a(1), {c.ints[2], c.ints[3]},
                            {.strides = {c.ints[0], c.ints[1]}, .padding = c.flag ? "same" : "valid"});
  if (o == "max_pool")
    return max_pool2d(a(0), {.pool_size = {c.ints[0], c.ints[1]}, .padding = c.flag ? "same" : "valid"});
  if (o == "avg_pool")
    return avg_pool2d(a(0), {.pool_size = {c.ints[0], c.ints[1]}, .padding = c.flag ? "same" : "valid"});
  if (o == "dropout") return dropout(a(0), 0.3, true, 11);
  if (o == "sum_to") return sum_to(a(0), a(1));
  if (o == "broadcast_like") return broadcast_like(a(0), a(1));
  if (o == "cond") {
    Tensor x = a(0);
    return cond(
        sum(x) > c.x, [&] { return tanh(x) * 2.0; }, [&] { return x * x - 1.0; });
  }
  if (o == "while") {
    auto outs = while_loop([&](const std::vector<Tensor>& v) { return v[1] < c.x; },
                           [](const std::vector<Tensor>& v) {
                             return std::vector<Tensor>{v[0] * 0.5 + 1.0, v[1] + 1};
                           },
                           {a(0), scalar(std::int32_t{0})});
    return outs[0];
  }
  throw std::logic_error("unknown fuzz op " + o);
}

std::vector<Tensor> run(const Program& p, const std::vector<Tensor>& ins) {
  std::vector<Tensor> r = ins;
  for (const Inst& c : p.code) r.push_back(exec_inst(c, r));
  std::vector<Tensor> out;
  for (int o : p.outputs) out.push_back(r[static_cast<std::size_t>(o)]);
  return out;
}

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  Program make() {
    Program p;
    // One "big" program in 16 exercises the default fusion threshold and the threaded kernels.
    big_ = pick(16) == 0;
    const bool floats_only = pick(4) != 0;
    const int n_in = 1 + pick(3);
    for (int i = 0; i < n_in; ++i) {
      DType d = floats_only ? (pick(3) ? DType::Float32 : DType::Float64)
                            : std::vector<DType>{DType::Float32, DType::Float64, DType::Int32,
                                                 DType::Int64}[static_cast<std::size_t>(pick(4))];
      Shp s = i == 0 ? random_shape() : related_shape(p.inputs[0].second);
      p.inputs.push_back({d, s});
      p.values.push_back(values(d, s));
      shapes_.push_back(s);
      dtypes_.push_back(d);
    }
    const int n_ops = 2 + pick(8);
    for (int k = 0; k < n_ops; ++k) add_op(p);
    // Outputs: the last register and sometimes another.
    p.outputs.push_back(static_cast<int>(shapes_.size()) - 1);
    if (shapes_.size() > 2 && pick(2)) p.outputs.push_back(pick(static_cast<int>(shapes_.size()) - 1));
    return p;
  }

 private:
  int pick(int n) { return static_cast<int>(std::uniform_int_distribution<int>(0, n - 1)(rng_)); }
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }

  Shp random_shape() {
    const int rank = pick(4);
    Shp s;
    for (int d = 0; d < rank; ++d)
      s.push_back(big_ && d == 0 ? 200 + pick(100)
                                 : std::vector<std::int64_t>{1, 2, 3, 4, 5,
                                                             0}[static_cast<std::size_t>(pick(pick(12) == 0 ? 6 : 5))]);
    if (big_ && rank == 1) s[0] = 40000 + pick(1000);
    if (big_ && rank >= 2) s[1] = 200;
    return s;
  }
  // The same shape, a broadcastable variant (some dims 1, or fewer leading dims), or a scalar.
  Shp related_shape(const Shp& s) {
    switch (pick(4)) {
      case 0:
        return s;
      case 1:
        return {};
      case 2: {
        Shp t = s;
        for (auto& d : t)
          if (pick(2)) d = 1;
        return t;
      }
      default:
        return Shp(s.begin() + (s.empty() ? 0 : pick(static_cast<int>(s.size()) + 1)), s.end());
    }
  }

  std::vector<double> values(DType d, const Shp& s) {
    std::int64_t n = 1;
    for (auto v : s) n *= v;
    std::vector<double> v(static_cast<std::size_t>(n));
    std::normal_distribution<double> norm(0, 1.5);
    const bool edges = pick(5) == 0;
    for (auto& x : v) {
      x = is_integral(d) ? std::round(norm(rng_) * 3) : norm(rng_);
      if (edges && !is_integral(d) && pick(6) == 0) {
        x = std::vector<double>{
            NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e30, -1e30, 1e-30}[static_cast<std::size_t>(pick(8))];
      }
    }
    return v;
  }

  int reg_any() { return pick(static_cast<int>(shapes_.size())); }
  int reg_of(DType d) {
    std::vector<int> c;
    for (std::size_t i = 0; i < dtypes_.size(); ++i)
      if (dtypes_[i] == d) c.push_back(static_cast<int>(i));
    return c.empty() ? -1 : c[static_cast<std::size_t>(pick(static_cast<int>(c.size())))];
  }
  // A register whose shape broadcasts with register a (and has the same dtype), if any.
  int partner(int a) {
    std::vector<int> c;
    for (std::size_t i = 0; i < shapes_.size(); ++i)
      if (dtypes_[i] == dtypes_[static_cast<std::size_t>(a)] &&
          broadcastable(shapes_[i], shapes_[static_cast<std::size_t>(a)]))
        c.push_back(static_cast<int>(i));
    return c[static_cast<std::size_t>(pick(static_cast<int>(c.size())))];  // a itself always qualifies
  }
  static bool broadcastable(const Shp& a, const Shp& b) {
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
      auto x = a[a.size() - 1 - i], y = b[b.size() - 1 - i];
      if (x != y && x != 1 && y != 1) return false;
    }
    return true;
  }
  // src broadcasts to dst (one way: src's dims are 1 or dst's, and src has no more dims).
  static bool broadcasts_to(const Shp& src, const Shp& dst) {
    if (src.size() > dst.size()) return false;
    for (std::size_t i = 0; i < src.size(); ++i) {
      auto x = src[src.size() - 1 - i], y = dst[dst.size() - 1 - i];
      if (x != y && x != 1) return false;
    }
    return true;
  }
  static Shp broadcast(const Shp& a, const Shp& b) {
    Shp out(std::max(a.size(), b.size()), 1);
    for (std::size_t i = 0; i < out.size(); ++i) {
      auto x = i < a.size() ? a[a.size() - 1 - i] : 1, y = i < b.size() ? b[b.size() - 1 - i] : 1;
      out[out.size() - 1 - i] = x == 1 ? y : x;
    }
    return out;
  }
  static std::int64_t count(const Shp& s) {
    std::int64_t n = 1;
    for (auto d : s) n *= d;
    return n;
  }

  void push(Program& p, Inst c, const Shp& shape, DType d) {
    if (count(shape) > (1 << 21)) return;  // keep every value small enough for a quick test (broadcasts can explode)
    p.code.push_back(std::move(c));
    shapes_.push_back(shape);
    dtypes_.push_back(d);
  }

  void add_op(Program& p) {
    const int a = reg_any();
    const Shp s = shapes_[static_cast<std::size_t>(a)];
    const DType d = dtypes_[static_cast<std::size_t>(a)];
    const bool fl = is_floating(d);
    const int r = static_cast<int>(s.size());
    switch (pick(13)) {
      case 0:
      case 1:
      case 2: {  // unary elementwise
        static const std::vector<std::string> f = {
            "neg",     "exp",  "expm1", "log_abs1", "log1p_abs", "sqrt_abs", "rsqrt_abs1", "tanh",
            "sigmoid", "relu", "sin",   "cos",      "erf",       "square",   "softplus",   "elu",
            "gelu",    "sign", "clip",  "abs",      "floor",     "ceil",     "round"};
        static const std::vector<std::string> i = {"neg", "abs", "relu", "square", "sign", "clip"};
        const auto& list = fl ? f : i;
        Inst c{
            list[static_cast<std::size_t>(pick(static_cast<int>(list.size())))], {a}, {}, 0.5 + pick(3), pick(2) == 1};
        if (c.op == "clip" && !fl) c.x = 3;
        push(p, c, s, d);
        break;
      }
      case 3:
      case 4:
      case 5: {  // binary with broadcasting
        static const std::vector<std::string> f = {"add",       "sub",           "mul",          "div_safe",
                                                   "maximum",   "minimum",       "pow_safe",     "where_gt",
                                                   "less_cast", "floordiv_safe", "floormod_safe"};
        static const std::vector<std::string> i = {"add",           "sub",          "mul",      "div_safe",
                                                   "maximum",       "minimum",      "where_gt", "less_cast",
                                                   "floordiv_safe", "floormod_safe"};
        const auto& list = fl ? f : i;
        const int b = partner(a);
        push(p, {list[static_cast<std::size_t>(pick(static_cast<int>(list.size())))], {a, b}},
             broadcast(s, shapes_[static_cast<std::size_t>(b)]), d);
        break;
      }
      case 6: {  // scalar literal
        push(p,
             {pick(2) ? "scalar_mul" : "scalar_add", {a}, {}, fl ? uniform(-2, 2) : static_cast<double>(pick(5) - 2)},
             s, d);
        break;
      }
      case 7: {  // reduction over random axes
        static const std::vector<std::string> f = {"sum", "mean", "max", "min", "prod"};
        std::string op = f[static_cast<std::size_t>(pick(5))];
        if (!fl && op == "mean") op = "sum";
        Shp axes;
        for (int k = 0; k < r; ++k)
          if (pick(2)) axes.push_back(pick(2) ? k : k - r);
        bool keep = pick(2);
        // max/min of an empty dim has no value: reduce only non-empty dims with them
        if ((op == "max" || op == "min") && count(s) == 0) op = "sum";
        Shp out;
        Shp norm;
        for (auto ax : axes) norm.push_back(ax < 0 ? ax + r : ax);
        for (int k = 0; k < r; ++k) {
          bool red = axes.empty() || std::find(norm.begin(), norm.end(), k) != norm.end();
          if (!red)
            out.push_back(s[static_cast<std::size_t>(k)]);
          else if (keep)
            out.push_back(1);
        }
        push(p, {op, {a}, axes, 0, keep}, out, d);
        break;
      }
      case 8: {  // softmax / log_softmax along an axis of a float tensor of rank >= 1
        if (!fl || r == 0) return add_op(p);
        push(p, {pick(2) ? "softmax" : "log_softmax", {a}, {}, static_cast<double>(pick(r) - (pick(2) ? r : 0))}, s, d);
        break;
      }
      case 9: {  // matmul with a (k, n) weight broadcast from a register that broadcasts to it
        if (r < 2) return add_op(p);
        Shp ks = {s[static_cast<std::size_t>(r - 1)], 1 + pick(3)};
        int w = -1;
        for (std::size_t i = 0; i < shapes_.size() && w < 0; ++i)
          if (dtypes_[i] == d && broadcasts_to(shapes_[i], ks)) w = static_cast<int>(i);
        if (w < 0) return add_op(p);
        push(p, {"broadcast_to", {w}, ks}, ks, d);
        Shp out = s;
        out.back() = ks[1];
        if (r == 2 && s[0] >= 2 && pick(2)) {  // split into parts, each times the weight (split_products)
          Shp sizes;  // 2 or 3 parts of at least one row (an empty part would keep the products apart)
          std::int64_t left = s[0];
          for (int k = pick(2); k >= 0 && left >= 2; --k) {
            sizes.push_back(1 + pick(static_cast<int>(left) - 1));
            left -= sizes.back();
          }
          sizes.push_back(left);
          push(p, {"split_matmul", {a, static_cast<int>(shapes_.size()) - 1}, sizes}, out, d);
          break;
        }
        push(p, {"matmul", {a, static_cast<int>(shapes_.size()) - 1}, {}, 0, false}, out, d);
        break;
      }
      case 10: {  // shape ops
        switch (pick(7)) {
          case 0: {  // reshape to flat or to (n, -1)
            Shp t = pick(2) || r == 0 ? Shp{count(s)} : Shp{s[0], count(s) / std::max<std::int64_t>(s[0], 1)};
            if (r > 0 && s[0] == 0) t = {0, r > 1 ? count(Shp(s.begin() + 1, s.end())) : 0};
            push(p, {"reshape", {a}, t}, t, d);
            break;
          }
          case 1: {
            Shp perm(static_cast<std::size_t>(r));
            std::iota(perm.begin(), perm.end(), 0);
            std::shuffle(perm.begin(), perm.end(), rng_);
            Shp t;
            for (auto q : perm) t.push_back(s[static_cast<std::size_t>(q)]);
            push(p, {"transpose", {a}, perm}, t, d);
            break;
          }
          case 2: {
            int ax = pick(r + 1);
            Shp t = s;
            t.insert(t.begin() + ax, 1);
            push(p, {"expand_dims", {a}, {}, static_cast<double>(ax)}, t, d);
            break;
          }
          case 3: {  // squeeze named size-1 axes
            Shp axes, t;
            for (int k = 0; k < r; ++k) {
              if (s[static_cast<std::size_t>(k)] == 1 && pick(2))
                axes.push_back(k);
              else
                t.push_back(s[static_cast<std::size_t>(k)]);
            }
            if (axes.empty()) return add_op(p);
            push(p, {"squeeze", {a}, axes}, t, d);
            break;
          }
          case 4: {  // concat or stack with itself
            if (r == 0) return add_op(p);
            int ax = pick(r);
            if (pick(2)) {
              Shp t = s;
              t[static_cast<std::size_t>(ax)] *= 2;
              push(p, {"concat", {a, a}, {}, static_cast<double>(ax)}, t, d);
            } else {
              Shp t = s;
              t.insert(t.begin() + ax, 2);
              push(p, {"stack", {a, a}, {}, static_cast<double>(ax)}, t, d);
            }
            break;
          }
          case 6: {  // pad with zeros or a constant: (before, after) per dim, flat
            if (r == 0) return add_op(p);
            Shp pads, t = s;
            for (int k = 0; k < r; ++k) {
              pads.push_back(pick(3));
              pads.push_back(pick(2));
              t[static_cast<std::size_t>(k)] += pads[pads.size() - 2] + pads.back();
            }
            push(p, {"pad", {a}, pads, pick(2) ? 0.0 : -0.5}, t, d);
            break;
          }
          default: {  // slice
            if (r == 0) return add_op(p);
            Shp b, sz, t;
            for (int k = 0; k < r; ++k) {
              auto n = s[static_cast<std::size_t>(k)];
              auto b0 = n > 0 ? pick(static_cast<int>(n)) : 0;
              auto len = pick(2) ? -1 : (n - b0 > 0 ? 1 + pick(static_cast<int>(n - b0)) : 0);
              b.push_back(b0);
              sz.push_back(len);
              t.push_back(len < 0 ? n - b0 : len);
            }
            Shp both = b;
            both.insert(both.end(), sz.begin(), sz.end());
            push(p, {"slice", {a}, both}, t, d);
          }
        }
        break;
      }
      case 11: {  // index, batched and nn ops
        switch (pick(10)) {
          case 0: {  // argmax/argmin along an axis with a non-empty size
            if (r == 0) return add_op(p);
            int ax = pick(r);
            if (s[static_cast<std::size_t>(ax)] == 0) return add_op(p);
            Shp t = s;
            t.erase(t.begin() + ax);
            push(p, {pick(2) ? "argmax" : "argmin", {a}, {}, static_cast<double>(ax)}, t, d);
            break;
          }
          case 1: {  // gather rows along an axis (indices may repeat)
            if (r == 0) return add_op(p);
            int ax = pick(r);
            auto n = s[static_cast<std::size_t>(ax)];
            if (n == 0) return add_op(p);
            Shp idx;
            for (int k = 0, m = 1 + pick(4); k < m; ++k) idx.push_back(pick(static_cast<int>(n)));
            Shp t = s;
            t[static_cast<std::size_t>(ax)] = static_cast<std::int64_t>(idx.size());
            push(p, {"gather", {a}, idx, static_cast<double>(ax)}, t, d);
            break;
          }
          case 2: {  // one_hot of small integers
            if (fl) return add_op(p);
            Shp t = s;
            t.push_back(4);
            push(p, {"one_hot", {a}, {}, 4}, t, DType::Float32);
            break;
          }
          case 3:
            if (!fl) return add_op(p);
            push(p, {"stop_gradient", {a}, {}}, s, d);
            break;
          case 4: {  // batched matmul (b, m, k) @ (k, n) or @ (b, n, k)^T, the right operand broadcast from a register
            if (r != 3) return add_op(p);
            bool tb = pick(2);
            Shp ws = tb ? Shp{s[0], 2, s[2]} : Shp{s[2], 2};
            if (pick(2) && !tb) ws = Shp{1, s[2], 2};  // a broadcast batch dim
            int w = -1;
            for (std::size_t i = 0; i < shapes_.size() && w < 0; ++i)
              if (dtypes_[i] == d && broadcasts_to(shapes_[i], ws)) w = static_cast<int>(i);
            if (w < 0) return add_op(p);
            push(p, {"broadcast_to", {w}, ws}, ws, d);
            push(p, {"bmatmul", {a, static_cast<int>(shapes_.size()) - 1}, {}, 0, tb}, {s[0], s[1], 2}, d);
            break;
          }
          case 5: {  // conv2d, conv2d_transpose or pooling on a rank-4 float NHWC register
            if (r != 4 || !fl || s[1] < 2 || s[2] < 2 || count(s) == 0) return add_op(p);
            const bool same = pick(2);
            const std::int64_t st = 1 + pick(2);
            if (pick(2)) {
              Shp ws = {2, 2, s[3], 2};
              int w = -1;
              for (std::size_t i = 0; i < shapes_.size() && w < 0; ++i)
                if (dtypes_[i] == d && broadcasts_to(shapes_[i], ws)) w = static_cast<int>(i);
              if (w < 0) return add_op(p);
              push(p, {"broadcast_to", {w}, ws}, ws, d);
              auto o = [&](std::int64_t n) { return same ? (n + st - 1) / st : (n - 2) / st + 1; };
              if (pick(3) == 0) {  // transposed: filters (2, 2, out 2, in channels), Keras's output size
                Shp wt = {2, 2, 2, s[3]};
                push(p, {"reshape", {static_cast<int>(shapes_.size()) - 1}, wt}, wt, d);
                auto t = [&](std::int64_t n) { return same ? n * st : (n - 1) * st + std::max<std::int64_t>(2, st); };
                push(p,
                     {"conv2d_transpose",
                      {a, static_cast<int>(shapes_.size()) - 1},
                      {st, st, t(s[1]), t(s[2])},
                      0,
                      same},
                     {s[0], t(s[1]), t(s[2]), 2}, d);
                break;
              }
              push(p, {"conv2d", {a, static_cast<int>(shapes_.size()) - 1}, {st, st}, 0, same},
                   {s[0], o(s[1]), o(s[2]), 2}, d);
            } else {
              auto o = [&](std::int64_t n) { return same ? (n + 1) / 2 : n / 2; };
              push(p, {pick(2) ? "max_pool" : "avg_pool", {a}, {2, 2}, 0, same}, {s[0], o(s[1]), o(s[2]), s[3]}, d);
            }
            break;
          }
          case 6:
            if (!fl) return add_op(p);
            push(p, {"dropout", {a}, {}}, s, d);
            break;
          case 7: {  // running sum/product along an axis, either way, inclusive or exclusive
            if (r == 0) return add_op(p);
            const int ax = pick(r) - (pick(2) ? r : 0);
            push(p, {pick(2) ? "cumsum" : "cumprod", {a}, {pick(2), pick(2)}, static_cast<double>(ax)}, s, d);
            break;
          }
          case 8:  // batch normalization over the last axis, then relu
            if (!fl || r < 2 || count(s) == 0) return add_op(p);
            push(p, {"batch_norm_relu", {a}, {}, 0, pick(4) != 0}, s, d);
            break;
          default: {  // sum_to / broadcast_like between a register and one it broadcasts with
            const int b = partner(a);
            const Shp& bs = shapes_[static_cast<std::size_t>(b)];
            if (broadcasts_to(bs, s))
              push(p, {"sum_to", {a, b}}, bs, d);
            else if (broadcasts_to(s, bs))
              push(p, {"broadcast_like", {a, b}}, bs, d);
            else
              return add_op(p);
          }
        }
        break;
      }
      default: {  // control flow, casts
        switch (pick(3)) {
          case 0:
            if (!fl) return add_op(p);
            push(p, {"cond", {a}, {}, uniform(-1, 1)}, s, d);
            break;
          case 1:
            if (!fl) return add_op(p);
            push(p, {"while", {a}, {}, static_cast<double>(pick(4))}, s, d);
            break;
          default: {
            DType to = std::vector<DType>{DType::Float32, DType::Float64, DType::Int32,
                                          DType::Int64}[static_cast<std::size_t>(pick(4))];
            if (is_floating(d) && is_integral(to)) to = DType::Float64;  // NaN/inf do not convert to integers
            push(p, {"cast", {a}, {}, static_cast<double>(static_cast<int>(to))}, s, to);
          }
        }
      }
    }
  }

  std::mt19937_64 rng_;
  bool big_ = false;
  std::vector<Shp> shapes_;
  std::vector<DType> dtypes_;
};

std::vector<Tensor> inputs_of(const Program& p) {
  std::vector<Tensor> ins;
  for (std::size_t i = 0; i < p.inputs.size(); ++i)
    ins.push_back(constant(p.values[i], Shape(p.inputs[i].second), p.inputs[i].first));
  return ins;
}

// d(sum_k out_k * w_k)/d input for the float inputs (w fixed per output), or nothing when no float output.
std::vector<Tensor> gradients(const Program& p, const std::vector<Tensor>& ins,
                              const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& f) {
  GradientTape tape;
  for (const Tensor& t : ins)
    if (is_floating(t.dtype())) tape.watch(t);
  auto outs = f(ins);
  Tensor target;
  for (std::size_t k = 0; k < outs.size(); ++k) {
    if (!is_floating(outs[k].dtype())) continue;
    Tensor term = sum(outs[k] * (0.5 + static_cast<double>(k)));
    target = target.defined() ? target + term : term;
  }
  std::vector<Tensor> g;
  if (!target.defined()) return g;
  std::vector<Source> srcs;
  for (const Tensor& t : ins)
    if (is_floating(t.dtype())) srcs.emplace_back(t);
  return tape.gradient(target, srcs, {.unconnected = UnconnectedGradients::Zero});
}

// Same dtype and shape; values equal within tolerance, NaN matching NaN and infinities matching exactly.
std::string differs(const Tensor& got, const Tensor& want, double rtol) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return std::string(dtype_name(got.dtype())) + " " + got.shape().str() + " vs eager " + dtype_name(want.dtype()) +
           " " + want.shape().str();
  }
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i]) && std::isnan(w[i])) continue;
    if (std::isinf(w[i]) || std::isinf(g[i]) || std::isnan(g[i]) || std::isnan(w[i])) {
      if (g[i] == w[i]) continue;
      return "element " + std::to_string(i) + ": " + std::to_string(g[i]) + " vs eager " + std::to_string(w[i]);
    }
    if (std::fabs(g[i] - w[i]) > rtol * (1 + std::fabs(w[i]))) {
      return "element " + std::to_string(i) + ": " + std::to_string(g[i]) + " vs eager " + std::to_string(w[i]);
    }
  }
  return "";
}

int g_refused = 0;  // programs whose unknown-dim trace was refused with a ShapeError (reported at the end)

// Runs one program every way; returns "" or what differed.
std::string check_program(const Program& p) {
  std::vector<Tensor> ins = inputs_of(p);
  auto body = [&p](const std::vector<Tensor>& x) { return run(p, x); };
  std::vector<Tensor> eager;
  try {
    eager = body(ins);
  } catch (const Error& e) {
    return std::string("eager run threw: ") + e.what();
  }
  std::vector<Tensor> eager_grads = gradients(p, ins, body);
  double rtol = 2e-5;
  for (const Tensor& t : ins) rtol = t.dtype() == DType::Float64 ? std::min(rtol, 2e-5) : rtol;
  std::vector<TensorSpec> unknown, all_unknown;
  for (const Tensor& t : ins) {
    Shape s = t.shape();
    if (s.rank() > 0) s[0] = Shape::kUnknown;
    unknown.push_back({t.dtype(), s});
    for (int d = 0; d < s.rank(); ++d) s[d] = Shape::kUnknown;
    all_unknown.push_back({t.dtype(), s});
  }
  struct Mode {
    const char* name;
    FunctionOptions options;
    bool may_refuse;     // unknown dims: a ShapeError while tracing is an accepted answer (e.g. squeeze without axes)
    bool lanes = false;  // every product that can moves to the plan's second lane (exec/lanes.h)
  };
  std::vector<Mode> modes = {
      {"traced, no passes",
       {.passes = {.constant_folding = false, .cse = false, .dce = false, .fusion = false}, .verify = true},
       false},
      {"traced, all passes, fusion at any size", {.passes = {.fusion_min_elements = 1}, .verify = true}, false},
      {"traced with unknown dim 0",
       {.input_signature = unknown, .passes = {.fusion_min_elements = 1}, .verify = true},
       true},
      {"traced with every dim unknown",
       {.input_signature = all_unknown, .passes = {.fusion_min_elements = 1}, .verify = true},
       true},
      {"traced, all passes, two lanes", {.verify = true}, false, true},
  };
  // The lane orders take turns from one program to the next (free, the second lane late, early).
  static int lane_turn = 0;
  const auto order = static_cast<exec::LaneOrder>(lane_turn++ % 3);
  struct LaneHooks {
    explicit LaneHooks(bool on, exec::LaneOrder o) : on(on) {
      if (on) exec::set_lane_testing(true, o);
    }
    ~LaneHooks() {
      if (on) exec::set_lane_testing(false, exec::LaneOrder::kFree);
    }
    bool on;
  };
  for (const Mode& m : modes) {
    LaneHooks hooks(m.lanes, order);
    auto f = function(body, m.options);
    std::vector<Tensor> got;
    try {
      got = f(ins);
    } catch (const ShapeError& e) {
      if (m.may_refuse) {
        ++g_refused;
        if (std::getenv("DUET_FUZZ_SHOW_REFUSALS")) std::cout << "refused (" << m.name << "): " << e.what() << "\n";
        continue;
      }
      return std::string(m.name) + " threw: " + e.what();
    } catch (const Error& e) {
      return std::string(m.name) + " threw: " + e.what();
    }
    // A second call runs on the plan's static memory plan (the first one does not); its results must
    // match too, and must not have overwritten the first call's.
    std::vector<Tensor> again;
    try {
      again = f(ins);
    } catch (const Error& e) {
      return std::string(m.name) + " threw on its second call: " + e.what();
    }
    if (got.size() != eager.size() || again.size() != eager.size())
      return std::string(m.name) + ": output count differs";
    for (std::size_t k = 0; k < got.size(); ++k) {
      std::string d = differs(got[k], eager[k], rtol);
      if (!d.empty()) return std::string(m.name) + ", output " + std::to_string(k) + ": " + d;
      d = differs(again[k], eager[k], rtol);
      if (!d.empty()) return std::string(m.name) + ", second call, output " + std::to_string(k) + ": " + d;
    }
    // Gradients, traced the same way (the tape inside the function builds the gradient graph).
    auto gf = function([&p, &body](const std::vector<Tensor>& x) { return gradients(p, x, body); }, m.options);
    std::vector<Tensor> g, g_again;
    try {
      g = gf(ins);
      g_again = gf(ins);
    } catch (const ShapeError& e) {
      if (m.may_refuse) continue;
      return std::string(m.name) + " gradient threw: " + e.what();
    } catch (const Error& e) {
      return std::string(m.name) + " gradient threw: " + e.what();
    }
    for (std::size_t k = 0; k < g.size() && k < eager_grads.size(); ++k) {
      std::string d = differs(g[k], eager_grads[k], std::max(rtol, 1e-4));
      if (!d.empty()) return std::string(m.name) + ", gradient " + std::to_string(k) + ": " + d;
      d = differs(g_again[k], eager_grads[k], std::max(rtol, 1e-4));
      if (!d.empty()) return std::string(m.name) + ", second call, gradient " + std::to_string(k) + ": " + d;
    }
  }
  return "";
}

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(FuzzPrograms, EagerEqualsTracedEqualsOptimized) {
  config::set_log_handler([](config::LogLevel, const std::string&) {});  // retrace notices are expected
  const std::uint64_t replay = env_or("DUET_FUZZ_SEED", 0);
  const std::uint64_t first = replay ? replay : env_or("DUET_FUZZ_FIRST", 1);
  const std::uint64_t n = replay ? 1 : env_or("DUET_FUZZ_COUNT", 300);
  int failures = 0;
  for (std::uint64_t seed = first; seed < first + n && failures < 5; ++seed) {
    Program p = Generator(seed).make();
    std::string why;
    try {
      why = check_program(p);
    } catch (const std::exception& e) {
      why = std::string("threw ") + e.what();
    }
    if (!why.empty()) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << " (replay: DUET_FUZZ_SEED=" << seed << "): " << why << "\nprogram:\n"
                    << p.listing();
    }
  }
  config::set_log_handler(nullptr);
  std::cout << "fuzz: " << n << " programs from seed " << first << "; " << g_refused
            << " unknown-dim traces refused with a ShapeError (the rest compared)\n";
}

}  // namespace
}  // namespace duet
