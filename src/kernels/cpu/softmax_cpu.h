// Softmax and log-softmax on this CPU: the contracts of reference/softmax_reference.h in float,
// with the exponentials through cpu/vector_math.h so the loops vectorise. Lines along a
// contiguous axis (inner == 1: classes last) are vectorised along the line; lines `inner`
// apart are processed in tiles of adjacent lines, vectorised across them. Lines (or tiles)
// are split over OpenMP threads when there is enough work.
//
// Sums run in float with the vector lanes as partial sums: within a few ulps of the
// double-precision reference for the class counts of classifiers (thousands).
#pragma once

#include "kernels/reference/softmax_reference.h"

namespace fovea::kernels {

void softmax_forward_cpu(const SoftmaxGeometry& g, const float* x, float* y) noexcept;
void softmax_backward_cpu(const SoftmaxGeometry& g, const float* dy, const float* y,
                          float* dx) noexcept;

}  // namespace fovea::kernels
