// im2col + GEMM convolution. Per image and group, the input patches are unrolled into a
// column matrix col (C_in/groups * kernel_pixels, out_pixels) and the convolution becomes
//   forward          y_g  (Cout/g, P)  = w_g (Cout/g, K) · col (K, P)
//   backward_data    col  (K, P)       = w_gᵀ · dy_g,   then col2im adds col into dx
//   backward_weight  dw_g (Cout/g, K) += dy_g (Cout/g, P) · colᵀ
// with K = C_in/groups * kernel_pixels and P = out_pixels. Pointwise convolutions (1×1,
// stride 1, no padding) use x itself as col. The GEMM is oneDNN's dnnl_sgemm.
#pragma once

#include <cstddef>

#include "kernels/conv_algorithm.h"

namespace fovea::kernels {

bool conv_im2col_gemm_supports(const ConvGeometry& g, ConvPass pass);
size_t conv_im2col_gemm_workspace_floats(const ConvGeometry& g, ConvPass pass);

void conv_forward_im2col_gemm(const ConvGeometry& g, const float* x, const float* w, const float* b,
                              float* y, float* workspace) noexcept;
void conv_backward_data_im2col_gemm(const ConvGeometry& g, const float* dy, const float* w,
                                    float* dx, float* workspace) noexcept;
void conv_backward_weight_im2col_gemm(const ConvGeometry& g, const float* x, const float* dy,
                                      float* dw, float* workspace) noexcept;

}  // namespace fovea::kernels
