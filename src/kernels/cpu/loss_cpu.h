// Cross-entropy on this CPU: the contracts of the reference kernels in
// reference/loss_reference.h for logits whose classes are contiguous (g.inner == 1: (N, C)
// or unbatched (C)), each row's log-sum-exp, loss and gradient fused into vectorised passes
// over the row (exponentials through cpu/vector_math.h), rows split over OpenMP threads.
// The door sends inputs with extra axes (inner > 1) to the reference kernels.
#pragma once

#include <cstdint>

#include "kernels/reference/loss_reference.h"

namespace fovea::kernels {

// g.inner must be 1.
void cross_entropy_forward_cpu(const ClassLossGeometry& g, const float* x, const float* target,
                               const float* weight, float* loss) noexcept;
void cross_entropy_backward_cpu(const ClassLossGeometry& g, const float* x, const float* target,
                                const float* weight, const float* scale, int64_t scale_stride,
                                float* dx) noexcept;

}  // namespace fovea::kernels
