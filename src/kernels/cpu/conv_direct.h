// Direct convolution: no im2col matrix. Each input channel is zero-padded and split into
// stride phases once per call (conv_direct_plan.h), and every output vector is a sum of
// contiguous loads of the padded input times broadcast weights, in registers:
//   forward          y  (N, C_out, out) = conv(x, w) + b; blocks of output channels x vectors
//                    of consecutive (virtual) output positions
//   backward_data    stride 1 only: the forward of dy with the taps reversed and C_in/C_out
//                    swapped; strided shapes stay on im2col_gemm
//   backward_weight  dw (C_out, C_in/groups, K) = sum_n corr(x, dy); blocks of output
//                    channels x taps, vectors over output positions, one horizontal sum each
// Any groups, 1D/2D/3D, kernel (up to kDirectMaxTaps taps), stride, dilation and padding.
// Two rows: AVX-512, and AVX2 + FMA for CPUs without it; one kernel source.
#pragma once

#include <cstddef>

#include "kernels/conv_algorithm.h"

namespace fovea::kernels {

bool conv_direct_avx512_supports(const ConvGeometry& g, ConvPass pass);
size_t conv_direct_avx512_workspace_floats(const ConvGeometry& g, ConvPass pass);
void conv_forward_direct_avx512(const ConvGeometry& g, const float* x, const float* w,
                                const ConvEpilogue& ep, float* y, float* workspace) noexcept;
void conv_backward_data_direct_avx512(const ConvGeometry& g, const float* dy, const float* w,
                                      float* dx, float* workspace) noexcept;
void conv_backward_weight_direct_avx512(const ConvGeometry& g, const float* x, const float* dy,
                                        float* dw, float* workspace) noexcept;

bool conv_direct_avx2_supports(const ConvGeometry& g, ConvPass pass);
size_t conv_direct_avx2_workspace_floats(const ConvGeometry& g, ConvPass pass);
void conv_forward_direct_avx2(const ConvGeometry& g, const float* x, const float* w,
                              const ConvEpilogue& ep, float* y, float* workspace) noexcept;
void conv_backward_data_direct_avx2(const ConvGeometry& g, const float* dy, const float* w,
                                    float* dx, float* workspace) noexcept;
void conv_backward_weight_direct_avx2(const ConvGeometry& g, const float* x, const float* dy,
                                      float* dw, float* workspace) noexcept;

}  // namespace fovea::kernels
