// Op table rows for linear algebra and nn ops, with naive references written here (index loops only).
#include <cmath>

#include "op_table.h"

namespace duet::testing {
namespace {

using V = std::vector<Tensor>;
using A = std::vector<Arr>;

// Naive batched matmul with broadcast batch dims (leading dims) and transposes.
Arr ref_matmul(const Arr& a, const Arr& b, bool ta, bool tb) {
  const std::size_t ra = a.shape.size(), rb = b.shape.size();
  std::int64_t m = ta ? a.shape[ra - 1] : a.shape[ra - 2], k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  std::int64_t n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  std::vector<std::int64_t> ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  std::size_t r = std::max(ba.size(), bb.size());
  while (ba.size() < r) ba.insert(ba.begin(), 1);
  while (bb.size() < r) bb.insert(bb.begin(), 1);
  std::vector<std::int64_t> bo(r);
  for (std::size_t i = 0; i < r; ++i) bo[i] = std::max(ba[i], bb[i]);
  std::vector<std::int64_t> os = bo;
  os.push_back(m);
  os.push_back(n);
  Arr out{os, std::vector<double>(static_cast<std::size_t>(numel(os)))};
  std::int64_t nb = numel(bo);
  auto bs = strides_of(bo);
  for (std::int64_t bi = 0; bi < nb; ++bi) {
    std::int64_t ia = 0, ib = 0, sa = 1, sb = 1;
    for (std::size_t d = r; d-- > 0;) {
      std::int64_t idx = (bi / bs[d]) % bo[d];
      ia += (ba[d] == 1 ? 0 : idx) * sa;
      ib += (bb[d] == 1 ? 0 : idx) * sb;
      sa *= ba[d];
      sb *= bb[d];
    }
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::int64_t p = 0; p < k; ++p) {
          double av = a.v[static_cast<std::size_t>(ia * m * k + (ta ? p * m + i : i * k + p))];
          double bv = b.v[static_cast<std::size_t>(ib * k * n + (tb ? j * k + p : p * n + j))];
          s += av * bv;
        }
        out.v[static_cast<std::size_t>((bi * m + i) * n + j)] = s;
      }
  }
  return out;
}

struct Geo {
  std::int64_t out, pad;
};
// TensorFlow's padding rule, written independently of the library's.
Geo geo(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t d, bool same) {
  std::int64_t span = (k - 1) * d + 1;
  if (!same) return {(in - span) / s + 1, 0};
  std::int64_t out = (in + s - 1) / s;
  std::int64_t total = std::max<std::int64_t>((out - 1) * s + span - in, 0);
  return {out, total / 2};
}

struct ConvCfg {
  std::int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  bool same = false;
  Conv2DOptions opts() const { return {{sh, sw}, same ? "same" : "valid", {dh, dw}}; }
};

// Visits every (output position, filter tap, input position) of a conv: f(x_index, w_index, y_index).
template <class F>
void conv_taps(const std::vector<std::int64_t>& xs, const std::vector<std::int64_t>& ws, const ConvCfg& c, F f) {
  Geo gy = geo(xs[1], ws[0], c.sh, c.dh, c.same), gx = geo(xs[2], ws[1], c.sw, c.dw, c.same);
  for (std::int64_t n = 0; n < xs[0]; ++n)
    for (std::int64_t oy = 0; oy < gy.out; ++oy)
      for (std::int64_t ox = 0; ox < gx.out; ++ox)
        for (std::int64_t o = 0; o < ws[3]; ++o)
          for (std::int64_t ky = 0; ky < ws[0]; ++ky)
            for (std::int64_t kx = 0; kx < ws[1]; ++kx)
              for (std::int64_t ci = 0; ci < xs[3]; ++ci) {
                std::int64_t iy = oy * c.sh - gy.pad + ky * c.dh, ix = ox * c.sw - gx.pad + kx * c.dw;
                if (iy < 0 || iy >= xs[1] || ix < 0 || ix >= xs[2]) continue;
                f(((n * xs[1] + iy) * xs[2] + ix) * xs[3] + ci, ((ky * ws[1] + kx) * xs[3] + ci) * ws[3] + o,
                  ((n * gy.out + oy) * gx.out + ox) * ws[3] + o);
              }
}

std::vector<std::int64_t> conv_out_shape(const std::vector<std::int64_t>& xs, const std::vector<std::int64_t>& ws,
                                         const ConvCfg& c) {
  return {xs[0], geo(xs[1], ws[0], c.sh, c.dh, c.same).out, geo(xs[2], ws[1], c.sw, c.dw, c.same).out, ws[3]};
}

// y = conv(x, w), float64 along conv_taps.
Arr ref_conv(const Arr& x, const Arr& w, const ConvCfg& c) {
  Arr y{conv_out_shape(x.shape, w.shape, c), {}};
  y.v.assign(static_cast<std::size_t>(numel(y.shape)), 0.0);
  conv_taps(x.shape, w.shape, c, [&](std::int64_t xi, std::int64_t wi, std::int64_t yi) {
    y.v[static_cast<std::size_t>(yi)] += x.v[static_cast<std::size_t>(xi)] * w.v[static_cast<std::size_t>(wi)];
  });
  return y;
}

// The filter gradient of conv(x, w) for output gradient dy, then (with_bias) dy summed per output channel,
// flattened into one result.
Arr ref_filter_grad(const Arr& x, const Arr& dy, const std::vector<std::int64_t>& ws, const ConvCfg& c,
                    bool with_bias) {
  const auto filter = static_cast<std::size_t>(numel(ws)), channels = static_cast<std::size_t>(ws[3]);
  const std::size_t n = filter + (with_bias ? channels : 0);
  Arr r{with_bias ? std::vector<std::int64_t>{static_cast<std::int64_t>(n)} : ws, std::vector<double>(n, 0.0)};
  conv_taps(x.shape, ws, c, [&](std::int64_t xi, std::int64_t wi, std::int64_t yi) {
    r.v[static_cast<std::size_t>(wi)] += x.v[static_cast<std::size_t>(xi)] * dy.v[static_cast<std::size_t>(yi)];
  });
  if (with_bias)
    for (std::size_t i = 0; i < dy.v.size(); ++i) r.v[filter + i % channels] += dy.v[i];
  return r;
}

