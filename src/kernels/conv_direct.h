#pragma once
// Direct float32 convolution for inputs with few channels (the first layer on images: 1 or 3 channels),
// where oneDNN falls back to im2col + GEMM (conv1 of the tf-cnn: ~50-100 GFLOPS, a sixth of the machine).
// Vectorized along output channels in blocks of 16, register-blocked over output pixels (forward) or filter
// taps (backward weights), with an AVX-512 variant chosen at run time.
#include "kernels/conv_geom.h"

namespace duet::kernels {

// NHWC input with fewer than 8 channels, output channels a multiple of 16, no dilation.
bool direct_conv_applies(const Conv2DGeom& g);

// y = conv(x, w) (+ bias per output channel) (then relu, NaN kept as relu() keeps it). bias may be null.
void direct_conv_forward(const Conv2DGeom& g, const float* x, const float* w, const float* bias, bool relu, float* y);

// Makes image n's output gradient (y.out x x.out x o floats) into buf on demand, so a gradient computed
// just before (a pool's) never goes through memory whole: fill(ctx, n, buf).
struct DyImages {
  void (*fill)(const void* ctx, std::int64_t n, float* buf);
  const void* ctx;
};

// dw = the gradient of the filter (HWIO) from the input x and the output gradient dy (or, with dy null,
// each image's from `images`); with db (non-null), also the bias gradient (dy summed per output channel).
void direct_conv_backward_weights(const Conv2DGeom& g, const float* x, const float* dy, float* dw, float* db = nullptr,
                                  const DyImages* images = nullptr);

// dx = the gradient of the input from dy and the filter; stride 1 only (direct_conv_backward_data_applies).
bool direct_conv_backward_data_applies(const Conv2DGeom& g);
void direct_conv_backward_data(const Conv2DGeom& g, const float* dy, const float* w, float* dx);

// (src/kernels/conv.cpp) Whether a float32 input gradient runs as oneDNN's forward convolution of dy with
// the rotated filter (stride 1, no dilation, >= 32 channels each side, kernels past 1x1).
bool conv_input_grad_as_forward(const Conv2DGeom& g);

// Tests: the same with the instruction set chosen (avx512 = false: the baseline AVX2 code, on any CPU;
// true needs a CPU with AVX-512: see direct_conv_has_avx512()).
bool direct_conv_has_avx512();
void direct_conv_forward_isa(bool avx512, const Conv2DGeom& g, const float* x, const float* w, const float* bias,
                             bool relu, float* y);
void direct_conv_backward_weights_isa(bool avx512, const Conv2DGeom& g, const float* x, const float* dy, float* dw,
                                      float* db = nullptr, const DyImages* images = nullptr);
void direct_conv_backward_data_isa(bool avx512, const Conv2DGeom& g, const float* dy, const float* w, float* dx);

}  // namespace duet::kernels
