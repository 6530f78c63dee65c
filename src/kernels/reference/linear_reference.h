// Reference linear layer: the plain loops of the definition. It is the specification the
// GEMM kernels are tested against.
//
// Layouts (row-major), rows = the product of the input's leading axes:
//   x (rows, in)   w (out, in)   b (out)   y (rows, out)
//   y[r, o] = b[o] + sum_i x[r, i] * w[o, i]
#pragma once

#include <cstdint>

namespace fovea::kernels {

struct LinearGeometry {
  int64_t rows = 1, in_features = 1, out_features = 1;
  // Multiply-adds of one forward pass (each of the two GEMMs of the backward pass costs the same).
  int64_t macs() const { return rows * in_features * out_features; }
};

// b may be null (no bias).
void linear_forward_reference(const LinearGeometry& g, const float* x, const float* w,
                              const float* b, float* y) noexcept;
// dx[r, i] = sum_o dy[r, o] * w[o, i]
void linear_backward_data_reference(const LinearGeometry& g, const float* dy, const float* w,
                                    float* dx) noexcept;
// dw[o, i] = sum_r dy[r, o] * x[r, i]
void linear_backward_weight_reference(const LinearGeometry& g, const float* x, const float* dy,
                                      float* dw) noexcept;
// db[o] = sum_r dy[r, o]. Row by row, so the inner loop runs over contiguous o: this loop is
// already as fast as the bias gradient needs, and the GEMM path uses it too.
void linear_backward_bias_reference(const LinearGeometry& g, const float* dy, float* db) noexcept;

}  // namespace fovea::kernels
