// Fast broadcast kernels: the same geometry and results as kernels/reference/
// elementwise_reference.h, organised around the innermost axis. broadcast_geometry() merges
// axes so that axis is long and each operand's stride along it is 0 or 1: the inner loop is
// then a plain vectorisable loop over a contiguous row (or a row against one value), and the
// rows, cut into chunks, are shared out by OpenMP.
#pragma once

#include "kernels/reference/elementwise_reference.h"

namespace fovea::kernels {

void binary_rows(const BroadcastGeometry& g, BinaryOp op, const float* a, const float* b,
                 float* y) noexcept;
// y = clamp(a + b, lo, hi) in one pass: a residual join and the activation after it (relu:
// lo = 0, hi = inf), as binary_rows(kAdd) then that clamp, NaN staying NaN.
void add_clamp_rows(const BroadcastGeometry& g, float lo, float hi, const float* a, const float* b,
                    float* y) noexcept;
void expand_rows(const BroadcastGeometry& g, float scale, const float* a, float* y) noexcept;
void reduce_sum_rows(const BroadcastGeometry& g, float scale, const float* x, float* y) noexcept;

}  // namespace fovea::kernels