Row conv_row(const std::string& name, std::vector<std::int64_t> xs, std::vector<std::int64_t> ws, ConvCfg c) {
  return {name,
          {F(xs), F(ws)},
          [c](const V& x) { return conv2d(x[0], x[1], c.opts()); },
          [c](const A& a) { return ref_conv(a[0], a[1], c); }};
}

// conv2d + bias_add (+ relu): traced and optimized, the chain runs as one FusedConv2D node.
Row conv_bias_row(const std::string& name, std::vector<std::int64_t> xs, std::vector<std::int64_t> ws, ConvCfg c,
                  bool with_relu) {
  Row row{name,
          {F(xs), F(ws), F({ws[3]})},
          [c, with_relu](const V& x) {
            Tensor y = bias_add(conv2d(x[0], x[1], c.opts()), x[2]);
            return with_relu ? relu(y) : y;
          },
          [c, with_relu](const A& a) {
            Arr y = ref_conv(a[0], a[1], c);
            const std::size_t o = static_cast<std::size_t>(a[2].shape[0]);
            for (std::size_t i = 0; i < y.v.size(); ++i) {
              y.v[i] += a[2].v[i % o];
              if (with_relu) y.v[i] = std::max(y.v[i], 0.0);
            }
            return y;
          }};
  row.traced_rtol = 1e-5;  // the fused primitive adds the bias inside its float32 accumulation
  return row;
}

// The backprops as forward ops (so their float32 oneDNN kernels are checked against the reference too).
Row conv_backprop_input_row(const std::string& name, std::vector<std::int64_t> xs, std::vector<std::int64_t> ws,
                            ConvCfg c) {
  auto ys = conv_out_shape(xs, ws, c);
  return {name,
          {F(ys), F(ws), F(xs)},
          [c](const V& x) { return conv2d_backprop_input(x[0], x[1], x[2], c.opts()); },
          [c](const A& a) {
            Arr dx{a[2].shape, std::vector<double>(a[2].v.size(), 0.0)};
            conv_taps(a[2].shape, a[1].shape, c, [&](std::int64_t xi, std::int64_t wi, std::int64_t yi) {
              dx.v[static_cast<std::size_t>(xi)] +=
                  a[0].v[static_cast<std::size_t>(yi)] * a[1].v[static_cast<std::size_t>(wi)];
            });
            return dx;
          }};
}

// conv2d_transpose(x, w) into an (N, oh, ow, w[2]) output: x scattered along the taps of a conv of the output.
Row conv_transpose_row(const std::string& name, std::vector<std::int64_t> xs, std::vector<std::int64_t> ws,
                       std::vector<std::int64_t> out, ConvCfg c) {
  const std::vector<std::int64_t> ys{xs[0], out[0], out[1], ws[2]};
  EXPECT_EQ(conv_out_shape(ys, ws, c), xs) << name << ": the output's convolution must give the input's shape";
  return {name,
          {F(xs), F(ws)},
          [c, out](const V& x) { return conv2d_transpose(x[0], x[1], out, c.opts()); },
          [c, ys](const A& a) {
            Arr y{ys, std::vector<double>(static_cast<std::size_t>(numel(ys)), 0.0)};
            conv_taps(ys, a[1].shape, c, [&](std::int64_t yi, std::int64_t wi, std::int64_t xi) {
              y.v[static_cast<std::size_t>(yi)] +=
                  a[0].v[static_cast<std::size_t>(xi)] * a[1].v[static_cast<std::size_t>(wi)];
            });
            return y;
          }};
}

Row conv_backprop_filter_row(const std::string& name, std::vector<std::int64_t> xs, std::vector<std::int64_t> ws,
                             ConvCfg c) {
  auto ys = conv_out_shape(xs, ws, c);
  return {name,
          {F(xs), F(ys), F(ws)},
          [c](const V& x) { return conv2d_backprop_filter(x[0], x[1], x[2], c.opts()); },
          [c](const A& a) { return ref_filter_grad(a[0], a[1], a[2].shape, c, false); }};
}

// A convolution's filter and bias gradients from one output gradient (the bias one: sum_to its channels),
// flattened into one result: traced and optimized, they run as one Conv2DBackpropFilterBias node.
Row conv_backprop_filter_bias_row(const std::string& name, std::vector<std::int64_t> xs, std::vector<std::int64_t> ws,
                                  ConvCfg c) {
  auto ys = conv_out_shape(xs, ws, c);
  return {name,
          {F(xs), F(ys), F(ws), F({ws[3]})},
          [c](const V& x) {
            return concat({reshape(conv2d_backprop_filter(x[0], x[1], x[2], c.opts()), {-1}), sum_to(x[1], x[3])}, 0);
          },
          [c](const A& a) { return ref_filter_grad(a[0], a[1], a[2].shape, c, true); }};
}

struct PoolCfg {
  std::int64_t kh = 2, kw = 2, sh = 2, sw = 2;
  bool same = false;
  Pool2DOptions opts() const { return {{kh, kw}, {sh, sw}, same ? "same" : "valid"}; }
};

