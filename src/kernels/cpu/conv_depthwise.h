// Direct depthwise convolution (groups == C_in, C_out = m · C_in: input channel ic feeds the m
// output channels ic·m .. ic·m + m-1), 1D and 2D, any kernel size, stride, dilation and padding.
// Each output plane is a single-channel correlation, computed from a zero-padded copy of its
// input plane (3×3, 5×5 and 7×7 shapes read the plane in place: the forward, backward_data at
// stride 1, and backward_weight of 3×3 and 5×5) with 16-lane AVX-512 vectors along the output
// width:
//   forward          y[n, oc]  = corr(pad(x[n, ic]), w[oc]) + b[oc]
//   backward_data    dx[n, ic] = sum_j corr(pad(upsample_s(dy[n, ic·m + j])), flip(w[ic·m + j]))
//   backward_weight  dw[oc, k] = sum_n sum_o pad(x[n, ic])[o·s + k·d] · dy[n, oc, o]
// Threads split (image, channel) planes, and channels for backward_weight, so every sum has
// one fixed order whatever the thread count. Needs AVX-512 (supports() says false without).
// The "depthwise_avx2" row computes the same from the same padded plane with 8-lane vectors,
// for CPUs with AVX2 and FMA (conv_depthwise_avx2.cpp).
#pragma once

#include <cstddef>

#include "kernels/conv_algorithm.h"

namespace fovea::kernels {

bool conv_depthwise_supports(const ConvGeometry& g, ConvPass pass);
size_t conv_depthwise_workspace_floats(const ConvGeometry& g, ConvPass pass);

void conv_forward_depthwise(const ConvGeometry& g, const float* x, const float* w,
                            const ConvEpilogue& ep, float* y, float* workspace) noexcept;
void conv_backward_data_depthwise(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                  float* workspace) noexcept;
void conv_backward_weight_depthwise(const ConvGeometry& g, const float* x, const float* dy,
                                    float* dw, float* workspace) noexcept;

bool conv_depthwise_avx2_supports(const ConvGeometry& g, ConvPass pass);
size_t conv_depthwise_avx2_workspace_floats(const ConvGeometry& g, ConvPass pass);

void conv_forward_depthwise_avx2(const ConvGeometry& g, const float* x, const float* w,
                                 const ConvEpilogue& ep, float* y, float* workspace) noexcept;
void conv_backward_data_depthwise_avx2(const ConvGeometry& g, const float* dy, const float* w,
                                       float* dx, float* workspace) noexcept;
void conv_backward_weight_depthwise_avx2(const ConvGeometry& g, const float* x, const float* dy,
                                         float* dw, float* workspace) noexcept;

}  // namespace fovea::kernels
