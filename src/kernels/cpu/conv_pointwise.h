// Pointwise convolution (1×1 kernel, stride 1, no padding, groups == 1; 1D, 2D or 3D): per image
// a GEMM on the NCHW planes, computed with AVX-512 register tiles and the epilogue fused:
//   forward          y[n]  (C_out, P) = clamp(w (C_out, C_in) · x[n] (C_in, P) + b, lo, hi)
//   backward_data    dx[n] (C_in, P)  = wᵀ (C_in, C_out) · dy[n] (C_out, P)
// with P = pixels. A tile holds kPointwiseRows output rows × up to 3 vectors of 16 pixels in 24
// accumulators; each step of the reduction loads the pixel vectors and broadcasts the weights
// straight from w (read in place: no packing, no workspace). The last vector of a row is masked,
// so any pixel count works without padding; forward, 1 or 2 pixels left past the last whole
// vector (7×7 images) go by dot products along C_in instead. bias and clamp are applied in
// registers before the only store, which is the point against im2col_gemm (dnnl_sgemm, then a pass
// over y). Threads split (image, pixel chunk, row chunk) tasks, each output written by one task:
// results are bitwise the same for any thread count. No backward_weight (supports() refuses it),
// and AVX-512 is required (supports() says false without).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/conv_algorithm.h"

namespace fovea::kernels {

// Output rows per register tile, and the most 16-pixel vectors per tile (exposed for the tests
// that sweep around them).
inline constexpr int64_t kPointwiseRows = 8;
inline constexpr int64_t kPointwiseVectors = 3;

bool conv_pointwise_supports(const ConvGeometry& g, ConvPass pass);
size_t conv_pointwise_workspace_floats(const ConvGeometry& g, ConvPass pass);

void conv_forward_pointwise(const ConvGeometry& g, const float* x, const float* w,
                            const ConvEpilogue& ep, float* y, float* workspace) noexcept;
void conv_backward_data_pointwise(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                  float* workspace) noexcept;

}  // namespace fovea::kernels
