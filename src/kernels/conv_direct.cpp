// Direct convolution for few input channels (see conv_direct.h). Each image is first copied into a
// zero-padded buffer, so the inner loops never test bounds. The loop bodies are written once with GCC
// vector types of 16 floats and compiled twice: for the build's baseline (AVX2: a vector is two
// registers) and for AVX-512 (one register), picked by a run-time CPU check.
// The vector helpers below are always inlined, so no 64-byte vector ever crosses a call: GCC's warning that
// passing one changes the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#include "kernels/conv_direct.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "kernels/parallel.h"

namespace duet::kernels {
namespace {

typedef float V16 __attribute__((vector_size(64)));
constexpr std::int64_t kLanes = 16;

#define DUET_INLINE inline __attribute__((always_inline))

DUET_INLINE V16 load(const float* p) {
  V16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
DUET_INLINE void store(float* p, V16 v) { std::memcpy(p, &v, sizeof v); }

struct Padded {
  std::int64_t hp, wp;  // rows and columns of the padded image (only what some window reads)
};

Padded padded_size(const Conv2DGeom& g) { return {(g.y.out - 1) * g.sh + g.kh, (g.x.out - 1) * g.sw + g.kw}; }

// Copies image n of x into buf (hp x wp x c), zeros where a window reads padding.
void pad_image(const Conv2DGeom& g, const Padded& p, const float* x, std::int64_t n, std::vector<float>& buf) {
  const std::int64_t c = g.c;
  buf.assign(static_cast<std::size_t>(p.hp * p.wp * c), 0.f);
  const std::int64_t cols = std::min(g.w, p.wp - g.x.pad_before);
  for (std::int64_t iy = 0; iy < g.h; ++iy) {
    const std::int64_t py = iy + g.y.pad_before;
    if (py >= p.hp || cols <= 0) break;
    std::memcpy(buf.data() + (py * p.wp + g.x.pad_before) * c, x + ((n * g.h + iy) * g.w) * c,
                static_cast<std::size_t>(cols * c) * sizeof(float));
  }
}

// P output pixels of one row x NB blocks of 16 output channels. xr: the padded input at the strip's first
// window's top-left corner; w, bias, y: at the strip's first output channel (and pixel, for y).
template <int P, int NB>
DUET_INLINE void forward_strip(const Conv2DGeom& g, std::int64_t wp, const float* xr, const float* w, const float* bias,
                               float* y) {
  const std::int64_t c = g.c, o = g.o, sw = g.sw;
  V16 acc[P][NB];
  for (int nb = 0; nb < NB; ++nb) {
    const V16 b = bias ? load(bias + nb * kLanes) : V16{};
    for (int p = 0; p < P; ++p) acc[p][nb] = b;
  }
  for (std::int64_t ky = 0; ky < g.kh; ++ky) {
    const float* xrow = xr + ky * wp * c;
    for (std::int64_t kx = 0; kx < g.kw; ++kx)
      for (std::int64_t ci = 0; ci < c; ++ci) {
        const float* wt = w + ((ky * g.kw + kx) * c + ci) * o;
        V16 wv[NB];
        for (int nb = 0; nb < NB; ++nb) wv[nb] = load(wt + nb * kLanes);
        for (int p = 0; p < P; ++p) {
          const float s = xrow[(p * sw + kx) * c + ci];
          for (int nb = 0; nb < NB; ++nb) acc[p][nb] += s * wv[nb];
        }
      }
  }
  for (int p = 0; p < P; ++p)
    for (int nb = 0; nb < NB; ++nb) {
      store(y + p * o + nb * kLanes, acc[p][nb]);
    }
}

// One output row: strips of P pixels, then single pixels; output channels in pairs of blocks, then one.
template <int P>
DUET_INLINE void forward_row(const Conv2DGeom& g, std::int64_t wp, const float* xrow, const float* w, const float* bias,
                             bool relu, float* y) {
  const std::int64_t ow = g.x.out, o = g.o, step = g.sw * g.c;
  for (std::int64_t ob = 0; ob < o; ob += 2 * kLanes) {
    const bool two = ob + 2 * kLanes <= o;
    const float* bb = bias ? bias + ob : nullptr;
    std::int64_t ox = 0;
    for (; ox + P <= ow; ox += P) {
      if (two)
        forward_strip<P, 2>(g, wp, xrow + ox * step, w + ob, bb, y + ox * o + ob);
      else
        forward_strip<P, 1>(g, wp, xrow + ox * step, w + ob, bb, y + ox * o + ob);
    }
    for (; ox < ow; ++ox) {
      if (two)
        forward_strip<1, 2>(g, wp, xrow + ox * step, w + ob, bb, y + ox * o + ob);
      else
        forward_strip<1, 1>(g, wp, xrow + ox * step, w + ob, bb, y + ox * o + ob);
    }
  }
  // relu over the finished row while it is in cache (inside the strips it kept the accumulators from
  // staying in registers: 10x slower); NaN stays NaN, as relu() keeps it.
  if (relu)
    for (std::int64_t i = 0; i < ow * o; ++i) y[i] = (y[i] > 0 || y[i] != y[i]) ? y[i] : 0.f;
}

// dw taps t0..t0+G of filter row ky (a tap is one (kx, channel) pair: consecutive in the padded input),
// NB blocks of 16 output channels at ob, summed over every output pixel of one image into dwl.
template <int G, int NB>
DUET_INLINE void weights_taps(const Conv2DGeom& g, std::int64_t wp, const float* xp, const float* dy, std::int64_t ky,
                              std::int64_t t0, std::int64_t ob, float* dwl) {
  const std::int64_t c = g.c, o = g.o, ow = g.x.out, step = g.sw * c;
  V16 acc[G][NB] = {};
  for (std::int64_t oy = 0; oy < g.y.out; ++oy) {
    const float* xr = xp + (oy * g.sh + ky) * wp * c + t0;
    const float* dr = dy + oy * ow * o + ob;
    for (std::int64_t ox = 0; ox < ow; ++ox) {
      V16 d[NB];
      for (int nb = 0; nb < NB; ++nb) d[nb] = load(dr + ox * o + nb * kLanes);
      const float* xs = xr + ox * step;
      for (int t = 0; t < G; ++t) {
        const float s = xs[t];
        for (int nb = 0; nb < NB; ++nb) acc[t][nb] += s * d[nb];
      }
    }
  }
  for (int t = 0; t < G; ++t)
    for (int nb = 0; nb < NB; ++nb) {
      float* out = dwl + (ky * g.kw * c + t0 + t) * o + ob + nb * kLanes;
      store(out, load(out) + acc[t][nb]);
    }
}

template <int G, int NB>
DUET_INLINE void weights_group(const Conv2DGeom& g, std::int64_t wp, const float* xp, const float* dy, std::int64_t ky,
                               std::int64_t t0, std::int64_t taps, std::int64_t ob, float* dwl) {
  // taps < G: the last, partial group
  switch (taps) {
    case G:
      return weights_taps<G, NB>(g, wp, xp, dy, ky, t0, ob, dwl);
    default:
      if constexpr (G > 1) return weights_group<G - 1, NB>(g, wp, xp, dy, ky, t0, taps, ob, dwl);
  }
}

// One image's contribution to dw (accumulated into dwl).
template <int G>
DUET_INLINE void weights_image(const Conv2DGeom& g, std::int64_t wp, const float* xp, const float* dy, float* dwl) {
  const std::int64_t taps = g.kw * g.c;
  for (std::int64_t ky = 0; ky < g.kh; ++ky)
    for (std::int64_t t0 = 0; t0 < taps; t0 += G) {
      const std::int64_t t = std::min<std::int64_t>(G, taps - t0);
      for (std::int64_t ob = 0; ob < g.o; ob += 2 * kLanes) {
        if (ob + 2 * kLanes <= g.o)
          weights_group<G, 2>(g, wp, xp, dy, ky, t0, t, ob, dwl);
        else
          weights_group<G, 1>(g, wp, xp, dy, ky, t0, t, ob, dwl);
      }
    }
}

// The hot loops, written once and compiled per instruction set: P (pixels per strip) and G (taps per
// group) fit that set's register file. A lambda would not inherit a target attribute, so the threaded
// drivers below call these through pointers.
template <int P>
DUET_INLINE void forward_rows(const Conv2DGeom& g, const float* x, const float* w, const float* bias, bool relu,
                              float* y, std::int64_t r0, std::int64_t r1) {
  const Padded pd = padded_size(g);
  const std::int64_t oh = g.y.out;
  std::vector<float> buf;
  std::int64_t loaded = -1;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t n = r / oh, oy = r % oh;
    if (n != loaded) {
      pad_image(g, pd, x, n, buf);
      loaded = n;
    }
    forward_row<P>(g, pd.wp, buf.data() + oy * g.sh * pd.wp * g.c, w, bias, relu, y + r * g.x.out * g.o);
  }
}

template <int G>
DUET_INLINE void weights_images(const Conv2DGeom& g, const float* x, const float* dy, float* dwl, std::int64_t n0,
                                std::int64_t n1) {
  const Padded pd = padded_size(g);
  std::vector<float> buf;
  for (std::int64_t n = n0; n < n1; ++n) {
    pad_image(g, pd, x, n, buf);
    weights_image<G>(g, pd.wp, buf.data(), dy + n * g.y.out * g.x.out * g.o, dwl);
  }
}

// Input gradient, stride 1 (a "full" correlation of dy with the flipped filter), vectorized along input
// columns: dy is first transposed per image into zero-bordered rows per (row, output channel), so a run of
// 16 input columns reads 16 consecutive dy values for every (ky, kx, o). C: input channels (1..7).
// XB runs of 16 input columns from xb, every input channel, of input row iy, into row (C x wr).
template <int C, int XB>
DUET_INLINE void data_columns(const Conv2DGeom& g, const float* dyt, const float* w, std::int64_t iy, std::int64_t xb,
                              std::int64_t wr, float* row) {
  const std::int64_t kh = g.kh, kw = g.kw, o = g.o, cols = wr + kw - 1;
  // NP independent partial sums per channel (output channels taken NP at a time): with one or two input
  // channels a single accumulator would serialize every multiply-add on its latency.
  constexpr int NP = C * XB <= 2 ? 4 : (C * XB <= 4 ? 2 : 1);
  V16 acc[XB][NP][C] = {};
  for (std::int64_t ky = 0; ky < kh; ++ky) {
    const float* base = dyt + (iy + kh - 1 - ky) * o * cols + xb + kw - 1;
    for (std::int64_t kx = 0; kx < kw; ++kx) {
      const float* wt = w + (ky * kw + kx) * C * o;
      std::int64_t oc = 0;
      for (; oc + NP <= o; oc += NP)
        for (int p = 0; p < NP; ++p)
          for (int c = 0; c < C; ++c) {
            const float wv = wt[c * o + oc + p];  // one broadcast for every run of columns
            for (int b = 0; b < XB; ++b) acc[b][p][c] += wv * load(base + (oc + p) * cols - kx + b * kLanes);
          }
      for (; oc < o; ++oc)
        for (int c = 0; c < C; ++c)
          for (int b = 0; b < XB; ++b) acc[b][0][c] += wt[c * o + oc] * load(base + oc * cols - kx + b * kLanes);
    }
  }
  for (int b = 0; b < XB; ++b)
    for (int c = 0; c < C; ++c) {
      V16 sum = acc[b][0][c];
      for (int p = 1; p < NP; ++p) sum += acc[b][p][c];
      store(row + c * wr + xb + b * kLanes, sum);
    }
}

template <int C, int XB>
DUET_INLINE void data_image(const Conv2DGeom& g, const float* dy, const float* w, float* dx, std::vector<float>& dyt,
                            std::vector<float>& row) {
  const std::int64_t kh = g.kh, kw = g.kw, o = g.o, ow = g.x.out;
  const std::int64_t wr = (g.w + kLanes - 1) / kLanes * kLanes, rows = g.h + kh - 1, cols = wr + kw - 1;
  dyt.assign(static_cast<std::size_t>(rows * o * cols), 0.f);  // [row][output channel][column]
  for (std::int64_t oy = 0; oy < g.y.out; ++oy) {
    const std::int64_t r = oy - g.y.pad_before + kh - 1;
    if (r < 0 || r >= rows) continue;
    for (std::int64_t ox = 0; ox < ow; ++ox) {
      const std::int64_t q = ox - g.x.pad_before + kw - 1;
      if (q < 0 || q >= cols) continue;
      const float* d = dy + (oy * ow + ox) * o;
      for (std::int64_t oc = 0; oc < o; ++oc) dyt[static_cast<std::size_t>((r * o + oc) * cols + q)] = d[oc];
    }
  }
  row.resize(static_cast<std::size_t>(C * wr));
  for (std::int64_t iy = 0; iy < g.h; ++iy) {
    std::int64_t xb = 0;
    for (; xb + XB * kLanes <= wr; xb += XB * kLanes) data_columns<C, XB>(g, dyt.data(), w, iy, xb, wr, row.data());
    for (; xb < wr; xb += kLanes) data_columns<C, 1>(g, dyt.data(), w, iy, xb, wr, row.data());
    for (std::int64_t ix = 0; ix < g.w; ++ix)
      for (int c = 0; c < C; ++c) dx[(iy * g.w + ix) * C + c] = row[static_cast<std::size_t>(c * wr + ix)];
  }
}

template <int C, int XB>
DUET_INLINE void data_images_c(const Conv2DGeom& g, const float* dy, const float* w, float* dx, std::int64_t n0,
                               std::int64_t n1) {
  std::vector<float> dyt, row;
  for (std::int64_t n = n0; n < n1; ++n)
    data_image<C, XB>(g, dy + n * g.y.out * g.x.out * g.o, w, dx + n * g.h * g.w * C, dyt, row);
}

template <int XB>
DUET_INLINE void data_images(const Conv2DGeom& g, const float* dy, const float* w, float* dx, std::int64_t n0,
                             std::int64_t n1) {
  switch (g.c) {
    case 1:
      return data_images_c<1, XB>(g, dy, w, dx, n0, n1);
    case 2:
      return data_images_c<2, XB>(g, dy, w, dx, n0, n1);
    case 3:
      return data_images_c<3, XB>(g, dy, w, dx, n0, n1);
    case 4:
      return data_images_c<4, XB>(g, dy, w, dx, n0, n1);
    case 5:
      return data_images_c<5, XB>(g, dy, w, dx, n0, n1);
    case 6:
      return data_images_c<6, XB>(g, dy, w, dx, n0, n1);
    default:
      return data_images_c<7, XB>(g, dy, w, dx, n0, n1);
  }
}

using DataImages = void (*)(const Conv2DGeom&, const float*, const float*, float*, std::int64_t, std::int64_t);
void data_images_base(const Conv2DGeom& g, const float* dy, const float* w, float* dx, std::int64_t n0,
                      std::int64_t n1) {
  data_images<1>(g, dy, w, dx, n0, n1);
}
__attribute__((target("avx512f"))) void data_images_avx512(const Conv2DGeom& g, const float* dy, const float* w,
                                                           float* dx, std::int64_t n0, std::int64_t n1) {
  data_images<2>(g, dy, w, dx, n0, n1);
}

using ForwardRows = void (*)(const Conv2DGeom&, const float*, const float*, const float*, bool, float*, std::int64_t,
                             std::int64_t);
using WeightsImages = void (*)(const Conv2DGeom&, const float*, const float*, float*, std::int64_t, std::int64_t);

// Baseline build (x86-64-v3): a 16-float vector is two AVX2 registers, so smaller blocks.
void forward_rows_base(const Conv2DGeom& g, const float* x, const float* w, const float* b, bool relu, float* y,
                       std::int64_t r0, std::int64_t r1) {
  forward_rows<4>(g, x, w, b, relu, y, r0, r1);
}
void weights_images_base(const Conv2DGeom& g, const float* x, const float* dy, float* dwl, std::int64_t n0,
                         std::int64_t n1) {
  weights_images<3>(g, x, dy, dwl, n0, n1);
}
__attribute__((target("avx512f"))) void forward_rows_avx512(const Conv2DGeom& g, const float* x, const float* w,
                                                            const float* b, bool relu, float* y, std::int64_t r0,
                                                            std::int64_t r1) {
  forward_rows<8>(g, x, w, b, relu, y, r0, r1);
}
__attribute__((target("avx512f"))) void weights_images_avx512(const Conv2DGeom& g, const float* x, const float* dy,
                                                              float* dwl, std::int64_t n0, std::int64_t n1) {
  weights_images<6>(g, x, dy, dwl, n0, n1);
}

const bool kHasAvx512 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") != 0;
}();

}  // namespace