// Visits each output position with the list of (in-bounds) input indices of its window, per channel.
template <class F>
void pool_windows(const std::vector<std::int64_t>& xs, const PoolCfg& c, F f) {
  Geo gy = geo(xs[1], c.kh, c.sh, 1, c.same), gx = geo(xs[2], c.kw, c.sw, 1, c.same);
  for (std::int64_t n = 0; n < xs[0]; ++n)
    for (std::int64_t oy = 0; oy < gy.out; ++oy)
      for (std::int64_t ox = 0; ox < gx.out; ++ox)
        for (std::int64_t ch = 0; ch < xs[3]; ++ch) {
          std::vector<std::int64_t> idx;
          for (std::int64_t ky = 0; ky < c.kh; ++ky)
            for (std::int64_t kx = 0; kx < c.kw; ++kx) {
              std::int64_t iy = oy * c.sh - gy.pad + ky, ix = ox * c.sw - gx.pad + kx;
              if (iy >= 0 && iy < xs[1] && ix >= 0 && ix < xs[2])
                idx.push_back(((n * xs[1] + iy) * xs[2] + ix) * xs[3] + ch);
            }
          f(((n * gy.out + oy) * gx.out + ox) * xs[3] + ch, idx);
        }
}

std::vector<std::int64_t> pool_out_shape(const std::vector<std::int64_t>& xs, const PoolCfg& c) {
  return {xs[0], geo(xs[1], c.kh, c.sh, 1, c.same).out, geo(xs[2], c.kw, c.sw, 1, c.same).out, xs[3]};
}

// Index of the first maximum of a window.
std::int64_t argmax_of(const Arr& x, const std::vector<std::int64_t>& idx) {
  std::int64_t best = idx[0];
  for (auto i : idx)
    if (x.v[static_cast<std::size_t>(i)] > x.v[static_cast<std::size_t>(best)]) best = i;
  return best;
}

Row pool_row(const std::string& name, std::vector<std::int64_t> xs, PoolCfg c, bool is_max) {
  return {name,
          {F(xs)},
          [c, is_max](const V& x) { return is_max ? max_pool2d(x[0], c.opts()) : avg_pool2d(x[0], c.opts()); },
          [c, is_max](const A& a) {
            Arr y{pool_out_shape(a[0].shape, c), {}};
            y.v.resize(static_cast<std::size_t>(numel(y.shape)));
            pool_windows(a[0].shape, c, [&](std::int64_t o, const std::vector<std::int64_t>& idx) {
              double s = 0;
              for (auto i : idx) s += a[0].v[static_cast<std::size_t>(i)];
              y.v[static_cast<std::size_t>(o)] =
                  is_max ? a[0].v[static_cast<std::size_t>(argmax_of(a[0], idx))] : s / idx.size();
            });
            return y;
          }};
}

// A first block's backward: the conv's filter and bias gradients from a relu'd max pool's gradient (x: the
// conv input, r: the pool input, g: the pool output's gradient), flattened into one result; traced and
// optimized, one Conv2DBackpropFilterBiasPool node.
Row conv_filter_bias_from_pool_row(const std::string& name, std::vector<std::int64_t> xs, std::vector<std::int64_t> ws,
                                   ConvCfg c, PoolCfg pc) {
  auto rs = conv_out_shape(xs, ws, c);
  return {name,
          {F(xs), F(rs), F(pool_out_shape(rs, pc)), F(ws), F({ws[3]})},
          [c, pc](const V& x) {
            Tensor dy = relu_grad(x[1], max_pool2d_grad(x[1], max_pool2d(x[1], pc.opts()), x[2], pc.opts()));
            return concat({reshape(conv2d_backprop_filter(x[0], dy, x[3], c.opts()), {-1}), sum_to(dy, x[4])}, 0);
          },
          [c, pc](const A& a) {
            Arr dy{a[1].shape, std::vector<double>(a[1].v.size(), 0.0)};
            pool_windows(a[1].shape, pc, [&](std::int64_t o, const std::vector<std::int64_t>& idx) {
              dy.v[static_cast<std::size_t>(argmax_of(a[1], idx))] += a[2].v[static_cast<std::size_t>(o)];
            });
            for (std::size_t i = 0; i < dy.v.size(); ++i)
              if (!(a[1].v[i] > 0)) dy.v[i] = 0;
            return ref_filter_grad(a[0], dy, a[3].shape, c, true);
          }};
}

// conv2d + bias_add + relu, then max_pool2d, both results flattened into one: traced and optimized, one
// FusedConv2DPool node (image by image where the direct kernel runs).
Row conv_pool_row(const std::string& name, std::vector<std::int64_t> xs, std::vector<std::int64_t> ws, ConvCfg c,
                  PoolCfg pc) {
  Row row{name,
          {F(xs), F(ws), F({ws[3]})},
          [c, pc](const V& x) {
            Tensor y = relu(bias_add(conv2d(x[0], x[1], c.opts()), x[2]));
            return concat({reshape(y, {-1}), reshape(max_pool2d(y, pc.opts()), {-1})}, 0);
          },
          [c, pc](const A& a) {
            Arr y = ref_conv(a[0], a[1], c);
            const std::size_t o = static_cast<std::size_t>(a[2].shape[0]);
            for (std::size_t i = 0; i < y.v.size(); ++i) y.v[i] = std::max(y.v[i] + a[2].v[i % o], 0.0);
            Arr r{{static_cast<std::int64_t>(y.v.size()) + numel(pool_out_shape(y.shape, pc))}, y.v};
            r.v.resize(static_cast<std::size_t>(r.shape[0]));
            pool_windows(y.shape, pc, [&](std::int64_t out, const std::vector<std::int64_t>& idx) {
              r.v[y.v.size() + static_cast<std::size_t>(out)] = y.v[static_cast<std::size_t>(argmax_of(y, idx))];
            });
            return r;
          }};
  row.traced_rtol = 1e-5;  // the fused primitive adds the bias inside its float32 accumulation
  return row;
}

