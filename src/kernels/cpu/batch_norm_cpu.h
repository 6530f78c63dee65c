// Batch normalisation for training on this CPU: the same contracts as the reference kernels
// (reference/batch_norm_reference.h), with OpenMP over channels (statistics, backward) or
// over (n, c) planes (forward) and vectorisable inner loops over the contiguous P values.
// Sums run in float vector lanes within one (n, c) row of P values and in double across rows,
// so float rounding grows only with the row's length, at float speed; the statistics take one
// pass over x, summing x - shift and (x - shift)^2 with shift = the channel's first value,
// which keeps the one-pass variance free of cancellation whenever the values sit far from zero.
#pragma once

#include <limits>

#include "kernels/batch_norm_geometry.h"

namespace fovea::kernels {

void batch_norm_stats_cpu(const BatchNormGeometry& g, const float* x, float* mean,
                          float* var) noexcept;

// y = clamp((x - mean) * invstd * w + b, lo, hi): the clamp is a fused relu (lo = 0) or relu6
// (hi = 6 too); the defaults leave y unclamped.
void batch_norm_forward_cpu(const BatchNormGeometry& g, const float* x, const float* mean,
                            const float* invstd, const float* w, const float* b, float* y,
                            float lo = -std::numeric_limits<float>::infinity(),
                            float hi = std::numeric_limits<float>::infinity()) noexcept;

void batch_norm_backward_cpu(const BatchNormGeometry& g, const float* dy, const float* x,
                             const float* mean, const float* invstd, const float* w, bool training,
                             float* dx, float* dw, float* db) noexcept;

}  // namespace fovea::kernels
