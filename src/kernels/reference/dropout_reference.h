// Reference (inverted) dropout: each element is kept with probability 1 - p and scaled by
// 1/(1 - p), so the expected output equals the input and evaluation needs no rescaling.
//   mask[i] = u[i] < p ? 0 : 1/(1 - p)      u[i] uniform in [0, 1), drawn by the caller
//   y[i]    = x[i] * mask[i]                (the backward is the same product: dx = dy * mask)
// The loops are trivially vectorised; the door's random draws dominate the cost.
#pragma once

#include <cstdint>

namespace fovea::kernels {

// u and mask may be the same buffer. p in [0, 1]; p = 1 zeroes everything.
void dropout_mask_reference(int64_t n, float p, const float* u, float* mask) noexcept;

// y = x * mask, elementwise; also the backward (dy in, dx out).
void dropout_apply_reference(int64_t n, const float* x, const float* mask, float* y) noexcept;

}  // namespace fovea::kernels
