// Linear layer as one GEMM per pass through oneDNN's row-major dnnl_sgemm (which threads
// itself). Same geometry and results as kernels/reference/linear_reference.h.
#pragma once

#include "kernels/reference/linear_reference.h"

namespace fovea::kernels {

// y (rows, out) = x (rows, in) · wᵀ + b; b may be null.
void linear_forward_gemm(const LinearGeometry& g, const float* x, const float* w, const float* b,
                         float* y) noexcept;
// dx (rows, in) = dy (rows, out) · w (out, in)
void linear_backward_data_gemm(const LinearGeometry& g, const float* dy, const float* w,
                               float* dx) noexcept;
// dw (out, in) = dyᵀ (out, rows) · x (rows, in)
void linear_backward_weight_gemm(const LinearGeometry& g, const float* x, const float* dy,
                                 float* dw) noexcept;

}  // namespace fovea::kernels