Arr ref_softmax_rows(const Arr& x, bool log_out) {
  Arr y = x;
  std::int64_t C = x.shape.back(), rows = x.size() / C;
  for (std::int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY, s = 0;
    for (std::int64_t j = 0; j < C; ++j) m = std::max(m, x.v[static_cast<std::size_t>(r * C + j)]);
    for (std::int64_t j = 0; j < C; ++j) s += std::exp(x.v[static_cast<std::size_t>(r * C + j)] - m);
    for (std::int64_t j = 0; j < C; ++j) {
      double v = x.v[static_cast<std::size_t>(r * C + j)] - m;
      y.v[static_cast<std::size_t>(r * C + j)] = log_out ? v - std::log(s) : std::exp(v) / s;
    }
  }
  return y;
}

Arr ref_permute_2d(const Arr& a) {
  Arr r{{a.shape[1], a.shape[0]}, std::vector<double>(a.v.size())};
  for (std::int64_t i = 0; i < a.shape[0]; ++i)
    for (std::int64_t j = 0; j < a.shape[1]; ++j)
      r.v[static_cast<std::size_t>(j * a.shape[0] + i)] = a.v[static_cast<std::size_t>(i * a.shape[1] + j)];
  return r;
}

}  // namespace

std::vector<Row> nn_rows() {
  std::vector<Row> r;
  // matmul
  auto mm = [](bool ta, bool tb) { return [=](const A& a) { return ref_matmul(a[0], a[1], ta, tb); }; };
  r.push_back({"matmul", {F({3, 4}), F({4, 5})}, [](const V& x) { return matmul(x[0], x[1]); }, mm(false, false)});
  r.push_back({"matmul_transpose_a",
               {F({4, 3}), F({4, 5})},
               [](const V& x) { return matmul(x[0], x[1], true); },
               mm(true, false)});
  r.push_back({"matmul_transpose_b",
               {F({3, 4}), F({5, 4})},
               [](const V& x) { return matmul(x[0], x[1], false, true); },
               mm(false, true)});
  r.push_back({"matmul_transpose_both",
               {F({4, 3}), F({5, 4})},
               [](const V& x) { return matmul(x[0], x[1], true, true); },
               mm(true, true)});
  // Fused batch normalization (training mode): y, and the batch statistics (their gradients too).
  auto bn_ref = [](const A& a, int which) {
    const std::int64_t C = a[0].shape.back();
    const std::int64_t rows = static_cast<std::int64_t>(a[0].v.size()) / C;
    std::vector<double> m(static_cast<std::size_t>(C), 0.0), var(static_cast<std::size_t>(C), 0.0);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c)
        m[static_cast<std::size_t>(c)] += a[0].v[static_cast<std::size_t>(r * C + c)] / static_cast<double>(rows);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c) {
        const double d = a[0].v[static_cast<std::size_t>(r * C + c)] - m[static_cast<std::size_t>(c)];
        var[static_cast<std::size_t>(c)] += d * d / static_cast<double>(rows);
      }
    if (which == 1) {
      Arr out{{C}, std::vector<double>(static_cast<std::size_t>(C))};
      for (std::size_t c = 0; c < out.v.size(); ++c) out.v[c] = 2 * m[c] + var[c];
      return out;
    }
    Arr y = a[0];
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < C; ++c) {
        const auto i = static_cast<std::size_t>(r * C + c), uc = static_cast<std::size_t>(c);
        y.v[i] = a[1].v[uc] * (a[0].v[i] - m[uc]) / std::sqrt(var[uc] + 1e-3) + a[2].v[uc];
      }
    return y;
  };
  r.push_back({"fused_batch_norm",
               {F({4, 3, 5}), F({5}, 0.5, 1.5), F({5})},
               [](const V& x) { return fused_batch_norm(x[0], x[1], x[2])[0]; },
               [bn_ref](const A& a) { return bn_ref(a, 0); }});
  r.push_back({"fused_batch_norm_statistics",
               {F({6, 4}), F({4}, 0.5, 1.5), F({4})},
               [](const V& x) {
                 auto o = fused_batch_norm(x[0], x[1], x[2]);
                 return o[1] * 2.f + o[2];
               },
               [bn_ref](const A& a) { return bn_ref(a, 1); }});
  // Traced, the relu of the normalized output (its sole reader) runs in the same node (FusedBatchNormRelu);
  // the statistics keep their readers. Inputs around zero so the relu cuts and its gradient masks.
  r.push_back({"fused_batch_norm_relu",
               {F({4, 3, 5}), F({5}, 0.5, 1.5), F({5})},
               [](const V& x) {
                 auto o = fused_batch_norm(x[0], x[1], x[2]);
                 return relu(o[0]) + sum(o[1] * 2.f + o[2]);
               },
               [bn_ref](const A& a) {
                 Arr y = bn_ref(a, 0);
                 double stats = 0;  // the sum over channels of 2 * mean + variance
                 for (double v : bn_ref(a, 1).v) stats += v;
                 for (double& v : y.v) v = std::max(v, 0.0) + stats;
                 return y;
               }});
  // Sums of products: traced and optimized, each runs as one MatMulSum node (packed operands, one GEMM);
  // a product with other transposes, and the bias, join it as addends.
  auto add_arr = [](Arr x, const Arr& y) {
    for (std::size_t i = 0; i < x.v.size(); ++i) x.v[i] += y.v[i];
    return x;
  };
  r.push_back({"matmul_sum_transpose_a",
               {F({2, 5}), F({2, 6}), F({3, 5}), F({3, 6}), F({1, 5}), F({1, 6}), F({5, 6})},
               [](const V& x) {
                 return matmul(x[0], x[1], true) + matmul(x[2], x[3], true) + (matmul(x[4], x[5], true) + x[6]);
               },
               [add_arr](const A& a) {
                 return add_arr(
                     add_arr(add_arr(ref_matmul(a[0], a[1], true, false), ref_matmul(a[2], a[3], true, false)),
                             ref_matmul(a[4], a[5], true, false)),
                     a[6]);
               }});
  r.back().traced_rtol = 1e-5;
  r.push_back({"matmul_sum_transpose_b",
               {F({4, 3}), F({5, 3}), F({4, 2}), F({5, 2}), F({3, 4}), F({3, 5})},
               [](const V& x) {
                 return matmul(x[0], x[1], false, true) + matmul(x[2], x[3], false, true) + matmul(x[4], x[5], true);
               },
               [add_arr](const A& a) {
                 return add_arr(add_arr(ref_matmul(a[0], a[1], false, true), ref_matmul(a[2], a[3], false, true)),
                                ref_matmul(a[4], a[5], true, false));
               }});
  r.back().traced_rtol = 1e-5;  // one packed GEMM sums in another order
  // A recurrent cell's pre-activation: packing the weights would cost more than the additions it saves,
  // so the products accumulate into the output, which starts as the broadcast bias.
  auto add_row = [](Arr x, const Arr& row) {
    for (std::size_t i = 0; i < x.v.size(); ++i) x.v[i] += row.v[i % row.v.size()];
    return x;
  };
  // Every part of a first-axis split times one weight: traced, the split_products pass makes one product
  // of all rows, split by views (SplitView).
  r.push_back({"split_view",
               {F({6, 4}), F({4, 5})},
               [](const V& x) {
                 auto p = split(x[0], {2, 4}, 0);
                 return concat({matmul(p[0], x[1]), matmul(p[1], x[1]) * 2}, 0);
               },
               [](const A& a) {
                 Arr y = ref_matmul(a[0], a[1], false, false);
                 for (std::size_t i = 2 * 5; i < y.v.size(); ++i) y.v[i] *= 2;
                 return y;
               }});
  r.push_back({"matmul_sum_accumulate_bias",
               {F({2, 6}), F({6, 8}), F({2, 5}), F({5, 8}), F({8})},
               [](const V& x) { return matmul(x[0], x[1]) + matmul(x[2], x[3]) + x[4]; },
               [add_arr, add_row](const A& a) {
                 return add_row(add_arr(ref_matmul(a[0], a[1], false, false), ref_matmul(a[2], a[3], false, false)),
                                a[4]);
               }});
  r.back().traced_rtol = 1e-5;
  r.push_back({"matmul_sum_accumulate_row_first",
               {F({1, 8}), F({3, 4}), F({4, 8}), F({3, 2}), F({2, 8})},
               [](const V& x) { return x[0] + (matmul(x[1], x[2]) + matmul(x[3], x[4])); },
               [add_arr, add_row](const A& a) {
                 return add_row(add_arr(ref_matmul(a[1], a[2], false, false), ref_matmul(a[3], a[4], false, false)),
                                a[0]);
               }});
  r.back().traced_rtol = 1e-5;
  r.push_back({"matmul_batched",
               {F({2, 3, 4}), F({2, 4, 5})},
               [](const V& x) { return matmul(x[0], x[1]); },
               mm(false, false)});
  r.push_back({"matmul_shared_rhs",
               {F({2, 3, 4}), F({4, 5})},
               [](const V& x) { return matmul(x[0], x[1]); },
               mm(false, false)});
  r.push_back({"matmul_shared_lhs_transposed",
               {F({4, 3}), F({2, 5, 4})},
               [](const V& x) { return matmul(x[0], x[1], true, true); },
               mm(true, true)});
  r.push_back({"matmul_broadcast_batch",
               {F({2, 1, 3, 4}), F({3, 4, 2})},
               [](const V& x) { return matmul(x[0], x[1]); },
               mm(false, false)});
  r.push_back(
      {"matmul_primes", {F({1, 7}), F({7, 13})}, [](const V& x) { return matmul(x[0], x[1]); }, mm(false, false)});
  // conv2d: padding, strides, dilation, odd sizes, 1x1, stride > kernel, non-square kernels
  r.push_back(conv_row("conv2d_same", {2, 5, 5, 3}, {3, 3, 3, 4}, {.same = true}));
  r.push_back(conv_row("conv2d_valid_stride2", {1, 7, 6, 2}, {3, 2, 2, 3}, {.sh = 2, .sw = 2}));
  r.push_back(conv_row("conv2d_same_stride2_odd", {2, 7, 5, 1}, {5, 5, 1, 2}, {.sh = 2, .sw = 2, .same = true}));
  r.push_back(conv_row("conv2d_dilated", {1, 7, 7, 2}, {3, 3, 2, 2}, {.dh = 2, .dw = 2}));
  r.push_back(conv_row("conv2d_1x1", {3, 4, 4, 5}, {1, 1, 5, 2}, {}));
  r.push_back(conv_bias_row("conv2d_bias_relu", {2, 6, 6, 8}, {3, 3, 8, 8}, {.same = true}, true));  // oneDNN post-op
  r.push_back(conv_bias_row("conv2d_bias_relu_few_channels", {2, 5, 5, 3}, {3, 3, 3, 4}, {.same = true}, true));
  r.push_back(conv_bias_row("conv2d_bias_stride2", {1, 6, 5, 8}, {3, 3, 8, 16}, {.sh = 2, .sw = 2}, false));
  r.push_back(conv_row("conv2d_stride_over_kernel", {1, 9, 9, 2}, {2, 2, 2, 3}, {.sh = 3, .sw = 3}));
  r.push_back(conv_row("conv2d_nonsquare", {1, 6, 8, 2}, {1, 3, 2, 2}, {.sw = 2, .same = true}));
  r.push_back(
      conv_backprop_input_row("conv2d_backprop_input", {2, 6, 5, 3}, {3, 3, 3, 4}, {.sh = 2, .sw = 1, .same = true}));
  r.push_back(
      conv_backprop_filter_row("conv2d_backprop_filter", {2, 6, 5, 3}, {3, 2, 3, 4}, {.sh = 1, .sw = 2, .same = true}));
  // conv2d_transpose: Keras's "same" size (in * stride), "valid" with output_padding, dilated, non-square, and a
  // float32 oneDNN backward-data primitive (8 channels each side) and the direct kernel's (2 outputs, 16 inputs)
  r.push_back(conv_transpose_row("conv2d_transpose_same_stride2", {2, 3, 3, 3}, {3, 3, 4, 3}, {6, 6},
                                 {.sh = 2, .sw = 2, .same = true}));
  r.push_back(conv_transpose_row("conv2d_transpose_valid_output_padding", {1, 3, 4, 2}, {3, 2, 2, 2}, {8, 9},
                                 {.sh = 2, .sw = 2}));
  r.push_back(conv_transpose_row("conv2d_transpose_dilated", {1, 4, 4, 2}, {2, 2, 3, 2}, {6, 6}, {.dh = 2, .dw = 2}));
  r.push_back(conv_transpose_row("conv2d_transpose_same_stride12", {1, 3, 3, 2}, {2, 3, 2, 2}, {3, 6},
                                 {.sh = 1, .sw = 2, .same = true}));
  r.push_back(conv_transpose_row("conv2d_transpose_onednn", {1, 3, 3, 8}, {3, 3, 8, 8}, {6, 6},
                                 {.sh = 2, .sw = 2, .same = true}));
  r.push_back(conv_transpose_row("conv2d_transpose_direct", {1, 4, 4, 16}, {3, 3, 2, 16}, {4, 4}, {.same = true}));
  // the direct kernel (few input channels, 16 outputs) sums the bias per image; elsewhere sum_to runs after
  r.push_back(conv_backprop_filter_bias_row("conv2d_backprop_filter_bias_direct", {3, 6, 5, 2}, {3, 3, 2, 16},
                                            {.sh = 2, .sw = 1, .same = true}));
  r.push_back(conv_backprop_filter_bias_row("conv2d_backprop_filter_bias", {2, 6, 5, 3}, {3, 2, 3, 4},
                                            {.sh = 1, .sw = 2, .same = true}));
  // pooling
  r.push_back(pool_row("max_pool2d", {2, 4, 6, 3}, {}, true));
  r.push_back(
      pool_row("max_pool2d_same_3x3_s2", {1, 7, 5, 2}, {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .same = true}, true));
  r.push_back(pool_row("avg_pool2d", {2, 4, 6, 3}, {}, false));
  r.push_back(pool_row("avg_pool2d_same_excludes_padding", {1, 5, 5, 2},
                       {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .same = true}, false));
  PoolCfg pc{.kh = 3, .kw = 3, .sh = 2, .sw = 2, .same = true};
  r.push_back({"max_pool2d_grad",
               {F({1, 5, 5, 2}), F({1, 3, 3, 2})},
               [pc](const V& x) { return max_pool2d_grad(x[0], max_pool2d(x[0], pc.opts()), x[1], pc.opts()); },
               [pc](const A& a) {
                 Arr dx{a[0].shape, std::vector<double>(a[0].v.size(), 0.0)};
                 pool_windows(a[0].shape, pc, [&](std::int64_t o, const std::vector<std::int64_t>& idx) {
                   dx.v[static_cast<std::size_t>(argmax_of(a[0], idx))] += a[1].v[static_cast<std::size_t>(o)];
                 });
                 return dx;
               }});
  // relu_grad after max_pool2d_grad on the same input: one MaxPool2DGradRelu node once traced and
  // optimized (overlapping windows here, tiling windows below).
  for (const PoolCfg& cfg : {pc, PoolCfg{}}) {
    const std::vector<std::int64_t> xs =
        cfg.kh == 3 ? std::vector<std::int64_t>{1, 5, 5, 2} : std::vector<std::int64_t>{2, 4, 6, 3};
    r.push_back({cfg.kh == 3 ? "max_pool2d_grad_relu" : "max_pool2d_grad_relu_tiled",
                 {F(xs), F(pool_out_shape(xs, cfg))},
                 [cfg](const V& x) {
                   return relu_grad(x[0], max_pool2d_grad(x[0], max_pool2d(x[0], cfg.opts()), x[1], cfg.opts()));
                 },
                 [cfg](const A& a) {
                   Arr dx{a[0].shape, std::vector<double>(a[0].v.size(), 0.0)};
                   pool_windows(a[0].shape, cfg, [&](std::int64_t o, const std::vector<std::int64_t>& idx) {
                     dx.v[static_cast<std::size_t>(argmax_of(a[0], idx))] += a[1].v[static_cast<std::size_t>(o)];
                   });
                   for (std::size_t i = 0; i < dx.v.size(); ++i)
                     if (!(a[0].v[i] > 0)) dx.v[i] = 0;
                   return dx;
                 }});
  }
  // A convolution's output pooled image by image (direct kernel; tiling or overlapping windows), or after
  // the whole oneDNN convolution.
  r.push_back(conv_pool_row("fused_conv2d_pool", {3, 8, 6, 2}, {3, 3, 2, 16}, {.same = true}, PoolCfg{}));
  r.push_back(conv_pool_row("fused_conv2d_pool_overlapping", {2, 5, 5, 1}, {3, 3, 1, 16}, {.same = true}, pc));
  r.push_back(conv_pool_row("fused_conv2d_pool_onednn", {2, 4, 4, 8}, {2, 2, 8, 4}, {.same = true}, PoolCfg{}));
  r.push_back(
      conv_pool_row("fused_conv2d_pool_onednn_few_channels", {2, 4, 6, 3}, {3, 2, 3, 4}, {.same = true}, PoolCfg{}));
  // The pool gradient made per image inside the filter gradient (direct kernel, tiling windows); with
  // overlapping windows or a oneDNN convolution the node runs the two one after the other.
  r.push_back(conv_filter_bias_from_pool_row("conv2d_backprop_filter_bias_pool", {2, 8, 6, 2}, {3, 3, 2, 16},
                                             {.same = true}, PoolCfg{}));
  r.push_back(conv_filter_bias_from_pool_row("conv2d_backprop_filter_bias_pool_overlapping", {1, 5, 5, 2},
                                             {3, 3, 2, 16}, {.same = true}, pc));
  r.push_back(conv_filter_bias_from_pool_row("conv2d_backprop_filter_bias_pool_onednn", {2, 4, 6, 3}, {3, 2, 3, 4},
                                             {.same = true}, PoolCfg{}));
  r.push_back({"max_pool2d_grad_grad",
               {F({1, 5, 5, 2}), F({1, 5, 5, 2})},
               [pc](const V& x) { return max_pool2d_grad_grad(x[0], max_pool2d(x[0], pc.opts()), x[1], pc.opts()); },
               [pc](const A& a) {
                 Arr y{pool_out_shape(a[0].shape, pc), {}};
                 y.v.resize(static_cast<std::size_t>(numel(y.shape)));
                 pool_windows(a[0].shape, pc, [&](std::int64_t o, const std::vector<std::int64_t>& idx) {
                   y.v[static_cast<std::size_t>(o)] = a[1].v[static_cast<std::size_t>(argmax_of(a[0], idx))];
                 });
                 return y;
               }});
  r.push_back({"avg_pool2d_grad",
               {F({1, 3, 3, 2}), F({1, 5, 5, 2})},
               [pc](const V& x) { return avg_pool2d_grad(x[0], x[1], pc.opts()); },
               [pc](const A& a) {
                 Arr dx{a[1].shape, std::vector<double>(a[1].v.size(), 0.0)};
                 pool_windows(a[1].shape, pc, [&](std::int64_t o, const std::vector<std::int64_t>& idx) {
                   for (auto i : idx)
                     dx.v[static_cast<std::size_t>(i)] += a[0].v[static_cast<std::size_t>(o)] / idx.size();
                 });
                 return dx;
               }});
  // softmax family and losses
  r.push_back({"softmax",
               {F({3, 5}, -5, 5)},
               [](const V& x) { return softmax(x[0]); },
               [](const A& a) { return ref_softmax_rows(a[0], false); }});
  r.push_back({"softmax_axis0",
               {F({4, 3}, -5, 5)},
               [](const V& x) { return softmax(x[0], 0); },
               [](const A& a) { return ref_permute_2d(ref_softmax_rows(ref_permute_2d(a[0]), false)); }});
  r.push_back({"log_softmax",
               {F({3, 5}, -5, 5)},
               [](const V& x) { return log_softmax(x[0]); },
               [](const A& a) { return ref_softmax_rows(a[0], true); }});
  r.push_back({"softmax_large_logits_stable",
               {F({2, 4}, 500, 900)},
               [](const V& x) { return log_softmax(x[0]); },
               [](const A& a) { return ref_softmax_rows(a[0], true); }});
  r.push_back({"sparse_softmax_cross_entropy",
               {I({4}, {0, 3, 2, 3}), F({4, 4}, -3, 3)},
               [](const V& x) { return sparse_softmax_cross_entropy_with_logits(x[0], x[1]); },
               [](const A& a) {
                 Arr ls = ref_softmax_rows(a[1], true);
                 Arr out{{4}, {}};
                 for (int i = 0; i < 4; ++i)
                   out.v.push_back(-ls.v[static_cast<std::size_t>(i * 4 + a[0].v[static_cast<std::size_t>(i)])]);
                 return out;
               }});
  r.push_back({"softmax_cross_entropy",
               {F({3, 4}, 0, 1), F({3, 4}, -3, 3)},
               [](const V& x) { return softmax_cross_entropy_with_logits(x[0], x[1]); },
               [](const A& a) {
                 Arr ls = ref_softmax_rows(a[1], true);
                 Arr out{{3}, std::vector<double>(3, 0.0)};
                 for (int i = 0; i < 12; ++i)
                   out.v[static_cast<std::size_t>(i / 4)] -=
                       a[0].v[static_cast<std::size_t>(i)] * ls.v[static_cast<std::size_t>(i)];
                 return out;
               }});
  r.push_back({"bias_add",
               {F({2, 3, 4}), F({4})},
               [](const V& x) { return bias_add(x[0], x[1]); },
               [](const A& a) { return ref_binary(a[0], a[1], [](double p, double q) { return p + q; }); }});
  // dropout: the kept fraction, the scale of kept values, and a gradient equal to the mask
  r.push_back({"dropout",
               {},
               [](const V&) { return dropout(ones({200000}), 0.3, true, 5); },
               nullptr,
               false,
               0,
               0,
               [](const std::vector<Tensor>& outs) {
                 auto v = outs[0].to_vector<float>();
                 double kept = 0;
                 for (float e : v) {
                   ASSERT_TRUE(e == 0.f || std::fabs(e - 1 / 0.7f) < 1e-6f) << e;
                   kept += e != 0.f;
                 }
                 EXPECT_NEAR(kept / v.size(), 0.7, 0.01);
                 Tensor x = random::normal(Shape{1000}, 0, 1, DType::Float64, 3);
                 GradientTape tape;
                 tape.watch(x);
                 Tensor y = dropout(x, 0.5, true, 9);
                 Tensor g = tape.gradient(sum(y), x);
                 auto yv = y.to_vector<double>(), xv = x.to_vector<double>(), gv = g.to_vector<double>();
                 for (std::size_t i = 0; i < yv.size(); ++i) EXPECT_DOUBLE_EQ(yv[i], xv[i] * gv[i]);
                 EXPECT_EQ(dropout(x, 0.5, false).impl(), x.impl());  // inference: identity
               }});
  // a chain of elementwise ops big enough for the fusion pass (traced+optimized runs it as one FusedElementwise)
  r.push_back({"fused_elementwise_chain",
               {F({32, 32}), F({32})},
               [](const V& x) {
                 Tensor y = tanh(x[0] * 1.5f + 0.25f);
                 Tensor z = y * y - sigmoid(x[0]);
                 return where(z > 0.f, exp(z * 0.5f), z) + bias_add(z, x[1]);
               },
               [](const A& a) {
                 return ref_binary(a[0], a[1], [](double p, double q) {
                   double y = std::tanh(p * 1.5 + 0.25), z = y * y - 1 / (1 + std::exp(-p));
                   return (z > 0 ? std::exp(z * 0.5) : z) + z + q;
                 });
               }});
  // only ops with float32 block kernels, 1280 elements (more than one block): the fused group's fast path
  r.push_back({"fused_float32_block_chain",
               {F({32, 40}), F({32, 40})},
               [](const V& x) {
                 Tensor y = tanh(x[0] * 1.5f + 0.25f);
                 Tensor z = maximum(y * y - sigmoid(x[1]), 0.1f - abs(x[0]));
                 return exp(z * 0.5f) / (1.f + relu(x[1])) - neg(y);
               },
               [](const A& a) {
                 return ref_binary(a[0], a[1], [](double p, double q) {
                   double y = std::tanh(p * 1.5 + 0.25),
                          z = std::max(y * y - 1 / (1 + std::exp(-q)), double(0.1f) - std::fabs(p));
                   return std::exp(z * 0.5) / (1 + std::max(q, 0.0)) + y;
                 });
               }});
  // control flow and host functions (each row also runs traced, where they become Cond/While/HostFunction nodes)
  r.push_back({"cond",
               {F({2, 3})},
               [](const V& x) {
                 return cond(
                     sum(x[0]) > 0, [&] { return x[0] * 2.f; }, [&] { return sin(x[0]); });
               },
               [](const A& a) {
                 double s = 0;
                 for (double v : a[0].v) s += v;
                 return ref_unary(a[0], [s](double v) { return s > 0 ? 2 * v : std::sin(v); });
               }});
  r.push_back({"cond_captures_two_tensors",
               {F({3}), F({3})},
               [](const V& x) {
                 return cond(
                     max(x[1]) > 10, [&] { return x[0] + 1.f; }, [&] { return x[0] * x[1]; });
               },
               [](const A& a) { return ref_binary(a[0], a[1], [](double p, double q) { return p * q; }); }});
  r.push_back({"while_loop",
               {F({2, 2})},
               [](const V& x) {
                 auto out = while_loop([](const std::vector<Tensor>& v) { return v[0] < 3; },
                                       [](const std::vector<Tensor>& v) {
                                         return std::vector<Tensor>{v[0] + 1, v[1] * 0.5f + sin(v[1])};
                                       },
                                       {scalar(0), x[0]});
                 return out[1];
               },
               [](const A& a) {
                 return ref_unary(a[0], [](double v) {
                   for (int i = 0; i < 3; ++i) v = 0.5 * v + std::sin(v);
                   return v;
                 });
               }});
  r.push_back(
      {"while_loop_captures",
       {F({3}), F({3})},
       [](const V& x) {
         Tensor w = x[1];
         auto out = while_loop([](const std::vector<Tensor>& v) { return v[0] < 2; },
                               [w](const std::vector<Tensor>& v) {
                                 return std::vector<Tensor>{v[0] + 1, v[1] * w + 1.f};
                               },
                               {scalar(0), x[0]});
         return out[1];
       },
       [](const A& a) { return ref_binary(a[0], a[1], [](double p, double q) { return (p * q + 1) * q + 1; }); }});
  r.push_back({"host_function",
               {F({2, 3})},
               [](const V& x) {
                 return host_function(
                     [](const std::vector<Tensor>& in) {
                       // value reads work here: the callable sees concrete tensors
                       EXPECT_FALSE(in[0].is_symbolic());
                       return std::vector<Tensor>{in[0] * 3.f + 1.f};
                     },
                     {x[0]}, {x[0].spec()})[0];
               },
               [](const A& a) { return ref_unary(a[0], [](double v) { return 3 * v + 1; }); }});
  // Collectives in a process of its own (no MPI launcher: rank 0 of 1): every reduction is the identity and
  // so is every gradient. Their behaviour across ranks is tested on 2 ranks by tests/mpi/mpi_test.cpp.
  auto ident = [](const A& a) { return ref_unary(a[0], [](double v) { return 2 * v; }); };
  for (auto op : {distributed::ReduceOp::Sum, distributed::ReduceOp::Mean, distributed::ReduceOp::Max,
                  distributed::ReduceOp::Min}) {
    const char* names[] = {"allreduce_sum", "allreduce_mean", "allreduce_max", "allreduce_min"};
    r.push_back({names[static_cast<int>(op)],
                 {F({2, 3})},
                 [op](const V& x) { return distributed::allreduce(x[0] * 2.f, op); },
                 ident});
  }
  r.push_back({"broadcast", {F({3, 2})}, [](const V& x) { return distributed::broadcast(x[0] * 2.f, 0); }, ident});
  return r;
}

}  // namespace duet::testing