bool direct_conv_applies(const Conv2DGeom& g) {
  return g.c >= 1 && g.c < 8 && g.o > 0 && g.o % kLanes == 0 && g.dh == 1 && g.dw == 1 && g.kh >= 1 && g.kw >= 1 &&
         g.y.out > 0 && g.x.out > 0 && g.n > 0;
}

bool direct_conv_has_avx512() { return kHasAvx512; }

void direct_conv_forward_isa(bool avx512, const Conv2DGeom& g, const float* x, const float* w, const float* bias,
                             bool relu, float* y) {
  const ForwardRows rows_fn = avx512 ? forward_rows_avx512 : forward_rows_base;
  const std::int64_t row_work = g.x.out * g.o * g.kh * g.kw * g.c;
  parallel_for(g.n * g.y.out, std::max<std::int64_t>(1, (1 << 17) / std::max<std::int64_t>(row_work, 1)),
               [&](std::int64_t r0, std::int64_t r1) { rows_fn(g, x, w, bias, relu, y, r0, r1); });
}

// Each thread sums its images into its own buffers (dw and db are small), which are then added in image
// order, so the result does not depend on which thread finished first. With db, each image's dy is also
// summed per channel right after its filter gradient, while it is in cache.
void direct_conv_backward_weights_isa(bool avx512, const Conv2DGeom& g, const float* x, const float* dy, float* dw,
                                      float* db, const DyImages* images) {
  const WeightsImages images_fn = avx512 ? weights_images_avx512 : weights_images_base;
  const auto size = static_cast<std::size_t>(g.kh * g.kw * g.c * g.o);
  const auto channels = static_cast<std::size_t>(g.o);
  std::memset(dw, 0, size * sizeof(float));
  if (db) std::memset(db, 0, channels * sizeof(float));
  const std::int64_t pixels = g.y.out * g.x.out;
  struct Partial {
    std::int64_t first;
    std::vector<float> dw, db;
  };
  std::vector<Partial> partials;
  std::mutex mu;
  parallel_for(g.n, 1, [&](std::int64_t n0, std::int64_t n1) {
    std::vector<float> dwl(size, 0.f), dbl(db ? channels : 0, 0.f);
    std::vector<float> made(images ? static_cast<std::size_t>(pixels * g.o) : 0);
    if (!db && !images) images_fn(g, x, dy, dwl.data(), n0, n1);
    for (std::int64_t n = n0; (db || images) && n < n1; ++n) {
      const float* dyn = images ? made.data() : dy + n * pixels * g.o;
      if (images) images->fill(images->ctx, n, made.data());
      images_fn(g, x + n * g.h * g.w * g.c, dyn, dwl.data(), 0, 1);  // image n as a batch of one
      if (!db) continue;
      float* __restrict acc = dbl.data();
      for (std::int64_t p = 0; p < pixels; ++p)
        for (std::int64_t o = 0; o < g.o; ++o) acc[o] += dyn[p * g.o + o];
    }
    std::lock_guard<std::mutex> lock(mu);
    partials.push_back({n0, std::move(dwl), std::move(dbl)});
  });
  std::sort(partials.begin(), partials.end(), [](const Partial& a, const Partial& b) { return a.first < b.first; });
  for (const Partial& part : partials) {
    for (std::size_t i = 0; i < size; ++i) dw[i] += part.dw[i];
    for (std::size_t i = 0; i < part.db.size(); ++i) db[i] += part.db[i];
  }
}

bool direct_conv_backward_data_applies(const Conv2DGeom& g) { return direct_conv_applies(g) && g.sh == 1 && g.sw == 1; }

void direct_conv_backward_data_isa(bool avx512, const Conv2DGeom& g, const float* dy, const float* w, float* dx) {
  const DataImages images_fn = avx512 ? data_images_avx512 : data_images_base;
  parallel_for(g.n, 1, [&](std::int64_t n0, std::int64_t n1) { images_fn(g, dy, w, dx, n0, n1); });
}

void direct_conv_backward_data(const Conv2DGeom& g, const float* dy, const float* w, float* dx) {
  direct_conv_backward_data_isa(kHasAvx512, g, dy, w, dx);
}

void direct_conv_forward(const Conv2DGeom& g, const float* x, const float* w, const float* bias, bool relu, float* y) {
  direct_conv_forward_isa(kHasAvx512, g, x, w, bias, relu, y);
}

void direct_conv_backward_weights(const Conv2DGeom& g, const float* x, const float* dy, float* dw, float* db,
                                  const DyImages* images) {
  direct_conv_backward_weights_isa(kHasAvx512, g, x, dy, dw, db, images);
}

}  // namespace duet::kernels
