#include "kernels/reference/dropout_reference.h"

namespace fovea::kernels {

void dropout_mask_reference(int64_t n, float p, const float* u, float* mask) noexcept {
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  for (int64_t i = 0; i < n; ++i) mask[i] = u[i] < p ? 0.0f : scale;
}

void dropout_apply_reference(int64_t n, const float* x, const float* mask, float* y) noexcept {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * mask[i];
}

}  // namespace fovea::kernels
